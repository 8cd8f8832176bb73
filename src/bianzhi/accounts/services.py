"""Writers for user accounts."""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from bianzhi.common import audit
from bianzhi.common.errors import Collector
from bianzhi.common.scoping import path_in_scope, scoped
from bianzhi.divisions.errors import DIVISION_NOT_FOUND
from bianzhi.divisions.models import Division

from . import errors
from .choices import Role
from .models import SYSTEM_USERNAME, ApiToken, User
from .permissions import can, require

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


# ---------------------------------------------------------------------------------------------
# Personal API tokens

TOKEN_PREFIX = "bz"


def token_digest(secret: str) -> str:
    """SM3 of the token's secret part: what is stored and compared, never the secret itself.

    The secret carries 256 random bits, so a plain (unkeyed) digest cannot be brute-forced
    and tokens survive a rotation of ``SECRET_KEY``.
    """
    return audit.sm3_hex(secret.encode("utf-8"))


def token_snapshot(token: ApiToken) -> dict[str, Any]:
    """What the audit trail keeps of a token: never the secret or its digest."""
    return {
        "user": token.user.username, "name": token.name, "prefix": token.prefix,
        "expires_at": token.expires_at, "revoked_at": token.revoked_at,
    }


def _may_manage_tokens_of(actor: Any, user: User) -> bool:
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return False
    if actor.pk == user.pk:
        return True
    return can(actor, "user.manage") and path_in_scope(user.jurisdiction_path, actor) and (
        user.username != SYSTEM_USERNAME)


def tokens_visible_to(actor: Any) -> Any:
    """The tokens ``actor`` may see and revoke: its own, and for administrators those of the
    users of its jurisdiction."""
    qs = ApiToken.objects.select_related("user")
    if not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return qs.none()
    if can(actor, "user.manage"):
        return scoped(qs, actor).exclude(user__username=SYSTEM_USERNAME) | qs.filter(user=actor)
    return qs.filter(user=actor)


@transaction.atomic
def token_create(*, actor: Any, user: User, name: str = "", days: int | None = None) -> tuple[ApiToken, str]:
    """Create a personal token for ``user``; answers the token and its plaintext (shown once).

    A user creates its own tokens; an administrator may create one for a user of its
    jurisdiction. ``days`` = ``None`` or 0: the token never expires.
    """
    from bianzhi.common.errors import NOT_FOUND, BianzhiError

    if not _may_manage_tokens_of(actor, user):
        raise BianzhiError(NOT_FOUND, field="user", value=getattr(user, "pk", None))
    if days is not None and days < 0:
        raise BianzhiError(errors.TOKEN_DAYS, field="days", value=days)
    while True:
        prefix = secrets.token_hex(4)
        if not ApiToken.objects.filter(prefix=prefix).exists():
            break
    secret = secrets.token_urlsafe(32)
    expires_at = timezone.now() + dt.timedelta(days=days) if days else None
    token = ApiToken.objects.create(
        user=user, name=(name or "").strip()[:100], prefix=prefix, secret_hash=token_digest(secret),
        expires_at=expires_at,
    )
    audit.record(actor, audit.entry_for("token.create", token, scope_path=user.jurisdiction_path,
                                        after=token_snapshot(token)))
    return token, f"{TOKEN_PREFIX}_{prefix}_{secret}"


@transaction.atomic
def token_revoke(*, actor: Any, token_id: Any) -> ApiToken:
    """Revoke a token of the actor's own, or (administrators) of a user of its jurisdiction."""
    from bianzhi.common.errors import NOT_FOUND, BianzhiError

    try:
        token = tokens_visible_to(actor).select_for_update(of=("self",)).filter(pk=int(token_id)).first()
    except (TypeError, ValueError):
        token = None
    if token is None:
        raise BianzhiError(NOT_FOUND, field="token", value=token_id)
    if token.revoked_at is None:
        before = token_snapshot(token)
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(actor, audit.entry_for("token.revoke", token, scope_path=token.user.jurisdiction_path,
                                            before=before, after=token_snapshot(token)))
    return token


def token_authenticate(plaintext: str) -> User | None:
    """The active user of a valid (known, unrevoked, unexpired) token, or ``None``."""
    parts = (plaintext or "").strip().split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or len(parts[1]) != 8 or not parts[2]:
        return None
    token = ApiToken.objects.select_related("user", "user__jurisdiction").filter(prefix=parts[1]).first()
    if token is None or not hmac.compare_digest(token.secret_hash, token_digest(parts[2])):
        return None
    now = timezone.now()
    if token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= now):
        return None
    if not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at >= dt.timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
