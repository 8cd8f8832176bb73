"""Jurisdiction scoping: the one mechanism every selector, page, API route, export and count uses.

A user sees its own jurisdiction and everything below it (a prefix match on the
materialised division path); a unit operator sees only its own unit. Each scoped model
names the field holding its jurisdiction path (``SCOPE_PATH_FIELD``) and the field that
leads to its unit (``SCOPE_UNIT_FIELD``; ``None`` when the model is not unit-bound, such as
divisions). Out-of-scope objects are answered with 404, exactly like missing ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from django.http import Http404

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Scope:
    path: str
    unit_id: int | None = None


def scope_of(actor: Any) -> Scope:
    """The scope of a user: its jurisdiction path and, for unit operators, its unit."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return Scope(path="\x00nothing")
    jurisdiction = getattr(actor, "jurisdiction", None)
    if jurisdiction is None:
        return Scope(path="\x00nothing")
    unit_id = actor.unit_id if actor.is_unit_bound else None
    return Scope(path=jurisdiction.path, unit_id=unit_id)


def scoped(qs: QuerySet[M], actor: Any) -> QuerySet[M]:
    """Restrict a queryset to what ``actor`` may see."""
    model = qs.model
    path_field: str = model.SCOPE_PATH_FIELD  # type: ignore[attr-defined]
    unit_field: str | None = getattr(model, "SCOPE_UNIT_FIELD", None)
    scope = scope_of(actor)
    qs = qs.filter(**{f"{path_field}__startswith": scope.path})
    if scope.unit_id is not None and unit_field is not None:
        qs = qs.filter(**{unit_field: scope.unit_id})
    return qs


def get_scoped_or_404(qs: QuerySet[M], actor: Any, **lookup: Any) -> M:
    try:
        return scoped(qs, actor).get(**lookup)
    except (qs.model.DoesNotExist, ValueError, TypeError) as exc:  # type: ignore[attr-defined]
        raise Http404 from exc


def path_in_scope(path: str, actor: Any) -> bool:
    return path.startswith(scope_of(actor).path)
