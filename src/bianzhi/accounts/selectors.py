from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from bianzhi.common.scoping import get_scoped_or_404, scoped

from .models import SYSTEM_USERNAME, User
from .permissions import require


def users_in_scope(*, actor: Any, q: str = "", role: str = "") -> QuerySet[User]:
    require(actor, "user.manage")
    qs = scoped(User.objects.select_related("jurisdiction", "unit"), actor).exclude(username=SYSTEM_USERNAME)
    if q:
        qs = qs.filter(username__contains=q) | qs.filter(display_name__contains=q)
    if role:
        qs = qs.filter(role=role)
    return qs.order_by("jurisdiction_path", "username")


def get_user(*, actor: Any, pk: Any) -> User:
    require(actor, "user.manage")
    return get_scoped_or_404(User.objects.exclude(username=SYSTEM_USERNAME), actor, pk=pk)
