"""Writers for user accounts."""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from bianzhi.common import audit
from bianzhi.common.errors import BianzhiError, Collector
from bianzhi.common.scoping import path_in_scope, scoped
from bianzhi.divisions.errors import DIVISION_NOT_FOUND
from bianzhi.divisions.models import Division

from . import errors, totp
from .choices import Role
from .models import SYSTEM_USERNAME, ApiToken, TotpDevice, User
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


# ---------------------------------------------------------------------------------------------
# The second factor (TOTP, see accounts.totp)


def _totp_entry(action: str, user: User, after: dict[str, Any] | None = None) -> audit.Entry:
    from .login_policy import _entry

    return _entry(action, user.username, user, {"username": user.username, **(after or {})})


def _locked_error(user: User) -> BianzhiError:
    from .login_policy import minutes_left

    return BianzhiError(errors.ACCOUNT_LOCKED, field="code", params={"minutes": minutes_left(user.username)})


def _refuse_code(user: User, *, stage: str, reason: str, count: bool) -> BianzhiError:
    """Audit a refused code (and count it towards the lock-out during a log-in); the error to raise."""
    from .login_policy import register_failure

    detail = {"stage": stage, "reason": reason}
    if count:
        if register_failure(user.username, action="auth.totp_failed", detail=detail):
            return _locked_error(user)
    else:
        with transaction.atomic():
            audit.record(user, _totp_entry("auth.totp_failed", user, detail))
    code = {"replayed": errors.TOTP_REPLAYED, "unreadable": errors.TOTP_UNREADABLE}.get(reason, errors.TOTP_INVALID)
    return BianzhiError(code, field="code")


def _check_code(device: TotpDevice, code: str) -> tuple[int | None, str, bool]:
    """(accepted step, refusal reason, stored under the current key) of a code for a device."""
    try:
        decrypted = totp.decrypt_secret(device.secret, device.user_id)
    except totp.SecretUnreadable:
        return None, "unreadable", True
    step = totp.matching_step(decrypted.secret, code)
    if step is None:
        return None, "invalid", decrypted.current_key
    if device.last_step is not None and step <= device.last_step:
        return None, "replayed", decrypted.current_key
    if not decrypted.current_key:  # written under an older key: re-encrypt under the current one
        device.secret = totp.encrypt_secret(decrypted.secret, device.user_id)
    return step, "", decrypted.current_key


def totp_enrolment_start(*, user: User) -> tuple[str, str]:
    """The secret (and its ``otpauth://`` URI) the user adds to an authenticator app.

    Creates the unconfirmed device, or answers the secret of the one already started, so a
    reload of the page shows the same secret. Nothing counts until :func:`totp_enrol_confirm`.
    """
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(user=user).first()
        if device is not None and device.confirmed_at is not None:
            raise BianzhiError(errors.TOTP_ALREADY_ENROLLED, field="user", value=user.username)
        secret = None
        if device is not None:
            try:
                secret = totp.decrypt_secret(device.secret, user.pk).secret
            except totp.SecretUnreadable:
                secret = None
        if secret is None:
            secret = totp.new_secret()
            if device is None:
                try:
                    with transaction.atomic():  # a second request of the same user may have created it
                        TotpDevice.objects.create(user=user, secret=totp.encrypt_secret(secret, user.pk))
                except IntegrityError:
                    return totp_enrolment_start(user=user)
            else:
                device.secret = totp.encrypt_secret(secret, user.pk)
                device.save(update_fields=["secret"])
    return secret, totp.provisioning_uri(secret, user.username)


def totp_enrol_confirm(*, user: User, code: str, during_login: bool) -> TotpDevice:
    """Confirm the enrolment with the first code the app shows; audited ``auth.totp_enrolled``.

    During a log-in (``during_login``) a wrong code counts towards the lock-out like a wrong
    password, and a locked user name is refused whatever the code.
    """
    from .login_policy import is_locked

    if during_login and is_locked(user.username):
        raise _refuse_code(user, stage="enrol", reason="locked", count=True)
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(user=user).first()
        if device is None:
            raise BianzhiError(errors.TOTP_NOT_STARTED, field="code")
        if device.confirmed_at is not None:
            raise BianzhiError(errors.TOTP_ALREADY_ENROLLED, field="code")
        step, reason, _current = _check_code(device, code)
        if step is not None:
            now = timezone.now()
            device.confirmed_at = now
            device.last_step = step
            device.last_used_at = now
            device.save()
            audit.record(user, _totp_entry("auth.totp_enrolled", user))
            return device
    raise _refuse_code(user, stage="enrol", reason=reason, count=during_login)


def totp_verify(*, user: User, code: str) -> TotpDevice:
    """The second step of a log-in: the code of the user's device; audited ``auth.totp_verified``.

    Refused (and counted towards the lock-out, audited ``auth.totp_failed``): a wrong code, a
    code already used (its time step is not later than the last accepted one), any code while
    the user name is locked.
    """
    from .login_policy import is_locked

    if is_locked(user.username):
        raise _refuse_code(user, stage="verify", reason="locked", count=True)
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(user=user, confirmed_at__isnull=False).first()
        if device is None:
            raise BianzhiError(errors.TOTP_NOT_ENROLLED, field="code")
        step, reason, _current = _check_code(device, code)
        if step is not None:
            device.last_step = step
            device.last_used_at = timezone.now()
            device.save()
            audit.record(user, _totp_entry("auth.totp_verified", user))
            return device
    raise _refuse_code(user, stage="verify", reason=reason, count=True)


@transaction.atomic
def totp_reset(*, actor: Any, user_id: Any) -> User:
    """Remove a user's second factor (lost phone); an administrator of the user's jurisdiction.

    The user's sessions end at their next request (they were opened with the removed device);
    a user whose role requires a second factor enrols again at the next log-in. Audited
    ``auth.totp_reset``.
    """
    from bianzhi.common.errors import NOT_FOUND

    require(actor, "user.manage")
    try:
        user = scoped(User.objects.select_for_update(), actor).filter(pk=int(user_id)).first()
    except (TypeError, ValueError):
        user = None
    if user is None or user.username == SYSTEM_USERNAME:
        raise BianzhiError(NOT_FOUND, field="user", value=user_id)
    device = TotpDevice.objects.filter(user=user).first()
    if device is None:
        raise BianzhiError(errors.TOTP_NOT_ENROLLED, field="user", value=user.username)
    before = {"enrolled_at": device.confirmed_at, "last_used_at": device.last_used_at}
    device.delete()
    audit.record(actor, audit.entry_for("auth.totp_reset", user, scope_path=user.jurisdiction_path,
                                        before=before, after={"username": user.username}))
    return user


def totp_rekey(*, actor: Any) -> tuple[int, int]:
    """Re-encrypt every stored TOTP secret that is not under the current key (after
    ``BIANZHI_PII_KEY`` was set or changed); answers (re-encrypted, unreadable). An unreadable
    secret stays as it is: its user needs a reset. Audited ``auth.totp_rekey`` when anything changed."""
    from django.conf import settings

    require(actor, "user.manage")
    done = unreadable = 0
    current = totp.current_key_id()
    with transaction.atomic():
        for device in TotpDevice.objects.select_for_update().order_by("pk"):
            if totp.key_id_of(device.secret) == current:
                continue
            try:
                plain = totp.decrypt_secret(device.secret, device.user_id).secret
            except totp.SecretUnreadable:
                unreadable += 1
                continue
            device.secret = totp.encrypt_secret(plain, device.user_id)
            device.save(update_fields=["secret"])
            done += 1
        if done or unreadable:
            province = Division.objects.filter(code=settings.BIANZHI_PROVINCE_CODE).values_list(
                "path", flat=True).first() or ""
            audit.record(actor, audit.Entry(action="auth.totp_rekey", scope_path=province,
                                            object_type="accounts.totpdevice",
                                            after={"reencrypted": done, "unreadable": unreadable, "key_id": current}))
    return done, unreadable
