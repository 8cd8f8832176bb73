"""Import of units (单位) from the exchange template (requirement "Unit import", S13 / X4).

The path is the house one: read (python-calamine) → coerce every cell → validate every
row with batched look-ups → report **every** error → if there is none, write everything
in one transaction with bulk writes and the audit rows (one ``units.import`` event with
file name, SHA-256 and counts, plus one per created or updated unit). A dry run does the
same reading, validation and preview and writes nothing, not even audit rows.

What a row means
----------------
The key is 统一社会信用代码. A row whose code is not yet registered creates the unit (its
first :class:`~bianzhi.orgs.models.UnitVersion` has ``change=import`` and starts on the
import date, like its quotas); a row whose code matches an active unit of the importer's
jurisdiction updates it. Unit attributes (name, category, funding form, parent) are what the row
says: an empty 上级单位代码 cell makes the unit a top-level unit. The division of a
registered unit is not changed by an import (people and records hang on it; a transfer
is a decision of its own), so a different 行政区划代码 is an error. A whole
optional column that is absent from the file, and an empty number cell, mean "not stated":
the current value is kept (enter ``0`` to set a number to zero). Changes close the open
version or quota on the import date and open a new one; a version or quota that already
starts on that day is corrected in place (``valid_to`` must stay after ``valid_from``).
A row that changes nothing writes nothing, so importing the same file twice is a no-op
apart from the one ``units.import`` audit event that records the attempt.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bianzhi.accounts.permissions import require
from bianzhi.common import audit
from bianzhi.common.errors import BianzhiError, ErrorDetail, define
from bianzhi.common.scoping import scope_of
from bianzhi.common.tabular import (
    DUPLICATE_KEY,
    Change,
    Column,
    ImportResult,
    Record,
    Template,
    as_non_negative_int,
    as_uscc,
    batched,
    choice,
    chunks,
    read_table,
    sha256_hex,
    text,
)
from bianzhi.divisions.errors import DIVISION_NOT_FOUND
from bianzhi.divisions.models import Division

from . import errors
from .choices import EstablishmentKind, FundingForm, UnitCategory, UnitChange, UnitStatus
from .models import EstablishmentQuota, Unit, UnitVersion

UNIT_NAME_DUPLICATE_IN_FILE = define(
    "unit_name_duplicate_in_file",
    _("Row %(first)s of the file already gives a unit of this jurisdiction the same name."),
)
UNIT_DIVISION_FIXED = define(
    "unit_division_fixed",
    _("An import cannot move a registered unit to another division: keep its current division code."),
)
IMPORT_CONFLICT = define(
    "import_conflict", _("The data changed while the file was being imported: import the file again.")
)

#: The words of the template (fixed exchange vocabulary, whatever the UI language).
CATEGORY_WORDS: dict[str, str] = {
    "党政机关": UnitCategory.PARTY_GOVERNMENT,
    "事业单位": UnitCategory.PUBLIC_INSTITUTION,
    "群团组织": UnitCategory.MASS_ORGANISATION,
    "其他": UnitCategory.OTHER,
}
FUNDING_WORDS: dict[str, str] = {
    "财政全额拨款": FundingForm.FULL,
    "财政差额拨款": FundingForm.PARTIAL,
    "自收自支": FundingForm.SELF,
}
_CATEGORY_WORD = {v: k for k, v in CATEGORY_WORDS.items()}
_FUNDING_WORD = {v: k for k, v in FUNDING_WORDS.items()}

#: (field, establishment kind) of the three approved-number columns, in template order.
QUOTA_COLUMNS: tuple[tuple[str, str], ...] = (
    ("administrative", EstablishmentKind.ADMINISTRATIVE),
    ("public_institution", EstablishmentKind.PUBLIC_INSTITUTION),
    ("political_legal", EstablishmentKind.POLITICAL_LEGAL),
)
KINDS: tuple[str, ...] = tuple(kind for _field, kind in QUOTA_COLUMNS)

TEMPLATE = Template([
    Column("统一社会信用代码", "uscc", required=True, coerce=as_uscc),
    Column("单位名称", "name", required=True, coerce=text(100)),
    Column("上级单位代码", "parent", coerce=as_uscc),
    Column("行政区划代码", "division", required=True, coerce=text(12)),
    Column("单位类别", "category", required=True, coerce=choice(CATEGORY_WORDS)),
    Column("经费形式", "funding_form", required=True, coerce=choice(FUNDING_WORDS)),
    Column("行政编制数", "administrative", coerce=as_non_negative_int),
    Column("事业编制数", "public_institution", coerce=as_non_negative_int),
    Column("政法专项编制数", "political_legal", coerce=as_non_negative_int),
    Column("实有在编人数", "actual", coerce=as_non_negative_int),
])

Progress = Callable[[str, int, int], None]


def principal_kind(category: str, approved: dict[str, int]) -> str:
    """The establishment kind that carries a unit's 实有在编人数 (in-establishment headcount).

    The template gives one headcount per unit, while quotas are per kind. It goes to the
    unit's principal kind: 行政编制 (administrative) for 党政机关 and 群团组织, 事业编制
    (public-institution) for 事业单位 and 其他 — unless the unit has no approved number of
    that kind (0 or none) and exactly one other kind is non-zero, in which case it goes to
    that one (a 党政机关 holding only 政法专项编制, a 群团组织 holding only 事业编制, …).
    With two other non-zero kinds the headcount stays on the principal kind.
    """
    if category in (UnitCategory.PARTY_GOVERNMENT, UnitCategory.MASS_ORGANISATION):
        default = EstablishmentKind.ADMINISTRATIVE
    else:
        default = EstablishmentKind.PUBLIC_INSTITUTION
    if not approved.get(default):
        others = [kind for kind in KINDS if kind != default and approved.get(kind)]
        if len(others) == 1:
            return others[0]
    return str(default)


# --------------------------------------------------------------------------- plan


@dataclass(slots=True)
class _Existing:
    pk: int
    uscc: str
    name: str
    category: str
    funding_form: str
    parent_id: int | None
    parent_uscc: str | None
    jurisdiction_id: int
    jurisdiction_path: str
    status: str


@dataclass(slots=True)
class _Quota:
    pk: int
    approved: int
    actual: int
    valid_from: dt.date


@dataclass(slots=True)
class _Division:
    pk: int
    code: str
    path: str


@dataclass(slots=True)
class _Row:
    record: Record
    uscc: str | None
    name: str | None
    parent: str | None
    division: _Division | None = None
    existing: _Existing | None = None
    is_key: bool = False  # first row of a valid code that the importer may write


@dataclass
class _Plan:
    creates: list[_Row] = field(default_factory=list)
    # (row, unit field changes {field: (old, new)}, quota changes {kind: (old, new)})
    updates: list[tuple[_Row, dict[str, tuple[Any, Any]], dict[str, tuple[Any, Any]]]] = field(
        default_factory=list
    )
    wanted_quotas: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)  # uscc → kind → (a, n)
    current_quotas: dict[int, dict[str, _Quota]] = field(default_factory=dict)  # unit pk → kind → quota
    open_versions: dict[int, tuple[int, dt.date]] = field(default_factory=dict)  # unit pk → (pk, valid_from)
    unchanged: int = 0


def _batch() -> int:
    """How many values one ``IN (…)`` look-up may carry on this database."""
    limit = connection.features.max_query_params
    return min(limit - 10, 900) if limit else 5000


def _validate(actor: Any, records: list[Record], present: set[str], errs: list[ErrorDetail]) -> tuple[
    list[_Row], dict[str, _Existing]
]:
    """All checks that need the database, with a bounded number of batched queries."""
    scope_path = scope_of(actor).path
    rows: list[_Row] = []
    first_row: dict[str, int] = {}
    for record in records:
        values = record.values
        row = _Row(record=record, uscc=values["uscc"], name=values["name"], parent=values["parent"])
        if row.uscc is not None:
            if row.uscc in first_row:
                errs.append(TEMPLATE.error(record, "uscc", DUPLICATE_KEY, first=first_row[row.uscc]))
            else:
                first_row[row.uscc] = record.row
                row.is_key = True
        rows.append(row)

    # Divisions: few distinct codes, one look-up; unknown and out-of-scope are the same error.
    codes = sorted({r.record.values["division"] for r in rows if r.record.values["division"]})
    divisions: dict[str, _Division] = {}
    for part in chunks(codes, _batch()):
        for pk, code, path in Division.objects.filter(code__in=part).values_list("pk", "code", "path"):
            if path.startswith(scope_path):
                divisions[code] = _Division(pk, code, path)

    # Units named in the file (as keys or parents), by code: one look-up per batch.
    wanted = sorted({r.uscc for r in rows if r.uscc} | {r.parent for r in rows if r.parent})
    existing: dict[str, _Existing] = {}
    for part in chunks(wanted, _batch()):
        for found in Unit.objects.filter(uscc__in=part).values(
            "pk", "uscc", "name", "category", "funding_form", "parent_id", "parent__uscc", "jurisdiction_id",
            "jurisdiction_path", "status",
        ):
            existing[found["uscc"]] = _Existing(
                pk=found["pk"], uscc=found["uscc"], name=found["name"], category=found["category"],
                funding_form=found["funding_form"], parent_id=found["parent_id"],
                parent_uscc=found["parent__uscc"], jurisdiction_id=found["jurisdiction_id"],
                jurisdiction_path=found["jurisdiction_path"], status=found["status"],
            )

    # Keys: a registered code must be an active unit of the importer's jurisdiction.
    for row in rows:
        record = row.record
        if row.uscc is not None and row.is_key and (unit := existing.get(row.uscc)) is not None:
            if not unit.jurisdiction_path.startswith(scope_path):
                errs.append(TEMPLATE.error(record, "uscc", errors.UNIT_CODE_TAKEN))
                row.is_key = False
            elif unit.status != UnitStatus.ACTIVE:
                errs.append(TEMPLATE.error(record, "uscc", errors.UNIT_NOT_ACTIVE))
                row.is_key = False
            else:
                row.existing = unit
        code = record.values["division"]
        if code is not None:
            row.division = divisions.get(code)
            if row.division is None:
                errs.append(TEMPLATE.error(record, "division", DIVISION_NOT_FOUND))
            elif row.existing is not None and row.division.pk != row.existing.jurisdiction_id:
                errs.append(TEMPLATE.error(record, "division", UNIT_DIVISION_FIXED))
    keys = {r.uscc for r in rows if r.is_key and r.uscc}

    # Names: unique among the active units of a jurisdiction, in the file and in the database.
    division_ids = sorted({r.division.pk for r in rows if r.division})
    taken: dict[tuple[int, str], str] = {}
    for part in chunks(division_ids, _batch()):
        for jurisdiction_id, name, uscc in Unit.objects.filter(
            jurisdiction_id__in=part, status=UnitStatus.ACTIVE
        ).values_list("jurisdiction_id", "name", "uscc"):
            taken[(jurisdiction_id, name)] = uscc
    named: dict[tuple[int, str], int] = {}
    for row in rows:
        if row.division is None or row.name is None:
            continue
        name_key = (row.division.pk, row.name)
        if name_key in named:
            errs.append(TEMPLATE.error(row.record, "name", UNIT_NAME_DUPLICATE_IN_FILE,
                                       first=named[name_key]))
            continue
        named[name_key] = row.record.row
        holder = taken.get(name_key)
        # Another unit holds the name, and keeps it: it is not in the file (if it is, the
        # file gives it another name, or the clash is reported as a duplicate in the file).
        if holder is not None and holder != row.uscc and holder not in keys:
            errs.append(TEMPLATE.error(row.record, "name", errors.UNIT_NAME_TAKEN))

    # Parents: in the file, or an active unit of the importer's jurisdiction; no cycles.
    edges: dict[str, str | None] = {}
    for row in rows:
        if row.parent is not None:
            parent = existing.get(row.parent)
            if row.parent in keys:
                pass
            elif parent is None or not parent.jurisdiction_path.startswith(scope_path):
                errs.append(TEMPLATE.error(row.record, "parent", errors.PARENT_NOT_FOUND))
                continue
            elif parent.status != UnitStatus.ACTIVE:
                errs.append(TEMPLATE.error(row.record, "parent", errors.UNIT_NOT_ACTIVE))
                continue
        if row.is_key and row.uscc and "parent" in present:
            edges[row.uscc] = row.parent
    cyclic = _cyclic(edges, existing)
    if cyclic:
        for row in rows:
            if row.is_key and row.uscc in cyclic:
                errs.append(TEMPLATE.error(row.record, "parent", errors.PARENT_IS_SELF))
    return rows, existing


def _cyclic(edges: dict[str, str | None], existing: dict[str, _Existing]) -> set[str]:
    """Codes on a parent cycle once the file's parents replace the registered ones.

    Only a changed parent of a registered unit can close a cycle through units that are
    not in the file; then their registered ancestors are fetched level by level.
    """
    outside: dict[str, str | None] = {}
    moved = any(
        (unit := existing.get(code)) is not None and unit.parent_uscc != parent
        for code, parent in edges.items()
    )
    if moved:
        frontier = {p for p in edges.values() if p and p not in edges}
        while frontier:
            for part in chunks(sorted(frontier), _batch()):
                outside.update(Unit.objects.filter(uscc__in=part).values_list("uscc", "parent__uscc"))
            frontier = {p for c in frontier if (p := outside.get(c)) and p not in edges and p not in outside}
    state: dict[str, int] = {}
    cyclic: set[str] = set()
    for start in edges:
        if start in state:
            continue
        path: list[str] = []
        position: dict[str, int] = {}
        node: str | None = start
        while node is not None and node not in state:
            state[node] = 1
            position[node] = len(path)
            path.append(node)
            node = edges[node] if node in edges else outside.get(node)
        if node is not None and state.get(node) == 1:
            cyclic.update(path[position[node]:])
        for visited in path:
            state[visited] = 2
    return cyclic


def _wanted_quotas(
    category: str, values: dict[str, Any], current: dict[str, _Quota]
) -> dict[str, tuple[int, int]]:
    """The open quotas (approved, actual) per kind that the row asks for.

    An empty number keeps the current approved number. The headcount, when given and not
    already the unit's total, goes to :func:`principal_kind` and the other kinds get 0;
    when it equals the current total, the per-kind split is kept as it is.
    """
    approved: dict[str, int | None] = {}
    for name, kind in QUOTA_COLUMNS:
        given = values.get(name)
        approved[kind] = given if given is not None else (current[kind].approved if kind in current else None)
    wanted = {
        kind: [number, current[kind].actual if kind in current else 0]
        for kind, number in approved.items()
        if number is not None
    }
    actual = values.get("actual")
    if actual is not None and actual != sum(q.actual for q in current.values()):
        target = principal_kind(category, {k: v or 0 for k, v in approved.items()})
        for pair in wanted.values():
            pair[1] = 0
        if target in wanted:
            wanted[target][1] = actual
        elif actual:
            wanted[target] = [0, actual]
    return {kind: (pair[0], pair[1]) for kind, pair in wanted.items()}


def _plan(rows: list[_Row], present: set[str]) -> _Plan:
    plan = _Plan()
    existing_ids = [r.existing.pk for r in rows if r.existing is not None]
    for part in chunks(existing_ids, _batch()):
        for pk, unit_id, kind, approved, actual, valid_from in EstablishmentQuota.objects.filter(
            unit_id__in=part, valid_to__isnull=True
        ).values_list("pk", "unit_id", "kind", "approved", "actual", "valid_from"):
            plan.current_quotas.setdefault(unit_id, {})[kind] = _Quota(pk, approved, actual, valid_from)
    for row in rows:
        assert row.uscc is not None and row.division is not None and row.name is not None
        values = row.record.values
        unit = row.existing
        current = plan.current_quotas.get(unit.pk, {}) if unit is not None else {}
        wanted = _wanted_quotas(values["category"], values, current)
        plan.wanted_quotas[row.uscc] = wanted
        if unit is None:
            plan.creates.append(row)
            continue
        changes: dict[str, tuple[Any, Any]] = {}
        for name, old, new in (
            ("name", unit.name, row.name),
            ("category", unit.category, values["category"]),
            ("funding_form", unit.funding_form, values["funding_form"]),
        ):
            if old != new:
                changes[name] = (old, new)
        if "parent" in present and unit.parent_uscc != row.parent:
            changes["parent"] = (unit.parent_uscc, row.parent)
        quota_changes = {
            kind: ((current[kind].approved, current[kind].actual) if kind in current else None, pair)
            for kind, pair in wanted.items()
            if kind not in current or (current[kind].approved, current[kind].actual) != pair
        }
        if changes or quota_changes:
            plan.updates.append((row, changes, quota_changes))
        else:
            plan.unchanged += 1
    changed_ids = [row.existing.pk for row, changes, _q in plan.updates if changes and row.existing]
    for part in chunks(changed_ids, _batch()):
        for pk, unit_id, valid_from in UnitVersion.objects.filter(
            unit_id__in=part, valid_to__isnull=True
        ).values_list("pk", "unit_id", "valid_from"):
            plan.open_versions[unit_id] = (pk, valid_from)
    return plan


def _preview(plan: _Plan) -> list[Change]:
    header = TEMPLATE.header
    labels = {"name": header("name"), "category": header("category"), "funding_form": header("funding_form"),
              "parent": header("parent")}
    kind_header = {kind: header(name) for name, kind in QUOTA_COLUMNS}
    preview = [Change(row=r.record.row, key=r.uscc or "", label=r.name or "", action="create")
               for r in plan.creates]
    for row, changes, quota_changes in plan.updates:
        fields: dict[str, tuple[Any, Any]] = {}
        for name, (old, new) in changes.items():
            if name == "category":
                old, new = _CATEGORY_WORD.get(old, old), _CATEGORY_WORD.get(new, new)
            elif name == "funding_form":
                old, new = _FUNDING_WORD.get(old, old), _FUNDING_WORD.get(new, new)
            fields[labels[name]] = (old, new)
        for kind, (old_pair, new_pair) in quota_changes.items():
            if old_pair is None or old_pair[0] != new_pair[0]:
                fields[kind_header[kind]] = (old_pair[0] if old_pair else None, new_pair[0])
        if any((old[1] if old else 0) != new[1] for old, new in quota_changes.values()):
            assert row.existing is not None
            old_total = sum(q.actual for q in plan.current_quotas.get(row.existing.pk, {}).values())
            new_total = sum(actual for _a, actual in plan.wanted_quotas[row.uscc or ""].values())
            fields[header("actual")] = (old_total, new_total)
        preview.append(Change(row=row.record.row, key=row.uscc or "", label=row.name or "", action="update",
                              fields=fields))
    preview.sort(key=lambda c: c.row)
    return preview


# --------------------------------------------------------------------------- writing


def _insert(model: Any, fields: list[str], rows: Iterable[tuple[Any, ...]]) -> None:
    """Bulk INSERT of values that are already database values: ``COPY`` on PostgreSQL,
    ``executemany`` of one prepared statement elsewhere (SQLite).

    ``bulk_create`` instantiates a model and prepares every value through its field, which
    was most of the time of a 50,000-row import; here the values are text, integers, ids,
    ``None`` and dates adapted once (:func:`_db_date`), so nothing needs preparing. Columns
    not named get ``NULL``: name every non-null column.
    """
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


def _update(model: Any, fields: list[str], rows: Iterable[tuple[Any, ...]]) -> None:
    """``UPDATE … SET fields WHERE pk`` through ``executemany``; each row ends with the pk."""
    meta = model._meta
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(meta.get_field(name).column)} = %s" for name in fields)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"
    with connection.cursor() as cursor:
        for part in batched(rows, 5000):
            cursor.executemany(sql, part)


def _db_date(day: dt.date) -> Any:
    return connection.ops.adapt_datefield_value(day)


_STATE_FIELDS = ["name", "category", "funding_form", "parent"]


def _state(row: _Row, pk_of: dict[str, int]) -> tuple[Any, ...]:
    """The values of :data:`_STATE_FIELDS` a row asks for."""
    values = row.record.values
    return (row.name, values["category"], values["funding_form"], pk_of[row.parent] if row.parent else None)


def _place(row: _Row) -> tuple[int, str]:
    assert row.division is not None
    return (row.division.pk, row.division.path)


def _write(
    actor: Any, plan: _Plan, existing: dict[str, _Existing], today: dt.date, result: ImportResult
) -> list[tuple[int, _Row]]:
    """Apply the plan in the caller's transaction: batched writes, then the audit rows.

    Returns the created units as ``(pk, row)``.
    """
    on = _db_date(today)
    # Every registered unit the file names (as a key or as a parent) was looked up already.
    pk_of: dict[str, int] = {code: unit.pk for code, unit in existing.items()}

    # 1. Names that move from one unit to another within the file: park the old holders'
    #    names first, so that the partial unique index (jurisdiction, name) never sees two.
    old_keys = {
        (row.existing.jurisdiction_id, row.existing.name): row.existing.pk
        for row, changes, _q in plan.updates
        if row.existing is not None and "name" in changes
    }
    if old_keys:
        new_keys = {(r.division.pk, r.name) for r in plan.creates if r.division}
        new_keys |= {(row.division.pk, row.name) for row, changes, _q in plan.updates
                     if row.division and "name" in changes}
        parked = [(f"~import-parking-{pk}~", pk) for key, pk in old_keys.items() if key in new_keys]
        _update(Unit, ["name"], parked)

    # 2. New units, level by level, so that a parent created here has its pk before its children.
    by_code = {r.uscc: r for r in plan.creates}
    depth: dict[str | None, int] = {}

    def depth_of(code: str | None) -> int:
        chain = []
        while code in by_code and code not in depth:
            chain.append(code)
            code = by_code[code].parent
        base = depth[code] + 1 if code in depth else 0
        for item in reversed(chain):
            depth[item] = base
            base += 1
        return base - 1 if chain else depth[code]

    levels: dict[int, list[_Row]] = {}
    for row in plan.creates:
        levels.setdefault(depth_of(row.uscc), []).append(row)
    created: list[tuple[int, _Row]] = []
    for level in sorted(levels):
        batch = levels[level]
        _insert(Unit, [*_STATE_FIELDS, "jurisdiction", "jurisdiction_path", "uscc", "status", "set_up_on"], (
            (*_state(r, pk_of), *_place(r), r.uscc, UnitStatus.ACTIVE.value, on) for r in batch
        ))
        codes = [r.uscc for r in batch]
        for part in chunks(codes, _batch()):
            pk_of.update(Unit.objects.filter(uscc__in=part).values_list("uscc", "pk"))
        created.extend((pk_of[r.uscc or ""], r) for r in batch)
    version_fields = ["unit", "valid_from", "change", *_STATE_FIELDS, "jurisdiction", "jurisdiction_path",
                      "document_ref"]
    _insert(UnitVersion, version_fields, (
        (pk, on, UnitChange.IMPORT.value, *_state(r, pk_of), *_place(r), "") for pk, r in created
    ))

    # 3. Changed units: the current state, then their history (close and open, or correct
    #    in place a version that starts on the import day).
    changed: list[tuple[int, tuple[Any, ...]]] = []
    path_of: dict[int, tuple[int, str]] = {}
    for row, changes, _q in plan.updates:
        if changes:
            assert row.existing is not None
            state = _state(row, pk_of)
            if "parent" not in changes:
                state = (*state[:3], row.existing.parent_id)
            changed.append((row.existing.pk, state))
            path_of[row.existing.pk] = _place(row)
    if changed:
        _update(Unit, _STATE_FIELDS, ((*state, pk) for pk, state in changed))
        opened = plan.open_versions
        to_close = [opened[pk][0] for pk, _state in changed if pk in opened and opened[pk][1] < today]
        for part in chunks(to_close, _batch()):
            UnitVersion.objects.filter(pk__in=part).update(valid_to=today)
        _update(UnitVersion, _STATE_FIELDS, (
            (*state, opened[pk][0]) for pk, state in changed if pk in opened and opened[pk][1] >= today
        ))
        _insert(UnitVersion, version_fields, (
            (pk, on, UnitChange.IMPORT.value, *state, *path_of[pk], "")
            for pk, state in changed if not (pk in opened and opened[pk][1] >= today)
        ))

    # 4. Quotas: close or correct the changed ones, open the new ones.
    close_quotas: list[int] = []
    fix_quotas: list[tuple[int, int, int]] = []
    new_quotas: list[tuple[Any, ...]] = []
    for row, _c, quota_changes in plan.updates:
        assert row.existing is not None
        current = plan.current_quotas.get(row.existing.pk, {})
        for kind, (_old, (approved, actual)) in quota_changes.items():
            quota = current.get(kind)
            if quota is not None and quota.valid_from >= today:
                fix_quotas.append((approved, actual, quota.pk))
                continue
            if quota is not None:
                close_quotas.append(quota.pk)
            new_quotas.append((row.existing.pk, kind, approved, actual, on, ""))
    for pk, row in created:
        for kind, (approved, actual) in plan.wanted_quotas[row.uscc or ""].items():
            new_quotas.append((pk, kind, approved, actual, on, ""))
    for part in chunks(close_quotas, _batch()):
        EstablishmentQuota.objects.filter(pk__in=part).update(valid_to=today)
    _update(EstablishmentQuota, ["approved", "actual"], fix_quotas)
    quota_fields = ["unit", "kind", "approved", "actual", "valid_from", "document_ref"]
    _insert(EstablishmentQuota, quota_fields, new_quotas)

    # 5. Audit: the import, then one event per created or updated unit.
    audit.record_many(actor, _audit_entries(actor, plan, created, result, today))
    return created


def _quota_snapshot(pairs: dict[str, tuple[int, int]]) -> dict[str, dict[str, int]]:
    return {kind: {"approved": a, "actual": n} for kind, (a, n) in sorted(pairs.items())}


def _audit_entries(
    actor: Any, plan: _Plan, created: list[tuple[int, _Row]], result: ImportResult, today: dt.date
) -> Iterator[audit.Entry]:
    yield audit.Entry(
        action="units.import", scope_path=scope_of(actor).path, object_type="orgs.unit",
        object_repr=result.filename[:255],
        after={"file": result.filename, "sha256": result.sha256, "on": today, **result.counts()},
    )
    for pk, row in created:
        assert row.division is not None
        values = row.record.values
        after = {
            "uscc": row.uscc, "name": row.name, "category": values["category"],
            "funding_form": values["funding_form"], "parent": row.parent, "division": row.division.code,
            "quotas": _quota_snapshot(plan.wanted_quotas[row.uscc or ""]), "file": result.sha256,
        }
        yield audit.Entry(action="unit.import_create", scope_path=row.division.path, object_type="orgs.unit",
                          object_id=str(pk), object_repr=(row.name or "")[:255], after=after)
    for row, changes, quota_changes in plan.updates:
        registered = row.existing
        assert registered is not None and row.division is not None
        current = {kind: (q.approved, q.actual)
                   for kind, q in plan.current_quotas.get(registered.pk, {}).items()}
        before: dict[str, Any] = {name: old for name, (old, _new) in changes.items()}
        after_: dict[str, Any] = {name: new for name, (_old, new) in changes.items()}
        if quota_changes:
            before["quotas"] = _quota_snapshot(current)
            after_["quotas"] = _quota_snapshot(plan.wanted_quotas[row.uscc or ""])
        after_["file"] = result.sha256
        yield audit.Entry(action="unit.import_update", scope_path=row.division.path, object_type="orgs.unit",
                          object_id=str(registered.pk), object_repr=(row.name or "")[:255],
                          before={"uscc": registered.uscc, **before},
                          after={"uscc": registered.uscc, **after_})


# --------------------------------------------------------------------------- entry point


def import_units(
    *, actor: Any, data: bytes, filename: str, dry_run: bool = False, today: dt.date | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Validate a units file completely and, when every row is valid, apply it atomically.

    Returns an :class:`~bianzhi.common.tabular.ImportResult`: when ``errors`` is not empty
    nothing was written. ``today`` is the import date (the day new versions and quotas
    start); it defaults to the local date and exists for tests and replays. ``progress``,
    when given, is called as ``progress(phase, done, total)`` with the phases ``read``,
    ``validate`` and ``write``.
    """
    require(actor, "unit.import")
    on = today or timezone.localdate()
    result = ImportResult(kind="units", filename=filename, sha256=sha256_hex(data), dry_run=dry_run)
    report = progress or (lambda phase, done, total: None)
    report("read", 0, 1)
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
    present = {TEMPLATE.by_header[h].field for h in table.headers if h in TEMPLATE.by_header}
    report("validate", 0, result.rows)
    errs: list[ErrorDetail] = []
    records = list(TEMPLATE.records(table, errs))
    del table

    def run() -> None:
        rows, existing = _validate(actor, records, present, errs)
        if errs:
            return
        plan = _plan(rows, present)
        result.created, result.updated = len(plan.creates), len(plan.updates)
        result.unchanged = plan.unchanged
        result.preview = _preview(plan)
        report("validate", result.rows, result.rows)
        if not dry_run:
            report("write", 0, result.created + result.updated)
            _write(actor, plan, existing, on, result)
            report("write", result.created + result.updated, result.created + result.updated)

    if dry_run:
        run()
    else:
        try:
            with transaction.atomic():
                run()
        except IntegrityError:
            result.created = result.updated = result.unchanged = 0
            result.preview = []
            errs.append(ErrorDetail(IMPORT_CONFLICT))
    result.errors = sorted(errs, key=TEMPLATE.order_key())
    return result
