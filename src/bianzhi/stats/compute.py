"""Computing the indicators of INDICATORS.md for a scope (a jurisdiction, or a unit) as of a
day, over a period and for a year — with a fixed number of aggregate queries whatever the size
of the scope (the benchmark in bench/ compares them with hand-written SQL).

Counting rule: a record counts on d when ``hire_date <= d`` and (no leave date or
``leave_date > d``). Rates are rounded half-even to 4 places, ``None`` for an empty
denominator; money has 2 decimals.
"""

from __future__ import annotations

import calendar
import datetime as dt
import decimal
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from bianzhi.funds.models import PurchaseContract, UnitFunding
from bianzhi.orgs.models import EstablishmentQuota, Unit
from bianzhi.orgs.selectors import in_force
from bianzhi.staffing import selectors as staffing_selectors
from bianzhi.staffing.choices import ClassPolicy
from bianzhi.staffing.models import CapChange, Spell

CODES = [f"I{n:02d}" for n in range(1, 24)]
RATE = decimal.Decimal("0.0001")
CENT = decimal.Decimal("0.01")
ONE_DAY = dt.timedelta(days=1)


def rate(numerator: Any, denominator: Any) -> decimal.Decimal | None:
    if not denominator:
        return None
    return (decimal.Decimal(numerator) / decimal.Decimal(denominator)).quantize(RATE, rounding=decimal.ROUND_HALF_EVEN)


def money(value: Any) -> decimal.Decimal:
    return decimal.Decimal(value or 0).quantize(CENT, rounding=decimal.ROUND_HALF_EVEN)


def counting_q(day: dt.date, prefix: str = "") -> Q:
    return Q(**{f"{prefix}hire_date__lte": day}) & (
        Q(**{f"{prefix}leave_date__isnull": True}) | Q(**{f"{prefix}leave_date__gt": day}))


def month_ends(year: int) -> list[dt.date]:
    return [dt.date(year, m, calendar.monthrange(year, m)[1]) for m in range(1, 13)]


def add_year(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


@dataclass
class Query:
    """What to compute: the units in scope (a queryset), the jurisdiction path whose rule tables
    name the splits, and the three kinds of date."""

    units: QuerySet[Unit]
    path: str
    as_of: dt.date
    start: dt.date
    end: dt.date
    year: int


@dataclass
class UnitFigures:
    """Per-unit figures the unit-counting indicators (I15–I18, I23) and the drill-downs use."""

    now: dict[int, int] = field(default_factory=dict)
    baseline: dict[int, int] = field(default_factory=dict)
    total_cap: dict[int, int] = field(default_factory=dict)
    over_cap: list[int] = field(default_factory=list)
    cleared: list[int] = field(default_factory=list)
    class_breach: dict[int, list[str]] = field(default_factory=dict)
    double_dipping: list[int] = field(default_factory=list)


def _caps(units: QuerySet[Unit], day: dt.date) -> dict[tuple[int, str], tuple[int, bool]]:
    """(unit, post class or "" for the total) → (cap, is_exception) of the latest change on or before ``day``."""
    latest: dict[tuple[int, str], tuple[dt.date, int, int, bool]] = {}
    for unit_id, post_class, cap, valid_from, pk, exc in CapChange.objects.filter(
            unit__in=units, valid_from__lte=day).values_list("unit_id", "post_class", "cap", "valid_from", "pk",
                                                              "is_exception"):
        key = (unit_id, post_class)
        if key not in latest or (valid_from, pk) > latest[key][:2]:
            latest[key] = (valid_from, pk, cap, exc)
    return {k: (v[2], v[3]) for k, v in latest.items()}


def compute(q: Query) -> tuple[dict[str, Any], UnitFigures]:
    """All 23 indicators (split ones keyed by code, for the JSON the names are applied later)."""
    out: dict[str, Any] = {}
    spells = Spell.objects.filter(unit__in=q.units)
    figures = UnitFigures()

    # 1. As of d: one grouped query gives I01, I02, I08, I09, I10, I11 and the per-unit counts.
    now = (spells.filter(counting_q(q.as_of)).values("unit_id", "situation", "post_class")
           .annotate(n=Count("id"), fiscal=Count("id", filter=Q(funding_source="fiscal")),
                     key=Count("id", filter=~Q(key_post=""))))
    by_situation: dict[str, int] = defaultdict(int)
    by_class: dict[str, int] = defaultdict(int)
    i01 = i02 = i11 = 0
    for row in now:
        i01 += row["n"]
        i02 += row["fiscal"]
        i11 += row["key"]
        by_situation[row["situation"]] += row["n"]
        by_class[row["post_class"]] += row["n"]
        figures.now[row["unit_id"]] = figures.now.get(row["unit_id"], 0) + row["n"]
    out.update(I01=i01, I02=i02, I08=dict(by_situation), I09=dict(by_class),
               I10=by_situation.get("coordinator", 0), I11=i11)

    # 2. Baseline (I03) per unit and class; caps on d and b.
    base_class: dict[tuple[int, str], int] = {}
    for unit_id, post_class, n in staffing_selectors.baseline_cells(q.units):
        base_class[(unit_id, post_class)] = n
        figures.baseline[unit_id] = figures.baseline.get(unit_id, 0) + n
    i03 = sum(figures.baseline.values())
    out.update(I03=i03, I04=i01 - i03, I05=rate(i01 - i03, i03))

    # 3. Establishment on d (I06, I07).
    quota = in_force(EstablishmentQuota.objects.filter(unit__in=q.units), q.as_of).aggregate(
        approved=Sum("approved"), actual=Sum("actual"))
    out.update(I06=rate(i01, quota["approved"]), I07=rate(i01, quota["actual"]))

    # 4. Over the period (I12, I13, I14): one query with conditional counts.
    moves = spells.filter(Q(hire_date__gte=q.start, hire_date__lte=q.end)
                          | Q(leave_date__gte=q.start, leave_date__lte=q.end))
    i12 = moves.filter(hire_date__gte=q.start, hire_date__lte=q.end).count()
    i13 = dict(moves.filter(leave_date__gte=q.start, leave_date__lte=q.end).values("exit_reason")
               .annotate(n=Count("id")).values_list("exit_reason", "n"))
    out.update(I12=i12, I13=i13, I14=i12 - sum(i13.values()))

    # 5. Units over their cap on d (I16), cleared (I17, I18).
    caps_d = _caps(q.units, q.as_of)
    for unit_id, base in figures.baseline.items():
        figures.total_cap[unit_id] = caps_d.get((unit_id, ""), (base, False))[0]
    for (unit_id, post_class), (total, _exc) in caps_d.items():
        if post_class == "":
            figures.total_cap.setdefault(unit_id, total)  # a cap set for a unit without a baseline
    figures.over_cap = sorted(u for u, total in figures.total_cap.items() if figures.now.get(u, 0) > total)
    figures.cleared = sorted(u for u, base in figures.baseline.items() if base > 0 and figures.now.get(u, 0) == 0)
    with_base = sum(1 for base in figures.baseline.values() if base > 0)
    out.update(I16=len(figures.over_cap), I17=len(figures.cleared), I18=rate(len(figures.cleared), with_base))

    # 6. Post-class policy breaches over [a, b] (I15), comparing a−1 with b.
    before = q.start - ONE_DAY
    rows = staffing_selectors.rule_rows()  # read once; a rule set per distinct jurisdiction path
    rules = staffing_selectors.ruleset_for(q.path, q.end, rows)
    unit_rules: dict[str, Any] = {q.path: rules}
    pairs = (spells.filter(Q(counting_q(before)) | Q(counting_q(q.end)))
             .values("unit_id", "post_class", "unit__jurisdiction_path")
             .annotate(a=Count("id", filter=counting_q(before)), b=Count("id", filter=counting_q(q.end))))
    caps_b = _caps(q.units, q.end)
    exceptions = set(CapChange.objects.filter(unit__in=q.units, is_exception=True, valid_from__gte=q.start,
                                              valid_from__lte=q.end).values_list("unit_id", "post_class"))
    long_enough = q.end >= add_year(q.start) - ONE_DAY
    for pair in pairs:
        unit_id, post_class = pair["unit_id"], pair["post_class"]
        a, b = int(pair["a"]), int(pair["b"])
        # each unit under the policies of its own jurisdiction (a district may have made a class stricter)
        unit_path = pair["unit__jurisdiction_path"]
        if unit_path not in unit_rules:
            unit_rules[unit_path] = staffing_selectors.ruleset_for(unit_path, q.end, rows)
        policy = unit_rules[unit_path].policy_of(post_class)
        cap: int | None = caps_b[(unit_id, post_class)][0] if (unit_id, post_class) in caps_b else base_class.get(
            (unit_id, post_class))
        breach = False
        if policy == ClassPolicy.HOLD_TOTAL:
            breach = cap is not None and b > cap
        elif policy == ClassPolicy.CONTROL_INCREASE:
            breach = b > a and not ((unit_id, post_class) in exceptions and cap is not None and b <= cap)
        elif policy == ClassPolicy.OPTIMISE_STOCK:
            breach = b > a
        elif policy == ClassPolicy.REDUCE:
            breach = long_enough and a > 0 and b >= a
        if breach:
            figures.class_breach.setdefault(unit_id, []).append(post_class)
    out["I15"] = len(figures.class_breach)

    # 7. The year (I19–I22).
    money_rows = UnitFunding.objects.filter(unit__in=q.units)
    base_year = rules.baseline_date.year
    sums = money_rows.aggregate(budget=Sum("budget", filter=Q(year=q.year)),
                                spent=Sum("spending", filter=Q(year=q.year)),
                                base=Sum("spending", filter=Q(year=base_year)))
    # A sum over no recorded figure is unknown (null), not 0.
    i20 = money(sums["spent"]) if sums["spent"] is not None else None
    month_counts = spells.aggregate(**{f"m{i}": Count("id", filter=counting_q(day))
                                       for i, day in enumerate(month_ends(q.year))})
    average = decimal.Decimal(sum(month_counts.values())) / 12
    out.update(I19=money(sums["budget"]) if sums["budget"] is not None else None, I20=i20,
               I21=rate(i20 - money(sums["base"]), sums["base"]) if i20 is not None and sums["base"] else None,
               I22=money(i20 / average) if i20 is not None and average else None)

    # 8. Double dipping over [a, b] (I23).
    from bianzhi.funds.selectors import double_dipping_among

    contracts = list(PurchaseContract.objects.filter(unit__in=q.units, start__lte=q.end, end__gte=q.start))
    figures.double_dipping = [f.unit_id for f in double_dipping_among(contracts, q.start, q.end)]
    out["I23"] = len(figures.double_dipping)
    return out, figures
