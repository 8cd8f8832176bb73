"""Pages of units, establishment, people and the unit import (requirements F2–F5, X2, X4).

Each view parses its input, calls one selector or service, and renders. Every object is
fetched through the scoped selectors (out of scope answers 404), and every list, count and
export is built on the scoped querysets only; names of units outside the user's scope (a
parent or merge target in another jurisdiction) are never shown.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Case, Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods, require_POST

from bianzhi.accounts.permissions import can, require
from bianzhi.common.errors import BianzhiError, ErrorDetail
from bianzhi.common.exports import Column, xlsx_response
from bianzhi.common.exports import exported_on as _exported_on
from bianzhi.common.forms import call_service as _call
from bianzhi.common.listing import Listing
from bianzhi.common.scoping import scope_of
from bianzhi.common.selectors import audit_events_in_scope
from bianzhi.divisions.selectors import divisions_in_scope

from . import errors, selectors, services
from .choices import EstablishmentKind, UnitStatus
from .forms import (
    EstablishmentFilterForm,
    PersonFilterForm,
    PersonForm,
    QuotaForm,
    UnitAbolishForm,
    UnitFilterForm,
    UnitMergeForm,
    UnitRenameForm,
    UnitSetUpForm,
    UnitTreeFilterForm,
)
from .models import EstablishmentQuota, Person, Unit, UnitVersion

# ------------------------------------------------------------------------------------ helpers


def _today() -> dt.date:
    return timezone.localdate()


def _division_kwargs(actor: Any) -> dict[str, Any]:
    """The divisions of the user's jurisdiction (for the filter and form drop-downs)."""
    jurisdiction = getattr(actor, "jurisdiction", None)
    return {
        "divisions": divisions_in_scope(actor=actor),
        "base_depth": jurisdiction.depth if jurisdiction else 0,
    }


def _visible(unit: Unit | None, actor: Any) -> bool:
    """Whether the user may see this (related) unit: its parent or merge target may lie elsewhere."""
    if unit is None:
        return False
    scope = scope_of(actor)
    return unit.jurisdiction_path.startswith(scope.path) and scope.unit_id in (None, unit.pk)


def _with_as_of(request: HttpRequest) -> Any:
    """The query with ``as_of`` defaulting to today, so the date picker shows the day used."""
    data = request.GET.copy()
    if not data.get("as_of"):
        data["as_of"] = _today().isoformat()
    return data


def _visible_name(unit: Unit | None, actor: Any) -> str:
    return unit.name if unit is not None and _visible(unit, actor) else ""


def _crumbs(*items: tuple[str, str | None]) -> list[tuple[str, str | None]]:
    return list(items)


def _with_establishment(qs: QuerySet[Unit], as_of: dt.date) -> QuerySet[Unit]:
    """Annotate each unit with its approved number and actual headcount (all kinds) as of a day."""
    quotas = selectors.in_force(EstablishmentQuota.objects.filter(unit=OuterRef("pk")), as_of)
    total = quotas.order_by().values("unit")

    def summed(field: str) -> Coalesce:
        return Coalesce(
            Subquery(total.annotate(n=Sum(field)).values("n")[:1], output_field=IntegerField()), Value(0)
        )

    return qs.annotate(approved_total=summed("approved"), actual_total=summed("actual"))


# ------------------------------------------------------------------------------------ units


UNIT_SORTS = {
    "name": "name",
    "uscc": "uscc",
    "division": "jurisdiction_path",
    "category": "category",
    "funding_form": "funding_form",
    "status": "status",
    "set_up_on": "set_up_on",
    "approved": "approved_total",
    "actual": "actual_total",
}


@login_required
def unit_list(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    form = UnitFilterForm(request.GET, **_division_kwargs(actor))
    as_of = _today()
    qs = _with_establishment(selectors.units_in_scope(actor=actor, **form.selector_params()), as_of)
    listing = Listing(request, qs, sortable=UNIT_SORTS)
    if listing.wants_export:
        return _unit_export(listing.queryset, actor)
    rows = [{"unit": u, "parent": u.parent if _visible(u.parent, actor) else None} for u in listing.page]
    return render(
        request,
        "orgs/unit_list.html",
        {
            "form": form,
            "listing": listing,
            "rows": rows,
            "as_of": as_of,
            "can_change": can(actor, "unit.change"),
            "breadcrumbs": _crumbs((_("Units"), None)),
        },
    )


def _unit_export(qs: QuerySet[Unit], actor: Any) -> HttpResponse:
    columns = [
        Column(_("Unified social credit code"), 22),
        Column(_("Unit name"), 32),
        Column(_("Division"), 12),
        Column(_("Parent unit"), 28),
        Column(_("Unit category"), 16),
        Column(_("Funding form"), 16),
        Column(_("Status"), 10),
        Column(_("Set-up date"), 12, "date"),
        Column(_("End date"), 12, "date"),
        Column(_("Approved number"), 12, "int"),
        Column(_("Actual headcount"), 12, "int"),
    ]

    def rows() -> Iterator[list[Any]]:
        u: Any  # annotated with approved_total and actual_total
        for u in qs.iterator(chunk_size=2000):
            yield [
                u.uscc,
                u.name,
                u.jurisdiction.name,
                _visible_name(u.parent, actor),
                u.get_category_display(),
                u.get_funding_form_display(),
                u.get_status_display(),
                u.set_up_on,
                u.ended_on,
                u.approved_total,
                u.actual_total,
            ]

    return xlsx_response(_("Units"), _("Units"), columns, rows(), subtitle=_exported_on(actor))


@login_required
def unit_tree(request: HttpRequest) -> HttpResponse:
    """The unit tree of one day, nested by parent, from the effective-dated versions."""
    actor: Any = request.user
    form = UnitTreeFilterForm(_with_as_of(request), **_division_kwargs(actor))
    as_of = form.value_of("as_of", _today())
    division = form.value_of("division")
    versions = selectors.unit_versions_as_of(actor=actor, as_of=as_of).select_related("unit")
    if division:
        versions = versions.filter(jurisdiction_path__contains=f"{division}/")
    rows = _tree_rows(versions.order_by("jurisdiction_path", "name", "unit_id"))
    if request.GET.get("export") == "xlsx":
        return _tree_export(rows, as_of, actor)
    listing = Listing(request, cast(Any, rows), per_page=200)
    return render(
        request,
        "orgs/unit_tree.html",
        {
            "form": form,
            "listing": listing,
            "as_of": as_of,
            "breadcrumbs": _crumbs((_("Units"), reverse("orgs:unit_list")), (_("Unit tree"), None)),
        },
    )


def _tree_rows(versions: Iterable[UnitVersion]) -> list[dict[str, Any]]:
    """Depth-first order of the versions, each under its parent when the parent is in the set."""
    items = list(versions)
    present = {v.unit_id for v in items}
    children: dict[int, list[UnitVersion]] = defaultdict(list)
    roots: list[UnitVersion] = []
    for v in items:
        if v.parent_id is not None and v.parent_id in present and v.parent_id != v.unit_id:
            children[v.parent_id].append(v)
        else:
            roots.append(v)
    rows: list[dict[str, Any]] = []
    seen: set[int] = set()
    stack: list[tuple[UnitVersion, int, UnitVersion | None]] = [(v, 0, None) for v in reversed(roots)]
    while stack:
        version, depth, parent = stack.pop()
        if version.unit_id in seen:
            continue
        seen.add(version.unit_id)
        kids = children.get(version.unit_id, [])
        rows.append(
            {
                "version": version,
                "depth": depth,
                "children": len(kids),
                "parent": parent,
                "prefix": ("\u3000" * (depth - 1) + "└ ") if depth else "",
            }
        )
        stack.extend((kid, depth + 1, version) for kid in reversed(kids))
    # A parent cycle in the data would leave units unreached: list them at the top level.
    rows.extend(
        {"version": v, "depth": 0, "children": 0, "parent": None, "prefix": ""}
        for v in items
        if v.unit_id not in seen
    )
    return rows


def _tree_export(rows: list[dict[str, Any]], as_of: dt.date, actor: Any) -> HttpResponse:
    columns = [
        Column(_("Level"), 8, "int"),
        Column(_("Unified social credit code"), 22),
        Column(_("Unit name"), 40),
        Column(_("Parent unit"), 28),
        Column(_("Division"), 12),
        Column(_("Unit category"), 16),
        Column(_("Funding form"), 16),
        Column(_("Change"), 10),
        Column(_("Valid from"), 12, "date"),
        Column(_("Document reference"), 24),
    ]
    data = (
        [
            row["depth"] + 1,
            row["version"].unit.uscc,
            row["prefix"] + row["version"].name,
            row["parent"].name if row["parent"] else "",
            row["version"].jurisdiction.name,
            row["version"].get_category_display(),
            row["version"].get_funding_form_display(),
            row["version"].get_change_display(),
            row["version"].valid_from,
            row["version"].document_ref,
        ]
        for row in rows
    )
    return xlsx_response(
        _("Unit tree"),
        _("Unit tree as of %(date)s") % {"date": as_of.isoformat()},
        columns,
        data,
        subtitle=_exported_on(actor),
    )


@login_required
def unit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor: Any = request.user
    unit = selectors.get_unit(actor=actor, pk=pk)
    today = _today()
    quota_history = list(selectors.quota_history(actor=actor, unit=unit))
    current = {q.kind: q for q in selectors.quotas_in_scope(actor=actor, as_of=today, unit=unit)}
    quotas_now = [
        {"kind": kind, "label": label, "quota": current.get(kind)}
        for kind, label in EstablishmentKind.choices
    ]
    versions = [
        {"version": v, "parent": v.parent if _visible(v.parent, actor) else None}
        for v in selectors.unit_history(actor=actor, unit=unit)
    ]
    children = selectors.units_in_scope(actor=actor, status="").filter(parent=unit).order_by("status", "name")
    events = None
    if can(actor, "audit.view"):
        events = _audit_events(actor, unit, quota_history)
    return render(
        request,
        "orgs/unit_detail.html",
        {
            "unit": unit,
            "parent": unit.parent if _visible(unit.parent, actor) else None,
            "merged_into": unit.merged_into if _visible(unit.merged_into, actor) else None,
            "quotas_now": quotas_now,
            "quota_history": quota_history,
            "versions": versions,
            "children": children,
            "events": events,
            "today": today,
            "totals": {
                "approved": sum(q.approved for q in current.values()),
                "actual": sum(q.actual for q in current.values()),
                "vacancies": sum(q.vacancies for q in current.values()),
                "over": sum(q.over for q in current.values()),
            },
            "is_active": unit.status == UnitStatus.ACTIVE,
            "can_change": can(actor, "unit.change"),
            "can_quota": can(actor, "establishment.change"),
            "can_person": can(actor, "person.change"),
            "breadcrumbs": _crumbs((_("Units"), reverse("orgs:unit_list")), (unit.name, None)),
        },
    )


def _audit_events(actor: Any, unit: Unit, quotas: list[EstablishmentQuota]) -> list[dict[str, Any]]:
    """Audit events about the unit and its quotas; the selector keeps to the user's jurisdiction
    (a prefix filter on each event's ``scope_path``)."""
    from bianzhi.common.views import action_label

    qs = audit_events_in_scope(actor=actor).filter(
        Q(object_type="orgs.unit", object_id=str(unit.pk))
        | Q(object_type="orgs.establishmentquota", object_id__in=[str(q.pk) for q in quotas])
    )[:200]
    return [{"event": e, "action": action_label(e.action)} for e in qs]


# ------------------------------------------------------------------------------------ unit forms


def _unit_redirect(unit: Unit) -> HttpResponse:
    return redirect("orgs:unit_detail", pk=unit.pk)


def _form_page(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    """A form page; with errors it is answered 200 too (a 4xx document is a console error in browsers)."""
    return render(request, template, context)


@login_required
@require_http_methods(["GET", "POST"])
def unit_new(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    require(actor, "unit.change")
    initial: dict[str, Any] = {"jurisdiction": actor.jurisdiction.code if actor.jurisdiction else ""}
    parent_pk = request.GET.get("parent")
    if parent_pk:
        parent = selectors.get_unit(actor=actor, pk=parent_pk)
        initial.update(parent=parent.uscc, jurisdiction=parent.jurisdiction.code)
    form = UnitSetUpForm(request.POST or None, initial=initial, **_division_kwargs(actor))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        unit = _call(
            form,
            services.unit_set_up,
            actor=actor,
            uscc=data["uscc"],
            name=data["name"],
            category=data["category"],
            funding_form=data["funding_form"],
            jurisdiction=data["jurisdiction"],
            set_up_on=data["set_up_on"],
            parent=data["parent"].strip() or None,
            document_ref=data["document_ref"].strip(),
        )
        if unit is not None:
            messages.success(request, _("Unit “%(name)s” has been set up.") % {"name": unit.name})
            return _unit_redirect(unit)
    return _form_page(
        request,
        "orgs/unit_form.html",
        {
            "form": form,
            "title": _("Set up a unit"),
            "submit": _("Set up"),
            "cancel_url": reverse("orgs:unit_list"),
            "breadcrumbs": _crumbs((_("Units"), reverse("orgs:unit_list")), (_("Set up a unit"), None)),
        },
    )


def _unit_action(
    request: HttpRequest, pk: int, permission: str
) -> tuple[Any, Unit | None, HttpResponse | None]:
    """Permission, then the scoped unit (404 out of scope); a unit no longer active goes back to its page."""
    actor: Any = request.user
    require(actor, permission)
    unit = selectors.get_unit(actor=actor, pk=pk)
    if unit.status != UnitStatus.ACTIVE:
        messages.error(request, _("The unit has been merged or abolished."))
        return actor, unit, _unit_redirect(unit)
    return actor, unit, None


def _unit_crumbs(unit: Unit, label: str) -> list[tuple[str, str | None]]:
    return _crumbs(
        (_("Units"), reverse("orgs:unit_list")),
        (unit.name, reverse("orgs:unit_detail", args=[unit.pk])),
        (label, None),
    )


@login_required
@require_http_methods(["GET", "POST"])
def unit_rename(request: HttpRequest, pk: int) -> HttpResponse:
    actor, unit, done = _unit_action(request, pk, "unit.change")
    if done is not None or unit is None:
        return cast(HttpResponse, done)
    form = UnitRenameForm(request.POST or None, initial={"name": unit.name})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        old_name = unit.name
        result = _call(
            form,
            services.unit_rename,
            actor=actor,
            unit_id=unit.pk,
            name=data["name"],
            on=data["on"],
            document_ref=data["document_ref"].strip(),
        )
        if result is not None:
            messages.success(
                request, _("“%(old)s” has been renamed “%(new)s”.") % {"old": old_name, "new": result.name}
            )
            return _unit_redirect(result)
    return _form_page(
        request,
        "orgs/unit_form.html",
        {
            "form": form,
            "unit": unit,
            "title": _("Rename unit"),
            "submit": _("Rename"),
            "cancel_url": reverse("orgs:unit_detail", args=[unit.pk]),
            "breadcrumbs": _unit_crumbs(unit, _("Rename")),
        },
    )


MERGE_CANDIDATES = 300


@login_required
@require_http_methods(["GET", "POST"])
def unit_merge(request: HttpRequest, pk: int) -> HttpResponse:
    """Merge other units of the user's scope into this one (this unit is the one that stays)."""
    actor, unit, done = _unit_action(request, pk, "unit.change")
    if done is not None or unit is None:
        return cast(HttpResponse, done)
    q = (request.POST.get("q") if request.method == "POST" else request.GET.get("q", "")) or ""
    q = q.strip()[:100]
    active = selectors.units_in_scope(actor=actor, status=UnitStatus.ACTIVE).exclude(pk=unit.pk)
    form = UnitMergeForm(request.POST or None, candidates=active)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        sources = list(data["sources"])
        result = _call(
            form,
            services.unit_merge,
            actor=actor,
            target_id=unit.pk,
            source_ids=[s.pk for s in sources],
            on=data["on"],
            document_ref=data["document_ref"].strip(),
        )
        if result is not None:
            messages.success(
                request,
                ngettext(
                    "%(count)s unit merged into “%(name)s”.",
                    "%(count)s units merged into “%(name)s”.",
                    len(sources),
                )
                % {"count": len(sources), "name": result.name},
            )
            return _unit_redirect(result)
    # Offer the units of this unit's division (or those matching the search), plus any already chosen.
    shown = (
        active.filter(Q(name__contains=q) | Q(uscc__startswith=q.upper()))
        if q
        else active.filter(jurisdiction=unit.jurisdiction)
    )
    shown_ids = list(shown.order_by("name").values_list("pk", flat=True)[:MERGE_CANDIDATES])
    chosen = [str(v) for v in form["sources"].value() or []] if form.is_bound else []
    cast(forms.ModelMultipleChoiceField, form.fields["sources"]).queryset = active.filter(
        Q(pk__in=shown_ids) | Q(pk__in=[c for c in chosen if c.isdigit()])
    )
    return _form_page(
        request,
        "orgs/unit_merge.html",
        {
            "form": form,
            "unit": unit,
            "q": q,
            "title": _("Merge units into this unit"),
            "submit": _("Merge"),
            "limit": MERGE_CANDIDATES,
            "cancel_url": reverse("orgs:unit_detail", args=[unit.pk]),
            "breadcrumbs": _unit_crumbs(unit, _("Merge")),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def unit_abolish(request: HttpRequest, pk: int) -> HttpResponse:
    actor, unit, done = _unit_action(request, pk, "unit.change")
    if done is not None or unit is None:
        return cast(HttpResponse, done)
    form = UnitAbolishForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        result = _call(
            form,
            services.unit_abolish,
            actor=actor,
            unit_id=unit.pk,
            on=data["on"],
            document_ref=data["document_ref"].strip(),
        )
        if result is not None:
            messages.success(request, _("“%(name)s” has been abolished.") % {"name": result.name})
            return _unit_redirect(result)
    return _form_page(
        request,
        "orgs/unit_form.html",
        {
            "form": form,
            "unit": unit,
            "title": _("Abolish unit"),
            "submit": _("Abolish"),
            "danger": True,
            "warning": _(
                "The unit ends on the effective date and its establishment closes. "
                "Units that still have active sub-units cannot be abolished."
            ),
            "cancel_url": reverse("orgs:unit_detail", args=[unit.pk]),
            "breadcrumbs": _unit_crumbs(unit, _("Abolish")),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def unit_establishment(request: HttpRequest, pk: int) -> HttpResponse:
    """Set the approved number and actual headcount of one establishment kind from a date."""
    actor, unit, done = _unit_action(request, pk, "establishment.change")
    if done is not None or unit is None:
        return cast(HttpResponse, done)
    kind = request.GET.get("kind", "")
    initial: dict[str, Any] = {}
    if kind in EstablishmentKind.values:
        current = selectors.quotas_in_scope(actor=actor, as_of=_today(), unit=unit, kind=kind).first()
        initial = {
            "kind": kind,
            "approved": current.approved if current else None,
            "actual": current.actual if current else None,
        }
    form = QuotaForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        quota = _call(
            form,
            services.quota_set,
            actor=actor,
            unit_id=unit.pk,
            kind=data["kind"],
            approved=data["approved"],
            actual=data["actual"],
            on=data["on"],
            document_ref=data["document_ref"].strip(),
        )
        if quota is not None:
            messages.success(
                request,
                _("Establishment of “%(name)s” has been set: %(kind)s %(approved)s, actual %(actual)s.")
                % {
                    "name": unit.name,
                    "kind": quota.get_kind_display(),
                    "approved": f"{quota.approved:,}",
                    "actual": f"{quota.actual:,}",
                },
            )
            return _unit_redirect(unit)
    return _form_page(
        request,
        "orgs/unit_form.html",
        {
            "form": form,
            "unit": unit,
            "title": _("Set establishment"),
            "submit": _("Save"),
            "cancel_url": reverse("orgs:unit_detail", args=[unit.pk]),
            "breadcrumbs": _unit_crumbs(unit, _("Set establishment")),
        },
    )


# ------------------------------------------------------------------------------------ establishment


QUOTA_SORTS = {
    "unit": "unit__name",
    "division": "unit__jurisdiction_path",
    "kind": "kind",
    "approved": "approved",
    "actual": "actual",
    "vacancies": "vacancies_n",
    "over": "over_n",
}


@login_required
def establishment_list(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    form = EstablishmentFilterForm(_with_as_of(request), **_division_kwargs(actor))
    as_of = form.value_of("as_of", _today())
    qs = selectors.quotas_in_scope(
        actor=actor, as_of=as_of, kind=form.value_of("kind"), problem=form.value_of("problem")
    )
    q = form.value_of("q").strip()
    if q:
        qs = qs.filter(Q(unit__name__contains=q) | Q(unit__uscc__startswith=q.upper()))
    division = form.value_of("division")
    if division:
        qs = qs.filter(unit__jurisdiction_path__contains=f"{division}/")
    qs = qs.annotate(
        vacancies_n=Case(
            When(approved__gt=F("actual"), then=F("approved") - F("actual")),
            default=Value(0),
            output_field=IntegerField(),
        ),
        over_n=Case(
            When(actual__gt=F("approved"), then=F("actual") - F("approved")),
            default=Value(0),
            output_field=IntegerField(),
        ),
    )
    sums = qs.order_by().aggregate(
        total_approved=Sum("approved"),
        total_actual=Sum("actual"),
        total_vacancies=Sum("vacancies_n"),
        total_over=Sum("over_n"),
        total_over_units=Count("unit", distinct=True, filter=Q(actual__gt=F("approved"))),
    )
    totals = {key.removeprefix("total_"): int(value or 0) for key, value in sums.items()}
    listing = Listing(request, qs, sortable=QUOTA_SORTS)
    if listing.wants_export:
        return _establishment_export(listing.queryset, as_of, totals, actor)
    return render(
        request,
        "orgs/establishment_list.html",
        {
            "form": form,
            "listing": listing,
            "as_of": as_of,
            "totals": totals,
            "breadcrumbs": _crumbs((_("Establishment"), None)),
        },
    )


def _establishment_export(
    qs: QuerySet[EstablishmentQuota], as_of: dt.date, totals: dict[str, int], actor: Any
) -> HttpResponse:
    columns = [
        Column(_("Unified social credit code"), 22),
        Column(_("Unit name"), 32),
        Column(_("Division"), 12),
        Column(_("Establishment kind"), 18),
        Column(_("Approved number"), 12, "int"),
        Column(_("Actual headcount"), 12, "int"),
        Column(_("Vacancies"), 10, "int"),
        Column(_("Over-establishment"), 10, "int"),
        Column(_("Valid from"), 12, "date"),
        Column(_("Document reference"), 24),
    ]

    def rows() -> Iterator[list[Any]]:
        quota: Any  # annotated with vacancies_n and over_n
        for quota in qs.iterator(chunk_size=2000):
            yield [
                quota.unit.uscc,
                quota.unit.name,
                quota.unit.jurisdiction.name,
                quota.get_kind_display(),
                quota.approved,
                quota.actual,
                quota.vacancies_n,
                quota.over_n,
                quota.valid_from,
                quota.document_ref,
            ]

    subtitle = _(
        "As of %(date)s. Totals: approved %(approved)s, actual %(actual)s, vacancies %(vacancies)s, "
        "over-establishment %(over)s."
    ) % {"date": as_of.isoformat(), **{k: f"{v:,}" for k, v in totals.items() if k != "over_units"}}
    return xlsx_response(
        _("Establishment"),
        _("Establishment as of %(date)s") % {"date": as_of.isoformat()},
        columns,
        rows(),
        subtitle=f"{subtitle} {_exported_on(actor)}",
    )


# ------------------------------------------------------------------------------------ people


PERSON_SORTS = {
    "name": "name",
    "birth_date": "birth_date",
    "unit": "unit__name",
    "division": "jurisdiction_path",
}


@login_required
def person_list(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    form = PersonFilterForm(request.GET)
    qs = selectors.people_in_scope(
        actor=actor, q=form.value_of("q").strip(), unit=form.value_of("unit", None)
    )
    listing = Listing(request, qs, sortable=PERSON_SORTS)
    if listing.wants_export:
        if request.GET.get("unmask") == "1":
            return _person_export_unmasked(request, listing.queryset, actor)
        return _person_export(listing.queryset, actor)
    return render(
        request,
        "orgs/person_list.html",
        {
            "form": form,
            "listing": listing,
            "can_add": can(actor, "person.change"),
            "can_unmask": can(actor, "person.unmask"),
            "filter_params": [(k, v) for k, v in request.GET.items() if k not in ("page", "export", "unmask", "purpose")],
            "breadcrumbs": _crumbs((_("People"), None)),
        },
    )


def _person_export_unmasked(request: HttpRequest, qs: QuerySet[Person], actor: Any) -> HttpResponse:
    """The export with full ID numbers, for a user allowed to unmask them: one audit event
    with the stated purpose, the filter and the number of people, in the same request."""
    require(actor, "person.unmask")
    purpose = request.GET.get("purpose", "").strip()
    if not purpose or len(purpose) > 200:
        messages.error(request, str(ErrorDetail(errors.REVEAL_PURPOSE_REQUIRED).message))
        return redirect(reverse("orgs:person_list"))
    people = list(qs.select_related("unit", "jurisdiction"))
    numbers = services.reveal_ids_for_export(
        actor=actor, people=people, what=f"people export: {purpose}", query=request.GET.urlencode()
    )
    columns = [
        Column(_("Name"), 12),
        Column(_("Citizen ID number"), 22),
        Column(_("Sex"), 6),
        Column(_("Birth date"), 12, "date"),
        Column(_("Education"), 12),
        Column(_("Unit"), 32),
        Column(_("Division"), 12),
    ]
    rows = (
        [p.name, numbers[p.pk], p.get_sex_display(), p.birth_date, p.get_education_display(),
         p.unit.name if p.unit else "", p.jurisdiction.name]
        for p in people
    )
    response = xlsx_response(_("People"), _("People"), columns, rows, subtitle=_exported_on(actor))
    response["Cache-Control"] = "no-store"
    return response


def _person_export(qs: QuerySet[Person], actor: Any) -> HttpResponse:
    """The masked ID only (X3), and the year of birth only: the masked number keeps the region
    code and the last four characters, so with the full birth date it could be completed."""
    columns = [
        Column(_("Name"), 12),
        Column(_("Citizen ID number (masked)"), 22),
        Column(_("Sex"), 6),
        Column(_("Year of birth"), 10, "int"),
        Column(_("Education"), 12),
        Column(_("Unit"), 32),
        Column(_("Division"), 12),
    ]

    def rows() -> Iterator[list[Any]]:
        for p in qs.iterator(chunk_size=2000):
            yield [
                p.name,
                p.masked_id,
                p.get_sex_display(),
                p.birth_date.year,
                p.get_education_display(),
                p.unit.name if p.unit else "",
                p.jurisdiction.name,
            ]

    return xlsx_response(_("People"), _("People"), columns, rows(), subtitle=_exported_on(actor))


@login_required
@require_POST
def person_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    """The full ID number, shown in this one response only (never cached), and audited."""
    actor: Any = request.user
    try:  # out of scope: 404; without the permission: 403 (raised by the service)
        number = services.person_reveal_id(actor=actor, person_id=pk, purpose=request.POST.get("purpose", ""))
    except BianzhiError as exc:
        messages.error(request, "；".join(str(e.message) for e in exc.errors))
        return redirect(reverse("orgs:person_detail", args=[pk]))
    response = person_detail(request, pk, revealed=number)
    response["Cache-Control"] = "no-store"
    return response


@login_required
def person_detail(request: HttpRequest, pk: int, revealed: str | None = None) -> HttpResponse:
    actor: Any = request.user
    person = selectors.get_person(actor=actor, pk=pk)
    events = None
    if can(actor, "audit.view"):
        from bianzhi.common.views import action_label

        events = [
            {"event": e, "action": action_label(e.action)}
            for e in audit_events_in_scope(actor=actor, object_type="orgs.person", object_id=str(person.pk))[
                :100
            ]
        ]
    return render(
        request,
        "orgs/person_detail.html",
        {
            "person": person,
            "revealed": revealed,
            "can_unmask": can(actor, "person.unmask"),
            "events": events,
            "unit_visible": _visible(person.unit, actor),
            "breadcrumbs": _crumbs((_("People"), reverse("orgs:person_list")), (person.name, None)),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def person_new(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    require(actor, "person.change")
    initial: dict[str, Any] = {"jurisdiction": actor.jurisdiction.code if actor.jurisdiction else ""}
    unit_pk = request.GET.get("unit")
    if unit_pk and not actor.is_unit_bound:
        initial["unit"] = selectors.get_unit(actor=actor, pk=unit_pk).uscc
    form = PersonForm(
        request.POST or None,
        initial=initial,
        unit_bound=actor.is_unit_bound,
        units=selectors.units_in_scope(actor=actor, status=UnitStatus.ACTIVE),
        **_division_kwargs(actor),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        unit = data.get("unit")
        person = _call(
            form,
            services.person_create,
            actor=actor,
            id_number=data["id_number"],
            name=data["name"],
            education=data["education"],
            unit_id=unit.pk if unit else None,
            jurisdiction=data.get("jurisdiction") or None,
        )
        if person is not None:
            messages.success(request, _("%(name)s has been registered.") % {"name": person.name})
            return redirect("orgs:person_detail", pk=person.pk)
    return _form_page(
        request,
        "orgs/unit_form.html",
        {
            "form": form,
            "title": _("Register a person"),
            "submit": _("Register"),
            "cancel_url": reverse("orgs:person_list"),
            "breadcrumbs": _crumbs(
                (_("People"), reverse("orgs:person_list")), (_("Register a person"), None)
            ),
        },
    )


# ------------------------------------------------------------------------------------ unit import

from bianzhi.common.import_pages import ImportKind, import_page, import_report, import_template  # noqa: E402

UNIT_IMPORT = ImportKind(
    kind="units", permission="unit.import", run="bianzhi.orgs.importing.import_units",
    template="bianzhi.orgs.views.unit_template_workbook", title=gettext_lazy("Import units"),
    page="orgs:unit_import", template_url="orgs:unit_import_template", report_url="orgs:unit_import_report",
    list_url="orgs:unit_list", list_title=gettext_lazy("Units"),
    section=gettext_lazy("Institutions and establishment"),
    key_label=gettext_lazy("Unified social credit code"), name_label=gettext_lazy("Unit name"),
    intro=gettext_lazy("The workbook has the standard column names and drop-down lists of the unit categories, "
                       "funding forms and the division codes of your jurisdiction. Enter the credit codes as text. "
                       "A row whose credit code already exists updates that unit."))


@login_required
@require_http_methods(["GET", "POST"])
def unit_import(request: HttpRequest) -> HttpResponse:
    """Template → upload → dry-run report → confirm → result (requirement S13 / X4)."""
    return import_page(request, UNIT_IMPORT)


@login_required
def unit_import_report(request: HttpRequest) -> HttpResponse:
    """The dry-run report of the pending upload as a workbook (row, column, value, reason)."""
    return import_report(request, UNIT_IMPORT)


def unit_template_workbook(actor: Any) -> bytes:
    return template_bytes(divisions_in_scope(actor=actor))


TEMPLATE_DATA_ROWS = 5000
# How each column of the unit template is offered in the workbook, by the import's field name.
TEMPLATE_KINDS = {
    "uscc": "code",
    "parent": "code",
    "name": "text",
    "division": "division",
    "category": "category",
    "funding_form": "funding",
}


def template_bytes(divisions: Iterable[Any]) -> bytes:
    """The unit template: the exchange headers (required ones highlighted), code columns as
    text, and the code lists (categories, funding forms, the user's divisions) as drop-downs."""
    import xlsxwriter

    from .importing import CATEGORY_WORDS, FUNDING_WORDS, TEMPLATE

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet(_("Units")[:31])
    lists = book.add_worksheet(_("Code lists")[:31])
    header = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    required = book.add_format({"bold": True, "bg_color": "#FCE4D6", "border": 1})
    as_text = book.add_format({"num_format": "@"})
    last = TEMPLATE_DATA_ROWS

    division_rows = [(d.code, d.name) for d in divisions]
    words = {"category": list(CATEGORY_WORDS), "funding": list(FUNDING_WORDS)}
    lists.write_row(0, 0, [_("Division code"), _("Division"), _("Unit category"), _("Funding form")], header)
    for r, (code, name) in enumerate(division_rows, start=1):
        lists.write_string(r, 0, code)
        lists.write_string(r, 1, name)
    for c, kind in ((2, "category"), (3, "funding")):
        for r, word in enumerate(words[kind], start=1):
            lists.write_string(r, c, word)
    lists.set_column(0, 0, 14)
    lists.set_column(1, 1, 24)
    lists.set_column(2, 3, 16)
    sources = {
        "division": f"='{lists.name}'!$A$2:$A${len(division_rows) + 1}",
        "category": f"='{lists.name}'!$C$2:$C${len(words['category']) + 1}",
        "funding": f"='{lists.name}'!$D$2:$D${len(words['funding']) + 1}",
    }
    for c, column in enumerate(TEMPLATE.columns):
        title, kind = column.header, TEMPLATE_KINDS.get(column.field, "int")
        sheet.write_string(0, c, title, required if column.required else header)
        width = {"code": 22, "text": 30, "division": 14, "category": 14, "funding": 16}.get(kind, 12)
        sheet.set_column(c, c, width, as_text if kind in {"code", "division", "text"} else None)
        if kind in sources and (kind != "division" or division_rows):
            sheet.data_validation(
                1,
                c,
                last,
                c,
                {
                    "validate": "list",
                    "source": sources[kind],
                    "error_title": title,
                    "error_message": _("Choose a value from the list."),
                },
            )
        elif kind == "int":
            sheet.data_validation(
                1,
                c,
                last,
                c,
                {
                    "validate": "integer",
                    "criteria": ">=",
                    "value": 0,
                    "error_title": title,
                    "error_message": _("A whole number of 0 or more."),
                },
            )
        elif kind == "code":
            sheet.data_validation(
                1,
                c,
                last,
                c,
                {
                    "validate": "length",
                    "criteria": "==",
                    "value": 18,
                    "input_title": title,
                    "input_message": _("18 characters, entered as text."),
                    "error_title": title,
                    "error_message": _("A unified social credit code has 18 characters."),
                },
            )
    sheet.freeze_panes(1, 0)
    book.close()
    return buffer.getvalue()


@login_required
def unit_import_template(request: HttpRequest) -> HttpResponse:
    return import_template(request, UNIT_IMPORT, _("unit-import-template"))
