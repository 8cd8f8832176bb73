"""Alerts of dynamic supervision over the API (mounted under /api/v1/stats):

- ``GET /stats/alerts`` — the alerts of the caller's scope, filtered and paged;
- ``GET /stats/alerts/{id}`` — one alert with its history;
- ``POST /stats/alerts/{id}/handle`` — ``{"action": "acknowledge" | "resolve", "note": "…"}``.

An alert outside the caller's scope answers 404 with the same body as a missing one; a refused
action answers 422 with the service's error code (``note_required``, ``alert_resolved``,
``invalid_choice``) and changes nothing.
"""

import datetime as dt
from typing import Any, Literal

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate

from bianzhi.accounts.permissions import require
from bianzhi.common.api import ERRORS, Id, Paged, UnitRef, stable, unit_ref
from bianzhi.common.scoping import get_scoped_or_404
from bianzhi.staffing.rules import RuleSet

from . import alerts
from . import analysis as annual
from .choices import AlertStatus
from .models import Alert

router = Router(tags=["alerts"])


class AlertFilter(Schema):
    kind: str = Field("", description="alert kind, e.g. over_cap (see data/alerts.yaml)")
    status: Literal["", "open", "acknowledged", "resolved", "unresolved"] = Field(
        "", description="'' for every status; 'unresolved' for open and acknowledged")
    unit: Id | None = Field(None, description="the unit's id")
    raised_from: dt.date | None = Field(None, description="raised on or after, YYYY-MM-DD")
    raised_to: dt.date | None = Field(None, description="raised on or before, YYYY-MM-DD")


class AlertOut(Schema):
    id: int
    kind: str
    kind_name: str
    key: str
    unit: UnitRef
    status: str
    finding: str = Field(..., description="the finding in words")
    params: dict[str, Any]
    records: list[int] = Field(..., description="ids of the roster records behind the finding")
    raised_on: dt.date
    resolved_on: dt.date | None
    note: str


class AlertEventOut(Schema):
    action: str = Field(..., description="raised, acknowledge, resolve, cleared")
    actor: str | None
    note: str
    at: dt.datetime


class AlertDetailOut(AlertOut):
    events: list[AlertEventOut]


class HandleIn(Schema):
    action: str = Field(..., description="acknowledge or resolve")
    note: str = Field("", max_length=2000, description="required to resolve")


def _names(actor: Any) -> RuleSet:
    """The names of the codes the actor may meet (key posts, post classes), as on the pages."""
    from bianzhi.staffing.views import _names as staffing_names

    return staffing_names(actor, timezone.localdate())


def _out(alert: Alert, kinds: dict[str, str], names: RuleSet) -> dict[str, Any]:
    return {"id": alert.pk, "kind": alert.kind, "kind_name": kinds.get(alert.kind, alert.kind), "key": alert.key,
            "unit": unit_ref(alert.unit), "status": alert.status, "finding": annual.finding_text(alert, names),
            "params": alert.params or {}, "records": [int(r) for r in alert.records or []],
            "raised_on": alert.raised_on, "resolved_on": alert.resolved_on, "note": alert.note}


def _detail(alert: Alert, actor: Any) -> dict[str, Any]:
    out = _out(alert, annual.kind_names(), _names(actor))
    out["events"] = [{"action": e.action, "actor": e.actor.username if e.actor else None, "note": e.note, "at": e.at}
                     for e in alert.events.select_related("actor")]
    return out


def _get(request: HttpRequest, id: int) -> Alert:
    require(request.user, "alert.view")
    return get_scoped_or_404(Alert.objects.select_related("unit"), request.user, pk=id)


class _Rows:
    """A queryset wrapper turning each alert into its output dict as the paginator slices it."""

    def __init__(self, qs: QuerySet[Alert], actor: Any) -> None:
        self.qs = qs
        self.kinds = annual.kind_names()
        self.names = _names(actor)

    def __len__(self) -> int:
        return self.qs.count()

    def count(self) -> int:
        return self.qs.count()

    def __getitem__(self, item: Any) -> Any:
        rows = self.qs[item]
        if isinstance(item, slice):
            return [_out(a, self.kinds, self.names) for a in rows]
        return _out(rows, self.kinds, self.names)


@router.get("/alerts", response={200: list[AlertOut], **ERRORS}, summary="Alerts of my jurisdiction")
@paginate(Paged)
def stats_alert_list(request: HttpRequest, filters: Query[AlertFilter]) -> Any:
    qs = alerts.alerts_in_scope(actor=request.user, kind=filters.kind,
                                status=filters.status if filters.status != "unresolved" else "", unit=filters.unit)
    if filters.status == "unresolved":
        qs = qs.exclude(status=AlertStatus.RESOLVED)
    if filters.raised_from:
        qs = qs.filter(raised_on__gte=filters.raised_from)
    if filters.raised_to:
        qs = qs.filter(raised_on__lte=filters.raised_to)
    return _Rows(stable(qs.select_related("unit")), request.user)


@router.get("/alerts/{int:id}", response={200: AlertDetailOut, **ERRORS}, summary="One alert with its history")
def stats_alert_detail(request: HttpRequest, id: int) -> Any:
    return _detail(_get(request, id), request.user)


@router.post("/alerts/{int:id}/handle", response={200: AlertDetailOut, **ERRORS},
             summary="Acknowledge an alert, or resolve it with a note")
def stats_alert_handle(request: HttpRequest, id: int, payload: HandleIn) -> Any:
    alert = _get(request, id)  # out of scope: 404 before anything else
    alerts.alert_handle(actor=request.user, alert_id=alert.pk, action=payload.action, note=payload.note)
    alert.refresh_from_db()
    return _detail(alert, request.user)
