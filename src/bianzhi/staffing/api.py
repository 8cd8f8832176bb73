"""编外人员 over the API (/api/v1/staffing): the roster and its records, exits, baselines, caps,
hire authorisations, the coordinator pool, bulk operations and the rule tables.

Scoped like everything else: ids in the path are resolved through the scoped selectors
first, so a record, baseline or operation outside the caller's jurisdiction answers 404
exactly like one that does not exist; references inside a body (unit, record, town) are
checked by the services and answer their own codes (``unit_not_found``, ``spell_not_found``,
``division_not_found``), which never tell missing from out of scope either. Codes of the
rule tables are answered with their Chinese names beside them (``*_label``); citizen ID
numbers only ever masked.
"""

import datetime as dt
import decimal
from typing import Any, Literal

from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from bianzhi.accounts.permissions import require
from bianzhi.common.api import ERRORS, DivisionRef, Id, Paged, UnitRef, division_ref, stable, unit_ref
from bianzhi.common.scoping import scoped

from . import bulk, pool, selectors, services, spells, views
from .choices import RuleTable
from .models import BaselineCount, HireAuthorisation, PolicyFlag, RuleItem, Spell
from .rules import RuleSet

router = Router(tags=["non-establishment staff"])


def _names(context: Any) -> RuleSet:
    """The code → name tables for the caller (computed once per request)."""
    request = context["request"]
    names = getattr(request, "_staffing_names", None)
    if names is None:
        names = views._names(request.user)
        request._staffing_names = names
    return names


def _name(context: Any, table: str, code: str | None) -> str:
    return _names(context).name_of(table, code) if code else ""


def _get(obj: Any, key: str) -> Any:
    return obj[key] if isinstance(obj, dict) else getattr(obj, key)


# --- output -------------------------------------------------------------------------


class PersonRef(Schema):
    id: int
    name: str
    id_number_masked: str = Field(..., description="e.g. 440106********1234")


def person_ref(person: Any) -> dict[str, Any]:
    return {"id": person.pk, "name": person.name, "id_number_masked": person.masked_id}


class SpellOut(Schema):
    """A non-establishment record (employment spell). ``leave_date`` is the first day no longer in post."""

    id: int
    person: PersonRef
    unit: UnitRef
    situation: str
    situation_label: str
    post_class: str
    post_class_label: str
    work_type: str
    work_type_label: str
    post_name: str
    key_post: str
    key_post_label: str
    funding_source: str
    funding_source_label: str
    hire_date: dt.date
    leave_date: dt.date | None
    exit_reason: str
    exit_reason_label: str
    contract_end: dt.date | None
    education: str
    education_label: str
    monthly_cost: str | None = Field(None, description="yuan, 2 decimals")
    authorisation_number: str | None
    operation_id: int | None = Field(None, description="the bulk operation that ended the record")
    source: str

    @staticmethod
    def resolve_person(obj: Any) -> Any:
        return person_ref(obj.person)

    @staticmethod
    def resolve_unit(obj: Any) -> Any:
        return unit_ref(obj.unit)

    @staticmethod
    def resolve_situation_label(obj: Any, context: Any) -> str:
        return _name(context, RuleTable.SITUATION, obj.situation)

    @staticmethod
    def resolve_post_class_label(obj: Any, context: Any) -> str:
        return _name(context, RuleTable.POST_CLASS, obj.post_class)

    @staticmethod
    def resolve_work_type_label(obj: Any, context: Any) -> str:
        return _name(context, RuleTable.WORK_TYPE, obj.work_type)

    @staticmethod
    def resolve_key_post_label(obj: Any, context: Any) -> str:
        return _name(context, RuleTable.KEY_POST, obj.key_post)

    @staticmethod
    def resolve_funding_source_label(obj: Any, context: Any) -> str:
        return _name(context, RuleTable.FUNDING_SOURCE, obj.funding_source)

    @staticmethod
    def resolve_exit_reason_label(obj: Any, context: Any) -> str:
        return _name(context, RuleTable.EXIT_REASON, obj.exit_reason)

    @staticmethod
    def resolve_education_label(obj: Any, context: Any) -> str:
        return _name(context, RuleTable.EDUCATION, obj.education)

    @staticmethod
    def resolve_monthly_cost(obj: Any) -> str | None:
        return f"{obj.monthly_cost:.2f}" if obj.monthly_cost is not None else None

    @staticmethod
    def resolve_authorisation_number(obj: Any) -> str | None:
        return obj.authorisation.number if obj.authorisation_id else None


class HistoryItem(Schema):
    """One record of the same person. Records outside the caller's jurisdiction show their dates only."""

    id: int | None
    visible: bool
    unit: UnitRef | None
    situation_label: str | None
    hire_date: dt.date
    leave_date: dt.date | None


class FlagOut(Schema):
    code: str
    message: str
    raised_on: dt.date
    resolved_on: dt.date | None


class SpellDetailOut(SpellOut):
    history: list[HistoryItem]
    policy_flags: list[FlagOut]


class BaselineOut(Schema):
    id: int
    jurisdiction: DivisionRef
    as_of: dt.date
    is_current: bool
    total: int = Field(..., description="the frozen count of the units in your jurisdiction")
    taken_by: str
    taken_at: dt.datetime
    note: str

    @staticmethod
    def resolve_jurisdiction(obj: Any) -> Any:
        return division_ref(obj.jurisdiction)

    @staticmethod
    def resolve_total(obj: Any) -> int:
        return int(getattr(obj, "visible_total", obj.total))

    @staticmethod
    def resolve_taken_by(obj: Any) -> str:
        return obj.taken_by.username


class BaselineCountOut(Schema):
    unit: UnitRef
    situation: str
    situation_label: str
    post_class: str
    post_class_label: str
    count: int

    @staticmethod
    def resolve_unit(obj: Any) -> Any:
        return unit_ref(obj.unit)

    @staticmethod
    def resolve_situation_label(obj: Any, context: Any) -> str:
        return _name(context, RuleTable.SITUATION, obj.situation)

    @staticmethod
    def resolve_post_class_label(obj: Any, context: Any) -> str:
        return _name(context, RuleTable.POST_CLASS, obj.post_class)


class CapRowOut(Schema):
    """Baseline, cap, current count and headroom (cap − current) of a unit, or of one post class
    of it (``post_class`` set). ``None`` figures: the unit has no baseline."""

    unit: UnitRef
    post_class: str | None
    post_class_label: str | None
    baseline: int | None
    cap: int | None
    current: int
    headroom: int | None
    over: bool

    @staticmethod
    def resolve_unit(obj: Any) -> Any:
        return unit_ref(_get(obj, "unit"))

    @staticmethod
    def resolve_post_class(obj: Any) -> str | None:
        return _get(obj, "post_class") or None

    @staticmethod
    def resolve_post_class_label(obj: Any) -> str | None:
        return _get(obj, "post_class_name") or None


class CapChangeOut(Schema):
    id: int
    unit: UnitRef
    post_class: str = Field(..., description="empty: the unit's total cap")
    cap: int
    valid_from: dt.date
    document_ref: str
    is_exception: bool

    @staticmethod
    def resolve_unit(obj: Any) -> Any:
        return unit_ref(obj.unit)


class AuthorisationOut(Schema):
    id: int
    number: str
    unit: UnitRef
    post_class: str
    post_class_label: str
    situation: str
    situation_label: str
    quantity: int
    used: int
    remaining: int
    valid_from: dt.date
    valid_to: dt.date | None
    status: str
    document_ref: str

    @staticmethod
    def resolve_unit(obj: Any) -> Any:
        return unit_ref(obj.unit)

    @staticmethod
    def resolve_post_class_label(obj: Any, context: Any) -> str:
        return _name(context, RuleTable.POST_CLASS, obj.post_class)

    @staticmethod
    def resolve_situation_label(obj: Any, context: Any) -> str:
        return _name(context, RuleTable.SITUATION, obj.situation)


class TownTotal(Schema):
    town: DivisionRef | None = Field(
        None, description="None: not assigned, or a town outside your jurisdiction"
    )
    assigned: bool
    count: int


class DepartmentTotal(Schema):
    department: UnitRef | None = Field(
        None, description="None: no department, or one outside your jurisdiction"
    )
    assigned: bool
    count: int


class PoolTotalsOut(Schema):
    city: DivisionRef
    as_of: dt.date
    total: int
    by_town: list[TownTotal]
    by_department: list[DepartmentTotal]


class PoolMemberOut(Schema):
    spell_id: int
    person: PersonRef
    unit: UnitRef
    town: DivisionRef | None
    department: UnitRef | None
    task: str | None
    assigned_from: dt.date | None

    @staticmethod
    def resolve_spell_id(obj: Any) -> int:
        return int(obj.pk)

    @staticmethod
    def resolve_person(obj: Any) -> Any:
        return person_ref(obj.person)

    @staticmethod
    def resolve_unit(obj: Any) -> Any:
        return unit_ref(obj.unit)

    @staticmethod
    def resolve_town(obj: Any, context: Any) -> Any:
        code = getattr(obj, "town_code", None)
        if not code or code not in _visible(context)["towns"]:
            return None
        return {"code": code, "name": obj.town_name}

    @staticmethod
    def resolve_department(obj: Any, context: Any) -> Any:
        pk = getattr(obj, "pool_department_id", None)
        if not pk or pk not in _visible(context)["units"]:
            return None
        return _visible(context)["units"][pk]

    @staticmethod
    def resolve_task(obj: Any) -> str | None:
        return getattr(obj, "pool_task", None)


def _visible(context: Any) -> dict[str, Any]:
    """Towns and departments the caller may see by name (computed once per request)."""
    request = context["request"]
    cache = getattr(request, "_staffing_visible", None)
    if cache is None:
        from bianzhi.divisions.models import Division
        from bianzhi.orgs.models import Unit

        cache = {
            "towns": set(
                scoped(Division.objects.filter(level="town"), request.user).values_list("code", flat=True)
            ),
            "units": {
                u.pk: unit_ref(u) for u in scoped(Unit.objects.all(), request.user).only("pk", "uscc", "name")
            },
        }
        request._staffing_visible = cache
    return cache


class AssignmentOut(Schema):
    id: int
    spell_id: int
    town: DivisionRef
    department: UnitRef | None
    task: str
    valid_from: dt.date
    valid_to: dt.date | None
    document_ref: str

    @staticmethod
    def resolve_town(obj: Any) -> Any:
        return division_ref(obj.town)

    @staticmethod
    def resolve_department(obj: Any) -> Any:
        return unit_ref(obj.department) if obj.department_id else None


class BulkOut(Schema):
    id: int
    kind: str
    status: str
    unit: UnitRef | None
    criteria: dict[str, Any]
    count: int
    leave_date: dt.date
    exit_reason: str
    exit_reason_label: str
    receiver: str
    document_ref: str
    created_by: str
    created_at: dt.datetime
    applied_at: dt.datetime | None

    @staticmethod
    def resolve_unit(obj: Any) -> Any:
        return unit_ref(obj.unit) if obj.unit_id else None

    @staticmethod
    def resolve_exit_reason_label(obj: Any, context: Any) -> str:
        return _name(context, RuleTable.EXIT_REASON, obj.exit_reason)

    @staticmethod
    def resolve_created_by(obj: Any) -> str:
        return obj.created_by.username


class RuleOut(Schema):
    id: int
    table: str
    code: str
    name: str
    parent_code: str
    policy: str
    value: str
    valid_from: dt.date
    valid_to: dt.date | None
    origin: Literal["province", "local"]
    jurisdiction: DivisionRef | None
    source_document: str

    @staticmethod
    def resolve_origin(obj: Any) -> str:
        return "local" if obj.jurisdiction_path else "province"

    @staticmethod
    def resolve_jurisdiction(obj: Any) -> Any:
        return division_ref(obj.jurisdiction) if obj.jurisdiction_id else None


# --- input --------------------------------------------------------------------------


class RosterFilter(Schema):
    unit: Id | None = Field(None, description="unit id")
    situation: str = Field("", description="situation code, e.g. labour_contract")
    post_class: str = Field("", description="post class code, e.g. general_auxiliary")
    work_type: str = ""
    funding_source: str = ""
    key_post: str = Field("", description="a key post code; 'any' for any key post, 'none' for none")
    as_of: dt.date | None = Field(None, description="only records in post on this day (YYYY-MM-DD)")
    q: str = Field("", description="part of the name or the post name")


class SpellIn(Schema):
    unit: int = Field(..., description="unit id")
    id_number: str = Field(..., description="18-character citizen ID number (GB 11643)")
    name: str
    situation: str = Field(..., description="code or Chinese name")
    post_class: str
    work_type: str
    post_name: str
    funding_source: str
    hire_date: dt.date
    key_post: str = ""
    contract_end: dt.date | None = None
    education: str = ""
    monthly_cost: decimal.Decimal | None = None
    authorisation_number: str = Field(
        "", description="the hire authorisation the new hire uses (register mode)"
    )


class ExitIn(Schema):
    leave_date: dt.date = Field(..., description="the first day no longer in post")
    exit_reason: str = Field(..., description="code or Chinese name")


class BaselineTakeIn(Schema):
    scope: str = Field(..., description="division code")
    as_of: dt.date
    retake: bool = Field(False, description="replace the current baseline of that jurisdiction")
    note: str = ""


class CapFilter(Schema):
    as_of: dt.date | None = Field(None, description="YYYY-MM-DD; today when empty")
    by: Literal["unit", "class"] = Field(
        "unit", description="unit: one row per unit; class: per unit and post class"
    )
    over_only: bool = False
    q: str = Field("", description="part of the unit name, or the start of its USCC")


class CapIn(Schema):
    unit: int
    cap: int
    valid_from: dt.date
    post_class: str = Field("", description="empty: the unit's total cap")
    document_ref: str = ""
    is_exception: bool = False


class AuthorisationFilter(Schema):
    unit: Id | None = None
    post_class: str = ""
    open_only: bool = Field(False, description="only those with places left")


class AuthorisationIn(Schema):
    unit: int
    post_class: str
    quantity: int
    valid_from: dt.date
    valid_to: dt.date | None = None
    situation: str = ""
    document_ref: str = ""
    number: str = Field("", description="assigned when empty")


class PoolFilter(Schema):
    city: str = Field("", description="city code; the caller's city when empty")
    as_of: dt.date | None = None


class AssignIn(Schema):
    spell: int = Field(..., description="the coordinator's record id")
    town: str = Field(..., description="town / street code")
    valid_from: dt.date
    department: int | None = Field(None, description="unit id")
    task: str = ""
    document_ref: str = ""


class BulkIn(Schema):
    kind: Literal["downsizing", "group_transfer"]
    leave_date: dt.date
    exit_reason: str = ""
    unit: int | None = None
    criteria: dict[str, Any] = Field(
        default_factory=dict, description="situation, post_class, work_type, funding_source, key_post"
    )
    receiver: str = ""
    document_ref: str = ""


class BulkApplyIn(Schema):
    document_ref: str


class RuleFilter(Schema):
    as_of: dt.date | None = None
    table: str = ""


class RuleItemIn(Schema):
    table: str
    code: str
    name: str = ""
    valid_from: dt.date
    jurisdiction: str = Field(..., description="division code: your own jurisdiction")
    parent_code: str = ""
    policy: str = ""
    value: str = ""
    source_document: str


class RuleCloseIn(Schema):
    valid_to: dt.date


# --- roster -------------------------------------------------------------------------


def _spells(qs: Any) -> Any:
    return qs.select_related("person", "unit", "authorisation")


@router.get("/roster", response={200: list[SpellOut], **ERRORS}, summary="Records of my jurisdiction")
@paginate(Paged)
def staffing_roster_list(request: HttpRequest, filters: Query[RosterFilter]) -> Any:
    params = filters.model_dump()
    none = params["key_post"] == "none"
    if none:
        params["key_post"] = ""
    qs = selectors.spells_in_scope(actor=request.user, **params)
    if none:
        qs = qs.filter(key_post="")
    return stable(_spells(qs))


@router.get(
    "/roster/{int:id}",
    response={200: SpellDetailOut, **ERRORS},
    summary="One record, with the person's history and policy flags",
)
def staffing_roster_detail(request: HttpRequest, id: int) -> Any:
    actor: Any = request.user
    found = selectors.get_spell(actor=actor, pk=id)
    spell = _spells(Spell.objects.filter(pk=found.pk)).get()
    names = views._names(actor)
    visible = set(scoped(Spell.objects.filter(person_id=spell.person_id), actor).values_list("pk", flat=True))
    history = []
    for record in (
        Spell.objects.filter(person_id=spell.person_id).select_related("unit").order_by("hire_date", "pk")
    ):
        shown = record.pk in visible
        history.append(
            {
                "id": record.pk if shown else None,
                "visible": shown,
                "unit": unit_ref(record.unit) if shown else None,
                "situation_label": names.name_of(RuleTable.SITUATION, record.situation) if shown else None,
                "hire_date": record.hire_date,
                "leave_date": record.leave_date,
            }
        )
    spell.history = history
    spell.policy_flags = [
        {
            "code": f.code,
            "message": views._message(f.code, f.params if isinstance(f.params, dict) else {}),
            "raised_on": f.raised_on,
            "resolved_on": f.resolved_on,
        }
        for f in scoped(PolicyFlag.objects.filter(spell=spell), actor).order_by("-raised_on", "pk")
    ]
    return spell


@router.post("/roster", response={201: SpellOut, **ERRORS}, summary="Create a record (register mode)")
def staffing_roster_create(request: HttpRequest, payload: SpellIn) -> Any:
    params = payload.model_dump()
    params["unit_id"] = params.pop("unit")
    spell = spells.spell_create(actor=request.user, mode="register", **params)
    return Status(201, _spells(Spell.objects.all()).get(pk=spell.pk))


@router.post("/roster/{int:id}/exit", response={200: SpellOut, **ERRORS}, summary="Record an exit")
def staffing_roster_exit(request: HttpRequest, id: int, payload: ExitIn) -> Any:
    spell = selectors.get_spell(actor=request.user, pk=id)
    spells.spell_exit(actor=request.user, spell_id=spell.pk, **payload.model_dump())
    return _spells(Spell.objects.all()).get(pk=spell.pk)


# --- baselines and caps ---------------------------------------------------------------


@router.get(
    "/baselines", response={200: list[BaselineOut], **ERRORS}, summary="Stock baselines of my jurisdiction"
)
@paginate(Paged)
def staffing_baseline_list(request: HttpRequest) -> Any:
    return stable(views.baselines_visible(request.user))


@router.get("/baselines/{int:id}", response={200: BaselineOut, **ERRORS}, summary="One stock baseline")
def staffing_baseline_detail(request: HttpRequest, id: int) -> Any:
    baseline = selectors.get_baseline(actor=request.user, pk=id)
    return views.baselines_visible(request.user).get(pk=baseline.pk)


@router.get(
    "/baselines/{int:id}/counts",
    response={200: list[BaselineCountOut], **ERRORS},
    summary="The frozen counts of a baseline per unit × situation × post class",
)
@paginate(Paged)
def staffing_baseline_counts(request: HttpRequest, id: int) -> Any:
    baseline = selectors.get_baseline(actor=request.user, pk=id)
    return scoped(
        BaselineCount.objects.filter(baseline=baseline).select_related("unit"), request.user
    ).order_by("unit__name", "unit_id", "situation", "post_class", "pk")


@router.post(
    "/baselines", response={201: BaselineOut, **ERRORS}, summary="Take (or explicitly re-take) a baseline"
)
def staffing_baseline_take(request: HttpRequest, payload: BaselineTakeIn) -> Any:
    return Status(201, services.baseline_take(actor=request.user, **payload.model_dump()))


@router.get(
    "/caps",
    response={200: list[CapRowOut], **ERRORS},
    summary="Baseline, cap, current count and headroom of the units of my jurisdiction",
)
@paginate(Paged)
def staffing_cap_list(request: HttpRequest, filters: Query[CapFilter]) -> Any:
    require(request.user, "baseline.view")
    return views.cap_rows(
        request.user,
        as_of=filters.as_of or timezone.localdate(),
        by_class=filters.by == "class",
        q=filters.q.strip(),
        over_only=filters.over_only,
    )


@router.post("/caps", response={201: CapChangeOut, **ERRORS}, summary="Record an approved cap change")
def staffing_cap_set(request: HttpRequest, payload: CapIn) -> Any:
    params = payload.model_dump()
    params["unit_id"] = params.pop("unit")
    return Status(201, services.cap_set(actor=request.user, **params))


# --- hire authorisations ----------------------------------------------------------------


@router.get(
    "/authorisations",
    response={200: list[AuthorisationOut], **ERRORS},
    summary="Hire authorisations of my jurisdiction",
)
@paginate(Paged)
def staffing_authorisation_list(request: HttpRequest, filters: Query[AuthorisationFilter]) -> Any:
    require(request.user, "roster.view")
    qs = scoped(HireAuthorisation.objects.select_related("unit"), request.user)
    if filters.unit:
        qs = qs.filter(unit_id=filters.unit)
    if filters.post_class:
        qs = qs.filter(post_class=filters.post_class)
    if filters.open_only:
        from django.db.models import F

        qs = qs.filter(used__lt=F("quantity"))
    return stable(qs)


@router.post(
    "/authorisations", response={201: AuthorisationOut, **ERRORS}, summary="Record a hire authorisation"
)
def staffing_authorisation_create(request: HttpRequest, payload: AuthorisationIn) -> Any:
    params = payload.model_dump()
    params["unit_id"] = params.pop("unit")
    return Status(201, spells.authorisation_create(actor=request.user, **params))


# --- coordinator pool ---------------------------------------------------------------------


def _city(request: HttpRequest, code: str) -> Any:
    cities = views._pool_cities(request.user)
    if not code:
        if not cities:
            raise Http404
        return cities[0]
    found = next((c for c in cities if c.code == code), None)
    if found is None:
        raise Http404
    return found


@router.get(
    "/pool/totals",
    response={200: PoolTotalsOut, **ERRORS},
    summary="Coordinators of a city per town / street and per department",
)
def staffing_pool_totals(request: HttpRequest, filters: Query[PoolFilter]) -> Any:
    actor: Any = request.user
    require(actor, "pool.view")
    city = _city(request, filters.city)
    as_of = filters.as_of or timezone.localdate()
    by_town = pool.pool_totals_by_town(actor=actor, city_code=city.code, as_of=as_of)
    by_department = pool.pool_totals_by_department(actor=actor, city_code=city.code, as_of=as_of)
    towns = views._visible_division_codes(actor, [r["town_code"] for r in by_town])
    units = views._visible_unit_ids(actor, [r["department_id"] for r in by_department])
    from bianzhi.orgs.models import Unit

    refs = {u.pk: unit_ref(u) for u in Unit.objects.filter(pk__in=units)}
    return {
        "city": division_ref(city),
        "as_of": as_of,
        "total": sum(r["count"] for r in by_town),
        "by_town": [
            {
                "town": {"code": r["town_code"], "name": r["town_name"]} if r["town_code"] in towns else None,
                "assigned": r["assigned"],
                "count": r["count"],
            }
            for r in by_town
        ],
        "by_department": [
            {"department": refs.get(r["department_id"]), "assigned": r["assigned"], "count": r["count"]}
            for r in by_department
        ],
    }


@router.get(
    "/pool/members",
    response={200: list[PoolMemberOut], **ERRORS},
    summary="Coordinators of a city in post on a day, with their assignment",
)
@paginate(Paged)
def staffing_pool_members(request: HttpRequest, filters: Query[PoolFilter]) -> Any:
    city = _city(request, filters.city)
    return pool.pool_members(
        actor=request.user, city_code=city.code, as_of=filters.as_of or timezone.localdate()
    )


@router.post(
    "/pool/assignments",
    response={201: AssignmentOut, **ERRORS},
    summary="Assign or re-allocate a coordinator to a town / street",
)
def staffing_pool_assign(request: HttpRequest, payload: AssignIn) -> Any:
    assignment = pool.pool_assign(
        actor=request.user,
        spell_id=payload.spell,
        town_code=payload.town,
        valid_from=payload.valid_from,
        department_id=payload.department,
        task=payload.task,
        document_ref=payload.document_ref,
    )
    return Status(201, assignment)


# --- bulk operations ------------------------------------------------------------------------


@router.get("/bulk", response={200: list[BulkOut], **ERRORS}, summary="Bulk operations of my jurisdiction")
@paginate(Paged)
def staffing_bulk_list(request: HttpRequest) -> Any:
    return stable(bulk.operations_in_scope(actor=request.user))


@router.post(
    "/bulk",
    response={201: BulkOut, **ERRORS},
    summary="Preview a bulk exit: record the selection and its count, change nothing",
)
def staffing_bulk_preview(request: HttpRequest, payload: BulkIn) -> Any:
    params = payload.model_dump()
    params["unit_id"] = params.pop("unit")
    return Status(201, bulk.bulk_preview(actor=request.user, **params))


@router.get("/bulk/{int:id}", response={200: BulkOut, **ERRORS}, summary="One bulk operation")
def staffing_bulk_detail(request: HttpRequest, id: int) -> Any:
    return bulk.get_operation(actor=request.user, pk=id)


@router.get(
    "/bulk/{int:id}/records",
    response={200: list[SpellOut], **ERRORS},
    summary="The records of an operation: those applying would touch, or those it changed",
)
@paginate(Paged)
def staffing_bulk_records(request: HttpRequest, id: int) -> Any:
    operation = bulk.get_operation(actor=request.user, pk=id)
    return _spells(bulk.bulk_selection(actor=request.user, operation=operation)).order_by("pk")


@router.post(
    "/bulk/{int:id}/apply",
    response={200: BulkOut, **ERRORS},
    summary="Apply a previewed operation with its approving document",
)
def staffing_bulk_apply(request: HttpRequest, id: int, payload: BulkApplyIn) -> Any:
    operation = bulk.get_operation(actor=request.user, pk=id)
    return bulk.bulk_apply(actor=request.user, operation_id=operation.pk, document_ref=payload.document_ref)


@router.post(
    "/bulk/{int:id}/cancel", response={200: BulkOut, **ERRORS}, summary="Cancel a previewed operation"
)
def staffing_bulk_cancel(request: HttpRequest, id: int) -> Any:
    operation = bulk.get_operation(actor=request.user, pk=id)
    return bulk.bulk_cancel(actor=request.user, operation_id=operation.pk)


# --- rule tables ------------------------------------------------------------------------------


@router.get(
    "/rules",
    response={200: list[RuleOut], **ERRORS},
    summary="The rule tables in force for my jurisdiction (province defaults and local rows)",
)
@paginate(Paged)
def staffing_rule_list(request: HttpRequest, filters: Query[RuleFilter]) -> Any:
    require(request.user, "rules.view")
    rows = views.rules_in_force(request.user, filters.as_of or timezone.localdate())
    return [r["item"] for r in rows if not filters.table or r["table"] == filters.table]


@router.post("/rules", response={201: RuleOut, **ERRORS}, summary="Add a stricter local row")
def staffing_rule_add(request: HttpRequest, payload: RuleItemIn) -> Any:
    params = payload.model_dump()
    params["jurisdiction_code"] = params.pop("jurisdiction")
    item = spells.rule_item_add(actor=request.user, **params)
    return Status(201, RuleItem.objects.select_related("jurisdiction").get(pk=item.pk))


@router.post("/rules/{int:id}/close", response={200: RuleOut, **ERRORS}, summary="End a local row")
def staffing_rule_close(request: HttpRequest, id: int, payload: RuleCloseIn) -> Any:
    path = views._path(request.user)
    item = (
        RuleItem.objects.filter(pk=id, jurisdiction_path__startswith=path)
        .exclude(jurisdiction_path="")
        .first()
    )
    if item is None:
        raise Http404
    spells.rule_item_close(actor=request.user, item_id=item.pk, valid_to=payload.valid_to)
    return RuleItem.objects.select_related("jurisdiction").get(pk=item.pk)
