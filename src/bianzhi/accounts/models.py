"""Users: one role, one jurisdiction, and for unit operators one unit (requirement X2)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .choices import Role

SYSTEM_USERNAME = "system"


class User(AbstractUser):
    SCOPE_PATH_FIELD = "jurisdiction_path"
    SCOPE_UNIT_FIELD = "unit"

    display_name = models.CharField(max_length=50, blank=True, verbose_name=_("display name"))
    role = models.CharField(max_length=32, choices=Role.choices, verbose_name=_("role"))
    jurisdiction = models.ForeignKey(
        "divisions.Division", null=True, blank=True, on_delete=models.PROTECT, related_name="users",
        verbose_name=_("jurisdiction"),
    )
    jurisdiction_path = models.CharField(max_length=200, blank=True, db_index=True, verbose_name=_("path"))
    unit = models.ForeignKey(
        "orgs.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="operators",
        verbose_name=_("unit"),
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(
                condition=~Q(role="unit_operator") | Q(unit__isnull=False),
                name="unit_operator_has_unit",
                violation_error_message=_("A unit operator must be bound to a unit."),
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def is_unit_bound(self) -> bool:
        return self.role == Role.UNIT_OPERATOR

    @property
    def role_label(self) -> str:
        return str(Role(self.role).label) if self.role else ""


class ApiToken(models.Model):
    """A personal API token (``Authorization: Bearer bz_<prefix>_<secret>``).

    Only the SM3 digest of the secret is stored; the plaintext is shown once, when the
    token is created. A token acts exactly as its user: same role, same jurisdiction.
    """

    SCOPE_PATH_FIELD = "user__jurisdiction_path"
    SCOPE_UNIT_FIELD = None

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user"))
    name = models.CharField(max_length=100, blank=True, verbose_name=_("name"))
    prefix = models.CharField(max_length=8, unique=True, verbose_name=_("prefix"))
    secret_hash = models.CharField(max_length=64, verbose_name=_("secret hash"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    expires_at = models.DateTimeField(null=True, blank=True, verbose_name=_("expires at"))
    last_used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last used at"))
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("revoked at"))

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"bz_{self.prefix}…" + (f" ({self.name})" if self.name else "")


class LoginAttempt(models.Model):
    """Failed log-ins counted per user name (known or not), and the lock they lead to.

    See :mod:`bianzhi.accounts.login_policy`. The row is reset by a successful log-in and
    by the first failure after a lock has run out.
    """

    username = models.CharField(max_length=150, unique=True, verbose_name=_("user name"))
    failed_count = models.PositiveIntegerField(default=0, verbose_name=_("failed log-ins"))
    last_failed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last failed log-in"))
    locked_until = models.DateTimeField(null=True, blank=True, verbose_name=_("locked until"))

    class Meta:
        verbose_name = _("log-in attempt")
        verbose_name_plural = _("log-in attempts")

    def __str__(self) -> str:
        return self.username


class PasswordHistory(models.Model):
    """The hash of every password a user was given (the last few are kept), newest last."""

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="password_history", verbose_name=_("user")
    )
    password_hash = models.CharField(max_length=128, verbose_name=_("password hash"))
    created_at = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name=_("set at"))

    class Meta:
        verbose_name = _("password history entry")
        verbose_name_plural = _("password history")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.user_id} {self.created_at:%Y-%m-%d %H:%M}"


class TotpDevice(models.Model):
    """A user's second factor: a TOTP secret (RFC 6238, 6 digits, 30 s) in an authenticator app.

    The secret is stored encrypted (SM4-GCM, see :mod:`bianzhi.accounts.totp`). A device
    counts once ``confirmed_at`` is set, i.e. after the first code from the app was accepted.
    ``last_step`` is the time step of the last accepted code: a code of that step or an
    earlier one is refused, so a code cannot be replayed within its window.
    """

    SCOPE_PATH_FIELD = "user__jurisdiction_path"
    SCOPE_UNIT_FIELD = None

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="totp_device", verbose_name=_("user"))
    secret = models.CharField(max_length=200, verbose_name=_("secret (encrypted)"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    confirmed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("enrolled at"))
    last_step = models.BigIntegerField(null=True, blank=True, verbose_name=_("last accepted time step"))
    last_used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last used at"))

    class Meta:
        verbose_name = _("second factor")
        verbose_name_plural = _("second factors")

    def __str__(self) -> str:
        return f"TOTP {self.user_id}"
