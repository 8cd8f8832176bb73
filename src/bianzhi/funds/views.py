"""Pages of 编外人员经费 and purchased services (requirements S7, S8): budget and spending with
the funding cap, control plans (applied for through the approvals), the service catalogue,
purchase contracts, double dipping (两头占), the "both fall" check (双下降), posts moved to
purchased services, and the funding and purchase imports.

Each view parses its input, calls the scoped selectors or one service, and renders. Every
object is reached through the selectors (out of scope answers 404, exactly like missing), and
every list, total and export is built on scoped reads only.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from bianzhi.accounts.permissions import can, require
from bianzhi.common.exports import Column, xlsx_response
from bianzhi.common.exports import exported_on as _exported_on
from bianzhi.common.forms import call_service as _call
from bianzhi.common.listing import Listing
from bianzhi.common.scoping import path_in_scope, scope_of, scoped
from bianzhi.divisions.models import Division
from bianzhi.orgs.choices import UnitStatus
from bianzhi.orgs.models import Unit
from bianzhi.orgs.selectors import units_in_scope
from bianzhi.staffing import selectors as staffing_selectors
from bianzhi.staffing.choices import RuleTable
from bianzhi.staffing.models import Spell
from bianzhi.staffing.rules import RuleSet, build_ruleset
from bianzhi.staffing.views import RowListing
from bianzhi.staffing.views import _names as staffing_names

from . import rules, selectors, services
from .forms import (
    BothFallFilterForm,
    ContractFilterForm,
    ContractForm,
    ConversionFilterForm,
    DoubleDippingFilterForm,
    ExitToServiceForm,
    FundingFilterForm,
    FundingForm,
    FundingPlanApplicationForm,
    PlanFilterForm,
)
from .models import ControlPlan, PurchaseContract

# ------------------------------------------------------------------------------------ helpers


def _today() -> dt.date:
    return timezone.localdate()


def _crumbs(*items: tuple[str, str | None]) -> list[tuple[str, str | None]]:
    return [(_("Funds and purchased services"), None), *items]


def _units(actor: Any, *, active: bool = True) -> Any:
    return units_in_scope(actor=actor, status=UnitStatus.ACTIVE if active else "")


def _unit_filter(actor: Any) -> Any:
    """The units a filter bar offers (none for a unit operator: it sees its own unit only)."""
    return None if actor.is_unit_bound else _units(actor, active=False)


def _with_default(request: HttpRequest, **defaults: Any) -> QueryDict:
    """The query with defaults for parameters that are absent (an empty value stays empty)."""
    data = request.GET.copy()
    for key, value in defaults.items():
        if key not in data:
            data[key] = value
    return data


def _names(actor: Any) -> RuleSet:
    """Names of every code the actor may meet (service items, work types), local rows included."""
    return staffing_names(actor, _today())


def _item_choices(names: RuleSet) -> list[tuple[str, str]]:
    rows = sorted(names.table(RuleTable.SERVICE_ITEM).values(), key=lambda r: (r.sort, r.code))
    return [(r.code, r.name) for r in rows]


def _work_type_names(names: RuleSet, codes: Iterable[str]) -> list[str]:
    return [names.name_of(RuleTable.WORK_TYPE, code) for code in codes]


def _filter_failed(form: Any) -> bool:
    """A filter that names something outside the scope (or is malformed) shows nothing."""
    return form.is_bound and not form.is_valid()


def _yes_no(value: bool | None) -> str:
    if value is None:
        return _("Unknown")
    return _("Yes") if value else _("No")


# ------------------------------------------------------------------------------------ funding

FUNDING_SORTS = {
    "unit": "unit_name",
    "year": "year",
    "budget": "budget",
    "spending": "spending",
    "cap": "cap",
}


def funding_rows(actor: Any, *, year: int | None, unit: Any, over_only: bool) -> list[dict[str, Any]]:
    """Budget, spending and funding cap of the units in scope per year; ``over`` when a budget
    of a year after the baseline year is above the cap (the rule of ``budget_over_cap``)."""
    fundings = list(selectors.fundings_in_scope(actor=actor, year=year, unit=unit))
    by_year: dict[int, list[Unit]] = defaultdict(list)
    for f in fundings:
        by_year[f.year].append(f.unit)
    caps: dict[tuple[int, int], decimal.Decimal | None] = {}
    for y, units in by_year.items():
        for pk, cap in selectors.caps_for(units, y).items():
            caps[(pk, y)] = cap
    base_years: dict[str, int] = {}
    out = []
    for f in fundings:
        path = f.unit.jurisdiction_path
        if path not in base_years:
            base_years[path] = selectors.baseline_year(path)
        cap = caps.get((f.unit_id, f.year))
        limited = f.year > base_years[path]
        over = limited and cap is not None and f.budget is not None and f.budget > cap
        if over_only and not over:
            continue
        out.append({
            "funding": f, "unit": f.unit, "unit_name": f.unit.name, "year": f.year, "budget": f.budget,
            "spending": f.spending, "cap": cap, "limited": limited, "over": over,
            "baseline_year": base_years[path],
        })
    return out


def _totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def total(key: str) -> decimal.Decimal:
        return sum((r[key] for r in rows if r[key] is not None), decimal.Decimal("0"))

    return {"budget": total("budget"), "spending": total("spending"), "over": sum(1 for r in rows if r["over"]),
            "rows": len(rows)}


@login_required
def funding_list(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    require(actor, "funding.view")
    today = _today()
    form = FundingFilterForm(_with_default(request, year=str(today.year)), units=_unit_filter(actor))
    rows: list[dict[str, Any]] = []
    if not _filter_failed(form):
        data = form.cleaned_data
        unit = data.get("unit")
        rows = funding_rows(actor, year=data.get("year"), unit=unit.pk if unit else None,
                            over_only=bool(data.get("over")))
    listing = RowListing(request, cast(Any, rows), sortable=FUNDING_SORTS, default_sort="unit")
    totals = _totals(rows)
    if listing.wants_export:
        return _funding_export(listing.rows, totals, actor)
    return render(request, "funds/funding_list.html", {
        "form": form, "listing": listing, "totals": totals,
        "can_change": can(actor, "funding.change"),
        "breadcrumbs": _crumbs((_("Budget and spending"), None)),
    })


def _funding_export(rows: list[dict[str, Any]], totals: dict[str, Any], actor: Any) -> HttpResponse:
    columns = [
        Column(_("Unified social credit code"), 22), Column(_("Unit"), 30), Column(_("Year"), 8, "int"),
        Column(_("Budget (yuan)"), 16, "money"), Column(_("Spending (yuan)"), 16, "money"),
        Column(_("Funding cap (yuan)"), 16, "money"), Column(_("Over the funding cap"), 10),
    ]
    data = ([r["unit"].uscc, r["unit"].name, r["year"], r["budget"], r["spending"], r["cap"],
             _("Yes") if r["over"] else ""] for r in rows)
    subtitle = _("Totals: budget %(budget)s yuan, spending %(spending)s yuan; %(over)s over the funding cap.") % {
        "budget": f"{totals['budget']:,.2f}", "spending": f"{totals['spending']:,.2f}", "over": totals["over"]}
    return xlsx_response(_("Budget and spending"), _("Non-establishment staff funding"), columns, data,
                         subtitle=f"{subtitle} {_exported_on(actor)}")


@login_required
@require_http_methods(["GET", "POST"])
def funding_set(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    require(actor, "funding.change")
    today = _today()
    units = _units(actor)
    initial: dict[str, Any] = {"year": today.year}
    cap_info = None
    year_text = request.GET.get("year", "")
    if year_text.isdigit() and len(year_text) == 4:
        initial["year"] = int(year_text)
    unit_text = request.GET.get("unit", "")
    if unit_text.isdigit():
        unit = units.filter(pk=int(unit_text)).first()
        if unit is not None:
            initial["unit"] = unit.pk
            current = selectors.fundings_in_scope(actor=actor, year=initial["year"], unit=unit.pk).first()
            if current is not None:
                initial["budget"] = "" if current.budget is None else f"{current.budget:.2f}"
                initial["spending"] = "" if current.spending is None else f"{current.spending:.2f}"
            cap_info = {"unit": unit, "year": initial["year"], "cap": selectors.funding_cap_for(unit, initial["year"]),
                        "baseline_year": selectors.baseline_year(unit.jurisdiction_path)}
    form = FundingForm(request.POST or None, initial=initial, units=units)
    if request.method == "POST" and form.is_valid():
        row = _call(form, services.funding_set, actor=actor, **form.service_kwargs())
        if row is not None:
            messages.success(request, _("The funding of “%(unit)s” for %(year)s has been saved.")
                             % {"unit": row.unit.name, "year": row.year})
            return redirect(reverse("funds:funding_list") + f"?year={row.year}")
    return render(request, "funds/funding_form.html", {
        "form": form, "cap_info": cap_info,
        "title": _("Budget and spending of a unit"),
        "intro": _("A budget above the unit's funding cap — its spending in the baseline year, or its "
                   "control plan's target when lower — is refused."),
        "submit": _("Save"),
        "cancel_url": reverse("funds:funding_list"),
        "breadcrumbs": _crumbs((_("Budget and spending"), reverse("funds:funding_list")),
                               (_("Budget and spending of a unit"), None)),
    }, status=422 if request.method == "POST" else 200)


# ------------------------------------------------------------------------------------ control plans

PLAN_SORTS = {"subject": "jurisdiction_path", "year": "year", "amount": "amount", "approved_on": "approved_on"}


def _plan_rows(actor: Any, plans: Iterable[ControlPlan]) -> Iterator[dict[str, Any]]:
    """Each plan with the budget and spending of its unit or jurisdiction for its year. A
    jurisdiction plan's sums are shown only when all of it is in the actor's scope (a district
    user sees the city's plan, never the city's totals)."""
    plans = list(plans)
    unit_keys = {(p.unit_id, p.year) for p in plans if p.unit_id}
    unit_sums: dict[tuple[int, int], tuple[Any, Any]] = {}
    if unit_keys:
        fundings = selectors.fundings_in_scope(actor=actor).filter(
            unit_id__in={u for u, _y in unit_keys}, year__in={y for _u, y in unit_keys})
        unit_sums = {(f.unit_id, f.year): (f.budget, f.spending) for f in fundings}
    for plan in plans:
        whole = True
        if plan.unit_id:
            budget, spending = unit_sums.get((plan.unit_id, plan.year), (None, None))
        elif not actor.is_unit_bound and path_in_scope(plan.jurisdiction.path, actor):
            sums = (selectors.fundings_in_scope(actor=actor, year=plan.year)
                    .filter(jurisdiction_path__startswith=plan.jurisdiction.path)
                    .aggregate(b=Sum("budget"), s=Sum("spending")))
            budget, spending = sums["b"], sums["s"]
        else:
            budget, spending, whole = None, None, False
        yield {
            "plan": plan,
            "subject": plan.unit.name if plan.unit is not None else plan.jurisdiction.name,
            "is_unit": bool(plan.unit_id),
            "budget": budget, "spending": spending, "whole": whole,
            "budget_over": budget is not None and budget > plan.amount,
            "spending_over": spending is not None and spending > plan.amount,
        }


@login_required
def plan_list(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    require(actor, "funding.view")
    form = PlanFilterForm(request.GET)
    if _filter_failed(form):
        qs = ControlPlan.objects.none()
    else:
        data = getattr(form, "cleaned_data", {})
        qs = selectors.plans_in_scope(actor=actor, year=data.get("year"), current=not data.get("history"))
    listing = Listing(request, qs, sortable=PLAN_SORTS, default_sort="-year")
    if listing.wants_export:
        columns = [
            Column(_("Plan for"), 30), Column(_("Unified social credit code"), 22), Column(_("Year"), 8, "int"),
            Column(_("Target (yuan)"), 16, "money"), Column(_("Budget (yuan)"), 16, "money"),
            Column(_("Spending (yuan)"), 16, "money"), Column(_("Approval"), 20), Column(_("Approved on"), 12, "date"),
            Column(_("Current"), 8),
        ]
        data_rows = ([r["subject"], r["plan"].unit.uscc if r["is_unit"] else r["plan"].jurisdiction.code,
                      r["plan"].year, r["plan"].amount, r["budget"], r["spending"], r["plan"].case_number,
                      r["plan"].approved_on, _("Yes") if r["plan"].is_current else _("No")]
                     for r in _plan_rows(actor, listing.queryset))
        return xlsx_response(_("Funding control plans"), _("Funding control plans"), columns, data_rows,
                             subtitle=_exported_on(actor))
    return render(request, "funds/plan_list.html", {
        "form": form, "listing": listing, "rows": list(_plan_rows(actor, listing.page)),
        "can_apply": can(actor, "application.funding_plan"),
        "breadcrumbs": _crumbs((_("Funding control plans"), None)),
    })


@login_required
def apply_plan(request: HttpRequest) -> HttpResponse:
    from bianzhi.workflow.views import _apply

    return _apply(request, "funding_plan", FundingPlanApplicationForm, _("Funding control plan application"))


# ------------------------------------------------------------------------------------ catalogue


def catalogue_rows(actor: Any, as_of: dt.date) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The service items in force for the actor's jurisdiction, and the local items of the
    jurisdictions below it, each with the names of the work types it replaces."""
    path = scope_of(actor).path
    all_rows = staffing_selectors.rule_rows()
    ruleset = build_ruleset(all_rows, path, as_of)

    def replaces(value: str, names: RuleSet) -> list[str]:
        codes = rules.replaced_by({"x": value})["x"]
        return sorted(_work_type_names(names, codes))

    divisions = dict(Division.objects.filter(path__in={r.jurisdiction_path for r in all_rows
                                                       if r.jurisdiction_path}).values_list("path", "name"))
    in_force = [
        {"code": r.code, "name": r.name, "replaces": replaces(r.value, ruleset), "valid_from": r.valid_from,
         "origin": divisions.get(r.jurisdiction_path, "") if r.jurisdiction_path else ""}
        for r in sorted(ruleset.table(RuleTable.SERVICE_ITEM).values(), key=lambda r: (r.sort, r.code))
    ]
    below = []
    rulesets: dict[str, RuleSet] = {}
    for r in sorted(all_rows, key=lambda r: (r.jurisdiction_path, r.sort, r.code)):
        if (r.table != RuleTable.SERVICE_ITEM or not r.jurisdiction_path.startswith(path)
                or r.jurisdiction_path == path or r.valid_from > as_of
                or (r.valid_to is not None and r.valid_to <= as_of)):
            continue
        if r.jurisdiction_path not in rulesets:
            rulesets[r.jurisdiction_path] = build_ruleset(all_rows, r.jurisdiction_path, as_of)
        below.append({"code": r.code, "name": r.name, "replaces": replaces(r.value, rulesets[r.jurisdiction_path]),
                      "valid_from": r.valid_from, "origin": divisions.get(r.jurisdiction_path, "")})
    return in_force, below


@login_required
def catalogue(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    require(actor, "funding.view")
    today = _today()
    in_force, below = catalogue_rows(actor, today)
    if request.GET.get("export") == "xlsx":
        columns = [Column(_("Service item"), 24), Column(_("Code"), 20), Column(_("Replaces work types"), 40),
                   Column(_("Defined by"), 20), Column(_("Valid from"), 12, "date")]
        default = _("Province default")
        data = ([r["name"], r["code"], "、".join(r["replaces"]), r["origin"] or default, r["valid_from"]]
                for r in [*in_force, *below])
        return xlsx_response(_("Service catalogue"), _("Service catalogue"), columns, data,
                             subtitle=_exported_on(actor))
    return render(request, "funds/catalogue.html", {
        "in_force": in_force, "below": below, "as_of": today,
        "export_url": "?export=xlsx",
        "breadcrumbs": _crumbs((_("Service catalogue"), None)),
    })


# ------------------------------------------------------------------------------------ contracts

CONTRACT_SORTS = {
    "number": "number", "unit": "unit__name", "item": "item", "start": "start", "end": "end", "amount": "amount",
}


@login_required
def contract_list(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    require(actor, "funding.view")
    today = _today()
    names = _names(actor)
    form = ContractFilterForm(request.GET, units=_unit_filter(actor), items=_item_choices(names))
    if _filter_failed(form):
        qs = PurchaseContract.objects.none()
    else:
        data = getattr(form, "cleaned_data", {})
        unit = data.get("unit")
        qs = selectors.contracts_in_scope(actor=actor, unit=unit.pk if unit else None, item=data.get("item") or "",
                                          in_force_on=data.get("in_force_on"), q=(data.get("q") or "").strip())
    listing = Listing(request, qs, sortable=CONTRACT_SORTS, default_sort="-start")
    source = listing.queryset.iterator(chunk_size=2000) if listing.wants_export else listing.page
    rows = ({"contract": c, "item": names.name_of(RuleTable.SERVICE_ITEM, c.item),
             "in_force": c.start <= today <= c.end} for c in source)
    if listing.wants_export:
        columns = [Column(_("Contract number"), 24), Column(_("Unified social credit code"), 22), Column(_("Unit"), 30),
                   Column(_("Service item"), 20), Column(_("Start date"), 12, "date"), Column(_("End date"), 12, "date"),
                   Column(_("Amount (yuan)"), 16, "money")]
        data_rows = ([r["contract"].number, r["contract"].unit.uscc, r["contract"].unit.name, r["item"],
                      r["contract"].start, r["contract"].end, r["contract"].amount] for r in rows)
        return xlsx_response(_("Purchase contracts"), _("Purchase contracts"), columns, data_rows,
                             subtitle=_exported_on(actor))
    return render(request, "funds/contract_list.html", {
        "form": form, "listing": listing, "rows": list(rows),
        "can_change": can(actor, "purchase.change"),
        "breadcrumbs": _crumbs((_("Purchase contracts"), None)),
    })


@login_required
@require_http_methods(["GET", "POST"])
def contract_new(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    require(actor, "purchase.change")
    units = _units(actor)
    initial: dict[str, Any] = {}
    if request.GET.get("unit", "").isdigit():
        initial["unit"] = request.GET["unit"]
    form = ContractForm(request.POST or None, initial=initial, units=units, items=_item_choices(_names(actor)))
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        contract = _call(form, services.contract_create, actor=actor, unit_id=d["unit"].pk, number=d["number"],
                         item=d["item"], start=d["start"], end=d["end"], amount=d["amount"])
        if contract is not None:
            messages.success(request, _("Contract %(number)s has been registered.") % {"number": contract.number})
            return redirect("funds:contract_list")
    return render(request, "funds/form.html", {
        "form": form,
        "title": _("Register a purchase contract"),
        "intro": _("A contract of a catalogue service is in force from its start date to its end date, both "
                   "included; while in force it may not overlap records of the work types its item replaces."),
        "submit": _("Save"),
        "cancel_url": reverse("funds:contract_list"),
        "breadcrumbs": _crumbs((_("Purchase contracts"), reverse("funds:contract_list")),
                               (_("Register a purchase contract"), None)),
    }, status=422 if request.method == "POST" else 200)


# ------------------------------------------------------------------------------------ double dipping

DIPPING_SORTS = {"unit": "unit_name", "first_day": "first_day", "overlaps": "overlap_count", "days": "days"}


def dipping_cards(actor: Any, flags: list[rules.DoubleDipping], names: RuleSet) -> list[dict[str, Any]]:
    """The flags for the page: the unit, its contracts and its records (read in scope), and each
    overlap with its first and last day."""
    units = {u.pk: u for u in units_in_scope(actor=actor).filter(pk__in={f.unit_id for f in flags})}
    record_ids = {o.record.id for f in flags for o in f.overlaps}
    spells = {s.pk: s for s in scoped(Spell.objects.select_related("person"), actor).filter(pk__in=record_ids)}
    cards = []
    for flag in flags:
        unit = units.get(flag.unit_id)
        if unit is None:  # never for a scoped flag; a unit is only shown when in scope
            continue
        overlaps = []
        for o in sorted(flag.overlaps, key=lambda o: (o.first, o.contract.number, o.record.id)):
            spell = spells.get(o.record.id)
            overlaps.append({
                "overlap": o, "contract": o.contract, "item": names.name_of(RuleTable.SERVICE_ITEM, o.contract.item),
                "spell": spell, "person": spell.person.name if spell else "", "post_name": spell.post_name if spell else "",
                "work_type": names.name_of(RuleTable.WORK_TYPE, o.record.work_type),
                "hire_date": o.record.hire_date, "leave_date": o.record.leave_date,
                "first": o.first, "last": o.last, "days": o.days,
            })
        contracts = [{"contract": c, "item": names.name_of(RuleTable.SERVICE_ITEM, c.item)}
                     for c in sorted(flag.contracts, key=lambda c: (c.start, c.number))]
        cards.append({
            "unit": unit, "unit_name": unit.name, "contracts": contracts, "overlaps": overlaps,
            "records": len(flag.records), "first_day": flag.first_day, "overlap_count": len(overlaps),
            "days": max(o.days for o in flag.overlaps),
        })
    return cards


@login_required
def double_dipping(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    require(actor, "funding.view")
    today = _today()
    form = DoubleDippingFilterForm(
        _with_default(request, a=dt.date(today.year, 1, 1).isoformat(), b=today.isoformat()),
        units=_unit_filter(actor))
    cards: list[dict[str, Any]] = []
    a, b = dt.date(today.year, 1, 1), today
    if not _filter_failed(form):
        data = form.cleaned_data
        a, b = data.get("a") or a, data.get("b") or b
        unit = data.get("unit")
        names = _names(actor)
        cards = dipping_cards(actor, selectors.double_dipping(actor=actor, a=a, b=b, unit=unit.pk if unit else None),
                              names)
    listing = RowListing(request, cast(Any, cards), sortable=DIPPING_SORTS, default_sort="unit", per_page=20)
    if listing.wants_export:
        return _dipping_export(listing.rows, a, b, actor)
    return render(request, "funds/double_dipping.html", {
        "form": form, "listing": listing, "a": a, "b": b,
        "overlap_total": sum(c["overlap_count"] for c in cards),
        "breadcrumbs": _crumbs((_("Double dipping"), None)),
    })


def _dipping_export(cards: list[dict[str, Any]], a: dt.date, b: dt.date, actor: Any) -> HttpResponse:
    columns = [
        Column(_("Unified social credit code"), 22), Column(_("Unit"), 30), Column(_("Contract number"), 22),
        Column(_("Service item"), 18), Column(_("Contract start"), 12, "date"), Column(_("Contract end"), 12, "date"),
        Column(_("Name"), 10), Column(_("Post name"), 16), Column(_("Work type"), 12),
        Column(_("Hire date"), 12, "date"), Column(_("Leave date"), 12, "date"),
        Column(_("First overlapping day"), 12, "date"), Column(_("Last overlapping day"), 12, "date"),
        Column(_("Days"), 8, "int"),
    ]

    def data() -> Iterator[list[Any]]:
        for card in cards:
            for o in card["overlaps"]:
                yield [card["unit"].uscc, card["unit"].name, o["contract"].number, o["item"], o["contract"].start,
                       o["contract"].end, o["person"], o["post_name"], o["work_type"], o["hire_date"],
                       o["leave_date"], o["first"], o["last"], o["days"]]

    title = _("Double dipping from %(a)s to %(b)s") % {"a": a.isoformat(), "b": b.isoformat()}
    return xlsx_response(_("Double dipping"), title, columns, data(), subtitle=_exported_on(actor))


# ------------------------------------------------------------------------------------ both fall

BOTH_FALL_SORTS = {
    "unit": "unit_name", "baseline_count": "baseline_count", "headcount": "headcount",
    "baseline_spending": "baseline_spending", "spending": "spending",
}


def _both_fall_row(row: selectors.BothFallRow) -> dict[str, Any]:
    check = row.check
    return {
        "unit_id": row.unit, "unit_name": row.label, "baseline_count": check.baseline_count,
        "headcount": check.headcount, "headcount_fell": check.headcount_fell,
        "baseline_spending": check.baseline_spending, "spending": check.spending,
        "spending_fell": check.spending_fell, "both_fell": check.both_fell,
    }


@login_required
def both_fall(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    require(actor, "funding.view")
    today = _today()
    form = BothFallFilterForm(_with_default(request, year=str(today.year - 1)))
    year = form.value_of("year", today.year - 1)
    overall, unit_rows = selectors.both_fall(actor=actor, year=year)
    rows = [_both_fall_row(r) for r in unit_rows]
    base = selectors.baseline_year(scope_of(actor).path)
    listing = RowListing(request, cast(Any, rows), sortable=BOTH_FALL_SORTS, default_sort="unit")
    if listing.wants_export:
        columns = [
            Column(_("Unit"), 30), Column(_("Baseline headcount"), 12, "int"),
            Column(_("Headcount at the year end"), 12, "int"), Column(_("Headcount fell"), 10),
            Column(_("Spending in the baseline year (yuan)"), 18, "money"), Column(_("Spending (yuan)"), 16, "money"),
            Column(_("Spending fell"), 10), Column(_("Both fell"), 10),
        ]
        data = ([r["unit_name"], r["baseline_count"], r["headcount"], _yes_no(r["headcount_fell"]),
                 r["baseline_spending"], r["spending"], _yes_no(r["spending_fell"]), _yes_no(r["both_fell"])]
                for r in listing.rows)
        subtitle = _("Total: headcount %(headcount)s (baseline %(baseline)s), spending %(spending)s yuan "
                     "(baseline year %(baseline_spending)s yuan); both fell: %(answer)s.") % {
            "headcount": f"{overall.headcount:,}", "baseline": f"{overall.baseline_count:,}",
            "spending": "—" if overall.spending is None else f"{overall.spending:,.2f}",
            "baseline_spending": "—" if overall.baseline_spending is None else f"{overall.baseline_spending:,.2f}",
            "answer": _yes_no(overall.both_fell)}
        return xlsx_response(_("Both fall"), _("Both fall in %(year)s") % {"year": year}, columns, data,
                             subtitle=f"{subtitle} {_exported_on(actor)}")
    return render(request, "funds/both_fall.html", {
        "form": form, "listing": listing, "year": year, "overall": overall, "baseline_year": base,
        "answer": "unknown" if overall.both_fell is None else "yes" if overall.both_fell else "no",
        "breadcrumbs": _crumbs((_("Both fall"), None)),
    })


# ------------------------------------------------------------------------------------ conversions

CONVERSION_SORTS = {"converted_on": "converted_on", "unit": "unit__name", "contract": "contract__number"}


@login_required
def conversion_list(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    require(actor, "funding.view")
    names = _names(actor)
    form = ConversionFilterForm(request.GET, units=_unit_filter(actor))
    summary: list[dict[str, Any]] = []
    if _filter_failed(form):
        qs = selectors.conversions_in_scope(actor=actor).none()
    else:
        data = getattr(form, "cleaned_data", {})
        year, unit = data.get("year"), data.get("unit")
        qs = selectors.conversions_in_scope(actor=actor, year=year, unit=unit.pk if unit else None)
        summary = [r for r in selectors.conversions_by_unit_year(actor=actor)
                   if (not year or r["year"] == year) and (unit is None or r["unit_id"] == unit.pk)]
    listing = Listing(request, qs, sortable=CONVERSION_SORTS, default_sort="-converted_on")
    source = listing.queryset.iterator(chunk_size=2000) if listing.wants_export else listing.page
    rows = ({"conversion": c, "work_type": names.name_of(RuleTable.WORK_TYPE, c.spell.work_type),
             "item": names.name_of(RuleTable.SERVICE_ITEM, c.contract.item)} for c in source)
    if listing.wants_export:
        columns = [Column(_("Converted on"), 12, "date"), Column(_("Unified social credit code"), 22),
                   Column(_("Unit"), 30), Column(_("Name"), 10), Column(_("Post name"), 16), Column(_("Work type"), 12),
                   Column(_("Contract number"), 22), Column(_("Service item"), 18)]
        data_rows = ([r["conversion"].converted_on, r["conversion"].unit.uscc, r["conversion"].unit.name,
                      r["conversion"].spell.person.name, r["conversion"].spell.post_name, r["work_type"],
                      r["conversion"].contract.number, r["item"]] for r in rows)
        return xlsx_response(_("Posts moved to purchased services"), _("Posts moved to purchased services"),
                             columns, data_rows, subtitle=_exported_on(actor))
    return render(request, "funds/conversion_list.html", {
        "form": form, "listing": listing, "rows": list(rows), "summary": summary,
        "summary_total": sum(r["posts"] for r in summary),
        "breadcrumbs": _crumbs((_("Posts moved to purchased services"), None)),
    })


@login_required
@require_http_methods(["GET", "POST"])
def exit_to_service(request: HttpRequest) -> HttpResponse:
    """Move a record's post to a purchased service (?spell=<record id>): the record exits with
    reason 转为购买服务, citing the unit's contract that takes the work over."""
    actor: Any = request.user
    require(actor, "roster.change")
    spell_id = request.GET.get("spell", "")
    if not spell_id:
        return redirect("funds:conversion_list")
    spell = staffing_selectors.get_spell(actor=actor, pk=spell_id)
    detail_url = reverse("staffing:roster_detail", args=[spell.pk])
    if spell.leave_date is not None:
        messages.error(request, _("This record has already ended."))
        return redirect(detail_url)
    names = _names(actor)
    today = _today()
    ruleset = staffing_selectors.ruleset_for(spell.jurisdiction_path, today)
    replacing = {code for code, kinds in rules.replaced_by(
        {k: r.value for k, r in ruleset.table(RuleTable.SERVICE_ITEM).items()}).items() if spell.work_type in kinds}
    contracts = list(selectors.contracts_in_scope(actor=actor, unit=spell.unit_id).order_by("-start", "number"))
    choices = [(c.number, f"{c.number} · {names.name_of(RuleTable.SERVICE_ITEM, c.item)} · "
                          f"{c.start.isoformat()} – {c.end.isoformat()}") for c in contracts]
    suitable = [c for c in contracts if c.item in replacing]
    initial: dict[str, Any] = {"leave_date": today}
    if len(suitable) == 1:
        initial["contract"] = suitable[0].number
    form = ExitToServiceForm(request.POST or None, initial=initial, contracts=choices)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        conversion = _call(form, services.exit_to_service, actor=actor, spell_id=spell.pk,
                           leave_date=d["leave_date"], contract_number=d["contract"])
        if conversion is not None:
            messages.success(request, _("The post of %(name)s has moved to the purchased service of contract "
                                        "%(number)s.") % {"name": spell.person.name, "number": d["contract"]})
            return redirect(detail_url)
    return render(request, "funds/exit_to_service.html", {
        "form": form, "spell": spell, "work_type": names.name_of(RuleTable.WORK_TYPE, spell.work_type),
        "suitable": [{"contract": c, "item": names.name_of(RuleTable.SERVICE_ITEM, c.item)} for c in suitable],
        "cancel_url": detail_url,
        "breadcrumbs": _crumbs((_("Posts moved to purchased services"), reverse("funds:conversion_list")),
                               (spell.person.name, None)),
    }, status=422 if request.method == "POST" else 200)


# ------------------------------------------------------------------------------------ imports

from bianzhi.common.import_pages import ImportKind, import_page, import_report, import_template  # noqa: E402

FUNDING_IMPORT = ImportKind(
    kind="funding", permission="funding.change", run="bianzhi.funds.importing.import_funding",
    template="bianzhi.funds.importing.funding_workbook", title=gettext_lazy("Import funding"),
    page="funds:funding_import", template_url="funds:funding_import_template",
    report_url="funds:funding_import_report", list_url="funds:funding_list",
    list_title=gettext_lazy("Budget and spending"), section=gettext_lazy("Funds and purchased services"),
    intro=gettext_lazy("One row per unit and year: the unit's credit code, the year, the budget and the "
                       "spending. A row of an existing unit and year updates it; a budget above the funding cap "
                       "is refused."))
PURCHASE_IMPORT = ImportKind(
    kind="purchases", permission="purchase.change", run="bianzhi.funds.importing.import_purchases",
    template="bianzhi.funds.importing.purchases_workbook", title=gettext_lazy("Import purchase contracts"),
    page="funds:contract_import", template_url="funds:contract_import_template",
    report_url="funds:contract_import_report", list_url="funds:contract_list",
    list_title=gettext_lazy("Purchase contracts"), section=gettext_lazy("Funds and purchased services"),
    intro=gettext_lazy("One row per contract: number, the unit's credit code, the catalogue item, start and "
                       "end dates and the amount. Contract numbers must be new."))


@login_required
@require_http_methods(["GET", "POST"])
def funding_import(request: HttpRequest) -> HttpResponse:
    return import_page(request, FUNDING_IMPORT)


@login_required
def funding_import_report(request: HttpRequest) -> HttpResponse:
    return import_report(request, FUNDING_IMPORT)


@login_required
def funding_import_template(request: HttpRequest) -> HttpResponse:
    return import_template(request, FUNDING_IMPORT, _("funding-import-template"))


@login_required
@require_http_methods(["GET", "POST"])
def contract_import(request: HttpRequest) -> HttpResponse:
    return import_page(request, PURCHASE_IMPORT)


@login_required
def contract_import_report(request: HttpRequest) -> HttpResponse:
    return import_report(request, PURCHASE_IMPORT)


@login_required
def contract_import_template(request: HttpRequest) -> HttpResponse:
    return import_template(request, PURCHASE_IMPORT, _("purchase-import-template"))
