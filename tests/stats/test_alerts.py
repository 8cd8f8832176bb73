"""Dynamic supervision: alerts raised by the rules, kept up to date, cleared when the finding is
gone, acknowledged and resolved with a note, scoped, re-evaluated after an approval."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as M

import pytest

from bianzhi.common.errors import BianzhiError
from bianzhi.common.models import AuditEvent
from bianzhi.funds.models import PurchaseContract, UnitFunding
from bianzhi.orgs.models import Unit
from bianzhi.staffing.models import CapChange, Spell
from bianzhi.stats import alerts
from bianzhi.stats.models import Alert

from .test_indicators import AS_OF, data  # noqa: F401 - the fixture

D = dt.date


def kinds(unit=None):
    qs = Alert.objects.exclude(status="resolved")
    if unit is not None:
        qs = qs.filter(unit=unit)
    return sorted(qs.values_list("kind", "key"))


def test_evaluation_raises_every_kind_and_clears_what_is_gone(data):  # noqa: F811
    w = data
    a, b = w.tianhe_unit, w.tianhe_child
    Spell.objects.filter(unit=a, hire_date=AS_OF).update(contract_end=D(2024, 5, 1))  # expired before the day
    CapChange.objects.create(unit=a, post_class="", cap=3, valid_from=D(2024, 6, 1))  # a is over its cap
    UnitFunding.objects.filter(unit=a, year=2024).update(budget=M("250000"))  # above 2019 spending 200,000
    result = alerts.evaluate(units=Unit.objects.filter(jurisdiction__code="440106"), today=AS_OF)
    key = Spell.objects.get(unit=a, key_post="finance").pk
    starter = Spell.objects.get(unit=a, hire_date=AS_OF).pk
    assert kinds() == sorted([
        ("budget_over_cap", f"budget_over_cap:{a.pk}:2024"),
        ("class_breach", f"class_breach:{b.pk}:enforcement_auxiliary:2024"),
        ("contract_expired", f"contract_expired:{a.pk}"),
        ("double_dipping", f"double_dipping:{b.pk}:2024"),
        ("key_post", f"key_post:{key}"),
        ("over_cap", f"over_cap:{a.pk}"),
    ])
    assert result == {"raised": 6, "refreshed": 0, "resolved": 0, "open": 6}
    over = Alert.objects.get(kind="over_cap")
    assert (over.params, over.raised_on, over.status, over.jurisdiction_path) == (
        {"count": 4, "cap": 3}, AS_OF, "open", a.jurisdiction_path)
    assert Alert.objects.get(kind="contract_expired").records == [starter]
    assert Alert.objects.get(kind="budget_over_cap").params == {"budget": "250000.00", "cap": "200000.00", "year": 2024}
    assert AuditEvent.objects.filter(action="alert.raise").count() == 6

    # Re-evaluating changes nothing; fixing a finding clears its alert automatically.
    assert alerts.evaluate(units=Unit.objects.filter(jurisdiction__code="440106"), today=AS_OF)["raised"] == 0
    PurchaseContract.objects.all().delete()
    result = alerts.evaluate(units=Unit.objects.filter(jurisdiction__code="440106"), today=AS_OF)
    assert result["resolved"] == 1
    cleared = Alert.objects.get(kind="double_dipping")
    assert (cleared.status, cleared.resolved_on) == ("resolved", AS_OF)
    assert list(cleared.events.values_list("action", flat=True)) == ["raised", "cleared"]


def test_roster_stale_after_the_threshold(data):  # noqa: F811
    w = data
    alerts.evaluate(units=Unit.objects.filter(pk=w.tianhe_child.pk), today=D(2025, 2, 28))
    assert ("roster_stale", f"roster_stale:{w.tianhe_child.pk}") not in kinds()  # last change 2024-03-01: 364 days
    alerts.evaluate(units=Unit.objects.filter(pk=w.tianhe_child.pk), today=D(2025, 3, 1))
    stale = Alert.objects.get(kind="roster_stale")
    assert stale.params == {"last_change": "2024-03-01", "days": 365}


def test_acknowledge_resolve_scope_and_reraise(data):  # noqa: F811
    w = data
    alerts.evaluate(units=Unit.objects.filter(jurisdiction__code="440106"), today=AS_OF)
    alert = Alert.objects.get(kind="key_post")
    with pytest.raises(BianzhiError) as info:
        alerts.alert_handle(actor=w.users.yuexiu_reviewer, alert_id=alert.pk, action="acknowledge")
    assert info.value.codes == ["alert_not_found"]
    alerts.alert_handle(actor=w.users.tianhe_operator, alert_id=alert.pk, action="acknowledge")
    with pytest.raises(BianzhiError) as info:
        alerts.alert_handle(actor=w.users.tianhe_reviewer, alert_id=alert.pk, action="resolve", note=" ")
    assert info.value.codes == ["note_required"]
    alerts.alert_handle(actor=w.users.tianhe_reviewer, alert_id=alert.pk, action="resolve", note="已调离财务岗位")
    alert.refresh_from_db()
    assert (alert.status, alert.note) == ("resolved", "已调离财务岗位")
    assert list(alert.events.values_list("action", "actor__username")) == [
        ("raised", None), ("acknowledge", "th_operator"), ("resolve", "th_reviewer")]
    with pytest.raises(BianzhiError) as info:
        alerts.alert_handle(actor=w.users.tianhe_reviewer, alert_id=alert.pk, action="resolve", note="再次")
    assert info.value.codes == ["alert_resolved"]
    # still a key post: the next evaluation raises a new alert
    alerts.evaluate(units=Unit.objects.filter(jurisdiction__code="440106"), today=AS_OF)
    assert Alert.objects.filter(kind="key_post").count() == 2
    assert alerts.alerts_in_scope(actor=w.users.yuexiu_reviewer).count() == 0
    assert alerts.open_count(w.users.tianhe_reviewer) == Alert.objects.exclude(status="resolved").count()


def test_an_approval_re_evaluates_the_units_alerts(data, django_capture_on_commit_callbacks):  # noqa: F811
    """A cap change approved through the approvals: the over-cap alert of the unit clears once
    the decision commits (the evaluation task runs after the commit)."""
    from bianzhi.workflow import services as wf
    from tests.factories import make_user

    w = data
    a = w.tianhe_unit
    CapChange.objects.create(unit=a, post_class="", cap=2, valid_from=D(2024, 6, 1))
    alerts.evaluate(units=Unit.objects.filter(pk=a.pk))  # today: 3 in post against 2
    assert Alert.objects.get(kind="over_cap", unit=a).status == "open"
    finance = make_user("th_finance", "finance_reviewer", "440106")
    leader = make_user("th_leader", "decision_maker", "440106")
    case = wf.case_submit(actor=w.users.tianhe_operator, kind="cap_change",
                          data={"post_class": "", "cap": 6, "reason": "承接新增职能"})
    for who, step in ((w.users.tianhe_reviewer, "establishment"), (finance, "finance")):
        wf.case_act(actor=who, case_id=case.pk, step=step, action="approve", opinion="同意")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        wf.case_act(actor=leader, case_id=case.pk, step="leading_group", action="approve", opinion="同意")
    assert len(callbacks) == 1
    alert = Alert.objects.get(kind="over_cap", unit=a)
    assert (alert.status, alert.resolved_on is not None) == ("resolved", True)
