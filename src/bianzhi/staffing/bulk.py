"""Bulk exits (S10): downsizing a unit, or moving a whole group out — the seed's 2,600
refuse-collection staff handed over to a state-owned enterprise — as one recorded operation.

The life cycle is *preview → apply* (or *preview → cancel*). A preview stores the selection
(criteria) and the number of records it matched and writes nothing to the records, so it can
be dropped until the approving document exists. Applying re-selects the records under
``SELECT … FOR UPDATE``, refuses when the selection no longer matches the preview, then sets
leave date, exit reason and the operation on every record with bulk updates and writes one
audit event naming them all — all in one transaction.

Selection = the records of the actor's jurisdiction (and of the operation's unit or
jurisdiction) that match the criteria and are in post both on the day before the leave date
and on the leave date itself (so ``hire_date < leave_date`` always holds, and a record
already leaving on that day is not touched). The figures as of the day before and as of the
leave date therefore differ by exactly the operation's records.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from bianzhi.accounts.permissions import require
from bianzhi.common import audit
from bianzhi.common.errors import (
    INVALID_CHOICE,
    INVALID_DATE,
    INVALID_INTEGER,
    NOT_FOUND,
    REQUIRED,
    TOO_LONG,
    BianzhiError,
    Collector,
)
from bianzhi.common.scoping import get_scoped_or_404, scope_of, scoped
from bianzhi.orgs.errors import UNIT_NOT_FOUND
from bianzhi.orgs.models import Unit

from . import errors
from .choices import BulkKind, BulkStatus, RuleTable
from .models import BulkOperation, Spell
from .rules import RuleSet
from .selectors import counting_on, ruleset_for, spells_in_scope

#: Selection fields a bulk operation may filter on, with their rule table and error code.
CRITERIA_TABLES: dict[str, tuple[str, str]] = {
    "situation": (RuleTable.SITUATION, errors.UNKNOWN_SITUATION),
    "post_class": (RuleTable.POST_CLASS, errors.UNKNOWN_POST_CLASS),
    "work_type": (RuleTable.WORK_TYPE, errors.UNKNOWN_WORK_TYPE),
    "funding_source": (RuleTable.FUNDING_SOURCE, errors.UNKNOWN_FUNDING_SOURCE),
    "key_post": (RuleTable.KEY_POST, errors.UNKNOWN_KEY_POST),
}
SPELL_IDS = "spell_ids"
CRITERIA_FIELDS = (*CRITERIA_TABLES, SPELL_IDS)

#: The exit reason used when none is given.
DEFAULT_EXIT_REASON: dict[str, str] = {BulkKind.DOWNSIZING: "dismissed", BulkKind.GROUP_TRANSFER: "group_transfer"}

UPDATE_BATCH = 1000


# --- helpers -----------------------------------------------------------------------------


def as_date(value: Any) -> dt.date | None:
    """A date from a ``date`` (a ``datetime`` keeps its date) or an ISO ``YYYY-MM-DD`` string."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def one_year_after(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


def _normalise_criteria(criteria: dict[str, Any], rules: RuleSet, c: Collector) -> dict[str, Any]:
    """Rule-table values as users type them (code or Chinese name) → codes; unknown fields and
    values are reported; empty values are dropped."""
    out: dict[str, Any] = {}
    for key, raw in (criteria or {}).items():
        if key not in CRITERIA_FIELDS:
            c.add(errors.BULK_CRITERIA_UNKNOWN, field="criteria", value=key, name=key,
                  allowed=" / ".join(CRITERIA_FIELDS))
            continue
        if raw is None or raw == "" or raw == []:
            continue
        if key == SPELL_IDS:
            values = raw if isinstance(raw, (list, tuple, set)) else [raw]
            ids: list[int] = []
            for v in values:
                try:
                    number = int(str(v).strip())
                    if number <= 0:
                        raise ValueError
                except (TypeError, ValueError):
                    c.add(INVALID_INTEGER, field=SPELL_IDS, value=v)
                    continue
                ids.append(number)
            if ids:
                out[SPELL_IDS] = sorted(set(ids))
            continue
        table, code = CRITERIA_TABLES[key]
        text = str(raw).strip()
        if key == "key_post" and text == "any":
            out[key] = "any"
            continue
        found = rules.lookup(table, text)
        if found is None:
            c.add(code, field=key, value=raw, allowed=" / ".join(rules.names(table)))
            continue
        out[key] = found
    return out


def _select(actor: Any, *, path: str, unit_id: int | None, criteria: dict[str, Any],
            leave_date: dt.date) -> QuerySet[Spell]:
    """The records an operation touches, seen by ``actor`` (re-evaluated on every call)."""
    qs = spells_in_scope(
        actor=actor, unit=unit_id, situation=criteria.get("situation", ""),
        post_class=criteria.get("post_class", ""), work_type=criteria.get("work_type", ""),
        funding_source=criteria.get("funding_source", ""), key_post=criteria.get("key_post", ""),
    ).filter(jurisdiction_path__startswith=path)
    if criteria.get(SPELL_IDS):
        qs = qs.filter(pk__in=criteria[SPELL_IDS])
    # in post on the day before and still on the leave date
    return counting_on(counting_on(qs, leave_date - dt.timedelta(days=1)), leave_date)


def _select_for(actor: Any, operation: BulkOperation) -> QuerySet[Spell]:
    return _select(actor, path=operation.jurisdiction_path, unit_id=operation.unit_id,
                   criteria=operation.criteria, leave_date=operation.leave_date)


def snapshot(operation: BulkOperation) -> dict[str, Any]:
    unit = operation.unit
    return {
        "kind": operation.kind, "status": operation.status, "unit": unit.uscc if unit else None,
        "unit_name": unit.name if unit else None, "jurisdiction_path": operation.jurisdiction_path,
        "criteria": operation.criteria, "leave_date": operation.leave_date, "exit_reason": operation.exit_reason,
        "receiver": operation.receiver, "document_ref": operation.document_ref, "count": operation.count,
    }


def _locked_operation(actor: Any, operation_id: Any) -> BulkOperation:
    try:
        operation = scoped(BulkOperation.objects.select_for_update(), actor).filter(pk=operation_id).first()
    except (TypeError, ValueError):
        operation = None
    if operation is None:
        raise BianzhiError(NOT_FOUND, field="operation", value=operation_id)
    return operation


# --- services ----------------------------------------------------------------------------


@transaction.atomic
def bulk_preview(
    *, actor: Any, kind: str, leave_date: Any, exit_reason: str = "", unit_id: Any = None,
    criteria: dict[str, Any] | None = None, receiver: str = "", document_ref: str = "",
) -> BulkOperation:
    """Record a bulk exit as *previewed*: the selection and its count, nothing else changes."""
    require(actor, "roster.bulk")
    c = Collector()
    if kind not in BulkKind.values:
        c.add(INVALID_CHOICE, field="kind", value=kind, allowed=" / ".join(str(x) for x in BulkKind.labels))
    today = timezone.localdate()
    day = as_date(leave_date)
    if day is None:
        c.add(INVALID_DATE, field="leave_date", value=leave_date)
    elif day > one_year_after(today):
        c.add(errors.BULK_DATE_TOO_FAR, field="leave_date", value=day)
    unit: Unit | None = None
    if unit_id not in (None, ""):
        try:
            unit = scoped(Unit.objects.all(), actor).filter(pk=unit_id).first()
        except (TypeError, ValueError):
            unit = None
        if unit is None:
            c.add(UNIT_NOT_FOUND, field="unit", value=unit_id)
    elif kind == BulkKind.DOWNSIZING:
        c.add(REQUIRED, field="unit")
    path = unit.jurisdiction_path if unit is not None else scope_of(actor).path
    rules = ruleset_for(path, day or today)
    reason_text = (exit_reason or "").strip() or DEFAULT_EXIT_REASON.get(kind, "")
    reason = rules.lookup(RuleTable.EXIT_REASON, reason_text)
    if reason is None and (reason_text or kind in BulkKind.values):  # no default for an unknown kind
        c.add(errors.UNKNOWN_EXIT_REASON, field="exit_reason", value=exit_reason,
              allowed=" / ".join(rules.names(RuleTable.EXIT_REASON)))
    reported = len(c.errors)
    selection = _normalise_criteria(criteria or {}, rules, c)
    criteria_valid = len(c.errors) == reported
    receiver = (receiver or "").strip()
    if kind == BulkKind.GROUP_TRANSFER and not receiver:
        c.add(REQUIRED, field="receiver")
    if len(receiver) > 200:
        c.add(TOO_LONG, field="receiver", value=receiver, max=200)
    document_ref = (document_ref or "").strip()
    if len(document_ref) > 100:
        c.add(TOO_LONG, field="document_ref", value=document_ref, max=100)
    if unit_id in (None, "") and kind == BulkKind.GROUP_TRANSFER and criteria_valid and not selection:
        c.add(errors.BULK_CRITERIA_REQUIRED, field="criteria")
    c.raise_if_any()
    assert day is not None and reason is not None
    selected = list(_select(actor, path=path, unit_id=unit.pk if unit else None, criteria=selection,
                            leave_date=day).order_by("pk").values_list("pk", flat=True))
    count = len(selected)
    if count == 0:
        raise BianzhiError(errors.BULK_SELECTION_EMPTY, field="criteria", value=selection)
    operation = BulkOperation.objects.create(
        kind=kind, status=BulkStatus.PREVIEWED, unit=unit, jurisdiction_path=path, criteria=selection,
        leave_date=day, exit_reason=reason, receiver=receiver, document_ref=document_ref, count=count,
        selection_digest=selection_digest(selected), created_by=actor,
    )
    audit.record(actor, audit.entry_for("bulk.preview", operation, scope_path=path, after=snapshot(operation)))
    return operation


def selection_digest(ids: list[int]) -> str:
    """SM3 of the sorted record ids: apply refuses when the selection is not exactly the previewed one
    (the same count with one person swapped for another is a different selection)."""
    return audit.sm3_hex(",".join(str(i) for i in sorted(ids)).encode("ascii"))


@transaction.atomic
def bulk_apply(*, actor: Any, operation_id: Any, document_ref: str) -> BulkOperation:
    """Apply a previewed operation in one transaction, audited as one event."""
    require(actor, "roster.bulk")
    from . import pool  # pool imports this module's helpers

    operation = _locked_operation(actor, operation_id)
    c = Collector()
    if operation.status != BulkStatus.PREVIEWED:
        c.add(errors.BULK_NOT_PENDING, field="operation", value=operation.status)
    document_ref = (document_ref or "").strip()
    if not document_ref:
        c.add(errors.BULK_DOCUMENT_REQUIRED, field="document_ref")
    elif len(document_ref) > 100:
        c.add(TOO_LONG, field="document_ref", value=document_ref, max=100)
    c.raise_if_any()
    rows = list(
        _select_for(actor, operation).select_related(None).select_for_update().order_by("pk")
        .values_list("pk", "leave_date", "exit_reason")
    )
    if len(rows) != operation.count or (
        operation.selection_digest and selection_digest([pk for pk, _l, _r in rows]) != operation.selection_digest
    ):
        raise BianzhiError(errors.BULK_SELECTION_CHANGED, field="operation", value=operation.pk,
                           params={"previewed": operation.count, "now": len(rows)})
    ids = [pk for pk, _leave, _reason in rows]
    # records that already had a (later) planned exit: keep what the operation overwrote
    overwritten = {str(pk): {"leave_date": leave, "exit_reason": reason}
                   for pk, leave, reason in rows if leave is not None}
    for start in range(0, len(ids), UPDATE_BATCH):
        Spell.objects.filter(pk__in=ids[start:start + UPDATE_BATCH]).update(
            leave_date=operation.leave_date, exit_reason=operation.exit_reason, operation=operation,
        )
        pool.close_assignments(ids[start:start + UPDATE_BATCH], operation.leave_date)
    before = snapshot(operation)
    operation.status = BulkStatus.APPLIED
    operation.document_ref = document_ref
    operation.applied_at = timezone.now()
    operation.save(update_fields=["status", "document_ref", "applied_at"])
    audit.record(actor, audit.entry_for(
        "bulk.apply", operation, scope_path=operation.jurisdiction_path,
        before=before | {"planned_exits_overwritten": overwritten},
        after=snapshot(operation) | {"applied_at": operation.applied_at, "spell_ids": ids},
    ))
    return operation


@transaction.atomic
def bulk_cancel(*, actor: Any, operation_id: Any) -> BulkOperation:
    """Drop a previewed operation (nothing was written to the records)."""
    require(actor, "roster.bulk")
    operation = _locked_operation(actor, operation_id)
    if operation.status != BulkStatus.PREVIEWED:
        raise BianzhiError(errors.BULK_NOT_PENDING, field="operation", value=operation.status)
    before = snapshot(operation)
    operation.status = BulkStatus.CANCELLED
    operation.save(update_fields=["status"])
    audit.record(actor, audit.entry_for("bulk.cancel", operation, scope_path=operation.jurisdiction_path,
                                        before=before, after=snapshot(operation)))
    return operation


# --- selectors ---------------------------------------------------------------------------


def operations_in_scope(*, actor: Any) -> QuerySet[BulkOperation]:
    """Bulk operations of the actor's jurisdiction, newest first (the list page)."""
    require(actor, "roster.view")
    return scoped(BulkOperation.objects.select_related("unit", "created_by"), actor)


def get_operation(*, actor: Any, pk: Any) -> BulkOperation:
    require(actor, "roster.view")
    return get_scoped_or_404(BulkOperation.objects.select_related("unit", "created_by"), actor, pk=pk)


def bulk_selection(*, actor: Any, operation: BulkOperation) -> QuerySet[Spell]:
    """The records of an operation: for a previewed (or cancelled) one, re-evaluated now —
    what applying would touch; for an applied one, the records it changed."""
    require(actor, "roster.view")
    scope = scope_of(actor)
    if not operation.jurisdiction_path.startswith(scope.path) or (
        scope.unit_id is not None and operation.unit_id != scope.unit_id
    ):
        raise Http404
    if operation.status == BulkStatus.APPLIED:
        return scoped(Spell.objects.select_related("person", "unit"), actor).filter(operation=operation)
    return _select_for(actor, operation)
