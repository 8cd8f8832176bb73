"""Import of the 编外人员花名册 (non-establishment roster, requirement S13 / X4), both modes.

The path is the house one (see :mod:`bianzhi.orgs.importing`): read (python-calamine or
CSV) → coerce every cell → validate every row with batched look-ups → report **every**
error with row, column, value and code → only when there is none, write everything in one
transaction (bulk ``executemany`` on SQLite, ``COPY`` on PostgreSQL) with one
``roster.import`` audit event plus one per created or updated record (see
:func:`_audit_entries`). A dry run does all of it except the writing (and writes no audit
row either).

What a row means
----------------
The key is 统一社会信用代码 + 公民身份号码 + 入职日期. A row whose key is not registered
creates the record (and the person, when the ID number is new: sex and birth date from
the number, the unit and its division as in :func:`bianzhi.orgs.services.person_create`);
a row whose key matches a record updates it (typically: an exit is added). An empty
optional cell of such a row means "not stated" and keeps the registered value, like an
empty number in the units import — so an older file never erases a recorded exit;
关键岗位 ``无`` clears a key post. A row that changes nothing writes nothing: importing
the same file twice is a no-op apart from the one ``roster.import`` event of the attempt.

Checks in both modes: the unit is an active unit in the importer's scope (a unit operator:
its own unit; unknown and out of scope are the same ``unit_not_found``); names; ID numbers
(GB 11643: check digit, birth date, region); the values of the rule tables of the unit's
jurisdiction in force on the hire date, as names or codes, and the dates
(:func:`bianzhi.staffing.rules.check_format`); a key once per file; an ID number
registered (or given earlier in the file) under another name; and no person counting in
two records on one day anywhere in the province (``spell_overlap``: the file's rows and the
registered records no row replaces; a record the importer may not see is not described).

**报送 / register** (default; ``roster.import_register``) applies the policy as
:func:`bianzhi.staffing.spells.spell_create` does: every new record passes
:func:`~bianzhi.staffing.rules.check_new_hire` against its unit's baseline, caps and counts
on its hire date (:func:`~bianzhi.staffing.selectors.unit_contexts`), counting the file's
own new records of the unit hired before it (hire-date order, then file order) and the
exits and class changes the file records; and it cites (审批编号) an approved hire
authorisation of its unit and post class (and situation, when the authorisation names
one), in force on the hire date, with a place left for every row citing it. The places
are consumed in the writing transaction, rows locked. An update that newly sets a key
post, or moves a record to a situation or post class its unit lacked at the baseline, is
refused as well.

**摸底 / inventory** (``roster.import_inventory``, administrators): format rules still
refuse; policy breaches are accepted and each becomes a :class:`PolicyFlag`
(``raised_on`` = the import date). As in ``spell_create``: a record of the stock (no
baseline yet, or hired on or before the baseline date) is flagged for a key post only; a
record hired after its unit's baseline gets every breach of ``check_new_hire``. An update
that newly sets a key post is flagged too. 审批编号 is ignored.

Speed (``bench/roster_import.py``, ``docs/benchmarks.md``: the issue asks for at most 8×
the time calamine takes to parse the same file): cells are coerced column by column, once
per distinct value (a file repeats a few hundred words, dates and amounts); ID numbers are
checked by arithmetic, the full validator naming the error only for the ones that fail;
the format rules have a fast path that accepts only what ``check_format`` would; each
look-up is one query (its values travel as one JSON or array parameter); the writes
allocate their primary keys first, so nothing is read back, and send database-ready
tuples through ``executemany``/``COPY``. During the import the cyclic garbage collector is
off (hundreds of thousands of objects, no cycles) and SQLite gets a larger page cache; on
SQLite the per-row overlap trigger is lifted for the bulk insert of new records, whose
overlaps this module has just checked under the same write lock (:func:`_overlap_checked_above`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import gc
import json
import math
import time
from bisect import bisect_right, insort
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from operator import attrgetter
from typing import Any, NamedTuple

from django.db import DatabaseError, IntegrityError, InternalError, connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from bianzhi.accounts.permissions import require
from bianzhi.common import audit, pii
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
from bianzhi.orgs.models import Person, Unit, sealed_id_number

from . import errors
from .choices import AuthorisationStatus, RuleTable, SpellSource
from .models import Baseline, HireAuthorisation, PolicyFlag, Spell
from .rules import (
    RuleRow,
    RuleSet,
    SpellFacts,
    UnitContext,
    Violation,
    build_ruleset,
    check_format,
    check_new_hire,
)
from .selectors import rule_rows, unit_contexts

REGISTER, INVENTORY = "register", "inventory"
MODES = (REGISTER, INVENTORY)
PERMISSION = {REGISTER: "roster.import_register", INVENTORY: "roster.import_inventory"}
#: 关键岗位 may say "none" in words.
NO_KEY_POST = "无"

#: ``progress(phase, done, total)`` with the phases ``read``, ``validate`` and ``write``.
Progress = Callable[[str, int, int], None]
#: A file's cells (raw or coerced) by template field, one value per data row.
Columns = dict[str, Sequence[Any]]


# --------------------------------------------------------------------------- coercers


_CENT = Decimal("0.01")
_COST_LIMIT = Decimal("10000000000")  # DecimalField(max_digits=12, decimal_places=2)
_FLOAT_NOISE = Decimal("0.000001")


def as_cost(value: Any) -> Decimal:
    """月人均成本: yuan ≥ 0 to the fen (``4500``, ``4500.5``, ``"4,500.50"``); more decimals
    are refused, except a number cell's binary noise (``4500.1000000001``)."""
    amount: Decimal | None = None
    if isinstance(value, bool):
        amount = None
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        if math.isfinite(value):
            cents = round(value * 100)
            if abs(value * 100 - cents) < 1e-4 and 0 <= cents < 1_000_000_000_000:
                return Decimal(cents).scaleb(-2)  # the usual case: a number cell with at most 2 decimals
            amount = Decimal(repr(value))
            if 0 <= amount < _COST_LIMIT:  # quantizing a huge number would overflow the context
                rounded = amount.quantize(_CENT)
                if abs(rounded - amount) < _FLOAT_NOISE:
                    amount = rounded
    elif isinstance(value, str):
        try:
            amount = Decimal(value.strip().replace(",", "").replace("，", ""))
        except InvalidOperation:
            amount = None
    if amount is None or not amount.is_finite() or amount < 0 or amount >= _COST_LIMIT \
            or amount != amount.quantize(_CENT):
        raise CellError(errors.COST_INVALID)
    return amount.quantize(_CENT)


#: GB 11643 check characters, by weighted sum mod 11.
_ID_CHECK = "10X98765432"
#: Region codes the full validator has found in the national list.
_REGIONS_KNOWN: set[str] = set()


@functools.lru_cache(maxsize=65_536)
def _birth(digits: str) -> dt.date | None:
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


class _Today:
    """The local date, looked up at most once a minute (the ID check asks for every row)."""

    day = dt.date.min
    until = 0.0

    @classmethod
    def get(cls) -> dt.date:
        now = time.monotonic()
        if now > cls.until:
            cls.day, cls.until = dt.date.today(), now + 60
        return cls.day


def as_resident_id(value: Any) -> str:
    """公民身份号码: a text cell holding a valid GB 11643 number (a number cell: ``numeric_code_cell``).

    The fast path accepts only what :func:`~bianzhi.common.codes.validate_resident_id`
    accepts: the check-digit weights are 2^(17−i) mod 11 and 13 ≡ 2 (mod 11), so the
    weighted sum is ``2 × int(first 17 digits, base 13)``; birth dates are parsed once per
    date and region codes looked up once per region. Anything else (spaces, a number cell,
    a wrong digit …) goes to the validator, which names the error.
    """
    if type(value) is str and len(value) == 18 and value.isascii():
        head, last = value[:17], value[17]
        if last == "x":
            last = "X"
        if head.isdigit() and _ID_CHECK[(2 * int(head, 13)) % 11] == last and value[:6] in _REGIONS_KNOWN:
            birth = _birth(value[6:14])
            if birth is not None and birth.year >= 1900 and birth <= _Today.get():
                return value if last == value[17] else head + last
    number = as_code(value)
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


class _State(NamedTuple):
    """The record's own fields a row states (Spell columns, template order), as they will
    be: codes (``None``: unknown), dates, amounts."""

    situation: str | None
    post_class: str | None
    work_type: str | None
    post_name: str | None
    key_post: str | None
    funding_source: str | None
    leave_date: dt.date | None
    exit_reason: str | None
    contract_end: dt.date | None
    education: str | None
    monthly_cost: Decimal | None


STATE_FIELDS = _State._fields
#: Optional fields: an empty cell is "none" for a new record and keeps a registered record's value.
_OPTIONAL = frozenset({"key_post", "leave_date", "exit_reason", "contract_end", "education", "monthly_cost"})


class _Bad:
    __slots__ = ("code", "params")

    def __init__(self, code: str, params: dict[str, Any]) -> None:
        self.code = code
        self.params = params


_BLANK = object()


def _is_blank(value: Any) -> bool:
    return value is None or (type(value) is str and (not value or value.isspace()))


def _coerce_one(coerce: Callable[[Any], Any], value: Any) -> Any:
    if _is_blank(value):
        return _BLANK
    try:
        return coerce(value)
    except CellError as exc:
        return _Bad(exc.code, exc.params)


def _coerce_column(cells: Sequence[Any], coerce: Callable[[Any], Any]) -> tuple[
    list[Any], list[int], list[tuple[int, _Bad]]
]:
    """One column: its values (``None`` when blank or bad), the blank positions and the bad ones.

    Each distinct cell value is coerced once (a file repeats a few hundred words, dates and
    amounts) and the column is then mapped in one pass. Equal values of different types
    coerce alike (``1`` and ``1.0``), except ``True``/``False``, which equal ``1``/``0``: a
    column holding a boolean cell is coerced cell by cell.
    """
    if bool in set(map(type, cells)):
        results = [_coerce_one(coerce, value) for value in cells]
    else:
        table = {value: _coerce_one(coerce, value) for value in dict.fromkeys(cells)}
        results = [table[value] for value in cells]
        special = {value for value, result in table.items() if result is _BLANK or type(result) is _Bad}
        if not special:
            return results, [], []
    blanks: list[int] = []
    bad: list[tuple[int, _Bad]] = []
    for i, result in enumerate(results):
        if result is _BLANK:
            blanks.append(i)
            results[i] = None
        elif type(result) is _Bad:
            bad.append((i, result))
            results[i] = None
    return results, blanks, bad


# --------------------------------------------------------------------------- look-ups


def _among(values: list[str] | list[int]) -> RawSQL:
    """The operand of an ``IN`` over many values as one parameter: no batches, one query."""
    if connection.vendor == "postgresql":
        kind = "bigint" if values and isinstance(values[0], int) else "text"
        return RawSQL(f"SELECT unnest(%s::{kind}[])", (values,))
    return RawSQL("SELECT value FROM json_each(%s)", (json.dumps(values),))


@dataclass(slots=True)
class _Words:
    """A rule set and, per rule column, what users may type (names and codes) → code."""

    rules: RuleSet
    maps: dict[str, dict[str, str]]
    class_of: dict[str, str]  # work type → post class


def _words(rules: RuleSet) -> _Words:
    maps: dict[str, dict[str, str]] = {}
    for field_name, table in RULE_COLUMNS.items():
        rows = rules.table(table)
        words = {row.name: code for code, row in rows.items()}
        words.update({code: code for code in rows})  # a code wins over a name, as in RuleSet.lookup
        if field_name == "key_post":
            words[NO_KEY_POST] = ""
        maps[field_name] = words
    class_of = {code: row.parent_code for code, row in rules.table(RuleTable.WORK_TYPE).items()}
    return _Words(rules, maps, class_of)


class _Rules:
    """The rule sets of a file's jurisdictions, per period between two rule changes.

    Rule rows are effective-dated; between two consecutive ``valid_from``/``valid_to``
    dates of any row nothing changes, so a (path, period) pair has one rule set. Equal rule
    sets (most paths have no local rows) share one :class:`_Words`.
    """

    def __init__(self) -> None:
        self.rows: list[RuleRow] = rule_rows()
        self.bounds = sorted({r.valid_from for r in self.rows} | {r.valid_to for r in self.rows if r.valid_to})
        self._by_path: dict[str, list[_Words]] = {}
        self._shared: dict[tuple[Any, ...], _Words] = {}

    def periods(self, path: str) -> list[_Words]:
        """The words of a path for each period: index ``bisect_right(bounds, day)``."""
        found = self._by_path.get(path)
        if found is None:
            found = []
            for start in [dt.date.min, *self.bounds]:
                rules = build_ruleset(self.rows, path, start)
                signature = tuple(sorted((t, c, r.name, r.parent_code, r.policy)
                                         for t, items in rules.items.items() for c, r in items.items()))
                words = self._shared.get(signature)
                if words is None:
                    words = self._shared[signature] = _words(rules)
                found.append(words)
            self._by_path[path] = found
        return found


@dataclass(slots=True)
class _Unit:
    pk: int
    uscc: str
    name: str
    status: str
    jurisdiction_id: int
    jurisdiction_path: str
    periods: list[_Words]
    active: bool = True
    baseline_as_of: dt.date | None = None


@dataclass(slots=True)
class _Person:
    pk: int
    name: str
    jurisdiction_path: str
    unit_id: int | None


@dataclass(slots=True)
class _Spell:
    pk: int
    person_id: int
    unit_id: int
    unit_name: str
    jurisdiction_path: str
    hire_date: dt.date
    state: _State


@dataclass(slots=True)
class _Row:
    index: int  # position in the file's data rows
    row: int  # row number as Excel shows it
    unit: _Unit | None
    words: _Words
    id_number: str | None
    name: str | None
    hire_date: dt.date | None
    state: _State
    authorisation: str | None
    existing: _Spell | None
    person: _Person | None
    usable: bool  # unit, key and dates known: takes part in the key and overlap checks
    clean: bool  # no error on the row: takes part in the policy checks
    authorisation_id: int | None = None
    flags: list[Violation] | None = None  # inventory mode: the breaches to flag
    pk: int | None = None  # of the record, once written

    def flag(self, violation: Violation) -> None:
        if self.flags is None:
            self.flags = []
        self.flags.append(violation)


class _Context:
    """What one import knows: who, how, when, and the errors found so far."""

    def __init__(self, actor: Any, mode: str, today: dt.date) -> None:
        self.actor = actor
        self.mode = mode
        self.today = today
        self.scope: Scope = scope_of(actor)
        self.errors: list[ErrorDetail] = []
        self.header = TEMPLATE.header

    def error(self, row: _Row | int, field_name: str, value: Any, code: str, **params: Any) -> None:
        number = row if isinstance(row, int) else row.row
        self.errors.append(ErrorDetail(code, field=self.header(field_name), value=value, row=number, params=params))

    def sees(self, unit_id: int | None, path: str) -> bool:
        """Whether the importer may see an object of this unit and path (scoping rules)."""
        scope = self.scope
        return path.startswith(scope.path) and (scope.unit_id is None or scope.unit_id == unit_id)


def _columns(table: Any) -> tuple[Columns, set[str]]:
    """The raw cells of each template column (all ``None`` for a column absent from the file)."""
    positions = {TEMPLATE.by_header[h].field: i for i, h in enumerate(table.headers) if h in TEMPLATE.by_header}
    transposed = list(zip(*(cells for _row, cells in table.rows), strict=True))
    blank: Sequence[Any] = (None,) * len(table.rows)
    raw = {column.field: transposed[positions[column.field]] if column.field in positions else blank
           for column in TEMPLATE.columns}
    return raw, set(positions)


def _coerce(ctx: _Context, raw: Columns, present: set[str], numbers: list[int]) -> tuple[
    Columns, dict[int, set[str]]
]:
    """Every cell of every column; cell errors go to ``ctx.errors``. Returns the values of each
    column and, for each row position with a bad or missing cell, the fields concerned."""
    values: Columns = {}
    bad: dict[int, set[str]] = defaultdict(set)
    for column in TEMPLATE.columns:
        cells = raw[column.field]
        if column.field not in present:
            values[column.field] = cells  # all None
            continue
        out, blanks, wrong = _coerce_column(cells, column.coerce)
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


def _lookup_units(ctx: _Context, rules: _Rules, codes: Iterable[str]) -> dict[str, _Unit]:
    """Units by code with their rule sets and baseline dates. A unit outside the importer's
    scope is left out, so that it reads as unknown."""
    wanted = sorted(set(codes))
    found: dict[str, _Unit] = {}
    if not wanted:
        return found
    for pk, uscc, name, status, jurisdiction_id, path in Unit.objects.filter(uscc__in=_among(wanted)).values_list(
        "pk", "uscc", "name", "status", "jurisdiction_id", "jurisdiction_path"
    ):
        if ctx.sees(pk, path):
            found[uscc] = _Unit(pk, uscc, name, status, jurisdiction_id, path, rules.periods(path),
                                status == UnitStatus.ACTIVE.value)
    # The current baseline of a unit is the one of the deepest jurisdiction above it that has one.
    baselines = sorted(Baseline.objects.filter(is_current=True).values_list("jurisdiction_path", "as_of"),
                       key=lambda b: len(b[0]))
    if baselines:
        for unit in found.values():
            for path, as_of in baselines:
                if unit.jurisdiction_path.startswith(path):
                    unit.baseline_as_of = as_of
    return found


_SPELL_COLUMNS = ("pk", "person_id", "unit_id", "unit__name", "jurisdiction_path", "hire_date", *STATE_FIELDS)


def _lookup_people(ids: list[str]) -> tuple[dict[str, _Person], dict[int, list[_Spell]]]:
    """Registered people by ID number, and all their records, province-wide (for overlaps)."""
    people: dict[str, _Person] = {}
    spells: dict[int, list[_Spell]] = defaultdict(list)
    if not ids:
        return people, spells
    by_index = {index: number for number in ids for index in pii.lookup_indexes(number)}
    for pk, index, name, path, unit_id in Person.objects.filter(
        id_number_index__in=_among(list(by_index))
    ).values_list("pk", "id_number_index", "name", "jurisdiction_path", "unit_id"):
        people[by_index[index]] = _Person(pk, name, path, unit_id)
    if people:
        pks = sorted(p.pk for p in people.values())
        shared: dict[Any, Any] = {}  # one object per distinct unit name, path, code and date
        for values in Spell.objects.filter(person_id__in=_among(pks)).values_list(*_SPELL_COLUMNS):
            pk, person_id, unit_id, unit_name, path, hire = values[:6]
            state = _State._make(shared.setdefault(v, v) for v in values[6:])
            spells[person_id].append(_Spell(pk, person_id, unit_id, shared.setdefault(unit_name, unit_name),
                                            shared.setdefault(path, path), shared.setdefault(hire, hire), state))
    return people, spells


# --------------------------------------------------------------------------- validation


def _format_ok(s: _State, hire: dt.date, today: dt.date, words: _Words) -> bool:
    """True only when :func:`check_format` has nothing to say (so it need not be asked)."""
    if (s.situation is None or s.post_class is None or s.work_type is None or s.key_post is None
            or s.funding_source is None or s.education is None or s.exit_reason is None or hire > today
            or words.class_of.get(s.work_type) != s.post_class):
        return False
    if s.leave_date is None:
        return not s.exit_reason
    return s.leave_date > hire and s.exit_reason != ""


def _masked_name(name: str) -> str:
    return name[:1] + "*" * max(len(name) - 1, 1)


def _validate_rows(ctx: _Context, rules: _Rules, values: Columns, bad: dict[int, set[str]], raw: Columns,
                   numbers: list[int], units: dict[str, _Unit], people: dict[str, _Person],
                   spells: dict[int, list[_Spell]]) -> list[_Row]:
    """Per row: unit, key, the words of the rule tables, dates, names. Returns every row.

    The words of the rule tables are mapped to codes column by column with the rule set
    most rows use (the scope's, in force today); a row whose unit and hire date call for
    another rule set is mapped again on its own.
    """
    today = ctx.today
    errs = ctx.errors
    bounds = rules.bounds
    default_periods = rules.periods(ctx.scope.path)
    today_period = bisect_right(bounds, today)
    common = default_periods[today_period]
    registered: dict[tuple[int, int, dt.date], _Spell] = {
        (s.unit_id, s.person_id, s.hire_date): s for group in spells.values() for s in group
    }
    first_of_key: dict[tuple[int, str, dt.date], int] = {}
    first_name: dict[str, str] = {}
    v_uscc, v_name, v_id, v_hire = values["uscc"], values["name"], values["id_number"], values["hire_date"]
    v_auth = values["authorisation"]
    rule_fields = [(STATE_FIELDS.index(f), f, values[f], "" if f in _OPTIONAL else None) for f in RULE_COLUMNS]
    optional = [(position, f, values[f]) for position, f in enumerate(STATE_FIELDS) if f in _OPTIONAL]
    state_columns: list[Sequence[Any]] = []
    for f in STATE_FIELDS:
        column = values[f]
        if f in RULE_COLUMNS:
            codes, blank = common.maps[f], "" if f in _OPTIONAL else None
            column = [blank if word is None else codes.get(word) for word in column]
        state_columns.append(column)
    rows: list[_Row] = []
    no_bad: set[str] = set()
    for i, (row_no, row_values) in enumerate(zip(numbers, zip(*state_columns, strict=True), strict=True)):
        errors_before = len(errs)
        wrong = bad.get(i, no_bad)
        uscc = v_uscc[i]
        unit = units.get(uscc) if uscc is not None else None
        if unit is None:
            usable = False
            if uscc is not None:
                ctx.error(row_no, "uscc", raw["uscc"][i], UNIT_NOT_FOUND)
        else:
            usable = unit.active
            if not usable:
                ctx.error(row_no, "uscc", raw["uscc"][i], UNIT_NOT_ACTIVE)
        number, hire = v_id[i], v_hire[i]
        periods = unit.periods if unit is not None else default_periods
        words = periods[bisect_right(bounds, hire) if hire is not None else today_period]
        # The key, and the registered record it names.
        existing: _Spell | None = None
        person = people.get(number) if number is not None else None
        if usable and unit is not None and number is not None and hire is not None:
            key = (unit.pk, number, hire)
            first = first_of_key.get(key)
            if first is not None:
                ctx.error(row_no, "id_number", raw["id_number"][i], DUPLICATE_KEY, first=first)
                usable = False
            else:
                first_of_key[key] = row_no
                if person is not None:
                    existing = registered.get((unit.pk, person.pk, hire))
        else:
            usable = False
        # The record as it will be: codes (None: unknown); an empty optional cell is "none"
        # for a new record and keeps the value of a registered one.
        state = _State._make(row_values)
        if words is not common or existing is not None:
            fixed = list(row_values)
            if words is not common:
                maps = words.maps
                for position, f, column, blank in rule_fields:
                    word = column[i]
                    fixed[position] = blank if word is None else maps[f].get(word)
            if existing is not None:
                for position, f, column in optional:
                    if column[i] is None and f not in wrong:
                        fixed[position] = existing.state[position]
            state = _State._make(fixed)
        # The format rules.
        check_hire = hire if hire is not None else dt.date.min
        if wrong or not _format_ok(state, check_hire, today, words):
            facts = SpellFacts(
                situation=state.situation, post_class=state.post_class, work_type=state.work_type,
                key_post=state.key_post, funding_source=state.funding_source, hire_date=check_hire,
                leave_date=state.leave_date, exit_reason=state.exit_reason, education=state.education,
            )
            for violation in check_format(facts, words.rules, today):
                f = violation.field or "uscc"
                if f in wrong or (violation.code == errors.REASON_WITHOUT_EXIT and "leave_date" in wrong):
                    continue  # that cell is reported already
                ctx.error(row_no, f, raw[f][i], violation.code, **violation.params)
                if f in ("hire_date", "leave_date"):
                    usable = False
            if "hire_date" in wrong or "leave_date" in wrong:
                usable = False
        # One name per ID number: the registered one, else the file's first.
        name = v_name[i]
        if number is not None and name is not None:
            if person is not None:
                if person.name != name:
                    shown = person.name if ctx.sees(person.unit_id, person.jurisdiction_path) \
                        else _masked_name(person.name)
                    ctx.error(row_no, "name", name, errors.PERSON_NAME_MISMATCH, name=shown)
            else:
                seen = first_name.setdefault(number, name)
                if seen != name:
                    ctx.error(row_no, "name", name, errors.PERSON_NAME_MISMATCH, name=seen)
        rows.append(_Row(i, row_no, unit, words, number, name, hire, state, v_auth[i], existing, person, usable,
                         not wrong and len(errs) == errors_before))
    return rows


@dataclass(slots=True)
class _Span:
    start: dt.date
    end: dt.date | None
    row: _Row | None  # a row of the file …
    record: _Spell | None  # … or a registered record


def _check_overlaps(ctx: _Context, rows: list[_Row], raw: Columns, people: dict[str, _Person],
                    spells: dict[int, list[_Spell]]) -> None:
    """No person counts in two records on one day: the file's rows, plus the registered
    records of the same people that no row replaces. Each overlapping row is reported once."""
    by_person: dict[str, list[_Row]] = defaultdict(list)
    for row in rows:
        if row.usable and row.id_number is not None:
            by_person[row.id_number].append(row)
    for number, group in by_person.items():
        person = people.get(number)
        registered = spells.get(person.pk, []) if person is not None else []
        if len(group) == 1 and not registered:
            continue
        replaced = {r.existing.pk for r in group if r.existing is not None}
        spans = [_Span(r.hire_date, r.state.leave_date, r, None) for r in group if r.hire_date is not None]
        spans += [_Span(s.hire_date, s.state.leave_date, None, s) for s in registered if s.pk not in replaced]
        spans.sort(key=lambda span: (span.start, span.row.row if span.row is not None else 0))
        reported: set[int] = set()
        furthest = spans[0]  # of the spans so far, the one that ends last
        for span in spans[1:]:
            end = furthest.end
            if end is None or span.start < end:
                here, other = (span, furthest) if span.row is not None else (furthest, span)
                if here.row is not None and here.row.row not in reported:
                    reported.add(here.row.row)
                    ctx.errors.append(_overlap_error(ctx, here.row, raw["hire_date"][here.row.index], other))
            if end is not None and (span.end is None or span.end > end):
                furthest = span


def _overlap_error(ctx: _Context, row: _Row, value: Any, other: _Span) -> ErrorDetail:
    """``spell_overlap``, naming the other record's unit and hire date only when the importer
    may see it (as :func:`bianzhi.staffing.spells.overlap_error`)."""
    header = ctx.header("hire_date")
    if other.row is not None and other.row.unit is not None:
        unit_name = other.row.unit.name
    elif other.record is not None and ctx.sees(other.record.unit_id, other.record.jurisdiction_path):
        unit_name = other.record.unit_name
    else:
        return ErrorDetail(errors.SPELL_OVERLAP, message=str(errors.SPELL_OVERLAP_HIDDEN_MESSAGE), field=header,
                           value=value, row=row.row)
    return ErrorDetail(errors.SPELL_OVERLAP, field=header, value=value, row=row.row,
                       params={"unit": unit_name, "hire_date": other.start.isoformat()})


# --------------------------------------------------------------------------- policy


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
        # An interval that has ended by ``day`` has also started by it.
        return bisect_right(self.starts, day) - bisect_right(self.ends, day)


class _Changes:
    """What the file does to one unit's counts: the records it adds, and the records it
    changes as they were (``removed``) and will be (``added``). Key ``""`` is the total."""

    def __init__(self) -> None:
        self.added: dict[str | None, _Tally] = defaultdict(_Tally)
        self.removed: dict[str | None, _Tally] = defaultdict(_Tally)

    def add(self, start: dt.date, end: dt.date | None, post_class: str | None, *, removed: bool = False) -> None:
        target = self.removed if removed else self.added
        target[""].add(start, end)
        target[post_class].add(start, end)

    def on(self, key: str, day: dt.date) -> int:
        added = self.added[key].on(day) if key in self.added else 0
        removed = self.removed[key].on(day) if key in self.removed else 0
        return added - removed


def _new_record_breaches(rows: list[_Row], new: list[_Row]) -> Iterator[tuple[_Row, Violation]]:
    """:func:`check_new_hire` for each of ``new`` on its hire date, as if the file's other
    new records of the unit hired before it, and the file's changes to its records, were in.

    ``rows`` are the file's rows (for the changes, and for the new records that are not
    checked but count: the stock of an inventory). One batch of :func:`unit_contexts`
    queries per distinct hire date.
    """
    changes: dict[int, _Changes] = defaultdict(_Changes)
    wanted_units = {r.unit.pk for r in new if r.unit is not None}
    checked = {id(r) for r in new}
    for row in rows:
        old, unit = row.existing, row.unit
        if unit is None or unit.pk not in wanted_units or row.hire_date is None:
            continue
        if old is None:
            if id(row) not in checked:
                changes[unit.pk].add(row.hire_date, row.state.leave_date, row.state.post_class)
            continue
        before = (old.state.leave_date, old.state.post_class)
        if before != (row.state.leave_date, row.state.post_class):
            changes[unit.pk].add(old.hire_date, before[0], before[1], removed=True)
            changes[unit.pk].add(old.hire_date, row.state.leave_date, row.state.post_class)
    by_day: dict[dt.date, dict[int, _Unit]] = defaultdict(dict)
    for row in new:
        assert row.unit is not None and row.hire_date is not None
        by_day[row.hire_date][row.unit.pk] = row.unit
    contexts = {day: unit_contexts(list(found.values()), day) for day, found in sorted(by_day.items())}
    for row in sorted(new, key=lambda r: (r.hire_date, r.row)):
        unit, hire, state = row.unit, row.hire_date, row.state
        assert unit is not None and hire is not None
        base = contexts[hire][unit.pk]
        change = changes[unit.pk]
        post_class = state.post_class
        assert post_class is not None  # a clean row
        by_class = dict(base.current_by_class)
        by_class[post_class] = by_class.get(post_class, 0) + change.on(post_class, hire)
        at_start = dict(base.class_at_year_start)
        at_start[post_class] = at_start.get(post_class, 0) + change.on(post_class, dt.date(hire.year, 1, 1))
        context = dataclasses.replace(base, current_total=base.current_total + change.on("", hire),
                                      current_by_class=by_class, class_at_year_start=at_start)
        facts = SpellFacts(situation=state.situation, post_class=post_class, work_type=state.work_type,
                           key_post=state.key_post, funding_source=state.funding_source, hire_date=hire,
                           leave_date=state.leave_date, exit_reason=state.exit_reason,
                           education=state.education)
        for violation in check_new_hire(facts, context, row.words.rules):
            yield row, violation
        change.add(hire, state.leave_date, post_class)


def _check_register(ctx: _Context, rows: list[_Row], raw: Columns) -> None:
    """报送: the application-flow policy for every new record and update, and the hire
    authorisations of the new records."""
    clean = [r for r in rows if r.usable and r.clean]
    new = [r for r in clean if r.existing is None]
    changed_kind = [r for r in clean if r.existing is not None and (
        r.state.situation != r.existing.state.situation
        or r.state.post_class != r.existing.state.post_class)]
    baselines: dict[int, UnitContext] = {}
    if changed_kind:
        by_day: dict[dt.date, dict[int, _Unit]] = defaultdict(dict)
        for row in changed_kind:
            assert row.unit is not None and row.existing is not None
            by_day[row.existing.hire_date][row.unit.pk] = row.unit
        for day, units in by_day.items():
            baselines.update(unit_contexts(list(units.values()), day))
    for row in clean:
        old = row.existing
        if old is None:
            continue
        assert row.unit is not None
        state = row.state
        if state.key_post and state.key_post != old.state.key_post:
            ctx.error(row, "key_post", raw["key_post"][row.index], errors.KEY_POST_BANNED)
        found = baselines.get(row.unit.pk)
        if found is None or not found.has_baseline:
            continue
        if state.situation != old.state.situation and state.situation not in found.baseline_situations:
            ctx.error(row, "situation", raw["situation"][row.index], errors.SITUATION_FROZEN)
        if state.post_class != old.state.post_class and state.post_class not in found.baseline_classes:
            ctx.error(row, "post_class", raw["post_class"][row.index], errors.POST_CLASS_FROZEN)
    for row, violation in _new_record_breaches(clean, new):
        f = violation.field or "uscc"
        ctx.error(row, f, raw[f][row.index], violation.code, **violation.params)
    _check_authorisations(ctx, new, raw)


def _check_authorisations(ctx: _Context, new: list[_Row], raw: Columns) -> None:
    """Every new record cites an authorisation of its unit and post class (and situation,
    when the authorisation names one), in force on the hire date, with a place left (places
    go to the rows in file order)."""
    numbers = sorted({r.authorisation for r in new if r.authorisation})
    found: dict[str, HireAuthorisation] = {}
    if numbers:
        found = {a.number: a for a in HireAuthorisation.objects.filter(number__in=_among(numbers))}
    left = {a.pk: a.remaining for a in found.values()}
    for row in sorted(new, key=lambda r: r.row):
        assert row.unit is not None and row.hire_date is not None
        if not row.authorisation:
            ctx.error(row, "authorisation", None, errors.HIRE_AUTHORISATION_REQUIRED)
            continue
        auth = found.get(row.authorisation)
        if (
            auth is None or auth.status != AuthorisationStatus.APPROVED or auth.unit_id != row.unit.pk
            or auth.post_class != row.state.post_class
            or (auth.situation and auth.situation != row.state.situation)
            or auth.valid_from > row.hire_date or (auth.valid_to is not None and auth.valid_to <= row.hire_date)
            or left[auth.pk] < 1
        ):
            ctx.error(row, "authorisation", raw["authorisation"][row.index], errors.HIRE_AUTHORISATION_INVALID)
            continue
        left[auth.pk] -= 1
        row.authorisation_id = auth.pk


def _flag_inventory(rows: list[_Row]) -> None:
    """摸底: breaches become flags. A record of the stock (no baseline, or hired on or before
    it) is flagged for a key post; one hired after its unit's baseline for every breach; an
    update for a key post it did not have."""
    after_baseline: list[_Row] = []
    for row in rows:
        unit, old = row.unit, row.existing
        assert unit is not None and row.hire_date is not None
        key_post = row.state.key_post
        if old is not None:
            if key_post and key_post != old.state.key_post:
                row.flag(Violation(errors.KEY_POST_BANNED, "key_post"))
        elif unit.baseline_as_of is not None and row.hire_date > unit.baseline_as_of:
            after_baseline.append(row)
        elif key_post:
            row.flag(Violation(errors.KEY_POST_BANNED, "key_post"))
    if after_baseline:
        for row, violation in _new_record_breaches(rows, after_baseline):
            row.flag(violation)


# --------------------------------------------------------------------------- plan and preview


@dataclass
class _Plan:
    creates: list[_Row] = field(default_factory=list)
    updates: list[tuple[_Row, dict[str, tuple[Any, Any]]]] = field(default_factory=list)
    unchanged: int = 0
    new_people: dict[str, _Row] = field(default_factory=dict)  # ID number → the row the person comes from
    consumed: dict[int, list[_Row]] = field(default_factory=dict)  # authorisation pk → rows citing it
    flags: int = 0


def _plan(rows: list[_Row]) -> _Plan:
    plan = _Plan()
    for row in rows:
        number = row.id_number or ""
        if row.existing is None:
            plan.creates.append(row)
            if row.person is None:
                known = plan.new_people.get(number)
                # The person belongs to the unit of the latest record.
                if known is None or (known.hire_date or dt.date.min) < (row.hire_date or dt.date.min):
                    plan.new_people[number] = row
            if row.authorisation_id is not None:
                plan.consumed.setdefault(row.authorisation_id, []).append(row)
        else:
            old = row.existing.state
            if old != row.state:
                changed = {f: (a, b) for f, a, b in zip(STATE_FIELDS, old, row.state, strict=True) if a != b}
                plan.updates.append((row, changed))
            else:
                plan.unchanged += 1
        plan.flags += len(row.flags or ())
    return plan


def _shown(field_name: str, value: Any, rules: RuleSet) -> Any:
    if value is None or value == "":
        return None
    if field_name in RULE_COLUMNS:
        return rules.name_of(RULE_COLUMNS[field_name], value)
    if isinstance(value, (dt.date, Decimal)):
        return str(value)
    return value


def _key(row: _Row) -> str:
    """A record's key as the preview shows it (the ID number masked)."""
    number = row.id_number or ""
    return f"{row.unit.uscc if row.unit else ''} {number[:6]}********{number[14:]} {row.hire_date}"


def _preview(plan: _Plan) -> list[Change]:
    header = TEMPLATE.header
    preview = [Change(r.row, _key(r), r.name or "", "create") for r in plan.creates]
    for row, changed in plan.updates:
        rules = row.words.rules
        fields = {header(f): (_shown(f, old, rules), _shown(f, new, rules)) for f, (old, new) in changed.items()}
        preview.append(Change(row.row, _key(row), row.name or "", "update", fields))
    if plan.creates and plan.updates:
        preview.sort(key=attrgetter("row"))
    return preview


# --------------------------------------------------------------------------- writing


def _allocate(model: Any, count: int) -> list[int]:
    """``count`` fresh primary keys, so that inserted rows need not be read back.

    PostgreSQL: values of the identity sequence. SQLite: the transaction holds the write
    lock (``IMMEDIATE``), so the keys after the highest ever handed out are free.
    """
    if not count:
        return []
    table = model._meta.db_table
    quoted = connection.ops.quote_name(table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT array_agg(nextval(pg_get_serial_sequence(%s, 'id'))) FROM generate_series(1, %s)",
                           [quoted, count])
            return list(cursor.fetchone()[0])
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {quoted}")
        highest = cursor.fetchone()[0]
        try:
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            found = cursor.fetchone()
        except DatabaseError:  # no AUTOINCREMENT table yet
            found = None
        if found is not None:
            highest = max(highest, found[0])
    return list(range(highest + 1, highest + 1 + count))


def _insert(model: Any, fields: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
    """Bulk INSERT of database-ready values: ``COPY`` on PostgreSQL, ``executemany`` elsewhere
    (``bulk_create`` would instantiate and prepare every object; see orgs/importing.py)."""
    meta = model._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    columns = ", ".join(quote(meta.get_field(name).column) for name in fields)
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


_CACHE_KIB = 128 * 1024


@contextlib.contextmanager
def _page_cache(rows: int) -> Iterator[None]:
    """SQLite: a page cache that holds what a large import reads and writes (the default
    2 MiB makes most index inserts a cache miss), for the import only."""
    if connection.vendor != "sqlite" or rows < 10_000:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        previous = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA cache_size = -{min(rows * 2, _CACHE_KIB)}")  # KiB
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {previous}")


#: The SQLite row trigger of migration 0002 that refuses an inserted record overlapping another.
_INSERT_GUARD = "spell_no_overlap_insert"


@contextlib.contextmanager
def _overlap_checked_above(count: int) -> Iterator[None]:
    """SQLite: the bulk insert of new records without the per-row overlap trigger.

    The trigger runs a sub-query for every inserted row, which cost a 100,000-row import
    as much as the rest of the insert. Here it would only repeat a check already made:
    the import has compared every new record with every registered record of the same
    people (:func:`_check_overlaps`), reading them inside this very transaction, which holds
    SQLite's write lock (``IMMEDIATE``) from before that read, so nothing can have been
    written since. The trigger is dropped and re-created from its own stored definition
    within the transaction: no other connection ever sees the table without it, and a
    rollback (of the transaction or of a savepoint) restores it. PostgreSQL's exclusion
    constraint stays on.
    """
    if connection.vendor != "sqlite" or count < 1000:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = %s", [_INSERT_GUARD])
        found = cursor.fetchone()
        if found is not None:
            cursor.execute(f"DROP TRIGGER {_INSERT_GUARD}")
    yield  # on an error the transaction rolls back, the DROP with it
    if found is not None:
        with connection.cursor() as cursor:
            cursor.execute(found[0])


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """No cyclic garbage collection during an import: it makes hundreds of thousands of
    objects, none in a cycle, and each full collection would walk all of them (reference
    counting still frees everything as usual)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Conflict(Exception):
    """The database changed under the import (an authorisation used up meanwhile)."""


_SPELL_FIELDS = ("id", "person", "unit", "jurisdiction_path", "hire_date", "authorisation", "source", *STATE_FIELDS)
_PERSON_FIELDS = ("id", "id_number_enc", "id_number_index", "id_number_masked", "name", "sex", "birth_date", "education", "jurisdiction", "jurisdiction_path",
                  "unit")


class _DbValues:
    """Database values of dates and amounts, adapted once per distinct value."""

    def __init__(self) -> None:
        ops = connection.ops
        self._date = ops.adapt_datefield_value
        self._amount = ops.adapt_decimalfield_value
        self._cache: dict[Any, Any] = {None: None}

    def column(self, values: list[Any]) -> list[Any]:
        cache = self._cache
        for value in set(values).difference(cache):
            cache[value] = self._date(value) if isinstance(value, dt.date) else self._amount(value, 12, 2)
        return [cache[value] for value in values]

    def rows(self, rows: list[_Row], size: int = 5000) -> Iterator[tuple[_Row, Any, tuple[Any, ...]]]:
        """``(row, hire date, state)`` as database values, converted column by column in
        batches (so that the converted copy never holds the whole file)."""
        for start in range(0, len(rows), size):
            part = rows[start:start + size]
            columns: list[Any] = [list(column) for column in zip(*(r.state for r in part), strict=True)]
            for position in _CONVERTED:
                columns[position] = self.column(columns[position])
            yield from zip(part, self.column([r.hire_date for r in part]), zip(*columns, strict=True), strict=True)


_CONVERTED = tuple(STATE_FIELDS.index(f) for f in ("leave_date", "contract_end", "monthly_cost"))


def _write(ctx: _Context, plan: _Plan, result: ImportResult, report: Callable[[int], None]) -> None:
    """Apply the plan in the caller's transaction, then the audit rows."""
    db = _DbValues()
    # 1. Hire authorisations: lock, check that the places are still there, consume them.
    used: dict[int, tuple[int, int]] = {}
    if plan.consumed:
        locked = {a.pk: a for a in HireAuthorisation.objects.select_for_update().filter(pk__in=list(plan.consumed))}
        for pk, citing in plan.consumed.items():
            auth = locked.get(pk)
            if auth is None or auth.status != AuthorisationStatus.APPROVED or auth.remaining < len(citing):
                raise _Conflict
            used[pk] = (auth.used, auth.used + len(citing))
        _update(HireAuthorisation, ["used"], [(after, pk) for pk, (_before, after) in used.items()])
    # 2. New people.
    people = list(plan.new_people.items())
    person_pk = {number: pk for pk, (number, _row) in zip(_allocate(Person, len(people)), people, strict=True)}
    education = frozenset(Education.values)
    births = db.column([_birth(number[6:14]) for number, _row in people])
    _insert(Person, _PERSON_FIELDS, (
        (person_pk[number], *sealed_id_number(number).values(), row.name, "M" if int(number[16]) % 2 else "F", birth,
         row.state.education if row.state.education in education else "", row.unit.jurisdiction_id,
         row.unit.jurisdiction_path, row.unit.pk)
        for (number, row), birth in zip(people, births, strict=True) if row.unit is not None
    ))
    # 3. Changed records; the ones that end earlier first, so that the overlap guard of the
    #    database never sees an extended record meet one that is not yet shortened.
    def shrinks(item: tuple[_Row, dict[str, tuple[Any, Any]]]) -> bool:
        old, new = item[1].get("leave_date", (None, None))
        return new is not None and (old is None or new < old)

    ordered = [row for row, _c in sorted(plan.updates, key=lambda item: not shrinks(item))]
    _update(Spell, STATE_FIELDS, ((*values, row.existing.pk) for row, _hire, values in db.rows(ordered)
                                  if row.existing is not None))
    # 4. New records.
    creates = plan.creates
    for pk, row in zip(_allocate(Spell, len(creates)), creates, strict=True):
        row.pk = pk
    for row in ordered:
        row.pk = row.existing.pk if row.existing is not None else None
    source = SpellSource.REGISTER.value if ctx.mode == REGISTER else SpellSource.INVENTORY.value
    with _overlap_checked_above(len(creates)):
        _insert(Spell, _SPELL_FIELDS, (
            (row.pk, row.person.pk if row.person is not None else person_pk[row.id_number or ""], row.unit.pk,
             row.unit.jurisdiction_path, hire, row.authorisation_id, source, *values)
            for row, hire, values in db.rows(creates) if row.unit is not None
        ))
    report(result.rows // 4)
    # 5. Policy flags (inventory mode).
    flags = [
        PolicyFlag(spell_id=row.pk, unit_id=row.unit.pk,
                   jurisdiction_path=row.unit.jurisdiction_path, code=violation.code,
                   params=audit.jsonable(violation.params), raised_on=ctx.today)
        for row in [*plan.creates, *(r for r, _c in plan.updates)] if row.unit is not None
        for violation in row.flags or ()
    ]
    PolicyFlag.objects.bulk_create(flags, batch_size=2000)
    # 6. Audit: the import, the authorisations used, one event per created or updated record.
    entries = _audit_entries(ctx, plan, used, result)
    step = 10_000 * (result.rows - result.rows // 4) // max(len(plan.creates) + len(plan.updates), 1)

    def reported() -> Iterator[audit.Entry]:
        for n, entry in enumerate(entries, start=1):
            if not n % 10_000:
                report(step)
            yield entry

    audit.record_many(ctx.actor, reported())


def _audit_entries(ctx: _Context, plan: _Plan, used: dict[int, tuple[int, int]], result: ImportResult
                   ) -> Iterator[audit.Entry]:
    """The audit events of an import, in chain order.

    1. ``roster.import``: file name and SHA-256, mode, import date, counts (rows, created,
       updated, unchanged, people created, flags raised).
    2. ``authorisation.use`` per hire authorisation consumed: ``used`` before and after, and
       the records that used it.
    3. ``spell.import_create`` per created record, right after the import's event: the record
       (``object_id``) and who, where, since when (``object_repr``: name · unit · hire date).
       Its values are the record's own (later changes are audited with before and after);
       they are not repeated in the event, because the audit chain's per-event cost is
       mostly its JSON payload and a 100,000-row inventory writes 100,001 events
       (``docs/benchmarks.md``).
    4. ``spell.import_update`` per changed record: the key (unit, masked ID number, hire
       date) and the changed fields, before and after.
    """
    yield audit.Entry(
        action="roster.import", scope_path=ctx.scope.path, object_type="staffing.spell",
        object_repr=result.filename[:255],
        after={"file": result.filename, "sha256": result.sha256, "mode": ctx.mode, "on": ctx.today.isoformat(),
               **result.counts(), "people_created": len(plan.new_people), "flags": plan.flags},
    )
    for pk, (before, after) in used.items():
        first = plan.consumed[pk][0]
        assert first.unit is not None
        yield audit.Entry("authorisation.use", first.unit.jurisdiction_path, "staffing.hireauthorisation", str(pk),
                          first.authorisation or "", {"used": before},
                          {"used": after, "spells": [r.pk for r in plan.consumed[pk]]})
    Entry = audit.Entry
    for row in plan.creates:
        unit = row.unit
        assert unit is not None
        yield Entry("spell.import_create", unit.jurisdiction_path, "staffing.spell", str(row.pk),
                    f"{row.name} · {unit.name} · {row.hire_date}"[:255])
    for row, changed in plan.updates:
        unit, existing = row.unit, row.existing
        assert unit is not None and existing is not None and row.hire_date is not None
        key = {"unit": unit.uscc, "person": mask_resident_id(row.id_number or ""),
               "hire_date": row.hire_date.isoformat()}
        after_values: dict[str, Any] = {**key, **{f: new for f, (_old, new) in changed.items()}}
        if row.flags:
            after_values["flags"] = [v.code for v in row.flags]
        yield Entry("spell.import_update", unit.jurisdiction_path, "staffing.spell", str(existing.pk),
                    f"{row.name} · {unit.name} · {row.hire_date}"[:255],
                    {**key, **{f: old for f, (old, _new) in changed.items()}}, after_values)


# --------------------------------------------------------------------------- entry point


def import_roster(
    *, actor: Any, data: bytes, filename: str, mode: str = REGISTER, dry_run: bool = False,
    today: dt.date | None = None, progress: Progress | None = None,
) -> ImportResult:
    """Validate a roster file completely and, when every row is valid, apply it atomically.

    ``mode`` is ``register`` (报送, needs ``roster.import_register``) or ``inventory`` (摸底,
    ``roster.import_inventory``): without the permission, ``PermissionDenied``. Returns an
    :class:`~bianzhi.common.tabular.ImportResult`; when ``errors`` is not empty nothing was
    written. ``today`` is the import date (no hire date after it; the flags' date); it
    defaults to the local date. ``progress(phase, done, total)``, when given, is called a
    few times per phase (``read``, ``validate`` with ``total`` = the rows, ``write``),
    as the units import and ``bianzhi import`` do; the background task shows it.
    """
    if mode not in MODES:
        raise ValueError(f"unknown roster import mode {mode!r}")
    require(actor, PERMISSION[mode])
    ctx = _Context(actor, mode, today or timezone.localdate())
    result = ImportResult(kind="roster", filename=filename, sha256=sha256_hex(data), dry_run=dry_run)
    with _no_cyclic_gc():
        _import(ctx, result, data, progress or (lambda phase, done, total: None))
    result.errors = sorted(ctx.errors, key=TEMPLATE.order_key())
    return result


def _import(ctx: _Context, result: ImportResult, data: bytes, tell: Progress) -> None:
    """Read, check and (unless a dry run) write; the errors go to ``ctx.errors``."""
    tell("read", 0, 1)
    try:
        table = read_table(data, result.filename)
    except BianzhiError as exc:
        ctx.errors.extend(exc.errors)
        return
    header_errors = TEMPLATE.header_errors(table)
    if header_errors:
        ctx.errors.extend(header_errors)
        return
    count = result.rows = len(table.rows)
    tell("read", 1, 1)
    numbers = [row for row, _cells in table.rows]
    raw, present = _columns(table)
    del table
    values, bad = _coerce(ctx, raw, present, numbers)
    tell("validate", count // 3, count)

    def run() -> None:
        rules = _Rules()
        units = _lookup_units(ctx, rules, (c for c in values["uscc"] if c is not None))
        people, spells = _lookup_people([n for n in dict.fromkeys(values["id_number"]) if n is not None])
        rows = _validate_rows(ctx, rules, values, bad, raw, numbers, units, people, spells)
        values.clear()
        tell("validate", count * 2 // 3, count)
        _check_overlaps(ctx, rows, raw, people, spells)
        if ctx.mode == REGISTER:
            _check_register(ctx, rows, raw)
        elif not ctx.errors:
            _flag_inventory(rows)
        tell("validate", count, count)
        if ctx.errors:
            return
        raw.clear()  # the file's cells: only error reports needed them
        plan = _plan(rows)
        result.created, result.updated, result.unchanged = len(plan.creates), len(plan.updates), plan.unchanged
        result.preview = _preview(plan)
        if not result.dry_run:
            written = [0]

            def report(step: int) -> None:
                written[0] = min(written[0] + step, count)
                tell("write", written[0], count)

            tell("write", 0, count)
            _write(ctx, plan, result, report)
            tell("write", count, count)
            from bianzhi.stats.tasks import after_commit

            after_commit([r.unit.pk for r in rows if r.unit is not None])

    if result.dry_run:
        run()
        return
    try:
        with transaction.atomic(), _page_cache(count):
            run()
    except (_Conflict, IntegrityError, InternalError):
        # A concurrent change (an authorisation used, a record or person added meanwhile).
        result.created = result.updated = result.unchanged = 0
        result.preview = []
        ctx.errors.append(ErrorDetail(IMPORT_CONFLICT))
