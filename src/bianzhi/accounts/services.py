"""Writers for user accounts."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from bianzhi.common import audit
from bianzhi.common.errors import Collector
from bianzhi.common.scoping import path_in_scope, scoped
from bianzhi.divisions.errors import DIVISION_NOT_FOUND
from bianzhi.divisions.models import Division

from . import errors
from .choices import Role
from .models import SYSTEM_USERNAME, User
from .permissions import require

_USERNAME = re.compile(r"^[\w.@+-]{3,150}$")


def user_snapshot(user: User) -> dict[str, Any]:
    return {
        "username": user.username, "display_name": user.display_name, "role": user.role,
        "jurisdiction": user.jurisdiction.code if user.jurisdiction else None,
        "unit": user.unit.uscc if user.unit else None, "is_active": user.is_active,
    }


def system_user() -> User:
    """The built-in administrator of the whole province that command-line work runs as."""
    from django.conf import settings

    user = User.objects.filter(username=SYSTEM_USERNAME).select_related("jurisdiction").first()
    if user is not None:
        return user
    province = Division.objects.get(code=settings.BIANZHI_PROVINCE_CODE)
    with transaction.atomic():
        user = User(
            username=SYSTEM_USERNAME, display_name="系统", role=Role.ADMINISTRATOR, jurisdiction=province,
            jurisdiction_path=province.path,
        )
        user.set_unusable_password()
        user.save()
        audit.record(None, audit.entry_for("user.create", user, scope_path=province.path,
                                           after=user_snapshot(user)))
    return user


@transaction.atomic
def user_create(
    *, actor: Any, username: str, role: str, jurisdiction: str, password: str, unit: str | None = None,
    display_name: str = "",
) -> User:
    """Create a user bound to a jurisdiction of the actor's scope (and, for unit operators, a unit)."""
    from bianzhi.orgs.models import Unit

    require(actor, "user.manage")
    c = Collector()
    username = (username or "").strip()
    if not _USERNAME.match(username):
        c.add(errors.USERNAME_FORMAT, field="username", value=username)
    elif User.objects.filter(username=username).exists():
        c.add(errors.USERNAME_TAKEN, field="username", value=username)
    if role not in Role.values:
        c.add(errors.ROLE_UNKNOWN, field="role", value=role)
    division = Division.objects.filter(code=str(jurisdiction).strip()).first()
    if division is None or not path_in_scope(division.path, actor):
        c.add(DIVISION_NOT_FOUND, field="jurisdiction", value=jurisdiction)
        division = None
    unit_obj = None
    if unit:
        unit_obj = scoped(Unit.objects.all(), actor).filter(uscc=str(unit).strip().upper()).first()
        if unit_obj is None or (division is not None and not unit_obj.jurisdiction_path.startswith(division.path)):
            c.add(errors.UNIT_REQUIRED, field="unit", value=unit)
            unit_obj = None
    elif role == Role.UNIT_OPERATOR:
        c.add(errors.UNIT_REQUIRED, field="unit", value=unit)
    candidate = User(username=username, display_name=display_name)
    try:
        validate_password(password or "", user=candidate)
    except ValidationError as exc:
        c.add(errors.PASSWORD_WEAK, field="password", reasons=" ".join(str(m) for m in exc.messages))
    c.raise_if_any()
    assert division is not None
    user = User(
        username=username, display_name=display_name, role=role, jurisdiction=division,
        jurisdiction_path=division.path, unit=unit_obj if role == Role.UNIT_OPERATOR else None,
    )
    user.set_password(password)
    user.save()
    audit.record(actor, audit.entry_for("user.create", user, scope_path=division.path, after=user_snapshot(user)))
    return user


@transaction.atomic
def user_set_active(*, actor: Any, user_id: Any, active: bool) -> User:
    require(actor, "user.manage")
    from bianzhi.common.errors import NOT_FOUND, BianzhiError

    user = scoped(User.objects.select_for_update(), actor).filter(pk=user_id).first()
    if user is None or user.username == SYSTEM_USERNAME:
        raise BianzhiError(NOT_FOUND, field="user", value=user_id)
    before = user_snapshot(user)
    user.is_active = active
    user.save(update_fields=["is_active"])
    audit.record(actor, audit.entry_for("user.activate" if active else "user.deactivate", user,
                                        scope_path=user.jurisdiction_path, before=before, after=user_snapshot(user)))
    return user
