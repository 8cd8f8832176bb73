"""Pages of dynamic supervision (动态监管, S12) and of the annual analysis (年度分析).

Alerts: the list (filters kind / status / unit / raised between; by default the alerts not yet
resolved; counts per kind on top; sortable, paged, exported to Excel), the detail (the finding in
words, the unit, the records behind it, the owner, the status with its history) and the POST that
acknowledges or resolves one with a note. The annual analysis: the page, the Word document and the
PDF of :mod:`bianzhi.stats.analysis`.

Every alert is reached through the scoped selectors: out of scope answers 404, exactly like a
missing one; a refused action (a note missing, an alert already resolved) answers 422 and changes
nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from bianzhi.accounts.choices import Role
from bianzhi.accounts.permissions import can, require
from bianzhi.common.errors import BianzhiError
from bianzhi.common.exports import Column, exported_on, xlsx_response
from bianzhi.common.listing import Listing
from bianzhi.common.scoping import get_scoped_or_404, scoped
from bianzhi.orgs.forms import StyledForm, date_field, with_blank
from bianzhi.orgs.models import Unit
from bianzhi.orgs.selectors import units_in_scope
from bianzhi.staffing.choices import RuleTable
from bianzhi.staffing.forms import UnitField
from bianzhi.staffing.models import Spell
from bianzhi.staffing.rules import RuleSet
from bianzhi.staffing.views import _names as staffing_names

from . import alerts, errors
from . import analysis as annual
from .choices import AlertStatus
from .models import Alert

# ------------------------------------------------------------------------------------ helpers

STATUS_ALL = "all"
STATUS_BADGES: dict[str, str] = {AlertStatus.OPEN: "text-bg-danger", AlertStatus.ACKNOWLEDGED: "text-bg-warning",
                 AlertStatus.RESOLVED: "text-bg-success"}
EVENT_LABELS: dict[str, Any] = {
    "raised": gettext_lazy("Raised"),
    "acknowledge": gettext_lazy("Acknowledged"),
    "resolve": gettext_lazy("Resolved"),
    "cleared": gettext_lazy("Cleared automatically"),
    "reopened": gettext_lazy("Re-opened"),
}


def _today() -> dt.date:
    return timezone.localdate()


def _crumbs(*items: tuple[str, str | None]) -> list[tuple[str, str | None]]:
    return [(_("Statistics and supervision"), None), *items]


def _names(actor: Any) -> RuleSet:
    return staffing_names(actor, _today())


def status_badge(status: str) -> str:
    return STATUS_BADGES.get(status, "text-bg-secondary")


def event_label(action: str) -> str:
    label = EVENT_LABELS.get(action)
    return str(label) if label is not None else action


def _unit_filter(actor: Any) -> QuerySet[Unit] | None:
    """The units a filter bar offers (none for a unit operator: it sees its own unit only)."""
    return None if actor.is_unit_bound else units_in_scope(actor=actor, status="")


# ------------------------------------------------------------------------------------ list


class AlertFilterForm(StyledForm):
    small = True

    kind = forms.ChoiceField(label=gettext_lazy("Alert"), required=False)
    status = forms.ChoiceField(label=gettext_lazy("Status"), required=False)
    unit = UnitField(label=gettext_lazy("Unit"), required=False, allow_name=True)
    raised_from = date_field(gettext_lazy("Raised from"), required=False)
    raised_to = date_field(gettext_lazy("Raised to"), required=False)

    def __init__(self, *args: Any, kinds: dict[str, str], units: QuerySet[Unit] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["kind"]).choices = with_blank(kinds.items())
        cast(forms.ChoiceField, self.fields["status"]).choices = [
            ("", _("Not resolved")), *AlertStatus.choices, (STATUS_ALL, _("All"))]
        if units is None:
            del self.fields["unit"]
        else:
            cast(UnitField, self.fields["unit"]).set_units(units, _("All"))


ALERT_SORTS = {"raised_on": "raised_on", "kind": "kind", "unit": "unit__name", "status": "status",
               "resolved_on": "resolved_on"}


def filtered_alerts(actor: Any, data: dict[str, Any]) -> QuerySet[Alert]:
    """The alerts of the actor's scope matching the filters, except the kind (counted per kind)."""
    unit = data.get("unit")
    qs = alerts.alerts_in_scope(actor=actor, unit=unit.pk if unit else None)
    status = data.get("status") or ""
    if status == "":
        qs = qs.exclude(status=AlertStatus.RESOLVED)
    elif status != STATUS_ALL:
        qs = qs.filter(status=status)
    if data.get("raised_from"):
        qs = qs.filter(raised_on__gte=data["raised_from"])
    if data.get("raised_to"):
        qs = qs.filter(raised_on__lte=data["raised_to"])
    return qs


def _kind_counts(request: HttpRequest, qs: QuerySet[Alert], kinds: dict[str, str], current: str) -> list[dict[str, Any]]:
    counts = dict(qs.order_by().values_list("kind").annotate(n=Count("id")).values_list("kind", "n"))
    params = request.GET.copy()
    params.pop("page", None)
    out = []
    for kind, name in kinds.items():
        params["kind"] = kind
        out.append({"kind": kind, "name": name, "count": counts.get(kind, 0), "url": "?" + params.urlencode(),
                    "active": kind == current})
    return out


@login_required
def alert_list(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    require(actor, "alert.view")
    kinds = annual.kind_names()
    form = AlertFilterForm(request.GET or None, kinds=kinds, units=_unit_filter(actor))
    kind = ""
    if form.is_bound and not form.is_valid():  # a filter naming something outside the scope shows nothing
        base: QuerySet[Alert] = Alert.objects.none()
    else:
        data = form.cleaned_data if form.is_bound else {}
        base = filtered_alerts(actor, data)
        kind = data.get("kind") or ""
    qs = base.filter(kind=kind) if kind else base
    listing = Listing(request, qs.select_related("unit"), sortable=ALERT_SORTS, default_sort="-raised_on")
    names = _names(actor)
    if listing.wants_export:
        return _alert_export(listing.queryset, kinds, names, actor)
    rows = [{"alert": a, "kind_name": kinds.get(a.kind, a.kind), "finding": annual.finding_text(a, names),
             "badge": status_badge(a.status)} for a in listing.page.object_list]
    return render(request, "stats/alerts/alert_list.html", {
        "form": form, "listing": listing, "rows": rows, "kind_counts": _kind_counts(request, base, kinds, kind),
        "total_in_filter": base.count(),
        "breadcrumbs": _crumbs((_("Alerts"), None)),
    })


def _alert_export(qs: QuerySet[Alert], kinds: dict[str, str], names: RuleSet, actor: Any) -> HttpResponse:
    columns = [
        Column(_("No."), 8, "int"), Column(_("Raised on"), 12, "date"), Column(_("Alert"), 20),
        Column(_("Unified social credit code"), 22), Column(_("Unit"), 30), Column(_("Finding"), 50),
        Column(_("Status"), 10), Column(_("Resolved on"), 12, "date"), Column(_("Note"), 40),
    ]
    rows = ([a.pk, a.raised_on, kinds.get(a.kind, a.kind), a.unit.uscc, a.unit.name, annual.finding_text(a, names),
             a.get_status_display(), a.resolved_on, a.note] for a in qs.iterator(chunk_size=1000))
    return xlsx_response(_("Alerts"), _("Alerts of dynamic supervision"), columns, rows, subtitle=exported_on(actor))


# ------------------------------------------------------------------------------------ detail


class HandleForm(StyledForm):
    note = forms.CharField(label=gettext_lazy("Note"), required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 3}),
                           help_text=gettext_lazy("Required to resolve: how the finding was dealt with."))


def _related(alert: Alert) -> list[tuple[str, str]]:
    """Links to the pages behind a finding (beside the records, when it names records)."""
    unit = alert.unit
    p = alert.params or {}
    links: list[tuple[str, str]] = []
    if alert.kind == "double_dipping":
        query: dict[str, Any] = {"unit": unit.pk}
        if p.get("from"):
            query["a"] = p["from"]
        if p.get("to"):
            query["b"] = p["to"]
        links.append((_("Double dipping of the unit in the period"), reverse("funds:double_dipping") + "?"
                      + urlencode(query)))
    elif alert.kind == "budget_over_cap":
        query = {"unit": unit.pk}
        if p.get("year"):
            query["year"] = p["year"]
        links.append((_("Budget and spending of the unit"), reverse("funds:funding_list") + "?" + urlencode(query)))
    elif alert.kind == "over_cap":
        links.append((_("Caps of the unit"), reverse("staffing:cap_list") + "?" + urlencode({"q": unit.uscc})))
    elif alert.kind == "class_breach":
        links.append((_("Caps of the unit per post class"),
                      reverse("staffing:cap_list") + "?" + urlencode({"q": unit.uscc, "by": "class"})))
    elif alert.kind == "roster_stale":
        links.append((_("Roster of the unit"), reverse("staffing:roster_list") + "?" + urlencode({"unit": unit.pk})))
    if alert.kind in ("key_post", "contract_expired", "over_cap"):
        links.append((_("Records of the unit in post today"), reverse("staffing:roster_list") + "?" + urlencode(
            {"unit": str(unit.pk), "as_of": _today().isoformat()})))
    return links


def _records(actor: Any, alert: Alert, names: RuleSet) -> list[dict[str, Any]]:
    ids = [int(i) for i in (alert.records or []) if str(i).isdigit()]
    if not ids:
        return []
    spells = scoped(Spell.objects.select_related("person", "unit"), actor).filter(pk__in=ids).order_by("pk")
    return [{"spell": s, "name": s.person.name, "post_name": s.post_name,
             "key_post": names.name_of(RuleTable.KEY_POST, s.key_post) if s.key_post else "",
             "post_class": names.name_of(RuleTable.POST_CLASS, s.post_class)} for s in spells]


def _owners(alert: Alert) -> list[Any]:
    """The reviewers of the unit's jurisdiction (the owner beside the unit itself)."""
    return list(get_user_model().objects.filter(role=Role.ESTABLISHMENT_REVIEWER, is_active=True,
                                                jurisdiction_id=alert.unit.jurisdiction_id)
                .order_by("username"))


def _detail(request: HttpRequest, alert: Alert, *, form: HandleForm | None = None, errors_: list[Any] | None = None,
            status: int = 200) -> HttpResponse:
    actor: Any = request.user
    kinds = annual.kind_names()
    names = _names(actor)
    events = [{"event": e, "label": event_label(e.action)} for e in alert.events.select_related("actor")]
    can_handle = can(actor, "alert.handle") and alert.status != AlertStatus.RESOLVED
    kind_name = kinds.get(alert.kind, alert.kind)
    return render(request, "stats/alerts/alert_detail.html", {
        "alert": alert, "kind_name": kind_name, "finding": annual.finding_text(alert, names),
        "badge": status_badge(alert.status), "records": _records(actor, alert, names),
        "record_ids": alert.records or [], "related": _related(alert), "owners": _owners(alert), "events": events,
        "can_handle": can_handle, "can_acknowledge": can_handle and alert.status == AlertStatus.OPEN,
        "form": form or HandleForm(), "errors": errors_ or [],
        "breadcrumbs": _crumbs((_("Alerts"), reverse("stats:alert_list")), (f"{kind_name} #{alert.pk}", None)),
    }, status=status)


def _scoped_alert(actor: Any, pk: int) -> Alert:
    require(actor, "alert.view")
    return get_scoped_or_404(Alert.objects.select_related("unit", "unit__jurisdiction"), actor, pk=pk)


@login_required
def alert_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, _scoped_alert(request.user, pk))


@login_required
@require_POST
def alert_handle(request: HttpRequest, pk: int) -> HttpResponse:
    actor: Any = request.user
    alert = _scoped_alert(actor, pk)  # out of scope: 404 before anything else
    require(actor, "alert.handle")
    action = request.POST.get("action", "")
    form = HandleForm(request.POST)
    note = request.POST.get("note", "")
    try:
        alerts.alert_handle(actor=actor, alert_id=alert.pk, action=action, note=note)
    except BianzhiError as exc:
        if errors.ALERT_NOT_FOUND in exc.codes:
            raise Http404 from exc
        form.is_valid()
        for error in exc.errors:
            if error.field == "note":
                form.add_error("note", forms.ValidationError(error.message, code=error.code))
        alert.refresh_from_db()
        return _detail(request, alert, form=form, errors_=exc.errors, status=422)
    if action == "resolve":
        messages.success(request, _("The alert has been resolved."))
    else:
        messages.success(request, _("The alert has been acknowledged."))
    return redirect("stats:alert_detail", pk=alert.pk)


# ------------------------------------------------------------------------------------ workbench


def workbench_alerts(actor: Any, newest: int = 5) -> dict[str, Any] | None:
    """The open alerts of the actor's scope for the workbench: counts per kind and the newest."""
    if not can(actor, "alert.view"):
        return None
    qs = alerts.alerts_in_scope(actor=actor).exclude(status=AlertStatus.RESOLVED)
    kinds = annual.kind_names()
    counts = dict(qs.order_by().values_list("kind").annotate(n=Count("id")).values_list("kind", "n"))
    names = _names(actor)
    latest = [{"alert": a, "kind_name": kinds.get(a.kind, a.kind), "finding": annual.finding_text(a, names),
               "badge": status_badge(a.status)} for a in qs.select_related("unit")[:newest]]
    list_url = reverse("stats:alert_list")
    return {"total": sum(counts.values()), "latest": latest, "url": list_url,
            "kinds": [{"kind": k, "name": n, "count": counts[k], "url": f"{list_url}?{urlencode({'kind': k})}"}
                      for k, n in kinds.items() if counts.get(k)]}


# ------------------------------------------------------------------------------------ annual analysis


class AnalysisForm(StyledForm):
    small = True

    scope = forms.ChoiceField(label=gettext_lazy("Jurisdiction"), required=False)
    year = forms.TypedChoiceField(label=gettext_lazy("Year"), coerce=int, required=False)

    def __init__(self, *args: Any, scopes: list[tuple[str, str]], years: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if scopes:
            cast(forms.ChoiceField, self.fields["scope"]).choices = scopes
        else:
            del self.fields["scope"]
        cast(forms.ChoiceField, self.fields["year"]).choices = [(str(y), str(y)) for y in years]


def _scope_options(actor: Any) -> list[tuple[str, str]]:
    divisions = annual.scope_choices(actor)
    if not divisions:
        return []
    base = divisions[0].depth
    return [(d.code, "\u3000" * max(d.depth - base, 0) + d.name) for d in divisions]


def _analysis_or_404(actor: Any, scope: str, year: int) -> dict[str, Any]:
    require(actor, "stats.view")
    first, last = annual.year_range(actor)
    if not first <= year <= last:
        raise Http404
    try:
        return annual.annual_analysis(actor=actor, scope=scope, year=year)
    except BianzhiError as exc:  # a jurisdiction outside the scope answers like a missing one
        raise Http404 from exc


@login_required
def analysis(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    require(actor, "stats.view")
    first, last = annual.year_range(actor)
    scopes = _scope_options(actor)
    default = {"scope": scopes[0][0] if scopes else "", "year": str(annual.default_year(actor))}
    data = request.GET.copy()
    for key, value in default.items():
        if not data.get(key):
            data[key] = value
    form = AnalysisForm(data, scopes=scopes, years=list(range(last, first - 1, -1)))
    if not form.is_valid():
        if "scope" in form.errors:  # not a jurisdiction of the user's scope
            raise Http404
        return render(request, "stats/analysis/analysis.html", {
            "form": form, "a": None, "breadcrumbs": _crumbs((_("Annual analysis"), None))}, status=422)
    scope, year = form.cleaned_data.get("scope") or "", form.cleaned_data["year"]
    result = _analysis_or_404(actor, scope, year)
    query = f"?{urlencode({'scope': scope})}" if scope else ""
    return render(request, "stats/analysis/analysis.html", {
        "form": form, "a": result,
        "docx_url": reverse("stats:analysis_docx", args=[year]) + query,
        "pdf_url": reverse("stats:analysis_pdf", args=[year]) + query,
        "breadcrumbs": _crumbs((_("Annual analysis"), None)),
    })


@login_required
def analysis_docx(request: HttpRequest, year: int) -> HttpResponse:
    result = _analysis_or_404(request.user, request.GET.get("scope", ""), year)
    content = annual.docx_bytes(result)
    response = HttpResponse(content, content_type=DOCX_MIME)
    response["Content-Disposition"] = _disposition(annual.filename(result, "docx"), "annual-analysis.docx")
    return response


@login_required
def analysis_pdf(request: HttpRequest, year: int) -> HttpResponse:
    from bianzhi.documents.pdf import pdf_response

    result = _analysis_or_404(request.user, request.GET.get("scope", ""), year)
    return pdf_response(annual.pdf_bytes(result), annual.filename(result, "pdf"))


DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _disposition(name: str, fallback: str) -> str:
    from urllib.parse import quote

    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"

