"""Which role may do what: one table, checked by every service and page.

Scope (which objects) is decided by :mod:`bianzhi.common.scoping`; this table decides
only the kind of action.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied

from .choices import Role

ALL_ROLES = frozenset(Role.values)
REVIEWERS = frozenset({Role.ESTABLISHMENT_REVIEWER, Role.ADMINISTRATOR})

PERMISSIONS: dict[str, frozenset[str]] = {
    "division.view": ALL_ROLES,
    "division.change": frozenset({Role.ADMINISTRATOR}),
    "unit.view": ALL_ROLES,
    "unit.change": REVIEWERS,
    "unit.import": REVIEWERS,
    "establishment.view": ALL_ROLES,
    "establishment.change": REVIEWERS,
    "person.view": ALL_ROLES,
    "person.change": frozenset({Role.ESTABLISHMENT_REVIEWER, Role.ADMINISTRATOR, Role.UNIT_OPERATOR}),
    # The full citizen ID number (masked everywhere by default); every unmasked read is audited.
    "person.unmask": frozenset({Role.ESTABLISHMENT_REVIEWER, Role.HR_REVIEWER, Role.ADMINISTRATOR}),
    "user.manage": frozenset({Role.ADMINISTRATOR}),
    "roster.view": ALL_ROLES,
    "roster.change": frozenset({Role.UNIT_OPERATOR, Role.ESTABLISHMENT_REVIEWER, Role.ADMINISTRATOR}),
    "roster.import_register": frozenset({Role.UNIT_OPERATOR, Role.ESTABLISHMENT_REVIEWER, Role.ADMINISTRATOR}),
    "roster.import_inventory": frozenset({Role.ADMINISTRATOR}),
    "roster.bulk": REVIEWERS,
    "baseline.view": ALL_ROLES,
    "baseline.take": REVIEWERS,
    "cap.change": REVIEWERS,
    "pool.view": ALL_ROLES,
    "pool.change": REVIEWERS,
    "rules.view": ALL_ROLES,
    "rules.change": frozenset({Role.ADMINISTRATOR}),
    "case.view": ALL_ROLES,
    "application.hire": frozenset({Role.UNIT_OPERATOR, Role.ESTABLISHMENT_REVIEWER}),
    "application.cap_change": frozenset({Role.UNIT_OPERATOR, Role.ESTABLISHMENT_REVIEWER}),
    "process.view": frozenset({Role.ADMINISTRATOR, Role.ESTABLISHMENT_REVIEWER, Role.SUPERVISOR}),
    "process.change": frozenset({Role.ADMINISTRATOR}),
    "funding.view": ALL_ROLES,
    "funding.change": frozenset({Role.FINANCE_REVIEWER, Role.ADMINISTRATOR}),
    "purchase.change": frozenset({Role.UNIT_OPERATOR, Role.FINANCE_REVIEWER, Role.ADMINISTRATOR}),
    "application.funding_plan": frozenset({Role.UNIT_OPERATOR, Role.FINANCE_REVIEWER}),
    "stats.view": ALL_ROLES,
    "stats.change": frozenset({Role.ADMINISTRATOR}),
    "alert.view": ALL_ROLES,
    "alert.handle": frozenset({Role.UNIT_OPERATOR, Role.ESTABLISHMENT_REVIEWER, Role.FINANCE_REVIEWER,
                               Role.ADMINISTRATOR}),
    "body.view": ALL_ROLES,
    "application.body": frozenset({Role.UNIT_OPERATOR, Role.ESTABLISHMENT_REVIEWER}),
    "body.import": frozenset({Role.ADMINISTRATOR}),
    "document.view": ALL_ROLES,
    "document.issue": frozenset({Role.ISSUING_OFFICE, Role.ADMINISTRATOR}),
    "document.void": frozenset({Role.ISSUING_OFFICE, Role.ADMINISTRATOR}),
    "audit.view": frozenset({Role.ADMINISTRATOR, Role.SUPERVISOR, Role.ESTABLISHMENT_REVIEWER}),
}


def can(actor: Any, action: str) -> bool:
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return False
    return actor.role in PERMISSIONS[action]


def require(actor: Any, action: str) -> None:
    if not can(actor, action):
        raise PermissionDenied(action)
