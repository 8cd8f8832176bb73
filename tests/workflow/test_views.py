"""Approval pages: applying, the inbox (待办), deciding, returning and revising, withdrawing,
已办 / 我的申请 / all cases (filters, Excel), notifications, the printable 审批表 and the
process pages.

The workflow strings are not translated yet, so the checks read data values — case numbers,
unit names, typed opinions, counts, ``data-testid`` markers, status codes and the database —
never the UI labels.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import re
import shutil
import subprocess

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from python_calamine import CalamineWorkbook

from bianzhi.common.errors import message_for
from bianzhi.common.models import AuditEvent
from bianzhi.staffing.models import HireAuthorisation
from bianzhi.workflow import services as wf
from bianzhi.workflow.choices import CaseStatus
from bianzhi.workflow.models import Attachment, Case, CaseEvent, Notification, ProcessDefinition, Step
from tests.workflow.conftest import HIRE

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF_BYTES = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
FORM = {
    "situation": "labour_contract", "post_class": "general_auxiliary", "work_type": "counter_service",
    "quantity": "1", "post_names": "窗口服务员", "funding_source": "fiscal", "monthly_cost": "4200",
    "reason": "窗口业务量增加",
}


# ---------------------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return tmp_path


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def html(response, status: int = 200) -> str:
    assert response.status_code == status, response.status_code
    assert response["Content-Type"].startswith("text/html"), response["Content-Type"]
    return response.content.decode("utf-8")


def redirected_to(response, url: str) -> None:
    assert response.status_code == 302, response.status_code
    assert response["Location"] == url, response["Location"]


def case_url(case) -> str:
    return reverse("workflow:case_detail", args=[case.pk])


def submit(actor, **changes):
    return wf.case_submit(actor=actor, kind="hire", data={**HIRE, **changes})


def act(actor, case, step, action="approve", opinion="同意", **kw):
    return wf.case_act(actor=actor, case_id=case.pk, step=step, action=action, opinion=opinion, **kw)


def review_all(flow, case):
    u = flow.users
    act(u.tianhe_reviewer, case, "establishment")
    act(u.finance, case, "finance")
    return act(u.hr, case, "hr")


def state():
    """Everything the engine may write, to show that a refused request wrote nothing."""
    return (
        list(Case.objects.order_by("id").values_list("id", "status", "round", "stage_index", "result_ref",
                                                     "payload")),
        list(Step.objects.order_by("id").values_list("id", "status", "actor_id", "opinion", "due_on")),
        CaseEvent.objects.count(), Notification.objects.count(), AuditEvent.objects.count(),
        Attachment.objects.count(), HireAuthorisation.objects.count(),
    )


def form_codes(response, name: str = "form") -> set[str]:
    """The codes of the errors on a re-rendered form (field and non-field)."""
    form = response.context[name]
    return {e.code for errors in form.errors.as_data().values() for e in errors}


def step_states(page: str) -> dict[str, str]:
    return dict(re.findall(r'data-testid="step-([a-z_]+)" data-state="([a-z]+)"', page))


def inbox_rows(page: str) -> list[str]:
    return re.findall(r'<tr[^>]*data-testid="inbox-row">(.*?)</tr>', page, re.S)


def inbox_count(page: str) -> int:
    found = re.search(r'data-testid="inbox-count">[^<]*<span[^>]*>(\d+)</span>', page)
    assert found, "no inbox count in the top bar"
    return int(found.group(1))


def unread_badge(page: str) -> int | None:
    found = re.search(r'data-testid="unread-count">(\d+)<', page)
    return int(found.group(1)) if found else None


def downloaded(response) -> bytes:
    assert response.status_code == 200, response.status_code
    return b"".join(response.streaming_content)  # read to the end: the client closes the file


def sheet_rows(response) -> list[list]:
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    return CalamineWorkbook.from_filelike(io.BytesIO(response.content)).get_sheet_by_index(0).to_python()


def pdftotext(pdf: bytes) -> str | None:
    exe = shutil.which("pdftotext")
    if exe is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pdftotext (poppler-utils) is not installed")
        return None
    result = subprocess.run([exe, "-", "-"], input=pdf, capture_output=True, check=True)
    return re.sub(r"\s+", "", result.stdout.decode("utf-8"))


# ---------------------------------------------------------------------------------- applying


def test_operator_submits_a_hire_application_with_an_attachment(flow):
    u = flow.users
    client = client_for(u.tianhe_operator)
    url = reverse("workflow:apply_hire")
    page = html(client.get(url))
    assert 'data-testid="form"' in page and 'name="unit"' not in page  # a unit operator applies for its unit
    assert 'value="labour_contract"' in page and 'value="counter_service"' in page

    upload = SimpleUploadedFile("岗位说明.pdf", PDF_BYTES, content_type="application/pdf")
    response = client.post(url, {**FORM, "quantity": "2", "post_names": "窗口服务员\n导办员",
                                 "attachments": [upload]})
    case = Case.objects.get()
    redirected_to(response, case_url(case))
    assert case.number == f"SP-440106-{timezone.localdate().year}-00001"
    assert (case.status, case.round, case.applicant, case.unit, case.kind) == (
        "in_review", 1, u.tianhe_operator, flow.tianhe_unit, "hire")
    assert case.payload == {
        "unit": flow.tianhe_unit.pk, "situation": "labour_contract", "post_class": "general_auxiliary",
        "work_type": "counter_service", "quantity": 2, "post_names": ["窗口服务员", "导办员"],
        "funding_source": "fiscal", "monthly_cost": "4200.00", "reason": "窗口业务量增加"}

    attachment = Attachment.objects.get()
    assert (attachment.case, attachment.event.kind, attachment.filename, attachment.size, attachment.sha256) == (
        case, "submit", "岗位说明.pdf", len(PDF_BYTES), hashlib.sha256(PDF_BYTES).hexdigest())
    assert attachment.content_type == "application/pdf"

    page = html(client.get(case_url(case)))
    assert re.search(rf'data-testid="case-number">{case.number}<', page)
    assert step_states(page) == {"establishment": "current", "finance": "current", "hr": "current",
                                 "leading_group": "pending"}
    assert "天河区测试局" in page and "窗口服务员、导办员" in page and "窗口业务量增加" in page
    assert 'data-testid="decision"' not in page  # the applicant never decides
    assert 'data-testid="withdraw"' in page and 'data-testid="revise"' not in page
    download_url = reverse("workflow:attachment", args=[case.pk, attachment.pk])
    assert f'href="{download_url}"' in page and "岗位说明.pdf" in page

    for user in (u.tianhe_operator, u.tianhe_reviewer, u.finance, u.city_reviewer):
        assert downloaded(client_for(user).get(download_url)) == PDF_BYTES, user
    response = client.get(download_url)
    assert response["Content-Disposition"].startswith("attachment;") and downloaded(response) == PDF_BYTES
    outsider = client_for(u.yuexiu_reviewer)
    assert outsider.get(download_url).status_code == 404
    assert outsider.get(case_url(case)).status_code == 404
    assert client.get(reverse("workflow:attachment", args=[case.pk, attachment.pk + 99])).status_code == 404


def test_a_reviewer_applies_for_a_unit_of_the_jurisdiction(flow):
    u = flow.users
    client = client_for(u.tianhe_reviewer)
    page = html(client.get(reverse("workflow:apply_hire")))
    assert 'name="unit"' in page and "天河区测试局" in page and "越秀区测试局" not in page
    response = client.post(reverse("workflow:apply_hire"), {**FORM, "unit": flow.yuexiu_unit.pk})
    assert response.status_code == 422 and Case.objects.count() == 0
    response = client.post(reverse("workflow:apply_hire"), {**FORM, "unit": flow.tianhe_unit.pk})
    case = Case.objects.get()
    redirected_to(response, case_url(case))
    assert (case.unit, case.applicant) == (flow.tianhe_unit, u.tianhe_reviewer)
    # the applicant cannot review its own case: no decision form, not in its inbox
    page = html(client.get(case_url(case)))
    assert 'data-testid="decision"' not in page
    assert inbox_rows(html(client.get(reverse("workflow:inbox")))) == []
    assert client_for(u.finance).get(reverse("workflow:apply_hire")).status_code == 403


@pytest.mark.parametrize(("changes", "codes", "kept"), [
    ({"quantity": "0"}, {"min_value"}, ['name="quantity" value="0"', "窗口服务员"]),
    ({"post_names": "财务助理"}, {"key_post_banned"}, ["财务助理"]),
])
def test_a_bad_application_is_shown_again_with_the_typed_values_and_writes_nothing(flow, data_dir, changes, codes,
                                                                                   kept):
    client = client_for(flow.users.tianhe_operator)
    before = state()
    upload = SimpleUploadedFile("说明.pdf", PDF_BYTES, content_type="application/pdf")
    response = client.post(reverse("workflow:apply_hire"), {**FORM, **changes, "reason": "业务量激增需要增人",
                                                            "attachments": [upload]})
    page = html(response, 422)
    assert form_codes(response) == codes
    assert 'data-testid="form-errors"' in page and 'data-testid="form"' in page
    assert "业务量激增需要增人" in page and 'value="4200"' in page
    assert re.search(r'<option value="counter_service" selected', page)
    for value in kept:
        assert value in page, value
    assert state() == before and Case.objects.count() == 0
    assert not (data_dir / "attachments").exists()  # no file stored for a refused application


def test_an_attachment_of_a_refused_type_is_refused_and_nothing_is_stored(flow, data_dir):
    client = client_for(flow.users.tianhe_operator)
    before = state()
    upload = SimpleUploadedFile("工具.exe", b"MZ\x90\x00", content_type="application/octet-stream")
    response = client.post(reverse("workflow:apply_hire"), {**FORM, "attachments": [upload]})
    html(response, 422)
    assert form_codes(response) == {"attachment_type"}
    assert state() == before and not (data_dir / "attachments").exists()


def test_a_cap_change_application_from_the_page(flow):
    u = flow.users
    client = client_for(u.tianhe_operator)
    url = reverse("workflow:apply_cap")
    assert 'value="general_auxiliary"' in html(client.get(url))
    response = client.post(url, {"post_class": "", "cap": "5", "reason": "调整规模"})
    html(response, 422)
    assert form_codes(response) == {"cap_unchanged"} and Case.objects.count() == 0
    response = client.post(url, {"post_class": "", "cap": "4", "reason": "压减规模"})
    case = Case.objects.get()
    redirected_to(response, case_url(case))
    assert (case.kind, case.payload) == ("cap_change", {"unit": flow.tianhe_unit.pk, "post_class": "", "cap": 4,
                                                         "reason": "压减规模"})
    page = html(client.get(case_url(case)))
    assert step_states(page) == {"establishment": "current", "finance": "current", "leading_group": "pending"}
    assert "压减规模" in page


# ---------------------------------------------------------------------------------- deciding


def test_reviewer_decides_from_the_inbox(flow):
    u = flow.users
    case = submit(u.tianhe_operator)
    client = client_for(u.tianhe_reviewer)

    page = html(client.get(reverse("workflow:inbox")))
    rows = inbox_rows(page)
    assert len(rows) == 1 and case.number in rows[0] and case_url(case) in rows[0]
    assert "data-testid=\"overdue\"" not in rows[0]
    assert inbox_count(page) == 1 and re.search(r'data-testid="pending-count">1<', page)
    assert inbox_count(html(client_for(u.tianhe_operator).get(reverse("workflow:inbox")))) == 0
    assert inbox_count(html(client_for(u.leader).get(reverse("workflow:inbox")))) == 0  # not its turn yet
    assert inbox_count(html(client_for(u.yuexiu_reviewer).get(reverse("workflow:inbox")))) == 0

    page = html(client.get(case_url(case)))
    assert 'data-testid="decision"' in page and 'data-testid="withdraw"' not in page
    assert re.search(r'<input type="hidden" name="step" value="establishment"', page)

    act_url = reverse("workflow:case_act", args=[case.pk])
    before = state()
    response = client.post(act_url, {"step": "establishment", "action": "approve", "opinion": "  "})
    page = html(response, 422)
    assert form_codes(response, "decision") == {"opinion_required"}
    assert escape(message_for("opinion_required")) in page and 'data-testid="decision"' in page
    assert state() == before

    memo = SimpleUploadedFile("审核意见.docx", b"PK\x03\x04 memo", content_type="application/octet-stream")
    response = client.post(act_url, {"step": "establishment", "action": "approve", "opinion": "规模符合，同意",
                                     "attachments": [memo]})
    redirected_to(response, case_url(case))
    step = Step.objects.get(case=case, code="establishment")
    assert (step.status, step.actor, step.opinion) == ("approved", u.tianhe_reviewer, "规模符合，同意")
    attachment = Attachment.objects.get()
    assert (attachment.event.kind, attachment.event.step, attachment.filename) == ("approve", step, "审核意见.docx")
    assert downloaded(client_for(u.tianhe_operator).get(
        reverse("workflow:attachment", args=[case.pk, attachment.pk]))) == b"PK\x03\x04 memo"
    page = html(client.get(case_url(case)))
    assert step_states(page) == {"establishment": "done", "finance": "current", "hr": "current",
                                 "leading_group": "pending"}
    assert "规模符合，同意" in page and case.number in page
    assert 'data-testid="decision"' not in page  # decided: nothing more to press
    page = html(client.get(reverse("workflow:inbox")))
    assert inbox_rows(page) == [] and inbox_count(page) == 0
    assert inbox_rows(html(client_for(u.reviewer2).get(reverse("workflow:inbox")))) == []

    done = html(client.get(reverse("workflow:done")))
    assert case.number in done and "规模符合，同意" in done
    assert case.number not in html(client_for(u.finance).get(reverse("workflow:done")))


def test_acting_twice_on_the_page_answers_step_already_decided(flow):
    u = flow.users
    case = submit(u.tianhe_operator)
    act(u.tianhe_reviewer, case, "establishment")
    before = state()
    response = client_for(u.reviewer2).post(reverse("workflow:case_act", args=[case.pk]),
                                            {"step": "establishment", "action": "approve", "opinion": "同意"})
    page = html(response, 422)
    assert state() == before
    assert form_codes(response, "decision") == {"step_already_decided"}
    assert escape(message_for("step_already_decided")) in page


def test_finance_returns_and_the_operator_revises(flow):
    u = flow.users
    case = submit(u.tianhe_operator)
    act(u.tianhe_reviewer, case, "establishment", opinion="规模符合")
    response = client_for(u.finance).post(reverse("workflow:case_act", args=[case.pk]), {
        "step": "finance", "action": "return", "return_to": "applicant", "opinion": "请补充经费测算"})
    redirected_to(response, case_url(case))
    case.refresh_from_db()
    assert case.status == "returned"
    assert dict(case.steps.values_list("code", "status")) == {
        "establishment": "approved", "finance": "returned", "hr": "cancelled"}

    operator = client_for(u.tianhe_operator)
    assert unread_badge(html(operator.get(reverse("workflow:mine")))) == 1  # the return
    page = html(operator.get(case_url(case)))
    assert re.search(r'data-testid="case-status">[^<]+<', page)
    assert 'data-testid="revise"' in page and 'data-testid="withdraw"' in page and "请补充经费测算" in page
    assert step_states(page)["finance"] == "returned" and step_states(page)["hr"] == "cancelled"
    assert unread_badge(page) is None  # opening the case read its notice

    revise_url = reverse("workflow:case_revise", args=[case.pk])
    page = html(operator.get(revise_url))
    assert case.number in page and "窗口业务量增加" in page and "窗口服务员" in page and 'value="4200.00"' in page
    assert re.search(r'<option value="labour_contract" selected', page)
    for other in (u.tianhe_reviewer, u.finance):
        assert client_for(other).get(revise_url).status_code == 404
    assert client_for(u.yuexiu_reviewer).get(revise_url).status_code == 404

    response = operator.post(revise_url, {**FORM, "monthly_cost": "4300", "note": "已补充经费测算"})
    redirected_to(response, case_url(case))
    case.refresh_from_db()
    assert (case.status, case.round, case.stage_index, case.payload["monthly_cost"]) == ("in_review", 2, 0, "4300.00")
    assert set(case.steps.filter(round=2, status="active").values_list("code", flat=True)) == {
        "establishment", "finance", "hr"}
    resubmit = case.events.get(kind="resubmit")
    assert (resubmit.opinion, resubmit.params["changes"]) == ("已补充经费测算", {"monthly_cost": "4300.00"})
    page = html(operator.get(case_url(case)))
    assert step_states(page) == {"establishment": "current", "finance": "current", "hr": "current",
                                 "leading_group": "pending"}
    assert 'data-testid="revise"' not in page
    assert operator.get(revise_url).status_code == 404  # in review again: nothing to revise


def test_the_leader_returns_to_a_named_step(flow):
    u = flow.users
    case = submit(u.tianhe_operator)
    review_all(flow, case)
    client = client_for(u.leader)
    page = html(client.get(case_url(case)))
    assert re.findall(r'<option value="([a-z_]+)"', page.split('name="return_to"', 1)[1].split("</select>", 1)[0]) == [
        "applicant", "establishment", "finance", "hr"]
    response = client.post(reverse("workflow:case_act", args=[case.pk]), {
        "step": "leading_group", "action": "return", "return_to": "finance", "opinion": "请财政部门复核经费"})
    redirected_to(response, case_url(case))
    case.refresh_from_db()
    assert (case.status, case.stage_index) == ("in_review", 0)
    assert list(case.steps.filter(status="active").values_list("code", flat=True)) == ["finance"]
    page = html(client.get(case_url(case)))
    assert step_states(page) == {"establishment": "done", "finance": "current", "hr": "done",
                                 "leading_group": "returned"}
    assert [r for r in inbox_rows(html(client_for(u.finance).get(reverse("workflow:inbox"))))
            if case.number in r]


def test_the_trail_names_the_step_a_case_was_returned_to(flow):
    u = flow.users
    case = submit(u.tianhe_operator)
    review_all(flow, case)
    act(u.leader, case, "leading_group", action="return", opinion="请财政部门复核经费", return_to="finance")
    page = html(client_for(u.tianhe_operator).get(case_url(case)))
    item = next(li for li in re.findall(r"<li class=\"list-group-item\">(.*?)</li>", page, re.S)
                if "请财政部门复核经费" in li)
    assert "财政部门审核（经费）" in item and "：finance<" not in item


def test_overdue_steps_are_marked_and_come_first(flow):
    u = flow.users
    first = submit(u.tianhe_operator)
    late = submit(u.tianhe_operator)
    Step.objects.filter(case=late, code="establishment").update(due_on=timezone.localdate() - dt.timedelta(days=3))
    page = html(client_for(u.tianhe_reviewer).get(reverse("workflow:inbox")))
    rows = inbox_rows(page)
    assert len(rows) == 2 and inbox_count(page) == 2
    assert late.number in rows[0] and first.number in rows[1]
    assert 'data-testid="overdue"' in rows[0] and 'data-testid="overdue"' not in rows[1]
    assert 'class="table-danger"' in page.split(late.number)[0].rsplit("<tr", 1)[1]
    # the case page and the lists mark it too
    assert "text-bg-danger" in html(client_for(u.tianhe_reviewer).get(case_url(late))).split(
        'data-testid="step-establishment"')[1].split("</li>")[0]


# ---------------------------------------------------------------------------------- lists


def test_done_mine_and_all_cases_with_filters_and_export(flow):
    u = flow.users
    approved = submit(u.tianhe_operator, reason="窗口业务量增加（已批）")
    review_all(flow, approved)
    approved = act(u.leader, approved, "leading_group", opinion="同意，按程序招聘")
    assert approved.status == "approved"
    pending = submit(u.tianhe_operator, reason="另一份申请")
    other = submit(u.tianhe_reviewer, unit=flow.tianhe_unit.pk, reason="审核部门代为申请")

    mine = html(client_for(u.tianhe_operator).get(reverse("workflow:mine")))
    assert approved.number in mine and pending.number in mine and other.number not in mine
    assert approved.result_ref in mine

    done = html(client_for(u.leader).get(reverse("workflow:done")))
    assert approved.number in done and "同意，按程序招聘" in done and pending.number not in done

    client = client_for(u.tianhe_reviewer)
    url = reverse("workflow:case_list")

    def listed(**params) -> set[str]:
        page = html(client.get(url, params))
        return set(re.findall(r"SP-\d{6}-\d{4}-\d{5}", page.split('data-testid="case-table"', 1)[1]))

    assert listed() == {approved.number, pending.number, other.number}
    assert re.search(r'data-testid="total">3<', html(client.get(url)))
    assert listed(status="approved") == {approved.number}
    assert listed(status="in_review") == {pending.number, other.number}
    assert listed(status="withdrawn") == set()
    assert listed(q=pending.number) == {pending.number}
    assert listed(q=other.number[-5:]) == {other.number}  # part of a number
    assert listed(q="天河区测试局") == {approved.number, pending.number, other.number}  # the title names the unit
    assert listed(kind="cap_change") == set()
    assert set(re.findall(r"SP-\d{6}-\d{4}-\d{5}",
                          html(client_for(u.yuexiu_reviewer).get(url)))) == set()  # out of scope
    city = html(client_for(u.city_reviewer).get(url))
    assert approved.number in city  # the city sees its districts' cases

    rows = sheet_rows(client.get(url, {"export": "xlsx"}))
    cells = [str(c) for r in rows for c in r]
    for case in (approved, pending, other):
        assert case.number in cells
    approved_row = next(r for r in rows if approved.number in r)
    assert approved.result_ref in approved_row and "天河区测试局" in approved_row
    rows = sheet_rows(client.get(url, {"export": "xlsx", "status": "approved"}))
    numbers = {c for r in rows for c in r if isinstance(c, str) and c.startswith("SP-")}
    assert numbers == {approved.number}


def test_notifications_list_and_mark_read(flow):
    u = flow.users
    case = submit(u.tianhe_operator)
    client = client_for(u.finance)
    page = html(client.get(reverse("workflow:notifications")))
    assert case.number in page and "财政部门审核（经费）" in page
    assert unread_badge(page) == 1
    inbox = html(client.get(reverse("workflow:inbox")))
    assert 'data-testid="unread"' in inbox and case.number in inbox.split('data-testid="unread"')[1]

    response = client.post(reverse("workflow:notifications"))
    redirected_to(response, reverse("workflow:notifications"))
    assert not Notification.objects.filter(recipient=u.finance, read_at__isnull=True).exists()
    assert Notification.objects.filter(recipient=u.hr, read_at__isnull=True).count() == 1  # only mine
    page = html(client.get(reverse("workflow:notifications")))
    assert unread_badge(page) is None and case.number in page  # still listed, read
    assert 'data-testid="unread"' not in html(client.get(reverse("workflow:inbox")))
    assert case.number not in html(client_for(u.yuexiu_reviewer).get(reverse("workflow:notifications")))


# ---------------------------------------------------------------------------------- the printable form


def test_approval_form_pdf(flow):
    u = flow.users
    case = submit(u.tianhe_operator)
    act(u.tianhe_reviewer, case, "establishment", opinion="规模符合同意")
    url = reverse("workflow:case_pdf", args=[case.pk])
    response = client_for(u.tianhe_operator).get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert case.number in response["Content-Disposition"]
    assert client_for(u.yuexiu_reviewer).get(url).status_code == 404
    text = pdftotext(response.content)
    if text is not None:
        assert case.number in text and "规模符合同意" in text and "天河区测试局" in text


# ---------------------------------------------------------------------------------- processes


def test_process_pages(flow):
    u = flow.users
    client = client_for(u.tianhe_admin)
    page = html(client.get(reverse("workflow:process_list")))
    assert 'data-testid="process-hire"' in page and 'data-testid="process-cap_change"' in page
    assert "编外人员用人申请" in page and "编外人员规模上限调整申请" in page and "领导小组审定" in page
    edit_url = reverse("workflow:process_edit", args=["hire"])
    assert f'href="{edit_url}"' in page

    page = html(client.get(edit_url))
    assert "code: establishment" in page and "编制部门审核（规模）" in page and "leading_group" in page

    province = ProcessDefinition.objects.get(code="hire", jurisdiction__isnull=True)
    stages = province.definition["stages"]
    added = {"name": "区委办会签", "steps": [{
        "code": "party_office", "name": "区委办公室会签", "role": "issuing_office", "department": "区委办公室",
        "days": 3, "actions": ["approve", "return", "reject"], "return_to": ["applicant"]}]}
    definition = {"stages": [stages[0], added, *stages[1:]]}
    text = yaml.safe_dump(definition, allow_unicode=True, sort_keys=False)

    before = ProcessDefinition.objects.count()
    response = client.post(edit_url, {"name": "天河区编外人员用人申请", "definition": "stages: [",
                                      "source_document": "天河区编外人员管理办法"})
    html(response, 422)
    assert form_codes(response) == {"process_invalid"} and ProcessDefinition.objects.count() == before
    response = client.post(edit_url, {"name": "天河区编外人员用人申请", "source_document": "天河区编外人员管理办法",
                                      "definition": yaml.safe_dump({"stages": [{"name": "审核", "steps": []}]})})
    html(response, 422)
    assert ProcessDefinition.objects.count() == before

    response = client.post(edit_url, {"name": "天河区编外人员用人申请", "definition": text,
                                      "source_document": "天河区编外人员管理办法"})
    redirected_to(response, reverse("workflow:process_list"))
    new = ProcessDefinition.objects.get(code="hire", jurisdiction__code="440106")
    assert (new.version, new.is_current, new.definition, new.name, new.source_document, new.created_by) == (
        1, True, definition, "天河区编外人员用人申请", "天河区编外人员管理办法", u.tianhe_admin)
    assert wf.process_for("hire", flow.tianhe_unit.jurisdiction_path) == new
    page = html(client.get(reverse("workflow:process_list")))
    assert "区委办公室会签" in page and "天河区编外人员管理办法" in page

    assert client_for(u.tianhe_reviewer).get(edit_url).status_code == 403
    assert client_for(u.tianhe_reviewer).post(edit_url, {"name": "x", "definition": text,
                                                         "source_document": "x"}).status_code == 403
    assert client.get(reverse("workflow:process_edit", args=["bonus"])).status_code == 404
    assert ProcessDefinition.objects.filter(jurisdiction__code="440106").count() == 1
    assert client_for(u.tianhe_operator).get(reverse("workflow:process_list")).status_code == 403


# ---------------------------------------------------------------------------------- withdrawing


def test_withdrawn_case_refuses_later_decisions(flow):
    u = flow.users
    case = submit(u.tianhe_operator)
    withdraw_url = reverse("workflow:case_withdraw", args=[case.pk])

    before = state()
    redirected_to(client_for(u.tianhe_reviewer).post(withdraw_url, {"reason": "不是我的"}), case_url(case))
    assert state() == before  # only the applicant withdraws

    response = client_for(u.tianhe_operator).post(withdraw_url, {"reason": "需求取消"})
    redirected_to(response, case_url(case))
    case.refresh_from_db()
    assert case.status == CaseStatus.WITHDRAWN and not case.steps.filter(status="active").exists()
    assert case.events.get(kind="withdraw").opinion == "需求取消"
    page = html(client_for(u.tianhe_operator).get(case_url(case)))
    assert 'data-testid="withdraw"' not in page and "需求取消" in page
    assert set(step_states(page).values()) <= {"cancelled", "pending"}
    assert inbox_rows(html(client_for(u.tianhe_reviewer).get(reverse("workflow:inbox")))) == []


def test_acting_on_a_withdrawn_case_answers_case_closed(flow):
    u = flow.users
    case = submit(u.tianhe_operator)
    wf.case_withdraw(actor=u.tianhe_operator, case_id=case.pk, reason="需求取消")
    before = state()
    response = client_for(u.tianhe_reviewer).post(reverse("workflow:case_act", args=[case.pk]),
                                                  {"step": "establishment", "action": "approve", "opinion": "同意"})
    page = html(response, 422)
    assert state() == before
    assert escape(message_for("case_closed", status=CaseStatus.WITHDRAWN.label)) in page
    assert 'data-testid="decision"' not in page
