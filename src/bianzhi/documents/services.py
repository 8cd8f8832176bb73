"""Writers of official documents: the issuing offices (from ``data/offices.yaml``), issuing a
document (its number taken in the caller's transaction) and voiding one.

``document_issue`` is called by the approvals engine from the deciding transaction of a case
(the general office's step): it joins that transaction, so a rolled-back decision gives the
number back and the sequence stays without gaps.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml
from django.db import transaction
from django.utils import timezone

from bianzhi.accounts.permissions import require
from bianzhi.common import audit
from bianzhi.common.errors import TOO_LONG, BianzhiError, Collector
from bianzhi.common.scoping import path_in_scope, scoped
from bianzhi.common.sequences import next_value
from bianzhi.divisions.models import Division

from . import errors, rules
from .choices import DocumentStatus
from .models import IssuingOffice, OfficialDocument

OFFICES_FILE = Path(__file__).resolve().parent / "data" / "offices.yaml"


# --- issuing offices --------------------------------------------------------------------------


def read_offices_file(path: Path = OFFICES_FILE) -> tuple[str, list[dict[str, Any]]]:
    """The source document and the rows of an offices file."""
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    return str(data.get("source_document", path.name)), list(data["offices"])


@transaction.atomic
def offices_load(*, actor: Any = None, path: Path = OFFICES_FILE) -> dict[str, int]:
    """Load the default issuing offices (idempotent). A division without an office gets one; an
    office still carrying this file's source document follows the file; an office edited since
    (another source document) is left alone, and so is a row whose prefix another office uses.
    Divisions not loaded yet are skipped."""
    source, rows = read_offices_file(path)
    divisions = {d.code: d for d in Division.objects.filter(code__in=[str(r["division"]) for r in rows])}
    offices = {o.division_id: o for o in IssuingOffice.objects.select_for_update()}
    prefixes = {o.prefix: o.division_id for o in offices.values()}
    created = updated = skipped = 0
    for row in rows:
        division = divisions.get(str(row["division"]))
        if division is None:
            skipped += 1
            continue
        mark = str(row["mark"]).strip()
        values = {"mark": mark, "prefix": str(row["prefix"]).strip(),
                  "printing_office": str(row.get("printing_office") or mark).strip(), "source_document": source}
        if prefixes.get(values["prefix"], division.pk) != division.pk:
            skipped += 1
            continue
        office = offices.get(division.pk)
        if office is None:
            office = IssuingOffice.objects.create(division=division, **values)
            created += 1
        elif office.source_document == source and any(getattr(office, k) != v for k, v in values.items()):
            prefixes.pop(office.prefix, None)
            for key, value in values.items():
                setattr(office, key, value)
            office.save()
            updated += 1
        else:
            continue
        offices[division.pk] = office
        prefixes[office.prefix] = division.pk
    if created or updated:
        root = Division.objects.order_by("depth", "path").first()
        audit.record(actor, audit.Entry(
            action="documents.offices_load", scope_path=root.path if root else "",
            object_type="documents.issuingoffice", object_repr=path.name,
            after={"created": created, "updated": updated, "skipped": skipped, "file": path.name},
        ))
    return {"created": created, "updated": updated, "skipped": skipped, "total": len(offices)}


def _office(actor: Any, division: Any) -> IssuingOffice:
    """The issuing office of a division (a Division, its code as text, or its id) in the
    actor's scope; ``office_not_found`` otherwise."""
    qs = IssuingOffice.objects.select_related("division")
    if isinstance(division, Division):
        office = qs.filter(division_id=division.pk).first()
    elif isinstance(division, str):
        office = qs.filter(division__code=division.strip()).first()
    elif isinstance(division, int) and not isinstance(division, bool):
        office = qs.filter(division_id=division).first()
    else:
        office = None
    if office is None or not path_in_scope(office.division.path, actor):
        raise BianzhiError(errors.OFFICE_NOT_FOUND, field="division", value=str(division))
    return office


# --- documents --------------------------------------------------------------------------------


def _check_length(c: Collector, field: str, value: str, limit: int) -> None:
    if len(value) > limit:
        c.add(TOO_LONG, field=field, value=value[:40], max=limit)


@transaction.atomic
def document_issue(*, actor: Any, division: Any, title: str, addressees: str, body: str, cc: str = "",
                   written_on: dt.date | None = None, attachments_note: str = "", object_type: str = "",
                   object_id: Any = "", case_number: str = "", issuer: str = "",
                   printed_on: dt.date | None = None) -> OfficialDocument:
    """Issue a document of the issuing office of ``division``: the next number of the office
    for the year of ``written_on`` (default today) is taken in the caller's transaction —
    ``深编办发〔2026〕12号``, strictly sequential, never reused, safe under concurrency.
    ``issuer`` defaults to the office's mark, ``printed_on`` (印发日期) to today, never before
    the date of writing. Audited as ``document.issue``."""
    require(actor, "document.issue")
    office = _office(actor, division)
    title = " ".join((title or "").split("\n")).strip()
    body = (body or "").strip()
    c = Collector()
    if not title:
        c.add(errors.TITLE_REQUIRED, field="title")
    if not rules.paragraphs(body):
        c.add(errors.BODY_REQUIRED, field="body")
    issuer = (issuer or office.mark).strip()
    for field, value, limit in (("title", title, 200), ("issuer", issuer, 100),
                                ("object_type", object_type, 64), ("object_id", str(object_id or ""), 64),
                                ("case_number", case_number, 40)):
        _check_length(c, field, value, limit)
    c.raise_if_any()
    today = timezone.localdate()
    written_on = written_on or today
    printed_on = printed_on or max(today, written_on)
    year = written_on.year
    serial = next_value(f"doc:{office.prefix}:{year}")
    document = OfficialDocument.objects.create(
        office=office, jurisdiction_path=office.division.path, year=year, serial=serial,
        number=rules.document_number(office.prefix, year, serial), mark=office.mark, title=title,
        addressees=(addressees or "").strip(), body=body, attachments_note=(attachments_note or "").strip(),
        issuer=issuer, written_on=written_on, cc=(cc or "").strip(), printing_office=office.printing_office,
        printed_on=printed_on, status=DocumentStatus.ISSUED, object_type=object_type or "",
        object_id=str(object_id or ""), case_number=case_number or "",
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    audit.record(actor, audit.entry_for("document.issue", document, scope_path=document.jurisdiction_path, after={
        "number": document.number, "title": document.title, "office": office.division.code,
        "written_on": document.written_on, "object_type": document.object_type, "object_id": document.object_id,
        "case_number": document.case_number,
    }))
    return document


@transaction.atomic
def document_void(*, actor: Any, document_id: Any, reason: str) -> OfficialDocument:
    """Mark a document void: it keeps its number (never reused) and carries the reason.
    Audited as ``document.void``."""
    require(actor, "document.void")
    try:
        document = scoped(OfficialDocument.objects.select_for_update(), actor).filter(pk=document_id).first()
    except (TypeError, ValueError):
        document = None
    if document is None:
        raise BianzhiError(errors.DOCUMENT_NOT_FOUND, field="document", value=document_id)
    reason = (reason or "").strip()
    c = Collector()
    if document.status == DocumentStatus.VOID:
        c.add(errors.DOCUMENT_ALREADY_VOID, field="document", value=document.number)
    if not reason:
        c.add(errors.REASON_REQUIRED, field="reason")
    _check_length(c, "reason", reason, 1000)
    c.raise_if_any()
    before = {"status": document.status}
    document.status = DocumentStatus.VOID
    document.void_reason = reason
    document.voided_at = timezone.now()
    document.voided_by = actor if getattr(actor, "pk", None) else None
    document.save(update_fields=["status", "void_reason", "voided_at", "voided_by"])
    audit.record(actor, audit.entry_for("document.void", document, scope_path=document.jurisdiction_path,
                                        before=before, after={"status": document.status, "reason": reason,
                                                              "number": document.number}))
    return document
