"""Scoped reads of official documents and issuing offices."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from bianzhi.accounts.permissions import require
from bianzhi.common.scoping import get_scoped_or_404, scoped

from .models import IssuingOffice, OfficialDocument


def documents_in_scope(*, actor: Any, year: int | None = None, office: Any = None, status: str = "",
                       q: str = "") -> QuerySet[OfficialDocument]:
    """The documents of the actor's jurisdiction and below, filtered."""
    require(actor, "document.view")
    qs = scoped(OfficialDocument.objects.select_related("office", "office__division"), actor)
    if year:
        qs = qs.filter(year=year)
    if office:
        qs = qs.filter(office_id=office)
    if status:
        qs = qs.filter(status=status)
    if q:
        qs = qs.filter(Q(number__icontains=q) | Q(title__icontains=q) | Q(case_number__icontains=q))
    return qs


def get_document(*, actor: Any, pk: Any) -> OfficialDocument:
    """One document of the actor's scope; 404 for a missing or out-of-scope one."""
    require(actor, "document.view")
    return get_scoped_or_404(OfficialDocument.objects.select_related("office", "office__division", "created_by",
                                                                     "voided_by"), actor, pk=pk)


def documents_for(*, actor: Any, object_type: str, object_id: Any) -> QuerySet[OfficialDocument]:
    """The documents of one object (e.g. ``bodies.body`` and its id) the actor may see."""
    require(actor, "document.view")
    return scoped(OfficialDocument.objects.filter(object_type=object_type, object_id=str(object_id)),
                  actor).order_by("written_on", "pk")


def offices_in_scope(*, actor: Any) -> QuerySet[IssuingOffice]:
    """The issuing offices of the actor's jurisdiction and below."""
    require(actor, "document.view")
    return scoped(IssuingOffice.objects.select_related("division"), actor)


def years_in_scope(*, actor: Any) -> list[int]:
    """The years of the documents the actor may see, latest first."""
    return sorted(set(documents_in_scope(actor=actor).values_list("year", flat=True)), reverse=True)
