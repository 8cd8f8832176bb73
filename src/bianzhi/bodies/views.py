"""Pages of the coordinating bodies (议事协调机构): the registry (机构库) with its filters and
Excel export, a body's page (details, members, task groups, history, documents, cases, audit
trail), the set-up application with the similar-bodies check (htmx), the five change
applications and the list of the bodies' applications.

Applications run through the approvals' generic apply view: nothing in the registry changes
until the general office issues the document of an approved change (B5). Views parse, call
one selector or service, render; every body is reached through the scoped selectors, so one
outside the user's jurisdiction answers 404 exactly like a missing one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from bianzhi.accounts.permissions import can, require
from bianzhi.common.exports import Column, xlsx_response
from bianzhi.common.exports import exported_on as _exported_on
from bianzhi.common.listing import Listing
from bianzhi.common.scoping import scope_of
from bianzhi.divisions.selectors import divisions_in_scope
from bianzhi.orgs.choices import UnitStatus
from bianzhi.orgs.selectors import units_in_scope
from bianzhi.staffing import selectors as staffing_selectors
from bianzhi.staffing.choices import RuleTable
from bianzhi.staffing.rules import RuleSet
from bianzhi.workflow.choices import CaseStatus
from bianzhi.workflow.forms import CaseFilterForm
from bianzhi.workflow.kinds import kind_for
from bianzhi.workflow.selectors import cases_in_scope

from . import selectors
from .applications import CHANGE_KINDS
from .forms import CHANGE_FORMS, BodyFilterForm, BodySetupForm, SimilarForm
from .models import Body, BodyMember, BodyStatus, BodyVersion, TaskGroup

BODY_SORTS = {
    "code": "code", "name": "name", "jurisdiction": "jurisdiction_path", "kind": "kind",
    "lead_unit": "lead_unit__name", "members": "member_count", "set_up_on": "set_up_on", "status": "status",
}
CASE_SORTS = {"number": "number", "submitted": "submitted_at", "status": "status", "unit": "unit__name"}
#: the change applications a body's page offers, in the order of its buttons (URL word → kind)
CHANGES = {"rename": "body_rename", "duties": "body_duties", "members": "body_members", "merge": "body_merge",
           "revoke": "body_revoke", "task-group": "body_task_group"}


def _today() -> dt.date:
    return timezone.localdate()


def _crumbs(*items: tuple[str, str | None]) -> list[tuple[str, str | None]]:
    return [(_("Coordinating bodies"), reverse("bodies:body_list")), *items]


def _names(actor: Any) -> RuleSet:
    """The rule tables of the user's jurisdiction (names of kinds, grounds, situations)."""
    return staffing_selectors.ruleset_for(scope_of(actor).path, _today())


def _with_member_count(qs: QuerySet[Body]) -> QuerySet[Body]:
    current = (BodyMember.objects.filter(body=OuterRef("pk"), valid_to__isnull=True).order_by()
               .values("body").annotate(n=Count("pk")).values("n"))
    return qs.annotate(member_count=Coalesce(Subquery(current, output_field=IntegerField()), 0))


def _document_url(name: str, pk: Any) -> str:
    """The URL of a document's page or download (empty while the documents' pages are absent)."""
    try:
        return reverse(f"documents:{name}", args=[pk])
    except NoReverseMatch:
        return ""


def _status_label(status: str) -> str:
    try:
        return str(BodyStatus(status).label)
    except ValueError:
        return status


# ------------------------------------------------------------------------------------ the registry


@login_required
def body_list(request: HttpRequest) -> HttpResponse:
    """机构库: the bodies of the user's jurisdiction and below, filtered, sorted, paged, exported."""
    actor: Any = request.user
    require(actor, "body.view")
    names = _names(actor)
    jurisdiction = getattr(actor, "jurisdiction", None)
    units = None if actor.is_unit_bound else units_in_scope(actor=actor, status="")
    form = BodyFilterForm(request.GET, rules=names, divisions=divisions_in_scope(actor=actor),
                          base_depth=jurisdiction.depth if jurisdiction else 0, units=units)
    qs = selectors.bodies_in_scope(actor=actor, **form.selector_params())
    qs = _with_member_count(qs.none() if form.failed else qs)
    listing = Listing(request, qs, sortable=BODY_SORTS, default_sort="code")
    if listing.wants_export:
        return _body_export(listing.queryset, names, actor)
    rows = [{"body": b, "kind": names.name_of(RuleTable.BODY_KIND, b.kind)} for b in listing.page]
    return render(request, "bodies/body_list.html", {
        "form": form, "listing": listing, "rows": rows, "can_apply": can(actor, "application.body"),
        "breadcrumbs": _crumbs((_("Registry"), None)),
    })


def _body_export(qs: QuerySet[Body], names: RuleSet, actor: Any) -> HttpResponse:
    columns = [
        Column(_("Body code"), 20), Column(_("Body name"), 36), Column(_("Jurisdiction"), 12), Column(_("Kind"), 10),
        Column(_("Lead unit"), 28), Column(_("Office seat"), 28), Column(_("Leader posts"), 30),
        Column(_("Member units"), 10, "int"), Column(_("Member unit names"), 60), Column(_("Duties"), 60),
        Column(_("Positive-list ground"), 18), Column(_("Body above it mirrors"), 20),
        Column(_("Set-up document"), 24), Column(_("Set up on"), 12, "date"), Column(_("Planned end"), 12, "date"),
        Column(_("Status"), 10), Column(_("Ended on"), 12, "date"), Column(_("Member-cap exception"), 30),
    ]
    current = Prefetch("members", queryset=BodyMember.objects.filter(valid_to__isnull=True)
                       .select_related("unit").order_by("unit__name", "pk"), to_attr="current_members")

    def rows() -> Iterator[list[Any]]:
        b: Any  # annotated with member_count, prefetched with current_members
        for b in qs.select_related("parent_body").prefetch_related(current).iterator(chunk_size=2000):
            yield [
                b.code, b.name, b.jurisdiction.name, names.name_of(RuleTable.BODY_KIND, b.kind), b.lead_unit.name,
                b.office_unit.name if b.office_unit else "", b.leader_posts, b.member_count,
                "、".join(m.unit.name for m in b.current_members), b.duties,
                names.name_of(RuleTable.POSITIVE_GROUND, b.ground), b.parent_body.code if b.parent_body else "",
                b.set_up_document, b.set_up_on, b.planned_end, _status_label(b.status), b.ended_on,
                b.over_cap_reason,
            ]

    return xlsx_response(_("Coordinating bodies"), _("Coordinating bodies"), columns, rows(),
                         subtitle=_exported_on(actor))


# ------------------------------------------------------------------------------------ a body's page


def body_cases(actor: Any, body: Body) -> list[Any]:
    """The applications that concern a body, oldest first: its set-up (the case whose result
    names its code) and every change that names it (or merged it into another body)."""
    qs = cases_in_scope(actor=actor).filter(jurisdiction_path__startswith=body.jurisdiction_path,
                                            kind__in=CHANGE_KINDS)
    changes = [k for k in CHANGE_KINDS if k != "body_setup"]
    found = list(qs.filter(Q(kind__in=changes, payload__body=body.code)
                           | Q(kind="body_setup", result_ref__startswith=f"{body.code} ")))
    seen = {c.pk for c in found}
    found += [c for c in qs.filter(kind="body_merge").exclude(pk__in=seen)
              if body.code in (c.payload.get("others") or [])]
    return sorted(found, key=lambda c: (c.submitted_at, c.pk))


def _visible(actor: Any, body: Body | None) -> bool:
    return body is not None and body.jurisdiction_path.startswith(scope_of(actor).path)


@login_required
def body_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor: Any = request.user
    body = selectors.get_body(actor=actor, pk=pk)
    names = _names(actor)
    today = _today()
    members = list(BodyMember.objects.filter(body=body).select_related("unit").order_by("unit__name", "pk"))
    current = [m for m in members if m.valid_to is None]
    past = sorted((m for m in members if m.valid_to is not None), key=lambda m: (m.valid_to, m.pk), reverse=True)
    groups = list(TaskGroup.objects.filter(body=body).select_related("lead_unit").prefetch_related("members")
                  .order_by("valid_to", "name"))
    versions = list(BodyVersion.objects.filter(body=body).select_related("created_by").order_by("valid_from", "pk"))

    from bianzhi.documents.selectors import documents_for

    documents = list(documents_for(actor=actor, object_type="bodies.body", object_id=body.pk))
    by_number = {d.number: d for d in documents}
    numbers = {v.document_number for v in versions if v.document_number} - set(by_number)
    if numbers:  # e.g. the document of a merger, filed under the surviving body
        from bianzhi.documents.selectors import documents_in_scope

        by_number |= {d.number: d for d in documents_in_scope(actor=actor).filter(number__in=numbers)}
    doc_rows = [{"document": d, "pdf": _document_url("pdf", d.pk), "docx": _document_url("docx", d.pk),
                 "page": _document_url("document_detail", d.pk)} for d in documents]
    version_rows = []
    for v in versions:
        d = by_number.get(v.document_number)
        version_rows.append({"version": v, "change": _change_label(v.change), "document": d,
                             "pdf": _document_url("pdf", d.pk) if d else ""})

    events = None
    if can(actor, "audit.view"):
        from bianzhi.common.selectors import audit_events_in_scope
        from bianzhi.common.views import action_label

        events = [{"event": e, "action": action_label(e.action)} for e in audit_events_in_scope(actor=actor).filter(
            object_type="bodies.body", object_id=str(body.pk))[:200]]
    cap = selectors.member_cap(body.jurisdiction_path, today)
    active = body.status == BodyStatus.ACTIVE
    return render(request, "bodies/body_detail.html", {
        "body": body, "kind": names.name_of(RuleTable.BODY_KIND, body.kind),
        "ground": names.name_of(RuleTable.POSITIVE_GROUND, body.ground),
        "parent": body.parent_body, "parent_visible": _visible(actor, body.parent_body),
        "merged_into": body.merged_into, "merged_into_visible": _visible(actor, body.merged_into),
        "merged_bodies": [b for b in Body.objects.filter(merged_into=body).order_by("code") if _visible(actor, b)],
        "current": current, "past": past, "cap": cap, "over_cap": len(current) > cap,
        "groups": groups, "versions": version_rows, "documents": doc_rows,
        "cases": body_cases(actor, body), "events": events,
        "changes": list(_change_buttons().items()) if active and can(actor, "application.body") else [],
        "breadcrumbs": _crumbs((body.name, None)),
    })


def _change_buttons() -> dict[str, str]:
    return {"rename": _("Rename"), "duties": _("Change duties"), "members": _("Change member units"),
            "merge": _("Merge other bodies into it"), "task-group": _("Set up or end a task group"),
            "revoke": _("Revoke")}


def _change_label(change: str) -> str:
    labels = {"set_up": _("Set up"), "rename": _("Renamed"), "duties": _("Duties changed"),
              "members": _("Member units changed"), "merge": _("Bodies merged into it"),
              "merged": _("Merged into another body"), "revoke": _("Revoked"), "import": _("First load"),
              "task_group": _("Task group set up"), "task_group_end": _("Task group ended")}
    return labels.get(change, change)


# ------------------------------------------------------------------------------------ applications


@login_required
def apply_setup(request: HttpRequest) -> HttpResponse:
    """设立申请: the lead department applies (through the approvals' generic apply view)."""
    from bianzhi.workflow.views import _apply

    return _apply(request, "body_setup", BodySetupForm, _("Set-up application of a coordinating body"))


@login_required
def apply_change(request: HttpRequest, pk: int, change: str) -> HttpResponse:
    """A change of an active body (rename, merge, revoke, duties, members), prefilled with its
    code; the kind's ``clean`` validates the code (check character), status and the rest."""
    from bianzhi.workflow.views import _apply

    kind = CHANGES.get(change)
    if kind is None:
        raise Http404
    body = selectors.get_body(actor=request.user, pk=pk)
    initial: dict[str, Any] = {"body": body.code}
    if kind == "body_duties":
        initial["duties"] = body.duties
    elif kind == "body_members":
        initial["members"] = list(body.members.filter(valid_to__isnull=True).values_list("unit_id", flat=True))
    handler = kind_for(kind)
    assert handler is not None
    return _apply(request, kind, CHANGE_FORMS[kind], f"{handler.label()} · {body.name}", initial=initial)


@login_required
def similar(request: HttpRequest) -> HttpResponse:
    """The most similar existing bodies of the jurisdiction (of the lead unit, if chosen) and of
    the level above, by name and duties, with scores: an htmx fragment of the set-up form."""
    actor: Any = request.user
    require(actor, "body.view")
    form = SimilarForm(request.GET)
    form.is_valid()
    d = getattr(form, "cleaned_data", {})
    name, duties, lead = d.get("name", ""), d.get("duties", ""), d.get("lead_unit", "")
    path = scope_of(actor).path
    if actor.is_unit_bound and actor.unit is not None:
        path = actor.unit.jurisdiction_path
    elif lead and lead.isdigit():
        unit = units_in_scope(actor=actor, status=UnitStatus.ACTIVE).filter(pk=int(lead)).first()
        path = unit.jurisdiction_path if unit is not None else path
    asked = bool(name.strip() or duties.strip())
    matches = selectors.similar_bodies(path=path, name=name, duties=duties) if asked else []
    threshold = selectors.similarity_threshold(path, _today())
    rows = [{"match": m, "close": m.score >= threshold, "percent": round(m.score * 100)} for m in matches]
    return render(request, "bodies/_similar.html", {"asked": asked, "rows": rows, "threshold": threshold})


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    """The set-up and change applications of the bodies of the user's jurisdiction."""
    actor: Any = request.user
    kinds = [(code, handler.label()) for code in CHANGE_KINDS if (handler := kind_for(code)) is not None]
    form = CaseFilterForm(request.GET, kinds=kinds)
    kind = form.value_of("kind")
    qs = cases_in_scope(actor=actor, status=form.value_of("status"), q=form.value_of("q"))
    qs = qs.filter(kind=kind) if kind else qs.filter(kind__in=CHANGE_KINDS)
    listing = Listing(request, qs.prefetch_related("steps"), sortable=CASE_SORTS, default_sort="-submitted")
    if listing.wants_export:
        labels = dict(kinds)
        columns = [Column(_("Case number"), 22), Column(_("Kind"), 18), Column(_("Title"), 40),
                   Column(_("Lead unit"), 30), Column(_("Applicant"), 14), Column(_("Status"), 10),
                   Column(_("Submitted at"), 18), Column(_("Decided at"), 18), Column(_("Result"), 40)]
        rows = ([c.number, labels.get(c.kind, c.kind), c.title, c.unit.name if c.unit else "", str(c.applicant),
                 str(CaseStatus(c.status).label), timezone.localtime(c.submitted_at).strftime("%Y-%m-%d %H:%M"),
                 timezone.localtime(c.decided_at).strftime("%Y-%m-%d %H:%M") if c.decided_at else "", c.result_ref]
                for c in listing.queryset.iterator(chunk_size=2000))
        return xlsx_response(_("Applications of coordinating bodies"), _("Applications of coordinating bodies"),
                             columns, rows, subtitle=_exported_on(actor))
    return render(request, "bodies/case_list.html", {
        "form": form, "listing": listing, "today": _today(), "can_apply": can(actor, "application.body"),
        "breadcrumbs": _crumbs((_("Applications"), None)),
    })


# ------------------------------------------------------------------------------------ first load (import)

from bianzhi.common.import_pages import ImportKind, import_page, import_report, import_template  # noqa: E402

BODY_IMPORT = ImportKind(
    kind="bodies", permission="body.import", run="bianzhi.bodies.importing.import_bodies",
    template="bianzhi.bodies.importing.template_bytes", title=gettext_lazy("Import coordinating bodies"),
    page="bodies:import", template_url="bodies:import_template", report_url="bodies:import_report",
    list_url="bodies:body_list", list_title=gettext_lazy("Registry of coordinating bodies"),
    section=gettext_lazy("Coordinating bodies"), key_label=gettext_lazy("Body code"),
    name_label=gettext_lazy("Body name"),
    intro=gettext_lazy("The first load of the existing bodies: one row per body. A body code kept when given "
                       "(its check character is verified), assigned when empty; bodies above the member cap are "
                       "accepted and raised as supervision alerts."))


@login_required
@require_http_methods(["GET", "POST"])
def body_import(request: HttpRequest) -> HttpResponse:
    return import_page(request, BODY_IMPORT)


@login_required
def body_import_report(request: HttpRequest) -> HttpResponse:
    return import_report(request, BODY_IMPORT)


@login_required
def body_import_template(request: HttpRequest) -> HttpResponse:
    return import_template(request, BODY_IMPORT, _("bodies-import-template"))
