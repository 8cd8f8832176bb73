"""Filters for printed documents: ``{% load documents %}``.

``{{ d|cn_date }}`` → ``2026年1月5日``: Arabic numerals without leading zeros, as GB/T 9704
writes the date of a document; blank for ``None``.
"""

from __future__ import annotations

from typing import Any

from django import template

from bianzhi.common.templatetags.bianzhi import date_zh

register = template.Library()


@register.filter
def cn_date(value: Any) -> str:
    """A date as 2026年11月26日 (no leading zeros; datetimes in the local time zone); "" for None."""
    if value is None or value == "":
        return ""
    return date_zh(value)
