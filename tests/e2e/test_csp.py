"""The Content-Security-Policy in the browser: the pages a 天河区 reviewer opens most (the
statistics dashboard with its ECharts charts and tooltips, a case, the unit list) carry the
policy and break none of it: Chromium reports no violation on the console."""

from __future__ import annotations

import pytest

from bianzhi.common.middleware import CONTENT_SECURITY_POLICY
from bianzhi.workflow import services as wf
from tests.workflow.conftest import HIRE, flow  # noqa: F401 - the fixture

from .conftest import screenshot
from .test_approvals import _log_in
from .test_dashboard import charts_installed  # noqa: F401 - the fixture

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _violations(page) -> list[str]:
    return [e for e in page.console_errors if "Content Security Policy" in e or "Content-Security-Policy" in e]


def test_the_pages_satisfy_the_content_security_policy(page, live_server, flow, charts_installed):  # noqa: F811
    case = wf.case_submit(actor=flow.users.tianhe_operator, kind="hire", data=dict(HIRE))
    base = live_server.url
    _log_in(page, base, flow.users.tianhe_reviewer.username)

    response = page.goto(f"{base}/stats/")
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "camera=()" in response.headers["permissions-policy"]
    page.wait_for_selector("#chart-headcount canvas")
    # the tooltips: ECharts draws them into the canvas, no HTML with style attributes
    for name in ("headcount", "situation", "post_class"):
        box = page.locator(f"#chart-{name} canvas").first.bounding_box()
        assert box is not None
        for fx, fy in ((0.5, 0.5), (0.3, 0.6), (0.7, 0.4)):
            page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
            page.wait_for_timeout(150)
    box = page.locator("#chart-headcount canvas").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5)
    page.wait_for_timeout(300)
    screenshot(page, "csp-dashboard-tooltip")
    page.click("[data-testid=toggle-headcount]")
    page.click("[data-testid=toggle-headcount]")
    assert _violations(page) == []

    response = page.goto(f"{base}/approvals/cases/{case.pk}/")
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert case.number in page.inner_text("[data-testid=case-number]")

    response = page.goto(f"{base}/orgs/units/")
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    page.goto(f"{base}/orgs/units/tree/")
    page.goto(f"{base}/approvals/")
    page.wait_for_load_state("networkidle")
    page.goto(f"{base}/api/v1/docs")  # Swagger UI, served by the app
    page.wait_for_selector(".swagger-ui .opblock")
    assert _violations(page) == []
    assert page.console_errors == []  # type: ignore[attr-defined]
