"""Form helpers shared by every app's pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms

from .errors import BianzhiError


def add_service_errors(form: forms.BaseForm, exc: BianzhiError, fields: dict[str, str] | None = None) -> None:
    """Put every violation of a service next to its field, the rest on top of the form.

    ``fields`` maps the service's field names to the form's, where they differ.
    """
    fields = fields or {}
    for error in exc.errors:
        name = fields.get(error.field or "", error.field or "")
        target = name if name in form.fields else None
        message = error.message
        if target is None and error.value not in (None, "") and error.field not in form.fields:
            message = f"{message}（{error.value}）"
        form.add_error(target, forms.ValidationError(message, code=error.code))


def call_service(
    form: forms.BaseForm, service: Callable[..., Any], field_map: dict[str, str] | None = None, **kwargs: Any
) -> Any:
    """Call a service; its violations go onto the form (next to their fields) and ``None`` is returned."""
    try:
        return service(**kwargs)
    except BianzhiError as exc:
        add_service_errors(form, exc, field_map)
        return None
