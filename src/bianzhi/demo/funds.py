"""The demo's 编外人员经费 and purchased services, derived from the demo roster:

* spending of every unit for 2019 (the baseline year) to last year = the monthly cost of each
  of its records times the months it counted; the budget of this year stays within the
  funding cap (most units budget last year's spending plus 2%, never above the cap);
* a control plan for the 天河区 and 深圳市 operators' units, approved through the approvals;
* property-management contracts for a handful of units that still pay 保安 / 保洁 staff (the
  double-dipping cases), and units whose guards left for the contract (转为购买服务, clean).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Q
from django.utils import timezone

from bianzhi.accounts.models import User
from bianzhi.common import audit
from bianzhi.divisions.models import Division
from bianzhi.funds import selectors as fund_selectors
from bianzhi.funds import services as fund_services
from bianzhi.funds.models import UnitFunding
from bianzhi.orgs.models import Unit
from bianzhi.staffing.models import Spell
from bianzhi.workflow import services as wf

CENT = Decimal("0.01")
FIRST_YEAR = 2019
PROPERTY_KINDS = ("security", "cleaning", "greening", "maintenance")


def _year_costs(today: dt.date) -> dict[tuple[int, int], Decimal]:
    """(unit, year) → the cost of its records over the year (monthly cost × days / 30.4375)."""
    out: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    last = today.year - 1
    rows = (Spell.objects.filter(monthly_cost__isnull=False, hire_date__lte=dt.date(last, 12, 31))
            .filter(Q(leave_date__isnull=True) | Q(leave_date__gt=dt.date(FIRST_YEAR, 1, 1)))
            .values_list("unit_id", "hire_date", "leave_date", "monthly_cost"))
    for unit_id, hire, leave, cost in rows:
        if cost is None:
            continue
        for year in range(max(FIRST_YEAR, hire.year), last + 1):
            start = max(hire, dt.date(year, 1, 1))
            end = min(leave, dt.date(year + 1, 1, 1)) if leave else dt.date(year + 1, 1, 1)
            if end > start:
                out[(unit_id, year)] += cost * Decimal((end - start).days) / Decimal("30.4375")
    return out


def build_funds(actor: Any) -> dict[str, int]:
    today = timezone.localdate()
    costs = _year_costs(today)
    # A unit that paid staff in the baseline year reports every year since, 0 once it has none.
    for unit_id in {u for u, y in costs if y == FIRST_YEAR}:
        for year in range(FIRST_YEAR, today.year):
            costs.setdefault((unit_id, year), Decimal(0))
    paths = dict(Unit.objects.filter(pk__in={u for u, _y in costs}).values_list("pk", "jurisdiction_path"))
    rows = []
    base_spent = {u: s for (u, y), s in costs.items() if y == FIRST_YEAR}
    for (unit_id, year), amount in sorted(costs.items()):
        spent = amount.quantize(CENT, ROUND_HALF_UP)
        # the budget of a past year: its spending plus 3%, within the cap (the 2019 spending)
        budget = min(spent * Decimal("1.03"), base_spent.get(unit_id, spent)).quantize(CENT, ROUND_HALF_UP)
        rows.append(UnitFunding(unit_id=unit_id, jurisdiction_path=paths[unit_id], year=year,
                                spending=spent, budget=budget if year > FIRST_YEAR else spent))
    UnitFunding.objects.bulk_create(rows, batch_size=2000)
    made = {"plans": sum(_plan(prefix, today) for prefix in ("th", "sz"))}
    # This year's budgets: last year's spending plus 2%, never above the funding cap.
    last = {u: s for (u, y), s in costs.items() if y == today.year - 1}
    units = list(Unit.objects.filter(pk__in={u for u, y in costs if y == FIRST_YEAR}))
    caps = fund_selectors.caps_for(units, today.year)
    budgets = [UnitFunding(unit_id=u.pk, jurisdiction_path=u.jurisdiction_path, year=today.year,
                           budget=min(caps[u.pk] or Decimal(0), last.get(u.pk, Decimal(0)) * Decimal("1.02"))
                           .quantize(CENT, ROUND_HALF_UP)) for u in units]
    UnitFunding.objects.bulk_create(budgets, batch_size=2000)
    made["funding_rows"] = len(rows) + len(budgets)
    audit.record_many(actor, [audit.Entry(action="demo.funds", scope_path=Division.objects.get(depth=0).path,
                                          object_type="demo", object_repr="示例编外人员经费",
                                          after={"rows": made["funding_rows"]})])
    made.update(_contracts(today))
    return made


def _plan(prefix: str, today: dt.date) -> int:
    """The operator's unit applies for a plan 5% under its 2019 spending; all approve."""
    users = {u.username.split("_", 1)[1]: u for u in User.objects.filter(username__startswith=f"{prefix}_")}
    operator = users["operator"]
    spent = UnitFunding.objects.filter(unit=operator.unit, year=FIRST_YEAR).values_list("spending", flat=True).first()
    if not spent:
        return 0
    target = (spent * Decimal("0.95")).quantize(CENT)
    case = wf.case_submit(actor=operator, kind="funding_plan", data={
        "targets": [{"year": today.year, "amount": str(target)}], "reason": "落实编外人员经费只减不增的要求"})
    for who, step in (("finance", "finance"), ("reviewer", "establishment"), ("leader", "leading_group")):
        wf.case_act(actor=users[who], case_id=case.pk, step=step, action="approve", opinion="同意。")
    return 1


def _contracts(today: dt.date) -> dict[str, int]:
    """Property contracts: six units keep their guards and cleaners (double dipping); three let
    them go to the contract (转为购买服务)."""
    admin = User.objects.get(username="gd_admin")
    start = dt.date(today.year - 1, 1, 1)
    end = dt.date(today.year + 1, 12, 31)
    spells = list(Spell.objects.filter(work_type__in=PROPERTY_KINDS).filter(
        Q(leave_date__isnull=True) | Q(leave_date__gt=start)).values_list("unit_id", "hire_date", "leave_date"))
    by_unit: dict[int, list[tuple[dt.date, dt.date | None]]] = defaultdict(list)
    for unit_id, hire, leave in spells:
        by_unit[unit_id].append((hire, leave))
    # Units whose property staff all counted on the contract's first day and are still in post:
    # letting them all go to the contract leaves no double dipping behind.
    simple = sorted(u for u, rows in by_unit.items() if all(h < start and lv is None for h, lv in rows))
    units = simple[:9]
    made = {"contracts": 0, "conversions": 0}
    for n, unit_id in enumerate(units, start=1):
        number = f"WY-{today.year - 1}-{n:03d}"
        fund_services.contract_create(actor=admin, unit_id=unit_id, number=number, item="property_management",
                                      start=start, end=end, amount="480000")
        made["contracts"] += 1
        if n > 6:
            for spell in Spell.objects.filter(unit_id=unit_id, work_type__in=PROPERTY_KINDS, leave_date__isnull=True,
                                              hire_date__lt=start):
                fund_services.exit_to_service(actor=admin, spell_id=spell.pk, leave_date=start,
                                              contract_number=number)
                made["conversions"] += 1
    flagged = fund_selectors.double_dipping(actor=admin, a=start, b=today)
    made["double_dipping_units"] = len(flagged)
    return made
