"""Lists: filter bar, sortable columns, paging with a total count, "导出Excel".

A view builds a :class:`Listing` from a scoped queryset and the request; the template
``includes/list_table.html``-style markup reads ``listing.page``, ``listing.total``,
``listing.sort_links`` and ``listing.export_url``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest


@dataclass
class Listing:
    request: HttpRequest
    queryset: QuerySet
    sortable: dict[str, str] = field(default_factory=dict)  # key in URL -> ORM ordering
    default_sort: str = ""
    per_page: int = 50

    def __post_init__(self) -> None:
        sort = self.request.GET.get("sort", self.default_sort)
        key = sort.lstrip("-")
        self.sort = sort if key in self.sortable else self.default_sort
        if self.sort:
            key = self.sort.lstrip("-")
            order = self.sortable[key]
            self.queryset = self.queryset.order_by(("-" if self.sort.startswith("-") else "") + order, "pk")
        paginator = Paginator(self.queryset, self.per_page)
        self.page: Page = paginator.get_page(self.request.GET.get("page"))
        self.total: int = paginator.count

    def _query(self, **changes: Any) -> str:
        params = self.request.GET.copy()
        for k, v in changes.items():
            if v is None:
                params.pop(k, None)
            else:
                params[k] = v
        return "?" + params.urlencode()

    @property
    def export_url(self) -> str:
        return self._query(export="xlsx", page=None)

    def page_url(self, number: int) -> str:
        return self._query(page=number)

    @property
    def sort_links(self) -> dict[str, str]:
        links = {}
        for key in self.sortable:
            links[key] = self._query(sort=("-" + key) if self.sort == key else key, page=None)
        return links

    @property
    def wants_export(self) -> bool:
        return self.request.GET.get("export") == "xlsx"


def query_string(params: dict[str, Any], keys: Sequence[str]) -> str:
    return urlencode({k: params[k] for k in keys if params.get(k)})
