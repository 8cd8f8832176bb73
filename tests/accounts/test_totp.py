"""The second factor: TOTP codes (RFC 6238) after the password, required of some roles.

Codes are made with pyotp from the secret the enrolment page shows, exactly as an
authenticator app would; the clock of ``bianzhi.accounts.totp`` is set by the tests so that
codes of chosen time steps can be used and replayed.
"""

from __future__ import annotations

import io
import re

import pyotp
import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import reverse

from bianzhi.accounts import services, totp
from bianzhi.accounts.errors import (
    ACCOUNT_LOCKED,
    TOTP_ALREADY_ENROLLED,
    TOTP_INVALID,
    TOTP_NOT_ENROLLED,
    TOTP_NOT_STARTED,
    TOTP_REPLAYED,
)
from bianzhi.accounts.models import LoginAttempt, TotpDevice
from bianzhi.common.audit import verify_chain
from bianzhi.common.errors import NOT_FOUND, BianzhiError
from bianzhi.common.models import AuditEvent

from ..factories import PASSWORD

pytestmark = pytest.mark.django_db

REQUIRED = override_settings(BIANZHI_TOTP_REQUIRED_ROLES="decision_maker,administrator")
T0 = 1_900_000_000.0  # a fixed instant (2030), in the middle of a 30-second step
WRONG = "Wrong-Passw0rd!"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now

    def step(self, n: int = 1) -> None:
        self.now += 30 * n


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(totp, "clock", fake)
    return fake


def code_at(secret: str, instant: float) -> str:
    return pyotp.TOTP(secret).at(int(instant))


def wrong_code(secret: str, instant: float) -> str:
    right = {pyotp.TOTP(secret).at(int(instant) + 30 * k) for k in (-1, 0, 1)}
    return next(c for c in (f"{n:06d}" for n in range(1000)) if c not in right)


def enrol(user, clock: Clock) -> str:
    """Enrol through the services at the clock's step; the next usable code is of the next step."""
    secret, _uri = services.totp_enrolment_start(user=user)
    services.totp_enrol_confirm(user=user, code=code_at(secret, clock.now), during_login=False)
    clock.step()
    return secret


def post_password(client: Client, username: str, password: str = PASSWORD, next_url: str = ""):
    data = {"username": username, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post(reverse("accounts:login"), data)


def post_code(client: Client, code: str, url: str = "accounts:login_totp"):
    return client.post(reverse(url), {"code": code})


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def actions_since(start: int) -> list[str]:
    return list(AuditEvent.objects.filter(seq__gt=start).order_by("seq").values_list("action", flat=True))


def last_seq() -> int:
    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


# ---------------------------------------------------------------------------------------------
# The secret at rest


def test_the_secret_is_stored_sm4_encrypted_and_bound_to_its_user(world, clock):
    user = world.users.tianhe_reviewer
    secret, uri = services.totp_enrolment_start(user=user)
    device = TotpDevice.objects.get(user=user)
    assert secret not in device.secret and device.secret.startswith("sm4gcm1:")
    assert uri.startswith("otpauth://totp/") and f"secret={secret}" in uri and "th_reviewer" in uri
    assert totp.decrypt_secret(device.secret, user.pk).secret == secret
    with pytest.raises(totp.SecretUnreadable):  # copied to another user's row, it does not decrypt
        totp.decrypt_secret(device.secret, world.users.tianhe_admin.pk)
    tampered = device.secret[:-6] + ("A" if device.secret[-6] != "A" else "B") + device.secret[-5:]
    with pytest.raises(totp.SecretUnreadable):
        totp.decrypt_secret(tampered, user.pk)
    # A reload of the enrolment shows the same secret, not a new one.
    assert services.totp_enrolment_start(user=user)[0] == secret


def test_a_secret_under_an_older_key_still_works_and_is_re_encrypted(world, clock, settings):
    user = world.users.tianhe_reviewer
    settings.BIANZHI_PII_KEY = ""
    secret = enrol(user, clock)  # under the key derived from SECRET_KEY
    old_kid = totp.key_id_of(TotpDevice.objects.get(user=user).secret)
    settings.BIANZHI_PII_KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
    assert totp.current_key_id() != old_kid
    services.totp_verify(user=user, code=code_at(secret, clock.now))
    assert totp.key_id_of(TotpDevice.objects.get(user=user).secret) == totp.current_key_id()


def test_totp_rekey_re_encrypts_every_secret_under_the_current_key(world, clock, settings):
    settings.BIANZHI_PII_KEY = ""
    enrol(world.users.tianhe_reviewer, clock)
    enrol(world.users.tianhe_admin, clock)
    settings.BIANZHI_PII_KEY = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
    out = io.StringIO()
    call_command("user", "totp-rekey", stdout=out)
    kids = {totp.key_id_of(s) for s in TotpDevice.objects.values_list("secret", flat=True)}
    assert kids == {totp.current_key_id()}
    assert AuditEvent.objects.filter(action="auth.totp_rekey", after__reencrypted=2).exists()


# ---------------------------------------------------------------------------------------------
# Services: each error code and its audit row


def test_enrolment_service_errors_and_audit(world, clock):
    user = world.users.tianhe_reviewer
    with pytest.raises(BianzhiError) as exc:
        services.totp_enrol_confirm(user=user, code="123456", during_login=False)
    assert exc.value.codes == [TOTP_NOT_STARTED]
    secret, _uri = services.totp_enrolment_start(user=user)
    start = last_seq()
    with pytest.raises(BianzhiError) as exc:
        services.totp_enrol_confirm(user=user, code=wrong_code(secret, clock.now), during_login=False)
    assert exc.value.codes == [TOTP_INVALID]
    assert not LoginAttempt.objects.filter(username=user.username).exists()  # logged in: not counted
    services.totp_enrol_confirm(user=user, code=code_at(secret, clock.now), during_login=False)
    assert actions_since(start) == ["auth.totp_failed", "auth.totp_enrolled"]
    failed = AuditEvent.objects.get(seq=start + 1)
    assert failed.after["stage"] == "enrol" and failed.after["reason"] == "invalid"
    assert secret not in str(failed.after) and failed.scope_path == user.jurisdiction_path
    with pytest.raises(BianzhiError) as exc:
        services.totp_enrolment_start(user=user)
    assert exc.value.codes == [TOTP_ALREADY_ENROLLED]
    assert verify_chain().ok


def test_verify_service_refuses_wrong_and_replayed_codes(world, clock):
    user = world.users.tianhe_reviewer
    with pytest.raises(BianzhiError) as exc:
        services.totp_verify(user=user, code="123456")
    assert exc.value.codes == [TOTP_NOT_ENROLLED]
    secret = enrol(user, clock)
    start = last_seq()
    code = code_at(secret, clock.now)
    services.totp_verify(user=user, code=code)
    with pytest.raises(BianzhiError) as exc:  # the same code again, within its window
        services.totp_verify(user=user, code=code)
    assert exc.value.codes == [TOTP_REPLAYED]
    with pytest.raises(BianzhiError) as exc:  # the code of the step before: older than the last one used
        services.totp_verify(user=user, code=code_at(secret, clock.now - 30))
    assert exc.value.codes == [TOTP_REPLAYED]
    with pytest.raises(BianzhiError) as exc:
        services.totp_verify(user=user, code=wrong_code(secret, clock.now))
    assert exc.value.codes == [TOTP_INVALID]
    clock.step()
    services.totp_verify(user=user, code=code_at(secret, clock.now))  # the next step's code works
    assert actions_since(start) == [
        "auth.totp_verified", "auth.totp_failed", "auth.totp_failed", "auth.totp_failed", "auth.totp_verified",
    ]
    reasons = [e.after["reason"] for e in AuditEvent.objects.filter(seq__gt=start, action="auth.totp_failed")
               .order_by("seq")]
    assert reasons == ["replayed", "replayed", "invalid"]
    assert LoginAttempt.objects.get(username=user.username).failed_count == 3


def test_codes_of_the_neighbouring_steps_are_accepted_for_clock_drift(world, clock):
    user = world.users.tianhe_reviewer
    secret = enrol(user, clock)
    clock.step()
    services.totp_verify(user=user, code=code_at(secret, clock.now - 30))  # phone 30 s late
    clock.step(3)
    services.totp_verify(user=user, code=code_at(secret, clock.now + 30))  # phone 30 s early
    clock.step(3)
    with pytest.raises(BianzhiError):
        services.totp_verify(user=user, code=code_at(secret, clock.now + 90))  # too far off


def test_reset_service_is_for_administrators_of_the_users_jurisdiction(world, clock):
    from django.core.exceptions import PermissionDenied

    subject = world.users.tianhe_reviewer
    enrol(subject, clock)
    with pytest.raises(PermissionDenied):
        services.totp_reset(actor=world.users.tianhe_supervisor, user_id=subject.pk)
    with pytest.raises(BianzhiError) as exc:  # 越秀区's reviewer is outside 天河区's administrator's scope
        services.totp_reset(actor=world.users.tianhe_admin, user_id=world.users.yuexiu_reviewer.pk)
    assert exc.value.codes == [NOT_FOUND]
    start = last_seq()
    services.totp_reset(actor=world.users.tianhe_admin, user_id=subject.pk)
    assert not TotpDevice.objects.filter(user=subject).exists()
    event = AuditEvent.objects.get(seq=start + 1)
    assert (event.action, event.actor_id, event.object_id) == ("auth.totp_reset", world.users.tianhe_admin.pk,
                                                                str(subject.pk))
    assert event.before["enrolled_at"] and event.scope_path == subject.jurisdiction_path
    with pytest.raises(BianzhiError) as exc:
        services.totp_reset(actor=world.users.tianhe_admin, user_id=subject.pk)
    assert exc.value.codes == [TOTP_NOT_ENROLLED]


# ---------------------------------------------------------------------------------------------
# The log-in pages


def test_password_then_code_logs_in_and_not_before(client, world, clock):
    user = world.users.tianhe_reviewer
    secret = enrol(user, clock)
    start = last_seq()
    response = post_password(client, user.username, next_url="/orgs/units/")
    assert response.status_code == 302 and response["Location"] == reverse("accounts:login_totp")
    assert not logged_in(client)
    assert client.get("/").status_code == 302 and not logged_in(client)  # no page before the code
    page = client.get(reverse("accounts:login_totp"))
    assert page.status_code == 200 and 'data-testid="totp-form"' in page.content.decode()
    assert page["Cache-Control"] == "no-store"

    response = post_code(client, wrong_code(secret, clock.now))
    assert response.status_code == 200 and not logged_in(client)
    assert TOTP_INVALID in [e.code for e in response.context["form"].errors.as_data()["code"]]

    response = post_code(client, code_at(secret, clock.now))
    assert response.status_code == 302 and response["Location"] == "/orgs/units/"
    assert logged_in(client) and int(client.session["_auth_user_id"]) == user.pk
    assert client.session[totp.SESSION_DEVICE_KEY] == TotpDevice.objects.get(user=user).pk
    assert totp.PENDING_KEY not in client.session
    assert client.get("/").status_code == 200
    assert actions_since(start) == ["auth.totp_failed", "auth.totp_verified", "auth.login"]
    assert not LoginAttempt.objects.filter(username=user.username).exists()  # the log-in reset the count


def test_a_code_cannot_be_replayed_for_a_second_log_in(world, clock):
    user = world.users.tianhe_reviewer
    secret = enrol(user, clock)
    code = code_at(secret, clock.now)
    first = Client()
    post_password(first, user.username)
    assert post_code(first, code).status_code == 302 and logged_in(first)

    second = Client()  # someone who saw the code, within its 30 seconds
    post_password(second, user.username)
    response = post_code(second, code)
    assert response.status_code == 200 and not logged_in(second)
    assert [e.code for e in response.context["form"].errors.as_data()["code"]] == [TOTP_REPLAYED]
    clock.step()
    assert post_code(second, code_at(secret, clock.now)).status_code == 302 and logged_in(second)


def test_wrong_codes_count_towards_the_lock_out(client, world, clock):
    user = world.users.tianhe_reviewer
    secret = enrol(user, clock)
    for _ in range(2):
        post_password(client, user.username, WRONG)  # two wrong passwords …
    post_password(client, user.username)  # … the right one …
    for i in range(2):  # … and two wrong codes: four failures, not yet locked
        response = post_code(client, wrong_code(secret, clock.now))
        assert response.status_code == 200, i
    assert LoginAttempt.objects.get(username=user.username).failed_count == 4
    response = post_code(client, wrong_code(secret, clock.now))  # the fifth failure locks
    assert response.status_code == 302 and response["Location"] == reverse("accounts:login")
    attempt = LoginAttempt.objects.get(username=user.username)
    assert attempt.failed_count == 5 and attempt.locked_until is not None
    assert totp.PENDING_KEY not in client.session and not logged_in(client)
    assert AuditEvent.objects.filter(action="auth.locked", object_id=str(user.pk)).exists()

    # Locked: the right password and then the right code are refused too.
    response = post_password(client, user.username)
    assert response.status_code == 200 and b'data-testid="login-locked"' in response.content
    assert not logged_in(client)
    with pytest.raises(BianzhiError) as exc:
        services.totp_verify(user=user, code=code_at(secret, clock.now))
    assert exc.value.codes == [ACCOUNT_LOCKED]
    assert LoginAttempt.objects.get(username=user.username).failed_count == 5  # refused during the lock: not counted


def test_the_lock_also_ends_a_pending_log_in(client, world, clock):
    user = world.users.tianhe_reviewer
    secret = enrol(user, clock)
    post_password(client, user.username)  # password accepted, code pending
    for _ in range(5):  # meanwhile someone else fails five passwords
        post_password(Client(), user.username, WRONG)
    response = post_code(client, code_at(secret, clock.now))
    assert response.status_code == 302 and response["Location"] == reverse("accounts:login")
    assert not logged_in(client)


def test_the_pending_log_in_expires(client, world, clock):
    user = world.users.tianhe_reviewer
    secret = enrol(user, clock)
    post_password(client, user.username)
    clock.now += totp.PENDING_SECONDS + 1
    response = post_code(client, code_at(secret, clock.now))
    assert response.status_code == 302 and response["Location"] == reverse("accounts:login")
    assert not logged_in(client) and totp.PENDING_KEY not in client.session
    assert client.get(reverse("accounts:login_totp")).status_code == 302  # nothing pending


def test_the_code_page_is_useless_without_a_password(client, world, clock):
    user = world.users.tianhe_reviewer
    secret = enrol(user, clock)
    response = post_code(client, code_at(secret, clock.now))
    assert response.status_code == 302 and not logged_in(client)
    assert client.get(reverse("accounts:login_totp_enrol")).status_code == 302


def test_a_user_without_a_second_factor_and_no_requirement_logs_in_with_the_password(client, world):
    with REQUIRED:
        response = post_password(client, world.users.tianhe_reviewer.username)
    assert response.status_code == 302 and response["Location"] == "/" and logged_in(client)


@REQUIRED
def test_a_required_role_enrols_before_it_can_use_any_page(client, world, clock):
    admin = world.users.tianhe_admin
    start = last_seq()
    response = post_password(client, admin.username, next_url="/audit/")
    assert response.status_code == 302 and response["Location"] == reverse("accounts:login_totp_enrol")
    assert not logged_in(client)
    for url in ("/", "/audit/", "/accounts/users/", "/api/v1/me"):
        assert client.get(url).status_code in (302, 401, 403), url
        assert not logged_in(client)

    page = client.get(reverse("accounts:login_totp_enrol"))
    text = page.content.decode()
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    assert 'data-testid="totp-required"' in text
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', text).group(1).replace(" ", "")
    uri = re.search(r'data-testid="totp-uri">([^<]+)<', text).group(1)
    assert f"secret={secret}" in uri.replace("&amp;", "&") and uri.startswith("otpauth://totp/")

    response = post_code(client, wrong_code(secret, clock.now), "accounts:login_totp_enrol")
    assert response.status_code == 200 and not logged_in(client)
    assert secret in response.content.decode().replace(" ", "")  # the same secret, shown again
    response = post_code(client, code_at(secret, clock.now), "accounts:login_totp_enrol")
    assert response.status_code == 302 and response["Location"] == "/audit/" and logged_in(client)
    assert client.get("/audit/").status_code == 200
    assert actions_since(start) == ["auth.totp_failed", "auth.totp_enrolled", "auth.login"]
    assert AuditEvent.objects.get(seq=start + 1).after["stage"] == "enrol"

    client.post(reverse("accounts:logout"))  # next time: the code, not the enrolment
    assert post_password(client, admin.username)["Location"] == reverse("accounts:login_totp")
    assert post_code(client, code_at(secret, clock.now)).status_code == 200  # the enrolment code: replayed
    clock.step()
    assert post_code(client, code_at(secret, clock.now)).status_code == 302 and logged_in(client)


@REQUIRED
def test_a_session_of_a_required_role_without_a_second_factor_is_kept_on_the_enrolment_page(world, clock):
    """A session opened some other way (here the test client's force_login; in real life a
    session from before the requirement) can only enrol."""
    admin = world.users.tianhe_admin
    client = Client()
    client.force_login(admin)
    response = client.get("/orgs/units/")
    assert response.status_code == 302 and response["Location"] == reverse("accounts:totp")
    api = client.get("/api/v1/me")
    assert api.status_code == 403 and api.json()["errors"][0]["code"] == "totp_required"
    page = client.get(reverse("accounts:totp"))
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', page.content.decode()).group(1).replace(" ", "")
    response = client.post(reverse("accounts:totp"), {"action": "confirm", "code": code_at(secret, clock.now)})
    assert response.status_code == 302
    assert client.get("/orgs/units/").status_code == 200 and client.get("/api/v1/me").status_code == 200


@REQUIRED
def test_api_tokens_are_a_separate_credential(world):
    admin = world.users.tianhe_admin  # required, not enrolled
    _token, plaintext = services.token_create(actor=admin, user=admin)
    response = Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert response.status_code == 200 and response.json()["username"] == admin.username


def test_an_optional_user_enrols_on_its_own_page(world, clock):
    user = world.users.tianhe_reviewer
    client = Client()
    client.force_login(user)
    page = client.get(reverse("accounts:totp")).content.decode()
    assert 'data-testid="totp-start"' in page and not TotpDevice.objects.filter(user=user).exists()
    page = client.post(reverse("accounts:totp"), {"action": "start"}).content.decode()
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    response = client.post(reverse("accounts:totp"), {"action": "confirm", "code": code_at(secret, clock.now)})
    assert response.status_code == 302
    assert client.get("/").status_code == 200  # the session that enrolled goes on
    assert 'data-testid="totp-state"' in client.get(reverse("accounts:totp")).content.decode()

    other = Client()  # a session opened before the enrolment, elsewhere, ends
    other.force_login(user)
    response = other.get("/")
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
    assert not logged_in(other)

    clock.step()
    fresh = Client()
    assert post_password(fresh, user.username)["Location"] == reverse("accounts:login_totp")
    assert post_code(fresh, code_at(secret, clock.now)).status_code == 302 and logged_in(fresh)


def test_an_administrator_resets_a_second_factor_on_the_user_page(world, clock):
    subject = world.users.tianhe_reviewer
    secret = enrol(subject, clock)
    own = Client()
    post_password(own, subject.username)
    post_code(own, code_at(secret, clock.now))
    assert logged_in(own)

    admin = Client()
    admin.force_login(world.users.tianhe_admin)
    detail = admin.get(reverse("accounts:user_detail", args=[subject.pk])).content.decode()
    assert 'data-testid="totp-reset"' in detail
    response = admin.post(reverse("accounts:user_totp_reset", args=[subject.pk]))
    assert response.status_code == 302 and not TotpDevice.objects.filter(user=subject).exists()
    event = AuditEvent.objects.filter(action="auth.totp_reset").get()
    assert event.actor_id == world.users.tianhe_admin.pk and event.object_id == str(subject.pk)
    # The session opened with the removed device ends at its next request.
    assert own.get("/").status_code == 302 and not logged_in(own)
    # 越秀区's users are out of 天河区's reach: 404 like a missing user.
    assert admin.post(reverse("accounts:user_totp_reset", args=[world.users.yuexiu_reviewer.pk])).status_code == 404
    # The audit log page shows the events to the administrator, filtered by action.
    audit_page = admin.get("/audit/", {"action": "auth.totp_reset"}).content.decode()
    assert f'href="/audit/{event.seq}/"' in audit_page


def test_the_totp_reset_command(world, clock, capsys):
    subject = world.users.tianhe_admin
    enrol(subject, clock)
    call_command("user", "totp-reset", subject.username)
    assert "th_admin" in capsys.readouterr().out
    assert not TotpDevice.objects.filter(user=subject).exists()
    event = AuditEvent.objects.filter(action="auth.totp_reset").get()
    assert event.actor_username == "system"
    with pytest.raises(SystemExit) as exc:
        call_command("user", "totp-reset", subject.username)  # nothing to reset
    assert exc.value.code == 1 and TOTP_NOT_ENROLLED in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        call_command("user", "totp-reset", "no_such_user")
    assert exc.value.code == 2


# ---------------------------------------------------------------------------------------------
# Settings and the demo


def test_required_roles_setting(settings):
    settings.BIANZHI_TOTP_REQUIRED_ROLES = " decision_maker , administrator "
    assert totp.required_roles() == {"decision_maker", "administrator"}
    settings.BIANZHI_TOTP_REQUIRED_ROLES = ""
    assert totp.required_roles() == frozenset()


def test_system_checks_of_the_required_roles(settings):
    from bianzhi.accounts.checks import totp_required_for_administrators, totp_roles_known

    settings.BIANZHI_TOTP_REQUIRED_ROLES = "decision_maker,administrater"
    assert [m.id for m in totp_roles_known()] == ["bianzhi.E002"]
    assert [m.id for m in totp_required_for_administrators()] == ["bianzhi.W003"]
    settings.BIANZHI_TOTP_REQUIRED_ROLES = "decision_maker,administrator"
    assert totp_roles_known() == [] and totp_required_for_administrators() == []


def test_the_demo_server_does_not_require_a_second_factor_and_says_so(monkeypatch):
    from bianzhi.demo.management.commands.demo import second_factor_note

    monkeypatch.delenv("BIANZHI_TOTP_REQUIRED_ROLES", raising=False)
    note = second_factor_note(serving=False)
    assert "bianzhi serve" in note
    import os

    assert "BIANZHI_TOTP_REQUIRED_ROLES" not in os.environ  # set up only: nothing changed
    note = second_factor_note(serving=True)
    assert os.environ["BIANZHI_TOTP_REQUIRED_ROLES"] == ""  # inherited by the server process
    assert "BIANZHI_TOTP_REQUIRED_ROLES" in note
    monkeypatch.setenv("BIANZHI_TOTP_REQUIRED_ROLES", "administrator")
    assert "administrator" in second_factor_note(serving=True)
    assert os.environ["BIANZHI_TOTP_REQUIRED_ROLES"] == "administrator"  # an explicit choice is kept
