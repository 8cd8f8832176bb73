"""Scoped reads of 编外人员经费 and purchased services: funding with its caps, control plans,
contracts, the 双下降 check and the double-dipping flags, posts moved to services."""

from __future__ import annotations

import datetime as dt
import decimal
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet

from bianzhi.accounts.permissions import require
from bianzhi.common.scoping import scoped
from bianzhi.orgs.models import Unit
from bianzhi.staffing import selectors as staffing_selectors
from bianzhi.staffing.choices import RuleTable
from bianzhi.staffing.models import Spell

from . import rules
from .models import ControlPlan, PurchaseContract, ServiceConversion, UnitFunding


def baseline_year(path: str, day: dt.date | None = None) -> int:
    """The baseline year of a jurisdiction (the year of its baseline date, 2019 by default)."""
    from django.utils import timezone

    return staffing_selectors.ruleset_for(path, day or timezone.localdate()).baseline_date.year


def plan_amount(unit: Any, year: int) -> decimal.Decimal | None:
    plan = ControlPlan.objects.filter(unit=unit, year=year, is_current=True).first()
    return plan.amount if plan else None


def funding_cap_for(unit: Any, year: int, *, pending: dict[int, Any] | None = None) -> decimal.Decimal | None:
    """The unit's funding cap for ``year``: spending in the baseline year, or the control plan's
    target when lower. ``pending`` overrides stored spending by year (an import's own rows)."""
    base = baseline_year(unit.jurisdiction_path)
    if pending and base in pending:
        spent = pending[base]
    else:
        spent = UnitFunding.objects.filter(unit=unit, year=base).values_list("spending", flat=True).first()
    return rules.funding_cap(spent, plan_amount(unit, year))


def caps_for(units: list[Any], year: int) -> dict[int, decimal.Decimal | None]:
    """Funding caps of many units for one year, with a fixed number of queries."""
    from django.utils import timezone

    ids = [u.pk for u in units]
    rows = staffing_selectors.rule_rows()  # read once; the baseline year of each distinct path
    today = timezone.localdate()
    years = {p: staffing_selectors.ruleset_for(p, today, rows).baseline_date.year
             for p in {u.jurisdiction_path for u in units}}
    by_year: dict[int, list[int]] = defaultdict(list)
    for u in units:
        by_year[years[u.jurisdiction_path]].append(u.pk)
    spent: dict[int, decimal.Decimal | None] = {}
    for base, members in by_year.items():
        spent.update(dict(UnitFunding.objects.filter(unit_id__in=members, year=base)
                          .values_list("unit_id", "spending")))
    plans = dict(ControlPlan.objects.filter(unit_id__in=ids, year=year, is_current=True)
                 .values_list("unit_id", "amount"))
    return {pk: rules.funding_cap(spent.get(pk), plans.get(pk)) for pk in ids}


def fundings_in_scope(*, actor: Any, year: int | None = None, unit: Any = None) -> QuerySet[UnitFunding]:
    require(actor, "funding.view")
    qs = scoped(UnitFunding.objects.select_related("unit"), actor)
    if year:
        qs = qs.filter(year=year)
    if unit:
        qs = qs.filter(unit_id=unit)
    return qs


def plans_in_scope(*, actor: Any, year: int | None = None, current: bool = True) -> QuerySet[ControlPlan]:
    """Plans of my units, of my jurisdiction and below, and of the jurisdictions above me."""
    require(actor, "funding.view")
    from bianzhi.common.scoping import scope_of

    scope = scope_of(actor)
    parts = [p for p in scope.path.split("/") if p]
    ancestors = ["/".join(parts[:i]) + "/" for i in range(1, len(parts))]
    qs = ControlPlan.objects.select_related("unit", "jurisdiction").filter(
        Q(jurisdiction_path__startswith=scope.path) | Q(unit__isnull=True, jurisdiction_path__in=ancestors))
    if scope.unit_id is not None:
        qs = qs.filter(Q(unit_id=scope.unit_id) | Q(unit__isnull=True))
    if year:
        qs = qs.filter(year=year)
    if current:
        qs = qs.filter(is_current=True)
    return qs


def contracts_in_scope(*, actor: Any, unit: Any = None, item: str = "", in_force_on: dt.date | None = None,
                       q: str = "") -> QuerySet[PurchaseContract]:
    require(actor, "funding.view")
    qs = scoped(PurchaseContract.objects.select_related("unit"), actor)
    if unit:
        qs = qs.filter(unit_id=unit)
    if item:
        qs = qs.filter(item=item)
    if in_force_on is not None:
        qs = qs.filter(start__lte=in_force_on, end__gte=in_force_on)
    if q:
        qs = qs.filter(Q(number__icontains=q) | Q(unit__name__contains=q))
    return qs


def conversions_in_scope(*, actor: Any, year: int | None = None, unit: Any = None) -> QuerySet[ServiceConversion]:
    require(actor, "funding.view")
    qs = scoped(ServiceConversion.objects.select_related("spell", "spell__person", "contract", "unit"), actor)
    if year:
        qs = qs.filter(converted_on__year=year)
    if unit:
        qs = qs.filter(unit_id=unit)
    return qs


def conversions_by_unit_year(*, actor: Any) -> list[dict[str, Any]]:
    """Posts moved to purchased services, per unit and year."""
    rows = (conversions_in_scope(actor=actor).values("unit_id", "unit__name", "converted_on__year")
            .annotate(n=Count("id")).order_by("-converted_on__year", "unit__name"))
    return [{"unit_id": r["unit_id"], "unit": r["unit__name"], "year": r["converted_on__year"], "posts": r["n"]}
            for r in rows]


# --------------------------------------------------------------------------- 双下降


@dataclass
class BothFallRow:
    unit: int  # the unit's id
    label: str
    check: rules.BothFall


def both_fall(*, actor: Any, year: int, units: QuerySet[Unit] | None = None) -> tuple[rules.BothFall, list[BothFallRow]]:
    """The 双下降 check for my jurisdiction (or the given units) and a year: the total, and one
    row per unit that had a baseline. Headcount is I01 on 31 December; spending is I20."""
    require(actor, "funding.view")
    units_qs = scoped(units if units is not None else Unit.objects.all(), actor)
    year_end = dt.date(year, 12, 31)
    path = actor.jurisdiction.path if actor.jurisdiction_id else ""
    base = baseline_year(path)
    base_counts: dict[int, int] = defaultdict(int)
    for unit_id, _post_class, n in staffing_selectors.baseline_cells(units_qs):  # each unit's own baseline
        base_counts[unit_id] += n
    counts = dict(staffing_selectors.counting_on(Spell.objects.filter(unit__in=units_qs), year_end)
                  .values("unit_id").annotate(n=Count("id")).values_list("unit_id", "n"))
    money: dict[tuple[int, int], decimal.Decimal | None] = {
        (u, y): s for u, y, s in UnitFunding.objects.filter(unit__in=units_qs, year__in=[year, base])
        .values_list("unit_id", "year", "spending")}
    rows = []
    names = dict(units_qs.filter(pk__in=set(base_counts) | set(counts)).values_list("pk", "name"))
    for unit_id in sorted(set(base_counts), key=lambda pk: names.get(pk, "")):
        rows.append(BothFallRow(unit_id, names.get(unit_id, ""), rules.BothFall(
            headcount=counts.get(unit_id, 0), baseline_count=base_counts.get(unit_id, 0),
            spending=money.get((unit_id, year)), baseline_spending=money.get((unit_id, base)))))

    def total(key: int) -> decimal.Decimal | None:
        """The sum over the units of the scope (I20 / the baseline year's spending); unknown when
        no unit recorded a figure."""
        values = [v for (_pk, y), v in money.items() if y == key and v is not None]
        return sum(values, decimal.Decimal("0")) if values else None

    overall = rules.BothFall(headcount=sum(counts.values()), baseline_count=sum(base_counts.values()),
                             spending=total(year), baseline_spending=total(base))
    return overall, rows


# --------------------------------------------------------------------------- 两头占


def double_dipping(*, actor: Any, a: dt.date, b: dt.date, unit: Any = None) -> list[rules.DoubleDipping]:
    """Units of my jurisdiction flagged by the double-dipping rule over [a, b]."""
    require(actor, "funding.view")
    contracts = scoped(PurchaseContract.objects.filter(start__lte=b, end__gte=a), actor)
    if unit:
        contracts = contracts.filter(unit_id=unit)
    return double_dipping_among(list(contracts), a, b)


def replaced_by_contract(contracts: list[PurchaseContract], day: dt.date) -> dict[int, set[str]]:
    """Contract id → the work types its item replaces in the catalogue of the contract's own
    jurisdiction (a district's local items apply to its own contracts only)."""
    rows = staffing_selectors.rule_rows()
    by_path: dict[str, dict[str, set[str]]] = {}
    out: dict[int, set[str]] = {}
    for c in contracts:
        if c.jurisdiction_path not in by_path:
            table = staffing_selectors.ruleset_for(c.jurisdiction_path, day, rows).table(RuleTable.SERVICE_ITEM)
            by_path[c.jurisdiction_path] = rules.replaced_by({k: r.value for k, r in table.items()})
        out[c.pk] = by_path[c.jurisdiction_path].get(c.item, set())
    return out


def double_dipping_among(contracts: list[PurchaseContract], a: dt.date, b: dt.date) -> list[rules.DoubleDipping]:
    """The double-dipping flags over [a, b] of these contracts' units (batched: two queries)."""
    if not contracts:
        return []
    facts = [rules.ContractFacts(c.pk, c.number, c.unit_id, c.item, c.start, c.end) for c in contracts]
    by_contract = replaced_by_contract(contracts, b)
    kinds = set().union(*by_contract.values())
    records = (Spell.objects.filter(unit_id__in={f.unit_id for f in facts}, work_type__in=kinds, hire_date__lte=b)
               .filter(Q(leave_date__isnull=True) | Q(leave_date__gt=a))
               .values_list("pk", "unit_id", "work_type", "hire_date", "leave_date"))
    return rules.double_dipping(facts, [rules.RecordFacts(*r) for r in records], {}, a, b, by_contract=by_contract)
