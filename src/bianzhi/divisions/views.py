"""Division pages: the tree of my jurisdiction, one division, adding a town or street."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext

from bianzhi.accounts.permissions import can, require
from bianzhi.common.errors import BianzhiError
from bianzhi.common.exports import Column, xlsx_response
from bianzhi.common.forms import add_service_errors
from bianzhi.common.listing import Listing
from bianzhi.common.scoping import path_in_scope
from bianzhi.orgs.selectors import units_in_scope

from . import services
from .choices import Level
from .forms import DivisionFilterForm, TownAddForm
from .models import Division
from .selectors import divisions_in_scope, get_division


def _unit_counts(actor: Any, code: str = "") -> tuple[dict[str, int], dict[str, int]]:
    """Active units in scope per division path: (this division only, this division and below).

    One grouped query over the scoped units (``code`` narrows it to a subtree); the totals
    of the subtrees are summed here from the same rows, so no query runs per division.
    """
    rows = (
        units_in_scope(actor=actor, division=code)
        .order_by()
        .values_list("jurisdiction_path")
        .annotate(n=Count("pk"))
    )
    direct: dict[str, int] = {}
    total: dict[str, int] = defaultdict(int)
    for path, n in rows:
        direct[path] = n
        prefix = ""
        for part in path.split("/")[:-1]:
            prefix += part + "/"
            total[prefix] += n
    return direct, dict(total)


def _optional_reverse(name: str, *args: Any) -> str:
    """A link to a page another app may not have yet; no link rather than an error."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def _rows(
    divisions: Any, direct: dict[str, int], total: dict[str, int], base_depth: int
) -> list[dict[str, Any]]:
    return [
        {
            "division": d,
            "indent": range(max(d.depth - base_depth, 0)),
            "direct": direct.get(d.path, 0),
            "total": total.get(d.path, 0),
            "level": Level(d.level).label if d.level in Level.values else d.level,
        }
        for d in divisions
    ]


@login_required
def division_list(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    form = DivisionFilterForm(request.GET or None)
    data: dict[str, Any] = {}
    if form.is_bound:
        form.is_valid()  # a wrong field is shown next to it; the valid filters still apply
        data = form.cleaned_data
    q, depth = data.get("q", "").strip(), data.get("depth", "")
    own_depth = user.jurisdiction.depth if user.jurisdiction else 0
    divisions: Any = divisions_in_scope(actor=user, q=q)
    if depth:
        divisions = divisions.filter(depth__lte=int(depth))
    elif not q:
        # By default two levels below my own: a province sees its cities and counties, a city
        # its counties and towns; "show down to" opens the rest.
        divisions = divisions.filter(depth__lte=own_depth + 2)
    divisions = list(divisions)
    direct, total = _unit_counts(user)
    base_depth = min((d.depth for d in divisions), default=own_depth)
    rows = _rows(divisions, direct, total, base_depth)
    if request.GET.get("export") == "xlsx":
        return _division_export(rows)
    export_params = request.GET.copy()
    export_params["export"] = "xlsx"
    return render(
        request,
        "divisions/division_list.html",
        {
            "form": form,
            "rows": rows,
            "unit_list_url": _optional_reverse("orgs:unit_list"),
            "export_url": "?" + export_params.urlencode(),
            "breadcrumbs": [(gettext("Divisions"), None)],
        },
    )


def _division_export(rows: list[dict[str, Any]]) -> HttpResponse:
    columns = [
        Column(gettext("Division code"), 12),
        Column(gettext("Division name"), 24),
        Column(gettext("Level"), 14),
        Column(gettext("Parent code"), 12),
        Column(gettext("Units of this division"), 14, "int"),
        Column(gettext("Units including lower levels"), 16, "int"),
    ]
    data = (
        [
            r["division"].code,
            r["division"].name,
            str(r["level"]),
            r["division"].path.rstrip("/").split("/")[-2] if r["division"].depth else "",
            r["direct"],
            r["total"],
        ]
        for r in rows
    )
    return xlsx_response("divisions", gettext("Divisions"), columns, data)


@login_required
def division_detail(request: HttpRequest, code: str) -> HttpResponse:
    user: Any = request.user
    division = get_division(actor=user, code=code)
    children = list(divisions_in_scope(actor=user).filter(parent=division))
    direct, total = _unit_counts(user, division.code)
    units = units_in_scope(actor=user).filter(jurisdiction=division).order_by("name", "pk")
    listing = Listing(request, units, sortable={"name": "name", "uscc": "uscc"})
    unit_rows = [
        {"unit": u, "url": _optional_reverse("orgs:unit_detail", u.pk)} for u in listing.page.object_list
    ]
    unit_list_url = _optional_reverse("orgs:unit_list")
    parent = division.parent if division.parent is not None and path_in_scope(division.parent.path, user) else None
    breadcrumbs: list[tuple[str, str | None]] = [(gettext("Divisions"), reverse("divisions:division_list"))]
    if parent is not None:
        breadcrumbs.append((parent.name, reverse("divisions:division_detail", args=[parent.code])))
    breadcrumbs.append((division.name, None))
    return render(
        request,
        "divisions/division_detail.html",
        {
            "division": division,
            "level": Level(division.level).label,
            "parent": parent,
            "children": _rows(children, direct, total, division.depth + 1),
            "direct_units": direct.get(division.path, 0),
            "total_units": total.get(division.path, 0),
            "listing": listing,
            "unit_rows": unit_rows,
            "all_units_url": f"{unit_list_url}?division={division.code}" if unit_list_url else "",
            "can_add_town": can(user, "division.change") and division.level == Level.COUNTY,
            "breadcrumbs": breadcrumbs,
        },
    )


@login_required
def division_add_town(request: HttpRequest, code: str) -> HttpResponse:
    user: Any = request.user
    require(user, "division.change")
    parent: Division = get_division(actor=user, code=code)
    form = TownAddForm(request.POST or None, initial={"code": parent.code})
    if request.method == "POST" and form.is_valid():
        try:
            town = services.division_add(
                actor=user,
                parent_code=parent.code,
                code=form.cleaned_data["code"],
                name=form.cleaned_data["name"],
            )
        except BianzhiError as exc:
            add_service_errors(form, exc, {"parent_code": ""})
        else:
            messages.success(request, gettext("%(name)s added.") % {"name": str(town)})
            return redirect("divisions:division_detail", code=town.code)
    return render(
        request,
        "divisions/division_form.html",
        {
            "form": form,
            "parent": parent,
            "breadcrumbs": [
                (gettext("Divisions"), reverse("divisions:division_list")),
                (parent.name, reverse("divisions:division_detail", args=[parent.code])),
                (gettext("Add town or street"), None),
            ],
        },
    )
