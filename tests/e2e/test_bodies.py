"""The set-up of a coordinating body in the browser (issue 7): the establishment office's
reviewer applies and checks the similar bodies, a second reviewer records why the close match
does not bar the set-up, the committee's leader decides, the general office issues the
document; the new body's page shows its code and the document, whose PDF and DOCX download."""

from __future__ import annotations

import pytest

from bianzhi.bodies import codes
from bianzhi.bodies.models import Body
from bianzhi.documents.models import OfficialDocument
from bianzhi.workflow.models import Case
from tests.bodies.conftest import SETUP, bodies_world  # noqa: F401 - the fixture
from tests.bodies.test_views import make_body

from ..factories import PASSWORD
from .conftest import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
NAME = "天河区安全生产工作领导小组"


def _log_in(page, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def _open_from_inbox(page, base: str, case: Case) -> None:
    page.goto(f"{base}/approvals/")
    page.click(f"[data-testid=inbox-row] >> text={case.number}")
    page.wait_for_url(f"{base}/approvals/cases/{case.pk}/")


def _decide(page, base: str, case: Case, opinion: str = "") -> None:
    page.check("input[name=action][value=approve]")
    if opinion:
        page.fill("#id_opinion", opinion)
    page.click("[data-testid=decide]")
    page.wait_for_url(f"{base}/approvals/cases/{case.pk}/")


def test_set_up_journey(page, live_server, bodies_world):  # noqa: F811
    w = bodies_world
    base, u = live_server.url, w.users
    existing = make_body(w.tianhe_unit, "天河区安全生产委员会", duties=SETUP["duties"], members=w.units[:4])

    # 1. the establishment office's reviewer applies, checking the similar bodies first
    _log_in(page, base, u.tianhe_reviewer.username)
    page.click("[data-testid=menu-body-setup]")
    page.wait_for_url(f"{base}/bodies/apply/setup/")
    page.fill("#id_name", NAME)
    page.select_option("#id_kind", "leading_group")
    page.select_option("#id_lead_unit", str(w.tianhe_unit.pk))
    page.select_option("#id_office_unit", str(w.units[0].pk))
    page.fill("#id_leader_posts", "组长：区长；副组长：分管副区长")
    page.fill("#id_duties", SETUP["duties"])
    page.click("[data-testid=check-similar]")
    page.wait_for_selector("[data-testid=similar-row]")
    first = page.locator("[data-testid=similar-row]").first
    assert first.get_attribute("data-code") == existing.code
    assert float(first.get_attribute("data-score") or 0) > 0.5
    page.select_option("#id_members", [str(x.pk) for x in w.units[:6]])
    page.fill("#id_member_codes", w.units[6].uscc)
    page.select_option("#id_ground", "major_work")
    page.fill("#id_basis", "区委常委会会议纪要")
    for code, answer in SETUP["negative"].items():
        page.fill(f"#id_negative_{code}", answer)
    page.fill("#id_planned_end", "2028-12-31")
    screenshot(page, "bodies-setup-form")
    page.click("[data-testid=submit]")
    page.wait_for_url(f"{base}/approvals/cases/*/")
    case = Case.objects.get(kind="body_setup")
    assert len(case.payload["members"]) == 7 and Body.objects.count() == 1
    panels = page.inner_text("body")
    assert existing.name in panels and existing.code in panels  # the similar bodies on the case page
    screenshot(page, "bodies-case-submitted")

    # 2. another reviewer: the close match needs a recorded reason
    _log_in(page, base, u.reviewer2.username)
    _open_from_inbox(page, base, case)
    assert existing.code in page.inner_text("body")
    page.check("input[name=action][value=approve]")
    page.fill("#id_opinion", "同意设立。")
    page.click("[data-testid=decide]")
    page.wait_for_selector("#id_similarity_reason.is-invalid")
    assert page.locator("#id_similarity_reason ~ .invalid-feedback").count() == 1
    screenshot(page, "bodies-case-reason-required")
    page.fill("#id_similarity_reason", "现有安全生产委员会负责日常统筹；本小组为一年期专项整治，到期撤销。")
    _decide(page, base, case, "同意设立，期限届满撤销。")
    case.refresh_from_db()
    assert case.stage_index == 1

    # 3. the committee's leader decides, 4. the general office issues the document
    _log_in(page, base, u.leader.username)
    _open_from_inbox(page, base, case)
    _decide(page, base, case, "同意。")
    _log_in(page, base, u.office.username)
    _open_from_inbox(page, base, case)
    _decide(page, base, case)
    case.refresh_from_db()
    assert case.status == "approved"
    body = Body.objects.get(name=NAME)
    document = OfficialDocument.objects.get(object_type="bodies.body", object_id=str(body.pk))
    assert case.result_ref == f"{body.code} {document.number}"
    assert body.code in page.inner_text("[data-testid=result]")

    # the new body's page: a valid code, the issued document, its PDF and DOCX
    _log_in(page, base, u.tianhe_reviewer.username)
    page.click("[data-testid=menu-bodies]")
    page.wait_for_url(f"{base}/bodies/")
    page.click(f"tr[data-body='{body.code}'] a")
    page.wait_for_url(f"{base}/bodies/{body.pk}/")
    code = page.inner_text("[data-testid=body-code]").strip()
    assert code == body.code and codes.is_valid(code)
    assert page.inner_text("[data-testid=setup-document]").strip() == document.number
    screenshot(page, "bodies-body-page")
    page.click("#tab-documents")
    page.wait_for_selector("#pane-documents.show")
    assert document.number in page.inner_text("[data-testid=documents-table]")
    screenshot(page, "bodies-body-documents")
    pdf = page.request.get(base + page.get_attribute("[data-testid=document-pdf]", "href"))
    assert pdf.status == 200 and pdf.body()[:4] == b"%PDF"
    docx = page.request.get(base + page.get_attribute("[data-testid=document-docx]", "href"))
    assert docx.status == 200 and docx.body()[:2] == b"PK"
    page.click("#tab-history")
    page.wait_for_selector("#pane-history.show")
    assert document.number in page.inner_text("[data-testid=history-table]")
    # the refused decision answered 422 on purpose (bad input); Chromium logs that document load as
    # an error. Nothing else may appear: no script errors, no failed resource.
    refused = [e for e in page.console_errors if "status of 422" in e]
    assert len(refused) == 1 and [e for e in page.console_errors if e not in refused] == []
