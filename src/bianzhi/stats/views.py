"""Statistics pages (requirement S11): the 23 indicators for any scope and date, the records
behind every number (drill-down), the dashboard, the statistical report (统计报表) and the
indicator catalogue.

Every figure comes from :func:`bianzhi.stats.selectors.indicators_for` (or the grouped reads
of :mod:`bianzhi.stats.figures` over the same resolved scope), so a number on any page equals
the API's. The scope is resolved by the selector: a jurisdiction or unit outside the user's
scope answers with the selector's error, exactly like a missing one.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterator
from typing import Any, cast
from urllib.parse import quote, urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from bianzhi.accounts.permissions import can, require
from bianzhi.common.errors import BianzhiError
from bianzhi.common.exports import XLSX_MIME, Column, exported_on, xlsx_response
from bianzhi.common.forms import add_service_errors
from bianzhi.common.forms import call_service as _call
from bianzhi.common.listing import Listing
from bianzhi.common.scoping import scope_of, scoped
from bianzhi.divisions.choices import Level
from bianzhi.divisions.selectors import divisions_in_scope
from bianzhi.funds.models import UnitFunding
from bianzhi.orgs.models import EstablishmentQuota, Unit
from bianzhi.orgs.selectors import in_force
from bianzhi.staffing import selectors as staffing_selectors
from bianzhi.staffing.choices import RuleTable
from bianzhi.staffing.models import Spell
from bianzhi.staffing.rules import RuleSet
from bianzhi.staffing.views import RowListing
from bianzhi.staffing.views import _names as staffing_names

from . import figures as fig
from . import selectors, services
from .choices import IndicatorKind, IndicatorUnit
from .compute import CODES, UnitFigures, counting_q, rate
from .forms import IndicatorAddForm, IndicatorParamsForm
from .models import IndicatorDefinition
from .report import (
    TableRow,
    build_report,
    column_groups,
    default_names,
    display,
    indicators_workbook,
    measure_of,
    report_workbook,
)
from .selectors import SPLITS, Resolved

# ------------------------------------------------------------------------------------ helpers


def _crumbs(*items: tuple[str, str | None]) -> list[tuple[str, str | None]]:
    return [(_("Statistics and supervision"), None), *items]


def _today() -> dt.date:
    return timezone.localdate()


def _params_form(request: HttpRequest, only: tuple[str, ...] | None = None) -> IndicatorParamsForm:
    actor: Any = request.user
    divisions = divisions_in_scope(actor=actor).exclude(level=Level.TOWN)
    base = actor.jurisdiction.depth if actor.jurisdiction_id else 0
    data = request.GET.copy()
    for key in ("page", "sort", "export", "key"):
        data.pop(key, None)
    return IndicatorParamsForm(data if data else None, divisions=divisions, base_depth=base, only=only)


def _compute(form: IndicatorParamsForm, actor: Any) -> tuple[dict[str, Any], Resolved, UnitFigures] | None:
    """The indicators for the form's parameters, or ``None`` with the selector's errors on the form."""
    if form.is_bound and not form.is_valid():
        return None
    try:
        result = selectors.indicators_for(actor=actor, **form.params())
    except BianzhiError as exc:
        add_service_errors(form, exc)
        _forget_refused_unit(form, exc)
        return None
    if not form.is_bound:  # show the defaults that were applied
        q = result[1].query
        form.initial = {"scope": result[1].division.code, "as_of": q.as_of.isoformat(),
                        "from": q.start.isoformat(), "to": q.end.isoformat(), "year": str(q.year)}
    return result


def _forget_refused_unit(form: IndicatorParamsForm, exc: BianzhiError) -> None:
    """A unit code that was refused (missing, or outside the scope) is not shown back."""
    if "unit" in form.fields and any(e.field == "unit" for e in exc.errors):
        data = QueryDict(mutable=True)
        data.update(form.data)
        data["unit"] = ""
        form.data = data


def link_params(resolved: Resolved, form: IndicatorParamsForm) -> dict[str, str]:
    """The explicit parameters of a computed page, for its links (the drill-down pages get the
    same scope and dates, whatever defaults were applied)."""
    q = resolved.query
    cleaned = getattr(form, "cleaned_data", {}) if form.is_bound else {}
    params: dict[str, str] = {}
    if resolved.unit is not None:
        params["unit"] = resolved.unit.uscc
        if cleaned.get("subunits"):
            params["subunits"] = "1"
    else:
        params["scope"] = resolved.division.code
        if cleaned.get("own_level"):
            params["own_level"] = "1"
    params.update({"as_of": q.as_of.isoformat(), "from": q.start.isoformat(), "to": q.end.isoformat(),
                   "year": str(q.year)})
    return params


def drill_url(code: str, params: dict[str, str], key: str = "", **changes: Any) -> str:
    query = {**params, **{k: str(v) for k, v in changes.items()}}
    if key:
        query["key"] = key
    return reverse("stats:drill", args=[code]) + "?" + urlencode(query)


def _describe(resolved: Resolved, params: dict[str, str]) -> dict[str, Any]:
    """What a page is about: scope (jurisdiction or unit), as-of day, period and year."""
    q = resolved.query
    if resolved.unit is not None:
        scope = f"{resolved.unit.name}（{resolved.unit.uscc}）"
        if params.get("subunits"):
            scope += " · " + _("with sub-units")
    else:
        scope = f"{resolved.division.name}（{resolved.division.code}）"
        if params.get("own_level"):
            scope += " · " + _("own level only")
    return {"scope": scope, "as_of": q.as_of, "start": q.start, "end": q.end, "year": q.year}


def _split_codes(rules: RuleSet, table: str) -> dict[str, str]:
    """Chinese name → code of a split's rule table (the JSON keys splits by name)."""
    return {row.name: row.code for row in rules.table(table).values()}


def _local_value(value: Any) -> str:
    if value is None:
        return "—"
    number = decimal.Decimal(str(value))
    if number == number.to_integral_value():
        return f"{int(number):,}"
    return f"{number:,.4f}"


def _rules(resolved: Resolved) -> RuleSet:
    return staffing_selectors.ruleset_for(resolved.query.path, resolved.query.as_of)


# ------------------------------------------------------------------------------------ indicators


def indicator_rows(data: dict[str, Any], resolved: Resolved, params: dict[str, str]) -> list[dict[str, Any]]:
    """The 23 for the page: code, name, kind, value shown and its drill-down link; splits as
    sub-rows (name, value, link with the split's code as ``key``)."""
    names = default_names()
    rules = _rules(resolved)
    kinds = dict(IndicatorDefinition.objects.filter(jurisdiction_path="", code__in=CODES).values_list("code", "kind"))
    rows = []
    for code in CODES:
        value = data["indicators"][code]
        row: dict[str, Any] = {"code": code, "name": names[code], "measure": measure_of(code),
                               "kind": _kind_label(kinds.get(code, "")), "url": drill_url(code, params)}
        if code in SPLITS:
            keys = _split_codes(rules, SPLITS[code])
            row["split"] = [{"name": name, "value": n, "display": display(code, n),
                             "url": drill_url(code, params, keys.get(name, ""))} for name, n in value.items()]
            row["value"] = sum(value.values())
            row["display"] = display(code, row["value"])
        else:
            row["value"], row["display"] = value, display(code, value)
        rows.append(row)
    return rows


def _kind_label(kind: str) -> str:
    try:
        return str(IndicatorKind(kind).label)
    except ValueError:
        return kind


def local_rows(data: dict[str, Any], resolved: Resolved) -> list[dict[str, Any]]:
    local = data.get("local") or {}
    defs = {d.code: d for d in selectors.local_indicators(resolved.query.path)}
    return [{"code": code, "name": defs[code].name if code in defs else code,
             "expression": defs[code].expression if code in defs else "", "value": value,
             "display": _local_value(value)} for code, value in local.items()]


@login_required
def indicators(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    require(actor, "stats.view")
    form = _params_form(request)
    result = _compute(form, actor)
    if result is None:
        return render(request, "stats/indicators.html", {
            "form": form, "breadcrumbs": _crumbs((_("Indicators"), None))}, status=422)
    data, resolved, _figures = result
    params = link_params(resolved, form)
    rows = indicator_rows(data, resolved, params)
    local = local_rows(data, resolved)
    about = _describe(resolved, params)
    if request.GET.get("export") == "xlsx":
        table: list[TableRow] = []
        for row in rows:
            if "split" in row:
                table.extend(TableRow(row["code"], row["name"], s["name"], s["value"], row["measure"])
                             for s in row["split"])
            else:
                table.append(TableRow(row["code"], row["name"], "", row["value"], row["measure"]))
        table.extend(TableRow(r["code"], r["name"], "", r["value"], "") for r in local)
        subtitle = _("%(scope)s · as of %(as_of)s · period %(start)s to %(end)s · year %(year)s") % {
            **about, "as_of": about["as_of"].isoformat(), "start": about["start"].isoformat(),
            "end": about["end"].isoformat()}
        content = indicators_workbook(_("The 23 indicators"), subtitle, table, exported_on(actor))
        return _xlsx(content, _("Indicators"))
    return render(request, "stats/indicators.html", {
        "form": form, "rows": rows, "local": local, "about": about, "params": params,
        "export_url": "?" + urlencode({**params, "export": "xlsx"}),
        "breadcrumbs": _crumbs((_("Indicators"), None)),
    })


def _xlsx(content: bytes, filename: str) -> HttpResponse:
    stamp = _today().strftime("%Y%m%d")
    response = HttpResponse(content, content_type=XLSX_MIME)
    response["Content-Disposition"] = (f"attachment; filename=\"export-{stamp}.xlsx\"; "
                                       f"filename*=UTF-8''{quote(f'{filename}-{stamp}.xlsx')}")
    return response


# ------------------------------------------------------------------------------------ drill-down

RECORD_CODES = frozenset({"I01", "I02", "I08", "I09", "I10", "I11", "I12", "I13"})
UNIT_CODES = frozenset({"I15", "I16", "I17", "I18", "I23"})
FUNDING_CODES = frozenset({"I19", "I20", "I21", "I22"})
RECORD_SORTS = {"name": "person__name", "unit": "unit__name", "situation": "situation", "post_class": "post_class",
                "hire_date": "hire_date", "leave_date": "leave_date"}
UNIT_SORTS = {"unit": "name", "now": "now", "baseline": "baseline", "cap": "cap", "excess": "excess"}
BASELINE_SORTS = {"unit": "name", "post_class": "post_class_name", "count": "count"}
FUNDING_SORTS = {"unit": "unit__name", "budget": "budget", "spending": "spending"}
QUOTA_SORTS = {"unit": "unit__name", "kind": "kind", "approved": "approved", "actual": "actual"}


def drill_records(actor: Any, resolved: Resolved, code: str, key: str) -> QuerySet[Spell]:
    """The records behind I01, I02, I08–I13 (``key``: a situation, post class or exit reason code)."""
    q = resolved.query
    spells = scoped(Spell.objects.select_related("person", "unit"), actor).filter(unit__in=q.units)
    if code in ("I12", "I13"):
        if code == "I12":
            return spells.filter(hire_date__gte=q.start, hire_date__lte=q.end)
        spells = spells.filter(leave_date__gte=q.start, leave_date__lte=q.end)
        return spells.filter(exit_reason=key) if key else spells
    spells = spells.filter(counting_q(q.as_of))
    if code == "I02":
        spells = spells.filter(funding_source="fiscal")
    elif code == "I08" and key:
        spells = spells.filter(situation=key)
    elif code == "I09" and key:
        spells = spells.filter(post_class=key)
    elif code == "I10":
        spells = spells.filter(situation="coordinator")
    elif code == "I11":
        spells = spells.exclude(key_post="")
    return spells


def drill_units(code: str, figures: UnitFigures, names: RuleSet) -> list[dict[str, Any]]:
    """The units behind I15, I16, I17, I23 — and for I18 every unit with a baseline above 0."""
    if code == "I15":
        ids = list(figures.class_breach)
    elif code == "I16":
        ids = list(figures.over_cap)
    elif code == "I17":
        ids = list(figures.cleared)
    elif code == "I18":
        ids = [pk for pk, base in figures.baseline.items() if base > 0]
    else:
        ids = list(figures.double_dipping)
    units = Unit.objects.in_bulk(ids)
    cleared = set(figures.cleared)
    rows = []
    for pk in ids:
        unit = units.get(pk)
        if unit is None:
            continue
        now, cap = figures.now.get(pk, 0), figures.total_cap.get(pk)
        rows.append({
            "unit": unit, "name": unit.name, "now": now, "baseline": figures.baseline.get(pk, 0), "cap": cap,
            "excess": None if cap is None else now - cap, "cleared": pk in cleared,
            "classes": [names.name_of(RuleTable.POST_CLASS, c) for c in figures.class_breach.get(pk, [])],
        })
    return rows


def drill_baseline(resolved: Resolved, names: RuleSet) -> list[dict[str, Any]]:
    """The frozen baseline cells (unit × post class) behind I03."""
    cells = staffing_selectors.baseline_cells(resolved.query.units)
    units = Unit.objects.in_bulk({u for u, _pc, _n in cells})
    return [{"unit": units[u], "name": units[u].name, "post_class": pc,
             "post_class_name": names.name_of(RuleTable.POST_CLASS, pc), "count": n}
            for u, pc, n in cells if u in units]


def _components(code: str, data: dict[str, Any], resolved: Resolved, params: dict[str, str],
                figures: UnitFigures) -> list[dict[str, Any]]:
    """The numerator and denominator (or terms) of a derived indicator, each with its link."""
    v = data["indicators"]
    q = resolved.query

    def ind(c: str, label: str = "", **changes: Any) -> dict[str, Any]:
        value = v[c] if not changes else None
        return {"label": label or c, "code": c, "value": value, "display": display(c, value) if not changes else "",
                "url": drill_url(c, params, **changes)}

    names = default_names()
    if code in ("I04", "I05"):
        return [ind("I01", names["I01"]), ind("I03", names["I03"])]
    if code in ("I06", "I07"):
        totals = fig.establishment_totals(q)
        key, label = ("approved", _("Approved establishment in force")) if code == "I06" else (
            "actual", _("Actual in-establishment headcount"))
        return [ind("I01", names["I01"]), {"label": label, "value": totals[key], "display": display("I01", totals[key] or 0),
                                           "url": ""}]
    if code == "I14":
        return [ind("I12", names["I12"]), {**ind("I13", names["I13"]), "value": sum(v["I13"].values()),
                                           "display": display("I13", sum(v["I13"].values()))}]
    if code == "I18":
        with_base = fig.units_with_baseline(figures)
        return [ind("I17", names["I17"]), {"label": _("Units with a baseline above 0"), "value": with_base,
                                           "display": display("I17", with_base), "url": ""}]
    if code == "I21":
        base_year, base = fig.baseline_year_spending(q)
        return [ind("I20", names["I20"]), {
            "label": _("Spending in the baseline year %(year)s") % {"year": base_year}, "value": base,
            "display": display("I20", base), "url": drill_url("I20", params, year=base_year)}]
    if code == "I22":
        counts = fig.month_end_counts(q)
        average = decimal.Decimal(sum(n for _d, n in counts)) / 12
        out = [ind("I20", names["I20"]), {"label": _("Average of the month-end headcounts"), "value": average,
                                         "display": f"{average:,.2f}", "url": ""}]
        out.extend({"label": _("Headcount on %(date)s") % {"date": day.isoformat()}, "value": n,
                    "display": display("I01", n), "url": drill_url("I01", params, as_of=day.isoformat()),
                    "month": True} for day, n in counts)
        return out
    return []


def _drill_value(code: str, key: str, data: dict[str, Any], names: RuleSet) -> tuple[Any, str]:
    """The number being drilled into, and the split value's name."""
    value = data["indicators"][code]
    if code in SPLITS:
        if key:
            name = names.name_of(SPLITS[code], key)
            return value.get(name, 0), name
        return sum(value.values()), ""
    return value, ""


@login_required
def drill(request: HttpRequest, code: str) -> HttpResponse:
    actor: Any = request.user
    require(actor, "stats.view")
    if code not in CODES:
        raise Http404
    form = _params_form(request)
    result = _compute(form, actor)
    definitions = default_names()
    if result is None:  # the same errors as the indicators page, and nothing else
        return render(request, "stats/drill.html", {
            "form": form, "code": code, "name": definitions[code], "failed": True,
            "breadcrumbs": _crumbs((_("Indicators"), reverse("stats:indicators")), (code, None))}, status=422)
    data, resolved, figures = result
    params = link_params(resolved, form)
    key = request.GET.get("key", "").strip()[:64] if code in SPLITS else ""
    rules = _rules(resolved)
    names = staffing_names(actor, resolved.query.as_of)
    value, key_name = _drill_value(code, key, data, rules)
    about = _describe(resolved, params)
    context: dict[str, Any] = {
        "code": code, "name": definitions[code], "key": key, "key_name": key_name, "value": value,
        "display": display(code, value), "measure": measure_of(code), "about": about, "params": params,
        "form": form, "components": _components(code, data, resolved, params, figures),
        "back_url": reverse("stats:indicators") + "?" + urlencode(params),
        "breadcrumbs": _crumbs((_("Indicators"), reverse("stats:indicators") + "?" + urlencode(params)),
                               (f"{code} {definitions[code]}", None)),
    }
    title = f"{code} {definitions[code]}" + (f"（{key_name}）" if key_name else "")
    if code in RECORD_CODES:
        listing: Listing = Listing(request, drill_records(actor, resolved, code, key), sortable=RECORD_SORTS)
        if listing.wants_export:
            return _records_export(listing.queryset, names, title, about, actor)
        context["records"] = [_record_row(s, names) for s in listing.page]
    elif code == "I03":
        listing = RowListing(request, cast(Any, drill_baseline(resolved, names)), sortable=BASELINE_SORTS,
                             default_sort="unit")
        if listing.wants_export:
            return _baseline_export(listing.rows, title, about, actor)
        context["cells"] = listing.page
    elif code in UNIT_CODES:
        listing = RowListing(request, cast(Any, drill_units(code, figures, names)), sortable=UNIT_SORTS,
                             default_sort="unit")
        if listing.wants_export:
            return _units_export(code, listing.rows, title, about, actor)
        context["units"] = listing.page
        context["dipping_query"] = urlencode({"a": resolved.query.start.isoformat(),
                                              "b": resolved.query.end.isoformat()})
    elif code in FUNDING_CODES:
        fundings = scoped(UnitFunding.objects.select_related("unit"), actor).filter(
            unit__in=resolved.query.units, year=resolved.query.year)
        listing = Listing(request, fundings, sortable=FUNDING_SORTS, default_sort="unit")
        if listing.wants_export:
            return _funding_export(listing.queryset, title, about, actor)
        context["fundings"] = listing.page
    elif code in ("I06", "I07"):
        quotas = in_force(scoped(EstablishmentQuota.objects.select_related("unit"), actor).filter(
            unit__in=resolved.query.units), resolved.query.as_of)
        listing = Listing(request, quotas, sortable=QUOTA_SORTS, default_sort="unit")
        if listing.wants_export:
            return _quota_export(listing.queryset, title, about, actor)
        context["quotas"] = listing.page
    else:
        listing = None  # type: ignore[assignment]
        if request.GET.get("export") == "xlsx":
            return _components_export(context["components"], title, about, actor)
        context["export_url"] = "?" + urlencode({**params, "export": "xlsx"})
    context["listing"] = listing
    context["unit_kind"] = code
    return render(request, "stats/drill.html", context)


def _record_row(spell: Spell, names: RuleSet) -> dict[str, Any]:
    return {
        "spell": spell, "masked_id": spell.person.masked_id,
        "situation": names.name_of(RuleTable.SITUATION, spell.situation),
        "post_class": names.name_of(RuleTable.POST_CLASS, spell.post_class),
        "work_type": names.name_of(RuleTable.WORK_TYPE, spell.work_type),
        "funding_source": names.name_of(RuleTable.FUNDING_SOURCE, spell.funding_source),
        "key_post": names.name_of(RuleTable.KEY_POST, spell.key_post) if spell.key_post else "",
        "exit_reason": names.name_of(RuleTable.EXIT_REASON, spell.exit_reason) if spell.exit_reason else "",
    }


def _subtitle(about: dict[str, Any], actor: Any) -> str:
    return _("%(scope)s · as of %(as_of)s · period %(start)s to %(end)s · year %(year)s") % {
        **about, "as_of": about["as_of"].isoformat(), "start": about["start"].isoformat(),
        "end": about["end"].isoformat()} + " · " + exported_on(actor)


def _records_export(qs: QuerySet[Spell], names: RuleSet, title: str, about: dict[str, Any],
                    actor: Any) -> HttpResponse:
    columns = [Column(_("Name"), 10), Column(_("Citizen ID number (masked)"), 22),
               Column(_("Unified social credit code"), 22), Column(_("Unit"), 30), Column(_("Situation"), 16),
               Column(_("Post class"), 12), Column(_("Work type"), 12), Column(_("Post name"), 16),
               Column(_("Key post"), 8), Column(_("Funding source"), 12), Column(_("Hire date"), 12, "date"),
               Column(_("Leave date"), 12, "date"), Column(_("Exit reason"), 12)]

    def rows() -> Iterator[list[Any]]:
        for spell in qs.iterator(chunk_size=2000):
            r = _record_row(spell, names)
            yield [spell.person.name, r["masked_id"], spell.unit.uscc, spell.unit.name, r["situation"],
                   r["post_class"], r["work_type"], spell.post_name, r["key_post"], r["funding_source"],
                   spell.hire_date, spell.leave_date, r["exit_reason"]]

    return xlsx_response(title, title, columns, rows(), subtitle=_subtitle(about, actor))


def _baseline_export(rows: list[dict[str, Any]], title: str, about: dict[str, Any], actor: Any) -> HttpResponse:
    columns = [Column(_("Unified social credit code"), 22), Column(_("Unit"), 30), Column(_("Post class"), 14),
               Column(_("Baseline count"), 12, "int")]
    data = ([r["unit"].uscc, r["name"], r["post_class_name"], r["count"]] for r in rows)
    return xlsx_response(title, title, columns, data, subtitle=_subtitle(about, actor))


def _units_export(code: str, rows: list[dict[str, Any]], title: str, about: dict[str, Any],
                  actor: Any) -> HttpResponse:
    columns = [Column(_("Unified social credit code"), 22), Column(_("Unit"), 30),
               Column(_("Headcount"), 10, "int"), Column(_("Baseline"), 10, "int"), Column(_("Cap"), 10, "int"),
               Column(_("Above the cap by"), 10, "int"), Column(_("Post classes in breach"), 24)]
    data = ([r["unit"].uscc, r["name"], r["now"], r["baseline"], r["cap"], r["excess"], "、".join(r["classes"])]
            for r in rows)
    return xlsx_response(title, title, columns, data, subtitle=_subtitle(about, actor))


def _funding_export(qs: QuerySet[UnitFunding], title: str, about: dict[str, Any], actor: Any) -> HttpResponse:
    columns = [Column(_("Unified social credit code"), 22), Column(_("Unit"), 30), Column(_("Year"), 8, "int"),
               Column(_("Budget (yuan)"), 16, "money"), Column(_("Spending (yuan)"), 16, "money")]
    data = ([f.unit.uscc, f.unit.name, f.year, f.budget, f.spending] for f in qs)
    return xlsx_response(title, title, columns, data, subtitle=_subtitle(about, actor))


def _quota_export(qs: QuerySet[EstablishmentQuota], title: str, about: dict[str, Any], actor: Any) -> HttpResponse:
    columns = [Column(_("Unified social credit code"), 22), Column(_("Unit"), 30),
               Column(_("Establishment kind"), 14), Column(_("Approved number"), 12, "int"),
               Column(_("Actual headcount"), 12, "int"), Column(_("Valid from"), 12, "date")]
    data = ([e.unit.uscc, e.unit.name, e.get_kind_display(), e.approved, e.actual, e.valid_from] for e in qs)
    return xlsx_response(title, title, columns, data, subtitle=_subtitle(about, actor))


def _components_export(components: list[dict[str, Any]], title: str, about: dict[str, Any],
                       actor: Any) -> HttpResponse:
    columns = [Column(_("Component"), 36), Column(_("Value"), 16)]
    data = ([c["label"], c["display"]] for c in components)
    return xlsx_response(title, title, columns, data, subtitle=_subtitle(about, actor))


# ------------------------------------------------------------------------------------ dashboard


def _wan(value: decimal.Decimal | None) -> float | None:
    """Yuan → 万元 with 2 decimals, for the charts (tables keep yuan)."""
    return None if value is None else float((value / 10000).quantize(decimal.Decimal("0.01")))


def dashboard_charts(data: dict[str, Any], resolved: Resolved, figures: UnitFigures,
                     params: dict[str, str]) -> dict[str, Any]:
    """Every chart of the dashboard as plain data (rendered by charts.js and as a table)."""
    q = resolved.query
    v = data["indicators"]
    rules = _rules(resolved)
    people, yuan_wan = measure_of("I01"), _("10,000 yuan")
    charts: dict[str, Any] = {}

    points = fig.headcount_points(q.as_of)
    counts = fig.headcount_series(q, points)
    charts["headcount"] = {
        "kind": "line", "unit": people, "categories": [p.isoformat() for p in points],
        "series": [{"name": _("Headcount (I01)"), "data": counts},
                   {"name": _("Baseline (I03)"), "data": [v["I03"]] * len(points), "dashed": True}],
        "rows": [{"date": p, "count": n, "baseline": v["I03"], "change": n - v["I03"],
                  "url": drill_url("I01", params, as_of=p.isoformat())} for p, n in zip(points, counts, strict=True)],
    }
    situation = _split_codes(rules, RuleTable.SITUATION)
    post_class = _split_codes(rules, RuleTable.POST_CLASS)
    for name, code, keys in (("situation", "I08", situation), ("post_class", "I09", post_class)):
        charts[name] = _split_chart(people, [(n, c, drill_url(code, params, keys.get(n, "")))
                                             for n, c in v[code].items()])
    sources = fig.funding_source_split(q, rules)
    charts["funding_source"] = _split_chart(people, [(name, n, drill_url("I02", params) if code == "fiscal" else "")
                                                     for code, name, n in sources])
    base_year, base = fig.baseline_year_spending(q)
    years = fig.funding_by_year(q, min(fig.FIRST_YEAR, base_year), q.year)
    while len(years) > 1 and years[0].year < base_year and years[0].budget is None and years[0].spending is None:
        years.pop(0)  # no figures recorded yet in the first years
    charts["funding"] = {
        "kind": "bar", "unit": yuan_wan, "categories": [str(y.year) for y in years],
        "series": [{"name": _("Budget (I19)"), "data": [_wan(y.budget) for y in years]},
                   {"name": _("Spending (I20)"), "data": [_wan(y.spending) for y in years]},
                   {"name": _("Spending in the baseline year %(year)s") % {"year": base_year},
                    "data": [_wan(base)] * len(years), "type": "line", "dashed": True}],
        "rows": [{"year": y.year, "budget": y.budget, "spending": y.spending, "base": base,
                  "change": display("I21", rate(y.spending - base, base) if y.spending is not None and base else None),
                  "budget_url": drill_url("I19", params, year=y.year),
                  "spending_url": drill_url("I20", params, year=y.year)} for y in years],
        "base_year": base_year,
    }
    with_base = fig.units_with_baseline(figures)
    charts["cleared"] = {
        "kind": "pie", "unit": measure_of("I17"), "total": with_base,
        "series": [{"name": _("Cleared (I17)"), "value": v["I17"]},
                   {"name": _("Not yet cleared"), "value": with_base - v["I17"]}],
        "rows": {"cleared": v["I17"], "with_base": with_base, "rate": display("I18", v["I18"]),
                 "cleared_url": drill_url("I17", params), "with_base_url": drill_url("I18", params)},
    }
    top = fig.top_over_cap(figures)
    charts["over_cap"] = {
        "kind": "hbar", "unit": people, "categories": [t.unit.name for t in top],
        "series": [{"name": _("Headcount"), "data": [t.count for t in top]},
                   {"name": _("Cap"), "data": [t.cap for t in top]}],
        "rows": [{"unit": t.unit, "count": t.count, "cap": t.cap, "excess": t.excess} for t in top],
        "total": v["I16"], "url": drill_url("I16", params),
    }
    if resolved.unit is None and not params.get("own_level"):
        children = fig.children_side_by_side(q, figures, fig.sub_jurisdictions(resolved.division))
        if children:
            charts["children"] = {
                "kind": "bar", "unit": people, "categories": [c.division.name for c in children],
                "series": [{"name": _("Headcount (I01)"), "data": [c.i01 for c in children]},
                           {"name": _("Baseline (I03)"), "data": [c.i03 for c in children]},
                           {"name": _("Change against the baseline (I05)"), "type": "line", "percent": True,
                            "data": [None if c.i05 is None else float(c.i05 * 100) for c in children]}],
                "rows": [{"division": c.division, "i01": c.i01, "i03": c.i03, "i05": display("I05", c.i05),
                          "url": drill_url("I01", {**params, "scope": c.division.code})} for c in children],
            }
    return charts


def _split_chart(unit: str, items: list[tuple[str, int, str]]) -> dict[str, Any]:
    """A split of the headcount as horizontal bars, each labelled with its count and share."""
    return {"kind": "hbar", "unit": unit, "total": sum(n for _name, n, _url in items), "share": True,
            "categories": [name for name, _n, _url in items],
            "series": [{"name": unit, "data": [n for _name, n, _url in items]}],
            "rows": [{"name": name, "count": n, "url": url} for name, n, url in items]}


def _json_charts(charts: dict[str, Any]) -> dict[str, Any]:
    """The part of each chart charts.js reads (no objects, no links)."""
    keep = ("kind", "unit", "categories", "series", "total", "share")
    return {name: {k: c[k] for k in keep if k in c} for name, c in charts.items()}


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    require(actor, "stats.view")
    form = _params_form(request, only=("scope", "unit", "own_level", "as_of"))  # 本级: the city's own units
    result = _compute(form, actor)
    if result is None:
        return render(request, "stats/dashboard.html", {
            "form": form, "failed": True, "breadcrumbs": _crumbs((_("Dashboard"), None))}, status=422)
    data, resolved, figures = result
    params = link_params(resolved, form)
    charts = dashboard_charts(data, resolved, figures, params)
    from bianzhi.workflow.selectors import pending_count

    from .alerts import open_count

    v = data["indicators"]
    cards = [
        {"key": "I01", "label": _("Headcount"), "display": display("I01", v["I01"]), "url": drill_url("I01", params)},
        {"key": "I03", "label": _("Baseline"), "display": display("I03", v["I03"]), "url": drill_url("I03", params)},
        {"key": "I05", "label": _("Change against the baseline"), "display": display("I05", v["I05"]),
         "sub": display("I04", v["I04"]), "url": drill_url("I05", params), "good": (v["I04"] or 0) <= 0},
        {"key": "I16", "label": _("Units over their cap"), "display": display("I16", v["I16"]),
         "url": drill_url("I16", params), "warn": bool(v["I16"])},
        {"key": "I11", "label": _("Staff in key posts"), "display": display("I11", v["I11"]),
         "url": drill_url("I11", params), "warn": bool(v["I11"])},
        {"key": "I23", "label": _("Units suspected of double dipping"), "display": display("I23", v["I23"]),
         "url": drill_url("I23", params), "warn": bool(v["I23"])},
    ]
    counters = [
        {"key": "alerts", "label": _("Open alerts"), "value": open_count(actor), "url": reverse("stats:alert_list")},
        {"key": "pending", "label": _("My pending approvals"), "value": pending_count(actor),
         "url": reverse("workflow:inbox")},
    ]
    from bianzhi.demo.management.commands.assets import assets_present

    return render(request, "stats/dashboard.html", {
        "form": form, "charts": charts, "chart_data": _json_charts(charts), "cards": cards, "counters": counters,
        "about": _describe(resolved, params), "params": params, "indicators_url":
            reverse("stats:indicators") + "?" + urlencode(params),
        "echarts": static("vendor/echarts/echarts.min.js") if assets_present() else "",
        "breadcrumbs": _crumbs((_("Dashboard"), None)),
    })


# ------------------------------------------------------------------------------------ report


@login_required
def report(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    require(actor, "stats.view")
    form = _params_form(request, only=("scope", "as_of"))
    built = None
    if not form.is_bound or form.is_valid():
        p = form.params()
        try:
            built = build_report(actor=actor, scope=p.get("scope", ""), as_of=p.get("as_of"))
        except BianzhiError as exc:
            add_service_errors(form, exc)
            _forget_refused_unit(form, exc)
    if built is None:
        return render(request, "stats/report.html", {
            "form": form, "breadcrumbs": _crumbs((_("Statistical report"), None))}, status=422)
    if not form.is_bound:
        form.initial = {"scope": built.division.code, "as_of": built.as_of.isoformat()}
    compiled_by = actor.display_name or actor.username
    if request.GET.get("export") == "xlsx":
        return _xlsx(report_workbook(built, compiled_by, _today()), built.title)
    rules = staffing_selectors.ruleset_for(built.division.path, built.as_of)
    keys = {code: _split_codes(rules, table) for code, table in SPLITS.items()}
    rows = [{"row": row, "cells": [{"display": display(c.code, c.value(row)), "code": c.code, "split": c.split,
                                    "url": drill_url(c.code, row.params, keys[c.code].get(c.split or "", "")
                                                     if c.code in keys else "")} for c in built.columns]}
            for row in built.rows]
    return render(request, "stats/report.html", {
        "form": form, "report": built, "groups": column_groups(built.columns), "rows": rows,
        "compiled_by": compiled_by, "today": _today(),
        "export_url": "?" + urlencode({"scope": built.division.code, "as_of": built.as_of.isoformat(),
                                       "export": "xlsx"}),
        "breadcrumbs": _crumbs((_("Statistical report"), None)),
    })


# ------------------------------------------------------------------------------------ catalogue


@login_required
@require_http_methods(["GET", "POST"])
def catalogue(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    items = list(selectors.catalogue(actor=actor).select_related("jurisdiction"))
    may_add = can(actor, "stats.change")
    form = IndicatorAddForm(request.POST or None) if may_add else None
    if request.method == "POST":
        require(actor, "stats.change")
        assert form is not None
        if form.is_valid():
            d = form.cleaned_data
            item = _call(form, services.indicator_add, actor=actor, code=d["code"], name=d["name"],
                         expression=d["expression"], definition=d["definition"],
                         source_document=d["source_document"])
            if item is not None:
                messages.success(request, _("Indicator %(code)s “%(name)s” has been added.")
                                 % {"code": item.code, "name": item.name})
                return redirect("stats:catalogue")
    defaults = [i for i in items if not i.jurisdiction_path]
    local = [i for i in items if i.jurisdiction_path]
    if request.GET.get("export") == "xlsx":
        columns = [Column(_("Code"), 8), Column(_("Indicator"), 28), Column(_("Kind"), 12), Column(_("Unit of measure"), 10),
                   Column(_("Definition"), 60), Column(_("Expression"), 30), Column(_("Defined by"), 16)]
        province = _("Province default")
        data = ([i.code, i.name, i.get_kind_display(), _measure_label(i), i.definition, i.expression,
                 i.jurisdiction.name if i.jurisdiction else province] for i in [*defaults, *local])
        return xlsx_response(_("Indicator catalogue"), _("Indicator catalogue"), columns, data,
                             subtitle=exported_on(actor))
    return render(request, "stats/catalogue.html", {
        "defaults": [{"item": i, "measure": _measure_label(i)} for i in defaults],
        "local": [{"item": i, "measure": _measure_label(i)} for i in local],
        "form": form, "scope": scope_of(actor),
        "breadcrumbs": _crumbs((_("Indicator catalogue"), None)),
    }, status=422 if request.method == "POST" else 200)


def _measure_label(item: IndicatorDefinition) -> str:
    if not item.jurisdiction_path and item.code in CODES:
        return measure_of(item.code)
    try:
        return str(IndicatorUnit(item.unit).label)
    except ValueError:
        return item.unit

