"""The first load of the existing coordinating bodies (议事协调机构, issue B1/B4/X4):
``bianzhi import bodies FILE`` and the import page.

The path is the house one (:mod:`bianzhi.orgs.importing`): read (python-calamine or CSV) →
coerce every cell → validate every row with a fixed number of batched look-ups → report
**every** error with row, column, value and code → only when there is none, write everything
in one transaction (bulk writes) with one ``bodies.import`` audit event plus one
``body.import`` event per created or changed body. A dry run does the same reading,
validation and preview and writes nothing (not even an audit row). Administrators only
(``body.import``).

What a row means — key 机构编码, or 机构名称 + 行政区划代码
----------------------------------------------------------
* 行政区划代码: a division of the importer's jurisdiction (``division_not_found``) at the
  province, city or county level — a body code holds a 6-digit division
  (``body_division_level``).
* 机构类型 and 设立依据: a kind of body and a positive-list ground of the rule tables in force
  for the division today, by name or code (``unknown_body_kind``, ``ground_required``, also
  when 设立依据 is empty). The import has no column for the body above a mirrored set-up
  (对应上级设立): the link is left empty.
* 牵头单位代码, 办公室设在, 成员单位代码 (credit codes separated by ``;``): registered units
  of the importer's jurisdiction (``unit_not_found``, the value is the code); the units of a
  body that is 存续 must be active (``unit_not_active``). A code named twice in the member
  list counts once.
* 设立日期 not in the future, 到期日期 not before it (``planned_end_before_set_up``);
  状态 存续 or 已撤销 (``invalid_choice``).
* 机构名称 is unique among the active bodies of a jurisdiction, in the file and in the
  registry (``duplicate_key``, ``body_name_taken``).
* 机构编码, when given, has a valid check character and the row's division in its division
  part (``body_code_invalid``). A registered code is that body (``body_code_taken`` when it is a
  body of another jurisdiction or outside the importer's); an unregistered one is kept for the
  new body. An empty code is matched by name: a 存续 row is the active body of that name in the
  division, a 已撤销 row the body of that name and set-up date; a row that matches nothing
  creates a body, and its code is assigned from the gap-free counter of its division and the
  year of 设立日期 (:func:`bianzhi.bodies.services.new_code`'s counter), which is first moved
  past every sequence used by a registered code or a code given in the file for that division
  and year, so an assigned code never collides with a kept one, now or at a later set-up.

A matched body that the row describes exactly is unchanged (importing a file twice writes
nothing but the ``bodies.import`` event). A matched body that differs is updated — but only
while it has been written by imports alone: once a body has changed through the procedure
(set-up, rename, members …, B5), a different row is ``change_outside_procedure``.

What is written
---------------
A new body's history starts on its set-up date with a :class:`BodyVersion` of change
``import`` (the state as loaded, same snapshot as the procedure writes), and its member units
from that day. A body loaded as 已撤销 gets no open membership: its members are in the
snapshot only (the template gives no end date, so ``ended_on`` stays empty). An update closes
the open version on the import date and opens a new one (or corrects in place a version that
starts that day), and closes and opens memberships on the import date.

A body with more member units than the member cap (rule setting ``member_cap``, default 20)
is accepted — it already exists — and raised for supervision: an alert of kind
``member_cap`` (key ``member_cap:<code>``) owned by the lead unit, unless the body has a
recorded member-cap exception. An update that brings a body back within the cap (or revokes
it) resolves its open alert.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import CharField, F, Q, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone
from django.utils.translation import gettext as _

from bianzhi.accounts.permissions import require
from bianzhi.common import audit
from bianzhi.common.codes import CodeError, validate_uscc
from bianzhi.common.errors import DATE_IN_FUTURE, BianzhiError, ErrorDetail
from bianzhi.common.models import Sequence
from bianzhi.common.scoping import scope_of
from bianzhi.common.tabular import (
    DUPLICATE_KEY,
    MISSING_COLUMN,
    CellError,
    Change,
    Column,
    ImportResult,
    Record,
    Template,
    as_code,
    as_date,
    as_uscc,
    choice,
    chunks,
    read_table,
    sha256_hex,
    text,
)
from bianzhi.divisions.errors import DIVISION_NOT_FOUND
from bianzhi.divisions.models import Division
from bianzhi.orgs.choices import UnitStatus
from bianzhi.orgs.errors import UNIT_NOT_ACTIVE, UNIT_NOT_FOUND
from bianzhi.orgs.importing import IMPORT_CONFLICT
from bianzhi.orgs.models import Unit
from bianzhi.staffing import selectors as staffing_selectors
from bianzhi.staffing.choices import RuleTable
from bianzhi.staffing.rules import RuleSet

from . import codes, errors
from .models import Body, BodyMember, BodyStatus, BodyVersion, TaskGroup

#: ``progress(phase, done, total)`` with the phases ``read``, ``validate`` and ``write``.
Progress = Callable[[str, int, int], None]

#: The words of the template's 状态 column (fixed exchange vocabulary).
STATUS_WORDS: dict[str, str] = {"存续": BodyStatus.ACTIVE.value, "已撤销": BodyStatus.REVOKED.value}
_STATUS_WORD = {v: k for k, v in STATUS_WORDS.items()}
IMPORT_CHANGE = "import"
ALERT_KIND = "member_cap"
DEFAULT_CAP = 20
BATCH = 2000
_MEMBER_SEPARATORS = ("；", "、", ",", "，", "\n", "\r", "\t", " ")


# --------------------------------------------------------------------------- coercers


def as_body_code(value: Any) -> str:
    """A body code (``YX…``, 18 characters) with a valid check character."""
    code = as_code(value)
    if not codes.is_valid(code):
        raise CellError(errors.BODY_CODE_INVALID)
    return code


def as_code_list(value: Any) -> tuple[str, ...]:
    """Credit codes separated by ``;`` (also ``；``, ``、``, commas, spaces or line breaks), in
    order, each once; each code is checked when the row is validated."""
    cell = as_code_text(value)
    for separator in _MEMBER_SEPARATORS:
        cell = cell.replace(separator, ";")
    out: list[str] = []
    for part in cell.split(";"):
        code = part.strip().upper()
        if code and code not in out:
            out.append(code)
    return tuple(out)


def as_code_text(value: Any) -> str:
    """The text of a cell of codes: a numeric cell has lost digits (``numeric_code_cell``)."""
    if isinstance(value, str):
        return value
    return as_code(value)  # raises numeric_code_cell for numbers


TEMPLATE = Template([
    Column("机构编码", "code", coerce=as_body_code),
    Column("机构名称", "name", required=True, coerce=text(100)),
    Column("行政区划代码", "division", required=True, coerce=text(12)),
    Column("机构类型", "kind", required=True, coerce=text(32)),
    Column("牵头单位代码", "lead", required=True, coerce=as_uscc),
    Column("办公室设在", "office", coerce=as_uscc),
    Column("成员单位代码", "members", coerce=as_code_list),
    # Required, but an empty cell is reported as ``ground_required`` (the procedure's code),
    # so the column is checked here rather than by the template's generic ``required``.
    Column("设立依据", "ground", coerce=text(32)),
    Column("设立文号", "document", required=True, coerce=text(100)),
    Column("设立日期", "set_up_on", required=True, coerce=as_date),
    Column("主要职责", "duties", required=True, coerce=text()),
    Column("到期日期", "planned_end", coerce=as_date),
    Column("状态", "status", required=True, coerce=choice(STATUS_WORDS)),
])
#: The columns a row must fill (highlighted in the template workbook).
REQUIRED_FIELDS = frozenset({c.field for c in TEMPLATE.columns if c.required} | {"ground"})


# --------------------------------------------------------------------------- look-ups


@dataclass(slots=True, frozen=True)
class _Unit:
    pk: int
    uscc: str
    name: str
    path: str
    active: bool


@dataclass(slots=True, frozen=True)
class _Division:
    pk: int
    code: str
    path: str


@dataclass(slots=True)
class _Registered:
    """A registered body the file names (by code, or by name in its division)."""

    pk: int
    code: str
    name: str
    division_id: int
    path: str
    kind: str
    lead: str
    office: str | None
    leader_posts: str
    duties: str
    ground: str
    document: str
    set_up_on: dt.date
    planned_end: dt.date | None
    status: str
    over_cap_reason: str
    members: tuple[str, ...] = ()  # sorted credit codes: open memberships, or the snapshot's
    open_members: dict[str, tuple[int, dt.date]] = field(default_factory=dict)  # uscc → (pk, valid_from)
    open_version: tuple[int, dt.date] | None = None
    task_groups: list[str] = field(default_factory=list)
    procedure: bool = False  # changed through the procedure at least once


@dataclass(slots=True)
class _Row:
    record: Record
    division: _Division | None = None
    ruleset: RuleSet | None = None
    kind: str | None = None
    ground: str | None = None
    lead: _Unit | None = None
    office: _Unit | None = None
    members: list[_Unit] = field(default_factory=list)
    target: _Registered | None = None
    code: str = ""  # the code the body has (given, registered, or assigned when written)
    cap: int = DEFAULT_CAP

    @property
    def values(self) -> dict[str, Any]:
        return self.record.values

    @property
    def status(self) -> str:
        return str(self.values["status"])

    @property
    def member_codes(self) -> tuple[str, ...]:
        return tuple(sorted(u.uscc for u in self.members))


@dataclass
class _Plan:
    creates: list[_Row] = field(default_factory=list)
    updates: list[tuple[_Row, dict[str, tuple[Any, Any]]]] = field(default_factory=list)
    unchanged: int = 0
    #: (division code, year) → the highest sequence a registered or given code uses.
    floors: dict[tuple[str, int], int] = field(default_factory=dict)


def _batch() -> int:
    limit = connection.features.max_query_params
    return min(limit - 10, 900) if limit else 5000


def _cap_of(ruleset: RuleSet) -> int:
    row = ruleset.table(RuleTable.SETTING).get("member_cap")
    return int(row.value) if row and row.value.isdigit() else DEFAULT_CAP


class _Rulesets:
    """The rule tables in force per jurisdiction path on one day, from one read of the rules."""

    def __init__(self, day: dt.date) -> None:
        self.day = day
        self.rows = staffing_selectors.rule_rows()
        self.cache: dict[str, RuleSet] = {}

    def get(self, path: str) -> RuleSet:
        found = self.cache.get(path)
        if found is None:
            found = self.cache[path] = staffing_selectors.ruleset_for(path, self.day, self.rows)
        return found


def _divisions(codes_: Iterable[str], scope_path: str) -> dict[str, _Division]:
    wanted = sorted(set(codes_))
    found: dict[str, _Division] = {}
    for part in chunks(wanted, _batch()):
        for pk, code, path in Division.objects.filter(code__in=part).values_list("pk", "code", "path"):
            if path.startswith(scope_path):
                found[code] = _Division(pk, code, path)
    return found


def _units(codes_: Iterable[str], scope_path: str) -> dict[str, _Unit]:
    """Units of the importer's jurisdiction by credit code; any other code reads as unknown."""
    wanted = sorted(set(codes_))
    found: dict[str, _Unit] = {}
    for part in chunks(wanted, _batch()):
        for pk, uscc, name, path, status in Unit.objects.filter(
            uscc__in=part, jurisdiction_path__startswith=scope_path
        ).values_list("pk", "uscc", "name", "jurisdiction_path", "status"):
            found[uscc] = _Unit(pk, uscc, name, path, status == UnitStatus.ACTIVE)
    return found


_BODY_FIELDS = ("pk", "code", "name", "jurisdiction_id", "jurisdiction_path", "kind", "lead_unit__uscc",
                "office_unit__uscc", "leader_posts", "duties", "ground", "set_up_document", "set_up_on",
                "planned_end", "status", "over_cap_reason")


def _registered(given: Iterable[str], names: dict[int, set[str]]) -> dict[int, _Registered]:
    """The registered bodies with a code of the file, or a name of the file in its division,
    with their members, open version, task groups and whether the procedure changed them."""
    rows: list[tuple[Any, ...]] = []
    for part in chunks(sorted(set(given)), _batch()):
        rows += Body.objects.filter(code__in=part).values_list(*_BODY_FIELDS)
    for division_id, wanted in names.items():
        for part in chunks(sorted(wanted), _batch()):
            rows += Body.objects.filter(jurisdiction_id=division_id, name__in=part).values_list(*_BODY_FIELDS)
    found = {r[0]: _Registered(*r) for r in rows}
    ids = sorted(found)
    snapshot_members: dict[int, list[str]] = {}
    for part in chunks(ids, _batch()):
        for pk, body_id, uscc, valid_from in BodyMember.objects.filter(
            body_id__in=part, valid_to__isnull=True
        ).values_list("pk", "body_id", "unit__uscc", "valid_from"):
            found[body_id].open_members[uscc] = (pk, valid_from)
        for pk, body_id, valid_from, snapshot in BodyVersion.objects.filter(
            body_id__in=part, valid_to__isnull=True
        ).values_list("pk", "body_id", "valid_from", "snapshot"):
            found[body_id].open_version = (pk, valid_from)
            snapshot_members[body_id] = list((snapshot or {}).get("members") or [])
        for body_id in BodyVersion.objects.filter(body_id__in=part).exclude(change=IMPORT_CHANGE).values_list(
            "body_id", flat=True
        ).distinct():
            found[body_id].procedure = True
        for body_id, name in TaskGroup.objects.filter(body_id__in=part, valid_to__isnull=True).values_list(
            "body_id", "name"
        ):
            found[body_id].task_groups.append(name)
    for body in found.values():
        members = body.open_members if body.status == BodyStatus.ACTIVE else snapshot_members.get(body.pk, [])
        body.members = tuple(sorted(members))
    return found


def _floors(division_codes: Iterable[str], given: Iterable[str]) -> dict[tuple[str, int], int]:
    """(division, year) → the highest sequence used by a registered code of the division or
    by a code given in the file."""
    out: dict[tuple[str, int], int] = {}

    def see(code: str) -> None:
        if codes.PATTERN.match(code):
            division, year, sequence = codes.parts(code)
            out[(division, year)] = max(out.get((division, year), 0), sequence)

    wanted = sorted(set(division_codes))
    for part in chunks(wanted, 200):
        for code in Body.objects.filter(reduce(or_, [Q(code__startswith=f"{codes.PREFIX}{d}") for d in part])
                                        ).values_list("code", flat=True):
            see(code)
    for code in given:
        see(code)
    return out


def _counter_key(division: str, year: int) -> str:
    return f"body:{division}:{year}"  # the key of services.new_code


# --------------------------------------------------------------------------- validation


def _member_error(row: _Row, code: str, value: str) -> ErrorDetail:
    row.record.bad.add("members")
    return ErrorDetail(code, field=TEMPLATE.header("members"), value=value, row=row.record.row)


def _validate(actor: Any, records: list[Record], errs: list[ErrorDetail], today: dt.date) -> list[_Row]:
    """Every check of every row, with a fixed number of batched look-ups."""
    scope_path = scope_of(actor).path
    rows = [_Row(record=r) for r in records]

    # Divisions and their rule tables (kinds, grounds, member cap in force today).
    divisions = _divisions((r.values["division"] for r in rows if r.values["division"]), scope_path)
    rulesets = _Rulesets(today)
    for row in rows:
        record, values = row.record, row.values
        if values["division"] is not None:
            row.division = divisions.get(values["division"])
            if row.division is None:
                errs.append(TEMPLATE.error(record, "division", DIVISION_NOT_FOUND))
            elif len(row.division.code) != 6:
                errs.append(TEMPLATE.error(record, "division", errors.BODY_DIVISION_LEVEL))
                row.division = None
        ruleset = row.ruleset = rulesets.get(row.division.path if row.division else scope_path)
        row.cap = _cap_of(ruleset)
        if values["kind"] is not None:
            row.kind = ruleset.lookup(RuleTable.BODY_KIND, values["kind"])
            if row.kind is None:
                errs.append(TEMPLATE.error(record, "kind", errors.UNKNOWN_BODY_KIND,
                                           allowed=" / ".join(ruleset.names(RuleTable.BODY_KIND))))
        if "ground" not in record.bad:
            row.ground = ruleset.lookup(RuleTable.POSITIVE_GROUND, values["ground"] or "")
            if row.ground is None:
                errs.append(TEMPLATE.error(record, "ground", errors.GROUND_REQUIRED,
                                           allowed=" / ".join(ruleset.names(RuleTable.POSITIVE_GROUND))))
        start, end = values["set_up_on"], values["planned_end"]
        if start is not None and start > today:
            errs.append(TEMPLATE.error(record, "set_up_on", DATE_IN_FUTURE))
        if start is not None and end is not None and end < start:
            errs.append(TEMPLATE.error(record, "planned_end", errors.PLANNED_END_BEFORE_SET_UP))
        code = values["code"]
        if code is not None and values["division"] is not None and codes.parts(code)[0] != values["division"]:
            errs.append(TEMPLATE.error(record, "code", errors.BODY_CODE_INVALID))

    # Units: lead, office and members, by credit code.
    wanted: set[str] = set()
    for row in rows:
        wanted.update(c for c in (row.values["lead"], row.values["office"]) if c)
        wanted.update(row.values["members"] or ())
    units = _units(wanted, scope_path)
    for row in rows:
        record, values = row.record, row.values
        active = values["status"] != BodyStatus.REVOKED
        for name in ("lead", "office"):
            uscc = values[name]
            if uscc is None:
                continue
            unit = units.get(uscc)
            if unit is None:
                errs.append(TEMPLATE.error(record, name, UNIT_NOT_FOUND))
            elif active and not unit.active:
                errs.append(TEMPLATE.error(record, name, UNIT_NOT_ACTIVE))
            else:
                setattr(row, name, unit)
        for uscc in values["members"] or ():
            try:
                validate_uscc(uscc)
            except CodeError as exc:
                errs.append(_member_error(row, exc.code, uscc))
                continue
            unit = units.get(uscc)
            if unit is None:
                errs.append(_member_error(row, UNIT_NOT_FOUND, uscc))
            elif active and not unit.active:
                errs.append(_member_error(row, UNIT_NOT_ACTIVE, uscc))
            else:
                row.members.append(unit)

    # Registered bodies: by the file's codes, and by the file's names in their divisions.
    given = [r.values["code"] for r in rows if r.values["code"]]
    names: dict[int, set[str]] = {}
    for row in rows:
        if row.division is not None and row.values["name"] is not None:
            names.setdefault(row.division.pk, set()).add(row.values["name"])
    registered = _registered(given, names)
    by_code = {b.code: b for b in registered.values()}
    by_name: dict[tuple[int, str], list[_Registered]] = {}
    for body in sorted(registered.values(), key=lambda b: b.code):
        by_name.setdefault((body.division_id, body.name), []).append(body)

    # Keys: which body each row is (a registered one, or a new one). Codes first: a body the
    # file names by its code is not matched by name (the file may rename it and give its old
    # name to a new body).
    first_code: dict[str, int] = {}
    first_target: dict[int, int] = {}
    duplicates: set[int] = set()

    def claim(row: _Row, body: _Registered, key_field: str) -> None:
        first = first_target.get(body.pk)
        if first is not None:
            errs.append(TEMPLATE.error(row.record, key_field, DUPLICATE_KEY, first=first))
            duplicates.add(row.record.row)
            return
        first_target[body.pk] = row.record.row
        row.target, row.code = body, body.code

    for row in rows:
        record, code = row.record, row.values["code"]
        if code is None or "code" in record.bad:
            continue
        if code in first_code:
            errs.append(TEMPLATE.error(record, "code", DUPLICATE_KEY, first=first_code[code]))
            duplicates.add(record.row)
            continue
        first_code[code] = record.row
        registered_body = by_code.get(code)
        if registered_body is None:
            row.code = code
        elif not registered_body.path.startswith(scope_path) or (
                row.division and registered_body.division_id != row.division.pk):
            errs.append(TEMPLATE.error(record, "code", errors.BODY_CODE_TAKEN))
        else:
            claim(row, registered_body, "code")
    by_code_claimed = set(first_target)
    for row in rows:
        record, values = row.record, row.values
        if "code" in record.bad or values["code"] is not None or row.division is None or values["name"] is None \
                or values["status"] is None:
            continue
        candidates = [b for b in by_name.get((row.division.pk, values["name"]), []) if b.pk not in by_code_claimed]
        matched = _match(candidates, row)
        if matched is not None:
            claim(row, matched, "name")

    # Names: unique among the active bodies of a jurisdiction, in the file and in the registry.
    targeted = set(first_target)
    first_name: dict[tuple[Any, ...], int] = {}
    for row in rows:
        record, values = row.record, row.values
        if row.division is None or values["name"] is None or values["status"] is None:
            continue
        if values["status"] == BodyStatus.ACTIVE:
            key: tuple[Any, ...] = (row.division.pk, values["name"])
        else:
            key = (row.division.pk, values["name"], values["set_up_on"])
        if key in first_name:
            if record.row not in duplicates:
                errs.append(TEMPLATE.error(record, "name", DUPLICATE_KEY, first=first_name[key]))
            continue
        first_name[key] = record.row
        if values["status"] != BodyStatus.ACTIVE:
            continue
        holders = [b for b in by_name.get(key, []) if b.status == BodyStatus.ACTIVE]
        # Another active body holds the name and keeps it (the file does not name it).
        if any(b.pk not in targeted and (row.target is None or b.pk != row.target.pk) for b in holders):
            errs.append(TEMPLATE.error(record, "name", errors.BODY_NAME_TAKEN))
    return rows


def _match(candidates: list[_Registered], row: _Row) -> _Registered | None:
    """The registered body a row without a code is: for a 存续 row the active body of the name,
    else (and for a 已撤销 row) the body of the name and set-up date (an active one first)."""
    if row.status == BodyStatus.ACTIVE:
        active = [b for b in candidates if b.status == BodyStatus.ACTIVE]
        if active:
            return active[0]
    same_day = [b for b in candidates if b.set_up_on == row.values["set_up_on"]]
    same_day.sort(key=lambda b: (b.status != row.status, b.code))
    return same_day[0] if same_day else None


def _wanted(row: _Row) -> dict[str, Any]:
    """The state a row asks for, in the comparable form of :class:`_Registered`."""
    values = row.values
    assert row.lead is not None
    return {"name": values["name"], "kind": row.kind, "lead": row.lead.uscc,
            "office": row.office.uscc if row.office else None, "members": row.member_codes, "ground": row.ground,
            "document": values["document"], "set_up_on": values["set_up_on"], "duties": values["duties"],
            "planned_end": values["planned_end"], "status": values["status"]}


def _plan(rows: list[_Row], errs: list[ErrorDetail]) -> _Plan:
    plan = _Plan()
    for row in rows:
        body = row.target
        if body is None:
            plan.creates.append(row)
            continue
        wanted = _wanted(row)
        changes = {name: (getattr(body, name), new) for name, new in wanted.items() if getattr(body, name) != new}
        if not changes:
            plan.unchanged += 1
        elif body.procedure:
            errs.append(TEMPLATE.error(row.record, "code" if row.values["code"] else "name",
                                       errors.CHANGE_OUTSIDE_PROCEDURE))
        else:
            plan.updates.append((row, changes))
    return plan


def _new_codes(plan: _Plan, counters: dict[str, int]) -> Iterator[tuple[_Row, str, int]]:
    """(row, counter key, sequence) of the new bodies without a code, in row order, from the
    counters' current values moved past the floors."""
    position: dict[str, int] = {}
    for row in plan.creates:
        if row.code:
            continue
        assert row.division is not None
        year = row.values["set_up_on"].year
        key = _counter_key(row.division.code, year)
        if key not in position:
            position[key] = max(counters.get(key, 0), plan.floors.get((row.division.code, year), 0))
        position[key] += 1
        yield row, key, position[key]


# --------------------------------------------------------------------------- preview


def _word(name: str, value: Any, row: _Row) -> Any:
    """A value as the template shows it."""
    ruleset = row.ruleset
    if value is None:
        return None
    if name == "kind" and ruleset is not None:
        return ruleset.name_of(RuleTable.BODY_KIND, value)
    if name == "ground" and ruleset is not None:
        return ruleset.name_of(RuleTable.POSITIVE_GROUND, value)
    if name == "status":
        return _STATUS_WORD.get(value, value)
    if name == "members":
        return ";".join(value)
    return value


_HEADER_OF = {"name": "name", "kind": "kind", "lead": "lead", "office": "office", "members": "members",
              "ground": "ground", "document": "document", "set_up_on": "set_up_on", "duties": "duties",
              "planned_end": "planned_end", "status": "status"}


def _preview(plan: _Plan) -> list[Change]:
    preview = [Change(row=r.record.row, key=r.code, label=r.values["name"] or "", action="create")
               for r in plan.creates]
    for row, changes in plan.updates:
        fields = {TEMPLATE.header(_HEADER_OF[name]): (_word(name, old, row), _word(name, new, row))
                  for name, (old, new) in changes.items()}
        preview.append(Change(row=row.record.row, key=row.code, label=row.values["name"] or "", action="update",
                              fields=fields))
    preview.sort(key=lambda c: c.row)
    return preview


# --------------------------------------------------------------------------- writing


def _advance(key: str, floor: int, take: int) -> int:
    """Move counter ``key`` past ``floor`` and take ``take`` values: the last value taken
    (the counter's value). Runs under the counter's row lock, in the caller's transaction."""
    if not Sequence.objects.filter(key=key).exists():
        try:
            with transaction.atomic():
                Sequence.objects.create(key=key, value=0)
        except IntegrityError:
            pass  # created by a concurrent transaction meanwhile
    Sequence.objects.filter(key=key).update(value=F("value") + take)  # takes the row lock
    Sequence.objects.filter(key=key, value__lt=floor + take).update(value=floor + take)
    return Sequence.objects.get(key=key).value


def _assign_codes(plan: _Plan) -> None:
    """Codes for the new bodies without one; every counter of a division and year that the
    file or the registry uses is moved past the highest sequence used."""
    take: dict[str, int] = {}
    year_of: dict[str, tuple[str, int]] = {}
    for row in plan.creates:
        if not row.code:
            assert row.division is not None
            pair = (row.division.code, row.values["set_up_on"].year)
            key = _counter_key(*pair)
            take[key] = take.get(key, 0) + 1
            year_of[key] = pair
    for pair in plan.floors:
        year_of.setdefault(_counter_key(*pair), pair)
    counters: dict[str, int] = {}
    for key in sorted(year_of):
        count = take.get(key, 0)
        last = _advance(key, plan.floors.get(year_of[key], 0), count)
        counters[key] = last - count  # the value before this import's first one
    for row, _key, sequence in _new_codes(plan, counters):
        assert row.division is not None
        row.code = codes.make_code(row.division.code, row.values["set_up_on"].year, sequence)


def _snapshot(row: _Row, *, leader_posts: str = "", task_groups: list[str] | None = None) -> dict[str, Any]:
    """The state of a body as :func:`bianzhi.bodies.services.snapshot` records it."""
    values = row.values
    assert row.lead is not None
    end = values["planned_end"]
    return {"code": row.code, "name": values["name"], "kind": row.kind, "status": values["status"],
            "lead_unit": row.lead.uscc, "office_unit": row.office.uscc if row.office else None,
            "leader_posts": leader_posts, "duties": values["duties"], "ground": row.ground,
            "members": list(row.member_codes), "task_groups": list(task_groups or []),
            "planned_end": end.isoformat() if end else None}


def _state(row: _Row) -> dict[str, Any]:
    values = row.values
    assert row.lead is not None
    return {"name": values["name"], "kind": row.kind, "lead_unit_id": row.lead.pk,
            "office_unit_id": row.office.pk if row.office else None, "duties": values["duties"],
            "ground": row.ground, "set_up_document": values["document"], "set_up_on": values["set_up_on"],
            "planned_end": values["planned_end"], "status": values["status"]}


_STATE_FIELDS = ["name", "kind", "lead_unit", "office_unit", "duties", "ground", "set_up_document",
                 "set_up_on", "planned_end", "status"]


def _write(actor: Any, plan: _Plan, result: ImportResult, today: dt.date, report: Progress) -> None:
    creator = actor if getattr(actor, "pk", None) else None
    total = len(plan.creates) + len(plan.updates)
    report("write", 0, total)
    _assign_codes(plan)

    # 1. Changed bodies first (they may free a name a new body takes). Names that move are
    #    parked, so the partial unique index (jurisdiction, name) never sees two active ones.
    moving = [row.target.pk for row, changes in plan.updates if row.target and ("name" in changes
                                                                               or "status" in changes)]
    for part in chunks(moving, _batch()):
        Body.objects.filter(pk__in=part).update(
            name=Concat(Value("~import-"), Cast("pk", output_field=CharField()), Value("~")))
    changed: list[Body] = []
    close_versions: list[int] = []
    fix_versions: list[BodyVersion] = []
    new_versions: list[BodyVersion] = []
    close_members: list[int] = []
    drop_members: list[int] = []
    new_members: list[BodyMember] = []
    for row, _changes in plan.updates:
        body = row.target
        assert body is not None
        changed.append(Body(pk=body.pk, **_state(row)))
        snapshot = _snapshot(row, leader_posts=body.leader_posts, task_groups=body.task_groups)
        if body.open_version is not None and body.open_version[1] >= today:
            fix_versions.append(BodyVersion(pk=body.open_version[0], snapshot=snapshot, created_by=creator))
        else:
            if body.open_version is not None:
                close_versions.append(body.open_version[0])
            new_versions.append(BodyVersion(body_id=body.pk, valid_from=today, change=IMPORT_CHANGE,
                                            snapshot=snapshot, created_by=creator))
        keep = {u.uscc: u for u in row.members} if row.status == BodyStatus.ACTIVE else {}
        for uscc, (member_pk, valid_from) in body.open_members.items():
            if uscc not in keep:
                (drop_members if valid_from >= today else close_members).append(member_pk)
        new_members += [BodyMember(body_id=body.pk, unit_id=u.pk, valid_from=today)
                        for uscc, u in keep.items() if uscc not in body.open_members]
    Body.objects.bulk_update(changed, _STATE_FIELDS, batch_size=BATCH)
    for part in chunks(close_versions, _batch()):
        BodyVersion.objects.filter(pk__in=part).update(valid_to=today)
    BodyVersion.objects.bulk_update(fix_versions, ["snapshot", "created_by"], batch_size=BATCH)
    for part in chunks(close_members, _batch()):
        BodyMember.objects.filter(pk__in=part).update(valid_to=today)
    for part in chunks(drop_members, _batch()):
        BodyMember.objects.filter(pk__in=part).delete()

    # 2. New bodies, their members from the set-up date (active ones), their first version.
    created: list[Body] = []
    for row in plan.creates:
        assert row.division is not None
        created.append(Body(code=row.code, jurisdiction_id=row.division.pk, jurisdiction_path=row.division.path,
                            **_state(row)))
    Body.objects.bulk_create(created, batch_size=BATCH)
    if any(b.pk is None for b in created):  # a database that does not return the new keys
        ids: dict[str, int] = {}
        for part in chunks([b.code for b in created], _batch()):
            ids.update(Body.objects.filter(code__in=part).values_list("code", "pk"))
        for b in created:
            b.pk = ids[b.code]
    for body_row, row in zip(created, plan.creates, strict=True):
        if row.status == BodyStatus.ACTIVE:
            new_members += [BodyMember(body_id=body_row.pk, unit_id=u.pk, valid_from=row.values["set_up_on"])
                            for u in row.members]
        new_versions.append(BodyVersion(body_id=body_row.pk, valid_from=row.values["set_up_on"],
                                        change=IMPORT_CHANGE, snapshot=_snapshot(row), created_by=creator))
    BodyMember.objects.bulk_create(new_members, batch_size=BATCH)
    BodyVersion.objects.bulk_create(new_versions, batch_size=BATCH)
    report("write", total, total)

    # 3. Supervision: over-cap bodies raised (or refreshed), bodies back within the cap cleared.
    bodies = [(b.pk, row, "") for b, row in zip(created, plan.creates, strict=True)]
    bodies += [(row.target.pk, row, row.target.over_cap_reason) for row, _c in plan.updates if row.target]
    alert_entries = _alerts(actor, bodies, today)

    # 4. Audit: the import, then one event per created or changed body, then the alerts.
    def entries() -> Iterator[audit.Entry]:
        yield audit.Entry(action="bodies.import", scope_path=scope_of(actor).path, object_type="bodies.body",
                          object_repr=result.filename[:255],
                          after={"file": result.filename, "sha256": result.sha256, "on": today, **result.counts()})
        for body_row, row in zip(created, plan.creates, strict=True):
            assert row.division is not None
            yield audit.Entry(action="body.import", scope_path=row.division.path, object_type="bodies.body",
                              object_id=str(body_row.pk), object_repr=f"{row.code} {row.values['name']}"[:255],
                              after={**_snapshot(row), "set_up_document": row.values["document"],
                                     "set_up_on": row.values["set_up_on"], "file": result.sha256})
        for row, changes in plan.updates:
            body = row.target
            assert body is not None
            yield audit.Entry(action="body.import", scope_path=body.path, object_type="bodies.body",
                              object_id=str(body.pk), object_repr=f"{body.code} {row.values['name']}"[:255],
                              before={"code": body.code, **{k: old for k, (old, _new) in changes.items()}},
                              after={"code": body.code, **{k: new for k, (_old, new) in changes.items()},
                                     "file": result.sha256})
        yield from alert_entries

    audit.record_many(actor, entries())


def _alerts(actor: Any, bodies: list[tuple[int, _Row, str]], today: dt.date) -> list[audit.Entry]:
    """Raise, refresh or clear the ``member_cap`` alerts of the bodies written."""
    from bianzhi.stats.choices import AlertStatus
    from bianzhi.stats.models import Alert, AlertEvent

    keys = [f"{ALERT_KIND}:{row.code}" for _pk, row, _reason in bodies]
    open_: dict[str, Alert] = {}
    for part in chunks(keys, _batch()):
        open_.update((a.key, a) for a in Alert.objects.select_for_update().filter(kind=ALERT_KIND, key__in=part)
                     .exclude(status=AlertStatus.RESOLVED))
    entries: list[audit.Entry] = []
    raised: list[Alert] = []
    for _pk, row, reason in bodies:
        key = f"{ALERT_KIND}:{row.code}"
        alert = open_.get(key)
        over = row.status == BodyStatus.ACTIVE and len(row.members) > row.cap and not reason
        assert row.lead is not None
        if over:
            params = {"count": len(row.members), "cap": row.cap, "body": row.code, "name": row.values["name"]}
            if alert is None:
                raised.append(Alert(kind=ALERT_KIND, key=key, unit_id=row.lead.pk, jurisdiction_path=row.lead.path,
                                    params=params, raised_on=today))
            elif alert.params != params or alert.unit_id != row.lead.pk:
                alert.params, alert.unit_id, alert.jurisdiction_path = params, row.lead.pk, row.lead.path
                alert.save(update_fields=["params", "unit", "jurisdiction_path", "updated_at"])
        elif alert is not None:
            alert.status, alert.resolved_on = AlertStatus.RESOLVED, today
            alert.note = _("The body is no longer above the member cap (checked by the import).")
            alert.save(update_fields=["status", "resolved_on", "note", "updated_at"])
            AlertEvent.objects.create(alert=alert, action="cleared", actor=actor if getattr(actor, "pk", None)
                                      else None, note=alert.note)
            entries.append(audit.entry_for("alert.clear", alert, scope_path=alert.jurisdiction_path,
                                           after={"kind": alert.kind, "key": key}))
    Alert.objects.bulk_create(raised, batch_size=BATCH)
    if any(a.pk is None for a in raised):
        ids: dict[str, int] = {}
        for part in chunks([a.key for a in raised], _batch()):
            ids.update(Alert.objects.filter(kind=ALERT_KIND, key__in=part).exclude(status=AlertStatus.RESOLVED)
                       .values_list("key", "pk"))
        for a in raised:
            a.pk = ids[a.key]
    by = actor if getattr(actor, "pk", None) else None
    AlertEvent.objects.bulk_create([AlertEvent(alert=a, action="raised", actor=by) for a in raised],
                                   batch_size=BATCH)
    entries += [audit.entry_for("alert.raise", a, scope_path=a.jurisdiction_path,
                                after={"kind": a.kind, "key": a.key, **a.params}) for a in raised]
    return entries


# --------------------------------------------------------------------------- entry point


def import_bodies(*, actor: Any, data: bytes, filename: str, dry_run: bool = False,
                  progress: Progress | None = None, today: dt.date | None = None) -> ImportResult:
    """Validate a 议事协调机构 file completely and, when every row is valid, load it atomically
    (see the module docstring). Returns an :class:`~bianzhi.common.tabular.ImportResult`: when
    ``errors`` is not empty nothing was written. ``today`` is the import date (the rule tables
    in force, the day changes take effect); it defaults to the local date."""
    require(actor, "body.import")
    on = today or timezone.localdate()
    result = ImportResult(kind="bodies", filename=filename, sha256=sha256_hex(data), dry_run=dry_run)
    report = progress or (lambda phase, done, total: None)
    report("read", 0, 1)
    try:
        table = read_table(data, filename)
    except BianzhiError as exc:
        result.errors = exc.errors
        return result
    header_errors = TEMPLATE.header_errors(table)
    ground = TEMPLATE.header("ground")
    if ground not in table.headers:
        header_errors.append(ErrorDetail(MISSING_COLUMN, field=ground, row=table.header_row,
                                         params={"column": ground}))
    if header_errors:
        result.errors = sorted(header_errors, key=TEMPLATE.order_key())
        return result
    result.rows = len(table.rows)
    report("validate", 0, result.rows)
    errs: list[ErrorDetail] = []
    records = list(TEMPLATE.records(table, errs))
    del table

    def run() -> None:
        rows = _validate(actor, records, errs, on)
        if errs:
            return
        plan = _plan(rows, errs)
        if errs:
            return
        divisions = {r.division.code for r in plan.creates if r.division is not None}
        plan.floors = _floors(divisions, [r.code for r in plan.creates if r.code])
        if dry_run:  # the codes the new bodies would get now
            keys = [_counter_key(d, y) for d, y in plan.floors] + [
                _counter_key(r.division.code, r.values["set_up_on"].year) for r in plan.creates
                if not r.code and r.division is not None]
            counters = dict(Sequence.objects.filter(key__in=sorted(set(keys))).values_list("key", "value"))
            for row, _key, sequence in list(_new_codes(plan, counters)):
                assert row.division is not None
                row.code = codes.make_code(row.division.code, row.values["set_up_on"].year, sequence)
        result.created, result.updated, result.unchanged = len(plan.creates), len(plan.updates), plan.unchanged
        report("validate", result.rows, result.rows)
        if not dry_run:
            _write(actor, plan, result, on, report)
        result.preview = _preview(plan)

    if dry_run:
        run()
    else:
        try:
            with transaction.atomic():
                run()
                if errs:
                    transaction.set_rollback(True)
        except IntegrityError:
            errs.append(ErrorDetail(IMPORT_CONFLICT))
    if errs:
        result.created = result.updated = result.unchanged = 0
        result.preview = []
    result.errors = sorted(errs, key=TEMPLATE.order_key())
    return result


# --------------------------------------------------------------------------- template workbook

TEMPLATE_DATA_ROWS = 2000


def template_bytes(actor: Any, *, today: dt.date | None = None) -> bytes:
    """The downloadable 议事协调机构 template: the headers exactly as TEMPLATES.md (the required
    ones highlighted), code columns as text, date checks, and drop-downs for 机构类型 and
    设立依据 (the rule tables in force for the actor's jurisdiction) and 状态."""
    import xlsxwriter

    on = today or timezone.localdate()
    path = scope_of(actor).path if getattr(actor, "jurisdiction_id", None) else ""
    ruleset = staffing_selectors.ruleset_for(path, on)
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet(_("Coordinating bodies")[:31])
    lists = book.add_worksheet(_("Code lists")[:31])
    header = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    required = book.add_format({"bold": True, "bg_color": "#FCE4D6", "border": 1})
    as_text = book.add_format({"num_format": "@"})
    as_day = book.add_format({"num_format": "yyyy-mm-dd"})
    wrap = book.add_format({"num_format": "@", "text_wrap": True})

    vocab = {
        "kind": (_("Kind of body"), ruleset.names(RuleTable.BODY_KIND)),
        "ground": (_("Positive-list ground"), ruleset.names(RuleTable.POSITIVE_GROUND)),
        "status": (_("Status"), list(STATUS_WORDS)),
    }
    sources: dict[str, str] = {}
    for col, (name, (title, words)) in enumerate(vocab.items()):
        lists.write_string(0, col, title, header)
        for r, word in enumerate(words, start=1):
            lists.write_string(r, col, word)
        lists.set_column(col, col, 24)
        if words:
            letter = chr(ord("A") + col)
            sources[name] = f"='{lists.name}'!${letter}$2:${letter}${len(words) + 1}"
    lists.write_string(len(STATUS_WORDS) + 8, 0, _("Member units: credit codes separated by “;”."))

    widths = {"code": 22, "name": 30, "division": 12, "kind": 12, "lead": 22, "office": 22, "members": 60,
              "ground": 20, "document": 22, "set_up_on": 12, "duties": 60, "planned_end": 12, "status": 10}
    last = TEMPLATE_DATA_ROWS
    for c, column in enumerate(TEMPLATE.columns):
        name = column.field
        sheet.write_string(0, c, column.header, required if name in REQUIRED_FIELDS else header)
        cell = as_day if name in ("set_up_on", "planned_end") else wrap if name in ("members", "duties") else as_text
        sheet.set_column(c, c, widths[name], cell)
        check: dict[str, Any] | None = None
        if name in sources:
            check = {"validate": "list", "source": sources[name], "error_message": _("Choose a value from the list.")}
        elif name in ("lead", "office"):
            check = {"validate": "length", "criteria": "==", "value": 18,
                     "error_message": _("A unified social credit code has 18 characters.")}
        elif name == "code":
            check = {"validate": "length", "criteria": "==", "value": 18,
                     "input_message": _("Leave empty for a new code; keep a code the body already has."),
                     "error_message": _("A body code has 18 characters.")}
        elif name in ("set_up_on", "planned_end"):
            check = {"validate": "date", "criteria": ">=", "value": dt.date(1949, 10, 1),
                     "error_message": _("A date (YYYY-MM-DD).")}
        if check is not None:
            sheet.data_validation(1, c, last, c, {"error_title": column.header, **check})
    sheet.freeze_panes(1, 0)
    book.close()
    return buffer.getvalue()
