"""Statistics over the API: GET /api/v1/stats/indicators answers exactly the JSON of
``bianzhi indicators --json`` (INTERFACES.md)."""

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from bianzhi.common.api import ERRORS

from . import selectors

router = Router(tags=["statistics"])


class IndicatorParams(Schema):
    scope: str = Field("", description="division code (default: the caller's jurisdiction)")
    unit: str = Field("", description="unified social credit code of one unit")
    subunits: bool = Field(False, description="with unit: the unit and the units below it")
    own_level: bool = Field(False, description="the jurisdiction's own units only (本级)")
    as_of: dt.date | None = None
    from_: dt.date | None = Field(None, alias="from")
    to: dt.date | None = None
    year: int | None = None


class IndicatorsOut(Schema):
    scope: str
    unit: str | None
    as_of: str
    period: list[str]
    year: int
    indicators: dict[str, Any]


@router.get("/indicators", response={200: IndicatorsOut, **ERRORS}, summary="The 23 indicators (INTERFACES.md)")
def stats_indicators(request: HttpRequest, params: Query[IndicatorParams]) -> Any:
    data, _resolved, _figures = selectors.indicators_for(
        actor=request.user, scope=params.scope, unit=params.unit, as_of=params.as_of, start=params.from_,
        end=params.to, year=params.year, subunits=params.subunits, own_level=params.own_level)
    return data
