"""The coordinating bodies over the API (/api/v1/bodies): the registry (filtered, paged), one
body with its members, task groups, history and documents, a body by its code (the check
character validated), the similar-bodies check of a set-up, and the six applications (set-up,
rename, merge, revoke, duties, members) submitted to the approvals engine. Scoped like
everything else: a body outside the caller's jurisdiction answers 404 like a missing one."""

import datetime as dt
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils import timezone
from ninja import Body as JsonBody
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from bianzhi.accounts.permissions import require
from bianzhi.common.api import ERRORS, DivisionRef, Id, Paged, UnitRef, division_ref, stable, unit_ref
from bianzhi.common.errors import BianzhiError
from bianzhi.common.scoping import get_scoped_or_404, scope_of
from bianzhi.divisions.models import Division
from bianzhi.workflow import selectors as workflow_selectors
from bianzhi.workflow import services as workflow_services
from bianzhi.workflow.api import CaseDetailOut, case_detail
from bianzhi.workflow.errors import KIND_UNKNOWN

from . import codes, errors, selectors
from .applications import CHANGE_KINDS
from .models import Body, BodyMember, BodyStatus, BodyVersion, TaskGroup

router = Router(tags=["coordinating bodies"])


def _member_count(qs: Any) -> Any:
    current = (BodyMember.objects.filter(body=OuterRef("pk"), valid_to__isnull=True).order_by()
               .values("body").annotate(n=Count("pk")).values("n"))
    return qs.annotate(member_count=Coalesce(Subquery(current, output_field=IntegerField()), 0))


class BodyOut(Schema):
    id: int
    code: str = Field(..., description="YX + division + year + sequence + check character, 18 long")
    name: str
    jurisdiction: DivisionRef
    kind: str = Field(..., description="code of the rule table body_kind")
    lead_unit: UnitRef
    office_unit: UnitRef | None
    ground: str = Field(..., description="code of the rule table positive_ground")
    parent_body: str | None = Field(None, description="code of the body of the level above it mirrors")
    set_up_document: str
    set_up_on: dt.date
    planned_end: dt.date | None
    status: str
    status_label: str
    ended_on: dt.date | None
    merged_into: str | None = Field(None, description="code of the body it merged into")
    member_count: int

    @staticmethod
    def resolve_jurisdiction(obj: Body) -> Any:
        return division_ref(obj.jurisdiction)

    @staticmethod
    def resolve_lead_unit(obj: Body) -> Any:
        return unit_ref(obj.lead_unit)

    @staticmethod
    def resolve_office_unit(obj: Body) -> Any:
        return unit_ref(obj.office_unit)

    @staticmethod
    def resolve_parent_body(obj: Body) -> str | None:
        return obj.parent_body.code if obj.parent_body_id and obj.parent_body else None

    @staticmethod
    def resolve_merged_into(obj: Body) -> str | None:
        return obj.merged_into.code if obj.merged_into_id and obj.merged_into else None

    @staticmethod
    def resolve_status_label(obj: Body) -> str:
        return str(BodyStatus(obj.status).label)

    @staticmethod
    def resolve_member_count(obj: Any) -> int:
        count = getattr(obj, "member_count", None)
        return count if count is not None else obj.members.filter(valid_to__isnull=True).count()


class MemberOut(Schema):
    unit: UnitRef
    valid_from: dt.date
    valid_to: dt.date | None


class TaskGroupOut(Schema):
    name: str
    lead_unit: UnitRef
    members: list[UnitRef]
    duties: str
    valid_from: dt.date
    valid_to: dt.date | None


class VersionOut(Schema):
    valid_from: dt.date
    valid_to: dt.date | None
    change: str
    document_number: str
    case_number: str
    state: dict[str, Any]


class DocumentOut(Schema):
    id: int
    number: str
    title: str
    written_on: dt.date
    status: str
    case_number: str


class BodyDetailOut(BodyOut):
    leader_posts: str
    duties: str
    basis: str
    over_cap_reason: str
    members: list[MemberOut] = Field(..., description="current and past member units")
    task_groups: list[TaskGroupOut]
    versions: list[VersionOut] = Field(..., description="the effective-dated history, oldest first")
    documents: list[DocumentOut]

    @staticmethod
    def resolve_members(obj: Any) -> Any:
        return obj.api_related["members"]

    @staticmethod
    def resolve_task_groups(obj: Any) -> Any:
        return obj.api_related["task_groups"]

    @staticmethod
    def resolve_versions(obj: Any) -> Any:
        return obj.api_related["versions"]

    @staticmethod
    def resolve_documents(obj: Any) -> Any:
        return obj.api_related["documents"]


def _one(actor: Any, found: Body) -> Body:
    """The body with its related rows read once (``api_related``) for :class:`BodyDetailOut`."""
    from bianzhi.documents.selectors import documents_for

    body: Any = _member_count(Body.objects.select_related(
        "jurisdiction", "lead_unit", "office_unit", "parent_body", "merged_into")).get(pk=found.pk)
    members = BodyMember.objects.filter(body=body).select_related("unit").order_by("valid_from", "unit__name", "pk")
    groups = TaskGroup.objects.filter(body=body).select_related("lead_unit").prefetch_related("members")
    versions = BodyVersion.objects.filter(body=body).order_by("valid_from", "pk")
    body.api_related = {
        "members": [{"unit": unit_ref(m.unit), "valid_from": m.valid_from, "valid_to": m.valid_to} for m in members],
        "task_groups": [{"name": g.name, "lead_unit": unit_ref(g.lead_unit),
                         "members": [unit_ref(u) for u in g.members.all()], "duties": g.duties,
                         "valid_from": g.valid_from, "valid_to": g.valid_to} for g in groups],
        "versions": [{"valid_from": v.valid_from, "valid_to": v.valid_to, "change": v.change,
                      "document_number": v.document_number, "case_number": v.case_number, "state": v.snapshot}
                     for v in versions],
        "documents": [{"id": d.pk, "number": d.number, "title": d.title, "written_on": d.written_on,
                       "status": d.status, "case_number": d.case_number}
                      for d in documents_for(actor=actor, object_type="bodies.body", object_id=body.pk)],
    }
    return body


class BodyFilter(Schema):
    kind: str = Field("", description="code of the rule table body_kind")
    status: str = Field("", description="active / revoked / merged")
    lead_unit: Id | None = Field(None, description="unit id")
    member_unit: Id | None = Field(None, description="unit id of a current member")
    jurisdiction: str = Field("", description="division code")
    q: str = Field("", description="part of the name, or of the code")


@router.get("", response={200: list[BodyOut], **ERRORS}, summary="The registry of coordinating bodies (机构库)")
@paginate(Paged)
def bodies_list(request: HttpRequest, filters: Query[BodyFilter]) -> Any:
    qs = selectors.bodies_in_scope(actor=request.user, **filters.model_dump())
    return stable(_member_count(qs.select_related("parent_body", "merged_into")))


@router.get("/by-code/{code}", response={200: BodyDetailOut, **ERRORS},
            summary="A body by its code (422 body_code_invalid when the check character is wrong)")
def bodies_by_code(request: HttpRequest, code: str) -> Any:
    require(request.user, "body.view")
    if not codes.is_valid(code):
        raise BianzhiError(errors.BODY_CODE_INVALID, field="code", value=code[:40])
    body = selectors.body_by_code(code, actor=request.user)
    if body is None:
        from django.http import Http404

        raise Http404
    return _one(request.user, body)


@router.get("/{int:id}", response={200: BodyDetailOut, **ERRORS},
            summary="One body with its members, task groups, history and documents")
def bodies_detail(request: HttpRequest, id: int) -> Any:
    return _one(request.user, selectors.get_body(actor=request.user, pk=id))


class SimilarIn(Schema):
    name: str = Field("", max_length=100)
    duties: str = Field("", max_length=5000)
    jurisdiction: str = Field("", description="division code of the proposed body (default: the caller's own)")


class MatchOut(Schema):
    id: int
    code: str
    name: str
    jurisdiction: str
    score: float = Field(..., description="0 … 1: 0.6 × name + 0.4 × duties")
    name_score: float
    duties_score: float
    close: bool = Field(..., description="at or above the threshold: a reviewer must record why it does not bar")


class SimilarOut(Schema):
    jurisdiction: str
    threshold: float
    matches: list[MatchOut]


@router.post("/similar", response={200: SimilarOut, **ERRORS},
             summary="The most similar active bodies of a jurisdiction and the level above (by name and duties)")
def bodies_similar(request: HttpRequest, payload: SimilarIn) -> Any:
    actor: Any = request.user
    require(actor, "body.view")
    if payload.jurisdiction.strip():
        division = get_scoped_or_404(Division.objects.all(), actor, code=payload.jurisdiction.strip())
        path, code = division.path, division.code
    else:
        path = scope_of(actor).path
        code = actor.jurisdiction.code if actor.jurisdiction else ""
    threshold = selectors.similarity_threshold(path, timezone.localdate())
    matches = selectors.similar_bodies(path=path, name=payload.name, duties=payload.duties) if (
        payload.name.strip() or payload.duties.strip()) else []
    return {"jurisdiction": code, "threshold": threshold, "matches": [
        {"id": m.candidate.id, "code": m.candidate.code, "name": m.candidate.name,
         "jurisdiction": m.candidate.jurisdiction, "score": m.score, "name_score": m.name_score,
         "duties_score": m.duties_score, "close": m.score >= threshold} for m in matches]}


@router.post("/applications/{kind}", response={201: CaseDetailOut, **ERRORS},
             summary="Apply for a set-up or a change of a body (body_setup, body_rename, body_merge, body_revoke, "
                     "body_duties, body_members); the data keys are those of the pages' forms")
def bodies_apply(request: HttpRequest, kind: str, payload: JsonBody[dict[str, Any]]) -> Any:
    if kind not in CHANGE_KINDS:
        raise BianzhiError(KIND_UNKNOWN, field="kind", value=kind[:40])
    case = workflow_services.case_submit(actor=request.user, kind=kind, data=payload)
    return Status(201, case_detail(request, workflow_selectors.get_case(actor=request.user, pk=case.pk)))
