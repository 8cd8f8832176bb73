"""Funding, contracts, posts moved to services, control plans: every error code with nothing
written, the audit rows, and the selectors (caps, both fall, double dipping) on real rows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as M

import pytest
from django.core.exceptions import PermissionDenied

from bianzhi.common.errors import BianzhiError
from bianzhi.common.models import AuditEvent
from bianzhi.funds import selectors, services
from bianzhi.funds.models import ControlPlan, PurchaseContract, ServiceConversion, UnitFunding
from bianzhi.staffing.models import Spell
from bianzhi.workflow import services as wf

D = dt.date
TODAY = D(2026, 11, 26)


def codes_of(call) -> list[str]:
    with pytest.raises(BianzhiError) as info:
        call()
    return info.value.codes


def state():
    return (list(UnitFunding.objects.values_list("unit_id", "year", "budget", "spending").order_by("pk")),
            list(PurchaseContract.objects.values_list("number", "end")), ServiceConversion.objects.count(),
            list(Spell.objects.values_list("pk", "leave_date", "exit_reason").order_by("pk")),
            ControlPlan.objects.count(), AuditEvent.objects.count())


def fund_set(w, **kw):
    params = {"actor": w.users.finance, "unit_id": w.tianhe_unit.pk, "today": TODAY, **kw}
    return services.funding_set(**params)


# =========================================================================== funding and its cap


def test_budget_cap_is_the_baseline_year_spending(fund):
    w = fund
    row = fund_set(w, year=2019, spending="120000")
    assert (row.year, row.budget, row.spending) == (2019, None, M("120000.00"))
    event = AuditEvent.objects.filter(action="funding.set").latest("seq")
    assert event.actor == w.users.finance and event.before is None
    assert event.after == {"unit": w.tianhe_unit.uscc, "year": 2019, "budget": None, "spending": "120000.00"}
    assert fund_set(w, year=2026, budget="120000").budget == M("120000.00")  # at the cap
    before = state()
    assert codes_of(lambda: fund_set(w, year=2026, budget="120000.01")) == ["budget_over_cap"]
    assert state() == before
    updated = fund_set(w, year=2026, spending="80000.5")
    assert (updated.budget, updated.spending) == (M("120000.00"), M("80000.50"))  # spending alone keeps the budget
    assert AuditEvent.objects.filter(action="funding.set").latest("seq").before == {
        "budget": "120000.00", "spending": None}


def test_a_lower_control_plan_lowers_the_cap(fund):
    w = fund
    fund_set(w, year=2019, spending="100000")
    ControlPlan.objects.create(unit=w.tianhe_unit, jurisdiction=w.tianhe_unit.jurisdiction,
                               jurisdiction_path=w.tianhe_unit.jurisdiction_path, year=2026, amount=M("90000"),
                               case_number="SP-x", approved_on=TODAY)
    assert selectors.funding_cap_for(w.tianhe_unit, 2026) == M("90000.00")
    assert selectors.funding_cap_for(w.tianhe_unit, 2025) == M("100000.00")  # no plan for 2025
    assert codes_of(lambda: fund_set(w, year=2026, budget="95000")) == ["budget_over_cap"]
    assert fund_set(w, year=2025, budget="95000").budget == M("95000.00")


@pytest.mark.parametrize(("kw", "expected"), [
    ({"year": 2026, "budget": "-1"}, ["money_invalid"]),
    ({"year": 2026, "budget": "十万"}, ["money_invalid"]),
    ({"year": 2026, "spending": "1.001"}, ["money_invalid"]),
    ({"year": 1999, "budget": "1"}, ["year_invalid"]),
    ({"year": 2028, "budget": "1"}, ["year_invalid"]),
    ({"year": "明年", "spending": "1"}, ["year_invalid"]),
    ({"year": 2026}, ["funding_empty"]),
    ({"year": 2026, "budget": "10"}, ["funding_cap_unknown"]),  # no 2019 spending, no plan
    ({"year": 2026, "budget": "-1", "spending": "x"}, ["money_invalid", "money_invalid"]),
])
def test_funding_bad_input_writes_nothing(fund, kw, expected):
    before = state()
    assert codes_of(lambda: fund_set(fund, **kw)) == expected
    assert state() == before


def test_funding_scope_and_role(fund):
    w = fund
    before = state()
    assert codes_of(lambda: fund_set(w, unit_id=w.yuexiu_unit.pk, year=2019, spending="1")) == ["unit_not_found"]
    assert codes_of(lambda: fund_set(w, unit_id=999999, year=2019, spending="1")) == ["unit_not_found"]
    with pytest.raises(PermissionDenied):
        fund_set(w, actor=w.users.tianhe_operator, year=2019, spending="1")
    assert state() == before


def test_caps_for_many_units_match_one_by_one(fund):
    w = fund
    fund_set(w, year=2019, spending="50000")
    fund_set(w, unit_id=w.tianhe_child.pk, year=2019, spending="7000")
    caps = selectors.caps_for([w.tianhe_unit, w.tianhe_child, w.city_unit], 2026)
    assert caps == {w.tianhe_unit.pk: M("50000.00"), w.tianhe_child.pk: M("7000.00"), w.city_unit.pk: None}


# =========================================================================== contracts


def contract(w, number="HT-2024-001", **kw):
    params = {"actor": w.users.finance, "unit_id": w.tianhe_unit.pk, "number": number, "item": "物业管理服务",
              "start": "2024-01-01", "end": "2024-12-31", "amount": "360000", **kw}
    return services.contract_create(**params)


def test_contract_create_and_audit(fund):
    w = fund
    c = contract(w)
    assert (c.item, c.start, c.end, c.amount, c.jurisdiction_path) == (
        "property_management", D(2024, 1, 1), D(2024, 12, 31), M("360000.00"), w.tianhe_unit.jurisdiction_path)
    event = AuditEvent.objects.get(action="contract.create")
    assert event.after["number"] == "HT-2024-001" and event.after["item"] == "property_management"
    assert contract(w, number="HT-2", item="catering", start="2024-05-01", end="2024-05-01").end == D(2024, 5, 1)


@pytest.mark.parametrize(("kw", "expected"), [
    ({"end": "2023-12-31"}, ["contract_end_before_start"]),
    ({"item": "安保巡逻服务"}, ["unknown_service_item"]),
    ({"amount": "-5"}, ["money_invalid"]),
    ({"number": " "}, ["contract_number_required"]),
    ({"number": "X" * 65}, ["too_long"]),
    ({"start": "2024-02-30"}, ["invalid_date"]),
    ({"unit_id": "越秀"}, ["unit_not_found"]),
])
def test_contract_bad_input_writes_nothing(fund, kw, expected):
    before = state()
    assert codes_of(lambda: contract(fund, **kw)) == expected
    assert state() == before


def test_duplicate_contract_number_and_scope(fund):
    w = fund
    contract(w)
    before = state()
    assert codes_of(lambda: contract(w)) == ["contract_number_taken"]
    assert codes_of(lambda: contract(w, unit_id=w.yuexiu_unit.pk, number="HT-9")) == ["unit_not_found"]
    assert state() == before


# =========================================================================== double dipping on real rows


def test_double_dipping_selector_and_the_boundary_days(fund):
    w = fund
    # guard and cleaner counting since 2018; a contract of property management over 2024
    contract(w, number="HT-A", start="2024-01-01", end="2024-12-31")
    # the driver leaves 2024-03-01; a vehicle contract starting that day is no flag (he no longer counts)
    contract(w, number="HT-B", item="公务用车服务", start="2024-03-01", end="2024-12-31")
    # a catering contract in a unit without canteen staff
    contract(w, number="HT-C", item="餐饮服务")
    Spell.objects.filter(pk=w.driver.pk).update(leave_date=D(2024, 3, 1), exit_reason="resigned")
    flags = selectors.double_dipping(actor=w.users.tianhe_reviewer, a=D(2024, 1, 1), b=D(2024, 12, 31))
    assert [f.unit_id for f in flags] == [w.tianhe_unit.pk]
    (flag,) = flags
    assert [c.number for c in flag.contracts] == ["HT-A"]
    assert sorted(r.id for r in flag.records) == sorted([w.guard.pk, w.cleaner.pk])
    assert {(o.first, o.last, o.days) for o in flag.overlaps} == {(D(2024, 1, 1), D(2024, 12, 31), 366)}
    # the vehicle contract starting on the driver's last day in post is a flag
    PurchaseContract.objects.filter(number="HT-B").update(start=D(2024, 2, 29))
    (flag,) = selectors.double_dipping(actor=w.users.tianhe_reviewer, a=D(2024, 1, 1), b=D(2024, 12, 31))
    assert sorted(c.number for c in flag.contracts) == ["HT-A", "HT-B"]
    driver = next(o for o in flag.overlaps if o.record.id == w.driver.pk)
    assert (driver.first, driver.last, driver.days) == (D(2024, 2, 29), D(2024, 2, 29), 1)
    # invisible to another district
    assert selectors.double_dipping(actor=w.users.yuexiu_reviewer, a=D(2024, 1, 1), b=D(2024, 12, 31)) == []


# =========================================================================== posts moved to services


def test_exit_to_service_cites_the_contract(fund):
    w = fund
    contract(w, number="HT-A", start="2024-01-01", end="2026-12-31")
    conversion = services.exit_to_service(actor=w.users.tianhe_operator, spell_id=w.guard.pk,
                                          leave_date="2024-07-01", contract_number="HT-A")
    w.guard.refresh_from_db()
    assert (w.guard.leave_date, w.guard.exit_reason) == (D(2024, 7, 1), "to_purchased_service")
    assert (conversion.contract.number, conversion.converted_on, conversion.unit_id) == (
        "HT-A", D(2024, 7, 1), w.tianhe_unit.pk)
    assert AuditEvent.objects.get(action="spell.to_service").after == {
        "spell": w.guard.pk, "contract": "HT-A", "leave_date": "2024-07-01"}
    assert selectors.conversions_by_unit_year(actor=w.users.tianhe_reviewer) == [
        {"unit_id": w.tianhe_unit.pk, "unit": w.tianhe_unit.name, "year": 2024, "posts": 1}]


def test_exit_to_service_refusals(fund):
    w = fund
    contract(w, number="HT-A", start="2024-01-01", end="2024-12-31")
    contract(w, number="HT-Y", unit_id=w.tianhe_child.pk)
    before = state()
    op = w.users.tianhe_operator
    assert codes_of(lambda: services.exit_to_service(actor=op, spell_id=w.driver.pk, leave_date="2024-07-01",
                                                     contract_number="HT-A")) == ["contract_not_replacing"]
    assert codes_of(lambda: services.exit_to_service(actor=op, spell_id=w.guard.pk, leave_date="2025-01-01",
                                                     contract_number="HT-A")) == ["contract_not_in_force"]
    assert codes_of(lambda: services.exit_to_service(actor=w.users.tianhe_reviewer, spell_id=w.guard.pk,
                                                     leave_date="2024-07-01", contract_number="HT-Y")) == [
        "contract_other_unit"]
    assert codes_of(lambda: services.exit_to_service(actor=op, spell_id=w.guard.pk, leave_date="2024-07-01",
                                                     contract_number="NOPE")) == ["contract_not_found"]
    assert codes_of(lambda: services.exit_to_service(actor=w.users.yuexiu_reviewer, spell_id=w.guard.pk,
                                                     leave_date="2024-07-01", contract_number="HT-A")) == [
        "spell_not_found"]
    assert state() == before


# =========================================================================== both fall


def test_both_fall_for_a_unit_and_the_jurisdiction(fund):
    w = fund
    reviewer = w.users.tianhe_reviewer
    fund_set(w, year=2019, spending="100000")
    fund_set(w, year=2024, spending="90000")
    # 4 at the baseline; one leaves in 2024 → 3 at 2024-12-31
    Spell.objects.filter(pk=w.clerk.pk).update(leave_date=D(2024, 6, 1), exit_reason="resigned")
    total, rows = selectors.both_fall(actor=reviewer, year=2024)
    assert [(r.label, r.check.headcount, r.check.baseline_count, r.check.spending, r.check.baseline_spending,
             r.check.both_fell) for r in rows] == [
        (w.tianhe_unit.name, 3, 4, M("90000.00"), M("100000.00"), True)]
    assert (total.headcount, total.baseline_count, total.both_fell) == (3, 4, True)
    # 2023: the headcount had not fallen yet → no
    fund_set(w, year=2023, spending="80000")
    total, _rows = selectors.both_fall(actor=reviewer, year=2023)
    assert (total.headcount, total.baseline_count, total.both_fell) == (4, 4, False)
    # 2025 without a spending figure: cannot say
    total, _rows = selectors.both_fall(actor=reviewer, year=2025)
    assert (total.headcount_fell, total.spending, total.both_fell) == (True, None, None)
    # another district sees none of it
    total, rows = selectors.both_fall(actor=w.users.yuexiu_reviewer, year=2024)
    assert (rows, total.headcount, total.baseline_count) == ([], 0, 0)


# =========================================================================== control plans through the approvals


def test_a_district_control_plan_is_applied_for_and_approved(fund):
    w = fund
    u = w.users
    reviewer2 = __import__("tests.factories", fromlist=["make_user"]).make_user(
        "th_reviewer2", "establishment_reviewer", "440106")
    data = {"jurisdiction": "440106", "targets": [{"year": 2026, "amount": "800000"},
                                                  {"year": "2027", "amount": "750000"}], "reason": "压减经费"}
    finance2 = __import__("tests.factories", fromlist=["make_user"]).make_user("th_finance2", "finance_reviewer",
                                                                               "440106")
    case = wf.case_submit(actor=u.finance, kind="funding_plan", data=data, today=TODAY)
    assert (case.unit, case.jurisdiction.code, case.payload["targets"]) == (
        None, "440106", [{"year": 2026, "amount": "800000.00"}, {"year": 2027, "amount": "750000.00"}])
    for who, step in ((finance2, "finance"), (reviewer2, "establishment"), (u.leader, "leading_group")):
        case = wf.case_act(actor=who, case_id=case.pk, step=step, action="approve", opinion="同意", today=TODAY)
    assert case.status == "approved"
    plans = list(ControlPlan.objects.filter(is_current=True).values_list("unit", "jurisdiction__code", "year",
                                                                         "amount", "case_number"))
    assert plans == [(None, "440106", 2026, M("800000.00"), case.number),
                     (None, "440106", 2027, M("750000.00"), case.number)]
    assert AuditEvent.objects.filter(action="plan.approve").count() == 2
    assert [p.year for p in selectors.plans_in_scope(actor=u.tianhe_operator)] == [2026, 2027]
    assert list(selectors.plans_in_scope(actor=u.yuexiu_reviewer)) == []


def test_a_unit_plan_replaces_the_previous_one_and_lowers_the_cap(fund):
    w = fund
    u = w.users
    fund_set(w, year=2019, spending="100000")
    for amount in ("95000", "90000"):
        case = wf.case_submit(actor=u.tianhe_operator, kind="funding_plan",
                              data={"targets": [{"year": 2026, "amount": amount}], "reason": "控制"}, today=TODAY)
        for who, step in ((u.finance, "finance"), (u.tianhe_reviewer, "establishment"), (u.leader, "leading_group")):
            wf.case_act(actor=who, case_id=case.pk, step=step, action="approve", opinion="同意", today=TODAY)
    assert list(ControlPlan.objects.order_by("pk").values_list("amount", "is_current")) == [
        (M("95000.00"), False), (M("90000.00"), True)]
    assert selectors.funding_cap_for(w.tianhe_unit, 2026) == M("90000.00")


@pytest.mark.parametrize(("data", "expected"), [
    ({"targets": [], "reason": "x"}, ["plan_targets_required"]),
    ({"targets": [{"year": 2026, "amount": "-1"}], "reason": "x"}, ["money_invalid"]),
    ({"targets": [{"year": 1999, "amount": "1"}], "reason": "x"}, ["year_invalid"]),
    ({"targets": [{"year": 2026, "amount": "1"}, {"year": 2026, "amount": "2"}], "reason": "x"}, ["plan_year_twice"]),
    ({"targets": [{"year": 2026, "amount": "1"}], "reason": ""}, ["reason_required"]),
    ({"jurisdiction": "440104", "targets": [{"year": 2026, "amount": "1"}], "reason": "x"}, ["division_not_found"]),
])
def test_plan_application_bad_input(fund, data, expected):
    from bianzhi.workflow.models import Case

    before = Case.objects.count()
    assert codes_of(lambda: wf.case_submit(actor=fund.users.finance, kind="funding_plan", data=data,
                                           today=TODAY)) == expected
    assert Case.objects.count() == before
