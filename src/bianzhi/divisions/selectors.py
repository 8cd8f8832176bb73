from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from bianzhi.accounts.permissions import require
from bianzhi.common.scoping import get_scoped_or_404, scoped

from .models import Division


def divisions_in_scope(*, actor: Any, level: str | None = None, q: str = "") -> QuerySet[Division]:
    require(actor, "division.view")
    qs = scoped(Division.objects.all(), actor)
    if level:
        qs = qs.filter(level=level)
    if q:
        qs = qs.filter(name__contains=q) | qs.filter(code__startswith=q)
    return qs.order_by("path")


def get_division(*, actor: Any, code: str) -> Division:
    require(actor, "division.view")
    return get_scoped_or_404(Division.objects.all(), actor, code=code)


def division_by_code(code: str) -> Division | None:
    return Division.objects.filter(code=str(code).strip()).first()
