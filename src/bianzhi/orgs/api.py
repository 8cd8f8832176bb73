"""Units (单位), their history, establishment (编制) and people.

Ids in the path are resolved through the scoped selectors first, so a unit or person
outside the caller's jurisdiction answers 404 exactly like one that does not exist.
References inside a body (parent unit, jurisdiction, merge sources) are checked by the
services and answer their own error codes (``parent_not_found``, ``division_not_found``,
``unit_not_found``), which likewise never tell missing from out of scope.
"""

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from bianzhi.common.api import ERRORS, DivisionRef, Id, Paged, UnitRef, division_ref, label, stable, unit_ref

from . import selectors, services

router = Router(tags=["units"])

# --- output -------------------------------------------------------------------------


class UnitOut(Schema):
    id: int
    uscc: str = Field(..., description="unified social credit code (GB 32100)")
    name: str
    category: str
    category_label: str
    funding_form: str
    funding_form_label: str
    status: str = Field(..., description="active, merged or abolished")
    status_label: str
    jurisdiction: DivisionRef
    parent: UnitRef | None
    set_up_on: dt.date
    ended_on: dt.date | None
    merged_into: UnitRef | None

    @staticmethod
    def resolve_category_label(obj: Any) -> str:
        return label(obj, "category")

    @staticmethod
    def resolve_funding_form_label(obj: Any) -> str:
        return label(obj, "funding_form")

    @staticmethod
    def resolve_status_label(obj: Any) -> str:
        return label(obj, "status")

    @staticmethod
    def resolve_jurisdiction(obj: Any) -> Any:
        return division_ref(obj.jurisdiction)

    @staticmethod
    def resolve_parent(obj: Any) -> Any:
        return unit_ref(obj.parent) if obj.parent_id else None

    @staticmethod
    def resolve_merged_into(obj: Any) -> Any:
        return unit_ref(obj.merged_into) if obj.merged_into_id else None


class UnitVersionOut(Schema):
    """One state of a unit, valid over [valid_from, valid_to)."""

    unit_id: int
    uscc: str
    name: str = Field(..., description="the name in this version")
    category: str
    category_label: str
    funding_form: str
    funding_form_label: str
    parent_id: int | None = Field(None, description="id of the parent unit in this version")
    jurisdiction: DivisionRef
    valid_from: dt.date
    valid_to: dt.date | None = Field(None, description="first day the version no longer holds")
    change: str
    change_label: str
    document_ref: str

    @staticmethod
    def resolve_uscc(obj: Any) -> str:
        return obj.unit.uscc

    @staticmethod
    def resolve_category_label(obj: Any) -> str:
        return label(obj, "category")

    @staticmethod
    def resolve_funding_form_label(obj: Any) -> str:
        return label(obj, "funding_form")

    @staticmethod
    def resolve_change_label(obj: Any) -> str:
        return label(obj, "change")

    @staticmethod
    def resolve_jurisdiction(obj: Any) -> Any:
        return division_ref(obj.jurisdiction)


class QuotaOut(Schema):
    id: int
    unit: UnitRef
    kind: str
    kind_label: str
    approved: int = Field(..., description="approved number (核定数)")
    actual: int = Field(..., description="actual headcount (实有数)")
    vacancies: int
    over: int
    valid_from: dt.date
    valid_to: dt.date | None
    document_ref: str

    @staticmethod
    def resolve_unit(obj: Any) -> Any:
        return unit_ref(obj.unit)

    @staticmethod
    def resolve_kind_label(obj: Any) -> str:
        return label(obj, "kind")


class PersonOut(Schema):
    """A real-name person. The citizen ID number is only ever shown masked, and the birth
    date (which is the masked middle of that number) is not shown at all."""

    id: int
    name: str
    id_number_masked: str = Field(..., description="e.g. 440106********1234")
    sex: str
    sex_label: str
    education: str
    education_label: str
    jurisdiction: DivisionRef
    unit: UnitRef | None

    @staticmethod
    def resolve_id_number_masked(obj: Any) -> str:
        return obj.masked_id

    @staticmethod
    def resolve_sex_label(obj: Any) -> str:
        return label(obj, "sex")

    @staticmethod
    def resolve_education_label(obj: Any) -> str:
        return label(obj, "education")

    @staticmethod
    def resolve_jurisdiction(obj: Any) -> Any:
        return division_ref(obj.jurisdiction)

    @staticmethod
    def resolve_unit(obj: Any) -> Any:
        return unit_ref(obj.unit) if obj.unit_id else None


# --- filters ------------------------------------------------------------------------


class UnitFilter(Schema):
    q: str = Field("", description="part of the name, or the start of the USCC")
    division: str = Field("", description="division code: units of that division and below")
    category: str = Field("", description="party_government, public_institution, mass_organisation or other")
    funding_form: str = Field("", description="full, partial or self")
    status: str = Field("active", description="active, merged or abolished; 'all' for every status")


class EstablishmentFilter(Schema):
    as_of: dt.date | None = Field(None, description="YYYY-MM-DD; today when empty")
    kind: str = Field("", description="administrative, public_institution or political_legal")
    problem: Literal["over", "vacant"] | None = Field(None, description="over: 超编; vacant: 空编")


class PeopleFilter(Schema):
    q: str = Field("", description="part of the name, or a whole citizen ID number (matched by its blind index)")
    unit: Id | None = Field(None, description="unit id")


# --- input --------------------------------------------------------------------------


class UnitIn(Schema):
    uscc: str
    name: str
    category: str = Field(..., description="party_government, public_institution, mass_organisation or other")
    funding_form: str = Field(..., description="full, partial or self")
    jurisdiction: str = Field(..., description="division code")
    set_up_on: dt.date
    parent: str | None = Field(None, description="USCC of the parent unit")
    document_ref: str = ""


class RenameIn(Schema):
    name: str
    on: dt.date
    document_ref: str = ""


class AbolishIn(Schema):
    on: dt.date
    document_ref: str = ""


class MergeIn(Schema):
    target: int = Field(..., description="id of the unit that remains")
    sources: list[int] = Field(..., description="ids of the units merged into the target")
    on: dt.date
    document_ref: str = ""


class QuotaIn(Schema):
    approved: int = Field(..., description="approved number (核定数)")
    actual: int = Field(..., description="actual headcount (实有数)")
    on: dt.date = Field(..., description="effective from")
    document_ref: str = ""


class PersonIn(Schema):
    id_number: str = Field(..., description="18-character citizen ID number (GB 11643)")
    name: str
    jurisdiction: str | None = Field(None, description="division code; the unit's when a unit is given")
    unit: int | None = Field(None, description="unit id")
    education: str = ""
    birth_date: dt.date | None = Field(None, description="optional; must agree with the ID number")
    sex: str | None = Field(None, description="optional, M or F; must agree with the ID number")


# --- units --------------------------------------------------------------------------


@router.get("/units", response={200: list[UnitOut], **ERRORS}, summary="Units of my jurisdiction")
@paginate(Paged)
def unit_list(request: HttpRequest, filters: Query[UnitFilter]) -> Any:
    params = filters.model_dump()
    if params["status"] == "all":
        params["status"] = ""
    return stable(selectors.units_in_scope(actor=request.user, **params).select_related("merged_into"))


@router.get("/units/as-of", response={200: list[UnitVersionOut], **ERRORS}, summary="The units as of a day")
@paginate(Paged)
def unit_tree_as_of(request: HttpRequest, date: dt.date = Query(..., description="YYYY-MM-DD")) -> Any:  # noqa: B008
    versions = selectors.unit_versions_as_of(actor=request.user, as_of=date).select_related("unit")
    return versions.order_by("jurisdiction_path", "name", "unit_id")


@router.get("/units/{int:id}", response={200: UnitOut, **ERRORS}, summary="One unit")
def unit_detail(request: HttpRequest, id: int) -> Any:
    return selectors.get_unit(actor=request.user, pk=id)


@router.get("/units/{int:id}/history", response={200: list[UnitVersionOut], **ERRORS},
            summary="Versions of a unit, oldest first")
def unit_history(request: HttpRequest, id: int) -> Any:
    unit = selectors.get_unit(actor=request.user, pk=id)
    return selectors.unit_history(actor=request.user, unit=unit).select_related("unit")


@router.get("/units/{int:id}/establishment", response={200: list[QuotaOut], **ERRORS},
            summary="Establishment of a unit (current, or as of a day)")
def unit_establishment(request: HttpRequest, id: int, as_of: dt.date | None = None) -> Any:
    unit = selectors.get_unit(actor=request.user, pk=id)
    return selectors.quotas_in_scope(actor=request.user, unit=unit, as_of=as_of)


@router.post("/units", response={201: UnitOut, **ERRORS}, summary="Set up a unit")
def unit_set_up(request: HttpRequest, payload: UnitIn) -> Any:
    return Status(201, services.unit_set_up(actor=request.user, **payload.model_dump()))


@router.post("/units/merge", response={200: UnitOut, **ERRORS}, summary="Merge units into a target unit")
def unit_merge(request: HttpRequest, payload: MergeIn) -> Any:
    return services.unit_merge(
        actor=request.user, target_id=payload.target, source_ids=payload.sources, on=payload.on,
        document_ref=payload.document_ref,
    )


@router.post("/units/{int:id}/rename", response={200: UnitOut, **ERRORS}, summary="Rename a unit")
def unit_rename(request: HttpRequest, id: int, payload: RenameIn) -> Any:
    unit = selectors.get_unit(actor=request.user, pk=id)
    return services.unit_rename(actor=request.user, unit_id=unit.pk, **payload.model_dump())


@router.post("/units/{int:id}/abolish", response={200: UnitOut, **ERRORS}, summary="Abolish a unit")
def unit_abolish(request: HttpRequest, id: int, payload: AbolishIn) -> Any:
    unit = selectors.get_unit(actor=request.user, pk=id)
    return services.unit_abolish(actor=request.user, unit_id=unit.pk, **payload.model_dump())


@router.put("/units/{int:id}/establishment/{kind}", response={200: QuotaOut, **ERRORS},
            summary="Set the establishment of one kind from a day")
def unit_quota_set(request: HttpRequest, id: int, kind: str, payload: QuotaIn) -> Any:
    unit = selectors.get_unit(actor=request.user, pk=id)
    return services.quota_set(actor=request.user, unit_id=unit.pk, kind=kind, **payload.model_dump())


# --- establishment ------------------------------------------------------------------


@router.get("/establishment", response={200: list[QuotaOut], **ERRORS}, tags=["establishment"],
            summary="Establishment of the units of my jurisdiction")
@paginate(Paged)
def establishment_list(request: HttpRequest, filters: Query[EstablishmentFilter]) -> Any:
    params = filters.model_dump()
    params["problem"] = params["problem"] or ""
    return stable(selectors.quotas_in_scope(actor=request.user, **params))


# --- people -------------------------------------------------------------------------


@router.get("/people", response={200: list[PersonOut], **ERRORS}, tags=["people"],
            summary="People of my jurisdiction")
@paginate(Paged)
def person_list(request: HttpRequest, filters: Query[PeopleFilter]) -> Any:
    return stable(selectors.people_in_scope(actor=request.user, **filters.model_dump()))


@router.get("/people/{int:id}", response={200: PersonOut, **ERRORS}, tags=["people"], summary="One person")
def person_detail(request: HttpRequest, id: int) -> Any:
    return selectors.get_person(actor=request.user, pk=id)


class RevealIn(Schema):
    purpose: str = Field("", description="why the full number is needed (1 to 200 characters); recorded in the audit log")


class RevealOut(Schema):
    id: int
    id_number: str


@router.post("/people/{int:id}/id-number", response={200: RevealOut, **ERRORS}, tags=["people"],
             summary="The full citizen ID number of one person (audited; needs the unmask permission)")
def person_reveal_id(request: HttpRequest, response: HttpResponse, id: int, payload: RevealIn) -> Any:
    number = services.person_reveal_id(actor=request.user, person_id=id, purpose=payload.purpose)
    response["Cache-Control"] = "no-store"
    return {"id": id, "id_number": number}


@router.post("/people", response={201: PersonOut, **ERRORS}, tags=["people"], summary="Register a person")
def person_create(request: HttpRequest, payload: PersonIn) -> Any:
    params = payload.model_dump()
    params["unit_id"] = params.pop("unit")
    return Status(201, services.person_create(actor=request.user, **params))
