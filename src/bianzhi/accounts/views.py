"""Account pages: log in and out, users of my jurisdiction, new user, activate / deactivate,
my personal API tokens."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from bianzhi.common.errors import BianzhiError
from bianzhi.common.exports import Column, xlsx_response
from bianzhi.common.forms import add_service_errors
from bianzhi.common.listing import Listing
from bianzhi.common.selectors import audit_events_in_scope
from bianzhi.common.views import action_label
from bianzhi.divisions.selectors import divisions_in_scope

from . import services, totp
from .choices import Role
from .errors import ACCOUNT_LOCKED
from .forms import LoginForm, TokenCreateForm, TotpCodeForm, UserCreateForm, UserFilterForm
from .models import TotpDevice, User
from .permissions import can, require
from .selectors import get_user, users_in_scope


class LoginView(auth_views.LoginView):
    """The password step. A user with a second factor, or whose role requires one, is not
    logged in here: the session keeps a short-lived pending state and the code page (or the
    enrolment page) follows; see accounts.totp."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True
    authentication_form = LoginForm

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.get_user()
        stage = totp.stage_for(user)
        if stage is None:
            return super().form_valid(form)
        totp.set_pending(self.request, user, stage, self.get_success_url())
        return redirect("accounts:login_totp" if stage == "verify" else "accounts:login_totp_enrol")


login = LoginView.as_view()
logout = auth_views.LogoutView.as_view()  # POST only (Django 5)

USER_SORTS = {
    "username": "username",
    "name": "display_name",
    "role": "role",
    "jurisdiction": "jurisdiction_path",
    "last_login": "last_login",
}


@login_required
def user_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    require(user, "user.manage")
    form = UserFilterForm(request.GET or None)
    data: dict[str, Any] = {}
    if form.is_bound:
        form.is_valid()  # a wrong field is shown next to it; the valid filters still apply
        data = form.cleaned_data
    q, role, status = data.get("q", "").strip(), data.get("role", ""), data.get("status", "")
    qs = users_in_scope(actor=user, q=q, role=role)
    if status:
        qs = qs.filter(is_active=status == "active")
    listing = Listing(request, qs, sortable=USER_SORTS)
    if listing.wants_export:
        return _user_export(listing)
    return render(
        request,
        "accounts/user_list.html",
        {
            "form": form,
            "listing": listing,
            "breadcrumbs": [(gettext("Users"), None)],
        },
    )


def _user_export(listing: Listing) -> HttpResponse:
    columns = [
        Column(gettext("User name"), 16),
        Column(gettext("Full name"), 12),
        Column(gettext("Role"), 14),
        Column(gettext("Jurisdiction code"), 12),
        Column(gettext("Jurisdiction"), 14),
        Column(gettext("Unit"), 28),
        Column(gettext("Unified social credit code"), 22),
        Column(gettext("Status"), 8),
        Column(gettext("Last login"), 18),
    ]
    rows = (
        [
            u.username,
            u.display_name,
            u.role_label,
            u.jurisdiction.code if u.jurisdiction else "",
            u.jurisdiction.name if u.jurisdiction else "",
            u.unit.name if u.unit else "",
            u.unit.uscc if u.unit else "",
            gettext("Enabled") if u.is_active else gettext("Deactivated"),
            timezone.localtime(u.last_login).strftime("%Y-%m-%d %H:%M") if u.last_login else "",
        ]
        for u in listing.queryset.iterator(chunk_size=2000)
    )
    return xlsx_response("users", gettext("Users"), columns, rows)


@login_required
def user_create(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "user.manage")
    divisions = divisions_in_scope(actor=actor)
    form = UserCreateForm(request.POST or None, divisions=divisions)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            new_user = services.user_create(
                actor=actor,
                username=data["username"],
                role=data["role"],
                jurisdiction=data["jurisdiction"],
                password=data["password"],
                unit=data["unit"].strip() or None,
                display_name=data["display_name"],
            )
        except BianzhiError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, gettext("User %(name)s created.") % {"name": new_user.username})
            return redirect("accounts:user_detail", pk=new_user.pk)
    return render(
        request,
        "accounts/user_form.html",
        {
            "form": form,
            "unit_operator": Role.UNIT_OPERATOR,
            "breadcrumbs": [(gettext("Users"), reverse("accounts:user_list")), (gettext("New user"), None)],
        },
    )


@login_required
def user_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    subject = get_user(actor=actor, pk=pk)
    events = []
    if can(actor, "audit.view"):
        events = [
            {"event": e, "action": action_label(e.action)}
            for e in audit_events_in_scope(
                actor=actor, object_type="accounts.user", object_id=str(subject.pk)
            )[:20]
        ]
    return render(
        request,
        "accounts/user_detail.html",
        {
            "subject": subject,
            "events": events,
            "is_self": subject.pk == actor.pk,
            "totp_device": TotpDevice.objects.filter(user=subject).first(),
            "totp_required": totp.is_required(subject),
            "breadcrumbs": [(gettext("Users"), reverse("accounts:user_list")), (subject.username, None)],
        },
    )


@login_required
@require_POST
def user_set_active(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    subject = get_user(actor=actor, pk=pk)
    active = request.POST.get("active") == "1"
    try:
        services.user_set_active(actor=actor, user_id=subject.pk, active=active)
    except BianzhiError as exc:
        for error in exc.errors:
            messages.error(request, error.message)
    else:
        text = gettext("User %(name)s activated.") if active else gettext("User %(name)s deactivated.")
        messages.success(request, text % {"name": subject.username})
    return redirect("accounts:user_detail", pk=subject.pk)


@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    """My API tokens, and a form for a new one; its plaintext is shown on this answer only."""
    actor = request.user
    assert isinstance(actor, User)  # login_required
    form = TokenCreateForm(request.POST or None)
    plaintext = None
    if request.method == "POST" and form.is_valid():
        try:
            _token, plaintext = services.token_create(
                actor=actor, user=actor, name=form.cleaned_data["name"], days=form.cleaned_data["days"] or None
            )
        except BianzhiError as exc:
            add_service_errors(form, exc)
        else:
            form = TokenCreateForm()
    tokens = services.tokens_visible_to(actor).filter(user=actor)
    response = render(
        request,
        "accounts/token_list.html",
        {
            "form": form, "tokens": tokens, "plaintext": plaintext, "now": timezone.now(),
            "breadcrumbs": [(gettext("API tokens"), None)],
        },
    )
    if plaintext:
        response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    token = get_object_or_404(services.tokens_visible_to(actor), pk=pk)
    try:
        services.token_revoke(actor=actor, token_id=token.pk)
    except BianzhiError as exc:
        for error in exc.errors:
            messages.error(request, error.message)
    else:
        messages.success(request, gettext("Token %(prefix)s revoked.") % {"prefix": token.prefix})
    return redirect("accounts:token_list")


class PasswordChangeView(auth_views.PasswordChangeView):
    """Change my password (old one, new one twice); where an expired password leads."""

    template_name = "registration/password_change_form.html"

    def get_success_url(self) -> str:
        return reverse("common:workbench")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        from .login_policy import password_expired

        context = super().get_context_data(**kwargs)
        context["expired"] = password_expired(self.request.user)
        context["breadcrumbs"] = [(gettext("Change password"), None)]
        return context

    def form_valid(self, form: Any) -> HttpResponse:
        from django.db import transaction

        from bianzhi.common import audit

        with transaction.atomic():
            response = super().form_valid(form)
            user = form.user
            audit.record(user, audit.entry_for("user.password_change", user, scope_path=user.jurisdiction_path))
        messages.success(self.request, gettext("Your password has been changed."))
        return response


password_change = PasswordChangeView.as_view()


# ---------------------------------------------------------------------------------------------
# The second factor


def _restart_login(request: HttpRequest) -> HttpResponse:
    messages.error(request, gettext("The log-in timed out or was interrupted; please log in again."))
    return redirect("accounts:login")


def _complete_login(request: HttpRequest, pending: totp.Pending, device: TotpDevice) -> HttpResponse:
    """The second factor is verified: log in now, and mark the session with its device."""
    totp.clear_pending(request)
    auth_login(request, pending.user, backend=pending.backend or None)
    request.session[totp.SESSION_DEVICE_KEY] = device.pk
    return redirect(pending.next_url or "/")


def _code_refused(request: HttpRequest, form: TotpCodeForm, exc: BianzhiError) -> HttpResponse | None:
    """A locked user name ends the pending log-in (back to the log-in page, saying so)."""
    if ACCOUNT_LOCKED in exc.codes:
        totp.clear_pending(request)
        messages.error(request, exc.errors[0].message)
        return redirect("accounts:login")
    add_service_errors(form, exc)
    return None


def login_totp(request: HttpRequest) -> HttpResponse:
    """The second step of a log-in: the 6-digit code of the user's authenticator app."""
    pending = totp.get_pending(request)
    if pending is None or pending.stage != "verify":
        return _restart_login(request)
    form = TotpCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = services.totp_verify(user=pending.user, code=form.cleaned_data["code"])
        except BianzhiError as exc:
            answer = _code_refused(request, form, exc)
            if answer is not None:
                return answer
        else:
            return _complete_login(request, pending, device)
    response = render(request, "accounts/totp_verify.html", {"form": form, "subject": pending.user})
    response["Cache-Control"] = "no-store"
    return response


def login_totp_enrol(request: HttpRequest) -> HttpResponse:
    """Enrolment during the log-in of a user whose role requires a second factor: nothing else
    can be reached before the first code from the app is accepted."""
    pending = totp.get_pending(request)
    if pending is None or pending.stage != "enrol":
        return _restart_login(request)
    if totp.confirmed_device(pending.user) is not None:  # enrolled meanwhile (another browser)
        totp.update_pending_stage(request, "verify")
        return redirect("accounts:login_totp")
    form = TotpCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = services.totp_enrol_confirm(user=pending.user, code=form.cleaned_data["code"],
                                                 during_login=True)
        except BianzhiError as exc:
            answer = _code_refused(request, form, exc)
            if answer is not None:
                return answer
        else:
            messages.success(request, gettext("Second factor enrolled."))
            return _complete_login(request, pending, device)
    secret, uri = services.totp_enrolment_start(user=pending.user)
    return _enrol_page(request, form, pending.user, secret, uri, during_login=True)


def _enrol_page(request: HttpRequest, form: TotpCodeForm, subject: User, secret: str, uri: str, *,
                during_login: bool) -> HttpResponse:
    response = render(request, "accounts/totp_enrol.html", {
        "form": form, "subject": subject, "secret": totp.grouped(secret), "uri": uri,
        "during_login": during_login, "required": totp.is_required(subject),
        "breadcrumbs": [] if during_login else [(gettext("Second factor"), None)],
    })
    response["Cache-Control"] = "no-store"  # the secret must not stay in a cache
    return response


@login_required
def totp_page(request: HttpRequest) -> HttpResponse:
    """My second factor: its state, or the enrolment (start, then confirm with a first code)."""
    actor = request.user
    assert isinstance(actor, User)  # login_required
    device = TotpDevice.objects.filter(user=actor).first()
    if device is not None and device.confirmed_at is not None:
        return render(request, "accounts/totp_status.html", {
            "device": device, "required": totp.is_required(actor),
            "breadcrumbs": [(gettext("Second factor"), None)],
        })
    form = TotpCodeForm(request.POST or None)
    started = device is not None
    if request.method == "POST":
        if request.POST.get("action") == "start":
            started = True
            form = TotpCodeForm()
        elif form.is_valid():
            try:
                device = services.totp_enrol_confirm(user=actor, code=form.cleaned_data["code"], during_login=False)
            except BianzhiError as exc:
                add_service_errors(form, exc)
            else:
                request.session[totp.SESSION_DEVICE_KEY] = device.pk
                messages.success(request, gettext("Second factor enrolled."))
                return redirect("accounts:totp")
    if not started and not totp.is_required(actor):
        return render(request, "accounts/totp_status.html", {
            "device": None, "required": False, "breadcrumbs": [(gettext("Second factor"), None)],
        })
    secret, uri = services.totp_enrolment_start(user=actor)
    return _enrol_page(request, form, actor, secret, uri, during_login=False)


@login_required
@require_POST
def user_totp_reset(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    subject = get_user(actor=actor, pk=pk)
    try:
        services.totp_reset(actor=actor, user_id=subject.pk)
    except BianzhiError as exc:
        for error in exc.errors:
            messages.error(request, error.message)
    else:
        messages.success(request, gettext("The second factor of %(name)s was reset.") % {"name": subject.username})
    return redirect("accounts:user_detail", pk=subject.pk)
