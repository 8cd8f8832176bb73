"""Forms of the account pages: they parse input; accounts.services decides."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.password_validation import password_validators_help_text_html
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .choices import Role


def division_choices(divisions: Iterable[Any], base_depth: int = 0) -> list[tuple[str, str]]:
    """Select options for divisions, indented by depth below the first one shown."""
    return [(d.code, f"{'　' * max(d.depth - base_depth, 0)}{d.name}（{d.code}）") for d in divisions]


class UserFilterForm(forms.Form):
    STATUS_CHOICES = [("", _("All")), ("active", _("Enabled")), ("inactive", _("Deactivated"))]

    q = forms.CharField(required=False, max_length=50, label=_("User name or full name"))
    role = forms.ChoiceField(required=False, label=_("Role"))
    status = forms.ChoiceField(required=False, choices=STATUS_CHOICES, label=_("Status"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [("", gettext("All roles")), *Role.choices]  # type: ignore[attr-defined]


class UserCreateForm(forms.Form):
    """A new user. The jurisdiction is a plain code field shown as a select of the divisions
    in scope, so the service (not the form) answers a code outside the scope."""

    username = forms.CharField(
        max_length=150,
        label=_("User name"),
        help_text=_("3 to 150 letters, digits and @ . + - _ characters."),
    )
    display_name = forms.CharField(max_length=50, required=False, label=_("Full name"))
    role = forms.ChoiceField(label=_("Role"))
    jurisdiction = forms.CharField(max_length=12, label=_("Jurisdiction"), widget=forms.Select)
    unit = forms.CharField(
        max_length=18,
        required=False,
        label=_("Unit (unified social credit code)"),
        help_text=_("Only for unit operators: the 18-character code of a unit in the chosen jurisdiction."),
    )
    password = forms.CharField(
        label=_("Password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    password_confirm = forms.CharField(
        label=_("Password confirmation"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, divisions: Iterable[Any] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [("", "——"), *Role.choices]  # type: ignore[attr-defined]
        divisions = list(divisions)
        base = min((d.depth for d in divisions), default=0)
        self.fields["jurisdiction"].widget.choices = [("", "——"), *division_choices(divisions, base)]
        self.fields["password"].help_text = password_validators_help_text_html()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (
            data.get("password")
            and data.get("password_confirm")
            and data["password"] != data["password_confirm"]
        ):
            self.add_error("password_confirm", gettext("The two passwords do not match."))
        return data


class TokenCreateForm(forms.Form):
    name = forms.CharField(required=False, max_length=100, label=_("Name"),
                           help_text=_("What the token is for, e.g. the script that uses it."))
    days = forms.IntegerField(required=False, min_value=0, max_value=3650, initial=90, label=_("Valid for (days)"),
                              help_text=_("Leave empty or 0 for a token that never expires."))


class LoginForm(AuthenticationForm):
    """Django's log-in form that says so when the user name is locked (see accounts.login_policy).

    The lock message is the same whatever password was given, right or wrong."""

    locked = False

    def clean(self) -> dict[str, Any]:
        from . import login_policy

        try:
            return super().clean()
        except ValidationError:
            username = self.cleaned_data.get("username")
            if username and login_policy.is_locked(username):
                self.locked = True
                raise ValidationError(
                    gettext("Too many failed log-ins: this account is locked. Try again in %(minutes)d min.")
                    % {"minutes": login_policy.minutes_left(username)},
                    code="locked",
                ) from None
            raise


class TotpCodeForm(forms.Form):
    code = forms.CharField(
        max_length=12, label=_("Verification code"),
        help_text=_("The 6-digit code your authenticator app shows now."),
        widget=forms.TextInput(attrs={
            "autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True,
        }),
    )
