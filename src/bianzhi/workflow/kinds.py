"""The kinds of application the engine runs, each a small class in the app that owns the
domain (staffing for hires and caps, bodies for the coordinating bodies). The engine calls
``clean`` on submit and resubmit, ``facts`` and ``review`` for the case page, and ``effect``
in the transaction of the final approval. Optionally, ``decision_fields(case=, step=)`` names
what a step's decision asks for beyond the opinion (``(name, label, help)``, shown on the case
page) and ``decision_errors(case=, step=, action=, extras=)`` checks those values."""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from django.utils.module_loading import import_string


class CaseKind(Protocol):
    code: str
    #: the PERMISSIONS action a user needs to submit this kind
    permission: str

    def label(self) -> str: ...

    def clean(self, *, actor: Any, data: dict[str, Any], today: dt.date, case: Any = None) -> tuple[Any, dict[str, Any], str]:
        """Validate an application: ``(unit, payload, title)`` or BianzhiError with every violation."""
        ...

    def facts(self, case: Any) -> list[tuple[str, str]]:
        """What the application asks for, as (label, value) rows for the page and the form."""
        ...

    def review(self, case: Any, today: dt.date) -> list[tuple[str, str, list[tuple[str, str]]]]:
        """What each department sees while reviewing: ``(panel title, role it is for, rows)``."""
        ...

    def effect(self, *, case: Any, actor: Any, today: dt.date) -> str:
        """Make the decision take effect (re-checking under locks); returns a reference."""
        ...


KINDS: dict[str, str] = {
    "hire": "bianzhi.staffing.applications.HireApplication",
    "cap_change": "bianzhi.staffing.applications.CapChangeApplication",
    "funding_plan": "bianzhi.funds.applications.FundingPlanApplication",
    "body_setup": "bianzhi.bodies.applications.BodySetupApplication",
    "body_rename": "bianzhi.bodies.applications.BodyRenameApplication",
    "body_merge": "bianzhi.bodies.applications.BodyMergeApplication",
    "body_revoke": "bianzhi.bodies.applications.BodyRevokeApplication",
    "body_duties": "bianzhi.bodies.applications.BodyDutiesApplication",
    "body_members": "bianzhi.bodies.applications.BodyMembersApplication",
    "body_task_group": "bianzhi.bodies.applications.BodyTaskGroupApplication",
}


def kind_for(code: str) -> CaseKind | None:
    dotted = KINDS.get(code)
    return import_string(dotted)() if dotted else None
