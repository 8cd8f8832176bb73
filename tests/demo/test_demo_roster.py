"""The demo province's 编外人员 roster: calibrated to the seed, consistent, audited."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from bianzhi.accounts.services import system_user
from bianzhi.common.audit import verify_chain
from bianzhi.common.codes import validate_resident_id
from bianzhi.common.models import AuditEvent
from bianzhi.common.rules_loader import load_all_rules
from bianzhi.demo.builder import build_demo
from bianzhi.divisions.choices import Level
from bianzhi.orgs.choices import UnitCategory
from bianzhi.orgs.models import Person
from bianzhi.staffing.choices import BulkKind, BulkStatus
from bianzhi.staffing.models import Baseline, BaselineCount, BulkOperation, PoolAssignment, RuleItem, Spell
from tests.factories import clear_id

BASELINE_DAY = dt.date(2019, 12, 31)
CHECK_DAY = dt.date(2021, 12, 31)


def on(qs: QuerySet[Spell], day: dt.date) -> QuerySet[Spell]:
    """INDICATORS.md: a record counts on d when hire_date <= d and (no leave date or leave_date > d)."""
    return qs.filter(Q(hire_date__lte=day) & (Q(leave_date__isnull=True) | Q(leave_date__gt=day)))


def by_unit(qs: QuerySet[Spell], day: dt.date) -> dict[int, int]:
    return dict(on(qs, day).values_list("unit_id").annotate(n=Count("id")).values_list("unit_id", "n"))


@pytest.mark.slow
def test_demo_roster(divisions):
    load_all_rules()
    result = build_demo(system_user())
    assert result["built"]
    today = timezone.localdate()
    spells = Spell.objects.all()
    assert result["roster"]["spells"] == spells.count() > 10_000

    # 广州市本级 (units of 440100 itself): −14.5% ± 1 point at the end of 2021 against 2019.
    city = spells.filter(unit__jurisdiction__code="440100")
    before, after = on(city, BASELINE_DAY).count(), on(city, CHECK_DAY).count()
    change = (Decimal(after - before) / before).quantize(Decimal("0.0001"), ROUND_HALF_EVEN)
    assert Decimal("-0.155") <= change <= Decimal("-0.135"), (before, after, change)

    # More than half of its city-level 党政机关 with staff in 2019 are at zero at the end of 2021.
    organs = city.filter(unit__category=UnitCategory.PARTY_GOVERNMENT)
    staffed = {u for u, n in by_unit(organs, BASELINE_DAY).items() if n > 0}
    still = set(by_unit(organs, CHECK_DAY))
    cleared = staffed - still
    assert len(staffed) >= 10
    assert len(cleared) * 2 > len(staffed), (len(cleared), len(staffed))

    # Nobody counts in two records on any sampled day, nor do any two records of a person overlap.
    days = [dt.date(year, month, 1) for year in range(2015, today.year + 1) for month in (1, 7)]
    days += [BASELINE_DAY, dt.date(2021, 6, 30), CHECK_DAY, today]
    for day in days:
        assert not on(spells, day).values("person_id").annotate(n=Count("id")).filter(n__gt=1).exists(), day
    others = Spell.objects.filter(person_id=OuterRef("person_id")).exclude(pk=OuterRef("pk")).filter(
        Q(leave_date__isnull=True) | Q(leave_date__gt=OuterRef("hire_date")))
    assert not spells.filter(leave_date__isnull=True).filter(Exists(others)).exists()
    assert not spells.filter(leave_date__isnull=False).filter(
        Exists(others.filter(hire_date__lt=OuterRef("leave_date")))).exists()
    # Some people moved between units (so, by the checks above, joining on or after leaving).
    movers = Person.objects.annotate(units=Count("spells__unit", distinct=True)).filter(units__gt=1)
    assert movers.count() > 100

    # Records are well formed: work type of its post class, exits with reasons, real ID numbers.
    work_class = dict(RuleItem.objects.filter(table="work_type").values_list("code", "parent_code"))
    for work_type, post_class in spells.values_list("work_type", "post_class").distinct():
        assert work_class[work_type] == post_class, (work_type, post_class)
    assert not spells.filter(leave_date__isnull=False, exit_reason="").exists()
    assert not spells.filter(Q(hire_date__gt=today) | Q(leave_date__gt=today)).exists()
    assert not spells.filter(contract_end__lt=F("hire_date")).exists()
    assert spells.filter(monthly_cost__lt=4000).count() == spells.filter(monthly_cost__gt=9000).count() == 0
    assert spells.order_by("hire_date").values_list("hire_date", flat=True).first() == dt.date(2015, 1, 1)
    people = Person.objects.filter(spells__isnull=False).distinct()
    for person in people.order_by("pk")[::97]:
        birth = person.birth_date
        assert validate_resident_id(clear_id(person)).birth_date == birth
        assert dt.date(1960, 1, 1) <= birth <= dt.date(2003, 12, 31)
    assert not people.exclude(name__contains="示").exists()

    # Key-post records in post today, in 天河区 and in 广州市本级.
    key_posts = on(spells.exclude(key_post=""), today)
    assert key_posts.filter(unit__jurisdiction__code="440106").exists()
    assert key_posts.filter(unit__jurisdiction__code="440100").exists()
    assert set(key_posts.values_list("key_post", flat=True)) <= {"personnel", "finance", "classified"}

    # The province baseline of 2019-12-31 was taken from these records; some units are over it today.
    baseline = Baseline.objects.get(jurisdiction__code="440000", is_current=True)
    assert baseline.as_of == BASELINE_DAY
    assert baseline.total == on(spells, BASELINE_DAY).count()
    caps = dict(BaselineCount.objects.filter(baseline=baseline).values_list("unit_id").annotate(n=Sum("count"))
                .values_list("unit_id", "n"))
    now = by_unit(spells, today)
    over = [u for u, n in now.items() if n > caps.get(u, 0)]
    assert 1 <= len(over) <= 20, over

    # The whole-group transfer of the refuse-collection staff: one applied operation, its records.
    operation = BulkOperation.objects.get(kind=BulkKind.GROUP_TRANSFER)
    assert operation.status == BulkStatus.APPLIED
    assert operation.receiver == "广州市示例环卫集团有限公司"
    group = spells.filter(operation=operation)
    assert group.count() == operation.count >= 200
    assert set(group.values_list("work_type", flat=True)) == {"cleaning"}
    assert set(group.values_list("situation", flat=True)) <= {"labour_contract", "dispatched"}
    assert set(group.values_list("exit_reason", "leave_date")) == {("group_transfer", operation.leave_date)}
    assert set(group.values_list("unit__jurisdiction__code", flat=True)) == {"440100"}
    assert operation.leave_date.year == 2021
    day_before = operation.leave_date - dt.timedelta(days=1)
    assert on(group, day_before).count() == operation.count and on(group, operation.leave_date).count() == 0

    # Logistics posts at 广州市本级 (besides the group) fall between 2019 and 2021.
    logistics = city.filter(post_class="logistics", operation__isnull=True)
    assert on(logistics, CHECK_DAY).count() < on(logistics, BASELINE_DAY).count()

    # The coordinator pool of 广州市: about a hundred coordinators in post, each assigned to a town.
    assignments = PoolAssignment.objects.select_related("spell", "town", "city")
    current = assignments.filter(valid_to__isnull=True)
    assert 90 <= current.count() <= 110
    assert assignments.count() > current.count()  # some were re-allocated
    for assignment in assignments:
        assert assignment.spell.situation == "coordinator" and assignment.spell.leave_date is None
        assert assignment.city.code == "440100"
        assert assignment.town.level == Level.TOWN and assignment.town.path.startswith(assignment.city.path)
        assert assignment.valid_from >= assignment.spell.hire_date

    # Funding and purchased services: a handful of double-dipping units, districts where both fell,
    # the plans approved through the approvals, budgets within their caps.
    from bianzhi.accounts.models import User
    from bianzhi.funds import selectors as funds
    from bianzhi.funds.models import ControlPlan, ServiceConversion, UnitFunding
    from bianzhi.orgs.models import Unit

    admin = User.objects.get(username="gd_admin")
    flagged = funds.double_dipping(actor=admin, a=dt.date(today.year - 1, 1, 1), b=today)
    assert 3 <= len(flagged) <= 10 and result["funds"]["double_dipping_units"] == len(flagged)
    assert ServiceConversion.objects.count() > 0
    assert not {c.unit_id for c in ServiceConversion.objects.all()} & {f.unit_id for f in flagged}
    tianhe = Unit.objects.filter(jurisdiction__code="440106")
    total, _rows = funds.both_fall(actor=admin, year=today.year - 1, units=tianhe)
    assert total.both_fell is True and total.headcount < total.baseline_count
    assert total.spending is not None and total.baseline_spending is not None
    assert total.spending < total.baseline_spending
    assert ControlPlan.objects.filter(is_current=True).count() == 2
    budgets = UnitFunding.objects.filter(year=today.year, budget__isnull=False).select_related("unit")
    caps = funds.caps_for([b.unit for b in budgets], today.year)
    assert budgets.count() > 100 and all(b.budget <= caps[b.unit_id] for b in budgets)

    # The coordinating bodies: 334 city-level bodies of 深圳市, a few dozen of the province, loaded
    # through the bodies import (codes assigned, valid and unique; over-cap bodies raised).
    from bianzhi.bodies import codes
    from bianzhi.bodies.models import Body, BodyMember, BodyVersion
    from bianzhi.stats.models import Alert

    shenzhen = Body.objects.filter(jurisdiction__code="440300")
    assert shenzhen.count() == 334 == shenzhen.filter(status__in=["active", "revoked"]).count()
    assert 20 <= shenzhen.filter(status="revoked").count() <= 50
    assert Body.objects.filter(jurisdiction__code="440000").count() >= 30
    all_codes = list(Body.objects.values_list("code", flat=True))
    assert len(set(all_codes)) == len(all_codes) and all(codes.is_valid(c) for c in all_codes)
    assert all(c[2:8] == d for c, d in Body.objects.values_list("code", "jurisdiction__code"))
    assert not shenzhen.exclude(lead_unit__jurisdiction__code="440300").exists()
    assert set(shenzhen.values_list("kind", flat=True)) == {
        "leading_group", "committee", "joint_meeting", "headquarters", "other"}
    sizes = list(shenzhen.filter(status="active").annotate(n=Count("members")).values_list("n", flat=True))
    assert min(sizes) == 1 and max(sizes) > 20
    assert shenzhen.filter(status="active", planned_end__lt=today).exists()
    assert BodyVersion.objects.filter(change="import").count() == Body.objects.count()
    assert BodyMember.objects.filter(valid_to__isnull=True, body__status="revoked").count() == 0
    over_cap = Alert.objects.filter(kind="member_cap")
    assert over_cap.filter(status="open").count() >= 1 and over_cap.filter(status="resolved").exists()
    assert AuditEvent.objects.filter(action="bodies.import").count() == 1
    assert AuditEvent.objects.filter(action="body.import").count() == Body.objects.count()
    assert result["bodies"]["bodies"] == Body.objects.count()

    # Audited: the roster event, the baseline's own row, an intact chain; a second build does nothing.
    assert AuditEvent.objects.filter(action="demo.roster").count() == 1
    assert AuditEvent.objects.filter(action="baseline.take").count() == 1
    assert verify_chain().ok
    assert build_demo(system_user()) == {"built": False}
