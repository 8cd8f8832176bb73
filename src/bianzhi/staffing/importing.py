"""Import of the 编外人员花名册 (non-establishment roster, requirement S13 / X4), both modes.

The path is the house one (see :mod:`bianzhi.orgs.importing`): read (python-calamine or
CSV) → coerce every cell → validate every row with batched look-ups → report **every**
error with row, column, value and code → only when there is none, write everything in one
transaction (bulk ``executemany`` on SQLite, ``COPY`` on PostgreSQL) with one
``roster.import`` audit event plus one per created or updated record. A dry run does all
of it except the writing (and writes no audit row either).

What a row means
----------------
The key is 统一社会信用代码 + 公民身份号码 + 入职日期. A row whose key is not registered
creates the record (and the person, when the ID number is new); a row whose key matches a
record updates it (typically: an exit is added). An empty optional cell of such a row
means "not stated" and keeps the registered value, like an empty number in the units
import — an exit is recorded by a file, never erased by an older one; 关键岗位 ``无``
clears a key post. A row that changes nothing writes nothing, so importing the same file
twice is a no-op apart from the one ``roster.import`` event that records the attempt.

Checks in both modes: the unit is an active unit in the importer's scope (a unit operator:
its own unit; unknown and out of scope are the same ``unit_not_found``); names, ID
numbers (GB 11643: check digit, birth date, region), the values of the rule tables of the
unit's jurisdiction (names or codes, :func:`bianzhi.staffing.rules.check_format`), dates
(not a future hire date, a leave date after the hire date and with a reason); one key once
per file; an ID number registered under another name; and no person counting in two
records on the same day anywhere in the province (``spell_overlap``; the file's rows, and
the registered records that no row of the file replaces — an out-of-scope unit is not
named).

**报送 / register** (default; ``roster.import_register``): the policy applies as in the
application flow. Every new record passes :func:`bianzhi.staffing.rules.check_new_hire`
against its unit's baseline, caps and counts on its hire date
(:func:`bianzhi.staffing.selectors.unit_contexts`), counting the file's own new records of
the unit hired earlier (in hire-date order, then file order) and the exits and changes the
file records; and it must cite (审批编号) an approved :class:`HireAuthorisation` of its unit
and post class (and situation, when the authorisation names one) in force on the hire
date, with enough quantity left for every row of the file citing it. The import consumes
them (``used += n``, rows locked). An update that newly sets a key post, or moves a record
to a situation or post class the unit lacked at its baseline, is refused too.

**摸底 / inventory** (``roster.import_inventory``, administrators): the survey of the stock.
Format rules still apply; policy breaches are accepted and raised: each record with a key
post becomes a :class:`PolicyFlag` ``key_post_banned`` (``raised_on`` = the import date,
already ``resolved_on`` its leave date when the record ended before the import). No
authorisation is needed (审批编号 is ignored).

Speed: a 100,000-row file (see ``bench/roster_import.py`` and ``docs/benchmarks.md``) must
import within 8× the time calamine takes to parse it. Cells are coerced column by column
with a memo per column (a file repeats a few hundred words and dates), ID numbers are
checked by arithmetic with the full validator as the fallback that names the error, the
format rules have a fast path that only accepts what :func:`check_format` would, look-ups
take one query each (the values travel as one JSON/array parameter), and the writes
allocate their ids first, so that nothing is read back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import math
from bisect import bisect_right, insort
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bianzhi.accounts.permissions import require
from bianzhi.common import audit
from bianzhi.common.codes import CodeError, mask_resident_id, validate_resident_id
from bianzhi.common.errors import REQUIRED, BianzhiError, ErrorDetail
from bianzhi.common.scoping import Scope, scope_of
from bianzhi.common.tabular import (
    DUPLICATE_KEY,
    CellError,
    Change,
    Column,
    ImportResult,
    Template,
    as_code,
    as_date,
    as_text,
    as_uscc,
    batched,
    read_table,
    sha256_hex,
    text,
)
from bianzhi.orgs.choices import Education, UnitStatus
from bianzhi.orgs.errors import UNIT_NOT_ACTIVE, UNIT_NOT_FOUND
from bianzhi.orgs.importing import IMPORT_CONFLICT
from bianzhi.orgs.models import Person, Unit

from . import errors
from .choices import AuthorisationStatus, RuleTable, SpellSource
from .models import HireAuthorisation, PolicyFlag, Spell
from .rules import RuleSet, SpellFacts, UnitContext, Violation, check_format, check_new_hire
from .selectors import rule_rows, ruleset_for, unit_contexts

REGISTER, INVENTORY = "register", "inventory"
MODES = (REGISTER, INVENTORY)
PERMISSION = {REGISTER: "roster.import_register", INVENTORY: "roster.import_inventory"}

#: Shown instead of the name of a unit outside the importer's scope (``spell_overlap``).
OTHER_UNIT = _("a unit outside your jurisdiction")
#: 关键岗位 may say "none" in words.
NO_KEY_POST = ("无",)

Progress = Callable[[int, int], None]

_CENT = Decimal("0.01")
_COST_LIMIT = Decimal("10000000000")  # max_digits=12, decimal_places=2


# --------------------------------------------------------------------------- coercers


def as_cost(value: Any) -> Decimal:
    """月人均成本: yuan ≥ 0, rounded to the fen; ``4500``, ``4500.5`` and ``"4,500.50"`` are fine."""
    amount: Decimal | None = None
    if isinstance(value, bool):
        amount = None
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        amount = Decimal(repr(value)) if math.isfinite(value) else None
    elif isinstance(value, str):
        try:
            amount = Decimal(value.strip().replace(",", "").replace("，", ""))
        except InvalidOperation:
            amount = None
    if amount is None or not amount.is_finite() or amount < 0:
        raise CellError(errors.COST_INVALID)
    amount = amount.quantize(_CENT, rounding=ROUND_HALF_UP)
    if amount >= _COST_LIMIT:
        raise CellError(errors.COST_INVALID)
    return amount


#: GB 11643 check characters by ``weighted sum mod 11``.
_ID_CHECK = "10X98765432"
#: Region codes already found in the national list by the full validator.
_REGIONS_KNOWN: set[str] = set()


@functools.lru_cache(maxsize=65_536)
def _birth(digits: str) -> dt.date | None:
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def as_resident_id(value: Any) -> str:
    """公民身份号码: a text cell holding a valid GB 11643 number (numeric cell: ``numeric_code_cell``).

    The fast path accepts exactly what :func:`~bianzhi.common.codes.validate_resident_id`
    accepts: the weights of the check digit are 2^(17−i) mod 11 and 13 ≡ 2 (mod 11), so
    the weighted sum is ``2 × int(first 17 digits, base 13)``; birth dates are parsed once
    per distinct date and region codes looked up once per region. Anything else goes to
    the full validator, which names the error.
    """
    number = as_code(value)
    if (
        len(number) == 18 and number.isascii() and number[:17].isdigit()
        and _ID_CHECK[(2 * int(number[:17], 13)) % 11] == number[17]
        and number[:6] in _REGIONS_KNOWN
    ):
        birth = _birth(number[6:14])
        if birth is not None and birth.year >= 1900 and birth <= dt.date.today():
            return number
    try:
        checked = validate_resident_id(number)
    except CodeError as exc:
        raise CellError(exc.code) from None
    _REGIONS_KNOWN.add(checked.region)
    return checked.number


TEMPLATE = Template([
    Column("统一社会信用代码", "uscc", required=True, coerce=as_uscc),
    Column("姓名", "name", required=True, coerce=text(50)),
    Column("公民身份号码", "id_number", required=True, coerce=as_resident_id),
    Column("情形", "situation", required=True, coerce=as_text),
    Column("岗位类别", "post_class", required=True, coerce=as_text),
    Column("工作内容", "work_type", required=True, coerce=as_text),
    Column("岗位名称", "post_name", required=True, coerce=text(50)),
    Column("关键岗位", "key_post", coerce=as_text),
    Column("审批编号", "authorisation", coerce=text(64)),
    Column("经费来源", "funding_source", required=True, coerce=as_text),
    Column("入职日期", "hire_date", required=True, coerce=as_date),
    Column("离职日期", "leave_date", coerce=as_date),
    Column("离职原因", "exit_reason", coerce=as_text),
    Column("合同到期日", "contract_end", coerce=as_date),
    Column("学历", "education", coerce=as_text),
    Column("月人均成本", "monthly_cost", coerce=as_cost),
])
#: Columns whose cells repeat (words, dates, amounts): coerced once per distinct value.
_MEMO = frozenset(TEMPLATE.by_field) - {"name", "id_number"}
#: Template field → rule table, for the columns whose words come from the rule tables.
RULE_COLUMNS: dict[str, str] = {
    "situation": RuleTable.SITUATION,
    "post_class": RuleTable.POST_CLASS,
    "work_type": RuleTable.WORK_TYPE,
    "key_post": RuleTable.KEY_POST,
    "funding_source": RuleTable.FUNDING_SOURCE,
    "exit_reason": RuleTable.EXIT_REASON,
    "education": RuleTable.EDUCATION,
}
#: The record fields a row states, in template order (the spell's own columns).
STATE_FIELDS = ("situation", "post_class", "work_type", "post_name", "key_post", "funding_source", "leave_date",
                "exit_reason", "contract_end", "education", "monthly_cost")
#: Optional fields: an empty cell keeps the registered value of an existing record.
_KEEP_WHEN_BLANK = ("key_post", "leave_date", "exit_reason", "contract_end", "education", "monthly_cost")


class _Bad:
    __slots__ = ("code", "params")

    def __init__(self, code: str, params: dict[str, Any]) -> None:
        self.code = code
        self.params = params


_MISSING = object()


def _coerce_column(cells: Sequence[Any], coerce: Callable[[Any], Any], memo: bool) -> tuple[
    list[Any], list[int], list[tuple[int, _Bad]]
]:
    """One column: its values (``None`` when blank or bad), the blank positions and the bad ones."""
    out: list[Any] = [None] * len(cells)
    blanks: list[int] = []
    bad: list[tuple[int, _Bad]] = []
    cache: dict[Any, Any] = {}
    for i, value in enumerate(cells):
        kind = type(value)
        if kind is str:
            if not value or value.isspace():
                blanks.append(i)
                continue
        elif value is None:
            blanks.append(i)
            continue
        result = cache.get(value, _MISSING) if memo and kind is not bool else _MISSING
        if result is _MISSING:
            try:
                result = coerce(value)
            except CellError as exc:
                result = _Bad(exc.code, exc.params)
            if memo and kind is not bool:
                cache[value] = result
        if type(result) is _Bad:
            bad.append((i, result))
        else:
            out[i] = result
    return out, blanks, bad


# --------------------------------------------------------------------------- look-ups


def _among(values: list[Any]) -> RawSQL:
    """The operand of an ``IN`` over many values, as one parameter (no per-batch queries)."""
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s)", (values,))
    return RawSQL("SELECT value FROM json_each(%s)", (json.dumps(values),))


@dataclass(slots=True)
class _Unit:
    pk: int
    uscc: str
    name: str
    status: str
    jurisdiction_id: int
    jurisdiction_path: str
    words: _Words | None = None


@dataclass(slots=True)
class _Person:
    pk: int
    name: str
    jurisdiction_path: str


@dataclass(slots=True)
class _Spell:
    pk: int
    person_id: int
    unit_id: int
    unit_name: str
    jurisdiction_path: str
    hire_date: dt.date
    state: dict[str, Any]
    authorisation_id: int | None


@dataclass(slots=True)
class _Words:
    """A rule set and, per rule table, what users may type (names and codes) → code."""

    rules: RuleSet
    maps: dict[str, dict[str, str]]


def _words(rules: RuleSet) -> _Words:
    maps: dict[str, dict[str, str]] = {}
    for field_name, table in RULE_COLUMNS.items():
        rows = rules.table(table)
        words = {row.name: code for code, row in rows.items()}
        words.update({code: code for code in rows})  # a code wins over a name (RuleSet.lookup)
        if field_name == "key_post":
            words.update(dict.fromkeys(NO_KEY_POST, ""))
        maps[field_name] = words
    return _Words(rules, maps)


# --------------------------------------------------------------------------- rows


@dataclass(slots=True)
class _Row:
    index: int
    row: int
    unit: _Unit | None
    id_number: str | None
    name: str | None
    hire_date: dt.date | None
    state: dict[str, Any]  # STATE_FIELDS → the record as it will be (codes, dates, Decimal)
    authorisation: str | None
    existing: _Spell | None = None
    person: _Person | None = None
    usable: bool = True  # unit, ID and dates known: takes part in key and overlap checks
    authorisation_id: int | None = None
    flags: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@dataclass
class _Plan:
    creates: list[_Row] = field(default_factory=list)
    updates: list[tuple[_Row, dict[str, tuple[Any, Any]]]] = field(default_factory=list)
    unchanged: int = 0
    new_people: dict[str, _Row] = field(default_factory=dict)  # ID number → the row the person comes from
    consumed: dict[int, int] = field(default_factory=dict)  # authorisation pk → rows citing it
    flags: int = 0


class _Context:
    """Everything one import has found out, shared by the checks."""

    def __init__(self, actor: Any, mode: str, today: dt.date) -> None:
        self.actor = actor
        self.mode = mode
        self.today = today
        self.scope: Scope = scope_of(actor)
        self.errors: list[ErrorDetail] = []
        self.header = TEMPLATE.header

    def error(self, row: int, field_name: str, value: Any, code: str, **params: Any) -> None:
        self.errors.append(ErrorDetail(code, field=self.header(field_name), value=value, row=row, params=params))

    def sees(self, unit_id: int, path: str) -> bool:
        scope = self.scope
        return path.startswith(scope.path) and (scope.unit_id is None or scope.unit_id == unit_id)


def _columns(table: Any) -> dict[str, list[Any] | None]:
    """The raw cells of each template column (``None`` for a column absent from the file)."""
    positions = {TEMPLATE.by_header[h].field: i for i, h in enumerate(table.headers) if h in TEMPLATE.by_header}
    rows = table.rows
    return {
        column.field: ([cells[positions[column.field]] for _row, cells in rows]
                       if column.field in positions else None)
        for column in TEMPLATE.columns
    }


def _coerce(ctx: _Context, raw: dict[str, list[Any] | None], numbers: list[int]) -> tuple[
    dict[str, list[Any]], dict[int, set[str]]
]:
    """Every cell of every column; cell errors go to ``ctx.errors``. Returns the values per
    column and, per row position with a bad or missing cell, the fields concerned."""
    n = len(numbers)
    values: dict[str, list[Any]] = {}
    bad: dict[int, set[str]] = defaultdict(set)
    for column in TEMPLATE.columns:
        cells = raw[column.field]
        if cells is None:
            values[column.field] = [None] * n
            continue
        out, blanks, wrong = _coerce_column(cells, column.coerce, column.field in _MEMO)
        values[column.field] = out
        if column.required:
            for i in blanks:
                bad[i].add(column.field)
                ctx.errors.append(ErrorDetail(REQUIRED, field=column.header, value=None, row=numbers[i]))
        for i, problem in wrong:
            bad[i].add(column.field)
            ctx.errors.append(ErrorDetail(problem.code, field=column.header, value=cells[i], row=numbers[i],
                                          params=problem.params))
    return values, bad


def _lookup_units(ctx: _Context, codes: Iterable[str]) -> dict[str, _Unit]:
    wanted = sorted(set(codes))
    found: dict[str, _Unit] = {}
    if not wanted:
        return found
    for pk, uscc, name, status, jurisdiction_id, path in Unit.objects.filter(uscc__in=_among(wanted)).values_list(
        "pk", "uscc", "name", "status", "jurisdiction_id", "jurisdiction_path"
    ):
        if ctx.sees(pk, path):  # out of scope: as unknown
            found[uscc] = _Unit(pk, uscc, name, status, jurisdiction_id, path)
    rows = rule_rows()
    by_path: dict[str, _Words] = {}
    shared: dict[tuple[Any, ...], _Words] = {}
    for unit in found.values():
        words = by_path.get(unit.jurisdiction_path)
        if words is None:
            rules = ruleset_for(unit.jurisdiction_path, ctx.today, rows)
            signature = tuple(sorted((t, c, r.name, r.parent_code) for t, items in rules.items.items()
                                     for c, r in items.items()))
            words = shared.get(signature)
            if words is None:
                words = shared[signature] = _words(rules)
            by_path[unit.jurisdiction_path] = words
        unit.words = words
    ctx.default_words = _words(ruleset_for(ctx.scope.path, ctx.today, rows))  # type: ignore[attr-defined]
    return found


_SPELL_COLUMNS = ("pk", "person_id", "unit_id", "unit__name", "jurisdiction_path", "hire_date", *STATE_FIELDS,
                  "authorisation_id")


def _lookup_people(ids: list[str]) -> tuple[dict[str, _Person], dict[int, list[_Spell]]]:
    """Registered people by ID number, and all their records, province-wide (overlaps)."""
    people: dict[str, _Person] = {}
    spells: dict[int, list[_Spell]] = defaultdict(list)
    if not ids:
        return people, spells
    for pk, number, name, path in Person.objects.filter(id_number__in=_among(ids)).values_list(
        "pk", "id_number", "name", "jurisdiction_path"
    ):
        people[number] = _Person(pk, name, path)
    if people:
        pks = sorted(p.pk for p in people.values())
        n = len(STATE_FIELDS)
        for values in Spell.objects.filter(person_id__in=_among(pks)).values_list(*_SPELL_COLUMNS):
            state = dict(zip(STATE_FIELDS, values[6:6 + n], strict=True))
            spells[values[1]].append(_Spell(values[0], values[1], values[2], values[3], values[4], values[5],
                                            state, values[-1]))
    return people, spells


# --------------------------------------------------------------------------- validation


def _format_ok(s: dict[str, Any], hire: dt.date, today: dt.date, rules: RuleSet) -> bool:
    """True only when :func:`check_format` has nothing to say (so it need not be asked)."""
    post_class = s["post_class"]
    work_type = s["work_type"]
    if (s["situation"] is None or post_class is None or work_type is None or s["key_post"] is None
            or s["funding_source"] is None or s["education"] is None or s["exit_reason"] is None
            or hire > today):
        return False
    if rules.class_of(work_type) != post_class:
        return False
    leave = s["leave_date"]
    if leave is None:
        return not s["exit_reason"]
    return leave > hire and s["exit_reason"] != ""


def _validate_rows(ctx: _Context, values: dict[str, list[Any]], bad: dict[int, set[str]],
                   raw: dict[str, list[Any] | None], numbers: list[int], units: dict[str, _Unit],
                   people: dict[str, _Person], spells: dict[int, list[_Spell]]) -> list[_Row]:
    """Per row: unit, words of the rule tables, dates, keys, names. Returns every row."""
    today = ctx.today
    default_words: _Words = ctx.default_words  # type: ignore[attr-defined]
    existing_by_key: dict[tuple[int, int, dt.date], _Spell] = {
        (s.unit_id, s.person_id, s.hire_date): s for group in spells.values() for s in group
    }
    first_of_key: dict[tuple[int, str, dt.date], int] = {}
    first_name: dict[str, tuple[str, int]] = {}
    v_uscc, v_name, v_id, v_hire = values["uscc"], values["name"], values["id_number"], values["hire_date"]
    v_auth = values["authorisation"]
    columns = [(f, values[f]) for f in STATE_FIELDS]
    rule_fields = [(f, values[f]) for f in RULE_COLUMNS]
    rows: list[_Row] = []
    no_bad: set[str] = set()
    for i, row_no in enumerate(numbers):
        wrong = bad.get(i, no_bad)
        uscc = v_uscc[i]
        unit = units.get(uscc) if uscc is not None else None
        usable = unit is not None and unit.status == UnitStatus.ACTIVE
        if uscc is not None and unit is None:
            ctx.error(row_no, "uscc", raw["uscc"][i], UNIT_NOT_FOUND)  # type: ignore[index]
        elif unit is not None and not usable:
            ctx.error(row_no, "uscc", raw["uscc"][i], UNIT_NOT_ACTIVE)  # type: ignore[index]
        words = unit.words if unit is not None and unit.words is not None else default_words
        number, hire = v_id[i], v_hire[i]
        state = {f: column[i] for f, column in columns}
        # The key, and the record it names.
        existing: _Spell | None = None
        person = people.get(number) if number is not None else None
        if usable and number is not None and hire is not None and unit is not None:
            key = (unit.pk, number, hire)
            first = first_of_key.get(key)
            if first is not None:
                ctx.error(row_no, "id_number", raw["id_number"][i], DUPLICATE_KEY, first=first)  # type: ignore[index]
                usable = False
            else:
                first_of_key[key] = row_no
                if person is not None:
                    existing = existing_by_key.get((unit.pk, person.pk, hire))
        else:
            usable = False
        # Words → codes; an empty optional cell is "none" for a new record, "keep" for an update.
        maps = words.maps
        for f, column in rule_fields:
            word = column[i]
            if word is None:
                if f in wrong:
                    state[f] = _MISSING
                elif existing is not None and f in _KEEP_WHEN_BLANK:
                    state[f] = existing.state[f]
                else:
                    state[f] = "" if f in _KEEP_WHEN_BLANK else None
            else:
                state[f] = maps[f].get(word)
        if existing is not None:
            for f in ("leave_date", "contract_end", "monthly_cost"):
                if state[f] is None and f not in wrong:
                    state[f] = existing.state[f]
        # The format rules of the rule tables, on the values as they will be.
        check_hire = hire if hire is not None else dt.date.min
        facts_state = {f: (None if v is _MISSING else v) for f, v in state.items()} if wrong else state
        if wrong or not _format_ok(facts_state, check_hire, today, words.rules):
            facts = SpellFacts(
                situation=facts_state["situation"], post_class=facts_state["post_class"],
                work_type=facts_state["work_type"], key_post=facts_state["key_post"],
                funding_source=facts_state["funding_source"], hire_date=check_hire,
                leave_date=facts_state["leave_date"], exit_reason=facts_state["exit_reason"],
                education=facts_state["education"],
            )
            for violation in check_format(facts, words.rules, today):
                if violation.field in wrong or (violation.field is None):
                    continue
                if violation.code == errors.REASON_WITHOUT_EXIT and "leave_date" in wrong:
                    continue
                if violation.field in RULE_COLUMNS and state[violation.field] is _MISSING:
                    continue
                f = violation.field
                ctx.error(row_no, f, raw[f][i] if raw[f] is not None else None,  # type: ignore[index]
                          violation.code, **violation.params)
                wrong = wrong | {f}
                usable = usable and f not in ("hire_date", "leave_date")
        if wrong:
            state = facts_state
            usable = usable and "leave_date" not in wrong and "hire_date" not in wrong
        # One name per ID number: the registered one, else the file's first.
        name = v_name[i]
        if number is not None and name is not None:
            if person is not None:
                if person.name != name:
                    shown = person.name if person.jurisdiction_path.startswith(ctx.scope.path) else (
                        person.name[:1] + "*" * (len(person.name) - 1))
                    ctx.error(row_no, "name", name, errors.PERSON_NAME_MISMATCH, name=shown)
            else:
                seen = first_name.get(number)
                if seen is None:
                    first_name[number] = (name, row_no)
                elif seen[0] != name:
                    ctx.error(row_no, "name", name, errors.PERSON_NAME_MISMATCH, name=seen[0])
        rows.append(_Row(index=i, row=row_no, unit=unit, id_number=number, name=name, hire_date=hire,
                         state=state, authorisation=v_auth[i], existing=existing, person=person, usable=usable))
    return rows


def _check_overlaps(ctx: _Context, rows: list[_Row], raw: dict[str, list[Any] | None],
                    people: dict[str, _Person], spells: dict[int, list[_Spell]]) -> None:
    """No person counts in two records on one day: the file's rows, plus the registered
    records of the same people that no row replaces."""
    by_person: dict[str, list[_Row]] = defaultdict(list)
    for row in rows:
        if row.usable:
            by_person[row.id_number].append(row)  # type: ignore[index]
    hires = raw["hire_date"]
    for number, group in by_person.items():
        person = people.get(number)
        registered = spells.get(person.pk, []) if person is not None else []
        if len(group) == 1 and not registered:
            continue
        replaced = {r.existing.pk for r in group if r.existing is not None}
        # (start, end, file row or None, registered record or None)
        spans: list[tuple[dt.date, dt.date | None, _Row | None, _Spell | None]] = [
            (r.hire_date, r.state["leave_date"], r, None) for r in group  # type: ignore[misc]
        ]
        spans += [(s.hire_date, s.state["leave_date"], None, s) for s in registered if s.pk not in replaced]
        spans.sort(key=lambda span: (span[0], span[2].row if span[2] is not None else 0))
        reported: set[int] = set()
        furthest = spans[0]
        for span in spans[1:]:
            end = furthest[1]
            if end is None or span[0] < end:
                current_row, other = span[2], furthest
                if current_row is None:  # a registered record overlaps a row that starts earlier
                    current_row, other = furthest[2], span
                if current_row is not None and current_row.row not in reported:
                    reported.add(current_row.row)
                    if other[2] is not None:
                        unit_name = other[2].unit.name if other[2].unit is not None else ""
                    else:
                        record = other[3]
                        assert record is not None
                        unit_name = record.unit_name if ctx.sees(record.unit_id, record.jurisdiction_path) \
                            else str(OTHER_UNIT)
                    ctx.error(current_row.row, "hire_date", hires[current_row.index],  # type: ignore[index]
                              errors.SPELL_OVERLAP, unit=unit_name, hire_date=other[0].isoformat())
            if end is not None and (span[1] is None or span[1] > end):
                furthest = span


# --------------------------------------------------------------------------- policy (register mode)


class _Tally:
    """How many intervals ``[start, end)`` count on a day (intervals added in any order)."""

    __slots__ = ("ends", "starts")

    def __init__(self) -> None:
        self.starts: list[dt.date] = []
        self.ends: list[dt.date] = []

    def add(self, start: dt.date, end: dt.date | None) -> None:
        insort(self.starts, start)
        if end is not None:
            insort(self.ends, end)

    def on(self, day: dt.date) -> int:
        # An interval that has ended by ``day`` also started by it.
        return bisect_right(self.starts, day) - bisect_right(self.ends, day)


class _Changes:
    """What the file does to a unit's counts: records added, and records as they were/will be."""

    def __init__(self) -> None:
        self.added: dict[str, _Tally] = defaultdict(_Tally)  # "" = total; else post class
        self.removed: dict[str, _Tally] = defaultdict(_Tally)

    def add(self, start: dt.date, end: dt.date | None, post_class: str, sign: int = 1) -> None:
        target = self.added if sign > 0 else self.removed
        target[""].add(start, end)
        target[post_class].add(start, end)

    def on(self, key: str, day: dt.date) -> int:
        added = self.added[key].on(day) if key in self.added else 0
        removed = self.removed[key].on(day) if key in self.removed else 0
        return added - removed


_POLICY_FIELD = {None: "uscc"}


def _check_register(ctx: _Context, rows: list[_Row], raw: dict[str, list[Any] | None]) -> None:
    """报送: the application-flow policy for every new record, and the hire authorisations."""
    new = [r for r in rows if r.usable and r.existing is None and r.unit is not None]
    updates = [r for r in rows if r.usable and r.existing is not None]
    changes: dict[int, _Changes] = defaultdict(_Changes)
    for row in updates:
        old = row.existing
        assert old is not None and row.hire_date is not None
        if (old.state["leave_date"], old.state["post_class"]) != (row.state["leave_date"], row.state["post_class"]):
            changes[old.unit_id].add(old.hire_date, old.state["leave_date"], old.state["post_class"], -1)
            changes[old.unit_id].add(row.hire_date, row.state["leave_date"], row.state["post_class"])
    # Unit contexts on each hire date (one batch of queries per distinct date).
    wanted: dict[dt.date, dict[int, _Unit]] = defaultdict(dict)
    for row in new:
        assert row.unit is not None and row.hire_date is not None
        wanted[row.hire_date][row.unit.pk] = row.unit
    for row in updates:
        old = row.existing
        assert old is not None and row.unit is not None
        if any(row.state[f] != old.state[f] for f in ("situation", "post_class")):
            wanted[old.hire_date][row.unit.pk] = row.unit
    contexts: dict[dt.date, dict[int, UnitContext]] = {
        day: unit_contexts(list(found.values()), day) for day, found in sorted(wanted.items())
    }
    # Updates: a key post newly set, or a situation / post class the unit lacked at its baseline.
    for row in updates:
        old = row.existing
        assert old is not None and row.unit is not None
        state = row.state
        if state["key_post"] and state["key_post"] != old.state["key_post"]:
            ctx.error(row.row, "key_post", raw["key_post"][row.index], errors.KEY_POST_BANNED)  # type: ignore[index]
        unit_ctx = contexts.get(old.hire_date, {}).get(row.unit.pk)
        if unit_ctx is None or not unit_ctx.has_baseline:
            continue
        if state["situation"] != old.state["situation"] and state["situation"] not in unit_ctx.baseline_situations:
            ctx.error(row.row, "situation", raw["situation"][row.index], errors.SITUATION_FROZEN)  # type: ignore[index]
        if state["post_class"] != old.state["post_class"] and state["post_class"] not in unit_ctx.baseline_classes:
            ctx.error(row.row, "post_class", raw["post_class"][row.index],  # type: ignore[index]
                      errors.POST_CLASS_FROZEN)
    # New records, in hire-date order: each counts the file's earlier ones.
    new.sort(key=lambda r: (r.hire_date, r.row))
    for row in new:
        unit, hire, state = row.unit, row.hire_date, row.state
        assert unit is not None and hire is not None
        base = contexts[hire][unit.pk]
        change = changes[unit.pk]
        post_class = state["post_class"]
        year_start = dt.date(hire.year, 1, 1)
        by_class = dict(base.current_by_class)
        by_class[post_class] = by_class.get(post_class, 0) + change.on(post_class, hire)
        at_start = dict(base.class_at_year_start)
        at_start[post_class] = at_start.get(post_class, 0) + change.on(post_class, year_start)
        unit_ctx = dataclasses.replace(base, current_total=base.current_total + change.on("", hire),
                                       current_by_class=by_class, class_at_year_start=at_start)
        facts = SpellFacts(situation=state["situation"], post_class=post_class, work_type=state["work_type"],
                           key_post=state["key_post"], funding_source=state["funding_source"], hire_date=hire,
                           leave_date=state["leave_date"], exit_reason=state["exit_reason"],
                           education=state["education"])
        for violation in check_new_hire(facts, unit_ctx, unit.words.rules if unit.words else RuleSet({})):
            _policy_error(ctx, row, raw, violation)
        change.add(hire, state["leave_date"], post_class)
    _check_authorisations(ctx, new, raw)


def _policy_error(ctx: _Context, row: _Row, raw: dict[str, list[Any] | None], violation: Violation) -> None:
    f = violation.field or "uscc"
    ctx.error(row.row, f, raw[f][row.index] if raw[f] is not None else None,  # type: ignore[index]
              violation.code, **violation.params)


def _check_authorisations(ctx: _Context, new: list[_Row], raw: dict[str, list[Any] | None]) -> None:
    numbers = sorted({r.authorisation for r in new if r.authorisation})
    found: dict[str, HireAuthorisation] = {}
    if numbers:
        found = {a.number: a for a in HireAuthorisation.objects.filter(number__in=_among(numbers))}
    left = {a.pk: a.remaining for a in found.values()}
    for row in sorted(new, key=lambda r: r.row):
        assert row.unit is not None and row.hire_date is not None
        cited = row.authorisation
        if not cited:
            ctx.error(row.row, "authorisation", None, errors.HIRE_AUTHORISATION_REQUIRED)
            continue
        authorisation = found.get(cited)
        state = row.state
        if (
            authorisation is None
            or authorisation.status != AuthorisationStatus.APPROVED
            or authorisation.unit_id != row.unit.pk
            or authorisation.post_class != state["post_class"]
            or (authorisation.situation and authorisation.situation != state["situation"])
            or authorisation.valid_from > row.hire_date
            or (authorisation.valid_to is not None and authorisation.valid_to <= row.hire_date)
            or left[authorisation.pk] < 1
        ):
            ctx.error(row.row, "authorisation", raw["authorisation"][row.index],  # type: ignore[index]
                      errors.HIRE_AUTHORISATION_INVALID)
            continue
        left[authorisation.pk] -= 1
        row.authorisation_id = authorisation.pk


def _inventory_flags(ctx: _Context, rows: list[_Row]) -> None:
    """摸底: breaches are accepted and flagged; today, a key post (I11)."""
    for row in rows:
        key_post = row.state["key_post"]
        if not key_post or (row.existing is not None and row.existing.state["key_post"] == key_post):
            continue
        row.flags.append((errors.KEY_POST_BANNED, {"key_post": key_post}))


# --------------------------------------------------------------------------- plan and preview


def _plan(rows: list[_Row]) -> _Plan:
    plan = _Plan()
    for row in rows:
        if row.existing is None:
            plan.creates.append(row)
            if row.person is None:
                known = plan.new_people.get(row.id_number or "")
                if known is None or (known.hire_date or dt.date.min) < (row.hire_date or dt.date.min):
                    plan.new_people[row.id_number or ""] = row
            if row.authorisation_id is not None:
                plan.consumed[row.authorisation_id] = plan.consumed.get(row.authorisation_id, 0) + 1
        else:
            old = row.existing.state
            changed = {f: (old[f], row.state[f]) for f in STATE_FIELDS if old[f] != row.state[f]}
            if changed:
                plan.updates.append((row, changed))
            else:
                plan.unchanged += 1
        plan.flags += len(row.flags)
    return plan


def _shown(field_name: str, value: Any, rules: RuleSet | None) -> Any:
    if value is None or value == "":
        return None
    if field_name in RULE_COLUMNS and rules is not None:
        return rules.name_of(RULE_COLUMNS[field_name], value)
    if isinstance(value, (dt.date, Decimal)):
        return str(value)
    return value


def _key(row: _Row) -> str:
    return f"{row.unit.uscc if row.unit else ''} {mask_resident_id(row.id_number or '')} {row.hire_date}"


def _preview(plan: _Plan) -> list[Change]:
    header = TEMPLATE.header
    preview = [Change(row=r.row, key=_key(r), label=r.name or "", action="create") for r in plan.creates]
    for row, changed in plan.updates:
        rules = row.unit.words.rules if row.unit is not None and row.unit.words is not None else None
        fields = {header(f): (_shown(f, old, rules), _shown(f, new, rules)) for f, (old, new) in changed.items()}
        preview.append(Change(row=row.row, key=_key(row), label=row.name or "", action="update", fields=fields))
    preview.sort(key=lambda c: c.row)
    return preview


# --------------------------------------------------------------------------- writing


def _quoted(model: Any, fields: Sequence[str]) -> tuple[str, str]:
    quote = connection.ops.quote_name
    meta = model._meta
    return quote(meta.db_table), ", ".join(quote(meta.get_field(name).column) for name in fields)


def _allocate(model: Any, count: int) -> list[int]:
    """``count`` fresh primary keys, so that inserted rows need not be read back.

    PostgreSQL: values of the identity sequence. SQLite: the transaction holds the write lock
    (``IMMEDIATE``), so the keys after the highest ever given are free.
    """
    if not count:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                           [connection.ops.quote_name(table), count])
            return [pk for (pk,) in cursor.fetchall()]
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {connection.ops.quote_name(table)}")
        highest = cursor.fetchone()[0]
        try:
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            found = cursor.fetchone()
        except DatabaseError:  # pragma: no cover - no AUTOINCREMENT table yet
            found = None
        if found is not None:
            highest = max(highest, found[0])
    return list(range(highest + 1, highest + 1 + count))


def _insert(model: Any, fields: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
    """Bulk INSERT of database-ready values: ``COPY`` on PostgreSQL, ``executemany`` elsewhere."""
    table, columns = _quoted(model, fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"
        for part in batched(rows, 5000):
            cursor.executemany(sql, part)


def _update(model: Any, fields: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
    """``UPDATE … SET fields WHERE id`` through ``executemany``; each row ends with the key."""
    quote = connection.ops.quote_name
    meta = model._meta
    assignments = ", ".join(f"{quote(meta.get_field(name).column)} = %s" for name in fields)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"
    with connection.cursor() as cursor:
        for part in batched(rows, 5000):
            cursor.executemany(sql, part)


class _Conflict(Exception):
    """The database changed under the import (e.g. an authorisation was used meanwhile)."""


def _db_state(state: dict[str, Any]) -> tuple[Any, ...]:
    """STATE_FIELDS as database values (dates and amounts adapted once per value)."""
    ops = connection.ops
    return tuple(
        ops.adapt_datefield_value(v) if isinstance(v, dt.date)
        else ops.adapt_decimalfield_value(v, 12, 2) if isinstance(v, Decimal)
        else v
        for v in state.values()
    )


_SPELL_FIELDS = ("id", "person", "unit", "jurisdiction_path", "hire_date", "authorisation", "source", *STATE_FIELDS)
_PERSON_FIELDS = ("id", "id_number", "name", "sex", "birth_date", "education", "jurisdiction", "jurisdiction_path",
                  "unit")


def _write(ctx: _Context, plan: _Plan, result: ImportResult, report: Callable[[int], None]) -> None:
    """Apply the plan in the caller's transaction, then the audit rows."""
    ops = connection.ops
    # 1. Hire authorisations: lock, re-check, consume.
    if plan.consumed:
        locked = {a.pk: a for a in HireAuthorisation.objects.select_for_update().filter(pk__in=list(plan.consumed))}
        for pk, n in plan.consumed.items():
            authorisation = locked.get(pk)
            if authorisation is None or authorisation.status != AuthorisationStatus.APPROVED \
                    or authorisation.remaining < n:
                raise _Conflict
        _update(HireAuthorisation, ["used"], [(locked[pk].used + n, pk) for pk, n in plan.consumed.items()])
    # 2. New people.
    person_pk: dict[str, int] = {}
    people = list(plan.new_people.items())
    for pk, (number, row) in zip(_allocate(Person, len(people)), people, strict=True):
        person_pk[number] = pk
    education = set(Education.values)

    def person_rows() -> Iterator[tuple[Any, ...]]:
        for number, row in people:
            unit = row.unit
            assert unit is not None
            birth = _birth(number[6:14])
            assert birth is not None
            yield (person_pk[number], number, row.name, "M" if int(number[16]) % 2 else "F",
                   ops.adapt_datefield_value(birth),
                   row.state["education"] if row.state["education"] in education else "",
                   unit.jurisdiction_id, unit.jurisdiction_path, unit.pk)

    _insert(Person, _PERSON_FIELDS, person_rows())
    report(len(people))
    # 3. Changed records: the ones that shrink first, so that the overlap guard never sees a
    #    moment where an extended record meets one not yet shortened.
    def shrinks(item: tuple[_Row, dict[str, tuple[Any, Any]]]) -> bool:
        old, new = item[1].get("leave_date", (None, None))
        return "leave_date" in item[1] and new is not None and (old is None or new < old)

    ordered = sorted(plan.updates, key=lambda item: not shrinks(item))
    _update(Spell, STATE_FIELDS, ((*_db_state(row.state), row.existing.pk) for row, _c in ordered
                                  if row.existing is not None))
    # 4. New records.
    source = SpellSource.REGISTER.value if ctx.mode == REGISTER else SpellSource.INVENTORY.value
    created_pk = _allocate(Spell, len(plan.creates))

    def spell_rows() -> Iterator[tuple[Any, ...]]:
        for pk, row in zip(created_pk, plan.creates, strict=True):
            unit = row.unit
            assert unit is not None and row.hire_date is not None
            person = row.person.pk if row.person is not None else person_pk[row.id_number or ""]
            yield (pk, person, unit.pk, unit.jurisdiction_path, ops.adapt_datefield_value(row.hire_date),
                   row.authorisation_id, source, *_db_state(row.state))

    _insert(Spell, _SPELL_FIELDS, spell_rows())
    report(len(plan.creates) + len(plan.updates))
    # 5. Policy flags (inventory mode).
    flags: list[PolicyFlag] = []
    spell_of = dict(zip((id(r) for r in plan.creates), created_pk, strict=True))
    for row in [*plan.creates, *(r for r, _c in plan.updates)]:
        if not row.flags:
            continue
        unit = row.unit
        assert unit is not None
        pk = row.existing.pk if row.existing is not None else spell_of[id(row)]
        leave = row.state["leave_date"]
        for code, params in row.flags:
            flags.append(PolicyFlag(spell_id=pk, unit_id=unit.pk, jurisdiction_path=unit.jurisdiction_path,
                                    code=code, params=params, raised_on=ctx.today,
                                    resolved_on=leave if leave is not None and leave <= ctx.today else None))
    PolicyFlag.objects.bulk_create(flags, batch_size=2000)
    # 6. Audit: the import, then one event per created or updated record.
    audit.record_many(ctx.actor, _audit_entries(ctx, plan, created_pk, person_pk, result))


def _audit_entries(ctx: _Context, plan: _Plan, created_pk: list[int], person_pk: dict[str, int],
                   result: ImportResult) -> Iterator[audit.Entry]:
    yield audit.Entry(
        action="roster.import", scope_path=ctx.scope.path, object_type="staffing.spell",
        object_repr=result.filename[:255],
        after={"file": result.filename, "sha256": result.sha256, "mode": ctx.mode, "on": ctx.today.isoformat(),
               **result.counts(), "people_created": len(plan.new_people), "flags": plan.flags,
               "authorisations_used": {str(pk): n for pk, n in sorted(plan.consumed.items())}},
    )
    sha = result.sha256
    Entry = audit.Entry
    for pk, row in zip(created_pk, plan.creates, strict=True):
        unit, state = row.unit, row.state
        assert unit is not None and row.hire_date is not None
        number = row.id_number or ""
        after: dict[str, Any] = {
            "unit": unit.uscc, "person": number[:6] + "********" + number[14:], "name": row.name,
            "hire_date": row.hire_date.isoformat(), "situation": state["situation"],
            "post_class": state["post_class"], "work_type": state["work_type"], "file": sha,
        }
        leave = state["leave_date"]
        if leave is not None:
            after["leave_date"] = leave.isoformat()
            after["exit_reason"] = state["exit_reason"]
        if state["key_post"]:
            after["key_post"] = state["key_post"]
        if row.authorisation_id is not None:
            after["authorisation"] = row.authorisation
        if row.person is None:
            after["person_created"] = person_pk[number]
        if row.flags:
            after["flags"] = [code for code, _params in row.flags]
        yield Entry("spell.import_create", unit.jurisdiction_path, "staffing.spell", str(pk),
                    f"{row.name} · {unit.name}"[:255], None, after)
    for row, changed in plan.updates:
        unit, existing = row.unit, row.existing
        assert unit is not None and existing is not None and row.hire_date is not None
        key = {"unit": unit.uscc, "person": mask_resident_id(row.id_number or ""),
               "hire_date": row.hire_date.isoformat()}
        before = {**key, **{f: old for f, (old, _new) in changed.items()}}
        after = {**key, **{f: new for f, (_old, new) in changed.items()}, "file": sha}
        if row.flags:
            after["flags"] = [code for code, _params in row.flags]
        yield Entry("spell.import_update", unit.jurisdiction_path, "staffing.spell", str(existing.pk),
                    f"{row.name} · {unit.name}"[:255], before, after)


# --------------------------------------------------------------------------- entry point


def import_roster(
    *, actor: Any, data: bytes, filename: str, mode: str = REGISTER, dry_run: bool = False,
    today: dt.date | None = None, progress: Progress | None = None,
) -> ImportResult:
    """Validate a roster file completely and, when every row is valid, apply it atomically.

    ``mode`` is ``register`` (报送, ``roster.import_register``) or ``inventory`` (摸底,
    ``roster.import_inventory``); a role without the permission gets ``PermissionDenied``.
    Returns an :class:`~bianzhi.common.tabular.ImportResult`: when ``errors`` is not empty
    nothing was written. ``today`` is the import date (future hire dates, flags); it
    defaults to the local date. ``progress(done, total)``, when given, is called a few
    times per phase: the total is the number of rows for a dry run and twice that for a
    commit (validating, then writing), ``done`` never goes back.
    """
    if mode not in MODES:
        raise ValueError(f"unknown roster import mode {mode!r}")
    require(actor, PERMISSION[mode])
    ctx = _Context(actor, mode, today or timezone.localdate())
    result = ImportResult(kind="roster", filename=filename, sha256=sha256_hex(data), dry_run=dry_run)
    done = [0]
    total = [1]

    def report(step: int) -> None:
        done[0] = min(done[0] + step, total[0])
        if progress is not None:
            progress(done[0], total[0])

    report(0)
    try:
        table = read_table(data, filename)
    except BianzhiError as exc:
        result.errors = exc.errors
        return result
    header_errors = TEMPLATE.header_errors(table)
    if header_errors:
        result.errors = sorted(header_errors, key=TEMPLATE.order_key())
        return result
    result.rows = len(table.rows)
    total[0] = result.rows * (1 if dry_run else 2)
    numbers = [row for row, _cells in table.rows]
    raw = _columns(table)
    del table
    values, bad = _coerce(ctx, raw, numbers)
    report(result.rows // 4)

    def run() -> None:
        units = _lookup_units(ctx, (c for c in values["uscc"] if c is not None))
        people, spells = _lookup_people(sorted({n for n in values["id_number"] if n is not None}))
        rows = _validate_rows(ctx, values, bad, raw, numbers, units, people, spells)
        values.clear()
        _check_overlaps(ctx, rows, raw, people, spells)
        if mode == REGISTER:
            _check_register(ctx, rows, raw)
        elif not ctx.errors:
            _inventory_flags(ctx, rows)
        report(result.rows - result.rows // 4)
        if ctx.errors:
            return
        plan = _plan(rows)
        result.created, result.updated, result.unchanged = len(plan.creates), len(plan.updates), plan.unchanged
        result.preview = _preview(plan)
        if not dry_run:
            _write(ctx, plan, result, lambda n: report(n // 2))

    if dry_run:
        run()
    else:
        try:
            with transaction.atomic():
                run()
        except (_Conflict, IntegrityError):
            result.created = result.updated = result.unchanged = 0
            result.preview = []
            ctx.errors.append(ErrorDetail(IMPORT_CONFLICT))
    if progress is not None:
        progress(total[0], total[0])
    result.errors = sorted(ctx.errors, key=TEMPLATE.order_key())
    return result
