"""Applications and approvals over the API (/api/v1/cases, /api/v1/processes,
/api/v1/notifications).

Values are checked, not only status codes: refused calls answer 422 with the service's codes
and write nothing, a case outside the caller's jurisdiction answers exactly like a missing
one, and the final approval leaves a hire authorisation whose number is the case's result.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import timezone

from bianzhi.common.errors import message_for
from bianzhi.common.models import AuditEvent
from bianzhi.staffing.models import HireAuthorisation
from bianzhi.workflow import services as wf
from bianzhi.workflow.models import Case, CaseEvent, Notification, ProcessDefinition, Step
from tests.workflow.conftest import HIRE

API = "/api/v1"
NOT_FOUND_BODY = {
    "errors": [
        {"row": None, "column": None, "value": None, "code": "not_found", "message": message_for("not_found")}
    ]
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


def get(client: Client, path: str, **params):
    return client.get(f"{API}{path}", params)


def post(client: Client, path: str, body=None):
    return client.post(f"{API}{path}", data=json.dumps(body or {}), content_type="application/json")


def codes(response) -> list[str]:
    assert response.status_code == 422, (response.status_code, response.content)
    return sorted(e["code"] for e in response.json()["errors"])


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, (response.status_code, response.content)
    return response.json()


def items(response) -> list[dict]:
    return ok(response)["items"]


def state():
    """Everything the engine may write, to show that a refused call wrote nothing."""
    return (
        list(Case.objects.order_by("id").values_list("id", "status", "round", "stage_index", "result_ref",
                                                     "payload")),
        list(Step.objects.order_by("id").values_list("id", "status", "actor_id", "opinion")),
        CaseEvent.objects.count(), Notification.objects.count(), AuditEvent.objects.count(),
        HireAuthorisation.objects.count(), ProcessDefinition.objects.count(),
    )


def states(body: dict) -> dict[str, str]:
    return {s["code"]: s["state"] for s in body["steps"]}


def submitted(flow, **changes) -> dict:
    return ok(post(client_for(flow.users.tianhe_operator), "/cases/hire", {**HIRE, **changes}), 201)


def new_case(flow, actor=None, **changes) -> Case:
    """A case submitted through the service (for tests about something else than the submit)."""
    return wf.case_submit(actor=actor or flow.users.tianhe_operator, kind="hire", data={**HIRE, **changes})


def decide(user, case, step, action="approve", opinion="同意", **kw) -> Case:
    return wf.case_act(actor=user, case_id=case.pk, step=step, action=action, opinion=opinion, **kw)


def act(user, case_id: int, step: str, action: str = "approve", opinion: str = "同意", **extra):
    return post(client_for(user), f"/cases/{case_id}/act",
                {"step": step, "action": action, "opinion": opinion, **extra})




# ---------------------------------------------------------------------------------- submit


def test_openapi_lists_the_approval_paths(db):
    schema = Client().get(f"{API}/openapi.json").json()
    paths = {p.removeprefix("/api/v1"): set(ops) for p, ops in schema["paths"].items()
             if p.startswith(("/api/v1/cases", "/api/v1/processes", "/api/v1/notifications"))}
    assert paths == {
        "/cases": {"get"}, "/cases/inbox": {"get"}, "/cases/mine": {"get"}, "/cases/{id}": {"get"},
        "/cases/hire": {"post"}, "/cases/cap-change": {"post"}, "/cases/{id}/act": {"post"},
        "/cases/{id}/withdraw": {"post"}, "/cases/{id}/resubmit": {"post"},
        "/processes": {"get", "post"}, "/notifications": {"get"}, "/notifications/read": {"post"},
    }


def test_submit_a_hire_application(flow):
    body = submitted(flow, quantity=2, post_names=["窗口服务员", "导办员"])
    case = Case.objects.get()
    assert body["id"] == case.pk
    assert body["number"] == case.number == f"SP-440106-{timezone.localdate().year}-00001"
    assert (body["status"], body["kind"], body["round"], body["jurisdiction"], body["applicant"]) == (
        "in_review", "hire", 1, "440106", "th_operator")
    assert body["unit"]["name"] == "天河区测试局" and body["unit"]["id"] == flow.tianhe_unit.pk
    assert (body["result_ref"], body["decided_at"], body["process_version"]) == ("", None, 1)
    assert states(body) == {"establishment": "current", "finance": "current", "hr": "current",
                            "leading_group": "pending"}
    assert {s["code"]: s["department"] for s in body["steps"]}["finance"] == "财政部门"
    assert [f["value"] for f in body["facts"]] == [
        "天河区测试局", "劳动合同制聘用", "普通辅助岗", "窗口服务", "2", "窗口服务员、导办员", "财政拨款", "4200.00",
        "窗口业务量增加"]
    assert body["payload"] == {
        "unit": flow.tianhe_unit.pk, "situation": "labour_contract", "post_class": "general_auxiliary",
        "work_type": "counter_service", "quantity": 2, "post_names": ["窗口服务员", "导办员"],
        "funding_source": "fiscal", "monthly_cost": "4200.00", "reason": "窗口业务量增加"}
    assert [(e["seq"], e["kind"], e["actor"]) for e in body["events"]] == [(1, "submit", "th_operator")]
    assert body["allowed"] == {"step": None, "actions": [], "return_to": [], "opinion_required": False,
                               "can_withdraw": True, "can_revise": False}
    # what the establishment reviewer may do
    seen = ok(get(client_for(flow.users.tianhe_reviewer), f"/cases/{case.pk}"))
    assert seen["allowed"] == {"step": "establishment", "actions": ["approve", "return", "reject"],
                               "return_to": ["applicant"], "opinion_required": True, "can_withdraw": False,
                               "can_revise": False}
    # the city above sees it too
    assert ok(get(client_for(flow.users.city_reviewer), f"/cases/{case.pk}"))["number"] == case.number


@pytest.mark.parametrize(("changes", "expected"), [
    ({"quantity": 0}, ["quantity_invalid"]),
    ({"post_names": ["财务助理"]}, ["key_post_banned"]),
    ({"quantity": 3}, ["cap_exceeded", "class_cap_exceeded"]),
    ({"situation": "合同工", "reason": ""}, ["reason_required", "unknown_situation"]),
])
def test_bad_applications_answer_422_and_write_nothing(flow, changes, expected):
    before = state()
    response = post(client_for(flow.users.tianhe_operator), "/cases/hire", {**HIRE, **changes})
    assert codes(response) == expected
    assert state() == before and Case.objects.count() == 0


def test_submit_needs_the_permission_and_a_unit_in_scope(flow):
    u = flow.users
    before = state()
    response = post(client_for(u.finance), "/cases/hire", {**HIRE, "unit": flow.tianhe_unit.pk})
    assert response.status_code == 403 and response.json()["errors"][0]["code"] == "permission_denied"
    assert codes(post(client_for(u.tianhe_reviewer), "/cases/hire", {**HIRE, "unit": flow.yuexiu_unit.pk})) == [
        "unit_not_found"]
    response = post(client_for(u.tianhe_operator), "/cases/hire", {"situation": "劳动合同制聘用"})
    assert set(codes(response)) == {"required"} and {e["column"] for e in response.json()["errors"]} == {
        "post_class", "work_type", "quantity", "post_names", "funding_source", "reason"}
    assert state() == before
    assert Client().get(f"{API}/cases").status_code == 401


# ---------------------------------------------------------------------------------- inbox and decisions


def test_inbox_lists_my_pending_steps_overdue_first(flow):
    u = flow.users
    first = new_case(flow)
    inbox = ok(get(client_for(u.tianhe_reviewer), "/cases/inbox"))
    assert [(i["case"]["number"], i["step"], i["department"], i["overdue"]) for i in inbox] == [
        (first.number, "establishment", "机构编制部门", False)]
    assert inbox[0]["due_on"] == Step.objects.get(case=first, code="establishment").due_on.isoformat()
    assert inbox[0]["case"]["unit"]["name"] == "天河区测试局" and inbox[0]["case"]["status"] == "in_review"
    for other in (u.leader, u.tianhe_operator, u.yuexiu_reviewer, u.city_reviewer):
        assert ok(get(client_for(other), "/cases/inbox")) == [], other

    late = new_case(flow, reason="第二份申请")
    Step.objects.filter(case=late, code="establishment").update(due_on=timezone.localdate() - dt.timedelta(days=2))
    inbox = ok(get(client_for(u.tianhe_reviewer), "/cases/inbox"))
    assert [(i["case"]["number"], i["overdue"]) for i in inbox] == [(late.number, True), (first.number, False)]

    decide(u.tianhe_reviewer, first, "establishment")
    assert [i["case"]["number"] for i in ok(get(client_for(u.tianhe_reviewer), "/cases/inbox"))] == [late.number]
    assert [i["case"]["number"] for i in ok(get(client_for(u.reviewer2), "/cases/inbox"))] == [late.number]


def test_the_whole_approval_over_the_api(flow):
    u = flow.users
    case = submitted(flow)
    body = ok(act(u.tianhe_reviewer, case["id"], "establishment", opinion="规模符合"))
    assert states(body)["establishment"] == "done" and body["status"] == "in_review"
    done = next(s for s in body["steps"] if s["code"] == "establishment")
    assert (done["actor"], done["opinion"]) == ("th_reviewer", "规模符合")
    ok(act(u.finance, case["id"], "finance", opinion="经费有保障"))
    body = ok(act(u.hr, case["id"], "hr", opinion="岗位合规"))
    assert states(body) == {"establishment": "done", "finance": "done", "hr": "done", "leading_group": "current"}
    assert [i["step"] for i in ok(get(client_for(u.leader), "/cases/inbox"))] == ["leading_group"]

    body = ok(act(u.leader, case["id"], "leading_group", opinion="同意，按程序招聘"))
    assert body["status"] == "approved" and body["result_ref"].startswith("YG-440106-")
    assert body["decided_at"] is not None and states(body)["leading_group"] == "done"
    auth = HireAuthorisation.objects.get(number=body["result_ref"])
    assert (auth.unit, auth.quantity, auth.post_class, auth.document_ref) == (
        flow.tianhe_unit, 1, "general_auxiliary", case["number"])
    assert [e["kind"] for e in body["events"]] == ["submit", "approve", "approve", "approve", "approve", "decide"]
    assert body["events"][-2]["opinion"] == "同意，按程序招聘"
    assert ok(get(client_for(u.tianhe_reviewer), "/cases", status="approved"))["count"] == 1
    assert codes(act(u.leader, case["id"], "leading_group")) == ["case_closed"]


def test_refused_decisions_answer_422_and_change_nothing(flow):
    u = flow.users
    case = new_case(flow)
    before = state()
    assert codes(act(u.leader, case.pk, "leading_group")) == ["step_not_active"]  # out of turn
    assert codes(act(u.tianhe_operator, case.pk, "establishment")) == ["applicant_cannot_decide"]
    assert codes(act(u.finance, case.pk, "establishment")) == ["step_not_yours"]
    assert codes(act(u.city_leader, case.pk, "hr")) == ["step_not_yours"]
    assert codes(act(u.tianhe_reviewer, case.pk, "establishment", opinion="")) == ["opinion_required"]
    assert codes(act(u.tianhe_reviewer, case.pk, "establishment", action="return", opinion="改",
                     return_to="hr")) == ["return_target_invalid"]
    response = act(u.tianhe_reviewer, case.pk, "establishment", action="escalate")
    assert codes(response) == ["invalid_choice"] and response.json()["errors"][0]["column"] == "action"
    assert state() == before

    decide(u.tianhe_reviewer, case, "establishment")
    before = state()
    assert codes(act(u.tianhe_reviewer, case.pk, "establishment")) == ["step_already_decided"]  # twice
    assert codes(act(u.reviewer2, case.pk, "establishment")) == ["step_already_decided"]
    assert state() == before

    for user, step in ((u.finance, "finance"), (u.hr, "hr"), (u.leader, "leading_group")):
        decide(user, case, step)
    before = state()
    assert codes(act(u.leader, case.pk, "leading_group")) == ["case_closed"]
    assert state() == before


def test_another_jurisdiction_sees_the_case_as_missing(flow):
    u = flow.users
    case = new_case(flow)
    outsider = client_for(u.yuexiu_leader)
    before = state()
    for path in (f"/cases/{case.pk}", "/cases/999999"):
        response = get(outsider, path)
        assert response.status_code == 404 and response.json() == NOT_FOUND_BODY, path
        response = post(outsider, f"{path}/act", {"step": "establishment", "action": "approve", "opinion": "同意"})
        assert response.status_code == 404 and response.json() == NOT_FOUND_BODY, path
        for action in ("withdraw", "resubmit"):
            response = post(client_for(u.yuexiu_reviewer), f"{path}/{action}", {})
            assert response.status_code == 404 and response.json() == NOT_FOUND_BODY, (path, action)
    assert get(outsider, f"/cases/{case.pk}").content == get(outsider, "/cases/999999").content
    assert ok(get(outsider, "/cases"))["count"] == 0 and ok(get(outsider, "/cases/inbox")) == []
    assert state() == before
    assert [c["number"] for c in items(get(client_for(u.city_reviewer), "/cases"))] == [case.number]


# ---------------------------------------------------------------------------------- withdraw and resubmit


def test_withdraw_over_the_api(flow):
    u = flow.users
    case = new_case(flow)
    body = ok(post(client_for(u.tianhe_operator), f"/cases/{case.pk}/withdraw", {"reason": "需求取消"}))
    assert body["status"] == "withdrawn" and body["decided_at"] is not None
    assert set(states(body).values()) == {"cancelled", "pending"}
    assert body["events"][-1]["kind"] == "withdraw" and body["events"][-1]["opinion"] == "需求取消"
    assert body["allowed"]["can_withdraw"] is False


def test_withdraw_refusals_and_the_closed_case(flow):
    u = flow.users
    case = new_case(flow)
    before = state()
    assert codes(post(client_for(u.tianhe_reviewer), f"/cases/{case.pk}/withdraw", {"reason": "x"})) == [
        "not_applicant"]
    assert state() == before
    wf.case_withdraw(actor=u.tianhe_operator, case_id=case.pk, reason="需求取消")
    before = state()
    assert codes(act(u.tianhe_reviewer, case.pk, "establishment")) == ["case_closed"]
    assert codes(post(client_for(u.tianhe_operator), f"/cases/{case.pk}/withdraw", {})) == ["case_closed"]
    assert codes(post(client_for(u.tianhe_operator), f"/cases/{case.pk}/resubmit", {})) == ["case_not_returned"]
    assert state() == before
    listed = items(get(client_for(u.tianhe_reviewer), "/cases", status="withdrawn"))
    assert [(c["number"], c["status"]) for c in listed] == [(case.number, "withdrawn")]


def test_return_and_resubmit_over_the_api(flow):
    u = flow.users
    case = submitted(flow)
    ok(act(u.tianhe_reviewer, case["id"], "establishment"))
    body = ok(act(u.finance, case["id"], "finance", action="return", opinion="请补充经费测算",
                  return_to="applicant"))
    assert body["status"] == "returned"
    assert states(body) == {"establishment": "done", "finance": "returned", "hr": "cancelled",
                            "leading_group": "pending"}
    operator = client_for(u.tianhe_operator)
    mine = ok(get(operator, f"/cases/{case['id']}"))
    assert (mine["allowed"]["can_revise"], mine["allowed"]["can_withdraw"]) == (True, True)
    body = ok(post(operator, f"/cases/{case['id']}/resubmit",
                   {"changes": {"monthly_cost": "4300"}, "note": "已补充经费测算"}))
    assert (body["status"], body["round"], body["payload"]["monthly_cost"]) == ("in_review", 2, "4300.00")
    assert states(body) == {"establishment": "current", "finance": "current", "hr": "current",
                            "leading_group": "pending"}
    assert body["events"][-1]["kind"] == "resubmit" and body["events"][-1]["opinion"] == "已补充经费测算"


def test_resubmit_refusals(flow):
    u = flow.users
    case = new_case(flow)
    operator = client_for(u.tianhe_operator)
    before = state()
    assert codes(post(operator, f"/cases/{case.pk}/resubmit", {"changes": {"monthly_cost": "4300"}})) == [
        "case_not_returned"]
    assert state() == before
    decide(u.finance, case, "finance", action="return", opinion="请补充经费测算", return_to="applicant")
    before = state()
    assert codes(post(client_for(u.tianhe_reviewer), f"/cases/{case.pk}/resubmit", {})) == ["not_applicant"]
    assert codes(post(operator, f"/cases/{case.pk}/resubmit", {"changes": {"quantity": 0}})) == [
        "quantity_invalid"]
    assert codes(post(operator, f"/cases/{case.pk}/resubmit", {"changes": {"post_names": ["出纳"]}})) == [
        "key_post_banned"]
    assert state() == before
    assert [(c["number"], c["status"]) for c in items(get(operator, "/cases/mine"))] == [(case.number, "returned")]


# ---------------------------------------------------------------------------------- lists


def test_cases_list_filters_and_counts(flow):
    u = flow.users
    approved = new_case(flow)
    for user, step in ((u.tianhe_reviewer, "establishment"), (u.finance, "finance"), (u.hr, "hr"),
                       (u.leader, "leading_group")):
        approved = decide(user, approved, step)
    withdrawn = new_case(flow, reason="重报")
    wf.case_withdraw(actor=u.tianhe_operator, case_id=withdrawn.pk, reason="重报")
    pending = new_case(flow, reason="重新申请")
    client = client_for(u.tianhe_reviewer)
    assert [c["number"] for c in items(get(client, "/cases"))] == [pending.number, withdrawn.number,
                                                                    approved.number]
    body = ok(get(client, "/cases", status="approved"))
    assert body["count"] == 1 and body["items"][0]["number"] == approved.number
    assert body["items"][0]["result_ref"] == approved.result_ref and approved.result_ref.startswith("YG-440106-")
    assert body["items"][0]["decided_at"] is not None and body["items"][0]["process_version"] == 1
    assert ok(get(client, "/cases", status="in_review"))["count"] == 1
    assert [c["number"] for c in items(get(client, "/cases", status="withdrawn"))] == [withdrawn.number]
    assert [c["number"] for c in items(get(client, "/cases", q=pending.number))] == [pending.number]
    assert ok(get(client, "/cases", unit=flow.tianhe_child.pk))["count"] == 0
    assert ok(get(client, "/cases", unit=flow.tianhe_unit.pk))["count"] == 3
    assert ok(get(client, "/cases", kind="cap_change"))["count"] == 0
    assert codes(get(client, "/cases", status="lost")) == ["invalid_choice"]
    page = ok(get(client, "/cases", page_size=2, page=2))
    assert page["count"] == 3 and [c["number"] for c in page["items"]] == [approved.number]
    assert ok(get(client_for(u.tianhe_operator), "/cases/mine"))["count"] == 3
    assert ok(get(client, "/cases/mine"))["count"] == 0


# ---------------------------------------------------------------------------------- processes


def _definition() -> dict:
    province = ProcessDefinition.objects.get(code="hire", jurisdiction__isnull=True)
    stages = list(province.definition["stages"])
    stages.insert(1, {"name": "区委办会签", "steps": [{
        "code": "party_office", "name": "区委办公室会签", "role": "issuing_office", "department": "区委办公室",
        "days": 3, "actions": ["approve", "return", "reject"], "return_to": ["applicant"]}]})
    return {"stages": stages}


def test_processes_list_and_define(flow):
    u = flow.users
    listed = ok(get(client_for(u.tianhe_reviewer), "/processes"))
    assert sorted((p["code"], p["jurisdiction"], p["version"]) for p in listed) == [
        ("body_change", "", 1), ("cap_change", "", 1), ("funding_plan", "", 1), ("hire", "", 1)]
    hire = next(p for p in listed if p["code"] == "hire")
    assert [s["code"] for st in hire["definition"]["stages"] for s in st["steps"]] == [
        "establishment", "finance", "hr", "leading_group"]
    assert get(client_for(u.tianhe_operator), "/processes").status_code == 403

    definition = _definition()
    body = {"code": "hire", "jurisdiction": "440106", "definition": definition,
            "source_document": "天河区编外人员管理办法"}
    before = state()
    response = post(client_for(u.tianhe_reviewer), "/processes", body)
    assert response.status_code == 403 and response.json()["errors"][0]["code"] == "permission_denied"
    admin = client_for(u.tianhe_admin)
    assert codes(post(admin, "/processes", {**body, "jurisdiction": "440104"})) == ["division_not_found"]
    assert codes(post(admin, "/processes", {**body, "code": "bonus"})) == ["process_not_found"]
    assert codes(post(admin, "/processes", {**body, "definition": {"stages": []}})) == ["process_invalid"]
    assert codes(post(admin, "/processes", {**body, "source_document": " "})) == ["process_invalid"]
    assert state() == before

    created = ok(post(admin, "/processes", body), 201)
    assert (created["code"], created["jurisdiction"], created["version"], created["name"]) == (
        "hire", "440106", 1, "编外人员用人申请")
    assert created["definition"] == definition and created["source_document"] == "天河区编外人员管理办法"
    listed = ok(get(admin, "/processes"))
    assert sorted((p["code"], p["jurisdiction"], p["version"]) for p in listed) == [
        ("body_change", "", 1), ("cap_change", "", 1), ("funding_plan", "", 1), ("hire", "", 1), ("hire", "440106", 1)]
    assert sorted((p["code"], p["jurisdiction"]) for p in ok(get(client_for(u.yuexiu_reviewer), "/processes"))) == [
        ("body_change", ""), ("cap_change", ""), ("funding_plan", ""), ("hire", "")]
    again = ok(post(admin, "/processes", {**body, "name": "天河区用人申请"}), 201)
    assert (again["version"], again["name"]) == (2, "天河区用人申请")
    assert ProcessDefinition.objects.get(pk=created["id"]).is_current is False

    # a new application of 天河区 runs the district's version
    case = new_case(flow)
    assert case.process_id == again["id"]
    assert set(case.steps.values_list("code", flat=True)) == {"establishment", "finance", "hr"}


# ---------------------------------------------------------------------------------- notifications


def test_notifications_list_and_read(flow):
    u = flow.users
    case = new_case(flow)
    finance = client_for(u.finance)
    listed = items(get(finance, "/notifications"))
    assert [(n["case"], n["case_number"], n["kind"], n["step_name"], n["read_at"]) for n in listed] == [
        (case.pk, case.number, "assigned", "财政部门审核（经费）", None)]
    assert ok(get(finance, "/notifications", unread="true"))["count"] == 1

    decide(u.tianhe_reviewer, case, "establishment")
    decide(u.finance, case, "finance", action="return", opinion="请补充", return_to="applicant")
    operator = client_for(u.tianhe_operator)
    returned = items(get(operator, "/notifications"))
    assert [(n["case_number"], n["kind"], n["step_name"]) for n in returned] == [
        (case.number, "returned", "财政部门审核（经费）")]

    assert ok(post(finance, "/notifications/read", {"ids": [returned[0]["id"]]})) == {"marked": 0}  # not mine
    assert ok(post(finance, "/notifications/read", {"ids": [listed[0]["id"]]})) == {"marked": 1}
    assert ok(post(finance, "/notifications/read", {"ids": [listed[0]["id"]]})) == {"marked": 0}
    assert ok(get(finance, "/notifications", unread="true"))["count"] == 0
    assert items(get(finance, "/notifications"))[0]["read_at"] is not None
    assert ok(post(operator, "/notifications/read", {})) == {"marked": 1}  # all of mine
    assert Notification.objects.filter(recipient=u.tianhe_operator, read_at__isnull=True).count() == 0
    assert Notification.objects.filter(recipient=u.hr, read_at__isnull=True).count() == 1
    assert ok(get(client_for(u.yuexiu_reviewer), "/notifications"))["count"] == 0
