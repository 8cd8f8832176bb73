"""Approval pages: 待办 / 已办 / 我的申请, all cases, the case page with the buttons the user
may press (nothing else), the applications, revisions, the printable 审批表 (PDF),
attachments, notifications and the processes. Views parse, call one service or selector,
render."""

from __future__ import annotations

import datetime as dt
from typing import Any

import yaml
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bianzhi.accounts.choices import Role
from bianzhi.accounts.permissions import can, require
from bianzhi.common.errors import BianzhiError
from bianzhi.common.exports import Column, xlsx_response
from bianzhi.common.exports import exported_on as _exported_on
from bianzhi.common.forms import add_service_errors
from bianzhi.common.listing import Listing
from bianzhi.common.scoping import scope_of
from bianzhi.funds.forms import FundingPlanApplicationForm
from bianzhi.orgs.choices import UnitStatus
from bianzhi.orgs.selectors import units_in_scope
from bianzhi.staffing import selectors as staffing_selectors

from . import selectors, services
from .choices import CaseStatus, EventKind
from .forms import (
    CapChangeApplicationForm,
    CaseFilterForm,
    DecisionForm,
    HireApplicationForm,
    ProcessForm,
    ResubmitNoteForm,
    WithdrawForm,
)
from .kinds import KINDS, kind_for
from .models import Attachment, Case

CASE_SORTS = {"number": "number", "submitted": "submitted_at", "status": "status", "unit": "unit__name"}


def _crumbs(*items: tuple[str, str | None]) -> list[tuple[str, str | None]]:
    return [(_("Approvals"), reverse("workflow:inbox")), *items]


def _today() -> dt.date:
    return timezone.localdate()


def _uploads(files: list[Any]) -> list[services.Upload]:
    return [services.Upload(f.name, f.read(), getattr(f, "content_type", "") or "") for f in files]


def _kind_choices() -> list[tuple[str, str]]:
    out = []
    for code in KINDS:
        handler = kind_for(code)
        if handler is not None:
            out.append((code, handler.label()))
    return out


# --------------------------------------------------------------------------- boxes


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    """待办: my pending steps, overdue ones first and marked."""
    actor: Any = request.user
    today = _today()
    steps = sorted(selectors.pending_steps(actor=actor, today=today),
                   key=lambda s: (not selectors.overdue(s, today), s.due_on, s.pk))
    rows = [{"step": s, "overdue": selectors.overdue(s, today)} for s in steps]
    unread = list(selectors.notifications_for(actor=actor, unread=True)[:20])
    return render(request, "workflow/inbox.html", {
        "rows": rows, "overdue_count": sum(r["overdue"] for r in rows), "unread": unread,
        "can_apply_hire": can(actor, "application.hire"), "can_apply_cap": can(actor, "application.cap_change"),
        "breadcrumbs": _crumbs((_("Pending"), None)),
    })


@login_required
def done(request: HttpRequest) -> HttpResponse:
    """已办: the steps I decided."""
    listing = Listing(request, selectors.done_steps(actor=request.user))
    return render(request, "workflow/done.html", {"listing": listing, "breadcrumbs": _crumbs((_("Done"), None))})


@login_required
def mine(request: HttpRequest) -> HttpResponse:
    """我的申请: the applications I submitted and where they are."""
    actor: Any = request.user
    listing = Listing(request, selectors.my_cases(actor=actor), sortable=CASE_SORTS, default_sort="-submitted")
    return render(request, "workflow/mine.html", {
        "listing": listing, "today": _today(), "can_apply_hire": can(actor, "application.hire"),
        "can_apply_cap": can(actor, "application.cap_change"), "breadcrumbs": _crumbs((_("My applications"), None)),
    })


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    """All cases of my jurisdiction, filtered, exportable."""
    actor: Any = request.user
    form = CaseFilterForm(request.GET, kinds=_kind_choices())
    qs = selectors.cases_in_scope(actor=actor, status=form.value_of("status"), kind=form.value_of("kind"),
                                  q=form.value_of("q"))
    listing = Listing(request, qs, sortable=CASE_SORTS, default_sort="-submitted")
    if listing.wants_export:
        kinds = dict(_kind_choices())
        columns = [Column(_("Case number"), 22), Column(_("Kind"), 18), Column(_("Title"), 40),
                   Column(_("Unit"), 30), Column(_("Applicant"), 14), Column(_("Status"), 10),
                   Column(_("Submitted at"), 18), Column(_("Decided at"), 18), Column(_("Result"), 24)]
        rows = ([c.number, kinds.get(c.kind, c.kind), c.title, c.unit.name if c.unit else "", str(c.applicant),
                 str(CaseStatus(c.status).label), timezone.localtime(c.submitted_at).strftime("%Y-%m-%d %H:%M"),
                 timezone.localtime(c.decided_at).strftime("%Y-%m-%d %H:%M") if c.decided_at else "", c.result_ref]
                for c in listing.queryset.iterator(chunk_size=2000))
        return xlsx_response(_("Approval cases"), _("Approval cases"), columns, rows, subtitle=_exported_on(actor))
    return render(request, "workflow/case_list.html", {
        "form": form, "listing": listing, "kinds": dict(_kind_choices()), "today": _today(),
        "breadcrumbs": _crumbs((_("All cases"), None)),
    })


# --------------------------------------------------------------------------- the case page


def _case_context(request: HttpRequest, case: Case, decision: DecisionForm | None = None) -> dict[str, Any]:
    actor: Any = request.user
    handler = kind_for(case.kind)
    allowed = selectors.allowed_for(actor, case)
    if decision is None and allowed.step is not None:
        decision = _decision_form(allowed, None, case=case)
    events = list(case.events.select_related("actor", "step").prefetch_related("attachments"))
    panels = handler.review(case, _today()) if handler is not None else []
    return {
        "case": case, "facts": handler.facts(case) if handler else [], "steps": selectors.process_view(case),
        "events": events, "allowed": allowed, "decision": decision, "withdraw_form": WithdrawForm(),
        "panels": [{"title": t, "mine": actor.role == role or actor.role == Role.DECISION_MAKER, "rows": rows}
                   for t, role, rows in panels],
        "kind_label": handler.label() if handler else case.kind, "today": _today(),
        "breadcrumbs": _crumbs((case.number, None)),
    }


def _decision_form(allowed: selectors.Allowed, data: Any, files: Any = None, *, case: Case) -> DecisionForm:
    """The decision form offers what the user may do now. When there is nothing left to do (the
    step was decided meanwhile, the case closed) a POST is parsed against every action, so that the
    service answers with its own code (``step_already_decided``, ``case_closed``). A kind may ask
    a decision for more than the opinion (``decision_fields``: e.g. why similar bodies do not bar
    a set-up); those values go to the service as ``extras``."""
    from .choices import RETURN_TO_APPLICANT, Action

    actions = [(a, Action(a).label) for a in allowed.actions]
    targets = allowed.return_targets
    if data is not None and allowed.step is None:
        actions = list(Action.choices)
        targets = [(data.get("return_to") or RETURN_TO_APPLICANT, "")]
    step = allowed.step.code if allowed.step else str((data or {}).get("step", ""))
    hook = getattr(kind_for(case.kind), "decision_fields", None)
    extra = hook(case=case, step=step) if hook is not None and step else []
    return DecisionForm(data, files, actions=actions, targets=targets, extra_fields=extra,
                        initial={"step": step, "action": "approve"})


@login_required
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    case = selectors.get_case(actor=request.user, pk=pk)
    services.notifications_read(actor=request.user, case_id=case.pk)
    return render(request, "workflow/case_detail.html", _case_context(request, case))


@login_required
@require_POST
def case_act(request: HttpRequest, pk: int) -> HttpResponse:
    actor: Any = request.user
    case = selectors.get_case(actor=actor, pk=pk)
    allowed = selectors.allowed_for(actor, case)
    form = _decision_form(allowed, request.POST, request.FILES, case=case)
    if form.is_valid():
        d = form.cleaned_data
        try:
            services.case_act(actor=actor, case_id=case.pk, step=d["step"], action=d["action"], opinion=d["opinion"],
                              return_to=d["return_to"], uploads=_uploads(d["attachments"]),
                              extras={name: d.get(name, "") for name in form.extra_names})
        except BianzhiError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Your decision on %(number)s is recorded.") % {"number": case.number})
            return redirect("workflow:case_detail", pk=case.pk)
    case.refresh_from_db()
    return render(request, "workflow/case_detail.html", _case_context(request, case, form), status=422)


@login_required
@require_POST
def case_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    actor: Any = request.user
    case = selectors.get_case(actor=actor, pk=pk)
    form = WithdrawForm(request.POST)
    form.is_valid()
    try:
        services.case_withdraw(actor=actor, case_id=case.pk, reason=form.cleaned_data.get("reason", ""))
    except BianzhiError as exc:
        for e in exc.errors:
            messages.error(request, e.message)
    else:
        messages.success(request, _("%(number)s is withdrawn.") % {"number": case.number})
    return redirect("workflow:case_detail", pk=case.pk)


@login_required
def case_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The approval form (审批表) as PDF: the application, every step and opinion, the result."""
    from bianzhi.documents.pdf import pdf_response, render_pdf

    case = selectors.get_case(actor=request.user, pk=pk)
    handler = kind_for(case.kind)
    steps = []
    for e in case.events.filter(kind__in=[EventKind.APPROVE, EventKind.RETURN, EventKind.REJECT]).select_related(
            "step", "actor").prefetch_related("attachments"):
        assert e.step is not None
        steps.append({"stage": _stage_name(case, e.step.stage_index), "name": e.step.name,
                      "department": e.step.department, "action_label": str(EventKind(e.kind).label),
                      "opinion": e.opinion, "actor": str(e.actor) if e.actor else "",
                      "acted_on": timezone.localdate(e.at), "attachments": [a.filename for a in e.attachments.all()]})
    title = _("%(kind)s approval form") % {"kind": handler.label() if handler else case.kind}
    form = {
        "title": title, "number": case.number, "jurisdiction": case.jurisdiction.name,
        "status_label": str(CaseStatus(case.status).label),
        "facts": [(_("Case number"), case.number), (_("Applicant"), str(case.applicant)),
                  (_("Submitted at"), timezone.localtime(case.submitted_at).strftime("%Y-%m-%d %H:%M")),
                  *(handler.facts(case) if handler else [])],
        "steps": steps, "result": case.result_ref, "printed_on": _today(),
    }
    pdf = render_pdf("workflow/approval_form_pdf.html", {"form": form}, request=request)
    return pdf_response(pdf, f"{case.number}-{title}.pdf")


def _stage_name(case: Case, index: int) -> str:
    stages = case.process.definition.get("stages", [])
    return stages[index]["name"] if 0 <= index < len(stages) else ""


@login_required
def attachment(request: HttpRequest, pk: int, attachment_id: int) -> FileResponse:
    case = selectors.get_case(actor=request.user, pk=pk)
    found = Attachment.objects.filter(case=case, pk=attachment_id).first()
    if found is None:
        raise Http404
    path = services.attachment_path(found.sha256)
    if not path.exists():
        raise Http404
    return FileResponse(open(path, "rb"), as_attachment=True, filename=found.filename,
                        content_type=found.content_type or "application/octet-stream")


# --------------------------------------------------------------------------- applications


def _apply(request: HttpRequest, kind: str, form_class: Any, title: str, *, case: Case | None = None,
           initial: dict[str, Any] | None = None) -> HttpResponse:
    """The generic application page of a kind: ``form_class`` parses (``data_for_service``), the
    kind's ``clean`` decides. A form class may name its own page (``apply_template``); ``initial``
    prefills a new application (e.g. the code of the body a change applies to)."""
    actor: Any = request.user
    handler = kind_for(kind)
    assert handler is not None
    require(actor, handler.permission)
    rules = staffing_selectors.ruleset_for(scope_of(actor).path, _today())
    units = None if actor.is_unit_bound or case is not None else units_in_scope(actor=actor, status=UnitStatus.ACTIVE)
    initial = dict(initial or {})
    if case is not None:
        initial = {**case.payload, "post_names": "\n".join(case.payload.get("post_names", []))}
    elif units is not None and request.GET.get("unit", "").isdigit():
        initial["unit"] = request.GET["unit"]
    posted = request.method == "POST"
    form = form_class(request.POST if posted else None, request.FILES if posted else None, initial=initial,
                      rules=rules, units=units)
    note = ResubmitNoteForm(request.POST if posted else None) if case is not None else None
    if request.method == "POST" and form.is_valid() and (note is None or note.is_valid()):
        uploads = _uploads(form.cleaned_data.get("attachments", []))
        try:
            if case is None:
                done_case = services.case_submit(actor=actor, kind=kind, data=form.data_for_service(),
                                                 uploads=uploads)
                messages.success(request, _("%(number)s is submitted.") % {"number": done_case.number})
            else:
                assert note is not None
                done_case = services.case_resubmit(actor=actor, case_id=case.pk, data=form.data_for_service(),
                                                   note=note.cleaned_data["note"], uploads=uploads)
                messages.success(request, _("%(number)s is revised and resubmitted.") % {"number": case.number})
        except BianzhiError as exc:
            add_service_errors(form, exc)
        else:
            return redirect("workflow:case_detail", pk=done_case.pk)
    return render(request, getattr(form_class, "apply_template", "workflow/apply.html"), {
        "form": form, "note": note, "title": title, "case": case, "kind": kind,
        "breadcrumbs": _crumbs(*(((case.number, reverse("workflow:case_detail", args=[case.pk])),) if case else ()),
                               (title, None)),
    }, status=422 if request.method == "POST" else 200)


@login_required
def apply_hire(request: HttpRequest) -> HttpResponse:
    return _apply(request, "hire", HireApplicationForm, _("Hire application"))


@login_required
def apply_cap(request: HttpRequest) -> HttpResponse:
    return _apply(request, "cap_change", CapChangeApplicationForm, _("Cap change application"))


@login_required
def case_revise(request: HttpRequest, pk: int) -> HttpResponse:
    actor: Any = request.user
    case = selectors.get_case(actor=actor, pk=pk)
    allowed = selectors.allowed_for(actor, case)
    if not allowed.can_revise:
        raise Http404
    from bianzhi.bodies.forms import APPLICATION_FORMS as BODY_FORMS

    form_class = {"hire": HireApplicationForm, "cap_change": CapChangeApplicationForm,
                  "funding_plan": FundingPlanApplicationForm, **BODY_FORMS}.get(case.kind)
    if form_class is None:
        raise Http404
    return _apply(request, case.kind, form_class, _("Revise and resubmit"), case=case)


# --------------------------------------------------------------------------- notifications


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        services.notifications_read(actor=request.user)
        return redirect("workflow:notifications")
    listing = Listing(request, selectors.notifications_for(actor=request.user))
    return render(request, "workflow/notifications.html", {
        "listing": listing, "breadcrumbs": _crumbs((_("Notifications"), None))})


# --------------------------------------------------------------------------- processes


@login_required
def process_list(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    processes = selectors.processes_in_force(actor=actor)
    from .models import CalendarDay

    days = CalendarDay.objects.filter(day__year__gte=_today().year - 1)
    return render(request, "workflow/process_list.html", {
        "processes": processes, "days": days, "can_change": can(actor, "process.change"),
        "roles": dict(Role.choices), "breadcrumbs": [(_("System administration"), None), (_("Processes"), None)],
    })


@login_required
def process_edit(request: HttpRequest, code: str) -> HttpResponse:
    """A version of a process for my own jurisdiction, edited as YAML text."""
    actor: Any = request.user
    require(actor, "process.change")
    if kind_for(code) is None or actor.jurisdiction is None:
        raise Http404
    current = services.process_for(code, actor.jurisdiction.path)
    if current is None:
        raise Http404
    initial = {"name": current.name, "source_document": "",
               "definition": yaml.safe_dump(current.definition, allow_unicode=True, sort_keys=False, width=110)}
    form = ProcessForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            new = services.process_define(actor=actor, code=code, jurisdiction=actor.jurisdiction.code,
                                          definition=d["definition"], name=d["name"],
                                          source_document=d["source_document"])
        except BianzhiError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("%(name)s version %(version)s of %(jurisdiction)s is in force for new "
                                        "applications.") % {"name": new.name, "version": new.version,
                                                            "jurisdiction": actor.jurisdiction.name})
            return redirect("workflow:process_list")
    return render(request, "workflow/process_edit.html", {
        "form": form, "current": current, "jurisdiction": actor.jurisdiction,
        "breadcrumbs": [(_("System administration"), None), (_("Processes"), reverse("workflow:process_list")),
                        (current.name, None)],
    }, status=422 if request.method == "POST" else 200)


