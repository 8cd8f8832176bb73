"""Indicators for a caller: the scope resolved through the scoping mechanism, the dates with
their defaults (INTERFACES.md), the JSON of INTERFACES.md, the drill-down querysets."""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from bianzhi.accounts.permissions import require
from bianzhi.common.errors import INVALID_DATE, Collector
from bianzhi.common.scoping import path_in_scope, scope_of, scoped
from bianzhi.divisions.errors import DIVISION_NOT_FOUND
from bianzhi.divisions.models import Division
from bianzhi.orgs.errors import UNIT_NOT_FOUND
from bianzhi.orgs.models import Unit
from bianzhi.staffing import selectors as staffing_selectors
from bianzhi.staffing.choices import RuleTable

from . import errors
from .compute import CODES, Query, UnitFigures, compute
from .models import IndicatorDefinition

SPLITS = {"I08": RuleTable.SITUATION, "I09": RuleTable.POST_CLASS, "I13": RuleTable.EXIT_REASON}


@dataclass
class Resolved:
    query: Query
    division: Division
    unit: Unit | None


#: The years a query date may fall in, as for ``year``: the computations step a day or a year
#: either side of the dates, which 0001-01-01 or 9999-12-31 cannot.
FIRST_YEAR, LAST_YEAR = 1900, 2200


def _day(value: Any, field: str, c: Collector) -> dt.date | None:
    if value in (None, ""):
        return None
    day: dt.date | None = None
    if isinstance(value, dt.date):
        day = value
    else:
        try:
            day = dt.date.fromisoformat(str(value).strip())
        except ValueError:
            day = None
    if day is None or not FIRST_YEAR <= day.year <= LAST_YEAR:
        c.add(INVALID_DATE, field=field, value=value)
        return None
    return day


def resolve(*, actor: Any, scope: str = "", unit: str = "", as_of: Any = None, start: Any = None, end: Any = None,
            year: Any = None, subunits: bool = False, own_level: bool = False) -> Resolved:
    """The scope and dates of an indicator query; out-of-scope answers like missing."""
    require(actor, "stats.view")
    c = Collector()
    day = _day(as_of, "as_of", c) or timezone.localdate()
    a, b = _day(start, "from", c), _day(end, "to", c)
    number: int | None = None
    if year not in (None, ""):
        try:
            number = int(str(year))
            if not FIRST_YEAR <= number <= LAST_YEAR:
                raise ValueError
        except ValueError:
            from bianzhi.funds.errors import YEAR_INVALID

            c.add(YEAR_INVALID, field="year", value=year)
    a = a or dt.date(day.year, 1, 1)
    b = b or dt.date(day.year, 12, 31)
    if a > b:
        c.add(errors.PERIOD_INVALID, field="to", value=b)
    found: Unit | None = None
    division: Division | None = None
    if unit:
        found = scoped(Unit.objects.select_related("jurisdiction"), actor).filter(uscc=str(unit).strip().upper()).first()
        if found is None:
            c.add(UNIT_NOT_FOUND, field="unit", value=unit)
        else:
            division = found.jurisdiction
    else:
        code = str(scope or (actor.jurisdiction.code if actor.jurisdiction_id else "")).strip()
        division = Division.objects.filter(code=code).first()
        if division is None or not path_in_scope(division.path, actor):
            c.add(DIVISION_NOT_FOUND, field="scope", value=scope)
            division = None
    c.raise_if_any()
    assert division is not None
    if found is not None:
        units = Unit.objects.filter(pk=found.pk)
        if subunits:  # the unit and every unit below it
            ids, frontier = {found.pk}, [found.pk]
            while frontier:
                frontier = list(Unit.objects.filter(parent_id__in=frontier).exclude(pk__in=ids)
                                .values_list("pk", flat=True))
                ids.update(frontier)
            units = scoped(Unit.objects.filter(pk__in=ids), actor)
    elif own_level:  # 本级: the units of the jurisdiction itself, not of the ones below it
        units = scoped(Unit.objects.filter(jurisdiction=division), actor)
    else:
        units = scoped(Unit.objects.filter(jurisdiction_path__startswith=division.path), actor)
    query = Query(units=units, path=found.jurisdiction_path if found else division.path, as_of=day, start=a, end=b,
                  year=number if number is not None else day.year)
    return Resolved(query, division, found)


def _json_value(code: str, value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        if code in ("I19", "I20", "I22"):
            return f"{value:.2f}"
        return float(value)
    return value


def indicator_json(resolved: Resolved, values: dict[str, Any]) -> dict[str, Any]:
    """The JSON of INTERFACES.md: every one of I01–I23, splits keyed by the Chinese names users
    see (all keys, zeros included), rates as numbers or null, money as strings."""
    q = resolved.query
    rules = staffing_selectors.ruleset_for(q.path, q.as_of)
    indicators: dict[str, Any] = {}
    for code in CODES:
        value = values[code]
        table = SPLITS.get(code)
        if table is not None:
            names = {row.code: row.name for row in sorted(rules.table(table).values(), key=lambda r: (r.sort, r.code))}
            split = {name: 0 for name in names.values()}
            for key, n in value.items():
                label = names.get(key, rules.name_of(table, key) if key else "")
                split[label] = split.get(label, 0) + n
            indicators[code] = split
        elif code in ("I19", "I20", "I22") and value is None:
            indicators[code] = None
        else:
            indicators[code] = _json_value(code, value)
    return {"scope": resolved.division.code, "unit": resolved.unit.uscc if resolved.unit else None,
            "as_of": q.as_of.isoformat(), "period": [q.start.isoformat(), q.end.isoformat()], "year": q.year,
            "indicators": indicators}


def indicators_for(*, actor: Any, **params: Any) -> tuple[dict[str, Any], Resolved, UnitFigures]:
    resolved = resolve(actor=actor, **params)
    values, figures = compute(resolved.query)
    data = indicator_json(resolved, values)
    local = local_indicators(resolved.query.path)
    if local:  # a jurisdiction's own indicators, beside (never among) the 23
        from . import expressions

        data["local"] = {}
        for item in local:
            tree = expressions.parse(item.expression, set(values))
            result = expressions.evaluate(tree, values)
            data["local"][item.code] = None if result is None else float(result)
    return data, resolved, figures


def local_indicators(path: str) -> list[IndicatorDefinition]:
    """The indicators of the jurisdictions on ``path`` (not the province defaults)."""
    return list(IndicatorDefinition.objects.filter(jurisdiction_path__in=_ancestors(path)).exclude(expression=""))


def catalogue(*, actor: Any) -> QuerySet[IndicatorDefinition]:
    """The default 23 and the indicators of my jurisdiction and the jurisdictions above it."""
    require(actor, "stats.view")
    path = scope_of(actor).path
    return IndicatorDefinition.objects.filter(jurisdiction_path__in=[*_ancestors(path), ""])


def _ancestors(path: str) -> list[str]:
    parts = [p for p in path.split("/") if p]
    return ["/".join(parts[:i]) + "/" for i in range(1, len(parts) + 1)]
