"""Small presentation helpers: thousands separators, dates in prose, paging links.

``{% load bianzhi %}`` then ``{{ n|num }}`` → ``12,345`` (the zh-hans locale of Django has
no thousands separator, the house style wants one), ``{{ d|date_zh }}`` → ``2026年11月26日``,
``{% page_url listing 3 %}`` → the list's query string for page 3.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def num(value: Any) -> str:
    """An integer with thousands separators; blanks stay blank, other text passes through."""
    if value is None or value == "":
        return ""
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


@register.filter
def date_zh(value: Any) -> str:
    """A date for prose: 2026年11月26日 (datetimes in the local time zone)."""
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
        value = value.date()
    if not isinstance(value, dt.date):
        return "" if value is None else str(value)
    return f"{value.year}年{value.month}月{value.day}日"


@register.simple_tag
def page_url(listing: Any, number: int) -> str:
    return listing.page_url(number)


_SELECTS = ("select", "selectmultiple")
_CHECKS = ("checkbox", "radio")


@register.filter
def bz_widget(field: Any) -> str:
    """Render a bound form field with the Bootstrap class its widget needs (and is-invalid)."""
    widget = field.field.widget
    kind = getattr(widget, "input_type", "") or widget.__class__.__name__.lower()
    if getattr(widget, "option_template_name", None) and kind in _CHECKS:
        # a radio or checkbox list: Django puts the class on the wrapper too, so style the list instead
        css = "bz-choices"
    else:
        css = "form-select" if kind in _SELECTS else "form-check-input" if kind in _CHECKS else "form-control"
    if field.errors:
        css += " is-invalid"
    attrs = {"class": f"{widget.attrs.get('class', '')} {css}".strip()}
    if field.errors:
        attrs["aria-invalid"] = "true"
    if field.help_text:
        attrs["aria-describedby"] = f"{field.auto_id}_help"
    return field.as_widget(attrs=attrs)


@register.simple_tag
def sort_url(listing: Any, key: str) -> str:
    return listing.sort_links.get(key, "")


@register.filter
def money(value: Any) -> str:
    """An amount in yuan with thousands separators and two decimals (``1,234.50``); blanks stay
    blank, text that is not a number passes through."""
    if value is None or value == "":
        return ""
    try:
        return f"{decimal.Decimal(str(value)):,.2f}"
    except (decimal.InvalidOperation, ValueError):
        return str(value)
