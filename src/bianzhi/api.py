"""The REST API (django-ninja): OpenAPI at /api/v1/openapi.json, docs at /api/v1/docs.

Authentication is chosen in one place, the ``auth=`` default of :data:`api`: a personal
bearer token (:class:`~bianzhi.accounts.tokens.BearerToken`) or the session login. The
token is tried first: ninja's session check enforces CSRF and would refuse a token's
POST (which carries no CSRF cookie) before the token were looked at. Every error answers the same shape
as the imports: ``{"errors": [{"row", "column", "value", "code", "message"}]}``:

- :class:`~bianzhi.common.errors.BianzhiError` (a service refused the input) → 422;
- a request that does not parse (missing field, not a date, …) → 422 with the import
  codes where one fits (``required``, ``invalid_date``, ``invalid_integer``,
  ``too_long``, ``invalid_choice``) and ``invalid_input`` otherwise; so does text with a
  NUL character anywhere in the query or the JSON body (:class:`NulFreeParser`);
- not logged in → 401, missing permission → 403, missing or out of scope → 404 (one
  and the same body for both, so existence never leaks).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from ninja import NinjaAPI
from ninja.errors import (
    AuthenticationError,
    AuthorizationError,
    HttpError,
    ValidationError,
    ValidationErrorContext,
)
from ninja.parser import Parser
from ninja.security import django_auth

from bianzhi.accounts.tokens import BearerToken
from bianzhi.common.errors import (
    INVALID_CHOICE,
    INVALID_DATE,
    INVALID_INTEGER,
    NOT_FOUND,
    PERMISSION_DENIED,
    REQUIRED,
    TOO_LONG,
    BianzhiError,
    ErrorDetail,
    define,
)

INVALID_INPUT = define("invalid_input", _("The value is not valid (%(detail)s)."))
NOT_AUTHENTICATED = define("not_authenticated", _("Log in or present a valid API token."))
REQUEST_REFUSED = define("request_refused", _("The request was refused (%(detail)s)."))

# pydantic error types → the import error codes users already know.
_PYDANTIC_CODES: dict[str, str] = {
    "missing": REQUIRED,
    "date_type": INVALID_DATE,
    "date_parsing": INVALID_DATE,
    "date_from_datetime_parsing": INVALID_DATE,
    "date_from_datetime_inexact": INVALID_DATE,
    "int_type": INVALID_INTEGER,
    "int_parsing": INVALID_INTEGER,
    "int_from_float": INVALID_INTEGER,
    "string_too_long": TOO_LONG,
    "literal_error": INVALID_CHOICE,
    "enum": INVALID_CHOICE,
}
_SECRET_FIELDS = ("password", "token")


class BianzhiAPI(NinjaAPI):
    """NinjaAPI that keeps the offending input of a parse error (ninja drops it)."""

    def validation_error_from_error_contexts(
        self, error_contexts: list[ValidationErrorContext]
    ) -> ValidationError:
        errors: list[dict[str, Any]] = []
        for context in error_contexts:
            model = context.model
            for item in context.pydantic_validation_error.errors(include_url=False):
                loc = model.__ninja_flatten_map_reverse__.get(item["loc"], item["loc"])
                errors.append({
                    "source": model.__ninja_param_source__, "loc": loc, "type": item["type"],
                    "msg": item["msg"], "ctx": item.get("ctx") or {}, "input": item.get("input"),
                })
        return ValidationError(errors)


class NulInInput(ValueError):
    """A NUL character (U+0000) in the text of a request."""

    def __init__(self, source: str, loc: tuple[Any, ...]) -> None:
        super().__init__(f"NUL character in {source} {loc}")
        self.source, self.loc = source, loc


def _refuse_nul(value: Any, source: str, loc: tuple[Any, ...]) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise NulInInput(source, loc)
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_nul(key, source, (*loc, key))
            _refuse_nul(item, source, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_nul(item, source, (*loc, index))


class NulFreeParser(Parser):
    """ninja's JSON and query parser, refusing text with a NUL character (U+0000): no field of
    the platform holds one, PostgreSQL text cannot store one (the query would fail with a server
    error), and Django's form fields refuse it too (``ProhibitNullCharactersValidator``)."""

    def parse_body(self, request: HttpRequest) -> Any:
        data = json.loads(request.body)
        _refuse_nul(data, "body", ("body",))  # ninja reports body fields under the payload's name
        return data

    def parse_querydict(self, data: Any, list_fields: list[str], request: HttpRequest) -> dict[str, Any]:
        result = super().parse_querydict(data, list_fields, request)
        _refuse_nul(result, "query", ())
        return result


api = BianzhiAPI(
    title="bianzhi API",
    version="1",
    description="机构编制管理信息平台 REST API",
    auth=[BearerToken(), django_auth],
    urls_namespace="api",
    parser=NulFreeParser(),
)


def _errors(*details: ErrorDetail) -> dict[str, Any]:
    return {"errors": [d.as_dict() for d in details]}


def _column(source: str, loc: tuple[Any, ...]) -> str | None:
    # Body fields arrive as (payload name, field, ...); query and path fields as (field, ...).
    parts = [str(p) for p in loc]
    if source == "body" and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts) or None


def _detail_for(error: dict[str, Any]) -> ErrorDetail:
    if "source" not in error:  # raised by hand (e.g. by a paginator): no pydantic details
        return ErrorDetail(INVALID_INPUT, params={"detail": str(error)})
    column = _column(error["source"], tuple(error["loc"]))
    value = error.get("input")
    if error["type"] == "missing" or not isinstance(value, (str, int, float, bool)):
        value = None
    if column and any(s in column for s in _SECRET_FIELDS):
        value = None
    code = _PYDANTIC_CODES.get(error["type"], INVALID_INPUT)
    ctx = error.get("ctx") or {}
    params: dict[str, Any] = {"detail": error.get("msg", "")}
    if code == TOO_LONG:
        params["max"] = ctx.get("max_length", "")
    elif code == INVALID_CHOICE:
        params["allowed"] = ctx.get("expected", "")
    return ErrorDetail(code, field=column, value=value, params=params)


@api.exception_handler(BianzhiError)
def _bianzhi_error(request: HttpRequest, exc: BianzhiError) -> HttpResponse:
    return api.create_response(request, exc.as_dict(), status=exc.status_code)


@api.exception_handler(ValidationError)
def _invalid_input(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return api.create_response(request, _errors(*(_detail_for(e) for e in exc.errors)), status=422)


def _nul_detail(exc: NulInInput) -> ErrorDetail:
    return ErrorDetail(INVALID_INPUT, field=_column(exc.source, exc.loc),
                       params={"detail": "text may not contain a NUL character (U+0000)"})


@api.exception_handler(NulInInput)
def _nul_in_input(request: HttpRequest, exc: NulInInput) -> HttpResponse:
    return api.create_response(request, _errors(_nul_detail(exc)), status=422)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, NulInInput):  # ninja wraps every body parser error in a 400
        return api.create_response(request, _errors(_nul_detail(exc.__cause__)), status=422)
    if exc.status_code == 400:  # a body that is not JSON: bad input like any other
        return api.create_response(
            request, _errors(ErrorDetail(INVALID_INPUT, params={"detail": str(exc)})), status=422
        )
    # e.g. a failed CSRF check (403) or throttling (429): same shape, ninja's reason as detail
    return api.create_response(
        request, _errors(ErrorDetail(REQUEST_REFUSED, params={"detail": str(exc)})), status=exc.status_code
    )


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return api.create_response(request, _errors(ErrorDetail(NOT_AUTHENTICATED)), status=401)


@api.exception_handler(AuthorizationError)
@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: Exception) -> HttpResponse:
    return api.create_response(request, _errors(ErrorDetail(PERMISSION_DENIED)), status=403)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return api.create_response(request, _errors(ErrorDetail(NOT_FOUND)), status=404)


def _register_routers() -> None:
    from bianzhi.accounts.api import router as accounts_router
    from bianzhi.bodies.api import router as bodies_router
    from bianzhi.common.api import router as audit_router
    from bianzhi.divisions.api import router as divisions_router
    from bianzhi.funds.api import router as funds_router
    from bianzhi.orgs.api import router as orgs_router
    from bianzhi.staffing.api import router as staffing_router
    from bianzhi.stats.alerts_api import router as alerts_router
    from bianzhi.stats.api import router as stats_router
    from bianzhi.workflow.api import router as workflow_router

    api.add_router("/", accounts_router)
    api.add_router("/divisions", divisions_router)
    api.add_router("/", orgs_router)
    api.add_router("/audit", audit_router)
    api.add_router("/staffing", staffing_router)
    api.add_router("/", workflow_router)
    api.add_router("/funds", funds_router)
    api.add_router("/stats", stats_router)
    api.add_router("/stats", alerts_router)
    api.add_router("/bodies", bodies_router)


_register_routers()
