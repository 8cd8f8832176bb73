"""The REST API (django-ninja): OpenAPI at /api/v1/openapi.json, docs at /api/v1/docs."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.security import django_auth

from bianzhi.common.errors import BianzhiError

api = NinjaAPI(
    title="bianzhi API",
    version="1",
    description="机构编制管理信息平台 REST API",
    auth=django_auth,
    urls_namespace="api",
)


@api.exception_handler(BianzhiError)
def _bianzhi_error(request: HttpRequest, exc: BianzhiError) -> HttpResponse:
    return api.create_response(request, exc.as_dict(), status=exc.status_code)


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return api.create_response(
        request, {"errors": [{"code": "permission_denied", "message": "您的角色无权执行此操作。"}]}, status=403
    )


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return api.create_response(
        request, {"errors": [{"code": "not_found", "message": "记录不存在或不在您的管辖范围内。"}]}, status=404
    )


def _register_routers() -> None:
    from bianzhi.accounts.api import router as accounts_router
    from bianzhi.common.api import router as audit_router
    from bianzhi.divisions.api import router as divisions_router
    from bianzhi.orgs.api import router as orgs_router

    api.add_router("/", accounts_router)
    api.add_router("/divisions", divisions_router)
    api.add_router("/", orgs_router)
    api.add_router("/audit", audit_router)


_register_routers()
