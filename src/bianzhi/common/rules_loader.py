"""One entry point that loads every default data table; later apps register theirs here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

LOADERS: list[tuple[str, str]] = [
    ("divisions", "bianzhi.divisions.services.divisions_load"),
    ("staffing", "bianzhi.staffing.services.rules_load"),
    ("workflow", "bianzhi.workflow.services.processes_load"),
    ("funds", "bianzhi.funds.services.catalogue_load"),
    ("stats", "bianzhi.stats.services.indicators_load"),
    ("documents", "bianzhi.documents.services.offices_load"),
    ("bodies", "bianzhi.bodies.services.rules_load"),
]


def load_all_rules(actor: Any = None) -> dict[str, Any]:
    from django.utils.module_loading import import_string

    results: dict[str, Any] = {}
    for name, dotted in LOADERS:
        loader: Callable[..., Any] = import_string(dotted)
        results[name] = loader(actor=actor)
    return results
