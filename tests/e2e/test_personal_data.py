"""The full ID number in the browser: masked by default, shown on a stated purpose, audited."""

from __future__ import annotations

import datetime as dt

import pytest

from bianzhi.common.codes import make_resident_id
from bianzhi.common.models import AuditEvent
from bianzhi.orgs import services as org_services

from .conftest import screenshot
from .test_journeys import _log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_reviewer_reveals_an_id_number_with_a_purpose_and_it_is_logged(page, live_server, world):
    number = make_resident_id("440106", dt.date(1988, 3, 9), 57)
    person = org_services.person_create(actor=world.users.tianhe_reviewer, id_number=number, name="李示华",
                                        unit_id=world.tianhe_unit.pk)
    base = live_server.url
    _log_in(page, base, world.users.tianhe_reviewer.username)
    page.goto(f"{base}/orgs/people/{person.pk}/")
    assert number not in page.content()
    assert page.inner_text("[data-testid=masked-id]") == person.masked_id
    page.fill("#reveal-purpose", "社保缴费核对")
    page.click("[data-testid=reveal-form] button[type=submit]")
    page.wait_for_selector("[data-testid=revealed-id]")
    assert number in page.inner_text("[data-testid=revealed-id]")
    assert "审计" in page.inner_text("[data-testid=revealed-id]")
    screenshot(page, "person-reveal-id")
    event = AuditEvent.objects.get(action="person.reveal_id")
    assert event.actor_username == world.users.tianhe_reviewer.username
    assert event.after["purpose"] == "社保缴费核对"
    # Reloading the page shows the masked number again.
    page.goto(f"{base}/orgs/people/{person.pk}/")
    assert number not in page.content()
    assert page.console_errors == []
