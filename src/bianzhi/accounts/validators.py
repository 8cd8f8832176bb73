from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


class CharacterClassValidator:
    """At least three of: lower-case letters, upper-case letters, digits, other characters."""

    def __init__(self, min_classes: int = 3) -> None:
        self.min_classes = min_classes

    def validate(self, password: str, user: Any = None) -> None:
        classes = [
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        ]
        if sum(classes) < self.min_classes:
            raise ValidationError(
                _("The password must contain at least %(n)d of: lower-case letters, upper-case letters, "
                  "digits, other characters.") % {"n": self.min_classes},
                code="password_classes",
            )

    def get_help_text(self) -> str:
        return _("At least %(n)d of: lower-case letters, upper-case letters, digits, other characters.") % {
            "n": self.min_classes
        }


class PasswordHistoryValidator:
    """Not one of the user's last ``count`` passwords (the current one included).

    Its ``password_changed`` hook, which Django calls after every save of a new password,
    records the hash in :class:`~bianzhi.accounts.models.PasswordHistory`.
    """

    def __init__(self, count: int = 5) -> None:
        self.count = count

    def validate(self, password: str, user: Any = None) -> None:
        if user is None or getattr(user, "pk", None) is None:
            return
        from django.contrib.auth.hashers import check_password

        from .models import PasswordHistory

        hashes = list(
            PasswordHistory.objects.filter(user_id=user.pk).order_by("-created_at", "-pk")
            .values_list("password_hash", flat=True)[: self.count]
        )
        current = getattr(user, "password", "")
        if current and current not in hashes:
            hashes = [current, *hashes][: self.count]
        if any(check_password(password, encoded) for encoded in hashes):
            raise ValidationError(
                _("The password must not be one of your last %(n)d passwords.") % {"n": self.count},
                code="password_reused",
            )

    def password_changed(self, password: str, user: Any = None) -> None:
        if user is not None and getattr(user, "pk", None) is not None:
            from .login_policy import record_password

            record_password(user, self.count)

    def get_help_text(self) -> str:
        return _("Not one of your last %(n)d passwords.") % {"n": self.count}
