"""Applications and approvals over the API (/api/v1/cases, /api/v1/processes,
/api/v1/notifications): submit, act, withdraw, revise and read cases — scoped like
everything else (a case outside the caller's jurisdiction answers 404 exactly like a
missing one). Attachments are uploaded on the pages."""


import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from bianzhi.common.api import ERRORS, Id, Paged, UnitRef, stable, unit_ref

from . import selectors, services
from .choices import CaseStatus, EventKind
from .kinds import kind_for
from .models import Case

router = Router(tags=["approvals"])


class _CaseFields(Schema):
    id: int
    number: str
    kind: str
    title: str
    unit: UnitRef | None
    jurisdiction: str
    applicant: str
    status: str
    status_label: str
    round: int
    submitted_at: dt.datetime
    decided_at: dt.datetime | None
    result_ref: str
    process_version: int


class CaseOut(_CaseFields):
    """A case in a list (resolved from the model)."""

    @staticmethod
    def resolve_unit(obj: Case) -> Any:
        return unit_ref(obj.unit)

    @staticmethod
    def resolve_jurisdiction(obj: Case) -> str:
        return obj.jurisdiction.code

    @staticmethod
    def resolve_applicant(obj: Case) -> str:
        return obj.applicant.username

    @staticmethod
    def resolve_status_label(obj: Case) -> str:
        return str(CaseStatus(obj.status).label)

    @staticmethod
    def resolve_process_version(obj: Case) -> int:
        return obj.process.version


class Fact(Schema):
    label: str
    value: str


class StepOut(Schema):
    stage: str
    code: str
    name: str
    department: str
    role: str
    state: str
    due_on: dt.date | None
    actor: str | None
    acted_at: dt.datetime | None
    opinion: str


class EventOut(Schema):
    seq: int
    kind: str
    kind_label: str
    step: str | None
    actor: str | None
    opinion: str
    at: dt.datetime
    attachments: list[str]


class AllowedOut(Schema):
    step: str | None
    actions: list[str]
    return_to: list[str]
    opinion_required: bool
    can_withdraw: bool
    can_revise: bool


class CaseDetailOut(_CaseFields):
    """One case with what it asks for, its process, its trail and what the caller may do."""

    payload: dict[str, Any]
    facts: list[Fact]
    steps: list[StepOut]
    events: list[EventOut]
    allowed: AllowedOut


def case_detail(request: HttpRequest, case: Case) -> dict[str, Any]:
    handler = kind_for(case.kind)
    allowed = selectors.allowed_for(request.user, case)
    events = []
    for e in case.events.select_related("actor", "step").prefetch_related("attachments"):
        events.append({"seq": e.seq, "kind": e.kind, "kind_label": str(EventKind(e.kind).label),
                       "step": e.step.code if e.step else None, "actor": e.actor.username if e.actor else None,
                       "opinion": e.opinion, "at": e.at, "attachments": [a.filename for a in e.attachments.all()]})
    steps = [{"stage": v.stage, "code": v.code, "name": v.name, "department": v.department, "role": v.role,
              "state": v.state, "due_on": v.row.due_on if v.row else None,
              "actor": v.row.actor.username if v.row and v.row.actor else None,
              "acted_at": v.row.acted_at if v.row else None, "opinion": v.row.opinion if v.row else ""}
             for v in selectors.process_view(case)]
    return {
        **{f: getattr(case, f) for f in ("id", "number", "kind", "title", "status", "round", "submitted_at",
                                          "decided_at", "result_ref", "payload")},
        "unit": unit_ref(case.unit), "jurisdiction": case.jurisdiction.code, "applicant": case.applicant.username,
        "status_label": str(CaseStatus(case.status).label), "process_version": case.process.version,
        "facts": [{"label": k, "value": v} for k, v in (handler.facts(case) if handler else [])],
        "steps": steps, "events": events,
        "allowed": {"step": allowed.step.code if allowed.step else None, "actions": allowed.actions,
                    "return_to": [t for t, _label in allowed.return_targets],
                    "opinion_required": allowed.opinion_required, "can_withdraw": allowed.can_withdraw,
                    "can_revise": allowed.can_revise},
    }


class CaseFilter(Schema):
    status: Literal["", "in_review", "returned", "approved", "rejected", "withdrawn"] = ""
    kind: str = ""
    unit: Id | None = None
    q: str = ""


@router.get("/cases", response={200: list[CaseOut], **ERRORS}, summary="Cases of my jurisdiction")
@paginate(Paged)
def case_list(request: HttpRequest, filters: Query[CaseFilter]) -> Any:
    return stable(selectors.cases_in_scope(actor=request.user, **filters.model_dump()).select_related("process"))


class InboxItemOut(Schema):
    case: CaseOut
    step: str
    step_name: str
    department: str
    due_on: dt.date
    overdue: bool


@router.get("/cases/inbox", response={200: list[InboxItemOut], **ERRORS}, summary="My pending steps (待办)")
def case_inbox(request: HttpRequest) -> Any:
    today = timezone.localdate()
    return [{"case": s.case, "step": s.code, "step_name": s.name, "department": s.department, "due_on": s.due_on,
             "overdue": selectors.overdue(s, today)}
            for s in sorted(selectors.pending_steps(actor=request.user),
                            key=lambda s: (not selectors.overdue(s, today), s.due_on, s.pk))]


@router.get("/cases/mine", response={200: list[CaseOut], **ERRORS}, summary="Applications I submitted")
@paginate(Paged)
def case_mine(request: HttpRequest) -> Any:
    return stable(selectors.my_cases(actor=request.user).select_related("process", "jurisdiction", "applicant"))


@router.get("/cases/{int:id}", response={200: CaseDetailOut, **ERRORS}, summary="One case with its trail")
def case_get(request: HttpRequest, id: int) -> Any:
    return case_detail(request, selectors.get_case(actor=request.user, pk=id))


class HireIn(Schema):
    unit: int | None = None
    situation: str
    post_class: str
    work_type: str
    quantity: int
    post_names: list[str]
    funding_source: str
    monthly_cost: str = ""
    reason: str


class CapChangeIn(Schema):
    unit: int | None = None
    post_class: str = ""
    cap: int
    reason: str


def _submitted(request: HttpRequest, kind: str, payload: Schema) -> Any:
    case = services.case_submit(actor=request.user, kind=kind, data=payload.model_dump())
    return Status(201, case_detail(request, selectors.get_case(actor=request.user, pk=case.pk)))


@router.post("/cases/hire", response={201: CaseDetailOut, **ERRORS}, summary="Submit a hire application (用人申请)")
def case_submit_hire(request: HttpRequest, payload: HireIn) -> Any:
    return _submitted(request, "hire", payload)


@router.post("/cases/cap-change", response={201: CaseDetailOut, **ERRORS},
             summary="Submit a cap change application (规模上限调整申请)")
def case_submit_cap_change(request: HttpRequest, payload: CapChangeIn) -> Any:
    return _submitted(request, "cap_change", payload)


class ActIn(Schema):
    step: str
    action: Literal["approve", "return", "reject"]
    opinion: str = ""
    return_to: str = ""
    extras: dict[str, str] = Field({}, description="what the kind asks of the step beyond the opinion, "
                                                   "e.g. similarity_reason at a body set-up's establishment step")


@router.post("/cases/{int:id}/act", response={200: CaseDetailOut, **ERRORS},
             summary="Decide my step: approve, return for revision, reject")
def case_act(request: HttpRequest, id: int, payload: ActIn) -> Any:
    case = selectors.get_case(actor=request.user, pk=id)
    services.case_act(actor=request.user, case_id=case.pk, **payload.model_dump())
    return case_detail(request, selectors.get_case(actor=request.user, pk=id))


class WithdrawIn(Schema):
    reason: str = ""


@router.post("/cases/{int:id}/withdraw", response={200: CaseDetailOut, **ERRORS},
             summary="Withdraw my application before the decision")
def case_withdraw(request: HttpRequest, id: int, payload: WithdrawIn) -> Any:
    case = selectors.get_case(actor=request.user, pk=id)
    services.case_withdraw(actor=request.user, case_id=case.pk, reason=payload.reason)
    return case_detail(request, selectors.get_case(actor=request.user, pk=id))


class ResubmitIn(Schema):
    changes: dict[str, Any] = {}
    note: str = ""


@router.post("/cases/{int:id}/resubmit", response={200: CaseDetailOut, **ERRORS},
             summary="Revise a returned application and send it back")
def case_resubmit(request: HttpRequest, id: int, payload: ResubmitIn) -> Any:
    case = selectors.get_case(actor=request.user, pk=id)
    services.case_resubmit(actor=request.user, case_id=case.pk, data=payload.changes, note=payload.note)
    return case_detail(request, selectors.get_case(actor=request.user, pk=id))


class ProcessOut(Schema):
    id: int
    code: str
    name: str
    jurisdiction: str
    version: int
    definition: dict[str, Any]
    source_document: str

    @staticmethod
    def resolve_jurisdiction(obj: Any) -> str:
        return obj.jurisdiction.code if obj.jurisdiction_id else ""


@router.get("/processes", response={200: list[ProcessOut], **ERRORS}, summary="Approval processes in force")
def process_list(request: HttpRequest) -> Any:
    return selectors.processes_in_force(actor=request.user)


class ProcessIn(Schema):
    code: str
    jurisdiction: str
    name: str = ""
    definition: dict[str, Any]
    source_document: str


@router.post("/processes", response={201: ProcessOut, **ERRORS},
             summary="A jurisdiction's own version of a process (running cases keep theirs)")
def process_define(request: HttpRequest, payload: ProcessIn) -> Any:
    return Status(201, services.process_define(actor=request.user, **payload.model_dump()))


class NotificationOut(Schema):
    id: int
    case: int
    case_number: str
    kind: str
    step_name: str
    created_at: dt.datetime
    read_at: dt.datetime | None

    @staticmethod
    def resolve_case(obj: Any) -> int:
        return obj.case_id

    @staticmethod
    def resolve_case_number(obj: Any) -> str:
        return obj.case.number


@router.get("/notifications", response={200: list[NotificationOut], **ERRORS}, summary="My notifications")
@paginate(Paged)
def notification_list(request: HttpRequest, unread: bool = False) -> Any:
    return stable(selectors.notifications_for(actor=request.user, unread=unread))


class ReadIn(Schema):
    ids: list[Id] | None = None


class ReadOut(Schema):
    marked: int


@router.post("/notifications/read", response={200: ReadOut, **ERRORS}, summary="Mark notifications read")
def notification_read(request: HttpRequest, payload: ReadIn) -> Any:
    return {"marked": services.notifications_read(actor=request.user, ids=payload.ids)}


