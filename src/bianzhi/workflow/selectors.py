"""Scoped reads of the approvals engine: cases, my inbox (待办), what I did (已办), my
applications, notifications, and what a user may do with a case."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from bianzhi.accounts.permissions import can, require
from bianzhi.common.scoping import get_scoped_or_404, scoped

from . import rules
from .choices import Action, CaseStatus, StepStatus
from .models import Case, Notification, ProcessDefinition, Step


def cases_in_scope(*, actor: Any, status: str = "", kind: str = "", unit: Any = None, q: str = "") -> QuerySet[Case]:
    require(actor, "case.view")
    qs = scoped(Case.objects.select_related("unit", "applicant", "jurisdiction"), actor)
    if status:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    if unit:
        qs = qs.filter(unit_id=unit)
    if q:
        qs = qs.filter(Q(number__icontains=q) | Q(title__icontains=q))
    return qs


def get_case(*, actor: Any, pk: Any) -> Case:
    require(actor, "case.view")
    return get_scoped_or_404(Case.objects.select_related("unit", "applicant", "jurisdiction", "process"), actor,
                             pk=pk)


def _conflicts(actor: Any, case_ids: list[int]) -> dict[int, set[str]]:
    """The departments ``actor`` already acted for, per case."""
    out: dict[int, set[str]] = {}
    for case_id, department in Step.objects.filter(case_id__in=case_ids, actor=actor).values_list(
            "case_id", "department"):
        out.setdefault(case_id, set()).add(department)
    return out


def _pending(actor: Any) -> QuerySet[Step]:
    return (Step.objects.filter(status=StepStatus.ACTIVE, role=actor.role, case__jurisdiction_id=actor.jurisdiction_id,
                                case__status=CaseStatus.IN_REVIEW,
                                case__jurisdiction_path__startswith=actor.jurisdiction.path)
            .exclude(case__applicant=actor))


def pending_steps(*, actor: Any, today: dt.date | None = None) -> list[Step]:
    """My inbox: active steps I may decide now (the applicant's own cases and cases where I acted
    for another department left out), ordered by due date."""
    require(actor, "case.view")
    if actor.jurisdiction_id is None:
        return []
    steps = list(_pending(actor).select_related("case", "case__unit").order_by("due_on", "id"))
    acted = _conflicts(actor, [s.case_id for s in steps])
    return [s for s in steps if not (acted.get(s.case_id, set()) - {s.department})]


def pending_count(actor: Any) -> int:
    """The number in the top bar: the same steps as :func:`pending_steps`, counted lightly."""
    if not can(actor, "case.view") or actor.jurisdiction_id is None:
        return 0
    rows = list(_pending(actor).values_list("case_id", "department"))
    acted = _conflicts(actor, [case_id for case_id, _d in rows])
    return sum(1 for case_id, department in rows if not (acted.get(case_id, set()) - {department}))


def done_steps(*, actor: Any) -> QuerySet[Step]:
    """Steps I decided (已办), newest first — only of cases still in my scope."""
    require(actor, "case.view")
    return (Step.objects.filter(actor=actor, case__in=scoped(Case.objects.all(), actor))
            .select_related("case", "case__unit").order_by("-acted_at"))


def my_cases(*, actor: Any) -> QuerySet[Case]:
    require(actor, "case.view")
    return scoped(Case.objects.filter(applicant=actor), actor).select_related("unit").prefetch_related("steps")


def notifications_for(*, actor: Any, unread: bool = False) -> QuerySet[Notification]:
    qs = Notification.objects.filter(recipient=actor, case__in=scoped(Case.objects.all(), actor))
    if unread:
        qs = qs.filter(read_at__isnull=True)
    return qs.select_related("case")


@dataclass
class StepView:
    """One step of the process as the case page shows it: done, current or still to come."""

    stage: str
    code: str
    name: str
    department: str
    role: str
    state: str  # done / current / pending / cancelled / returned / rejected
    row: Step | None = None


def process_view(case: Case) -> list[StepView]:
    """Every step of the case's process, with the latest row of the current round."""
    latest: dict[str, Step] = {}
    for step in case.steps.filter(round=case.round).order_by("id").select_related("actor"):
        latest[step.code] = step
    out = []
    for stage in case.process.definition["stages"]:
        for spec in stage["steps"]:
            row = latest.get(spec["code"])
            if row is None:
                state = "pending"
            elif row.status == StepStatus.ACTIVE:
                state = "current"
            elif row.status == StepStatus.APPROVED:
                state = "done"
            else:
                state = row.status
            out.append(StepView(stage["name"], spec["code"], spec["name"], spec["department"], spec["role"], state,
                                row))
    return out


@dataclass
class Allowed:
    """What a user may do with a case now (the buttons the case page shows, nothing else)."""

    step: Step | None
    actions: list[str]
    return_targets: list[tuple[str, str]]
    opinion_required: bool
    can_withdraw: bool
    can_revise: bool


def allowed_for(actor: Any, case: Case) -> Allowed:
    can_withdraw = case.applicant_id == actor.pk and case.is_open
    can_revise = case.applicant_id == actor.pk and case.status == CaseStatus.RETURNED
    empty = Allowed(None, [], [], False, can_withdraw, can_revise)
    if case.status != CaseStatus.IN_REVIEW:
        return empty
    acted = set(Step.objects.filter(case=case, actor=actor).values_list("department", flat=True))
    for step in case.steps.filter(status=StepStatus.ACTIVE):
        if rules.who_may_act(rules.ActorFacts(actor.pk, actor.role, actor.jurisdiction_id),
                             rules.StepFacts(step.role, step.department), case_jurisdiction_id=case.jurisdiction_id,
                             applicant_id=case.applicant_id, departments_acted=acted):
            continue
        found = rules.find_step(case.process.definition, step.code)
        if found is None:
            continue
        spec = found[1]
        from .services import _target_label

        targets = [(t, _target_label(case.process.definition, t)) for t in rules.return_targets(spec)]
        return Allowed(step, list(spec["actions"]), targets, rules.opinion_needed(spec, Action.APPROVE),
                       can_withdraw, can_revise)
    return empty


def processes_in_force(*, actor: Any) -> list[ProcessDefinition]:
    """The current process versions that apply to my jurisdiction, and those of the jurisdictions below."""
    require(actor, "process.view")
    path = actor.jurisdiction.path if actor.jurisdiction_id else "\x00"
    return [p for p in ProcessDefinition.objects.filter(is_current=True).select_related("jurisdiction")
            if path.startswith(p.jurisdiction_path) or p.jurisdiction_path.startswith(path)]


def overdue(step: Step, today: dt.date | None = None) -> bool:
    return step.status == StepStatus.ACTIVE and step.due_on < (today or timezone.localdate())
