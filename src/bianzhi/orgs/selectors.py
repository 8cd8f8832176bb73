"""Scoped reads of units, their history, establishment and people."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.db.models import Q, QuerySet

from bianzhi.accounts.permissions import require
from bianzhi.common import pii
from bianzhi.common.scoping import get_scoped_or_404, scoped

from .models import EstablishmentQuota, Person, Unit, UnitVersion


def in_force(qs: QuerySet, as_of: dt.date, start: str = "valid_from", end: str = "valid_to") -> QuerySet:
    """Rows valid on ``as_of``: ``start <= as_of`` and (``end`` empty or ``end > as_of``)."""
    return qs.filter(**{f"{start}__lte": as_of}).filter(Q(**{f"{end}__isnull": True}) | Q(**{f"{end}__gt": as_of}))


def units_in_scope(
    *, actor: Any, q: str = "", division: str = "", category: str = "", status: str = "active",
    funding_form: str = "",
) -> QuerySet[Unit]:
    require(actor, "unit.view")
    qs = scoped(Unit.objects.select_related("jurisdiction", "parent"), actor)
    if status:
        qs = qs.filter(status=status)
    if q:
        qs = qs.filter(Q(name__contains=q) | Q(uscc__startswith=q.upper()))
    if division:
        qs = qs.filter(jurisdiction_path__contains=f"{division}/")
    if category:
        qs = qs.filter(category=category)
    if funding_form:
        qs = qs.filter(funding_form=funding_form)
    return qs


def get_unit(*, actor: Any, pk: Any) -> Unit:
    require(actor, "unit.view")
    return get_scoped_or_404(Unit.objects.select_related("jurisdiction", "parent", "merged_into"), actor, pk=pk)


def unit_versions_as_of(*, actor: Any, as_of: dt.date) -> QuerySet[UnitVersion]:
    """The unit tree of that day: one version per unit that existed on ``as_of``."""
    require(actor, "unit.view")
    return in_force(scoped(UnitVersion.objects.select_related("jurisdiction", "parent"), actor), as_of)


def unit_history(*, actor: Any, unit: Unit) -> QuerySet[UnitVersion]:
    return scoped(UnitVersion.objects.filter(unit=unit).select_related("jurisdiction", "parent"), actor)


def quotas_in_scope(
    *, actor: Any, as_of: dt.date | None = None, unit: Unit | None = None, kind: str = "", problem: str = ""
) -> QuerySet[EstablishmentQuota]:
    """Establishment of the units in scope as of a day; ``problem`` is ``vacant`` or ``over``."""
    require(actor, "establishment.view")
    qs = scoped(EstablishmentQuota.objects.select_related("unit", "unit__jurisdiction"), actor)
    qs = in_force(qs, as_of or dt.date.today())
    if unit is not None:
        qs = qs.filter(unit=unit)
    if kind:
        qs = qs.filter(kind=kind)
    from django.db.models import F

    if problem == "over":
        qs = qs.filter(actual__gt=F("approved"))
    elif problem == "vacant":
        qs = qs.filter(actual__lt=F("approved"))
    return qs.order_by("unit__jurisdiction_path", "unit__name", "kind")


def quota_history(*, actor: Any, unit: Unit) -> QuerySet[EstablishmentQuota]:
    require(actor, "establishment.view")
    return scoped(EstablishmentQuota.objects.filter(unit=unit), actor).order_by("kind", "valid_from")


WHOLE_ID_NUMBER = re.compile(r"\d{17}[\dX]")


def people_in_scope(*, actor: Any, q: str = "", unit: Any = None) -> QuerySet[Person]:
    require(actor, "person.view")
    qs = scoped(Person.objects.select_related("unit", "jurisdiction"), actor)
    q = (q or "").strip()
    if WHOLE_ID_NUMBER.fullmatch(q.upper()):
        qs = qs.filter(id_number_index__in=pii.lookup_indexes(q))  # found through its blind index
    elif q:
        qs = qs.filter(name__contains=q)
    if unit:
        qs = qs.filter(unit_id=unit)
    return qs


def get_person(*, actor: Any, pk: Any) -> Person:
    require(actor, "person.view")
    return get_scoped_or_404(Person.objects.select_related("unit", "jurisdiction"), actor, pk=pk)
