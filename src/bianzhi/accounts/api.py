"""The current user and user accounts."""

from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from bianzhi.common.api import ERRORS, DivisionRef, Paged, UnitRef, division_ref, label, unit_ref

from . import selectors, services
from .permissions import PERMISSIONS, can

router = Router(tags=["accounts"])


class UserOut(Schema):
    id: int
    username: str
    display_name: str
    role: str = Field(..., description="role code, e.g. establishment_reviewer")
    role_label: str = Field(..., description="the role as users read it")
    jurisdiction: DivisionRef | None
    unit: UnitRef | None = Field(None, description="the unit of a unit operator")
    is_active: bool

    @staticmethod
    def resolve_role_label(obj: Any) -> str:
        return label(obj, "role")

    @staticmethod
    def resolve_jurisdiction(obj: Any) -> Any:
        return division_ref(obj.jurisdiction)

    @staticmethod
    def resolve_unit(obj: Any) -> Any:
        return unit_ref(obj.unit)


class MeOut(UserOut):
    permissions: list[str] = Field(..., description="actions this user's role may take, e.g. unit.change")

    @staticmethod
    def resolve_permissions(obj: Any) -> list[str]:
        return [action for action in PERMISSIONS if can(obj, action)]


class UserFilter(Schema):
    q: str = Field("", description="part of the user name or display name")
    role: str = Field("", description="role code")


class UserIn(Schema):
    username: str
    password: str = Field(..., json_schema_extra={"format": "password", "writeOnly": True})
    role: str = Field(..., description="role code, e.g. unit_operator")
    jurisdiction: str = Field(..., description="division code of the user's jurisdiction")
    unit: str | None = Field(None, description="USCC of the unit (unit operators)")
    display_name: str = ""


@router.get("/me", response={200: MeOut, **ERRORS}, summary="The current user")
def me(request: HttpRequest) -> Any:
    return request.user


@router.get("/users", response={200: list[UserOut], **ERRORS}, summary="Users of my jurisdiction")
@paginate(Paged)
def user_list(request: HttpRequest, filters: Query[UserFilter]) -> Any:
    return selectors.users_in_scope(actor=request.user, **filters.model_dump())


@router.post("/users", response={201: UserOut, **ERRORS}, summary="Create a user")
def user_create(request: HttpRequest, payload: UserIn) -> Any:
    return Status(201, services.user_create(actor=request.user, **payload.model_dump()))
