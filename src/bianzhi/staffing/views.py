"""Pages of 编外人员 (requirements S1–S5, S9, S10, S13): the roster and its records, baselines,
caps, hire authorisations, the coordinator pool, bulk operations, rule tables and the
roster import.

Each view parses its input, calls one selector or service, and renders. Every object is
fetched through the scoped selectors (out of scope answers 404, exactly like missing), and
every list, count and export is built on scoped querysets only. Codes are shown by their
Chinese names from the rule tables (:func:`_names`); citizen ID numbers only ever masked.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from bianzhi.accounts.permissions import can, require
from bianzhi.common.errors import BianzhiError, message_for
from bianzhi.common.exports import XLSX_MIME, Column, xlsx_response
from bianzhi.common.exports import exported_on as _exported_on
from bianzhi.common.forms import call_service as _call
from bianzhi.common.listing import Listing
from bianzhi.common.scoping import scope_of, scoped
from bianzhi.common.selectors import audit_events_in_scope
from bianzhi.common.tabular import ImportResult, sha256_hex
from bianzhi.divisions.choices import Level
from bianzhi.divisions.models import Division
from bianzhi.divisions.selectors import divisions_in_scope
from bianzhi.orgs.choices import UnitStatus
from bianzhi.orgs.models import Unit
from bianzhi.orgs.selectors import units_in_scope

from . import bulk, pool, selectors, services, spells, tasks
from .choices import BulkStatus, ClassPolicy, RuleTable
from .forms import (
    AuthorisationFilterForm,
    AuthorisationForm,
    BaselineCountFilterForm,
    BaselineTakeForm,
    BulkApplyForm,
    BulkForm,
    CapFilterForm,
    CapForm,
    ExitForm,
    PoolAssignForm,
    PoolFilterForm,
    RosterFilterForm,
    RosterImportConfirmForm,
    RosterImportUploadForm,
    RuleCloseForm,
    RuleFilterForm,
    RuleItemForm,
    SpellForm,
)
from .models import (
    Baseline,
    BaselineCount,
    BulkOperation,
    CapChange,
    HireAuthorisation,
    PolicyFlag,
    RuleItem,
    Spell,
)
from .rules import RuleRow, RuleSet, build_ruleset

# ------------------------------------------------------------------------------------ helpers


def _today() -> dt.date:
    return timezone.localdate()


def _crumbs(*items: tuple[str, str | None]) -> list[tuple[str, str | None]]:
    return [(_("Non-establishment staff"), None), *items]


def _path(actor: Any) -> str:
    return scope_of(actor).path


def _rules(actor: Any, as_of: dt.date | None = None) -> RuleSet:
    """The rule tables in force for the actor's jurisdiction (the choices of its forms)."""
    return selectors.ruleset_for(_path(actor), as_of or _today())


def _names(actor: Any, as_of: dt.date | None = None) -> RuleSet:
    """Names of every code the actor may meet: the tables in force for its jurisdiction, plus
    rows no longer in force and the local rows of jurisdictions below it (their records use
    them). Rows of other jurisdictions (a neighbouring district's local rows) never show."""
    path = _path(actor)
    rows = [
        r
        for r in selectors.rule_rows()
        if not r.jurisdiction_path
        or path.startswith(r.jurisdiction_path)
        or r.jurisdiction_path.startswith(path)
    ]
    items: dict[str, dict[str, RuleRow]] = {}
    for row in sorted(rows, key=lambda r: (len(r.jurisdiction_path), r.valid_from)):
        items.setdefault(row.table, {})[row.code] = row
    for table, codes in build_ruleset(rows, path, as_of or _today()).items.items():
        items.setdefault(table, {}).update(codes)
    return RuleSet(items)


def _units(actor: Any, *, active: bool = True) -> QuerySet[Unit]:
    return units_in_scope(actor=actor, status=UnitStatus.ACTIVE if active else "")


def _with_default(request: HttpRequest, **defaults: Any) -> QueryDict:
    """The query with defaults for parameters that are absent (an empty value stays empty)."""
    data = request.GET.copy()
    for key, value in defaults.items():
        if key not in data:
            data[key] = value
    return data


def _message(code: str, params: dict[str, Any] | None = None) -> str:
    try:
        return message_for(code, **(params or {}))
    except KeyError:
        return code


def _visible_division_codes(actor: Any, codes: Iterable[str | None]) -> set[str]:
    wanted = {c for c in codes if c}
    if not wanted:
        return set()
    return set(scoped(Division.objects.filter(code__in=wanted), actor).values_list("code", flat=True))


def _visible_unit_ids(actor: Any, ids: Iterable[int | None]) -> set[int]:
    wanted = {i for i in ids if i}
    if not wanted:
        return set()
    return set(scoped(Unit.objects.filter(pk__in=wanted), actor).values_list("pk", flat=True))


@dataclass
class RowListing(Listing):
    """A :class:`Listing` over a list of dict rows (figures computed in Python), sorted in Python."""

    def __post_init__(self) -> None:
        sort = self.request.GET.get("sort", self.default_sort)
        self.sort = sort if sort.lstrip("-") in self.sortable else self.default_sort
        rows = list(cast(Iterable[dict[str, Any]], self.queryset))
        if self.sort:
            key = self.sortable[self.sort.lstrip("-")]
            present = [r for r in rows if r.get(key) is not None]
            missing = [r for r in rows if r.get(key) is None]
            present.sort(key=lambda r: r[key], reverse=self.sort.startswith("-"))
            rows = present + missing
        self.rows = rows
        paginator = Paginator(rows, self.per_page)
        self.page = paginator.get_page(self.request.GET.get("page"))
        self.total = paginator.count


# ------------------------------------------------------------------------------------ roster

ROSTER_SORTS = {
    "name": "person__name",
    "unit": "unit__name",
    "situation": "situation",
    "post_class": "post_class",
    "work_type": "work_type",
    "funding_source": "funding_source",
    "hire_date": "hire_date",
    "leave_date": "leave_date",
}


def _spell_row(spell: Spell, names: RuleSet) -> dict[str, Any]:
    return {
        "spell": spell,
        "situation": names.name_of(RuleTable.SITUATION, spell.situation),
        "post_class": names.name_of(RuleTable.POST_CLASS, spell.post_class),
        "work_type": names.name_of(RuleTable.WORK_TYPE, spell.work_type),
        "key_post": names.name_of(RuleTable.KEY_POST, spell.key_post) if spell.key_post else "",
        "funding_source": names.name_of(RuleTable.FUNDING_SOURCE, spell.funding_source),
        "exit_reason": names.name_of(RuleTable.EXIT_REASON, spell.exit_reason) if spell.exit_reason else "",
        "education": names.name_of(RuleTable.EDUCATION, spell.education) if spell.education else "",
    }


def _roster_queryset(actor: Any, form: RosterFilterForm) -> QuerySet[Spell]:
    form.is_valid()
    data = getattr(form, "cleaned_data", {})
    if "unit" in form.errors:
        return selectors.spells_in_scope(actor=actor).none()
    unit = data.get("unit")
    key_post = data.get("key_post") or ""
    qs = selectors.spells_in_scope(
        actor=actor,
        unit=unit.pk if unit else None,
        situation=data.get("situation") or "",
        post_class=data.get("post_class") or "",
        work_type=data.get("work_type") or "",
        funding_source=data.get("funding_source") or "",
        key_post="" if key_post == RosterFilterForm.KEY_NONE else key_post,
        as_of=data.get("as_of"),
        q=(data.get("q") or "").strip(),
    )
    if key_post == RosterFilterForm.KEY_NONE:
        qs = qs.filter(key_post="")
    return qs


@login_required
def roster_list(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    today = _today()
    names = _names(actor, today)
    form = RosterFilterForm(
        _with_default(request, as_of=today.isoformat()),
        rules=names,
        units=None if actor.is_unit_bound else _units(actor, active=False),
    )
    qs = _roster_queryset(actor, form)
    listing = Listing(request, qs, sortable=ROSTER_SORTS)
    as_of = getattr(form, "cleaned_data", {}).get("as_of")
    if listing.wants_export:
        return _roster_export(listing.queryset, actor, names, as_of)
    return render(
        request,
        "staffing/roster_list.html",
        {
            "form": form,
            "listing": listing,
            "rows": [_spell_row(s, names) for s in listing.page],
            "as_of": as_of,
            "can_add": can(actor, "roster.change"),
            "breadcrumbs": _crumbs((_("Roster"), None)),
        },
    )


def _roster_export(qs: QuerySet[Spell], actor: Any, names: RuleSet, as_of: dt.date | None) -> HttpResponse:
    columns = [
        Column(_("Name"), 10),
        Column(_("Citizen ID number (masked)"), 22),
        Column(_("Unified social credit code"), 22),
        Column(_("Unit"), 30),
        Column(_("Situation"), 16),
        Column(_("Post class"), 12),
        Column(_("Work type"), 12),
        Column(_("Post name"), 16),
        Column(_("Key post"), 8),
        Column(_("Funding source"), 12),
        Column(_("Hire date"), 12, "date"),
        Column(_("Leave date"), 12, "date"),
        Column(_("Exit reason"), 12),
        Column(_("Contract end"), 12, "date"),
        Column(_("Education"), 10),
        Column(_("Monthly cost per person (yuan)"), 14, "money"),
    ]

    def rows() -> Iterator[list[Any]]:
        for spell in qs.iterator(chunk_size=2000):
            row = _spell_row(spell, names)
            yield [
                spell.person.name,
                spell.person.masked_id,
                spell.unit.uscc,
                spell.unit.name,
                row["situation"],
                row["post_class"],
                row["work_type"],
                spell.post_name,
                row["key_post"],
                row["funding_source"],
                spell.hire_date,
                spell.leave_date,
                row["exit_reason"],
                spell.contract_end,
                row["education"],
                spell.monthly_cost,
            ]

    title = (_("Roster as of %(date)s") % {"date": as_of.isoformat()}) if as_of else _("Roster (all records)")
    return xlsx_response(_("Roster"), title, columns, rows(), subtitle=_exported_on(actor))


def _person_history(actor: Any, spell: Spell, names: RuleSet) -> list[dict[str, Any]]:
    """Every record of the person, oldest first; records outside the actor's scope show dates only."""
    records = list(
        Spell.objects.filter(person_id=spell.person_id).select_related("unit").order_by("hire_date", "pk")
    )
    visible = set(scoped(Spell.objects.filter(person_id=spell.person_id), actor).values_list("pk", flat=True))
    history: list[dict[str, Any]] = []
    for record in records:
        if record.pk in visible:
            history.append({**_spell_row(record, names), "visible": True, "current": record.pk == spell.pk})
        else:
            history.append({"visible": False, "hire_date": record.hire_date, "leave_date": record.leave_date})
    return history


def _record_context(request: HttpRequest, spell: Spell, exit_form: ExitForm | None = None) -> dict[str, Any]:
    actor: Any = request.user
    today = _today()
    names = _names(actor, today)
    can_exit = spell.leave_date is None and can(actor, "roster.change")
    if can_exit and exit_form is None:
        exit_form = ExitForm(rules=selectors.ruleset_for(spell.jurisdiction_path, today))
    flags = [
        {"flag": f, "message": _message(f.code, f.params if isinstance(f.params, dict) else {})}
        for f in scoped(PolicyFlag.objects.filter(spell=spell), actor).order_by("-raised_on", "pk")
    ]
    assignments = None
    if spell.situation == pool.COORDINATOR or spell.assignments.exists():
        history = list(pool.assignment_history(actor=actor, spell=spell))
        towns = _visible_division_codes(actor, [a.town.code for a in history])
        departments = _visible_unit_ids(actor, [a.department_id for a in history])
        assignments = [
            {
                "assignment": a,
                "town": a.town.name if a.town.code in towns else None,
                "department": a.department.name if a.department_id in departments and a.department else None,
                "has_department": a.department_id is not None,
            }
            for a in history
        ]
    events = None
    if can(actor, "audit.view"):
        from bianzhi.common.views import action_label

        events = [
            {"event": e, "action": action_label(e.action)}
            for e in audit_events_in_scope(
                actor=actor, object_type="staffing.spell", object_id=str(spell.pk)
            )[:100]
        ]
    row = _spell_row(spell, names)
    authorisation = spell.authorisation if spell.authorisation_id else None
    return {
        "spell": spell,
        "row": row,
        "policy": names.table(RuleTable.POST_CLASS).get(spell.post_class),
        "policy_label": _policy_label(names, spell.post_class),
        "person": spell.person,
        "history": _person_history(actor, spell, names),
        "flags": flags,
        "assignments": assignments,
        "is_coordinator": spell.situation == pool.COORDINATOR,
        "can_assign": spell.situation == pool.COORDINATOR
        and spell.leave_date is None
        and can(actor, "pool.change"),
        "authorisation": authorisation,
        "operation": spell.operation if spell.operation_id else None,
        "events": events,
        "exit_form": exit_form if can_exit else None,
        "breadcrumbs": _crumbs((_("Roster"), reverse("staffing:roster_list")), (spell.person.name, None)),
    }


def _policy_label(names: RuleSet, post_class: str) -> str:
    row = names.table(RuleTable.POST_CLASS).get(post_class)
    if row is None or not row.policy:
        return ""
    try:
        return str(ClassPolicy(row.policy).label)
    except ValueError:
        return row.policy


@login_required
def roster_detail(request: HttpRequest, pk: int) -> HttpResponse:
    spell = selectors.get_spell(actor=request.user, pk=pk)
    return render(request, "staffing/roster_detail.html", _record_context(request, spell))


@login_required
@require_http_methods(["GET", "POST"])
def roster_exit(request: HttpRequest, pk: int) -> HttpResponse:
    actor: Any = request.user
    spell = selectors.get_spell(actor=actor, pk=pk)
    if request.method == "GET":
        return redirect(reverse("staffing:roster_detail", args=[spell.pk]) + "#exit")
    require(actor, "roster.change")
    form = ExitForm(request.POST, rules=selectors.ruleset_for(spell.jurisdiction_path, _today()))
    if form.is_valid():
        data = form.cleaned_data
        result = _call(
            form,
            spells.spell_exit,
            actor=actor,
            spell_id=spell.pk,
            leave_date=data["leave_date"],
            exit_reason=data["exit_reason"],
        )
        if result is not None:
            messages.success(
                request, _("The exit of %(name)s has been recorded.") % {"name": spell.person.name}
            )
            return redirect("staffing:roster_detail", pk=spell.pk)
    spell.refresh_from_db()
    context = _record_context(request, spell, exit_form=form)
    context["exit_form"] = form
    return render(request, "staffing/roster_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def roster_new(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    require(actor, "roster.change")
    units = None if actor.is_unit_bound else _units(actor)
    initial: dict[str, Any] = {}
    if units is not None and request.GET.get("unit", "").isdigit():
        initial["unit"] = request.GET["unit"]
    form = SpellForm(request.POST or None, initial=initial, rules=_rules(actor), units=units)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        unit_id = actor.unit_id if units is None else data["unit"].pk
        spell = _call(
            form,
            spells.spell_create,
            {"unit_id": "unit", "authorisation": "authorisation_number"},
            actor=actor,
            unit_id=unit_id,
            id_number=data["id_number"],
            name=data["name"],
            situation=data["situation"],
            post_class=data["post_class"],
            work_type=data["work_type"],
            post_name=data["post_name"],
            funding_source=data["funding_source"],
            hire_date=data["hire_date"],
            key_post=data["key_post"],
            contract_end=data["contract_end"],
            education=data["education"],
            monthly_cost=data["monthly_cost"],
            authorisation_number=data["authorisation_number"].strip(),
            mode="register",
        )
        if spell is not None:
            messages.success(
                request, _("The record of %(name)s has been created.") % {"name": spell.person.name}
            )
            return redirect("staffing:roster_detail", pk=spell.pk)
    return render(
        request,
        "staffing/form.html",
        {
            "form": form,
            "title": _("New record"),
            "submit": _("Create"),
            "intro": _("Register mode: the policy checks apply and a new hire cites its hire authorisation."),
            "cancel_url": reverse("staffing:roster_list"),
            "breadcrumbs": _crumbs((_("Roster"), reverse("staffing:roster_list")), (_("New record"), None)),
        },
    )


# ------------------------------------------------------------------------------------ baselines


def baselines_visible(actor: Any) -> QuerySet[Baseline]:
    """The baselines the actor sees (its jurisdiction's and below, and those above that cover
    its units), each annotated with ``visible_total``: the sum of the counts of the units in
    the actor's scope. A baseline of the city shown to a district counts that district only, so
    no figure of another district reaches it (for baselines of its own jurisdiction and below
    it equals ``total``)."""
    counts = (
        scoped(BaselineCount.objects.filter(baseline=OuterRef("pk")), actor)
        .order_by()
        .values("baseline")
        .annotate(n=Sum("count"))
        .values("n")
    )
    return selectors.baselines_in_scope(actor=actor).annotate(
        visible_total=Coalesce(Subquery(counts[:1], output_field=IntegerField()), Value(0))
    )


BASELINE_SORTS = {
    "jurisdiction": "jurisdiction_path",
    "as_of": "as_of",
    "total": "visible_total",
    "taken_at": "taken_at",
}


def _baseline_divisions(actor: Any) -> QuerySet[Division]:
    return divisions_in_scope(actor=actor).exclude(level=Level.TOWN)


@login_required
@require_http_methods(["GET", "POST"])
def baseline_list(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    qs = baselines_visible(actor)
    can_take = can(actor, "baseline.take")
    form = None
    if can_take:
        jurisdiction = actor.jurisdiction
        form = BaselineTakeForm(
            request.POST or None,
            initial={
                "scope": jurisdiction.code if jurisdiction else "",
                "as_of": _rules(actor).baseline_date,
            },
            divisions=_baseline_divisions(actor),
            base_depth=jurisdiction.depth if jurisdiction else 0,
        )
    if request.method == "POST":
        require(actor, "baseline.take")
        assert form is not None
        if form.is_valid():
            data = form.cleaned_data
            baseline = _call(
                form,
                services.baseline_take,
                actor=actor,
                scope=data["scope"],
                as_of=data["as_of"],
                retake=data["retake"],
                note=data["note"].strip(),
            )
            if baseline is not None:
                messages.success(
                    request,
                    _("The baseline of %(scope)s as of %(date)s has been taken: %(total)s people.")
                    % {
                        "scope": baseline.jurisdiction.name,
                        "date": baseline.as_of.isoformat(),
                        "total": f"{baseline.total:,}",
                    },
                )
                return redirect("staffing:baseline_detail", pk=baseline.pk)
    listing = Listing(request, qs, sortable=BASELINE_SORTS)
    if listing.wants_export:
        return _baseline_export(listing.queryset, actor)
    return render(
        request,
        "staffing/baseline_list.html",
        {
            "listing": listing,
            "form": form,
            "breadcrumbs": _crumbs((_("Stock baselines"), None)),
        },
    )


def _baseline_export(qs: Any, actor: Any) -> HttpResponse:
    columns = [
        Column(_("Jurisdiction"), 16),
        Column(_("Division code"), 12),
        Column(_("Baseline date"), 12, "date"),
        Column(_("Total"), 10, "int"),
        Column(_("Current"), 8),
        Column(_("Taken by"), 14),
        Column(_("Taken at"), 18),
        Column(_("Note"), 30),
    ]
    rows = (
        [
            b.jurisdiction.name,
            b.jurisdiction.code,
            b.as_of,
            b.visible_total,
            _("Yes") if b.is_current else _("No"),
            str(b.taken_by),
            timezone.localtime(b.taken_at).strftime("%Y-%m-%d %H:%M"),
            b.note,
        ]
        for b in qs
    )
    return xlsx_response(
        _("Stock baselines"), _("Stock baselines"), columns, rows, subtitle=_exported_on(actor)
    )


BASELINE_COUNT_SORTS = {
    "unit": "unit__name",
    "situation": "situation",
    "post_class": "post_class",
    "count": "count",
}


@login_required
def baseline_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor: Any = request.user
    baseline = selectors.get_baseline(actor=actor, pk=pk)
    names = _names(actor)
    units = _units(actor, active=False)
    form = BaselineCountFilterForm(request.GET, rules=names, units=units)
    counts = scoped(BaselineCount.objects.filter(baseline=baseline).select_related("unit"), actor)
    form.is_valid()
    data = getattr(form, "cleaned_data", {})
    if "unit" in form.errors:
        counts = counts.none()
    elif data.get("unit"):
        counts = counts.filter(unit=data["unit"])
    for name in ("situation", "post_class"):
        if data.get(name):
            counts = counts.filter(**{name: data[name]})
    listing = Listing(request, counts, sortable=BASELINE_COUNT_SORTS, default_sort="unit")
    if listing.wants_export:
        return _baseline_count_export(listing.queryset, baseline, names, actor)

    def summary(field: str, table: str) -> list[dict[str, Any]]:
        sums = counts.order_by().values(field).annotate(n=Sum("count"))
        order = {
            code: i
            for i, code in enumerate(sorted(names.table(table), key=lambda c: names.table(table)[c].sort))
        }
        return sorted(
            ({"name": names.name_of(table, s[field]), "count": s["n"], "code": s[field]} for s in sums),
            key=lambda r: (order.get(r["code"], 999), r["code"]),
        )

    return render(
        request,
        "staffing/baseline_detail.html",
        {
            "baseline": baseline,
            "form": form,
            "listing": listing,
            "rows": [
                {
                    "count": c,
                    "situation": names.name_of(RuleTable.SITUATION, c.situation),
                    "post_class": names.name_of(RuleTable.POST_CLASS, c.post_class),
                }
                for c in listing.page
            ],
            "total": counts.aggregate(n=Sum("count"))["n"] or 0,
            "by_situation": summary("situation", RuleTable.SITUATION),
            "by_class": summary("post_class", RuleTable.POST_CLASS),
            "breadcrumbs": _crumbs(
                (_("Stock baselines"), reverse("staffing:baseline_list")),
                (f"{baseline.jurisdiction.name} {baseline.as_of.isoformat()}", None),
            ),
        },
    )


def _baseline_count_export(
    qs: QuerySet[BaselineCount], baseline: Baseline, names: RuleSet, actor: Any
) -> HttpResponse:
    columns = [
        Column(_("Unified social credit code"), 22),
        Column(_("Unit"), 30),
        Column(_("Situation"), 16),
        Column(_("Post class"), 12),
        Column(_("Count"), 10, "int"),
    ]
    rows = (
        [
            c.unit.uscc,
            c.unit.name,
            names.name_of(RuleTable.SITUATION, c.situation),
            names.name_of(RuleTable.POST_CLASS, c.post_class),
            c.count,
        ]
        for c in qs.iterator(chunk_size=2000)
    )
    title = _("Stock baseline of %(scope)s as of %(date)s") % {
        "scope": baseline.jurisdiction.name,
        "date": baseline.as_of.isoformat(),
    }
    return xlsx_response(_("Stock baseline"), title, columns, rows, subtitle=_exported_on(actor))


# ------------------------------------------------------------------------------------ caps

CAP_SORTS = {
    "unit": "unit_name",
    "post_class": "post_class_sort",
    "baseline": "baseline",
    "cap": "cap",
    "current": "current",
    "headroom": "headroom",
}


def _baseline_cells(units: list[Unit]) -> dict[int, dict[str, int]]:
    """The current baseline counts per unit and post class (the deepest current baseline on each
    unit's path)."""
    baselines = list(Baseline.objects.filter(is_current=True))

    def baseline_of(path: str) -> Baseline | None:
        found = [b for b in baselines if path.startswith(b.jurisdiction_path)]
        return max(found, key=lambda b: len(b.jurisdiction_path), default=None)

    chosen = {u.pk: baseline_of(u.jurisdiction_path) for u in units}
    ids = {b.pk for b in chosen.values() if b is not None}
    cells: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if ids:
        for unit_id, baseline_id, post_class, n in (
            BaselineCount.objects.filter(unit_id__in=[u.pk for u in units], baseline_id__in=ids)
            .values_list("unit_id", "baseline_id", "post_class")
            .annotate(n=Sum("count"))
            .values_list("unit_id", "baseline_id", "post_class", "n")
        ):
            b = chosen.get(unit_id)
            if b is not None and b.pk == baseline_id:
                cells[unit_id][post_class] += n
    return cells


def cap_rows(
    actor: Any, *, as_of: dt.date, by_class: bool = False, q: str = "", over_only: bool = False
) -> list[dict[str, Any]]:
    """Baseline, cap, current count and headroom (cap − current) of the units in scope as of a
    day, per unit or per unit and post class. Units without any figure are left out; a unit
    without a baseline has no cap (``None``). A post class the unit did not have at its
    baseline has a cap of 0 (no new categories) until an approved change."""
    names = _names(actor, as_of)
    units = _units(actor, active=False)
    if q:
        units = units.filter(Q(name__contains=q) | Q(uscc__startswith=q.upper()))
    unit_list = list(units.order_by("name", "pk"))
    contexts = selectors.unit_contexts(unit_list, as_of)
    cells = _baseline_cells(unit_list)
    class_order = {code: row.sort for code, row in names.table(RuleTable.POST_CLASS).items()}
    out: list[dict[str, Any]] = []
    for unit in unit_list:
        ctx = contexts[unit.pk]
        base = cells.get(unit.pk, {})
        classes = set(base) | set(ctx.current_by_class) | set(ctx.class_caps)
        class_rows = []
        for post_class in sorted(classes, key=lambda c: (class_order.get(c, 999), c)):
            baseline = base.get(post_class, 0) if ctx.has_baseline else None
            cap = ctx.class_caps.get(post_class, 0) if ctx.has_baseline else None
            current = ctx.current_by_class.get(post_class, 0)
            class_rows.append(
                {
                    "unit": unit,
                    "unit_name": unit.name,
                    "post_class": post_class,
                    "post_class_name": names.name_of(RuleTable.POST_CLASS, post_class),
                    "post_class_sort": (class_order.get(post_class, 999), post_class),
                    "baseline": baseline,
                    "cap": cap,
                    "current": current,
                    "headroom": cap - current if cap is not None else None,
                    "over": cap is not None and current > cap,
                }
            )
        baseline_total = sum(base.values()) if ctx.has_baseline else None
        total_cap = ctx.total_cap
        current_total = ctx.current_total
        unit_row = {
            "unit": unit,
            "unit_name": unit.name,
            "post_class": "",
            "post_class_name": "",
            "post_class_sort": (-1, ""),
            "baseline": baseline_total,
            "cap": total_cap,
            "current": current_total,
            "headroom": total_cap - current_total if total_cap is not None else None,
            "over_total": total_cap is not None and current_total > total_cap,
            "classes_over": [r["post_class_name"] for r in class_rows if r["over"]],
        }
        unit_row["over"] = unit_row["over_total"] or bool(unit_row["classes_over"])
        if not (baseline_total or total_cap or current_total or any(r["cap"] for r in class_rows)):
            continue
        if by_class:
            out.extend(r for r in class_rows if not over_only or r["over"])
        elif not over_only or unit_row["over"]:
            out.append(unit_row)
    return out


@login_required
def cap_list(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    require(actor, "baseline.view")
    today = _today()
    form = CapFilterForm(_with_default(request, as_of=today.isoformat()))
    as_of = form.value_of("as_of", today)
    by_class = form.value_of("by") == CapFilterForm.BY_CLASS
    rows = cap_rows(
        actor,
        as_of=as_of,
        by_class=by_class,
        q=form.value_of("q").strip(),
        over_only=bool(form.value_of("over", False)),
    )
    listing = RowListing(request, cast(Any, rows), sortable=CAP_SORTS, default_sort="unit")
    totals = {key: sum(r[key] or 0 for r in rows) for key in ("baseline", "cap", "current")}
    totals["over"] = sum(1 for r in rows if r["over"])
    if listing.wants_export:
        return _cap_export(listing.rows, as_of, by_class, totals, actor)
    return render(
        request,
        "staffing/cap_list.html",
        {
            "form": form,
            "listing": listing,
            "by_class": by_class,
            "as_of": as_of,
            "totals": totals,
            "can_change": can(actor, "cap.change"),
            "can_apply": can(actor, "application.cap_change"),
            "breadcrumbs": _crumbs((_("Caps"), None)),
        },
    )


def _cap_export(
    rows: list[dict[str, Any]], as_of: dt.date, by_class: bool, totals: dict[str, int], actor: Any
) -> HttpResponse:
    columns = [Column(_("Unified social credit code"), 22), Column(_("Unit"), 30)]
    if by_class:
        columns.append(Column(_("Post class"), 12))
    columns += [
        Column(_("Baseline"), 10, "int"),
        Column(_("Cap"), 10, "int"),
        Column(_("Current"), 10, "int"),
        Column(_("Headroom"), 10, "int"),
        Column(_("Over cap"), 8),
    ]

    def data() -> Iterator[list[Any]]:
        for r in rows:
            line: list[Any] = [r["unit"].uscc, r["unit"].name]
            if by_class:
                line.append(r["post_class_name"])
            line += [r["baseline"], r["cap"], r["current"], r["headroom"], _("Yes") if r["over"] else ""]
            yield line

    subtitle = _("Totals: baseline %(baseline)s, cap %(cap)s, current %(current)s; %(over)s over cap.") % {
        k: f"{v:,}" for k, v in totals.items()
    }
    return xlsx_response(
        _("Caps"),
        _("Caps as of %(date)s") % {"date": as_of.isoformat()},
        columns,
        data(),
        subtitle=f"{subtitle} {_exported_on(actor)}",
    )


@login_required
@require_http_methods(["GET", "POST"])
def cap_change(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    require(actor, "cap.change")
    units = _units(actor)
    initial: dict[str, Any] = {"valid_from": _today()}
    if request.GET.get("unit", "").isdigit():
        initial["unit"] = request.GET["unit"]
    if request.GET.get("post_class"):
        initial["post_class"] = request.GET["post_class"]
    form = CapForm(request.POST or None, initial=initial, rules=_rules(actor), units=units)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        change = _call(
            form,
            services.cap_set,
            actor=actor,
            unit_id=data["unit"].pk,
            cap=data["cap"],
            valid_from=data["valid_from"],
            post_class=data["post_class"],
            document_ref=data["document_ref"].strip(),
            is_exception=data["is_exception"],
        )
        if change is not None:
            messages.success(
                request,
                _("The cap of “%(unit)s” is %(cap)s from %(date)s.")
                % {
                    "unit": data["unit"].name,
                    "cap": f"{change.cap:,}",
                    "date": change.valid_from.isoformat(),
                },
            )
            return redirect("staffing:cap_list")
    names = _names(actor)
    recent = [
        {"change": c, "post_class": names.name_of(RuleTable.POST_CLASS, c.post_class) if c.post_class else ""}
        for c in scoped(CapChange.objects.select_related("unit"), actor).order_by("-created_at", "-pk")[:20]
    ]
    return render(
        request,
        "staffing/cap_form.html",
        {
            "form": form,
            "recent": recent,
            "title": _("Record a cap change decided outside the system"),
            "intro": _("New cap changes are applied for and decided through the approvals (规模上限调整申请); "
                       "this form records a decision taken on paper, citing its document."),
            "submit": _("Save"),
            "cancel_url": reverse("staffing:cap_list"),
            "breadcrumbs": _crumbs((_("Caps"), reverse("staffing:cap_list")), (_("Record a cap change decided outside the system"), None)),
        },
    )


# ------------------------------------------------------------------------------------ authorisations

AUTHORISATION_SORTS = {
    "number": "number",
    "unit": "unit__name",
    "post_class": "post_class",
    "valid_from": "valid_from",
    "quantity": "quantity",
    "used": "used",
}


@login_required
def authorisation_list(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    require(actor, "roster.view")
    names = _names(actor)
    form = AuthorisationFilterForm(
        request.GET, rules=names, units=None if actor.is_unit_bound else _units(actor, active=False)
    )
    qs = scoped(HireAuthorisation.objects.select_related("unit"), actor)
    form.is_valid()
    data = getattr(form, "cleaned_data", {})
    if "unit" in form.errors:
        qs = qs.none()
    elif data.get("unit"):
        qs = qs.filter(unit=data["unit"])
    if data.get("post_class"):
        qs = qs.filter(post_class=data["post_class"])
    if data.get("open_only"):
        from django.db.models import F

        qs = qs.filter(used__lt=F("quantity"))
    listing = Listing(request, qs, sortable=AUTHORISATION_SORTS)
    rows = (
        {
            "auth": a,
            "post_class": names.name_of(RuleTable.POST_CLASS, a.post_class),
            "situation": names.name_of(RuleTable.SITUATION, a.situation) if a.situation else "",
        }
        for a in (listing.queryset.iterator(chunk_size=2000) if listing.wants_export else listing.page)
    )
    if listing.wants_export:
        columns = [
            Column(_("Authorisation number"), 24),
            Column(_("Unified social credit code"), 22),
            Column(_("Unit"), 30),
            Column(_("Post class"), 12),
            Column(_("Situation"), 16),
            Column(_("Number of hires"), 10, "int"),
            Column(_("Used"), 8, "int"),
            Column(_("Remaining"), 8, "int"),
            Column(_("Valid from"), 12, "date"),
            Column(_("Valid to"), 12, "date"),
            Column(_("Status"), 8),
            Column(_("Document reference"), 24),
        ]
        data_rows = (
            [
                r["auth"].number,
                r["auth"].unit.uscc,
                r["auth"].unit.name,
                r["post_class"],
                r["situation"],
                r["auth"].quantity,
                r["auth"].used,
                r["auth"].remaining,
                r["auth"].valid_from,
                r["auth"].valid_to,
                r["auth"].get_status_display(),
                r["auth"].document_ref,
            ]
            for r in rows
        )
        return xlsx_response(
            _("Hire authorisations"),
            _("Hire authorisations"),
            columns,
            data_rows,
            subtitle=_exported_on(actor),
        )
    return render(
        request,
        "staffing/authorisation_list.html",
        {
            "form": form,
            "listing": listing,
            "rows": list(rows),
            "can_add": can(actor, "cap.change"),
            "can_apply": can(actor, "application.hire"),
            "breadcrumbs": _crumbs((_("Hire authorisations"), None)),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def authorisation_new(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    require(actor, "cap.change")
    initial: dict[str, Any] = {"valid_from": _today()}
    if request.GET.get("unit", "").isdigit():
        initial["unit"] = request.GET["unit"]
    form = AuthorisationForm(request.POST or None, initial=initial, rules=_rules(actor), units=_units(actor))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        auth = _call(
            form,
            spells.authorisation_create,
            actor=actor,
            unit_id=data["unit"].pk,
            post_class=data["post_class"],
            quantity=data["quantity"],
            valid_from=data["valid_from"],
            valid_to=data["valid_to"],
            situation=data["situation"],
            document_ref=data["document_ref"].strip(),
            number=data["number"].strip(),
        )
        if auth is not None:
            messages.success(
                request, _("Hire authorisation %(number)s has been recorded.") % {"number": auth.number}
            )
            return redirect("staffing:authorisation_list")
    return render(
        request,
        "staffing/form.html",
        {
            "form": form,
            "title": _("Record a hire authorisation decided outside the system"),
            "intro": _("New hires are applied for and decided through the approvals (用人申请); this form "
                       "records an authorisation approved on paper, citing its document."),
            "submit": _("Save"),
            "cancel_url": reverse("staffing:authorisation_list"),
            "breadcrumbs": _crumbs(
                (_("Hire authorisations"), reverse("staffing:authorisation_list")),
                (_("Record a hire authorisation decided outside the system"), None),
            ),
        },
    )


# ------------------------------------------------------------------------------------ coordinator pool

POOL_SORTS = {
    "town": "town_code",
    "name": "person__name",
    "unit": "unit__name",
    "assigned_from": "assigned_from",
    "hire_date": "hire_date",
}


def _pool_cities(actor: Any) -> list[Division]:
    """The cities whose pool the actor may see (part of): cities in its scope, or the city its
    jurisdiction lies in."""
    path = _path(actor)
    codes = [p for p in path.split("/") if p]
    return list(
        Division.objects.filter(level=Level.CITY)
        .filter(Q(path__startswith=path) | Q(code__in=codes))
        .order_by("path")
    )


@login_required
def pool_page(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    require(actor, "pool.view")
    today = _today()
    cities = _pool_cities(actor)
    form = PoolFilterForm(
        _with_default(request, as_of=today.isoformat(), city=cities[0].code if cities else ""), cities=cities
    )
    as_of = form.value_of("as_of", today)
    city_code = form.value_of("city", cities[0].code if cities else "")
    if not city_code:
        raise Http404
    by_town = pool.pool_totals_by_town(actor=actor, city_code=city_code, as_of=as_of)
    by_department = pool.pool_totals_by_department(actor=actor, city_code=city_code, as_of=as_of)
    members = pool.pool_members(actor=actor, city_code=city_code, as_of=as_of)
    towns_seen = _visible_division_codes(actor, [r["town_code"] for r in by_town])
    departments_seen = _visible_unit_ids(actor, [r["department_id"] for r in by_department])
    town_rows = [{**r, "visible": r["town_code"] in towns_seen} for r in by_town]
    department_rows = [{**r, "visible": r["department_id"] in departments_seen} for r in by_department]
    listing = Listing(request, members, sortable=POOL_SORTS)
    sheet = request.GET.get("sheet", "members")
    if listing.wants_export:
        return _pool_export(sheet, listing.queryset, town_rows, department_rows, as_of, actor)
    page = list(listing.page)
    page_towns = _visible_division_codes(actor, [getattr(m, "town_code", None) for m in page])
    page_departments = _visible_unit_ids(actor, [getattr(m, "pool_department_id", None) for m in page])
    city = next((c for c in cities if c.code == city_code), None)
    return render(
        request,
        "staffing/pool.html",
        {
            "form": form,
            "city": city,
            "as_of": as_of,
            "town_rows": town_rows,
            "department_rows": department_rows,
            "total": sum(r["count"] for r in by_town),
            "listing": listing,
            "members": [
                {
                    "spell": m,
                    "town_visible": getattr(m, "town_code", None) in page_towns,
                    "department_visible": getattr(m, "pool_department_id", None) in page_departments,
                }
                for m in page
            ],
            "can_change": can(actor, "pool.change"),
            "export_towns": listing._query(export="xlsx", sheet="towns", page=None),
            "export_departments": listing._query(export="xlsx", sheet="departments", page=None),
            "export_members": listing._query(export="xlsx", sheet="members", page=None),
            "breadcrumbs": _crumbs((_("Coordinator pool"), None)),
        },
    )


def _pool_export(
    sheet: str,
    members: QuerySet[Spell],
    town_rows: list[dict[str, Any]],
    department_rows: list[dict[str, Any]],
    as_of: dt.date,
    actor: Any,
) -> HttpResponse:
    outside = _("(outside your jurisdiction)")
    unassigned = _("Not assigned")
    date = {"date": as_of.isoformat()}
    if sheet == "towns":
        columns = [
            Column(_("Town / street code"), 14),
            Column(_("Town / street"), 24),
            Column(_("Coordinators"), 12, "int"),
        ]
        rows: Iterable[list[Any]] = (
            [
                r["town_code"] or "",
                (r["town_name"] if r["visible"] else outside) if r["assigned"] else unassigned,
                r["count"],
            ]
            for r in town_rows
        )
        return xlsx_response(
            _("Coordinators per town"),
            _("Coordinators per town as of %(date)s") % date,
            columns,
            rows,
            subtitle=_exported_on(actor),
        )
    if sheet == "departments":
        columns = [Column(_("Department"), 30), Column(_("Coordinators"), 12, "int")]
        rows = ([_department_label(r, outside, unassigned), r["count"]] for r in department_rows)
        return xlsx_response(
            _("Coordinators per department"),
            _("Coordinators per department as of %(date)s") % date,
            columns,
            rows,
            subtitle=_exported_on(actor),
        )
    towns: dict[str, bool] = {}
    departments: dict[int, bool] = {}
    columns = [
        Column(_("Name"), 10),
        Column(_("Citizen ID number (masked)"), 22),
        Column(_("Unit"), 30),
        Column(_("Town / street"), 20),
        Column(_("Department"), 26),
        Column(_("Task"), 20),
        Column(_("Assigned from"), 12, "date"),
    ]

    def data() -> Iterator[list[Any]]:
        for m in members.iterator(chunk_size=2000):
            town_code = getattr(m, "town_code", None)
            department_id = getattr(m, "pool_department_id", None)
            if town_code and town_code not in towns:
                towns[town_code] = bool(_visible_division_codes(actor, [town_code]))
            if department_id and department_id not in departments:
                departments[department_id] = bool(_visible_unit_ids(actor, [department_id]))
            town = (getattr(m, "town_name", "") if towns[town_code] else outside) if town_code else unassigned
            department = (
                (getattr(m, "pool_department_name", "") if departments[department_id] else outside)
                if department_id
                else ""
            )
            yield [
                m.person.name,
                m.person.masked_id,
                m.unit.name,
                town,
                department,
                getattr(m, "pool_task", ""),
                getattr(m, "assigned_from", None),
            ]

    return xlsx_response(
        _("Coordinator pool"),
        _("Coordinator pool as of %(date)s") % date,
        columns,
        data(),
        subtitle=_exported_on(actor),
    )


def _department_label(row: dict[str, Any], outside: str, unassigned: str) -> str:
    if row["department_id"]:
        return row["department_name"] if row["visible"] else outside
    return _("No department") if row["assigned"] else unassigned


@login_required
@require_http_methods(["GET", "POST"])
def pool_assign(request: HttpRequest, pk: int) -> HttpResponse:
    actor: Any = request.user
    spell = selectors.get_spell(actor=actor, pk=pk)
    require(actor, "pool.change")
    city_path = pool.city_path_of(spell.jurisdiction_path) or "\x00"
    towns = (
        divisions_in_scope(actor=actor, level=Level.TOWN)
        .filter(path__startswith=city_path)
        .select_related("parent")
    )
    departments = _units(actor).filter(jurisdiction_path__startswith=city_path)
    history = list(pool.assignment_history(actor=actor, spell=spell))
    current = next((a for a in history if a.valid_to is None), None)
    initial: dict[str, Any] = {"valid_from": _today()}
    if current is not None:
        initial.update(town=current.town.code, department=current.department_id, task=current.task)
    form = PoolAssignForm(request.POST or None, initial=initial, towns=towns, units=departments)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        assignment = _call(
            form,
            pool.pool_assign,
            {"spell": "", "town": "town"},
            actor=actor,
            spell_id=spell.pk,
            town_code=data["town"],
            valid_from=data["valid_from"],
            department_id=data["department"].pk if data["department"] else None,
            task=data["task"].strip(),
            document_ref=data["document_ref"].strip(),
        )
        if assignment is not None:
            messages.success(
                request,
                _("%(name)s is assigned to %(town)s from %(date)s.")
                % {
                    "name": spell.person.name,
                    "town": assignment.town.name,
                    "date": assignment.valid_from.isoformat(),
                },
            )
            return redirect("staffing:roster_detail", pk=spell.pk)
    towns_seen = _visible_division_codes(actor, [a.town.code for a in history])
    departments_seen = _visible_unit_ids(actor, [a.department_id for a in history])
    return render(
        request,
        "staffing/pool_assign.html",
        {
            "form": form,
            "spell": spell,
            "history": [
                {
                    "assignment": a,
                    "town": a.town.name if a.town.code in towns_seen else None,
                    "department": a.department.name
                    if a.department and a.department_id in departments_seen
                    else None,
                    "has_department": a.department_id is not None,
                }
                for a in history
            ],
            "is_reallocation": current is not None,
            "title": _("Re-allocate a coordinator") if current is not None else _("Assign a coordinator"),
            "breadcrumbs": _crumbs(
                (_("Coordinator pool"), reverse("staffing:pool")),
                (spell.person.name, reverse("staffing:roster_detail", args=[spell.pk])),
                (_("Assignment"), None),
            ),
        },
    )


# ------------------------------------------------------------------------------------ bulk operations

BULK_SORTS = {
    "created_at": "created_at",
    "kind": "kind",
    "status": "status",
    "count": "count",
    "leave_date": "leave_date",
}
SELECTION_SORTS = {"name": "person__name", "unit": "unit__name", "hire_date": "hire_date"}


def _criteria_text(operation: BulkOperation, names: RuleSet) -> list[tuple[str, str]]:
    labels = {
        "situation": (_("Situation"), RuleTable.SITUATION),
        "post_class": (_("Post class"), RuleTable.POST_CLASS),
        "work_type": (_("Work type"), RuleTable.WORK_TYPE),
        "funding_source": (_("Funding source"), RuleTable.FUNDING_SOURCE),
        "key_post": (_("Key post"), RuleTable.KEY_POST),
    }
    out = []
    for key, value in (operation.criteria or {}).items():
        if key in labels:
            label, table = labels[key]
            out.append((label, _("Any key post") if value == "any" else names.name_of(table, str(value))))
        elif key == bulk.SPELL_IDS:
            out.append((_("Chosen records"), f"{len(value):,}"))
    return out


@login_required
def bulk_list(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    names = _names(actor)
    listing = Listing(request, bulk.operations_in_scope(actor=actor), sortable=BULK_SORTS)
    if listing.wants_export:
        columns = [
            Column(_("No."), 8, "int"),
            Column(_("Operation"), 14),
            Column(_("Status"), 10),
            Column(_("Unit"), 30),
            Column(_("Selection"), 30),
            Column(_("People"), 10, "int"),
            Column(_("Leave date"), 12, "date"),
            Column(_("Exit reason"), 12),
            Column(_("Receiving organisation"), 24),
            Column(_("Document reference"), 24),
            Column(_("Created at"), 18),
            Column(_("Applied at"), 18),
        ]
        rows = (
            [
                op.pk,
                op.get_kind_display(),
                op.get_status_display(),
                op.unit.name if op.unit else "",
                "；".join(f"{k}：{v}" for k, v in _criteria_text(op, names)),
                op.count,
                op.leave_date,
                names.name_of(RuleTable.EXIT_REASON, op.exit_reason),
                op.receiver,
                op.document_ref,
                timezone.localtime(op.created_at).strftime("%Y-%m-%d %H:%M"),
                timezone.localtime(op.applied_at).strftime("%Y-%m-%d %H:%M") if op.applied_at else "",
            ]
            for op in listing.queryset
        )
        return xlsx_response(
            _("Bulk operations"), _("Bulk operations"), columns, rows, subtitle=_exported_on(actor)
        )
    return render(
        request,
        "staffing/bulk_list.html",
        {
            "listing": listing,
            "rows": [{"op": op, "criteria": _criteria_text(op, names)} for op in listing.page],
            "can_add": can(actor, "roster.bulk"),
            "breadcrumbs": _crumbs((_("Bulk operations"), None)),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def bulk_new(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    require(actor, "roster.bulk")
    initial: dict[str, Any] = {}
    if request.GET.get("unit", "").isdigit():
        initial["unit"] = request.GET["unit"]
    form = BulkForm(request.POST or None, initial=initial, rules=_rules(actor), units=_units(actor))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        operation = _call(
            form,
            bulk.bulk_preview,
            {"criteria": ""},
            actor=actor,
            kind=data["kind"],
            leave_date=data["leave_date"],
            exit_reason=data["exit_reason"],
            unit_id=data["unit"].pk if data["unit"] else None,
            criteria=form.criteria(),
            receiver=data["receiver"].strip(),
            document_ref=data["document_ref"].strip(),
        )
        if operation is not None:
            return redirect("staffing:bulk_detail", pk=operation.pk)
    return render(
        request,
        "staffing/form.html",
        {
            "form": form,
            "title": _("New bulk operation"),
            "submit": _("Preview the selection"),
            "intro": _(
                "Choose the records by unit and filters. Nothing changes until you confirm the preview "
                "with the approving document."
            ),
            "cancel_url": reverse("staffing:bulk_list"),
            "breadcrumbs": _crumbs(
                (_("Bulk operations"), reverse("staffing:bulk_list")), (_("New bulk operation"), None)
            ),
        },
    )


def _bulk_context(
    request: HttpRequest, operation: BulkOperation, apply_form: BulkApplyForm | None = None
) -> tuple[dict[str, Any], Listing]:
    actor: Any = request.user
    names = _names(actor)
    selection = bulk.bulk_selection(actor=actor, operation=operation).select_related("person", "unit")
    listing = Listing(request, selection, sortable=SELECTION_SORTS, default_sort="unit")
    pending = operation.status == BulkStatus.PREVIEWED
    can_bulk = can(actor, "roster.bulk")
    if pending and can_bulk and apply_form is None:
        apply_form = BulkApplyForm(initial={"document_ref": operation.document_ref})
    return {
        "op": operation,
        "criteria": _criteria_text(operation, names),
        "exit_reason": names.name_of(RuleTable.EXIT_REASON, operation.exit_reason),
        "listing": listing,
        "rows": [_spell_row(s, names) for s in listing.page],
        "pending": pending,
        "changed": pending and listing.total != operation.count,
        "apply_form": apply_form if pending and can_bulk else None,
        "breadcrumbs": _crumbs(
            (_("Bulk operations"), reverse("staffing:bulk_list")),
            (f"{operation.get_kind_display()} #{operation.pk}", None),
        ),
    }, listing


@login_required
def bulk_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor: Any = request.user
    operation = bulk.get_operation(actor=actor, pk=pk)
    context, listing = _bulk_context(request, operation)
    if listing.wants_export:
        return _roster_export(listing.queryset, actor, _names(actor), None)
    return render(request, "staffing/bulk_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def bulk_apply(request: HttpRequest, pk: int) -> HttpResponse:
    actor: Any = request.user
    operation = bulk.get_operation(actor=actor, pk=pk)
    if request.method == "GET":
        return redirect("staffing:bulk_detail", pk=operation.pk)
    require(actor, "roster.bulk")
    form = BulkApplyForm(request.POST)
    if form.is_valid():
        result = _call(
            form,
            bulk.bulk_apply,
            {"operation": ""},
            actor=actor,
            operation_id=operation.pk,
            document_ref=form.cleaned_data["document_ref"].strip(),
        )
        if result is not None:
            messages.success(
                request,
                _("The bulk operation has been applied: %(count)s records.") % {"count": f"{result.count:,}"},
            )
            return redirect("staffing:bulk_detail", pk=operation.pk)
    operation.refresh_from_db()
    context, _listing = _bulk_context(request, operation, apply_form=form)
    context["apply_form"] = form
    return render(request, "staffing/bulk_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def bulk_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    actor: Any = request.user
    operation = bulk.get_operation(actor=actor, pk=pk)
    if request.method == "POST":
        require(actor, "roster.bulk")
        try:
            bulk.bulk_cancel(actor=actor, operation_id=operation.pk)
            messages.success(request, _("The bulk operation has been cancelled; no record was changed."))
        except BianzhiError as exc:
            for error in exc.errors:
                messages.error(request, error.message)
    return redirect("staffing:bulk_detail", pk=operation.pk)


# ------------------------------------------------------------------------------------ rule tables


def rules_in_force(actor: Any, as_of: dt.date) -> list[dict[str, Any]]:
    """The rows in force for the actor's jurisdiction on a day, each with its origin (province
    default or the local row of a jurisdiction on the path)."""
    path = _path(actor)
    ancestors = _prefixes(path)
    items = list(
        RuleItem.objects.filter(Q(jurisdiction_path="") | Q(jurisdiction_path__in=ancestors)).select_related(
            "jurisdiction"
        )
    )
    by_key = {(i.table, i.code, i.jurisdiction_path, i.valid_from): i for i in items}
    rows = [
        RuleRow(
            table=i.table,
            code=i.code,
            name=i.name,
            parent_code=i.parent_code,
            policy=i.policy,
            value=i.value,
            sort=i.sort,
            jurisdiction_path=i.jurisdiction_path,
            valid_from=i.valid_from,
            valid_to=i.valid_to,
        )
        for i in items
    ]
    ruleset = build_ruleset(rows, path, as_of)
    table_order = {t: n for n, t in enumerate(RuleTable.values)}
    out: list[dict[str, Any]] = []
    for table, codes in ruleset.items.items():
        for row in codes.values():
            item = by_key[(row.table, row.code, row.jurisdiction_path, row.valid_from)]
            out.append(
                {
                    "item": item,
                    "table": table,
                    "table_label": RuleTable(table).label if table in RuleTable.values else table,
                    "local": bool(item.jurisdiction_path),
                    "parent": ruleset.name_of(RuleTable.POST_CLASS, row.parent_code)
                    if row.parent_code
                    else "",
                    "policy": ClassPolicy(row.policy).label
                    if row.policy in ClassPolicy.values
                    else row.policy,
                    "order": (table_order.get(table, 99), row.sort, row.code),
                }
            )
    out.sort(key=lambda r: r["order"])
    return out


def _prefixes(path: str) -> list[str]:
    parts = [p for p in path.split("/") if p]
    return ["/".join(parts[: n + 1]) + "/" for n in range(len(parts))]


@login_required
@require_http_methods(["GET", "POST"])
def rule_list(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    require(actor, "rules.view")
    today = _today()
    filters = RuleFilterForm(_with_default(request, as_of=today.isoformat()))
    as_of = filters.value_of("as_of", today)
    table = filters.value_of("table")
    can_change = can(actor, "rules.change")
    jurisdiction = actor.jurisdiction
    form = None
    if can_change and jurisdiction is not None:
        form = RuleItemForm(
            request.POST or None,
            initial={"jurisdiction_code": jurisdiction.code, "valid_from": today},
            divisions=[jurisdiction],
            base_depth=jurisdiction.depth,
        )
        cast(Any, form.fields["table"]).choices = [
            ("", "---------"),
            *[(t, RuleTable(t).label) for t in spells.LOCAL_TABLES],
        ]
    if request.method == "POST":
        require(actor, "rules.change")
        assert form is not None
        if form.is_valid():
            data = form.cleaned_data
            item = _call(
                form,
                spells.rule_item_add,
                {"jurisdiction": "jurisdiction_code"},
                actor=actor,
                table=data["table"],
                code=data["code"].strip(),
                name=data["name"].strip(),
                valid_from=data["valid_from"],
                jurisdiction_code=data["jurisdiction_code"],
                parent_code=data["parent_code"].strip(),
                policy=data["policy"],
                value=data["value"].strip(),
                source_document=data["source_document"].strip(),
            )
            if item is not None:
                messages.success(request, _("The local row “%(name)s” has been added.") % {"name": item.name})
                return redirect("staffing:rule_list")
    rows = rules_in_force(actor, as_of)
    if table:
        rows = [r for r in rows if r["table"] == table]
    if request.GET.get("export") == "xlsx":
        return _rule_export(rows, as_of, actor)
    path = _path(actor)
    local = [
        {
            "item": i,
            "can_close": can_change and i.jurisdiction_id == actor.jurisdiction_id and i.valid_to is None,
        }
        for i in RuleItem.objects.filter(jurisdiction_path__startswith=path)
        .exclude(jurisdiction_path="")
        .select_related("jurisdiction")
        .order_by("jurisdiction_path", "table", "valid_from", "code")
    ]
    return render(
        request,
        "staffing/rule_list.html",
        {
            "filters": filters,
            "rows": rows,
            "local": local,
            "as_of": as_of,
            "form": form,
            "export_url": "?" + _export_query(request),
            "breadcrumbs": _crumbs((_("Rule tables"), None)),
        },
    )


def _export_query(request: HttpRequest) -> str:
    params = request.GET.copy()
    params["export"] = "xlsx"
    return params.urlencode()


def _rule_export(rows: list[dict[str, Any]], as_of: dt.date, actor: Any) -> HttpResponse:
    columns = [
        Column(_("Rule table"), 12),
        Column(_("Code"), 22),
        Column(_("Name"), 18),
        Column(_("Belongs to"), 12),
        Column(_("Policy"), 14),
        Column(_("Value"), 12),
        Column(_("Valid from"), 12, "date"),
        Column(_("Valid to"), 12, "date"),
        Column(_("Origin"), 16),
        Column(_("Source document"), 36),
    ]
    data = (
        [
            str(r["table_label"]),
            r["item"].code,
            r["item"].name,
            r["parent"],
            str(r["policy"] or ""),
            r["item"].value,
            r["item"].valid_from,
            r["item"].valid_to,
            r["item"].jurisdiction.name if r["local"] and r["item"].jurisdiction else _("Province default"),
            r["item"].source_document,
        ]
        for r in rows
    )
    return xlsx_response(
        _("Rule tables"),
        _("Rule tables in force on %(date)s") % {"date": as_of.isoformat()},
        columns,
        data,
        subtitle=_exported_on(actor),
    )


@login_required
@require_http_methods(["GET", "POST"])
def rule_close(request: HttpRequest, pk: int) -> HttpResponse:
    actor: Any = request.user
    path = _path(actor)
    item = (
        RuleItem.objects.filter(pk=pk, jurisdiction_path__startswith=path)
        .exclude(jurisdiction_path="")
        .first()
    )
    if item is None:
        raise Http404
    require(actor, "rules.change")
    form = RuleCloseForm(request.POST or None, initial={"valid_to": _today()})
    if request.method == "POST" and form.is_valid():
        closed = _call(
            form,
            spells.rule_item_close,
            {"item": ""},
            actor=actor,
            item_id=item.pk,
            valid_to=form.cleaned_data["valid_to"],
        )
        if closed is not None:
            messages.success(
                request,
                _("The local row “%(name)s” ends on %(date)s.")
                % {"name": closed.name, "date": form.cleaned_data["valid_to"].isoformat()},
            )
            return redirect("staffing:rule_list")
    return render(
        request,
        "staffing/form.html",
        {
            "form": form,
            "title": _("End a local row"),
            "subtitle": f"{item.get_table_display()} · {item.name}",
            "submit": _("Save"),
            "cancel_url": reverse("staffing:rule_list"),
            "breadcrumbs": _crumbs(
                (_("Rule tables"), reverse("staffing:rule_list")), (_("End a local row"), None)
            ),
        },
    )


# ------------------------------------------------------------------------------------ roster import

IMPORT_SESSION_KEY = "staffing.roster_import"
IMPORT_DONE_KEY = "staffing.roster_import_done"
IMPORT_MAX_BYTES = 100 * 1024 * 1024
PREVIEW_ROWS = 200
REPORT_ROWS = 500


def _import_crumbs(*items: tuple[str, str | None]) -> list[tuple[str, str | None]]:
    return _crumbs((_("Roster import"), reverse("staffing:roster_import")), *items)


def _store_upload(request: HttpRequest, data: bytes, filename: str, mode: str) -> str:
    sha256 = sha256_hex(data)
    tasks.store_upload(int(cast(Any, request.user).pk), sha256, data)
    request.session[IMPORT_SESSION_KEY] = {"sha256": sha256, "filename": filename, "mode": mode}
    return sha256


def _load_upload(request: HttpRequest, sha256: str) -> tuple[bytes, str, str] | None:
    info = request.session.get(IMPORT_SESSION_KEY) or {}
    if not sha256 or info.get("sha256") != sha256:
        return None
    try:
        data = tasks.upload_path(int(cast(Any, request.user).pk), sha256).read_bytes()
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != sha256:
        return None
    return data, str(info.get("filename") or "upload.xlsx"), str(info.get("mode") or "register")


def _discard_upload(request: HttpRequest, sha256: str) -> None:
    request.session.pop(IMPORT_SESSION_KEY, None)
    with contextlib.suppress(OSError):
        tasks.upload_path(int(cast(Any, request.user).pk), sha256).unlink()


def _run_import(actor: Any, data: bytes, filename: str, mode: str, *, dry_run: bool) -> ImportResult:
    return tasks.run_import(actor, data, filename, mode, dry_run=dry_run)


def _report_page(request: HttpRequest, report: dict[str, Any], *, sha256: str, job: str = "") -> HttpResponse:
    """The check report of a dry run: counts, every error (row, column, value, reason) or the changes."""
    return render(
        request,
        "staffing/import_report.html",
        {
            "report": report,
            "sha256": sha256,
            "job": job,
            "errors": report["errors"][:REPORT_ROWS],
            "more_errors": max(report["error_count"] - min(len(report["errors"]), REPORT_ROWS), 0),
            "preview": report["preview"][:PREVIEW_ROWS],
            "more_preview": max(report["preview_count"] - min(len(report["preview"]), PREVIEW_ROWS), 0),
            "confirm_form": RosterImportConfirmForm(initial={"sha256": sha256}),
            "report_url": (
                reverse("staffing:roster_import_job_report", args=[job])
                if job
                else reverse("staffing:roster_import_report") + f"?sha256={sha256}"
            ),
            "breadcrumbs": _import_crumbs((_("Check report"), None)),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def roster_import(request: HttpRequest) -> HttpResponse:
    """Template → upload → dry-run report → confirm → (progress →) result (S13 / X4)."""
    actor: Any = request.user
    require(actor, "roster.import_register")
    if request.method == "POST" and request.POST.get("action") == "confirm":
        return _import_confirm(request)
    inventory = can(actor, "roster.import_inventory")
    form = RosterImportUploadForm(request.POST or None, request.FILES or None, inventory=inventory)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > IMPORT_MAX_BYTES:
            form.add_error(
                "file", _("The file is larger than %(size)s MB.") % {"size": IMPORT_MAX_BYTES >> 20}
            )
        else:
            data = upload.read()
            filename = os.path.basename(upload.name)[:200]
            mode = form.cleaned_data["mode"]
            sha256 = _store_upload(request, data, filename, mode)
            if tasks.estimate_rows(data, filename) > tasks.BACKGROUND_ROWS:
                job = tasks.start_job(request, sha256=sha256, filename=filename, mode=mode, dry_run=True)
                return redirect("staffing:roster_import_job", job=job)
            result = _run_import(actor, data, filename, mode, dry_run=True)
            return _report_page(request, tasks.result_report(result, mode), sha256=sha256)
    return render(
        request,
        "staffing/import.html",
        {
            "form": form,
            "inventory": inventory,
            "done": request.session.pop(IMPORT_DONE_KEY, None),
            "background_rows": tasks.BACKGROUND_ROWS,
            "breadcrumbs": _crumbs((_("Roster import"), None)),
        },
    )


def _import_confirm(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    form = RosterImportConfirmForm(request.POST)
    sha256 = form.cleaned_data["sha256"] if form.is_valid() else ""
    stored = _load_upload(request, sha256)
    if stored is None:
        messages.error(request, _("The uploaded file is no longer available: upload it again."))
        return redirect("staffing:roster_import")
    data, filename, mode = stored
    if mode == "inventory":
        require(actor, "roster.import_inventory")
    if tasks.estimate_rows(data, filename) > tasks.BACKGROUND_ROWS:
        job = tasks.start_job(request, sha256=sha256, filename=filename, mode=mode, dry_run=False)
        request.session.pop(IMPORT_SESSION_KEY, None)
        return redirect("staffing:roster_import_job", job=job)
    result = _run_import(actor, data, filename, mode, dry_run=False)
    if not result.committed:
        return _report_page(request, tasks.result_report(result, mode), sha256=sha256)
    _discard_upload(request, sha256)
    request.session[IMPORT_DONE_KEY] = {"filename": filename, "mode": mode, **result.counts()}
    messages.success(request, _("The import of “%(file)s” is complete.") % {"file": filename})
    return redirect("staffing:roster_import")


def _report_columns() -> list[Column]:
    return [
        Column(_("Row"), 8, "int"),
        Column(_("Column"), 18),
        Column(_("Value"), 28),
        Column(_("Error code"), 24),
        Column(_("Reason"), 60),
    ]


@login_required
def roster_import_report(request: HttpRequest) -> HttpResponse:
    """The dry-run report of the pending (small) upload as a workbook."""
    actor: Any = request.user
    require(actor, "roster.import_register")
    stored = _load_upload(request, request.GET.get("sha256", ""))
    if stored is None:
        messages.error(request, _("The uploaded file is no longer available: upload it again."))
        return redirect("staffing:roster_import")
    data, filename, mode = stored
    result = _run_import(actor, data, filename, mode, dry_run=True)
    rows = ([e.row, e.field or "", tasks.cell_text(e.value), e.code, e.message] for e in result.errors)
    return xlsx_response(
        _("Import check report"),
        _("Import check report"),
        _report_columns(),
        rows,
        subtitle=_("File “%(file)s”.") % {"file": filename} + " " + _exported_on(actor),
    )


def _own_job(request: HttpRequest, job: str) -> dict[str, Any]:
    state = tasks.job_load(job)
    if state is None or state.get("user") != cast(Any, request.user).pk:
        raise Http404
    return state


@login_required
def roster_import_job(request: HttpRequest, job: str) -> HttpResponse:
    """A background import: its progress while it runs, then its report or result."""
    require(request.user, "roster.import_register")
    state = tasks.refresh_state(_own_job(request, job))
    if state["state"] in (tasks.QUEUED, tasks.RUNNING):
        return render(
            request,
            "staffing/import_progress.html",
            {
                "job": job,
                "state": state,
                "progress": tasks.progress_view(state),
                "breadcrumbs": _import_crumbs((_("Progress"), None)),
            },
        )
    if state["state"] == tasks.DONE and state["dry_run"]:
        report = state["report"]
        if report["error_count"] == 0:
            info = request.session.get(IMPORT_SESSION_KEY) or {}
            if info.get("sha256") != state["sha256"]:
                request.session[IMPORT_SESSION_KEY] = {
                    "sha256": state["sha256"],
                    "filename": state["filename"],
                    "mode": state["mode"],
                }
        return _report_page(request, report, sha256=state["sha256"], job=job)
    if state["state"] == tasks.DONE and state["report"]["error_count"]:
        return _report_page(request, state["report"], sha256=state["sha256"], job=job)
    return render(
        request,
        "staffing/import_done.html",
        {
            "job": job,
            "state": state,
            "report": state.get("report"),
            "breadcrumbs": _import_crumbs((_("Result"), None)),
        },
    )


@login_required
def roster_import_job_status(request: HttpRequest, job: str) -> HttpResponse:
    """The progress fragment the progress page polls (htmx); once finished, the page reloads."""
    require(request.user, "roster.import_register")
    state = tasks.refresh_state(_own_job(request, job))
    if state["state"] not in (tasks.QUEUED, tasks.RUNNING):
        response = HttpResponse("")
        response["HX-Refresh"] = "true"
        return response
    return render(
        request,
        "staffing/_import_progress.html",
        {
            "job": job,
            "state": state,
            "progress": tasks.progress_view(state),
        },
    )


@login_required
def roster_import_job_report(request: HttpRequest, job: str) -> HttpResponse:
    """The full error report of a background import, written by the task."""
    require(request.user, "roster.import_register")
    _own_job(request, job)
    path = tasks.report_path(job)
    if not path.exists():
        raise Http404
    response = HttpResponse(path.read_bytes(), content_type=XLSX_MIME)
    name = _("Import check report") + ".xlsx"
    response["Content-Disposition"] = f"attachment; filename=\"report.xlsx\"; filename*=UTF-8''{quote(name)}"
    return response


@login_required
def roster_import_template(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    require(actor, "roster.import_register")
    content = template_bytes(_rules(actor), _units(actor))
    response = HttpResponse(content, content_type=XLSX_MIME)
    name = _("roster-import-template") + ".xlsx"
    response["Content-Disposition"] = (
        f"attachment; filename=\"roster-template.xlsx\"; filename*=UTF-8''{quote(name)}"
    )
    return response


TEMPLATE_DATA_ROWS = 5000


def template_bytes(rules: RuleSet, units: QuerySet[Unit]) -> bytes:
    """The roster template: the exchange headers (required ones highlighted), codes and dates as
    text, and drop-downs from the rule tables in force for the user's jurisdiction (work types
    listed with their post class) and the credit codes of the user's units."""
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet(_("Roster")[:31])
    lists = book.add_worksheet(_("Code lists")[:31])
    header = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    required = book.add_format({"bold": True, "bg_color": "#FCE4D6", "border": 1})
    as_text = book.add_format({"num_format": "@"})
    date_fmt = book.add_format({"num_format": "yyyy-mm-dd"})

    lists_data: list[tuple[str, list[str]]] = [
        (str(tasks.HEADER_UNIT), [u for u in units.order_by("uscc").values_list("uscc", flat=True)[:20000]]),
        (str(tasks.HEADER_SITUATION), rules.names(RuleTable.SITUATION)),
        (str(tasks.HEADER_POST_CLASS), rules.names(RuleTable.POST_CLASS)),
        (str(tasks.HEADER_WORK_TYPE), rules.names(RuleTable.WORK_TYPE)),
        (str(tasks.HEADER_KEY_POST), ["无", *rules.names(RuleTable.KEY_POST)]),
        (str(tasks.HEADER_FUNDING), rules.names(RuleTable.FUNDING_SOURCE)),
        (str(tasks.HEADER_EXIT_REASON), rules.names(RuleTable.EXIT_REASON)),
        (str(tasks.HEADER_EDUCATION), rules.names(RuleTable.EDUCATION)),
    ]
    sources: dict[str, str] = {}
    for c, (title, values) in enumerate(lists_data):
        lists.write_string(0, c, title, header)
        lists.set_column(c, c, 22 if c == 0 else 16)
        for r, value in enumerate(values, start=1):
            lists.write_string(r, c, value)
        if values:
            letter = chr(ord("A") + c)
            sources[title] = f"='{lists.name}'!${letter}$2:${letter}${len(values) + 1}"
    # the work types next to their post class, for reference
    work_col = len(lists_data) + 1
    lists.write_string(0, work_col, _("Work type"), header)
    lists.write_string(0, work_col + 1, _("Post class"), header)
    work_types = sorted(rules.table(RuleTable.WORK_TYPE).values(), key=lambda w: (w.parent_code, w.sort))
    for r, row in enumerate(work_types, start=1):
        lists.write_string(r, work_col, row.name)
        lists.write_string(r, work_col + 1, rules.name_of(RuleTable.POST_CLASS, row.parent_code))
    lists.set_column(work_col, work_col + 1, 14)

    for c, (title, kind, is_required) in enumerate(tasks.template_columns()):
        sheet.write_string(0, c, title, required if is_required else header)
        if kind == "date":
            sheet.set_column(c, c, 13, date_fmt)
            sheet.data_validation(
                1,
                c,
                TEMPLATE_DATA_ROWS,
                c,
                {
                    "validate": "date",
                    "criteria": ">",
                    "value": dt.date(1949, 10, 1),
                    "input_title": title,
                    "input_message": _("A date as YYYY-MM-DD."),
                    "error_title": title,
                    "error_message": _("Enter a date as YYYY-MM-DD."),
                    "error_type": "warning",
                },
            )
        elif kind == "money":
            sheet.set_column(c, c, 12)
            sheet.data_validation(
                1,
                c,
                TEMPLATE_DATA_ROWS,
                c,
                {
                    "validate": "decimal",
                    "criteria": ">=",
                    "value": 0,
                    "error_title": title,
                    "error_message": _("An amount in yuan of 0 or more."),
                },
            )
        else:
            sheet.set_column(c, c, 22 if kind in ("id", "unit") else 14, as_text)
            if title in sources:
                sheet.data_validation(
                    1,
                    c,
                    TEMPLATE_DATA_ROWS,
                    c,
                    {
                        "validate": "list",
                        "source": sources[title],
                        "error_title": title,
                        "error_message": _("Choose a value from the list."),
                        "error_type": "stop" if kind != "unit" else "warning",
                    },
                )
            elif kind == "id":
                sheet.data_validation(
                    1,
                    c,
                    TEMPLATE_DATA_ROWS,
                    c,
                    {
                        "validate": "length",
                        "criteria": "==",
                        "value": 18,
                        "input_title": title,
                        "input_message": _("18 characters, entered as text."),
                        "error_title": title,
                        "error_message": _("A citizen ID number has 18 characters."),
                    },
                )
    sheet.freeze_panes(1, 0)
    book.close()
    return buffer.getvalue()
