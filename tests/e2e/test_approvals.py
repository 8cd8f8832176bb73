"""The approval journey in the browser (issue: submit → three parallel reviews, one returns →
the unit revises → reviews → leading group → authorisation → a register-mode record uses it)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from bianzhi.staffing.models import HireAuthorisation, Spell
from bianzhi.workflow.models import Case
from tests.workflow.conftest import _pid, flow  # noqa: F401 - the fixture

from ..factories import PASSWORD
from .conftest import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _log_in(page, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def _decide(page, base: str, case: Case, action: str, opinion: str, return_to: str = "") -> None:
    page.goto(f"{base}/approvals/")
    page.click(f"[data-testid=inbox-row] >> text={case.number}")
    page.wait_for_url(f"{base}/approvals/cases/{case.pk}/")
    page.check(f"input[name=action][value={action}]")
    if return_to:
        page.select_option("#id_return_to", return_to)
    page.fill("#id_opinion", opinion)
    page.click("[data-testid=decide]")
    page.wait_for_url(f"{base}/approvals/cases/{case.pk}/")
    assert opinion in page.inner_text("[data-testid=trail]")


def test_hire_application_journey(page, live_server, flow):  # noqa: F811
    base, u = live_server.url, flow.users
    _log_in(page, base, u.tianhe_operator.username)
    page.goto(f"{base}/approvals/mine/")
    page.click("[data-testid=apply-hire]")
    page.wait_for_url(f"{base}/approvals/apply/hire/")
    page.select_option("#id_situation", "labour_contract")
    page.select_option("#id_post_class", "general_auxiliary")
    page.select_option("#id_work_type", "counter_service")
    page.fill("#id_quantity", "1")
    page.fill("#id_post_names", "窗口服务员")
    page.select_option("#id_funding_source", "fiscal")
    page.fill("#id_reason", "政务服务窗口业务量增加")
    page.click("[data-testid=form] button[type=submit]")
    page.wait_for_url(f"{base}/approvals/cases/*/")
    case = Case.objects.get()
    assert case.number in page.inner_text("[data-testid=case-number]")
    for code in ("establishment", "finance", "hr"):
        assert page.get_attribute(f"[data-testid=step-{code}]", "data-state") == "current"
    assert page.get_attribute("[data-testid=step-leading_group]", "data-state") == "pending"
    screenshot(page, "approval-submitted")

    _log_in(page, base, u.tianhe_reviewer.username)
    assert "1" in page.inner_text("[data-testid=inbox-count]")
    _decide(page, base, case, "approve", "规模在上限以内，同意。")
    _log_in(page, base, u.finance.username)
    _decide(page, base, case, "return", "请补充人均月经费测算。", return_to="applicant")

    _log_in(page, base, u.tianhe_operator.username)
    page.goto(f"{base}/approvals/cases/{case.pk}/")
    page.click("[data-testid=revise]")
    page.fill("#id_monthly_cost", "4300")
    page.fill("#id_note", "已补充经费测算")
    page.click("[data-testid=form] button[type=submit]")
    page.wait_for_url(f"{base}/approvals/cases/{case.pk}/")
    case.refresh_from_db()
    assert (case.status, case.round, case.payload["monthly_cost"]) == ("in_review", 2, "4300.00")

    for user, opinion in ((u.tianhe_reviewer, "复核同意。"), (u.finance, "经费已落实，同意。"),
                          (u.hr, "非关键岗位，同意。"), (u.leader, "同意，按规定公开招聘。")):
        _log_in(page, base, user.username)
        _decide(page, base, case, "approve", opinion)
    case.refresh_from_db()
    assert case.status == "approved"
    auth = HireAuthorisation.objects.get(number=case.result_ref)
    assert auth.number in page.inner_text("[data-testid=result]")
    assert page.get_attribute("[data-testid=step-leading_group]", "data-state") == "done"
    screenshot(page, "approval-decided")
    pdf = page.request.get(f"{base}/approvals/cases/{case.pk}/form.pdf")
    assert pdf.status == 200 and pdf.body()[:4] == b"%PDF"

    _log_in(page, base, u.tianhe_operator.username)
    page.goto(f"{base}/staffing/roster/new/")
    page.fill("#id_id_number", _pid(30))
    page.fill("#id_name", "新录用人")
    page.select_option("#id_situation", "labour_contract")
    page.select_option("#id_post_class", "general_auxiliary")
    page.select_option("#id_work_type", "counter_service")
    page.fill("#id_post_name", "窗口服务员")
    page.select_option("#id_funding_source", "fiscal")
    page.fill("#id_hire_date", timezone.localdate().isoformat())
    page.fill("#id_authorisation_number", auth.number)
    page.click("[data-testid=form] button[type=submit]")
    page.wait_for_url(f"{base}/staffing/roster/*/")
    auth.refresh_from_db()
    spell = Spell.objects.get(person__name="新录用人")
    assert (auth.used, spell.authorisation_id, spell.hire_date) == (1, auth.pk, timezone.localdate())
    assert page.console_errors == []
