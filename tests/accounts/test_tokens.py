"""Personal API tokens: stored hashed, expiring, revocable, scoped exactly like their user."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from bianzhi.accounts import services
from bianzhi.accounts.models import ApiToken
from bianzhi.common.errors import BianzhiError
from bianzhi.common.models import AuditEvent

API = "/api/v1"

pytestmark = pytest.mark.django_db


def bearer(token: str, *, csrf: bool = False) -> Client:
    return Client(enforce_csrf_checks=csrf, HTTP_AUTHORIZATION=f"Bearer {token}")


def session(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {u["id"] for u in response.json()["items"]}


def test_a_tianhe_token_sees_nothing_of_yuexiu(world):
    user = world.users.tianhe_reviewer
    _token, plaintext = services.token_create(actor=user, user=user, name="script")
    by_token, by_session = bearer(plaintext), session(user)

    units = ids(by_token.get(f"{API}/units"))
    assert units == ids(by_session.get(f"{API}/units"))
    assert world.tianhe_unit.pk in units and world.tianhe_child.pk in units
    assert world.yuexiu_unit.pk not in units and world.city_unit.pk not in units

    yuexiu = f"{API}/units/{world.yuexiu_unit.pk}"
    assert by_token.get(yuexiu).status_code == by_session.get(yuexiu).status_code == 404
    assert by_token.get(yuexiu).json() == by_session.get(yuexiu).json()
    assert by_token.get(f"{API}/units/{world.tianhe_unit.pk}").status_code == 200
    assert by_token.get(f"{API}/me").json()["username"] == user.username


def test_a_token_writes_without_csrf_and_only_in_scope(world):
    user = world.users.tianhe_admin
    _token, plaintext = services.token_create(actor=user, user=user)
    client = bearer(plaintext, csrf=True)  # no session cookie, no CSRF token: the header is enough
    body = json.dumps({"name": "天河区改名局", "on": "2022-01-01"})
    ok = client.post(f"{API}/units/{world.tianhe_unit.pk}/rename", data=body, content_type="application/json")
    assert ok.status_code == 200, ok.content
    out = client.post(f"{API}/units/{world.yuexiu_unit.pk}/rename", data=body, content_type="application/json")
    assert out.status_code == 404
    event = AuditEvent.objects.filter(action="unit.rename").order_by("-seq").first()
    assert event is not None and event.actor_username == user.username


def test_bad_tokens_answer_401(world):
    user = world.users.tianhe_reviewer
    token, plaintext = services.token_create(actor=user, user=user, days=30)
    assert bearer(plaintext).get(f"{API}/me").status_code == 200

    for wrong in (f"bz_{token.prefix}_{'A' * 43}", f"{plaintext}x", plaintext[:-1], "bz_deadbeef_x", "nonsense", ""):
        answer = bearer(wrong).get(f"{API}/units")
        assert answer.status_code == 401, wrong
        assert answer.json()["errors"][0]["code"] == "not_authenticated"
    assert Client().get(f"{API}/units").status_code == 401

    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert bearer(plaintext).get(f"{API}/units").status_code == 401  # expired

    ApiToken.objects.filter(pk=token.pk).update(expires_at=None)
    assert bearer(plaintext).get(f"{API}/units").status_code == 200
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert bearer(plaintext).get(f"{API}/units").status_code == 401  # inactive user

    user.is_active = True
    user.save(update_fields=["is_active"])
    services.token_revoke(actor=user, token_id=token.pk)
    assert bearer(plaintext).get(f"{API}/units").status_code == 401  # revoked


def test_the_secret_is_stored_hashed_and_expiry_and_last_use(world):
    user = world.users.tianhe_reviewer
    token, plaintext = services.token_create(actor=user, user=user, days=7)
    assert plaintext.startswith(f"bz_{token.prefix}_") and len(token.prefix) == 8
    secret = plaintext.split("_", 2)[2]
    row = ApiToken.objects.filter(pk=token.pk).values().get()
    assert not any(secret in str(v) for v in row.values())
    assert row["secret_hash"] == services.token_digest(secret) and len(row["secret_hash"]) == 64
    assert dt.timedelta(days=6, hours=23) < row["expires_at"] - timezone.now() <= dt.timedelta(days=7)
    assert services.token_create(actor=user, user=user)[0].expires_at is None

    assert row["last_used_at"] is None
    bearer(plaintext).get(f"{API}/me")
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    bearer(plaintext).get(f"{API}/me")
    token.refresh_from_db()
    assert token.last_used_at == first  # written at most once a minute
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - dt.timedelta(minutes=2))
    bearer(plaintext).get(f"{API}/me")
    token.refresh_from_db()
    assert token.last_used_at > first - dt.timedelta(minutes=1)


def test_who_may_create_and_revoke_and_audit_rows(world):
    u = world.users
    token, plaintext = services.token_create(actor=u.tianhe_admin, user=u.tianhe_reviewer, name="for th")
    assert bearer(plaintext).get(f"{API}/me").json()["username"] == u.tianhe_reviewer.username
    for actor, subject in ((u.tianhe_reviewer, u.tianhe_supervisor), (u.tianhe_admin, u.yuexiu_reviewer)):
        with pytest.raises(BianzhiError) as exc:
            services.token_create(actor=actor, user=subject)
        assert exc.value.codes == ["not_found"]
    for actor in (u.yuexiu_reviewer, u.tianhe_supervisor):
        with pytest.raises(BianzhiError):
            services.token_revoke(actor=actor, token_id=token.pk)

    event = AuditEvent.objects.get(action="token.create", object_id=str(token.pk))
    assert event.actor_username == u.tianhe_admin.username
    assert event.scope_path == u.tianhe_reviewer.jurisdiction_path
    secret = plaintext.split("_", 2)[2]
    assert secret not in json.dumps(event.after) and token.secret_hash not in json.dumps(event.after)

    services.token_revoke(actor=u.tianhe_admin, token_id=token.pk)
    services.token_revoke(actor=u.tianhe_admin, token_id=token.pk)  # twice: one audit row
    revoked = AuditEvent.objects.filter(action="token.revoke", object_id=str(token.pk))
    assert revoked.count() == 1 and revoked.get().actor_username == u.tianhe_admin.username


def test_cli_prints_a_working_token_and_exit_codes(world):
    out, err = io.StringIO(), io.StringIO()
    call_command("token", "create", "th_reviewer", "--days", "3", "--name", "ci", stdout=out, stderr=err)
    plaintext = out.getvalue().strip()
    assert "\n" not in plaintext and plaintext.startswith("bz_")
    assert bearer(plaintext).get(f"{API}/me").json()["username"] == "th_reviewer"
    token = ApiToken.objects.get(prefix=plaintext.split("_")[1])
    assert token.name == "ci" and token.expires_at is not None
    assert AuditEvent.objects.filter(action="token.create", object_id=str(token.pk), actor_username="system").exists()

    with pytest.raises(SystemExit) as exc:
        call_command("token", "create", "nobody", stdout=io.StringIO(), stderr=io.StringIO())
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        call_command("token", "revoke", "999999", stdout=io.StringIO(), stderr=io.StringIO())
    assert exc.value.code == 2

    call_command("token", "revoke", str(token.pk), stdout=io.StringIO())
    assert bearer(plaintext).get(f"{API}/me").status_code == 401


def test_token_page_creates_shows_once_and_revokes(world):
    u = world.users
    client = session(u.tianhe_reviewer)
    page = client.get("/accounts/tokens/")
    assert page.status_code == 200
    created = client.post("/accounts/tokens/", {"name": "页面", "days": "30"})
    assert created.status_code == 200
    plaintext = created.context["plaintext"]
    assert plaintext and plaintext in created.content.decode()
    assert created["Cache-Control"] == "no-store"
    assert plaintext not in client.get("/accounts/tokens/").content.decode()  # shown once
    token = ApiToken.objects.get(user=u.tianhe_reviewer)
    assert bearer(plaintext).get(f"{API}/me").status_code == 200

    # someone else's token answers 404, exactly like a missing one
    yx_token, _ = services.token_create(actor=u.yuexiu_reviewer, user=u.yuexiu_reviewer)
    assert client.post(f"/accounts/tokens/{yx_token.pk}/revoke/").status_code == 404
    assert session(u.tianhe_admin).post(f"/accounts/tokens/{yx_token.pk}/revoke/").status_code == 404
    assert client.post("/accounts/tokens/999999/revoke/").status_code == 404
    yx_token.refresh_from_db()
    assert yx_token.revoked_at is None

    assert client.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert bearer(plaintext).get(f"{API}/me").status_code == 401
