from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def layout(request: HttpRequest) -> dict[str, Any]:
    from bianzhi.accounts.permissions import can

    user = getattr(request, "user", None)
    out: dict[str, Any] = {"can": {action.replace(".", "_"): can(user, action) for action in _MENU_ACTIONS}}
    if user is not None and user.is_authenticated:
        from bianzhi.workflow.selectors import notifications_for, pending_count

        out["pending_count"] = pending_count(user)
        out["unread_count"] = notifications_for(actor=user, unread=True).count()
        from bianzhi.stats.alerts import open_count

        out["open_alerts"] = open_count(user)
    return out


_MENU_ACTIONS = (
    "unit.change", "unit.import", "user.manage", "audit.view", "person.change", "division.change",
    "roster.view", "baseline.view", "pool.view", "roster.bulk", "roster.import_register", "rules.view",
    "case.view", "process.view", "stats.view", "stats.change", "alert.view", "alert.handle", "funding.view", "funding.change", "purchase.change", "application.funding_plan",
    "body.view", "application.body", "body.import", "document.view",
)
