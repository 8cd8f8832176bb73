from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

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
    if not (code.isascii() and code.isdigit()):  # no such code; and PostgreSQL text cannot hold a NUL
        raise Http404
    return get_scoped_or_404(Division.objects.all(), actor, code=code)


def division_by_code(code: str) -> Division | None:
    return Division.objects.filter(code=str(code).strip()).first()
