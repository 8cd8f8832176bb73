"""Pages of the shared kernel: the workbench and the audit log."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from bianzhi.accounts.permissions import can, require

from . import audit
from .exports import Column, xlsx_response
from .listing import Listing
from .selectors import audit_events_in_scope, get_audit_event, workbench_figures

# Labels of the audit actions and object types the pages know; unknown codes show as they are.
ACTION_LABELS: dict[str, Any] = {
    "user.create": _("Create user"),
    "user.activate": _("Activate user"),
    "user.deactivate": _("Deactivate user"),
    "user.password_change": _("Change password"),
    "auth.login": _("Log in"),
    "auth.login_failed": _("Failed log-in"),
    "auth.logout": _("Log out"),
    "auth.locked": _("Account locked"),
    "auth.totp_enrolled": _("Enrol second factor"),
    "auth.totp_verified": _("Second factor verified"),
    "auth.totp_failed": _("Wrong verification code"),
    "auth.totp_reset": _("Reset second factor"),
    "audit.export": _("Export audit log"),
    "audit.prune": _("Prune audit log"),
    "token.create": _("Create API token"),
    "token.revoke": _("Revoke API token"),
    "divisions.load": _("Load division tree"),
    "division.add": _("Add town or street"),
    "unit.set_up": _("Set up unit"),
    "unit.rename": _("Rename unit"),
    "unit.merge": _("Merge unit"),
    "unit.reparent": _("Move unit to a new parent"),
    "unit.abolish": _("Abolish unit"),
    "unit.import": _("Import units"),
    "establishment.set": _("Set establishment"),
    "person.create": _("Register person"),
    "person.reveal_id": _("View full ID number"),
    "person.reveal_ids_export": _("Export full ID numbers"),
    "pii.rotate": _("Re-encrypt personal data (key rotation)"),
}
OBJECT_TYPE_LABELS: dict[str, Any] = {
    "accounts.user": _("User"),
    "accounts.apitoken": _("API token"),
    "divisions.division": _("Division"),
    "orgs.unit": _("Unit"),
    "orgs.establishmentquota": _("Establishment"),
    "orgs.person": _("Person"),
}


def action_label(code: str) -> str:
    label = ACTION_LABELS.get(code)
    return str(label) if label is not None else code


def object_type_label(code: str) -> str:
    label = OBJECT_TYPE_LABELS.get(code)
    return str(label) if label is not None else code


# ----------------------------------------------------------------------------------------------
# Workbench


@login_required
def workbench(request: HttpRequest) -> HttpResponse:
    user = request.user
    today = timezone.localdate()
    figures = workbench_figures(actor=user, as_of=today)
    establishment_url = reverse("orgs:establishment_list")
    cards = [
        {
            "key": "units",
            "label": gettext("Units in scope"),
            "value": figures["units"],
            "url": reverse("orgs:unit_list"),
        },
        {
            "key": "approved",
            "label": gettext("Approved establishment"),
            "value": figures["approved"],
            "url": establishment_url,
        },
        {
            "key": "actual",
            "label": gettext("Actual headcount"),
            "value": figures["actual"],
            "url": establishment_url,
        },
        {
            "key": "vacancies",
            "label": gettext("Vacancies"),
            "value": figures["vacancies"],
            "url": f"{establishment_url}?problem=vacant",
        },
        {
            "key": "over_units",
            "label": gettext("Over-establishment units"),
            "value": figures["over_units"],
            "url": f"{establishment_url}?problem=over",
            "warn": figures["over_units"] > 0,
        },
    ]
    if "active_users" in figures:
        cards.append(
            {
                "key": "active_users",
                "label": gettext("Active users"),
                "value": figures["active_users"],
                "url": reverse("accounts:user_list"),
            }
        )
    events = []
    if can(user, "audit.view"):
        events = [
            {"event": e, "action": action_label(e.action)} for e in audit_events_in_scope(actor=user)[:8]
        ]
    shortcuts = [
        (gettext("Units"), reverse("orgs:unit_list")),
        (gettext("Establishment"), establishment_url),
        (gettext("Divisions"), reverse("divisions:division_list")),
    ]
    if can(user, "user.manage"):
        shortcuts += [
            (gettext("New user"), reverse("accounts:user_create")),
            (gettext("Users"), reverse("accounts:user_list")),
        ]
    if can(user, "audit.view"):
        shortcuts.append((gettext("Audit log"), reverse("common:audit_list")))
    from bianzhi.stats.alert_views import workbench_alerts

    return render(
        request,
        "common/workbench.html",
        {
            "today": today,
            "cards": cards,
            "alerts": workbench_alerts(user),
            "events": events,
            "can_audit": can(user, "audit.view"),
            "shortcuts": shortcuts,
            "figures": figures,
        },
    )


# ----------------------------------------------------------------------------------------------
# Audit log


class AuditFilterForm(forms.Form):
    action = forms.CharField(required=False, label=_("Action"), widget=forms.Select)
    actor = forms.CharField(required=False, max_length=150, label=_("Actor"))
    object_type = forms.CharField(required=False, label=_("Object type"), widget=forms.Select)
    date_from = forms.DateField(
        required=False, label=_("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(required=False, label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))
    q = forms.CharField(required=False, max_length=100, label=_("Object"))
    request = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        actions = [("", gettext("All actions")), *((k, str(v)) for k, v in ACTION_LABELS.items())]
        types = [("", gettext("All object types")), *((k, str(v)) for k, v in OBJECT_TYPE_LABELS.items())]
        # Keep a code that came in the URL selectable even when the page has no label for it.
        for name, choices in (("action", actions), ("object_type", types)):
            current = self.data.get(name, "")
            if current and current not in dict(choices):
                choices.append((current, current))
            self.fields[name].widget.choices = choices


AUDIT_SORTS = {
    "seq": "seq",
    "at": "at",
    "action": "action",
    "actor": "actor_username",
    "object_type": "object_type",
}


@login_required
def audit_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    require(user, "audit.view")
    form = AuditFilterForm(request.GET or None)
    data: dict[str, Any] = {}
    if form.is_bound:
        form.is_valid()  # a wrong field is shown next to it; the valid filters still apply
        data = form.cleaned_data
    params = {
        "action": data.get("action", "").strip(),
        "actor_name": data.get("actor", "").strip(),
        "object_type": data.get("object_type", "").strip(),
        "date_from": data.get("date_from"),
        "date_to": data.get("date_to"),
        "q": data.get("q", "").strip(),
        "request_id": data.get("request", "").strip(),
    }
    qs = audit_events_in_scope(actor=user, **params)
    listing = Listing(request, qs, sortable=AUDIT_SORTS, default_sort="-seq")
    if listing.wants_export:
        return _audit_export(listing)
    rows = [
        {"event": e, "action": action_label(e.action), "object_type": object_type_label(e.object_type)}
        for e in listing.page.object_list
    ]
    return render(
        request,
        "common/audit_list.html",
        {
            "form": form,
            "listing": listing,
            "rows": rows,
            "breadcrumbs": [(gettext("Audit log"), None)],
        },
    )


def _audit_export(listing: Listing) -> HttpResponse:
    columns = [
        Column(gettext("No."), 10, "int"),
        Column(gettext("Time"), 20),
        Column(gettext("Actor"), 16),
        Column(gettext("Action"), 18),
        Column(gettext("Action code"), 18),
        Column(gettext("Object type"), 14),
        Column(gettext("Object"), 36),
        Column(gettext("Object id"), 12),
        Column(gettext("Jurisdiction path"), 30),
        Column(gettext("IP address"), 16),
        Column(gettext("Request id"), 34),
    ]

    def rows():
        fields = (
            "seq",
            "at",
            "actor_username",
            "action",
            "object_type",
            "object_repr",
            "object_id",
            "scope_path",
            "ip",
            "request_id",
        )
        for seq, at, actor, action, otype, orepr, oid, path, ip, rid in listing.queryset.values_list(
            *fields
        ).iterator(chunk_size=2000):
            yield [
                seq,
                timezone.localtime(at).strftime("%Y-%m-%d %H:%M:%S"),
                actor,
                action_label(action),
                action,
                object_type_label(otype),
                orepr,
                oid,
                path,
                ip,
                rid,
            ]

    return xlsx_response(
        "audit",
        gettext("Audit log"),
        columns,
        rows(),
        subtitle=gettext("Exported on %(date)s") % {"date": timezone.localdate().isoformat()},
    )


def _pretty(value: Any) -> str:
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)


def _changes(before: Any, after: Any) -> list[dict[str, Any]]:
    """Field-by-field comparison when both sides are objects (the usual snapshot case)."""
    if not isinstance(before, dict) and not isinstance(after, dict):
        return []
    before = before if isinstance(before, dict) else {}
    after = after if isinstance(after, dict) else {}
    rows = []
    for key in sorted(set(before) | set(after)):
        b, a = before.get(key), after.get(key)
        rows.append(
            {
                "key": key,
                "before": "" if b is None else _compact(b),
                "after": "" if a is None else _compact(a),
                "changed": key in before and key in after and b != a,
                "added": key not in before,
            }
        )
    return rows


def _compact(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


@login_required
def audit_detail(request: HttpRequest, seq: int) -> HttpResponse:
    event = get_audit_event(actor=request.user, seq=seq)
    return render(
        request,
        "common/audit_detail.html",
        {
            "event": event,
            "action": action_label(event.action),
            "object_type": object_type_label(event.object_type),
            "before_json": _pretty(event.before),
            "after_json": _pretty(event.after),
            "changes": _changes(event.before, event.after),
            "hash_ok": audit.chain_hash(event.prev_hash, event) == event.hash,
            "breadcrumbs": [(gettext("Audit log"), reverse("common:audit_list")), (f"#{event.seq}", None)],
        },
    )
