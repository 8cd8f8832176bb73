"""Exporting, verifying offline and pruning the audit chain.

**Export format** (``bianzhi audit export``): JSON Lines, UTF-8. The first line is a header
``{"format": "bianzhi-audit-export", "version": 1, "from", "to", "first_seq", "last_seq",
"count", "prev_hash", "last_hash", "head_seq", "head_hash", "exported_at"}``; every further
line is one event with the thirteen hashed fields (``audit.HASHED_FIELDS``, ``at`` in UTC with
microseconds, exactly as hashed) plus ``prev_hash`` and ``hash``, in sequence order and without
gaps. Anyone can check a file without the database: each event's ``hash`` must equal
``SM3(prev_hash + canonical JSON of its thirteen fields)`` and each ``prev_hash`` the previous
line's ``hash`` (the first one the header's ``prev_hash``); consecutive exports join where one's
``last_hash`` is the next one's ``prev_hash``.

**Pruning** (``bianzhi audit prune --before D``) deletes the oldest events, never one younger
than ``BIANZHI_AUDIT_RETENTION_DAYS``, and never from a chain that does not verify. In the same
transaction it appends an ``audit.prune`` event naming the last pruned event and its hash
(``through_seq``, ``through_hash``), from which ``audit verify`` starts its walk; the archive
written before the deletion ends with that very hash, so archive and database verify as one chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import audit
from .audit_checks import retention_days
from .models import AuditChainHead, AuditEvent

FORMAT = "bianzhi-audit-export"
VERSION = 1


def day_start(day: dt.date) -> dt.datetime:
    """The first instant of a local day (the deployment's time zone)."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def event_line(event: AuditEvent) -> dict[str, Any]:
    return {**audit.event_body(event), "prev_hash": event.prev_hash, "hash": event.hash}


# ---------------------------------------------------------------------------------------------
# Export


@dataclass
class ExportResult:
    first_seq: int | None
    last_seq: int | None
    count: int
    prev_hash: str | None
    last_hash: str | None
    sha256: str = ""
    header: dict[str, Any] = field(default_factory=dict)


def seq_range(date_from: dt.date | None, date_to: dt.date | None) -> tuple[int | None, int | None]:
    """The first and last sequence numbers of the events of ``[date_from, date_to]`` (local days,
    inclusive). Everything between them is exported, so the range has no gaps."""
    qs = AuditEvent.objects.all()
    if date_from is not None:
        qs = qs.filter(at__gte=day_start(date_from))
    if date_to is not None:
        qs = qs.filter(at__lt=day_start(date_to + dt.timedelta(days=1)))
    first = qs.order_by("seq").values_list("seq", flat=True).first()
    last = qs.order_by("-seq").values_list("seq", flat=True).first()
    return first, last


def _events_between(first: int, last: int, chunk: int = 5000) -> Iterator[AuditEvent]:
    position = first - 1
    while position < last:
        rows = list(AuditEvent.objects.filter(seq__gt=position, seq__lte=last).order_by("seq")[:chunk])
        if not rows:
            return
        yield from rows
        position = rows[-1].seq


def write_export(out: IO[str], *, first: int | None, last: int | None, date_from: dt.date | None = None,
                 date_to: dt.date | None = None) -> ExportResult:
    """Write the events ``first``–``last`` (one consistent snapshot) as JSON Lines to ``out``."""
    with transaction.atomic():  # one snapshot on PostgreSQL; SQLite's IMMEDIATE transaction locks writers out
        head = AuditChainHead.objects.filter(pk=1).first()
        prev_hash = last_hash = None
        count = 0
        if first is not None and last is not None:
            prev_hash = AuditEvent.objects.filter(seq=first).values_list("prev_hash", flat=True).first()
            last_hash = AuditEvent.objects.filter(seq=last).values_list("hash", flat=True).first()
            count = AuditEvent.objects.filter(seq__gte=first, seq__lte=last).count()
        header = {
            "format": FORMAT, "version": VERSION,
            "from": date_from.isoformat() if date_from else None, "to": date_to.isoformat() if date_to else None,
            "first_seq": first if count else None, "last_seq": last if count else None, "count": count,
            "prev_hash": prev_hash, "last_hash": last_hash,
            "head_seq": head.seq if head else 0, "head_hash": head.hash if head else audit.GENESIS_HASH,
            "exported_at": timezone.now().astimezone(dt.UTC).isoformat(timespec="seconds"),
        }
        out.write(json.dumps(header, ensure_ascii=False, sort_keys=True) + "\n")
        if count:
            assert first is not None and last is not None
            for event in _events_between(first, last):
                out.write(json.dumps(event_line(event), ensure_ascii=False, sort_keys=True) + "\n")
    if not count:
        first = last = None
    return ExportResult(first, last, count, prev_hash, last_hash, header=header)


def export_to_file(path: Path, *, date_from: dt.date | None = None, date_to: dt.date | None = None,
                   first: int | None = None, last: int | None = None) -> ExportResult:
    """Export a date range (or an explicit sequence range) to ``path``: written to a temporary
    file beside it, fsynced and renamed, so a half-written export never carries the name."""
    if first is None and last is None:
        first, last = seq_range(date_from, date_to)
    path = Path(path)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent or Path("."))
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            result = write_export(out, first=first, last=last, date_from=date_from, date_to=date_to)
            out.flush()
            os.fsync(out.fileno())
        result.sha256 = hashlib.sha256(temp.read_bytes()).hexdigest()
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return result


# ---------------------------------------------------------------------------------------------
# Offline verification of an export


@dataclass
class FileVerifyResult:
    ok: bool
    checked: int
    broken_seq: int | None = None
    reason: str = ""
    header: dict[str, Any] = field(default_factory=dict)
    first_seq: int | None = None
    last_seq: int | None = None
    prev_hash: str | None = None
    last_hash: str | None = None


def verify_export(lines: IO[str]) -> FileVerifyResult:
    """Check an export without the database: header, every hash, every link, no gap, the count.

    ``reason``: ``format`` (not an export, or a line that is not an event), ``missing`` (a gap
    or fewer events than the header says), ``prev_hash``, ``hash``, ``header`` (the last hash
    or count differs from the header).
    """
    try:
        header = json.loads(lines.readline() or "null")
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT or header.get("version") != VERSION:
        return FileVerifyResult(False, 0, None, "format")
    prev = header.get("prev_hash")
    expected = header.get("first_seq")
    checked = 0
    last_hash = None
    first = None
    for number, line in enumerate(lines, start=2):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            body = {name: row[name] for name in audit.HASHED_FIELDS}
            seq, row_prev, row_hash = int(row["seq"]), row["prev_hash"], row["hash"]
        except (ValueError, KeyError, TypeError):
            return FileVerifyResult(False, checked, None, f"format (line {number})", header)
        if expected is not None and seq != expected:
            return FileVerifyResult(False, checked, expected, "missing", header)
        if prev is not None and row_prev != prev:
            return FileVerifyResult(False, checked, seq, "prev_hash", header)
        if audit.body_hash(row_prev, body) != row_hash:
            return FileVerifyResult(False, checked, seq, "hash", header)
        if first is None:
            first = seq
        prev = last_hash = row_hash
        expected = seq + 1
        checked += 1
    if checked != header.get("count"):
        reason = "missing" if checked < (header.get("count") or 0) else "header"
        return FileVerifyResult(False, checked, expected, reason, header)
    if checked and last_hash != header.get("last_hash"):
        return FileVerifyResult(False, checked, expected, "header", header)
    last = int(expected) - 1 if checked and expected is not None else None
    return FileVerifyResult(True, checked, None, "", header, first, last, header.get("prev_hash"), last_hash)


# ---------------------------------------------------------------------------------------------
# Pruning


class PruneRefused(Exception):
    def __init__(self, reason: str, **params: Any) -> None:
        self.reason = reason
        self.params = params
        super().__init__(reason)


@dataclass
class PruneResult:
    count: int
    first_seq: int | None = None
    through_seq: int | None = None
    through_hash: str | None = None
    checkpoint_seq: int | None = None
    archive: ExportResult | None = None


def oldest_allowed_cut(today: dt.date | None = None) -> dt.date:
    """The latest ``--before`` day that keeps every event of the retention period."""
    return (today or timezone.localdate()) - dt.timedelta(days=retention_days())


def prune(*, actor: Any, before: dt.date, archive: Path | None = None, today: dt.date | None = None,
          dry_run: bool = False) -> PruneResult:
    """Delete the events before the local day ``before`` (the oldest part of the chain).

    Refused (``PruneRefused``): ``before`` later than today minus the retention days (``young``,
    nothing is deleted), a chain that does not verify (``broken``). With ``archive`` the pruned
    events are exported there first. The ``audit.prune`` event appended in the same transaction
    keeps the chain verifiable. ``dry_run``: count what would go, change nothing.
    """
    limit = oldest_allowed_cut(today)
    if before > limit:
        raise PruneRefused("young", before=before.isoformat(), limit=limit.isoformat(), days=retention_days())
    with transaction.atomic():
        audit._lock_head()  # writers wait: the chain does not move while it is cut
        result = audit.verify_chain()
        if not result.ok:
            raise PruneRefused("broken", seq=result.broken_seq, why=result.reason)
        first = result.first_seq
        young = AuditEvent.objects.filter(at__gte=day_start(before)).order_by("seq").values_list(
            "seq", flat=True).first()
        through = (young - 1) if young is not None else result.last_seq
        if first is None or through < first:
            return PruneResult(0)
        through_hash = AuditEvent.objects.filter(seq=through).values_list("hash", flat=True).get()
        if dry_run:
            count = AuditEvent.objects.filter(seq__lte=through).count()
            return PruneResult(count, first, through, through_hash)
        exported = export_to_file(archive, first=first, last=through) if archive is not None else None
        count, _ = AuditEvent.objects.filter(seq__lte=through).delete()
        from bianzhi.divisions.models import Division

        province = Division.objects.filter(code=settings.BIANZHI_PROVINCE_CODE).values_list(
            "path", flat=True).first() or ""
        audit.record(actor, audit.Entry(
            action=audit.PRUNE_ACTION, scope_path=province, object_type="common.auditevent",
            object_id=str(through), object_repr=f"#{first}–#{through}",
            after={
                "from_seq": first, "through_seq": through, "through_hash": through_hash, "count": count,
                "before": before.isoformat(), "retention_days": retention_days(),
                "archive_sha256": exported.sha256 if exported else None,
            },
        ))
        checkpoint = AuditChainHead.objects.values_list("seq", flat=True).get(pk=1)
    return PruneResult(count, first, through, through_hash, checkpoint, exported)
