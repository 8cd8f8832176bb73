from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def layout(request: HttpRequest) -> dict[str, Any]:
    from bianzhi.accounts.permissions import can

    user = getattr(request, "user", None)
    return {"can": {action.replace(".", "_"): can(user, action) for action in _MENU_ACTIONS}}


_MENU_ACTIONS = (
    "unit.change", "unit.import", "user.manage", "audit.view", "person.change", "division.change",
    "roster.view", "baseline.view", "pool.view", "roster.bulk", "roster.import_register", "rules.view",
)
