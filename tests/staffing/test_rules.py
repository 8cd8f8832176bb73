"""The pure 编外人员 rules, table by table, without a database (plain values in, all violations out)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from bianzhi.staffing.rules import (
    RuleRow,
    RuleSet,
    SpellFacts,
    UnitContext,
    build_ruleset,
    check_format,
    check_new_hire,
    overlaps,
)
from bianzhi.staffing.services import RULES_FILE

D = dt.date
TODAY = D(2022, 6, 30)
PROVINCE_FROM = D(2015, 1, 1)
GZ = "440000/440100/"
TIANHE = "440000/440100/440106/"
YUEXIU = "440000/440100/440104/"
SHENZHEN = "440000/440300/"


def _default_rows() -> list[RuleRow]:
    """The shipped province defaults, read straight from data/rules.yaml (no database)."""
    data = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    valid_from = D.fromisoformat(str(data["valid_from"]))
    return [
        RuleRow(table=table, code=row["code"], name=row["name"], parent_code=row.get("parent", ""),
                policy=row.get("policy", ""), value=str(row.get("value", "")), sort=sort, valid_from=valid_from)
        for table, rows in data["tables"].items()
        for sort, row in enumerate(rows)
    ]


DEFAULTS = _default_rows()
RULES = build_ruleset(DEFAULTS, TIANHE, TODAY)


LOCAL_FROM = D(2020, 1, 1)


def local(table: str, code: str, name: str, path: str, valid_from: D = LOCAL_FROM, valid_to: D | None = None,
          **kw) -> RuleRow:
    return RuleRow(table=table, code=code, name=name, jurisdiction_path=path, valid_from=valid_from,
                   valid_to=valid_to, **kw)


# --------------------------------------------------------------------------- build_ruleset


def test_province_rows_make_every_table():
    assert RULES.names("situation") == ["劳动合同制聘用", "劳务派遣", "协管员/辅助人员", "退休返聘", "其他临时用工"]
    assert RULES.names("post_class") == ["普通辅助岗", "专业技术岗", "执法辅助岗", "后勤保障岗"]
    assert [RULES.policy_of(c) for c in RULES.table("post_class")] == [
        "hold_total", "control_increase", "optimise_stock", "reduce"]
    assert len(RULES.table("work_type")) == 23
    assert RULES.names("key_post") == ["人事", "财务", "涉密"]
    assert RULES.names("funding_source") == ["财政拨款", "单位自有资金", "其他"]
    assert len(RULES.table("exit_reason")) == 7 and len(RULES.table("education")) == 4
    assert RULES.baseline_date == D(2019, 12, 31)
    assert build_ruleset([], TIANHE, TODAY).baseline_date == D(2019, 12, 31)  # the default when unset
    assert build_ruleset(DEFAULTS, TIANHE, D(1979, 12, 31)).items == {}  # before the defaults took effect
    assert build_ruleset(DEFAULTS, TIANHE, D(1980, 1, 1)).names("key_post") == ["人事", "财务", "涉密"]


def test_lookup_by_name_and_code():
    assert RULES.lookup("situation", "劳务派遣") == "dispatched"
    assert RULES.lookup("situation", "dispatched") == "dispatched"
    assert RULES.lookup("situation", " 劳务派遣 ") == "dispatched"
    assert RULES.lookup("situation", "派遣") is None
    assert RULES.lookup("situation", "") is None
    assert RULES.lookup("work_type", "保安") == "security" and RULES.class_of("security") == "logistics"
    assert RULES.lookup("no_such_table", "保安") is None
    assert RULES.name_of("post_class", "logistics") == "后勤保障岗"
    assert RULES.name_of("post_class", "unknown") == "unknown"


@pytest.mark.parametrize(("path", "policy"), [
    (TIANHE, "reduce"),            # the district row is the deepest
    (YUEXIU, "optimise_stock"),    # the city row
    (GZ, "optimise_stock"),
    (SHENZHEN, "hold_total"),      # another city: the province default
    ("", "hold_total"),
])
def test_deeper_local_row_wins(path, policy):
    rows = [
        *DEFAULTS,
        # The district row is older than the city row: depth decides, not date.
        local("post_class", "general_auxiliary", "普通辅助岗", TIANHE, D(2016, 1, 1), policy="reduce"),
        local("post_class", "general_auxiliary", "普通辅助岗", GZ, D(2020, 1, 1), policy="optimise_stock"),
    ]
    assert build_ruleset(rows, path, TODAY).policy_of("general_auxiliary") == policy


@pytest.mark.parametrize(("as_of", "present"), [
    (D(2019, 12, 31), False),  # before valid_from
    (D(2020, 1, 1), True),     # valid_from is the first day in force
    (D(2020, 5, 31), True),
    (D(2020, 6, 1), False),    # valid_to is the first day no longer in force
])
def test_rows_out_of_date_range_are_ignored(as_of, present):
    rows = [*DEFAULTS, local("key_post", "procurement", "采购", TIANHE, D(2020, 1, 1), D(2020, 6, 1))]
    assert (build_ruleset(rows, TIANHE, as_of).lookup("key_post", "采购") == "procurement") is present


def test_a_later_version_of_a_row_replaces_the_earlier_one():
    rows = [*DEFAULTS,
            local("post_class", "professional", "专业技术岗", GZ, D(2020, 1, 1), policy="optimise_stock"),
            local("post_class", "professional", "专业技术岗", GZ, D(2021, 1, 1), policy="reduce")]
    assert build_ruleset(rows, TIANHE, D(2020, 6, 1)).policy_of("professional") == "optimise_stock"
    assert build_ruleset(rows, TIANHE, D(2021, 6, 1)).policy_of("professional") == "reduce"


@pytest.mark.parametrize("other", [SHENZHEN, YUEXIU, "440000/440100/440106/440106001/"])
def test_rows_of_other_jurisdictions_are_ignored(other):
    rows = [*DEFAULTS, local("key_post", "procurement", "采购", other)]
    ruleset = build_ruleset(rows, TIANHE, TODAY)
    assert ruleset.lookup("key_post", "采购") is None
    assert ruleset.names("key_post") == ["人事", "财务", "涉密"]


# --------------------------------------------------------------------------- check_format


def facts(**overrides) -> SpellFacts:
    """A valid record (codes), changed by ``overrides``."""
    base = SpellFacts(situation="labour_contract", post_class="general_auxiliary", work_type="clerical",
                      key_post="", funding_source="fiscal", hire_date=D(2021, 3, 1), leave_date=None,
                      exit_reason="", education="bachelor")
    return replace(base, **overrides)


def mapped(ruleset: RuleSet, **typed: str) -> SpellFacts:
    """What an import does with typed values: names or codes → codes, unknown → None."""
    return facts(**{k: ruleset.lookup(k, v) for k, v in typed.items()})


def test_valid_record_has_no_violations():
    assert check_format(facts(), RULES, TODAY) == []
    assert check_format(facts(hire_date=TODAY), RULES, TODAY) == []  # today is not the future
    assert check_format(facts(leave_date=D(2021, 3, 2), exit_reason="resigned"), RULES, TODAY) == []
    assert check_format(facts(education=""), RULES, TODAY) == []
    named = mapped(RULES, situation="劳务派遣", post_class="后勤保障岗", work_type="保洁", funding_source="其他")
    assert check_format(named, RULES, TODAY) == []


@pytest.mark.parametrize(("overrides", "code", "field"), [
    ({"situation": None}, "unknown_situation", "situation"),
    ({"post_class": None}, "unknown_post_class", "post_class"),
    ({"work_type": None}, "unknown_work_type", "work_type"),
    ({"work_type": "security"}, "work_type_other_class", "work_type"),
    ({"key_post": None}, "unknown_key_post", "key_post"),
    ({"funding_source": None}, "unknown_funding_source", "funding_source"),
    ({"education": None}, "unknown_education", "education"),
    ({"hire_date": TODAY + dt.timedelta(days=1)}, "hire_in_future", "hire_date"),
    ({"leave_date": D(2021, 3, 1), "exit_reason": "resigned"}, "leave_not_after_hire", "leave_date"),  # ==
    ({"leave_date": D(2021, 2, 1), "exit_reason": "resigned"}, "leave_not_after_hire", "leave_date"),  # <
    ({"leave_date": D(2021, 4, 1), "exit_reason": ""}, "exit_without_reason", "exit_reason"),
    ({"exit_reason": "resigned"}, "reason_without_exit", "exit_reason"),
    ({"leave_date": D(2021, 4, 1), "exit_reason": None}, "unknown_exit_reason", "exit_reason"),
])
def test_each_format_violation(overrides, code, field):
    found = check_format(facts(**overrides), RULES, TODAY)
    assert [(v.code, v.field) for v in found] == [(code, field)]


def test_format_messages_carry_params():
    [other_class] = check_format(facts(work_type="security"), RULES, TODAY)
    assert other_class.params == {"work_type": "保安", "post_class": "后勤保障岗"}
    [situation] = check_format(facts(situation=None), RULES, TODAY)
    assert situation.params["allowed"].startswith("劳动合同制聘用 / 劳务派遣")


def test_format_returns_every_violation_at_once():
    bad = mapped(RULES, situation="合同工", post_class="普通辅助岗", work_type="驾驶员", key_post="会计",
                 funding_source="财政", education="博士")
    bad = replace(bad, hire_date=D(2030, 1, 1), leave_date=D(2029, 1, 1), exit_reason="")
    codes = [v.code for v in check_format(bad, RULES, TODAY)]
    assert sorted(codes) == sorted([
        "unknown_situation", "work_type_other_class", "unknown_key_post", "unknown_funding_source",
        "unknown_education", "hire_in_future", "leave_not_after_hire", "exit_without_reason",
    ])
    bad = replace(bad, post_class=None, work_type=None, leave_date=None, exit_reason="resigned")
    codes = [v.code for v in check_format(bad, RULES, TODAY)]
    assert {"unknown_post_class", "unknown_work_type", "reason_without_exit"} <= set(codes)


# --------------------------------------------------------------------------- check_new_hire


def context(**overrides) -> UnitContext:
    """A unit with a baseline of 3 普通辅助岗 + 2 后勤保障岗 (labour contract and dispatched), 4 in post."""
    base = UnitContext(
        has_baseline=True, baseline_situations={"labour_contract", "dispatched"},
        baseline_classes={"general_auxiliary", "logistics"}, total_cap=5,
        class_caps={"general_auxiliary": 3, "logistics": 2}, current_total=4,
        current_by_class={"general_auxiliary": 2, "logistics": 2},
        class_at_year_start={"general_auxiliary": 3, "logistics": 2},
    )
    return replace(base, **overrides)


LOGISTICS = {"post_class": "logistics", "work_type": "security"}


@pytest.mark.parametrize(("hire", "unit", "codes"), [
    ({}, {}, []),
    ({"key_post": "finance"}, {}, ["key_post_banned"]),
    ({"key_post": "finance"}, {"has_baseline": False}, ["key_post_banned", "no_baseline"]),
    ({}, {"has_baseline": False, "total_cap": None}, ["no_baseline"]),
    ({"situation": "rehired_retiree"}, {}, ["situation_frozen"]),
    # a class the unit lacked: frozen, and no class-cap message on top of it
    ({"post_class": "professional", "work_type": "legal"}, {}, ["post_class_frozen"]),
    # total cap 3: with 2 in post a hire passes, with 3 it is refused
    ({}, {"total_cap": 3, "current_total": 2}, []),
    ({}, {"total_cap": 3, "current_total": 3}, ["cap_exceeded"]),
    ({}, {"current_by_class": {"general_auxiliary": 3, "logistics": 1}}, ["class_cap_exceeded"]),
    ({}, {"current_by_class": {"general_auxiliary": 3}, "total_cap": 4}, ["cap_exceeded", "class_cap_exceeded"]),
    # 后勤保障岗 must fall: a hire only replaces someone who left this year
    (LOGISTICS, {"class_caps": {"logistics": 5}}, ["class_must_reduce"]),
    (LOGISTICS, {"class_caps": {"logistics": 5}, "current_by_class": {"logistics": 1}}, []),
    # over the class cap: the cap breach is reported, not the reduction on top of it
    (LOGISTICS, {}, ["class_cap_exceeded"]),
])
def test_new_hire_policy(hire, unit, codes):
    found = check_new_hire(facts(**hire), context(**unit), RULES)
    assert [v.code for v in found] == codes


def test_new_hire_reports_every_breach_with_params():
    found = check_new_hire(
        facts(key_post="personnel", situation="temporary"),
        context(total_cap=4, current_by_class={"general_auxiliary": 3, "logistics": 1}), RULES)
    assert [(v.code, v.params) for v in found] == [
        ("key_post_banned", {}), ("situation_frozen", {}), ("cap_exceeded", {"cap": 4}),
        ("class_cap_exceeded", {"cap": 3}),
    ]


def test_local_stricter_policy_changes_the_check():
    stricter = build_ruleset(
        [*DEFAULTS, local("post_class", "general_auxiliary", "普通辅助岗", TIANHE, policy="reduce")], TIANHE, TODAY)
    unit = context(current_by_class={"general_auxiliary": 3}, class_caps={"general_auxiliary": 9},
                   class_at_year_start={"general_auxiliary": 3}, total_cap=9)
    assert check_new_hire(facts(), unit, RULES) == []
    assert [v.code for v in check_new_hire(facts(), unit, stricter)] == ["class_must_reduce"]


@given(cap=st.integers(0, 50), current=st.integers(0, 60))
def test_cap_refused_exactly_when_the_hire_would_pass_it(cap, current):
    unit = context(total_cap=cap, current_total=current, class_caps={}, current_by_class={})
    codes = [v.code for v in check_new_hire(facts(), unit, RULES)]
    assert ("cap_exceeded" in codes) is (current + 1 > cap)


# --------------------------------------------------------------------------- overlaps


@pytest.mark.parametrize(("a", "b", "expected"), [
    ((D(2020, 1, 1), D(2021, 1, 1)), (D(2021, 1, 1), None), False),          # leaves on X, starts on X
    ((D(2020, 1, 1), D(2021, 1, 1)), (D(2020, 12, 31), None), True),         # one shared day
    ((D(2020, 1, 1), D(2021, 1, 1)), (D(2019, 1, 1), D(2020, 1, 1)), False),  # ends on the other's start
    ((D(2020, 1, 1), D(2021, 1, 1)), (D(2019, 1, 1), D(2020, 1, 2)), True),
    ((D(2020, 1, 1), None), (D(2030, 1, 1), None), True),                    # two open spells
    ((D(2020, 1, 1), None), (D(2019, 1, 1), D(2020, 1, 1)), False),
    ((D(2020, 1, 1), D(2020, 6, 1)), (D(2020, 2, 1), D(2020, 3, 1)), True),  # inside
    ((D(2020, 1, 1), D(2020, 6, 1)), (D(2020, 1, 1), D(2020, 6, 1)), True),  # the same
])
def test_overlap_boundaries(a, b, expected):
    assert overlaps(*a, *b) is expected
    assert overlaps(*b, *a) is expected


spans = st.tuples(st.integers(0, 40), st.one_of(st.none(), st.integers(1, 20)))


def _span(start: int, length: int | None) -> tuple[D, D | None]:
    first = D(2020, 1, 1) + dt.timedelta(days=start)
    return first, None if length is None else first + dt.timedelta(days=length)


@given(a=spans, b=spans)
def test_overlaps_is_symmetric_and_means_a_shared_counting_day(a, b):
    (a0, a1), (b0, b1) = _span(*a), _span(*b)
    assert overlaps(a0, a1, b0, b1) is overlaps(b0, b1, a0, a1)

    def counts(start: D, end: D | None, day: D) -> bool:  # INDICATORS.md: hire <= d < leave
        return start <= day and (end is None or day < end)

    days = [D(2020, 1, 1) + dt.timedelta(days=i) for i in range(70)]
    assert overlaps(a0, a1, b0, b1) is any(counts(a0, a1, d) and counts(b0, b1, d) for d in days)
