"""The figures the statistics pages show beside the 23 indicators: per-unit rows of the report,
the dashboard's series (year-end headcounts, funding by year, the funding-source split), the
sub-jurisdictions side by side and the units furthest over their cap.

Everything here reads a :class:`~bianzhi.stats.compute.Query` whose units are already scoped
(:func:`bianzhi.stats.selectors.resolve`), with a fixed number of grouped queries whatever the
number of units or points, and follows the counting rules of :mod:`bianzhi.stats.compute`
exactly — the tests compare each figure with the indicators of the same scope.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, Sum

from bianzhi.divisions.choices import Level
from bianzhi.divisions.models import Division
from bianzhi.funds.models import UnitFunding
from bianzhi.orgs.models import EstablishmentQuota, Unit
from bianzhi.orgs.selectors import in_force
from bianzhi.staffing import selectors as staffing_selectors
from bianzhi.staffing.choices import RuleTable
from bianzhi.staffing.models import Spell
from bianzhi.staffing.rules import RuleSet

from .compute import CODES, Query, UnitFigures, counting_q, money, month_ends, rate
from .selectors import SPLITS

FIRST_YEAR = 2015  # the dashboard's headcount and funding series start here


# ------------------------------------------------------------------------------ per-unit values


def per_unit_values(q: Query, figures: UnitFigures) -> dict[int, dict[str, Any]]:
    """The 23 indicators of every unit of ``q`` on its own (as ``compute`` gives them for a
    query of that unit alone: split ones keyed by code), from grouped queries. ``figures`` is
    the :class:`UnitFigures` of ``compute(q)``, which already holds the per-unit baselines,
    caps, breaches and flags."""
    ids = list(q.units.values_list("pk", flat=True))
    spells = Spell.objects.filter(unit__in=q.units)
    out: dict[int, dict[str, Any]] = {}
    for pk in ids:
        out[pk] = {"I01": 0, "I02": 0, "I08": {}, "I09": {}, "I10": 0, "I11": 0, "I12": 0, "I13": {}}
    now = (spells.filter(counting_q(q.as_of)).values("unit_id", "situation", "post_class")
           .annotate(n=Count("id"), fiscal=Count("id", filter=Q(funding_source="fiscal")),
                     key=Count("id", filter=~Q(key_post=""))))
    for row in now:
        v: dict[str, Any] = out[row["unit_id"]]
        v["I01"] += row["n"]
        v["I02"] += row["fiscal"]
        v["I11"] += row["key"]
        v["I08"][row["situation"]] = v["I08"].get(row["situation"], 0) + row["n"]
        v["I09"][row["post_class"]] = v["I09"].get(row["post_class"], 0) + row["n"]
    quotas = {r["unit_id"]: dict(r) for r in in_force(EstablishmentQuota.objects.filter(unit__in=q.units), q.as_of)
              .values("unit_id").annotate(approved=Sum("approved"), actual=Sum("actual"))}
    for unit_id, n in (spells.filter(hire_date__gte=q.start, hire_date__lte=q.end).values("unit_id")
                       .annotate(n=Count("id")).values_list("unit_id", "n")):
        out[unit_id]["I12"] = n
    for unit_id, reason, n in (spells.filter(leave_date__gte=q.start, leave_date__lte=q.end)
                               .values("unit_id", "exit_reason").annotate(n=Count("id"))
                               .values_list("unit_id", "exit_reason", "n")):
        out[unit_id]["I13"][reason] = n
    base_year = staffing_selectors.ruleset_for(q.path, q.end).baseline_date.year
    funding: dict[int, dict[str, Any]] = {r["unit_id"]: dict(r) for r in UnitFunding.objects.filter(unit__in=q.units).values("unit_id").annotate(
        budget=Sum("budget", filter=Q(year=q.year)), spent=Sum("spending", filter=Q(year=q.year)),
        base=Sum("spending", filter=Q(year=base_year)))}
    months: dict[int, dict[str, Any]] = {r["unit_id"]: dict(r) for r in spells.values("unit_id").annotate(
        **{f"m{i}": Count("id", filter=counting_q(day)) for i, day in enumerate(month_ends(q.year))})}
    over, cleared, dipping = set(figures.over_cap), set(figures.cleared), set(figures.double_dipping)
    for pk, v in out.items():
        i01, i03 = v["I01"], figures.baseline.get(pk, 0)
        v["I10"] = v["I08"].get("coordinator", 0)
        quota = quotas.get(pk, {})
        v.update(I03=i03, I04=i01 - i03, I05=rate(i01 - i03, i03), I06=rate(i01, quota.get("approved")),
                 I07=rate(i01, quota.get("actual")), I14=v["I12"] - sum(v["I13"].values()),
                 I15=1 if figures.class_breach.get(pk) else 0, I16=1 if pk in over else 0,
                 I17=1 if pk in cleared else 0, I18=rate(1 if pk in cleared else 0, 1 if i03 > 0 else 0),
                 I23=1 if pk in dipping else 0)
        sums: dict[str, Any] = funding.get(pk, {})
        spent = sums.get("spent")
        i20 = money(spent) if spent is not None else None
        counted = months.get(pk)
        average = decimal.Decimal(sum(counted[f"m{i}"] for i in range(12)) if counted else 0) / 12
        v.update(I19=money(sums["budget"]) if sums.get("budget") is not None else None, I20=i20,
                 I21=rate(i20 - money(sums["base"]), sums["base"]) if i20 is not None and sums.get("base") else None,
                 I22=money(i20 / average) if i20 is not None and average else None)
    return out


def named(values: dict[str, Any], rules: RuleSet) -> dict[str, Any]:
    """``values`` as the JSON of INTERFACES.md names them (:func:`selectors.indicator_json`):
    splits keyed by the Chinese names (every name, zeros included), rates as numbers, money as
    strings with 2 decimals."""
    out: dict[str, Any] = {}
    for code in CODES:
        value = values[code]
        table = SPLITS.get(code)
        if table is not None:
            names = {row.code: row.name for row in sorted(rules.table(table).values(), key=lambda r: (r.sort, r.code))}
            split = {name: 0 for name in names.values()}
            for key, n in value.items():
                label = names.get(key, rules.name_of(table, key) if key else "")
                split[label] = split.get(label, 0) + n
            out[code] = split
        elif isinstance(value, decimal.Decimal):
            out[code] = f"{value:.2f}" if code in ("I19", "I20", "I22") else float(value)
        else:
            out[code] = value
    return out


# ------------------------------------------------------------------------------ sub-jurisdictions


def sub_jurisdictions(division: Division) -> list[Division]:
    """The jurisdictions directly below ``division`` that hold units: towns and streets carry
    coordinators' assignments, not units, so they are left out."""
    return list(Division.objects.filter(parent=division).exclude(level=Level.TOWN).order_by("code"))


def rows_are_units(division: Division) -> bool:
    """A report of a county-level (or lower) jurisdiction, or of one without sub-jurisdictions,
    has a row per unit."""
    return division.level in (Level.COUNTY, Level.TOWN) or not sub_jurisdictions(division)


@dataclass
class ChildFigures:
    division: Division
    i01: int
    i03: int
    i05: decimal.Decimal | None


def children_side_by_side(q: Query, figures: UnitFigures, children: Iterable[Division]) -> list[ChildFigures]:
    """I01, I03 and I05 of each sub-jurisdiction, rolled up from the per-unit counts of
    ``compute(q)`` (one query for the units' paths)."""
    children = list(children)
    paths = dict(q.units.values_list("pk", "jurisdiction_path"))
    out = []
    for child in children:
        members = [pk for pk, path in paths.items() if path.startswith(child.path)]
        i01 = sum(figures.now.get(pk, 0) for pk in members)
        i03 = sum(figures.baseline.get(pk, 0) for pk in members)
        out.append(ChildFigures(child, i01, i03, rate(i01 - i03, i03)))
    return out


# ------------------------------------------------------------------------------ dashboard series


def headcount_points(as_of: dt.date) -> list[dt.date]:
    """Year ends from 2015 up to the year before ``as_of``, then ``as_of`` itself."""
    points = [dt.date(y, 12, 31) for y in range(FIRST_YEAR, as_of.year) if dt.date(y, 12, 31) < as_of]
    return [*points, as_of]


def headcount_series(q: Query, points: list[dt.date]) -> list[int]:
    """I01 on each day of ``points`` (one query)."""
    counts = Spell.objects.filter(unit__in=q.units).aggregate(
        **{f"d{i}": Count("id", filter=counting_q(day)) for i, day in enumerate(points)})
    return [int(counts[f"d{i}"]) for i in range(len(points))]


@dataclass
class FundingYear:
    year: int
    budget: decimal.Decimal | None
    spending: decimal.Decimal | None


def funding_by_year(q: Query, first: int, last: int) -> list[FundingYear]:
    """Budget (I19) and spending (I20) of each year from ``first`` to ``last`` (one query); a
    year without any recorded figure is unknown (``None``), as in the indicators."""
    rows: dict[int, dict[str, Any]] = {r["year"]: dict(r) for r in UnitFunding.objects.filter(unit__in=q.units, year__gte=first, year__lte=last)
            .values("year").annotate(budget=Sum("budget"), spending=Sum("spending"))}
    out = []
    for year in range(first, last + 1):
        row: dict[str, Any] = rows.get(year, {})
        out.append(FundingYear(year, money(row["budget"]) if row.get("budget") is not None else None,
                               money(row["spending"]) if row.get("spending") is not None else None))
    return out


def funding_source_split(q: Query, rules: RuleSet) -> list[tuple[str, str, int]]:
    """(code, name, count) of the records counting on the as-of day by 经费来源 (one query);
    the 财政拨款 count is I02."""
    counts = dict(Spell.objects.filter(unit__in=q.units).filter(counting_q(q.as_of)).values("funding_source")
                  .annotate(n=Count("id")).values_list("funding_source", "n"))
    out = [(row.code, row.name, counts.pop(row.code, 0))
           for row in sorted(rules.table(RuleTable.FUNDING_SOURCE).values(), key=lambda r: (r.sort, r.code))]
    out.extend((code, rules.name_of(RuleTable.FUNDING_SOURCE, code), n) for code, n in sorted(counts.items()))
    return out


@dataclass
class OverCap:
    unit: Unit
    count: int
    cap: int

    @property
    def excess(self) -> int:
        return self.count - self.cap


def top_over_cap(figures: UnitFigures, limit: int = 10) -> list[OverCap]:
    """The units over their cap (I16), furthest over first."""
    ranked = sorted(figures.over_cap, key=lambda pk: (-(figures.now.get(pk, 0) - figures.total_cap[pk]), pk))
    chosen = ranked[:limit]
    units = Unit.objects.in_bulk(chosen)
    return [OverCap(units[pk], figures.now.get(pk, 0), figures.total_cap[pk]) for pk in chosen if pk in units]


def units_with_baseline(figures: UnitFigures) -> int:
    """The denominator of I18: units in scope whose baseline is above 0."""
    return sum(1 for base in figures.baseline.values() if base > 0)


def month_end_counts(q: Query) -> list[tuple[dt.date, int]]:
    """I01 on the last day of each month of the year (the denominator of I22 is their mean)."""
    days = month_ends(q.year)
    return list(zip(days, headcount_series(q, days), strict=True))


def establishment_totals(q: Query) -> dict[str, int | None]:
    """Approved establishment and actual headcount in force on the as-of day (I06, I07)."""
    return in_force(EstablishmentQuota.objects.filter(unit__in=q.units), q.as_of).aggregate(
        approved=Sum("approved"), actual=Sum("actual"))


def baseline_year_spending(q: Query) -> tuple[int, decimal.Decimal | None]:
    """The baseline year and the spending recorded for it (the base of I21)."""
    base_year = staffing_selectors.ruleset_for(q.path, q.end).baseline_date.year
    total = UnitFunding.objects.filter(unit__in=q.units, year=base_year).aggregate(s=Sum("spending"))["s"]
    return base_year, (money(total) if total is not None else None)

