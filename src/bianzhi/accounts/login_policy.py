"""The login policy: lock-out after repeated failures, password expiry, login audit events.

- Failed log-ins are counted per user name (:class:`~bianzhi.accounts.models.LoginAttempt`),
  whether or not such a user exists, so the lock reveals nothing about existence. The
  ``BIANZHI_LOCKOUT_FAILURES``-th consecutive failure locks the name for
  ``BIANZHI_LOCKOUT_MINUTES``; during the lock :class:`LockoutModelBackend` refuses every
  attempt, the right password included, without counting it or extending the lock. A
  successful log-in resets the count, and so does the first failure after a lock ran out.
- ``auth.login``, ``auth.login_failed``, ``auth.logout`` and ``auth.locked`` are audit events,
  written from Django's ``user_logged_in`` / ``user_login_failed`` / ``user_logged_out``
  signals. A failure records the user name tried, never the password. A wrong second-factor
  code (:mod:`bianzhi.accounts.totp`) counts towards the same lock (``auth.totp_failed``).
- With ``BIANZHI_PASSWORD_MAX_AGE_DAYS`` > 0, :class:`PasswordExpiryMiddleware` sends a user
  whose password is older than that to the password change page.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from bianzhi.common import audit

from .models import LoginAttempt, PasswordHistory, User

USERNAME_MAX = 150


def lockout_failures() -> int:
    return int(getattr(settings, "BIANZHI_LOCKOUT_FAILURES", 5))


def lockout_minutes() -> int:
    return int(getattr(settings, "BIANZHI_LOCKOUT_MINUTES", 30))


def password_max_age_days() -> int:
    return int(getattr(settings, "BIANZHI_PASSWORD_MAX_AGE_DAYS", 0))


def locked_until(username: str) -> dt.datetime | None:
    """The end of the lock on this user name, or None when it is not locked now."""
    until = (
        LoginAttempt.objects.filter(username=username[:USERNAME_MAX], locked_until__gt=timezone.now())
        .values_list("locked_until", flat=True)
        .first()
    )
    return until


def is_locked(username: str) -> bool:
    return locked_until(username) is not None


def minutes_left(username: str) -> int:
    until = locked_until(username)
    if until is None:
        return 0
    return max(1, math.ceil((until - timezone.now()).total_seconds() / 60))


class LockoutModelBackend(ModelBackend):
    """Django's model backend, refusing a locked user name whatever the password.

    ``PermissionDenied`` stops ``authenticate()`` and sends ``user_login_failed``, which
    audits the attempt.
    """

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        name = username if username is not None else kwargs.get(User.USERNAME_FIELD)
        if name is not None and is_locked(str(name)):
            raise PermissionDenied
        return super().authenticate(request, username=username, password=password, **kwargs)


def _province_path() -> str:
    from bianzhi.divisions.models import Division

    path = Division.objects.filter(code=settings.BIANZHI_PROVINCE_CODE).values_list("path", flat=True).first()
    return path or ""


def _entry(action: str, username: str, user: User | None, after: dict[str, Any]) -> audit.Entry:
    if user is not None:
        return audit.entry_for(action, user, scope_path=user.jurisdiction_path or _province_path(), after=after)
    # An unknown user name: the event belongs to the whole province.
    return audit.Entry(
        action=action, scope_path=_province_path(), object_type="accounts.user", object_repr=username, after=after
    )


def register_failure(username: str, *, action: str = "auth.login_failed", detail: dict[str, Any] | None = None
                     ) -> bool:
    """Count a failed log-in of this user name; lock it at the threshold. Audited.

    A wrong password is ``auth.login_failed``; a wrong second-factor code after the right
    password is ``auth.totp_failed`` (``detail`` says which step and why) and counts the same.
    Answers whether the name is locked now.
    """
    username = username[:USERNAME_MAX]
    now = timezone.now()
    extra = dict(detail or {})
    with transaction.atomic():
        attempt, _ = LoginAttempt.objects.select_for_update().get_or_create(username=username)
        user = User.objects.filter(username=username).first()
        if attempt.locked_until is not None and attempt.locked_until > now:
            # Refused during the lock: audited, neither counted nor extending the lock.
            audit.record(None, _entry(action, username, user, {"username": username, **extra, "locked": True}))
            return True
        if attempt.locked_until is not None:  # a lock that has run out: count afresh
            attempt.failed_count = 0
            attempt.locked_until = None
        attempt.failed_count += 1
        attempt.last_failed_at = now
        entries = [_entry(action, username, user,
                          {"username": username, **extra, "failed_count": attempt.failed_count})]
        threshold = lockout_failures()
        if threshold > 0 and attempt.failed_count >= threshold:
            attempt.locked_until = now + dt.timedelta(minutes=lockout_minutes())
            entries.append(_entry("auth.locked", username, user, {
                "username": username, "failed_count": attempt.failed_count, "locked_until": attempt.locked_until,
            }))
        attempt.save()
        audit.record_many(None, entries)
    return attempt.locked_until is not None


@receiver(user_login_failed, dispatch_uid="bianzhi.accounts.login_failed")
def _on_login_failed(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None,
                     **kwargs: Any) -> None:
    username = credentials.get("username") or credentials.get(User.USERNAME_FIELD)
    if username:
        register_failure(str(username))


@receiver(user_logged_in, dispatch_uid="bianzhi.accounts.logged_in")
def _on_logged_in(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    with transaction.atomic():
        LoginAttempt.objects.filter(username=user.username).delete()
        audit.record(user, _entry("auth.login", user.username, user, {"username": user.username}))


@receiver(user_logged_out, dispatch_uid="bianzhi.accounts.logged_out")
def _on_logged_out(sender: Any, request: HttpRequest | None, user: User | None, **kwargs: Any) -> None:
    if user is None or not getattr(user, "pk", None):
        return
    with transaction.atomic():
        audit.record(user, _entry("auth.logout", user.username, user, {"username": user.username}))


# ----------------------------------------------------------------------------------------------
# Password history and expiry


def record_password(user: User, keep: int) -> None:
    """Remember the user's current password hash; keep only the newest ``keep`` entries."""
    if not user.pk or not user.has_usable_password():
        return
    with transaction.atomic():
        PasswordHistory.objects.create(user=user, password_hash=user.password)
        stale = PasswordHistory.objects.filter(user=user).order_by("-created_at", "-pk").values_list("pk", flat=True)
        old = list(stale[max(keep, 1):])
        if old:
            PasswordHistory.objects.filter(pk__in=old).delete()


def password_set_at(user: User) -> dt.datetime:
    last = (
        PasswordHistory.objects.filter(user=user).order_by("-created_at", "-pk")
        .values_list("created_at", flat=True).first()
    )
    return last or user.date_joined


def password_expired(user: Any) -> bool:
    days = password_max_age_days()
    if days <= 0 or not getattr(user, "is_authenticated", False):
        return False
    return password_set_at(user) + dt.timedelta(days=days) <= timezone.now()


class PasswordExpiryMiddleware:
    """Sends a logged-in user whose password has expired to the password change page."""

    EXEMPT_PREFIXES = ("/static/", "/api/")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if password_max_age_days() > 0 and getattr(request, "user", None) is not None:
            exempt = (reverse("accounts:password_change"), reverse("accounts:logout"), reverse("accounts:login"))
            path = request.path
            if path not in exempt and not path.startswith(self.EXEMPT_PREFIXES) and password_expired(request.user):
                return redirect("accounts:password_change")
        return self.get_response(request)
