"""Personal data at rest: SM4-GCM ciphertext, HMAC-SM3 blind index, masking, audited
unmasking, key rotation (issue: security, X3)."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.core.management import call_command
from django.db import connection
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from bianzhi.common import pii
from bianzhi.common.audit import verify_chain
from bianzhi.common.codes import make_resident_id
from bianzhi.common.errors import BianzhiError
from bianzhi.common.models import AuditEvent
from bianzhi.orgs import services
from bianzhi.orgs.models import ID_NUMBER_FIELD, Person
from tests.factories import clear_id

NUMBER = make_resident_id("440106", dt.date(1990, 5, 17), 321)
OTHER_KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"


@pytest.fixture
def person(world):
    return services.person_create(actor=world.users.tianhe_reviewer, id_number=NUMBER, name="王示明",
                                  unit_id=world.tianhe_unit.pk)


# ----------------------------------------------------------------------------- pure crypto


def test_ciphertext_round_trips_and_is_fresh_each_time():
    one, two = pii.encrypt(NUMBER, field="f"), pii.encrypt(NUMBER, field="f")
    assert one != two  # a fresh nonce per value: equal numbers give different ciphertexts
    assert one.startswith(f"sm4gcm${pii.keyring().current.kid}$")
    assert pii.decrypt(one, field="f") == pii.decrypt(two, field="f") == NUMBER
    assert NUMBER not in one


def test_a_changed_byte_or_another_field_fails_the_integrity_check():
    token = pii.encrypt(NUMBER, field="orgs.person.id_number")
    head, blob = token.rsplit("$", 1)
    flipped = blob[:10] + ("A" if blob[10] != "A" else "B") + blob[11:]
    with pytest.raises(pii.PiiError):
        pii.decrypt(f"{head}${flipped}", field="orgs.person.id_number")
    with pytest.raises(pii.PiiError):  # the field name is bound in: no moving values between columns
        pii.decrypt(token, field="orgs.person.other")
    with pytest.raises(pii.PiiError):
        pii.decrypt("sm4gcm$deadbeef$" + blob, field="orgs.person.id_number")  # unknown key id


def test_the_blind_index_is_keyed_deterministic_and_normalised():
    assert pii.blind_index(NUMBER) == pii.blind_index(f" {NUMBER.lower()} ")
    assert re.fullmatch(r"[0-9a-f]{64}", pii.blind_index(NUMBER))
    other = pii.Key.from_material(bytes.fromhex(OTHER_KEY))
    assert pii.blind_index(NUMBER, key=other) != pii.blind_index(NUMBER)


@pytest.mark.parametrize("text, ok", [
    (OTHER_KEY, True),
    ("0011223344556677" * 2, True),  # 16 bytes, hex
    ("ABEiM0RVZneImaq7zN3u/w==", True),  # 16 bytes, base64
    ("00112233", False),  # too short
    ("not a key at all!", False),
    ("", False),
])
def test_key_material_is_checked(text, ok):
    if ok:
        assert len(pii.parse_key(text)) >= 16
    else:
        with pytest.raises(ImproperlyConfigured):
            pii.parse_key(text)


@given(st.text(min_size=1, max_size=40), st.sampled_from(["a", "orgs.person.id_number"]))
def test_encrypt_decrypt_is_the_identity(value, field):
    assert pii.decrypt(pii.encrypt(value, field=field), field=field) == value


def test_development_key_file_is_created_once_with_owner_only_permissions(tmp_path, settings):
    settings.BIANZHI_PII_KEY = ""
    settings.BIANZHI_PII_KEY_FILE = tmp_path / "pii.key"
    ring = pii.keyring()
    assert (tmp_path / "pii.key").stat().st_mode & 0o777 == 0o600
    assert pii.keyring().current.kid == ring.current.kid
    settings.BIANZHI_PII_KEY_FILE = None
    with pytest.raises(ImproperlyConfigured):
        pii.keyring()


# ----------------------------------------------------------------------------- stored data


def test_the_database_holds_no_clear_id_number(person, world):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {Person._meta.db_table} WHERE id = %s", [person.pk])
        row = cursor.fetchone()
    assert not any(NUMBER in str(value) for value in row)
    assert person.masked_id == NUMBER[:6] + "********" + NUMBER[14:]
    assert clear_id(person) == NUMBER
    # The one-person rule works on the blind index.
    with pytest.raises(BianzhiError) as refused:
        services.person_create(actor=world.users.tianhe_reviewer, id_number=NUMBER, name="王示明")
    assert refused.value.codes == ["person_exists"]


def test_a_whole_id_number_finds_the_person_by_its_blind_index(person, world):
    client = Client()
    client.force_login(world.users.tianhe_reviewer)
    found = client.get("/api/v1/people", {"q": NUMBER.lower()}).json()
    assert [p["id"] for p in found["items"]] == [person.pk]
    # Out of scope: not found, and nothing says it exists.
    client.force_login(world.users.yuexiu_reviewer)
    assert client.get("/api/v1/people", {"q": NUMBER}).json()["items"] == []


# ----------------------------------------------------------------------------- unmasking


def test_revealing_is_audited_with_its_purpose(person, world):
    before = AuditEvent.objects.count()
    number = services.person_reveal_id(actor=world.users.tianhe_reviewer, person_id=person.pk, purpose="社保核对")
    assert number == NUMBER
    event = AuditEvent.objects.order_by("-seq").first()
    assert AuditEvent.objects.count() == before + 1
    assert (event.action, event.object_id, event.actor_username) == ("person.reveal_id", str(person.pk), "th_reviewer")
    assert event.after == {"masked": person.masked_id, "purpose": "社保核对"}
    assert NUMBER not in str(event.after)
    assert verify_chain().ok


def test_revealing_needs_the_permission_a_purpose_and_scope(person, world):
    before = AuditEvent.objects.count()
    with pytest.raises(PermissionDenied):
        services.person_reveal_id(actor=world.users.tianhe_operator, person_id=person.pk, purpose="看看")
    with pytest.raises(PermissionDenied):
        services.person_reveal_id(actor=world.users.tianhe_supervisor, person_id=person.pk, purpose="看看")
    with pytest.raises(BianzhiError) as refused:
        services.person_reveal_id(actor=world.users.tianhe_reviewer, person_id=person.pk, purpose="  ")
    assert refused.value.codes == ["reveal_purpose_required"]
    from django.http import Http404

    with pytest.raises(Http404):
        services.person_reveal_id(actor=world.users.yuexiu_reviewer, person_id=person.pk, purpose="核对")
    assert AuditEvent.objects.count() == before  # refused reads write nothing


def test_reveal_api_is_audited_and_scoped(person, world):
    client = Client()
    client.force_login(world.users.tianhe_reviewer)
    url = f"/api/v1/people/{person.pk}/id-number"
    response = client.post(url, {"purpose": "工资核对"}, content_type="application/json")
    assert response.status_code == 200 and response.json() == {"id": person.pk, "id_number": NUMBER}
    assert response["Cache-Control"] == "no-store"
    assert AuditEvent.objects.filter(action="person.reveal_id", object_id=str(person.pk)).count() == 1
    # The plain read stays masked.
    detail = client.get(f"/api/v1/people/{person.pk}").json()
    assert detail["id_number_masked"] == person.masked_id and NUMBER not in str(detail)
    assert client.post(url, {"purpose": ""}, content_type="application/json").status_code == 422
    client.force_login(world.users.tianhe_operator)
    assert client.post(url, {"purpose": "x"}, content_type="application/json").status_code == 403
    client.force_login(world.users.yuexiu_reviewer)
    out = client.post(url, {"purpose": "x"}, content_type="application/json")
    assert out.status_code == 404 and NUMBER not in out.content.decode()
    assert AuditEvent.objects.filter(action="person.reveal_id").count() == 1


def test_reveal_page_shows_the_number_once_and_logs_it(person, world):
    client = Client()
    client.force_login(world.users.tianhe_reviewer)
    page = client.get(f"/orgs/people/{person.pk}/").content.decode()
    assert NUMBER not in page and 'data-testid="reveal-form"' in page
    response = client.post(f"/orgs/people/{person.pk}/reveal/", {"purpose": "档案核对"})
    assert response.status_code == 200 and NUMBER in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    assert AuditEvent.objects.get(action="person.reveal_id").after["purpose"] == "档案核对"
    assert NUMBER not in client.get(f"/orgs/people/{person.pk}/").content.decode()
    client.force_login(world.users.tianhe_operator)
    assert 'data-testid="reveal-form"' not in client.get(f"/orgs/people/{person.pk}/").content.decode()
    assert client.post(f"/orgs/people/{person.pk}/reveal/", {"purpose": "x"}).status_code == 403
    client.force_login(world.users.yuexiu_reviewer)
    assert client.post(f"/orgs/people/{person.pk}/reveal/", {"purpose": "x"}).status_code == 404
    assert AuditEvent.objects.filter(action="person.reveal_id").count() == 1


def test_unmasked_export_is_one_audit_event_and_masked_is_the_default(person, world):
    from tests.orgs.test_views import sheet_rows

    client = Client()
    client.force_login(world.users.tianhe_reviewer)
    masked = client.get("/orgs/people/", {"export": "xlsx"})
    assert NUMBER not in repr(sheet_rows(masked)) and person.masked_id in repr(sheet_rows(masked))
    assert not AuditEvent.objects.filter(action="person.reveal_ids_export").exists()
    full = client.get("/orgs/people/", {"export": "xlsx", "unmask": "1", "purpose": "年度核查"})
    assert NUMBER in repr(sheet_rows(full))
    event = AuditEvent.objects.get(action="person.reveal_ids_export")
    assert event.after["count"] == 1 and event.after["people"] == [person.pk]
    assert "年度核查" in event.after["export"]
    # No purpose: nothing exported, nothing logged; no permission: 403.
    assert client.get("/orgs/people/", {"export": "xlsx", "unmask": "1"}).status_code == 302
    client.force_login(world.users.tianhe_operator)
    assert client.get("/orgs/people/", {"export": "xlsx", "unmask": "1", "purpose": "x"}).status_code == 403
    assert AuditEvent.objects.filter(action="person.reveal_ids_export").count() == 1


# ----------------------------------------------------------------------------- rotation


def test_key_rotation_re_encrypts_everything_and_keeps_look_ups_working(person, world, settings):
    old_key = settings.BIANZHI_PII_KEY
    old_kid = pii.keyring().current.kid
    settings.BIANZHI_PII_KEY = OTHER_KEY
    settings.BIANZHI_PII_OLD_KEYS = [old_key]
    new_kid = pii.keyring().current.kid
    # Before the rotation: the old ciphertext still decrypts and the old index still finds.
    assert Person.objects.by_id_number(NUMBER).get() == person
    out = io.StringIO()
    call_command("pii", "status", stdout=out)
    assert f"{old_kid}: 1" in out.getvalue()
    call_command("pii", "rotate", stdout=io.StringIO())
    person.refresh_from_db()
    assert pii.key_id(person.id_number_enc) == new_kid
    assert person.id_number_index == pii.blind_index(NUMBER)
    assert pii.decrypt(person.id_number_enc, field=ID_NUMBER_FIELD) == NUMBER
    event = AuditEvent.objects.get(action="pii.rotate")
    assert event.after == {"to_key": new_kid, "from_keys": {old_kid: 1}, "count": 1}
    assert verify_chain().ok
    # Running it again changes nothing; dropping the old key still works afterwards.
    call_command("pii", "rotate", stdout=io.StringIO())
    assert AuditEvent.objects.filter(action="pii.rotate").count() == 1
    settings.BIANZHI_PII_OLD_KEYS = []
    assert Person.objects.by_id_number(NUMBER).get() == person


def test_rotation_without_the_old_key_refuses_and_changes_nothing(person, settings):
    from django.core.management.base import CommandError

    settings.BIANZHI_PII_KEY = OTHER_KEY
    settings.BIANZHI_PII_OLD_KEYS = []
    before = Person.objects.get(pk=person.pk).id_number_enc
    with pytest.raises(CommandError, match="BIANZHI_PII_OLD_KEYS"):
        call_command("pii", "rotate", stdout=io.StringIO())
    assert Person.objects.get(pk=person.pk).id_number_enc == before
    assert not AuditEvent.objects.filter(action="pii.rotate").exists()


def test_a_lost_key_stops_look_ups_instead_of_registering_people_twice(person, world, settings):
    from bianzhi.common.pii import _covered

    settings.BIANZHI_PII_KEY = OTHER_KEY  # the key that sealed the stored numbers is gone
    settings.BIANZHI_PII_OLD_KEYS = []
    _covered.clear()
    before = Person.objects.count()
    with pytest.raises(ImproperlyConfigured, match="BIANZHI_PII_OLD_KEYS"):
        services.person_create(actor=world.users.tianhe_reviewer, id_number=NUMBER, name="王示明")
    assert Person.objects.count() == before
