"""Shared API schemas (errors, references) and the audit-trail routes."""

import datetime as dt
from typing import Annotated, Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.pagination import PageNumberPagination, paginate

from . import selectors


class ErrorItem(Schema):
    row: int | None = None
    column: str | None = None
    value: Any = None
    code: str = Field(..., description="stable English error code, the same as the imports'")
    message: str = Field(..., description="translated message")


class ErrorsOut(Schema):
    errors: list[ErrorItem]


# The error answers every authenticated route may give; merged into each ``response=``.
ERRORS: dict[int, Any] = {401: ErrorsOut, 403: ErrorsOut, 404: ErrorsOut, 422: ErrorsOut}


# Bounds of the numbers the API takes, so that a number out of range answers 422 (``invalid_input``)
# instead of failing in the database (SQLite and PostgreSQL keys are signed 64-bit integers; a
# ``datetime.date`` holds the years 1 to 9999).
MAX_KEY = 2**63 - 1
MAX_PAGE = 10**9

#: The id of a row (path, query or body): a positive 64-bit integer.
Id = Annotated[int, Field(ge=1, le=MAX_KEY)]
#: A calendar year.
Year = Annotated[int, Field(ge=1, le=9999)]


class DivisionRef(Schema):
    code: str
    name: str


class UnitRef(Schema):
    id: int
    uscc: str
    name: str


def division_ref(division: Any) -> dict[str, str] | None:
    return {"code": division.code, "name": division.name} if division is not None else None


def unit_ref(unit: Any) -> dict[str, Any] | None:
    return {"id": unit.pk, "uscc": unit.uscc, "name": unit.name} if unit is not None else None


def label(obj: Any, field: str) -> str:
    """The translated label of a choice field (``get_FOO_display``), '' when empty."""
    return str(getattr(obj, f"get_{field}_display")()) if getattr(obj, field) else ""


def stable(qs: QuerySet[Any]) -> QuerySet[Any]:
    """The queryset's own ordering with the primary key last, so pages never overlap."""
    ordering = list(qs.query.order_by or qs.model._meta.ordering)
    return qs.order_by(*ordering, "pk")


class Paged(PageNumberPagination):
    """``?page=N&page_size=M`` (at most 100); answers ``{"items": [...], "count": total}``."""

    class Input(Schema):
        # ninja's own Input has no upper bound: a page past 2^63 rows failed in the database.
        page: int = Field(1, ge=1, le=MAX_PAGE)
        page_size: int | None = Field(None, ge=1, le=MAX_PAGE)


# --- audit trail ------------------------------------------------------------------

router = Router(tags=["audit"])


class AuditFilter(Schema):
    action: str = Field("", description="action code, e.g. unit.rename")
    actor_name: str = Field("", description="part of the actor's user name or display name")
    object_type: str = Field("", description="e.g. orgs.unit")
    object_id: str = ""
    date_from: dt.date | None = Field(None, description="inclusive, YYYY-MM-DD")
    date_to: dt.date | None = Field(None, description="inclusive, YYYY-MM-DD")
    q: str = Field("", description="part of the object's description, or its id")
    request_id: str = ""


class AuditEventOut(Schema):
    seq: int
    at: dt.datetime
    actor_username: str
    action: str
    object_type: str
    object_id: str
    object_repr: str
    scope_path: str
    request_id: str
    ip: str | None


class AuditEventDetailOut(AuditEventOut):
    before: Any = None
    after: Any = None
    prev_hash: str
    hash: str


@router.get("", response={200: list[AuditEventOut], **ERRORS}, summary="Audit events in my jurisdiction")
@paginate(Paged)
def audit_list(request: HttpRequest, filters: Query[AuditFilter]) -> Any:
    return selectors.audit_events_in_scope(actor=request.user, **filters.model_dump())


@router.get("/{int:seq}", response={200: AuditEventDetailOut, **ERRORS}, summary="One audit event")
def audit_detail(request: HttpRequest, seq: int) -> Any:
    return selectors.get_audit_event(actor=request.user, seq=seq)
