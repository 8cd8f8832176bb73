"""Scoped reads of the audit trail."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from bianzhi.accounts.permissions import require

from .models import AuditEvent
from .scoping import scope_of


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def audit_events_in_scope(
    *,
    actor: Any,
    action: str = "",
    actor_name: str = "",
    object_type: str = "",
    object_id: str = "",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    q: str = "",
    request_id: str = "",
) -> QuerySet[AuditEvent]:
    """Events of the actor's jurisdiction and below, newest first.

    ``date_from``/``date_to`` are inclusive local days, turned into a half-open range of
    instants so the index on ``at`` is used. ``q`` searches the object's text and id.
    """
    require(actor, "audit.view")
    qs = AuditEvent.objects.filter(scope_path__startswith=scope_of(actor).path).select_related("actor")
    if action:
        qs = qs.filter(action=action)
    if actor_name:
        qs = qs.filter(Q(actor_username__icontains=actor_name) | Q(actor__display_name__icontains=actor_name))
    if object_type:
        qs = qs.filter(object_type=object_type)
    if object_id:
        qs = qs.filter(object_id=object_id)
    if date_from:
        qs = qs.filter(at__gte=_day_start(date_from))
    if date_to:
        qs = qs.filter(at__lt=_day_start(date_to + dt.timedelta(days=1)))
    if q:
        qs = qs.filter(Q(object_repr__icontains=q) | Q(object_id=q))
    if request_id:
        qs = qs.filter(request_id=request_id)
    return qs.order_by("-seq")


def get_audit_event(*, actor: Any, seq: Any) -> AuditEvent:
    """One event of the actor's scope; 404 for events outside it, exactly like missing ones."""
    event = audit_events_in_scope(actor=actor).filter(seq=seq).first() if str(seq).isdigit() else None
    if event is None:
        raise Http404
    return event


def workbench_figures(*, actor: Any, as_of: dt.date) -> dict[str, int]:
    """The figures of the workbench, all through the scoped selectors of the domain apps.

    Units in scope (active), establishment totals as of ``as_of`` (approved, actual,
    vacancies = sum of the shortfalls per quota, over = sum of the excesses), the number
    of units with at least one kind over establishment and, for administrators, active users.
    """
    from django.db.models import Case, Count, F, IntegerField, Sum, Value, When

    from bianzhi.accounts.permissions import can
    from bianzhi.orgs.selectors import quotas_in_scope, units_in_scope

    quotas = quotas_in_scope(actor=actor, as_of=as_of).order_by()
    shortfall = Case(
        When(actual__lt=F("approved"), then=F("approved") - F("actual")),
        default=Value(0),
        output_field=IntegerField(),
    )
    excess = Case(
        When(actual__gt=F("approved"), then=F("actual") - F("approved")),
        default=Value(0),
        output_field=IntegerField(),
    )
    # The aggregate names differ from the field names: an alias equal to a field would shadow it.
    totals = quotas.aggregate(
        sum_approved=Sum("approved"),
        sum_actual=Sum("actual"),
        sum_vacancies=Sum(shortfall),
        sum_over=Sum(excess),
        sum_over_units=Count("unit", distinct=True, filter=Q(actual__gt=F("approved"))),
    )
    figures = {key.removeprefix("sum_"): int(value or 0) for key, value in totals.items()}
    figures["units"] = units_in_scope(actor=actor).order_by().count()
    if can(actor, "user.manage"):
        from bianzhi.accounts.selectors import users_in_scope

        figures["active_users"] = users_in_scope(actor=actor).filter(is_active=True).order_by().count()
    return figures
