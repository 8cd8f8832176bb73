"""Pure policy checks for non-establishment records: plain values in, **all** violations out.

No ORM here. A :class:`RuleSet` is built from rule-table rows (province defaults plus the
local additions of the jurisdictions above a unit); a :class:`UnitContext` carries a unit's
baseline, caps and current counts. The services and imports build both with batched queries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from . import errors
from .choices import ClassPolicy, RuleTable


@dataclass(frozen=True)
class Violation:
    code: str
    field: str | None = None
    params: dict[str, Any] = dc_field(default_factory=dict)


@dataclass(frozen=True)
class RuleRow:
    table: str
    code: str
    name: str
    parent_code: str = ""
    policy: str = ""
    value: str = ""
    sort: int = 0
    jurisdiction_path: str = ""
    valid_from: dt.date = dt.date(1900, 1, 1)
    valid_to: dt.date | None = None


@dataclass
class RuleSet:
    """The rule tables in force for one jurisdiction on one day."""

    items: dict[str, dict[str, RuleRow]]

    def table(self, name: str) -> dict[str, RuleRow]:
        return self.items.get(name, {})

    def names(self, name: str) -> list[str]:
        return [row.name for row in sorted(self.table(name).values(), key=lambda r: (r.sort, r.code))]

    def lookup(self, name: str, value: str) -> str | None:
        """A value as users type it (Chinese name or code) → the code, or None."""
        value = (value or "").strip()
        table = self.table(name)
        if value in table:
            return value
        for row in table.values():
            if row.name == value:
                return row.code
        return None

    def name_of(self, name: str, code: str) -> str:
        row = self.table(name).get(code)
        return row.name if row else code

    def policy_of(self, post_class: str) -> str:
        row = self.table(RuleTable.POST_CLASS).get(post_class)
        return row.policy if row else ""

    def class_of(self, work_type: str) -> str:
        row = self.table(RuleTable.WORK_TYPE).get(work_type)
        return row.parent_code if row else ""

    @property
    def baseline_date(self) -> dt.date:
        row = self.table(RuleTable.SETTING).get("baseline_date")
        return dt.date.fromisoformat(row.value) if row and row.value else dt.date(2019, 12, 31)

    @property
    def authorisation_validity_months(self) -> int:
        row = self.table(RuleTable.SETTING).get("authorisation_validity_months")
        return int(row.value) if row and row.value.isdigit() and int(row.value) > 0 else 6


def build_ruleset(rows: Iterable[RuleRow], path: str, as_of: dt.date) -> RuleSet:
    """Province rows plus the rows of every jurisdiction on ``path`` (a deeper row overrides a
    row of the same table and code), keeping rows in force on ``as_of``."""
    chosen: dict[tuple[str, str], RuleRow] = {}
    for row in sorted(rows, key=lambda r: (len(r.jurisdiction_path), r.valid_from)):
        if row.jurisdiction_path and not path.startswith(row.jurisdiction_path):
            continue
        if row.valid_from > as_of or (row.valid_to is not None and row.valid_to <= as_of):
            continue
        chosen[(row.table, row.code)] = row
    items: dict[str, dict[str, RuleRow]] = {}
    for (table, code), row in chosen.items():
        items.setdefault(table, {})[code] = row
    return RuleSet(items)


@dataclass
class SpellFacts:
    """One record as submitted, values already mapped to codes where they were known
    (``None`` for a value that did not map)."""

    situation: str | None
    post_class: str | None
    work_type: str | None
    key_post: str | None  # "" = none
    funding_source: str | None
    hire_date: dt.date
    leave_date: dt.date | None = None
    exit_reason: str | None = ""
    education: str | None = ""
    raw: dict[str, str] = dc_field(default_factory=dict)  # the typed values, for messages


def check_format(facts: SpellFacts, rules: RuleSet, today: dt.date) -> list[Violation]:
    """Values that must be known and dates that must make sense — in every mode."""
    out: list[Violation] = []

    def allowed(table: str) -> dict[str, Any]:
        return {"allowed": " / ".join(rules.names(table))}

    if facts.situation is None:
        out.append(Violation(errors.UNKNOWN_SITUATION, "situation", allowed(RuleTable.SITUATION)))
    if facts.post_class is None:
        out.append(Violation(errors.UNKNOWN_POST_CLASS, "post_class", allowed(RuleTable.POST_CLASS)))
    if facts.work_type is None:
        out.append(Violation(errors.UNKNOWN_WORK_TYPE, "work_type"))
    elif facts.post_class is not None and rules.class_of(facts.work_type) != facts.post_class:
        out.append(Violation(errors.WORK_TYPE_OTHER_CLASS, "work_type", {
            "work_type": rules.name_of(RuleTable.WORK_TYPE, facts.work_type),
            "post_class": rules.name_of(RuleTable.POST_CLASS, rules.class_of(facts.work_type)),
        }))
    if facts.key_post is None:
        out.append(Violation(errors.UNKNOWN_KEY_POST, "key_post", allowed(RuleTable.KEY_POST)))
    if facts.funding_source is None:
        out.append(Violation(errors.UNKNOWN_FUNDING_SOURCE, "funding_source", allowed(RuleTable.FUNDING_SOURCE)))
    if facts.education is None:
        out.append(Violation(errors.UNKNOWN_EDUCATION, "education", allowed(RuleTable.EDUCATION)))
    if facts.hire_date > today:
        out.append(Violation(errors.HIRE_IN_FUTURE, "hire_date"))
    if facts.leave_date is not None:
        if facts.leave_date <= facts.hire_date:
            out.append(Violation(errors.LEAVE_NOT_AFTER_HIRE, "leave_date"))
        if facts.exit_reason == "":
            out.append(Violation(errors.EXIT_WITHOUT_REASON, "exit_reason"))
    elif facts.exit_reason:
        out.append(Violation(errors.REASON_WITHOUT_EXIT, "exit_reason"))
    if facts.exit_reason is None:
        out.append(Violation(errors.UNKNOWN_EXIT_REASON, "exit_reason", allowed(RuleTable.EXIT_REASON)))
    return out


@dataclass
class UnitContext:
    """What the policy checks need to know about a unit on the hire date."""

    has_baseline: bool
    baseline_situations: set[str] = dc_field(default_factory=set)
    baseline_classes: set[str] = dc_field(default_factory=set)
    total_cap: int | None = None
    class_caps: dict[str, int] = dc_field(default_factory=dict)
    current_total: int = 0
    current_by_class: dict[str, int] = dc_field(default_factory=dict)
    class_at_year_start: dict[str, int] = dc_field(default_factory=dict)
    #: places approved but not yet used (hire authorisations in force), total and by class
    reserved_total: int = 0
    reserved_by_class: dict[str, int] = dc_field(default_factory=dict)


def check_new_hire(facts: SpellFacts, unit: UnitContext, rules: RuleSet) -> list[Violation]:
    """The policy of S2–S5 for one new record of a unit (the record itself not yet counted)."""
    out: list[Violation] = []
    if facts.key_post:
        out.append(Violation(errors.KEY_POST_BANNED, "key_post"))
    if not unit.has_baseline:
        out.append(Violation(errors.NO_BASELINE, None))
        return out
    if facts.situation and facts.situation not in unit.baseline_situations:
        out.append(Violation(errors.SITUATION_FROZEN, "situation"))
    if facts.post_class and facts.post_class not in unit.baseline_classes:
        out.append(Violation(errors.POST_CLASS_FROZEN, "post_class"))
    if unit.total_cap is not None and unit.current_total + 1 > unit.total_cap:
        out.append(Violation(errors.CAP_EXCEEDED, None, {"cap": unit.total_cap}))
    if facts.post_class:
        cap = unit.class_caps.get(facts.post_class)
        after = unit.current_by_class.get(facts.post_class, 0) + 1
        if cap is not None and after > cap and facts.post_class in unit.baseline_classes:
            out.append(Violation(errors.CLASS_CAP_EXCEEDED, "post_class", {"cap": cap}))
        if rules.policy_of(facts.post_class) == ClassPolicy.REDUCE:
            start = unit.class_at_year_start.get(facts.post_class, 0)
            if after > start and not (cap is not None and after > cap):
                out.append(Violation(errors.CLASS_MUST_REDUCE, "post_class"))
    return out


def key_posts_in(post_names: Iterable[str], rules: RuleSet) -> list[tuple[str, str]]:
    """(post name, key post) for every post name that names a key post: the key post's name
    or one of its keywords (the rule row's ``value``, comma-separated) appears in it."""
    found = []
    for post in post_names:
        for row in rules.table(RuleTable.KEY_POST).values():
            words = [row.name, *(w.strip() for w in row.value.replace("，", ",").split(",") if w.strip())]
            if any(w in post for w in words):
                found.append((post, row.name))
                break
    return found


def check_hire_request(facts: SpellFacts, unit: UnitContext, rules: RuleSet, *, quantity: int,
                       post_names: Iterable[str]) -> list[Violation]:
    """The policy of S2–S5 for an application for ``quantity`` hires: places already approved
    and not yet used (``reserved_*``) count as taken, so two approvals can never together
    pass a cap."""
    out: list[Violation] = []
    for post, key in key_posts_in(post_names, rules):
        out.append(Violation(errors.KEY_POST_BANNED, "post_names", {"post": post, "key_post": key}))
    if not unit.has_baseline:
        out.append(Violation(errors.NO_BASELINE, None))
        return out
    if facts.situation and facts.situation not in unit.baseline_situations:
        out.append(Violation(errors.SITUATION_FROZEN, "situation"))
    if facts.post_class and facts.post_class not in unit.baseline_classes:
        out.append(Violation(errors.POST_CLASS_FROZEN, "post_class"))
    taken = unit.current_total + unit.reserved_total
    if unit.total_cap is not None and taken + quantity > unit.total_cap:
        out.append(Violation(errors.CAP_EXCEEDED, "quantity",
                             {"cap": unit.total_cap, "headroom": max(unit.total_cap - taken, 0)}))
    if facts.post_class and facts.post_class in unit.baseline_classes:
        cap = unit.class_caps.get(facts.post_class)
        after = (unit.current_by_class.get(facts.post_class, 0) + unit.reserved_by_class.get(facts.post_class, 0)
                 + quantity)
        if cap is not None and after > cap:
            out.append(Violation(errors.CLASS_CAP_EXCEEDED, "post_class", {"cap": cap}))
        elif rules.policy_of(facts.post_class) == ClassPolicy.REDUCE and after > unit.class_at_year_start.get(
                facts.post_class, 0):
            out.append(Violation(errors.CLASS_MUST_REDUCE, "post_class"))
    return out


def overlaps(a_start: dt.date, a_end: dt.date | None, b_start: dt.date, b_end: dt.date | None) -> bool:
    """Two spells share a counting day: [a_start, a_end) ∩ [b_start, b_end) is not empty."""
    return (b_end is None or a_start < b_end) and (a_end is None or b_start < a_end)
