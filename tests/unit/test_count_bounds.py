"""Numbers beyond what an integer column holds are bad input (422 with the code), never a
server error: found by the API fuzzing on PostgreSQL (integer out of range) and SQLite
(a 64-bit overflow in the driver)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from bianzhi.common.errors import BianzhiError
from bianzhi.common.models import AuditEvent
from bianzhi.orgs import services as org_services
from bianzhi.staffing import services as staffing_services
from bianzhi.staffing import spells

D = dt.date(2024, 1, 1)


def _refused(call) -> list[str]:
    before = AuditEvent.objects.count()
    with pytest.raises(BianzhiError) as refused:
        call()
    assert AuditEvent.objects.count() == before
    return refused.value.codes


@pytest.mark.parametrize("value, ok", [(0, True), (1_000_000, True), (1_000_001, False), (2**31, False),
                                       (float("inf"), False), ("1e9", False)])
def test_establishment_numbers_are_bounded(world, value, ok):
    call = lambda: org_services.quota_set(actor=world.users.province_admin, unit_id=world.tianhe_unit.pk,  # noqa: E731
                                          kind="administrative", approved=value, actual=0, on=D)
    if ok:
        assert call().approved == value
    else:
        assert _refused(call) == ["quota_invalid"]


@pytest.mark.parametrize("value, ok", [(1_000_000, True), (1_000_001, False), (2**31, False), (-1, False)])
def test_caps_are_bounded(world, value, ok):
    call = lambda: staffing_services.cap_set(actor=world.users.province_admin, unit_id=world.tianhe_unit.pk,  # noqa: E731
                                             cap=value, valid_from=D)
    if ok:
        assert call().cap == value
    else:
        assert _refused(call) == ["cap_invalid"]


@pytest.mark.parametrize("value, ok", [(1, True), (1_000_000, True), (1_000_001, False), (2**31, False), (0, False)])
def test_authorisation_quantities_are_bounded(world, value, ok):
    from bianzhi.staffing.services import rules_load

    rules_load()
    call = lambda: spells.authorisation_create(  # noqa: E731
        actor=world.users.province_admin, unit_id=world.tianhe_unit.pk, post_class="general_auxiliary",
        quantity=value, valid_from=D, document_ref="穗编〔2024〕1号")
    if ok:
        assert call().quantity == value
    else:
        assert "quantity_invalid" in _refused(call)


@pytest.mark.parametrize("path", ["/api/v1/people", "/api/v1/staffing/roster", "/api/v1/staffing/authorisations"])
def test_a_unit_id_beyond_64_bits_is_bad_input(world, path):
    client = Client()
    client.force_login(world.users.tianhe_reviewer)
    response = client.get(path, {"unit": 2**63})
    assert response.status_code == 422
    assert response.json()["errors"][0]["column"] == "unit"
