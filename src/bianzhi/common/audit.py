"""Writing and verifying the audit hash chain.

Every service writes its audit rows with :func:`record` inside its own transaction.
The chain head row is locked (``SELECT … FOR UPDATE``; on SQLite the whole database is
already write-locked by the IMMEDIATE transaction), so sequence numbers and hashes are
strictly ordered even when requests run concurrently.
"""

from __future__ import annotations

import datetime as dt
import decimal
import ipaddress
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from .context import client_ip_var, request_id_var
from .models import AuditChainHead, AuditEvent

GENESIS_HASH = "0" * 64


def sm3_hex(data: bytes) -> str:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize().hex()


def jsonable(value: Any) -> Any:
    """Normalise a value so that it survives a JSON column round trip unchanged."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return str(decimal.Decimal(repr(value)))
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Model):
        return value.pk
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    return str(value)


HASHED_FIELDS = (
    "seq", "at", "actor_id", "actor_username", "action", "object_type", "object_id", "object_repr",
    "scope_path", "before", "after", "request_id", "ip",
)


def canonical_at(value: dt.datetime) -> str:
    """The event time as it is hashed: UTC, ISO 8601 with microseconds."""
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def event_body(event: AuditEvent) -> dict[str, Any]:
    """The fields of an event that its hash covers (``HASHED_FIELDS``), as they are hashed."""
    return {
        "seq": event.seq,
        "at": canonical_at(event.at),
        "actor_id": event.actor_id,
        "actor_username": event.actor_username,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "object_repr": event.object_repr,
        "scope_path": event.scope_path,
        "before": event.before,
        "after": event.after,
        "request_id": event.request_id,
        "ip": event.ip,
    }


def canonical_body(body: dict[str, Any]) -> bytes:
    """Compact JSON, keys sorted, UTF-8 unescaped: the bytes that are hashed."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def canonical(event: AuditEvent) -> bytes:
    return canonical_body(event_body(event))


def body_hash(prev_hash: str, body: dict[str, Any]) -> str:
    """``SM3(prev_hash + canonical JSON of the body)``: also for events read back from an export."""
    return sm3_hex(prev_hash.encode("ascii") + canonical_body(body))


def chain_hash(prev_hash: str, event: AuditEvent) -> str:
    return sm3_hex(prev_hash.encode("ascii") + canonical(event))


@dataclass
class Entry:
    """One audit event to be written."""

    action: str
    scope_path: str
    object_type: str = ""
    object_id: str = ""
    object_repr: str = ""
    before: Any = None
    after: Any = None


def entry_for(action: str, obj: Model, *, scope_path: str, before: Any = None, after: Any = None) -> Entry:
    meta = obj._meta
    return Entry(
        action=action,
        scope_path=scope_path,
        object_type=f"{meta.app_label}.{meta.model_name}",
        object_id=str(obj.pk),
        object_repr=str(obj)[:255],
        before=before,
        after=after,
    )


def _normalise_ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return ipaddress.ip_address(value).compressed
    except ValueError:
        return None


def _lock_head() -> AuditChainHead:
    if not connection.in_atomic_block:
        raise RuntimeError("audit rows must be written inside the service's transaction")
    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        AuditChainHead.objects.get_or_create(pk=1, defaults={"seq": 0, "hash": GENESIS_HASH})
        head = AuditChainHead.objects.select_for_update().get(pk=1)
    return head


_COLUMNS = (
    "seq", "at", "actor_id", "actor_username", "action", "object_type", "object_id", "object_repr",
    "scope_path", "before", "after", "request_id", "ip", "prev_hash", "hash",
)


def _insert_rows(rows: list[tuple[Any, ...]]) -> None:
    """Append rows with one ``executemany``: the ORM's per-field preparation costs several
    times the hashing on large imports. JSON columns get their JSON text (cast on PostgreSQL)."""
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in _COLUMNS)
    json_cast = "::jsonb" if connection.vendor == "postgresql" else ""
    ip_cast = "::inet" if connection.vendor == "postgresql" else ""
    marks = ", ".join(
        "%s" + (json_cast if c in ("before", "after") else ip_cast if c == "ip" else "") for c in _COLUMNS
    )
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)


def _json_text(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def record_many(actor: Any, entries: Iterable[Entry], *, batch_size: int = 5000) -> int:
    """Append entries to the chain in order; returns how many were written."""
    head = _lock_head()
    now = timezone.now()
    at_db = connection.ops.adapt_datetimefield_value(now)
    request_id = request_id_var.get()
    ip = _normalise_ip(client_ip_var.get())
    actor_id = getattr(actor, "pk", None)
    actor_username = getattr(actor, "username", "") or ""
    seq, prev = head.seq, head.hash
    rows: list[tuple[Any, ...]] = []
    written = 0
    event = AuditEvent(at=now, actor_id=actor_id, actor_username=actor_username, request_id=request_id, ip=ip)
    for entry in entries:
        seq += 1
        event.seq = seq
        event.action = entry.action
        event.object_type = entry.object_type
        event.object_id = entry.object_id
        event.object_repr = entry.object_repr[:255]
        event.scope_path = entry.scope_path
        event.before = jsonable(entry.before)
        event.after = jsonable(entry.after)
        event.prev_hash = prev
        digest = chain_hash(prev, event)
        rows.append((
            seq, at_db, actor_id, actor_username, event.action, event.object_type, event.object_id,
            event.object_repr, event.scope_path, _json_text(event.before), _json_text(event.after), request_id,
            ip, prev, digest,
        ))
        prev = digest
        if len(rows) >= batch_size:
            _insert_rows(rows)
            written += len(rows)
            rows = []
    if rows:
        _insert_rows(rows)
        written += len(rows)
    if written:
        AuditChainHead.objects.filter(pk=1).update(seq=seq, hash=prev)
    return written


def record(actor: Any, entry: Entry) -> None:
    record_many(actor, [entry])


PRUNE_ACTION = "audit.prune"


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    broken_seq: int | None = None
    reason: str = ""
    first_seq: int | None = None  # the first event walked (> 1 after a prune)
    last_seq: int = 0  # the last event verified
    checkpoint_seq: int | None = None  # the prune event the walk started from, if any


def _iter_events(chunk: int = 5000) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = list(AuditEvent.objects.filter(seq__gt=last).order_by("seq")[:chunk])
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def _checkpoints() -> list[AuditEvent]:
    """The prune events still in the chain, each naming the last pruned event and its hash."""
    return list(AuditEvent.objects.filter(action=PRUNE_ACTION).order_by("seq"))


def _start(first_seq: int) -> tuple[str, int | None, int | None]:
    """Where the walk starts: (hash the first event must link to, prune event vouching for it,
    first missing event when none does)."""
    if first_seq == 1:
        return GENESIS_HASH, None, None
    through = 0
    for event in _checkpoints():
        after = event.after if isinstance(event.after, dict) else {}
        if after.get("through_seq") == first_seq - 1 and isinstance(after.get("through_hash"), str):
            return after["through_hash"], event.seq, None
        if isinstance(after.get("through_seq"), int) and after["through_seq"] < first_seq:
            through = max(through, after["through_seq"])
    return "", None, through + 1


def verify_chain() -> VerifyResult:
    """Re-walk the chain; report the first event whose link or hash does not hold.

    After ``bianzhi audit prune`` the chain starts after the pruned events: the walk starts
    from the hash of the last pruned event as the prune event (``audit.prune``, itself part of
    the chain and verified by the walk) recorded it. Events missing at the start without such
    an event are reported as missing.
    """
    with transaction.atomic():
        first = AuditEvent.objects.order_by("seq").values_list("seq", flat=True).first()
        prev, checkpoint, missing = _start(first) if first is not None else (GENESIS_HASH, None, None)
        if missing is not None:
            return VerifyResult(False, 0, missing, "missing", first_seq=first)
        expected_seq = first or 1
        checked = 0
        last = expected_seq - 1
        for event in _iter_events():
            if event.seq != expected_seq:
                return VerifyResult(False, checked, expected_seq, "missing", first, last, checkpoint)
            if event.prev_hash != prev:
                return VerifyResult(False, checked, event.seq, "prev_hash", first, last, checkpoint)
            if chain_hash(prev, event) != event.hash:
                return VerifyResult(False, checked, event.seq, "hash", first, last, checkpoint)
            prev = event.hash
            last = event.seq
            expected_seq += 1
            checked += 1
        head = AuditChainHead.objects.filter(pk=1).first()
        if head is not None and (head.seq != last or head.hash != prev):
            return VerifyResult(False, checked, last + 1 if head.seq > last else last, "head", first, last,
                                checkpoint)
    return VerifyResult(True, checked, first_seq=first, last_seq=last, checkpoint_seq=checkpoint)
