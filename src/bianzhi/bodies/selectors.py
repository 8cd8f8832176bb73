"""Scoped reads of the coordinating bodies."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet

from bianzhi.accounts.permissions import require
from bianzhi.common.scoping import get_scoped_or_404, scope_of, scoped
from bianzhi.staffing import selectors as staffing_selectors
from bianzhi.staffing.choices import RuleTable

from . import codes, rules
from .models import Body, BodyStatus


def bodies_in_scope(*, actor: Any, kind: str = "", status: str = "", lead_unit: Any = None, member_unit: Any = None,
                    jurisdiction: str = "", q: str = "") -> QuerySet[Body]:
    require(actor, "body.view")
    qs = scoped(Body.objects.select_related("jurisdiction", "lead_unit", "office_unit"), actor)
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    if lead_unit:
        qs = qs.filter(lead_unit_id=lead_unit)
    if member_unit:
        qs = qs.filter(members__unit_id=member_unit, members__valid_to__isnull=True)
    if jurisdiction:
        qs = qs.filter(jurisdiction__code=jurisdiction)
    if q:
        qs = qs.filter(Q(name__contains=q) | Q(code__icontains=q))
    return qs.distinct()


def get_body(*, actor: Any, pk: Any) -> Body:
    require(actor, "body.view")
    return get_scoped_or_404(Body.objects.select_related("jurisdiction", "lead_unit", "office_unit"), actor, pk=pk)


def body_by_code(code: str, *, actor: Any = None, path: str | None = None) -> Body | None:
    """A body by its code (validated), in the actor's scope or under ``path`` and the levels above it."""
    code = (code or "").strip().upper()
    if not codes.is_valid(code):
        return None
    qs = Body.objects.filter(code=code)
    if actor is not None:
        qs = scoped(qs, actor)
    body = qs.first()
    if body is not None and path is not None and not (path.startswith(body.jurisdiction_path)
                                                       or body.jurisdiction_path.startswith(path)):
        return None
    return body


def member_cap(path: str, day: dt.date) -> int:
    row = staffing_selectors.ruleset_for(path, day).table(RuleTable.SETTING).get("member_cap")
    return int(row.value) if row and row.value.isdigit() else 20


def similarity_threshold(path: str, day: dt.date) -> float:
    row = staffing_selectors.ruleset_for(path, day).table(RuleTable.SETTING).get("similarity_threshold")
    try:
        return float(row.value) if row else 0.35
    except ValueError:
        return 0.35


def similar_bodies(*, path: str, name: str, duties: str, exclude: list[int] | None = None,
                   limit: int = 5) -> list[rules.Match]:
    """The most similar active bodies of the jurisdiction and of the level above it (B3)."""
    parts = [p for p in path.split("/") if p]
    above = "/".join(parts[:-1]) + "/" if len(parts) > 1 else path
    candidates = (Body.objects.filter(status=BodyStatus.ACTIVE)
                  .filter(Q(jurisdiction_path=path) | Q(jurisdiction_path=above)).exclude(pk__in=exclude or [])
                  .select_related("jurisdiction").values_list("pk", "code", "name", "duties", "jurisdiction__name"))
    return rules.similar(name, duties, [rules.Candidate(*c) for c in candidates], limit=limit)


def scope_path(actor: Any) -> str:
    return scope_of(actor).path
