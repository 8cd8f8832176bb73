"""The login policy: lock-out, password history and expiry, idle sessions, login audit events."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from bianzhi.accounts.models import LoginAttempt, PasswordHistory
from bianzhi.common.audit import verify_chain
from bianzhi.common.models import AuditEvent

from ..factories import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
WRONG = "Wrong-Passw0rd!"


def post_login(client, username: str, password: str):
    return client.post(reverse("accounts:login"), {"username": username, "password": password})


def alert(response) -> bytes:
    """The error box of the log-in page."""
    content = response.content
    start = content.find(b'<div class="alert')
    return content[start:content.find(b"</div>", start)] if start >= 0 else b""


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_five_failures_lock_even_against_the_right_password(client, world):
    for i in range(4):
        response = post_login(client, "th_admin", WRONG)
        assert response.status_code == 200 and b'data-testid="login-locked"' not in response.content, i
    response = post_login(client, "th_admin", WRONG)  # the 5th failure locks
    assert b'data-testid="login-locked"' in response.content
    attempt = LoginAttempt.objects.get(username="th_admin")
    assert attempt.failed_count == 5
    assert attempt.locked_until is not None
    assert attempt.locked_until - timezone.now() > dt.timedelta(minutes=settings.BIANZHI_LOCKOUT_MINUTES - 1)

    right = post_login(client, "th_admin", PASSWORD)  # the 6th, with the right password
    assert right.status_code == 200 and not logged_in(client)
    assert b'data-testid="login-locked"' in right.content
    wrong = post_login(client, "th_admin", WRONG)
    # The same answer whatever the password: nothing tells whether it was right.
    assert alert(right) == alert(wrong) and alert(right)
    assert client.login(username="th_admin", password=PASSWORD) is False  # any path through authenticate()
    attempt.refresh_from_db()
    assert attempt.failed_count == 5  # attempts during the lock neither count nor extend it


def test_after_the_lock_the_right_password_works_and_the_count_resets(client, world):
    for _ in range(5):
        post_login(client, "th_admin", WRONG)
    LoginAttempt.objects.filter(username="th_admin").update(locked_until=timezone.now() - dt.timedelta(seconds=1))
    response = post_login(client, "th_admin", PASSWORD)
    assert response.status_code == 302 and logged_in(client)
    assert not LoginAttempt.objects.filter(username="th_admin").exists()


def test_a_failure_after_the_lock_ran_out_counts_afresh(client, world):
    for _ in range(5):
        post_login(client, "th_admin", WRONG)
    LoginAttempt.objects.filter(username="th_admin").update(locked_until=timezone.now() - dt.timedelta(seconds=1))
    post_login(client, "th_admin", WRONG)
    attempt = LoginAttempt.objects.get(username="th_admin")
    assert attempt.failed_count == 1 and attempt.locked_until is None


def test_failures_count_per_user_name(client, world):
    for _ in range(4):
        post_login(client, "th_admin", WRONG)
    for _ in range(5):
        post_login(client, "th_reviewer", WRONG)
    for _ in range(5):
        post_login(client, "no_such_user", WRONG)  # unknown names lock too: nothing tells they do not exist
    assert LoginAttempt.objects.get(username="no_such_user").locked_until is not None
    response = post_login(client, "th_admin", PASSWORD)
    assert response.status_code == 302 and logged_in(client)


def test_a_success_resets_the_count(client, world):
    for _ in range(4):
        post_login(client, "th_admin", WRONG)
    assert post_login(client, "th_admin", PASSWORD).status_code == 302
    client.logout()
    post_login(client, "th_admin", WRONG)
    assert LoginAttempt.objects.get(username="th_admin").failed_count == 1


def test_login_events_are_audited_without_the_password(client, world):
    start = AuditEvent.objects.count()
    assert post_login(client, "th_admin", PASSWORD).status_code == 302
    client.post(reverse("accounts:logout"))
    for _ in range(5):
        post_login(client, "th_admin", WRONG)
    post_login(client, "th_admin", PASSWORD)  # refused during the lock
    post_login(client, "ghost", WRONG)
    events = list(AuditEvent.objects.order_by("seq")[start:])
    assert [e.action for e in events] == [
        "auth.login", "auth.logout",
        *["auth.login_failed"] * 5, "auth.locked",
        "auth.login_failed", "auth.login_failed",
    ]
    admin = world.users.tianhe_admin
    login, logout = events[0], events[1]
    assert login.actor_id == admin.pk and login.object_id == str(admin.pk)
    assert login.scope_path == admin.jurisdiction_path
    assert logout.actor_id == admin.pk
    assert events[6].after["failed_count"] == 5 and events[7].after["failed_count"] == 5
    assert events[8].after == {"username": "th_admin", "locked": True}
    assert events[9].object_repr == "ghost" and events[9].object_id == "" and events[9].actor_id is None
    assert events[9].scope_path == world.users.province_admin.jurisdiction_path
    for event in events:
        text = json.dumps([event.before, event.after, event.object_repr])
        assert PASSWORD not in text and WRONG not in text
    assert verify_chain().ok


def test_password_history_refuses_the_last_five(world):
    user = world.users.tianhe_reviewer
    passwords = [f"Hist-{i}-Passw0rd!" for i in range(6)]  # PASSWORD, then these six
    for p in passwords:
        validate_password(p, user)
        user.set_password(p)
        user.save()
    assert PasswordHistory.objects.filter(user=user).count() == 5  # only the newest five are kept
    for p in passwords[1:]:
        with pytest.raises(ValidationError) as exc:
            validate_password(p, user)
        assert exc.value.error_list[0].code == "password_reused"
    validate_password(passwords[0], user)  # the sixth back may come again
    validate_password(PASSWORD, user)


def test_password_change_page_refuses_a_reuse(client, world):
    user = world.users.tianhe_reviewer
    client.force_login(user)
    url = reverse("accounts:password_change")
    response = client.post(url, {"old_password": PASSWORD, "new_password1": PASSWORD, "new_password2": PASSWORD})
    assert response.status_code == 200 and b'data-testid="form-errors"' in response.content
    new = "Brand-New-Passw0rd!"
    response = client.post(url, {"old_password": PASSWORD, "new_password1": new, "new_password2": new})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new)
    assert AuditEvent.objects.filter(action="user.password_change", object_id=str(user.pk)).exists()
    assert logged_in(client)  # the session survives its own password change


def test_expired_password_leads_to_the_change_page(client, world):
    user = world.users.tianhe_reviewer
    client.force_login(user)
    workbench = reverse("common:workbench")
    assert client.get(workbench).status_code == 200  # default: passwords never expire
    with override_settings(BIANZHI_PASSWORD_MAX_AGE_DAYS=90):
        assert client.get(workbench).status_code == 200
        PasswordHistory.objects.filter(user=user).update(created_at=timezone.now() - dt.timedelta(days=91))
        response = client.get(workbench)
        assert response.status_code == 302 and response["Location"] == reverse("accounts:password_change")
        page = client.get(reverse("accounts:password_change"))
        assert page.status_code == 200 and b'data-testid="password-expired"' in page.content
        new = "Brand-New-Passw0rd!"
        client.post(reverse("accounts:password_change"),
                    {"old_password": PASSWORD, "new_password1": new, "new_password2": new})
        assert client.get(workbench).status_code == 200


def test_idle_session_expires(client, world):
    assert settings.SESSION_COOKIE_AGE == settings.BIANZHI_SESSION_IDLE_MINUTES * 60 == 30 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST
    assert client.login(username="th_reviewer", password=PASSWORD)
    workbench = reverse("common:workbench")
    assert client.get(workbench).status_code == 200
    key = client.session.session_key
    expiry = Session.objects.get(session_key=key).expire_date
    assert abs((expiry - timezone.now()) - dt.timedelta(minutes=30)) < dt.timedelta(minutes=1)

    # 29 minutes idle: still logged in, and the request pushes the expiry on.
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() + dt.timedelta(minutes=1))
    assert client.get(workbench).status_code == 200
    assert Session.objects.get(session_key=key).expire_date - timezone.now() > dt.timedelta(minutes=29)

    # 31 minutes idle: logged out.
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - dt.timedelta(minutes=1))
    response = client.get(workbench)
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)
