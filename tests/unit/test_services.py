"""Every error code of the foundation services, that nothing is written on error, and the audit row."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied

from bianzhi.accounts import services as account_services
from bianzhi.accounts.models import User
from bianzhi.common.codes import make_resident_id
from bianzhi.common.errors import BianzhiError
from bianzhi.common.models import AuditEvent
from bianzhi.divisions import services as division_services
from bianzhi.divisions.models import Division
from bianzhi.orgs import selectors, services
from bianzhi.orgs.models import EstablishmentQuota, Person, Unit, UnitVersion

from ..factories import PASSWORD, next_uscc

D = dt.date


def _state():
    return (Unit.objects.count(), UnitVersion.objects.count(), EstablishmentQuota.objects.count(),
            Person.objects.count(), User.objects.count(), Division.objects.count(), AuditEvent.objects.count())


def _refused(call, *codes):
    before = _state()
    with pytest.raises(BianzhiError) as exc:
        call()
    assert sorted(exc.value.codes) == sorted(codes)
    assert _state() == before
    return exc.value


def _set_up(actor, **overrides):
    params = dict(uscc=next_uscc(), name="天河区新中心", category="public_institution", funding_form="full",
                  jurisdiction="440106", set_up_on=D(2020, 1, 1))
    params.update(overrides)
    return services.unit_set_up(actor=actor, **params)


def test_set_up_errors(world):
    r = world.users.tianhe_reviewer
    good = next_uscc()
    _refused(lambda: _set_up(r, uscc=good[:-1] + ("0" if good[-1] != "0" else "1")), "uscc_checksum")
    _refused(lambda: _set_up(r, uscc="123"), "uscc_length")
    _refused(lambda: _set_up(r, jurisdiction="440104"), "division_not_found")
    _refused(lambda: _set_up(r, jurisdiction="999999"), "division_not_found")
    _refused(lambda: _set_up(r, parent=world.yuexiu_unit.uscc), "parent_not_found")
    _refused(lambda: _set_up(r, name=world.tianhe_unit.name), "unit_name_taken")
    _refused(lambda: _set_up(r, uscc=world.tianhe_unit.uscc), "unit_code_taken")
    _refused(lambda: _set_up(r, category="ministry", funding_form="x", name=""),
             "invalid_choice", "invalid_choice", "name_required")
    with pytest.raises(PermissionDenied):
        _set_up(world.users.tianhe_supervisor)


def test_set_up_writes_unit_version_and_audit(world):
    unit = _set_up(world.users.tianhe_reviewer, parent=world.tianhe_unit.uscc, document_ref="天编〔2020〕1号")
    version = unit.versions.get()
    assert (version.valid_from, version.valid_to, version.change, version.parent_id) == (
        D(2020, 1, 1), None, "set_up", world.tianhe_unit.pk)
    event = AuditEvent.objects.get(action="unit.set_up")
    assert event.object_id == str(unit.pk) and event.actor == world.users.tianhe_reviewer
    assert event.after["parent"] == world.tianhe_unit.uscc and event.after["document_ref"] == "天编〔2020〕1号"
    assert event.scope_path == "440000/440100/440106/"


def test_rename_errors_and_history(world):
    r = world.users.tianhe_reviewer
    unit = world.tianhe_unit
    _refused(lambda: services.unit_rename(actor=r, unit_id=world.yuexiu_unit.pk, name="x", on=D(2021, 1, 1)),
             "unit_not_found")
    _refused(lambda: services.unit_rename(actor=r, unit_id=unit.pk, name=world.tianhe_child.name, on=D(2021, 1, 1)),
             "unit_name_taken")
    _refused(lambda: services.unit_rename(actor=r, unit_id=unit.pk, name="新名", on=D(2010, 1, 1)),
             "date_not_after_previous")
    _refused(lambda: services.unit_rename(actor=r, unit_id=unit.pk, name=" ", on=D(2021, 1, 1)), "name_required")
    services.unit_rename(actor=r, unit_id=unit.pk, name="天河区新名局", on=D(2021, 1, 1))
    names = lambda d: {v.name for v in selectors.unit_versions_as_of(actor=r, as_of=d)}  # noqa: E731
    assert "天河区测试局" in names(D(2020, 12, 31)) and "天河区新名局" not in names(D(2020, 12, 31))
    assert "天河区新名局" in names(D(2021, 1, 1)) and "天河区测试局" not in names(D(2021, 1, 1))
    event = AuditEvent.objects.get(action="unit.rename")
    assert event.before["name"] == "天河区测试局" and event.after["name"] == "天河区新名局"


def test_abolish_and_merge(world):
    r = world.users.tianhe_reviewer
    _refused(lambda: services.unit_abolish(actor=r, unit_id=world.tianhe_unit.pk, on=D(2021, 1, 1)),
             "unit_has_children")
    services.unit_abolish(actor=r, unit_id=world.tianhe_child.pk, on=D(2021, 1, 1))
    child = Unit.objects.get(pk=world.tianhe_child.pk)
    assert (child.status, child.ended_on) == ("abolished", D(2021, 1, 1))
    _refused(lambda: services.unit_abolish(actor=r, unit_id=child.pk, on=D(2022, 1, 1)), "unit_not_active")
    as_of = {v.unit_id for v in selectors.unit_versions_as_of(actor=r, as_of=D(2020, 6, 1))}
    assert child.pk in as_of
    assert child.pk not in {v.unit_id for v in selectors.unit_versions_as_of(actor=r, as_of=D(2021, 6, 1))}

    other = _set_up(r, name="天河区被并单位", set_up_on=D(2015, 1, 1))
    sub = _set_up(r, name="天河区被并单位下属", parent=other.uscc, set_up_on=D(2016, 1, 1))
    _refused(lambda: services.unit_merge(actor=r, target_id=world.tianhe_unit.pk, source_ids=[], on=D(2022, 1, 1)),
             "merge_needs_sources")
    _refused(lambda: services.unit_merge(actor=r, target_id=world.tianhe_unit.pk,
                                         source_ids=[world.yuexiu_unit.pk], on=D(2022, 1, 1)), "unit_not_found")
    services.unit_merge(actor=r, target_id=world.tianhe_unit.pk, source_ids=[other.pk], on=D(2022, 1, 1))
    other.refresh_from_db()
    sub.refresh_from_db()
    assert (other.status, other.merged_into_id, other.ended_on) == ("merged", world.tianhe_unit.pk, D(2022, 1, 1))
    assert sub.parent_id == world.tianhe_unit.pk
    old = {v.unit_id: v.parent_id for v in selectors.unit_versions_as_of(actor=r, as_of=D(2021, 12, 31))}
    assert old[sub.pk] == other.pk
    assert set(AuditEvent.objects.filter(action__in=["unit.merge", "unit.reparent"]).values_list(
        "object_id", flat=True)) == {str(other.pk), str(sub.pk)}


def test_quota_errors_and_effective_dating(world):
    r = world.users.tianhe_reviewer
    u = world.tianhe_unit.pk
    _refused(lambda: services.quota_set(actor=r, unit_id=u, kind="administrative", approved=-1, actual=0,
                                        on=D(2020, 1, 1)), "quota_invalid")
    _refused(lambda: services.quota_set(actor=r, unit_id=u, kind="administrative", approved="1.5", actual=0,
                                        on=D(2020, 1, 1)), "quota_invalid")
    _refused(lambda: services.quota_set(actor=r, unit_id=u, kind="navy", approved=1, actual=0, on=D(2020, 1, 1)),
             "invalid_choice")
    _refused(lambda: services.quota_set(actor=r, unit_id=world.yuexiu_unit.pk, kind="administrative", approved=1,
                                        actual=0, on=D(2020, 1, 1)), "unit_not_found")
    services.quota_set(actor=r, unit_id=u, kind="administrative", approved=10, actual=12, on=D(2020, 1, 1))
    services.quota_set(actor=r, unit_id=u, kind="administrative", approved=15, actual=12, on=D(2022, 1, 1))
    _refused(lambda: services.quota_set(actor=r, unit_id=u, kind="administrative", approved=1, actual=0,
                                        on=D(2021, 1, 1)), "date_not_after_previous")
    q2021 = selectors.quotas_in_scope(actor=r, as_of=D(2021, 6, 1)).get(unit_id=u)
    q2023 = selectors.quotas_in_scope(actor=r, as_of=D(2023, 1, 1)).get(unit_id=u)
    assert (q2021.approved, q2021.actual, q2021.over, q2021.vacancies) == (10, 12, 2, 0)
    assert (q2023.approved, q2023.actual, q2023.over, q2023.vacancies) == (15, 12, 0, 3)
    assert [q.unit_id for q in selectors.quotas_in_scope(actor=r, as_of=D(2021, 6, 1), problem="over")] == [u]
    assert AuditEvent.objects.filter(action="establishment.set").count() == 2


def test_person_errors(world):
    r = world.users.tianhe_reviewer
    good = make_resident_id("440106", D(1990, 5, 17), 321)
    create = lambda **kw: services.person_create(actor=r, **({"id_number": good, "name": "王示明"} | kw))  # noqa: E731
    _refused(lambda: create(id_number=good[:-1] + ("0" if good[-1] != "0" else "1")), "id_checksum")
    _refused(lambda: create(id_number="440106900517321"), "id_legacy_15")
    _refused(lambda: create(id_number=good[:10] + "13" + good[12:]), "id_birth_date")
    _refused(lambda: create(birth_date=D(1990, 5, 18)), "id_birth_mismatch")
    _refused(lambda: create(sex="F"), "id_sex_mismatch")
    _refused(lambda: create(unit_id=world.yuexiu_unit.pk), "unit_not_found")
    _refused(lambda: create(jurisdiction="440104"), "division_not_found")
    person = create(unit_id=world.tianhe_unit.pk, education="bachelor")
    assert (person.sex, person.birth_date, person.masked_id) == ("M", D(1990, 5, 17), good[:6] + "********" + good[14:])
    _refused(lambda: create(), "person_exists")
    event = AuditEvent.objects.get(action="person.create")
    assert good not in str(event.after) and event.after["id_number"] == person.masked_id


def test_user_create_errors(world):
    admin = world.users.tianhe_admin
    make = lambda **kw: account_services.user_create(actor=admin, **(  # noqa: E731
        {"username": "th_new", "role": "supervisor", "jurisdiction": "440106", "password": PASSWORD} | kw))
    _refused(lambda: make(jurisdiction="440104"), "division_not_found")
    _refused(lambda: make(username="th_admin"), "username_taken")
    _refused(lambda: make(username="a b"), "username_format")
    _refused(lambda: make(role="king"), "role_unknown")
    _refused(lambda: make(role="unit_operator"), "unit_required")
    _refused(lambda: make(role="unit_operator", unit=world.yuexiu_unit.uscc), "unit_required")
    _refused(lambda: make(password="short"), "password_weak")
    _refused(lambda: make(password="alllowercaseletters"), "password_weak")
    user = make(role="unit_operator", unit=world.tianhe_unit.uscc)
    assert user.check_password(PASSWORD) and user.unit == world.tianhe_unit
    assert AuditEvent.objects.get(action="user.create").after["unit"] == world.tianhe_unit.uscc
    with pytest.raises(PermissionDenied):
        account_services.user_create(actor=world.users.tianhe_reviewer, username="x1", role="supervisor",
                                     jurisdiction="440106", password=PASSWORD)


def test_division_add_errors(world):
    admin = world.users.tianhe_admin
    add = lambda **kw: division_services.division_add(actor=admin, **(  # noqa: E731
        {"parent_code": "440106", "code": "440106950", "name": "测试街道"} | kw))
    _refused(lambda: add(parent_code="440104", code="440104950"), "division_not_found")
    _refused(lambda: add(parent_code="440100", code="440100950"), "division_not_found")  # above my jurisdiction
    _refused(lambda: division_services.division_add(actor=world.users.province_admin, parent_code="440100",
                                                    code="440100950", name="x"), "division_parent_level")
    _refused(lambda: add(code="440104950"), "division_code_format")
    _refused(lambda: add(code="44010695"), "division_code_format")
    town = add()
    assert town.path == "440000/440100/440106/440106950/" and town.level == "town"
    _refused(lambda: add(), "division_exists")
    assert AuditEvent.objects.filter(action="division.add", object_id=str(town.pk)).exists()
