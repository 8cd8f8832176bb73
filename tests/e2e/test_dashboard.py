"""The statistics dashboard in the browser: a 天河区 reviewer sees the charts drawn by ECharts
(served by the app, no CDN), switches a chart to its table and back, without console errors;
a number of the indicators page opens the records behind it."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from bianzhi.demo.management.commands.assets import assets_present
from bianzhi.staffing.models import CapChange
from tests.stats.test_indicators import data  # noqa: F401 - the fixture

from .conftest import screenshot
from .test_approvals import _log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def charts_installed():
    if not assets_present():
        message = "ECharts is not installed (bianzhi assets)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def test_the_dashboard_draws_its_charts_and_tables(page, live_server, data, charts_installed):  # noqa: F811
    w = data
    CapChange.objects.create(unit=w.tianhe_unit, post_class="", cap=1, valid_from=dt.date(2025, 1, 1))
    base = live_server.url
    _log_in(page, base, w.users.tianhe_reviewer.username)
    page.goto(f"{base}/stats/")
    page.wait_for_selector("#chart-headcount canvas")
    for name in ("headcount", "situation", "post_class", "funding_source", "cleared", "funding", "over_cap"):
        assert page.locator(f"#chart-{name} canvas").count() >= 1, name
    assert page.locator("script[src*='//']").count() == 0  # nothing from another host
    table = page.locator("#chart-headcount-table")
    assert table.is_hidden()
    page.click("[data-testid=toggle-headcount]")
    assert table.is_visible() and page.locator("#chart-headcount").is_hidden()
    assert page.get_attribute("[data-testid=toggle-headcount]", "aria-pressed") == "true"
    today = dt.date.today().isoformat()
    assert page.locator(f"[data-testid=table-headcount] tr[data-date='{today}']").count() == 1
    page.click("[data-testid=toggle-situation]")
    screenshot(page, "stats-dashboard-tables")
    page.click("[data-testid=toggle-headcount]")
    assert table.is_hidden() and page.locator("#chart-headcount canvas").is_visible()
    page.click("[data-testid=toggle-situation]")
    screenshot(page, "stats-dashboard")
    assert page.console_errors == []  # type: ignore[attr-defined]

    # the indicators page: I01 opens the records counting today
    page.goto(f"{base}/stats/indicators/")
    value = page.inner_text("[data-testid=value-I01]")
    page.click("[data-testid=value-I01]")
    page.wait_for_url(f"{base}/stats/indicators/I01/*")
    assert page.inner_text("[data-testid=drill-value]").startswith(value)
    assert page.locator("[data-testid=drill-records] tr[data-record]").count() == int(value)
    screenshot(page, "stats-drill-I01")
    page.goto(f"{base}/stats/report/")
    assert page.locator("[data-testid=report-table] tr[data-role=unit]").count() == 3
    screenshot(page, "stats-report")
    assert page.console_errors == []  # type: ignore[attr-defined]
