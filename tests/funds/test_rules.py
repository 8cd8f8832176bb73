"""The pure rules of 编外人员经费 and purchased services, table-driven (no database)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as M

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bianzhi.funds import rules
from bianzhi.funds.rules import BothFall, ContractFacts, RecordFacts

D = dt.date
TODAY = D(2026, 11, 26)


@pytest.mark.parametrize(("value", "expected"), [
    (0, M("0.00")), ("12", M("12.00")), ("12.5", M("12.50")), (12.25, M("12.25")), ("1,234.50", M("1234.50")),
    (" 99 ", M("99.00")), ("999999999999.99", M("999999999999.99")),
])
def test_parse_yuan_accepts(value, expected):
    assert rules.parse_yuan(value) == expected


@pytest.mark.parametrize("value", ["-1", "abc", "1.005", None, True, "NaN", "Infinity", "1000000000000", "", "1e3x"])
def test_parse_yuan_refuses(value):
    with pytest.raises(ValueError, match="money_invalid"):
        rules.parse_yuan(value)


@pytest.mark.parametrize(("value", "expected"), [
    (2000, 2000), ("2019", 2019), ("2027", 2027), (2026.0, 2026), ("2024年", 2024),
])
def test_parse_year_accepts_2000_to_next_year(value, expected):
    assert rules.parse_year(value, TODAY) == expected


@pytest.mark.parametrize("value", [1999, 2028, "二〇二四", "", None, True, "2024.5"])
def test_parse_year_refuses(value):
    with pytest.raises(ValueError, match="year_invalid"):
        rules.parse_year(value, TODAY)


@pytest.mark.parametrize(("spent", "plan", "cap"), [
    (M("100"), None, M("100")), (None, M("80"), M("80")), (M("100"), M("80"), M("80")),
    (M("100"), M("120"), M("100")), (None, None, None), (M("0"), M("50"), M("0")),
])
def test_funding_cap_is_the_lower_of_baseline_spending_and_plan(spent, plan, cap):
    assert rules.funding_cap(spent, plan) == cap


@pytest.mark.parametrize(("year", "amount", "cap", "codes"), [
    (2026, M("100.00"), M("100.00"), []),  # at the cap
    (2026, M("100.01"), M("100.00"), ["budget_over_cap"]),  # a cent above
    (2026, M("0"), None, ["funding_cap_unknown"]),  # no cap known after the baseline year
    (2019, M("999"), M("1"), []),  # the baseline year itself is history
    (2018, M("999"), None, []),
])
def test_check_budget(year, amount, cap, codes):
    found = rules.check_budget(year=year, amount=amount, baseline_year=2019, cap=cap)
    assert [code for code, _params in found] == codes


@pytest.mark.parametrize(("headcount", "base", "spent", "base_spent", "hc_fell", "sp_fell", "both"), [
    (8, 10, M("90"), M("100"), True, True, True),
    (10, 10, M("90"), M("100"), False, True, False),  # equal headcount is not a fall
    (8, 10, M("100"), M("100"), True, False, False),  # equal spending is not a fall
    (12, 10, M("50"), M("100"), False, True, False),
    (8, 10, None, M("100"), True, None, None),  # unknown spending: cannot say
    (12, 10, None, None, False, None, False),  # headcount rose: no, whatever the money
    (0, 1, M("0"), M("1"), True, True, True),
])
def test_both_fall(headcount, base, spent, base_spent, hc_fell, sp_fell, both):
    check = BothFall(headcount=headcount, baseline_count=base, spending=spent, baseline_spending=base_spent)
    assert (check.headcount_fell, check.spending_fell, check.both_fell) == (hc_fell, sp_fell, both)


REPLACES = rules.replaced_by({"property_management": "security,cleaning,greening,maintenance",
                              "catering": "canteen"})


def contract(start, end, item="property_management", unit=1, pk=1):
    return ContractFacts(pk, f"HT-{pk}", unit, item, start, end)


def record(hire, leave=None, work_type="security", unit=1, pk=10):
    return RecordFacts(pk, unit, work_type, hire, leave)


@pytest.mark.parametrize(("c", "r", "a", "b", "overlap"), [
    # the boundary days: a contract ending the day before a record starts is not a flag ...
    (contract(D(2024, 1, 1), D(2024, 6, 30)), record(D(2024, 7, 1)), D(2024, 1, 1), D(2024, 12, 31), None),
    # ... one ending on its first day is (one day)
    (contract(D(2024, 1, 1), D(2024, 7, 1)), record(D(2024, 7, 1)), D(2024, 1, 1), D(2024, 12, 31),
     (D(2024, 7, 1), D(2024, 7, 1), 1)),
    # a record whose leave date is the contract's first day no longer counts that day
    (contract(D(2024, 3, 1), D(2024, 12, 31)), record(D(2020, 1, 1), D(2024, 3, 1)), D(2024, 1, 1),
     D(2024, 12, 31), None),
    # leave the day after: one day of overlap
    (contract(D(2024, 3, 1), D(2024, 12, 31)), record(D(2020, 1, 1), D(2024, 3, 2)), D(2024, 1, 1),
     D(2024, 12, 31), (D(2024, 3, 1), D(2024, 3, 1), 1)),
    # clipped to the period
    (contract(D(2023, 1, 1), D(2025, 12, 31)), record(D(2020, 1, 1)), D(2024, 4, 1), D(2024, 4, 30),
     (D(2024, 4, 1), D(2024, 4, 30), 30)),
    # outside the period
    (contract(D(2023, 1, 1), D(2023, 12, 31)), record(D(2020, 1, 1)), D(2024, 1, 1), D(2024, 12, 31), None),
    # a work type the item does not replace
    (contract(D(2024, 1, 1), D(2024, 12, 31)), record(D(2020, 1, 1), work_type="driver"), D(2024, 1, 1),
     D(2024, 12, 31), None),
    # another unit's record
    (contract(D(2024, 1, 1), D(2024, 12, 31)), record(D(2020, 1, 1), unit=2), D(2024, 1, 1), D(2024, 12, 31),
     None),
    # the period's last day only
    (contract(D(2024, 12, 31), D(2025, 6, 30)), record(D(2020, 1, 1)), D(2024, 1, 1), D(2024, 12, 31),
     (D(2024, 12, 31), D(2024, 12, 31), 1)),
])
def test_double_dipping_rule(c, r, a, b, overlap):
    flags = rules.double_dipping([c], [r], REPLACES, a, b)
    if overlap is None:
        assert flags == []
    else:
        assert len(flags) == 1 and flags[0].unit_id == c.unit_id
        (o,) = flags[0].overlaps
        assert (o.first, o.last, o.days) == overlap
        assert flags[0].contracts == [c] and flags[0].records == [r] and flags[0].first_day == overlap[0]


def test_one_flag_per_unit_names_every_contract_and_record():
    cs = [contract(D(2024, 1, 1), D(2024, 12, 31), pk=1), contract(D(2024, 1, 1), D(2024, 12, 31), "catering", pk=2)]
    rs = [record(D(2020, 1, 1), pk=10), record(D(2020, 1, 1), work_type="canteen", pk=11),
          record(D(2020, 1, 1), work_type="cleaning", pk=12)]
    (flag,) = rules.double_dipping(cs, rs, REPLACES, D(2024, 1, 1), D(2024, 1, 31))
    assert sorted(c.number for c in flag.contracts) == ["HT-1", "HT-2"]
    assert sorted(r.id for r in flag.records) == [10, 11, 12]
    assert sorted((o.contract.id, o.record.id) for o in flag.overlaps) == [(1, 10), (1, 12), (2, 11)]


dates = st.dates(min_value=D(2018, 1, 1), max_value=D(2026, 12, 31))


@given(c_start=dates, c_len=st.integers(0, 800), hire=dates, stay=st.one_of(st.none(), st.integers(1, 800)),
       a=dates, p_len=st.integers(0, 400))
def test_double_dipping_agrees_with_counting_day_by_day(c_start, c_len, hire, stay, a, p_len):
    """Property: flagged exactly when some day of [a, b] has the contract in force and the record
    counting (INDICATORS.md), and the overlap is exactly those days."""
    c = contract(c_start, c_start + dt.timedelta(days=c_len))
    leave = hire + dt.timedelta(days=stay) if stay is not None else None
    r = record(hire, leave)
    b = a + dt.timedelta(days=p_len)
    days = [a + dt.timedelta(days=i) for i in range(p_len + 1)]
    both = [d for d in days if c.start <= d <= c.end and r.hire_date <= d and (leave is None or d < leave)]
    flags = rules.double_dipping([c], [r], REPLACES, a, b)
    if not both:
        assert flags == []
    else:
        (o,) = flags[0].overlaps
        assert (o.first, o.last, o.days) == (both[0], both[-1], len(both))
