"""Browser journeys in Debian Chromium through Playwright."""

from __future__ import annotations

import datetime as dt

import pytest

from bianzhi.orgs import services as org_services

from ..factories import PASSWORD
from .conftest import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    assert "登录" in page.content()
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def test_tianhe_reviewer_sees_only_tianhe_units_and_their_establishment(page, live_server, world):
    admin = world.users.province_admin
    org_services.quota_set(actor=admin, unit_id=world.tianhe_unit.pk, kind="administrative", approved=37,
                           actual=41, on=dt.date(2020, 1, 1))
    org_services.quota_set(actor=admin, unit_id=world.yuexiu_unit.pk, kind="administrative", approved=12,
                           actual=9, on=dt.date(2020, 1, 1))
    base = live_server.url
    _log_in(page, base, world.users.tianhe_reviewer.username)
    assert "天河区" in page.inner_text("[data-testid=user-scope]")

    page.goto(f"{base}/orgs/units/")
    body = page.inner_text("main")
    assert world.tianhe_unit.name in body
    assert world.tianhe_child.name in body
    assert world.yuexiu_unit.name not in body
    assert world.city_unit.name not in body
    screenshot(page, "unit-list-tianhe")

    page.click(f"tr[data-href] >> text={world.tianhe_unit.name}")
    page.wait_for_url(f"{base}/orgs/units/{world.tianhe_unit.pk}/")
    assert world.tianhe_unit.uscc in page.inner_text("main")
    page.click("#tab-establishment")
    page.wait_for_selector("#pane-establishment.show.active")
    page.wait_for_timeout(300)  # Bootstrap's fade
    pane = page.locator("#pane-establishment")
    text = pane.inner_text()
    assert "37" in text and "41" in text  # approved 37, actual 41: over by 4
    assert "4" in text
    screenshot(page, "unit-detail-establishment")

    response = page.goto(f"{base}/orgs/units/{world.yuexiu_unit.pk}/")
    assert response is not None and response.status == 404
    assert page.console_errors == [] or all("404" in e for e in page.console_errors)
