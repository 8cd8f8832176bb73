"""Stable error codes with zh-hans messages, and the exception every service raises.

An error code is English and never changes; its message is translated. Services raise
:class:`BianzhiError` with **all** problems found, so a form, an import report and an API
answer can list every one of them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from django.utils.translation import gettext_lazy as _

_REGISTRY: dict[str, Any] = {}


def define(code: str, message: Any) -> str:
    """Register an error code with its (lazy, translatable) message; returns the code."""
    if code in _REGISTRY and str(_REGISTRY[code]) != str(message):
        raise ValueError(f"error code {code!r} defined twice with different messages")
    _REGISTRY[code] = message
    return code


def message_for(code: str, **params: Any) -> str:
    template = _REGISTRY.get(code)
    if template is None:
        raise KeyError(f"undefined error code {code!r}")
    text = str(template)
    if params:
        with contextlib.suppress(KeyError, TypeError, ValueError):
            text = text % params
    return text


def all_codes() -> dict[str, Any]:
    return dict(_REGISTRY)


@dataclass
class ErrorDetail:
    code: str
    message: str = ""
    field: str | None = None
    value: Any = None
    row: int | None = None
    params: dict[str, Any] = dc_field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.message:
            self.message = message_for(self.code, **self.params)

    def as_dict(self) -> dict[str, Any]:
        value = self.value
        if value is not None and not isinstance(value, (str, int, float, bool)):
            value = str(value)
        return {"row": self.row, "column": self.field, "value": value, "code": self.code, "message": self.message}


class BianzhiError(Exception):
    """One or more violations; nothing was written."""

    status_code = 422

    def __init__(self, errors: list[ErrorDetail] | ErrorDetail | str, **kwargs: Any) -> None:
        if isinstance(errors, str):
            params = kwargs.pop("params", {})
            errors = [ErrorDetail(errors, params=params, **kwargs)]
        elif isinstance(errors, ErrorDetail):
            errors = [errors]
        self.errors: list[ErrorDetail] = list(errors)
        super().__init__("; ".join(f"{e.code}: {e.message}" for e in self.errors))

    @property
    def codes(self) -> list[str]:
        return [e.code for e in self.errors]

    def as_dict(self) -> dict[str, Any]:
        return {"errors": [e.as_dict() for e in self.errors]}


class Collector:
    """Gathers violations and raises them together."""

    def __init__(self) -> None:
        self.errors: list[ErrorDetail] = []

    def add(self, code: str, *, field: str | None = None, value: Any = None, row: int | None = None,
            **params: Any) -> None:
        self.errors.append(ErrorDetail(code, field=field, value=value, row=row, params=params))

    def extend(self, errors: list[ErrorDetail]) -> None:
        self.errors.extend(errors)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise BianzhiError(self.errors)


# Codes shared by every app.
NOT_FOUND = define("not_found", _("The record does not exist or is outside your jurisdiction."))
PERMISSION_DENIED = define("permission_denied", _("Your role does not allow this action."))
REQUIRED = define("required", _("This value is required."))
INVALID_DATE = define("invalid_date", _("Not a valid date (use YYYY-MM-DD)."))
INVALID_INTEGER = define("invalid_integer", _("Must be a whole number of 0 or more."))
INVALID_CHOICE = define("invalid_choice", _("Not one of the allowed values: %(allowed)s."))
TOO_LONG = define("too_long", _("Longer than %(max)s characters."))
DATE_IN_FUTURE = define("date_in_future", _("The date may not be in the future."))
