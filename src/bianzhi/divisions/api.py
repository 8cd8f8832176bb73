"""The GB/T 2260 division tree (jurisdictions)."""

from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from bianzhi.common.api import ERRORS, Paged, label

from . import selectors, services

router = Router(tags=["divisions"])


class DivisionOut(Schema):
    code: str
    name: str
    level: str = Field(..., description="province, city, county or town")
    level_label: str
    parent_code: str | None
    path: str = Field(..., description="materialised path of codes, e.g. 440000/440100/440106/")
    depth: int

    @staticmethod
    def resolve_level_label(obj: Any) -> str:
        return label(obj, "level")

    @staticmethod
    def resolve_parent_code(obj: Any) -> str | None:
        return obj.path.rstrip("/").split("/")[-2] if obj.parent_id else None


class DivisionFilter(Schema):
    level: str = Field("", description="province, city, county or town")
    q: str = Field("", description="part of the name, or the start of the code")


class TownIn(Schema):
    code: str = Field(..., description="9 digits: the county code followed by 3 digits")
    name: str


@router.get("", response={200: list[DivisionOut], **ERRORS}, summary="Divisions of my jurisdiction")
@paginate(Paged)
def division_list(request: HttpRequest, filters: Query[DivisionFilter]) -> Any:
    return selectors.divisions_in_scope(actor=request.user, **filters.model_dump())


@router.get("/{code}", response={200: DivisionOut, **ERRORS}, summary="One division")
def division_detail(request: HttpRequest, code: str) -> Any:
    return selectors.get_division(actor=request.user, code=code)


@router.post("/{code}/towns", response={201: DivisionOut, **ERRORS}, summary="Add a town or street")
def division_add_town(request: HttpRequest, code: str, payload: TownIn) -> Any:
    parent = selectors.get_division(actor=request.user, code=code)  # 404 when missing or out of scope
    town = services.division_add(actor=request.user, parent_code=parent.code, **payload.model_dump())
    return Status(201, town)
