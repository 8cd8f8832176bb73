"""The coordinating bodies over the API: the registry (filters, paging), one body with members,
task groups, history and documents, a body by its code (422 for a wrong check character, 404
for a missing or out-of-scope one), the similar-bodies check and the six applications."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from bianzhi.bodies.models import Body, TaskGroup
from bianzhi.workflow.models import Case

from .conftest import SETUP
from .test_procedure import TODAY, run, setup_body, submit
from .test_views import make_body

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(client: Client, url: str, payload) -> object:
    return client.post(url, data=json.dumps(payload), content_type="application/json")


def error_codes(response) -> list[str]:
    return [e["code"] for e in response.json()["errors"]]


def test_registry_filters_and_paging(bodies_world):
    w = bodies_world
    a = make_body(w.tianhe_unit, "天河区安全生产委员会", members=w.units[:3])
    b = make_body(w.units[5], "天河区消防工作领导小组", members=w.units[2:9], kind="leading_group")
    c = make_body(w.tianhe_unit, "天河区旧联席会议", kind="joint_meeting", status="revoked")
    make_body(w.yuexiu_unit, "越秀区安全生产委员会", members=[w.yuexiu_unit])
    api = client_for(w.users.tianhe_reviewer)
    body = api.get("/api/v1/bodies").json()
    assert body["count"] == 3 and {i["code"] for i in body["items"]} == {a.code, b.code, c.code}
    item = next(i for i in body["items"] if i["code"] == b.code)
    assert (item["kind"], item["lead_unit"]["id"], item["member_count"], item["jurisdiction"]["code"],
            item["status"]) == ("leading_group", w.units[5].pk, 7, "440106", "active")
    assert [i["code"] for i in api.get("/api/v1/bodies", {"status": "revoked"}).json()["items"]] == [c.code]
    assert [i["code"] for i in api.get("/api/v1/bodies", {"kind": "leading_group"}).json()["items"]] == [b.code]
    assert {i["code"] for i in api.get("/api/v1/bodies", {"member_unit": w.units[2].pk}).json()["items"]} == {
        a.code, b.code}
    assert [i["code"] for i in api.get("/api/v1/bodies", {"lead_unit": w.units[5].pk}).json()["items"]] == [b.code]
    assert [i["code"] for i in api.get("/api/v1/bodies", {"q": "消防"}).json()["items"]] == [b.code]
    assert api.get("/api/v1/bodies", {"jurisdiction": "440104"}).json()["count"] == 0
    first = api.get("/api/v1/bodies", {"page_size": 2}).json()
    second = api.get("/api/v1/bodies", {"page_size": 2, "page": 2}).json()
    assert first["count"] == 3 and len(first["items"]) == 2 and len(second["items"]) == 1
    assert {i["code"] for i in first["items"] + second["items"]} == {a.code, b.code, c.code}
    assert client_for(w.users.city_reviewer).get("/api/v1/bodies", {"jurisdiction": "440104"}).json()["count"] == 1


def test_one_body_with_members_groups_history_and_documents(bodies_world):
    w = bodies_world
    body, setup_case = setup_body(w)
    TaskGroup.objects.create(body=body, name="危化品专项小组", lead_unit=w.units[1], valid_from=TODAY
                             ).members.set(w.units[1:3])
    change = run(w, submit(w, "body_members", body=body.code, members=[u.pk for u in w.units[1:6]], reason="调整"))
    api = client_for(w.users.tianhe_reviewer)
    data = api.get(f"/api/v1/bodies/{body.pk}").json()
    assert data["code"] == body.code and data["duties"] == SETUP["duties"]
    current = {m["unit"]["id"] for m in data["members"] if m["valid_to"] is None}
    past = {m["unit"]["id"] for m in data["members"] if m["valid_to"] is not None}
    assert current == {u.pk for u in w.units[1:6]} and past == {w.units[0].pk}
    assert data["task_groups"][0]["name"] == "危化品专项小组"
    assert {u["id"] for u in data["task_groups"][0]["members"]} == {w.units[1].pk, w.units[2].pk}
    numbers = [setup_case.result_ref.split()[1], change.result_ref.split()[1]]
    assert [(v["change"], v["document_number"]) for v in data["versions"]] == list(zip(["set_up", "members"], numbers, strict=True))
    assert [d["number"] for d in data["documents"]] == numbers
    assert data["set_up_document"] == numbers[0]
    by_code = api.get(f"/api/v1/bodies/by-code/{body.code.lower()}")
    assert by_code.status_code == 200 and by_code.json()["id"] == body.pk


def test_by_code_wrong_check_character_missing_and_out_of_scope(bodies_world):
    w = bodies_world
    body = make_body(w.tianhe_unit, "天河区安全生产委员会")
    wrong = body.code[:-1] + ("0" if body.code[-1] != "0" else "1")
    api = client_for(w.users.tianhe_reviewer)
    response = api.get(f"/api/v1/bodies/by-code/{wrong}")
    assert response.status_code == 422 and error_codes(response) == ["body_code_invalid"]
    assert error_codes(api.get("/api/v1/bodies/by-code/YX123")) == ["body_code_invalid"]
    from bianzhi.bodies.codes import make_code

    assert api.get(f"/api/v1/bodies/by-code/{make_code('440106', 2020, 77777)}").status_code == 404
    yuexiu = client_for(w.users.yuexiu_reviewer)
    missing = yuexiu.get(f"/api/v1/bodies/by-code/{make_code('440106', 2020, 77777)}")
    hidden = yuexiu.get(f"/api/v1/bodies/by-code/{body.code}")
    assert hidden.status_code == missing.status_code == 404 and hidden.json() == missing.json()
    assert yuexiu.get(f"/api/v1/bodies/{body.pk}").status_code == 404


def test_similar_bodies(bodies_world):
    w = bodies_world
    close = make_body(w.tianhe_unit, "天河区安全生产委员会", duties=SETUP["duties"])
    city = make_body(w.city_unit, "广州市安全生产委员会", duties="统筹全市安全生产工作。")
    yx = make_body(w.yuexiu_unit, "越秀区安全生产委员会", duties=SETUP["duties"])
    api = client_for(w.users.tianhe_reviewer)
    response = post(api, "/api/v1/bodies/similar", {"name": "天河区安全生产工作领导小组", "duties": SETUP["duties"],
                                                    "jurisdiction": "440106"})
    assert response.status_code == 200
    data = response.json()
    assert data["jurisdiction"] == "440106" and data["threshold"] == 0.35
    codes = [m["code"] for m in data["matches"]]
    assert codes[0] == close.code and city.code in codes and yx.code not in codes  # this level and the one above
    assert data["matches"][0]["close"] and data["matches"][0]["score"] > 0.5
    response = post(api, "/api/v1/bodies/similar", {"name": "x", "jurisdiction": "440104"})
    assert response.status_code == 404 and yx.code not in response.content.decode()
    assert post(api, "/api/v1/bodies/similar", {}).json()["matches"] == []


def test_applications(bodies_world):
    w = bodies_world
    api = client_for(w.users.tianhe_reviewer)
    payload = {**SETUP, "lead_unit": w.tianhe_unit.pk, "members": [u.pk for u in w.units[:3]]}
    response = post(api, "/api/v1/bodies/applications/body_setup", payload)
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["kind"] == "body_setup" and data["payload"]["kind"] == "committee"
    assert data["allowed"]["step"] is None and data["steps"][0]["code"] == "establishment"
    case = Case.objects.get(pk=data["id"])
    # the reviewer's reason travels with the decision over the API, too
    make_body(w.units[3], "天河区安全生产工作领导小组", duties=SETUP["duties"])
    reviewer2 = client_for(w.users.reviewer2)
    act = {"step": "establishment", "action": "approve", "opinion": "同意"}
    response = post(reviewer2, f"/api/v1/cases/{case.pk}/act", act)
    assert response.status_code == 422 and error_codes(response) == ["similarity_reason_required"]
    response = post(reviewer2, f"/api/v1/cases/{case.pk}/act", {**act, "extras": {"similarity_reason": "不同任务"}})
    assert response.status_code == 200 and response.json()["steps"][1]["state"] == "current"

    body = make_body(w.tianhe_unit, "天河区消防安全委员会", members=w.units[:2])
    response = post(api, "/api/v1/bodies/applications/body_rename",
                    {"body": body.code, "name": "天河区消防委员会", "reason": "规范名称"})
    assert response.status_code == 201 and response.json()["payload"] == {
        "body": body.code, "name": "天河区消防委员会", "reason": "规范名称"}
    before = Case.objects.count()
    wrong = body.code[:-1] + ("0" if body.code[-1] != "0" else "1")
    bad = [
        ("body_rename", {"body": wrong, "name": "新名", "reason": "x"}, ["body_code_invalid"]),
        ("body_revoke", {"body": body.code, "situation": "乱写", "reason": "x"}, ["invalid_choice"]),
        ("hire", {"unit": w.tianhe_unit.pk}, ["case_kind_unknown"]),
        ("body_nothing", {}, ["case_kind_unknown"]),
        ("body_setup", {**payload, "lead_unit": w.yuexiu_unit.pk}, ["unit_not_found"]),
    ]
    for kind, data, expected in bad:
        response = post(api, f"/api/v1/bodies/applications/{kind}", data)
        assert response.status_code == 422 and error_codes(response) == expected, (kind, response.json())
    response = api.post("/api/v1/bodies/applications/body_rename", data="not json", content_type="application/json")
    assert response.status_code == 422
    assert Case.objects.count() == before
    # who may not apply is refused; nothing is written
    assert post(client_for(w.users.leader), "/api/v1/bodies/applications/body_setup", payload).status_code == 403
    assert Client().get("/api/v1/bodies").status_code == 401
    assert Body.objects.filter(name=SETUP["name"]).count() == 0
