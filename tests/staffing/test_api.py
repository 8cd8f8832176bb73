"""编外人员 over the API (/api/v1/staffing): the same figures as the pages, scoped the same way.

Out-of-scope objects answer exactly like missing ones (404, one body), refused writes answer
422 with the service's codes and leave nothing behind, and ID numbers are only ever masked.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import timezone

from bianzhi.common.codes import make_resident_id
from bianzhi.common.errors import message_for
from bianzhi.common.models import AuditEvent
from bianzhi.staffing import pool, spells
from bianzhi.staffing.models import Baseline, BulkOperation, CapChange, HireAuthorisation, RuleItem, Spell
from tests.factories import clear_id

from .test_views import BASELINE_DATE, build_roster, build_towns

API = "/api/v1/staffing"
D = dt.date
NOT_FOUND_BODY = {
    "errors": [
        {"row": None, "column": None, "value": None, "code": "not_found", "message": message_for("not_found")}
    ]
}


@pytest.fixture
def roster(world, rules):
    """The roster of the page tests (see :func:`tests.staffing.test_views.build_roster`)."""
    return build_roster(world)


@pytest.fixture
def towns(world):
    return build_towns()


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def get(client: Client, path: str, **params):
    return client.get(f"{API}{path}", params)


def post(client: Client, path: str, body=None):
    return client.post(f"{API}{path}", data=json.dumps(body or {}), content_type="application/json")


def codes(response) -> list[str]:
    return sorted(e["code"] for e in response.json()["errors"])


def items(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["items"]


# --- roster ----------------------------------------------------------------------------------


def test_openapi_lists_the_staffing_paths(db):
    schema = Client().get("/api/v1/openapi.json").json()
    paths = {p.removeprefix("/api/v1"): set(ops) for p, ops in schema["paths"].items() if "/staffing" in p}
    assert paths == {
        "/staffing/roster": {"get", "post"},
        "/staffing/roster/{id}": {"get"},
        "/staffing/roster/{id}/exit": {"post"},
        "/staffing/baselines": {"get", "post"},
        "/staffing/baselines/{id}": {"get"},
        "/staffing/baselines/{id}/counts": {"get"},
        "/staffing/caps": {"get", "post"},
        "/staffing/authorisations": {"get", "post"},
        "/staffing/pool/totals": {"get"},
        "/staffing/pool/members": {"get"},
        "/staffing/pool/assignments": {"post"},
        "/staffing/bulk": {"get", "post"},
        "/staffing/bulk/{id}": {"get"},
        "/staffing/bulk/{id}/records": {"get"},
        "/staffing/bulk/{id}/apply": {"post"},
        "/staffing/bulk/{id}/cancel": {"post"},
        "/staffing/rules": {"get", "post"},
        "/staffing/rules/{id}/close": {"post"},
    }


def test_roster_list_is_scoped_paginated_and_labelled(roster):
    client = client_for(roster.world.users.tianhe_reviewer)
    response = get(client, "/roster", as_of="2024-06-30", page_size=3)
    body = response.json()
    assert body["count"] == 7 and len(body["items"]) == 3
    everything = items(get(client, "/roster", page_size=100))
    names = {i["person"]["name"] for i in everything}
    assert names == {"张三", "李四", "王五", "周九", "赵六", "吴十", "钱七", "孙八"}
    zhao = next(i for i in everything if i["person"]["name"] == "赵六")
    assert zhao["person"]["id_number_masked"] == roster.s.zhao.person.masked_id
    assert (
        zhao["situation_label"],
        zhao["post_class_label"],
        zhao["work_type_label"],
        zhao["key_post_label"],
    ) == ("劳动合同制聘用", "专业技术岗", "信息技术", "财务")
    assert zhao["unit"]["name"] == "天河区测试局"
    assert clear_id(roster.s.zhao.person) not in response.content.decode()
    assert {i["person"]["name"] for i in items(get(client, "/roster", situation="coordinator"))} == {
        "钱七",
        "孙八",
    }
    assert {i["person"]["name"] for i in items(get(client, "/roster", key_post="any"))} == {"赵六"}
    assert "赵六" not in {i["person"]["name"] for i in items(get(client, "/roster", key_post="none"))}
    assert items(get(client, "/roster", unit=roster.world.yuexiu_unit.pk)) == []


def test_roster_detail_history_hides_other_jurisdictions_and_404s_out_of_scope(roster):
    client = client_for(roster.world.users.tianhe_reviewer)
    body = get(client, f"/roster/{roster.s.zhou.pk}").json()
    assert [(h["visible"], h["hire_date"], h["leave_date"]) for h in body["history"]] == [
        (False, "2015-01-01", "2018-01-01"),
        (True, "2018-06-01", None),
    ]
    hidden = body["history"][0]
    assert hidden["id"] is None and hidden["unit"] is None and hidden["situation_label"] is None
    assert "越秀" not in json.dumps(body, ensure_ascii=False)
    body = get(client, f"/roster/{roster.s.zhao.pk}").json()
    assert [f["code"] for f in body["policy_flags"]] == ["key_post_banned"]
    for path in (f"/roster/{roster.s.yx.pk}", "/roster/999999"):
        response = get(client, path)
        assert response.status_code == 404 and response.json() == NOT_FOUND_BODY


def test_roster_create_needs_a_hire_authorisation(roster):
    world = roster.world
    client = client_for(world.users.tianhe_reviewer)
    CapChange.objects.create(unit=world.tianhe_child, cap=3, valid_from=D(2024, 1, 1))
    CapChange.objects.create(
        unit=world.tianhe_child, post_class="enforcement_auxiliary", cap=3, valid_from=D(2024, 1, 1)
    )
    payload = {
        "unit": world.tianhe_child.pk,
        "id_number": make_resident_id("440106", D(1996, 6, 6), 41),
        "name": "接口协管",
        "situation": "协管员/辅助人员",
        "post_class": "执法辅助岗",
        "work_type": "交通协管",
        "post_name": "交通协管员",
        "funding_source": "财政拨款",
        "hire_date": timezone.localdate().isoformat(),
    }
    spells_before, events_before = Spell.objects.count(), AuditEvent.objects.count()
    response = post(client, "/roster", payload)
    assert response.status_code == 422 and codes(response) == ["hire_authorisation_required"]
    assert (Spell.objects.count(), AuditEvent.objects.count()) == (spells_before, events_before)
    auth = spells.authorisation_create(
        actor=world.users.tianhe_reviewer,
        unit_id=world.tianhe_child.pk,
        post_class="enforcement_auxiliary",
        quantity=1,
        valid_from=D(2024, 1, 1),
    )
    response = post(client, "/roster", {**payload, "authorisation_number": auth.number})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["situation"], body["work_type"], body["authorisation_number"], body["source"]) == (
        "coordinator",
        "traffic",
        auth.number,
        "form",
    )
    assert "*" in body["person"]["id_number_masked"]
    # a unit of another district is refused like a missing one
    response = post(
        client,
        "/roster",
        {**payload, "unit": world.yuexiu_unit.pk, "id_number": make_resident_id("440106", D(1996, 6, 7), 43)},
    )
    assert response.status_code == 422 and "unit_not_found" in codes(response)


def test_roster_exit(roster):
    client = client_for(roster.world.users.tianhe_reviewer)
    record = roster.s.li
    response = post(client, f"/roster/{record.pk}/exit", {"leave_date": "2024-07-01", "exit_reason": "辞职"})
    assert response.status_code == 200
    assert (
        response.json()["leave_date"],
        response.json()["exit_reason"],
        response.json()["exit_reason_label"],
    ) == ("2024-07-01", "resigned", "辞职")
    assert AuditEvent.objects.filter(action="spell.exit", object_id=str(record.pk)).count() == 1
    response = post(client, f"/roster/{record.pk}/exit", {"leave_date": "2024-08-01", "exit_reason": "辞职"})
    assert response.status_code == 422 and codes(response) == ["spell_already_exited"]
    response = post(
        client, f"/roster/{roster.s.zhang.pk}/exit", {"leave_date": "2017-01-01", "exit_reason": "无"}
    )
    assert response.status_code == 422 and codes(response) == ["leave_not_after_hire", "unknown_exit_reason"]
    response = post(
        client, f"/roster/{roster.s.yx.pk}/exit", {"leave_date": "2024-07-01", "exit_reason": "辞职"}
    )
    assert response.status_code == 404 and response.json() == NOT_FOUND_BODY
    response = post(
        client_for(roster.world.users.tianhe_supervisor),
        f"/roster/{roster.s.zhang.pk}/exit",
        {"leave_date": "2024-07-01", "exit_reason": "辞职"},
    )
    assert response.status_code == 403


# --- baselines and caps ------------------------------------------------------------------------


def test_baselines_list_detail_counts_take(roster):
    world = roster.world
    city = client_for(world.users.city_reviewer)
    assert [b["jurisdiction"]["code"] for b in items(get(city, "/baselines"))] == ["440100"]
    body = get(city, f"/baselines/{roster.baseline.pk}").json()
    assert (body["as_of"], body["total"], body["is_current"]) == ("2019-12-31", 8, True)
    counts = {
        (c["unit"]["name"], c["situation_label"], c["post_class_label"]): c["count"]
        for c in items(get(city, f"/baselines/{roster.baseline.pk}/counts"))
    }
    assert counts[("天河区测试局", "劳动合同制聘用", "普通辅助岗")] == 3 and sum(counts.values()) == 8

    # the city's baseline covers 天河区: shown there with the 天河区 counts only
    tianhe = client_for(world.users.tianhe_reviewer)
    assert [(b["jurisdiction"]["code"], b["total"]) for b in items(get(tianhe, "/baselines"))] == [
        ("440100", 6)
    ]
    assert get(tianhe, f"/baselines/{roster.baseline.pk}").json()["total"] == 6
    counts = items(get(tianhe, f"/baselines/{roster.baseline.pk}/counts"))
    assert {c["unit"]["name"] for c in counts} == {"天河区测试局", "天河区测试局下属中心"}
    assert sum(c["count"] for c in counts) == 6
    response = post(tianhe, "/baselines", {"scope": "440106", "as_of": "2019-12-31"})
    assert response.status_code == 201 and response.json()["total"] == 6
    response = post(tianhe, "/baselines", {"scope": "440106", "as_of": "2020-12-31"})
    assert response.status_code == 422 and codes(response) == ["baseline_exists"]
    response = post(tianhe, "/baselines", {"scope": "440106", "as_of": "2020-12-31", "retake": True})
    assert response.status_code == 201 and response.json()["total"] == 7
    assert Baseline.objects.filter(jurisdiction__code="440106", is_current=True).count() == 1
    response = post(tianhe, "/baselines", {"scope": "440104", "as_of": "2019-12-31"})
    assert response.status_code == 422 and codes(response) == ["division_not_found"]


def test_caps_equal_the_pages_figures(roster):
    world = roster.world
    client = client_for(world.users.tianhe_reviewer)
    rows = {r["unit"]["name"]: r for r in items(get(client, "/caps", as_of="2024-06-30"))}
    assert set(rows) == {"天河区测试局", "天河区测试局下属中心"}
    a = rows["天河区测试局"]
    assert (a["baseline"], a["cap"], a["current"], a["headroom"], a["over"]) == (4, 4, 5, -1, True)
    b = rows["天河区测试局下属中心"]
    assert (b["baseline"], b["cap"], b["current"], b["headroom"], b["over"]) == (2, 2, 2, 0, False)
    by_class = {
        (r["unit"]["name"], r["post_class"]): (r["cap"], r["current"], r["over"])
        for r in items(get(client, "/caps", as_of="2024-06-30", by="class"))
    }
    assert by_class[("天河区测试局", "professional")] == (0, 1, True)
    assert by_class[("天河区测试局", "logistics")] == (1, 0, False)
    assert [r["unit"]["name"] for r in items(get(client, "/caps", as_of="2024-06-30", over_only=True))] == [
        "天河区测试局"
    ]

    response = post(client, "/caps", {"unit": world.tianhe_child.pk, "cap": 3, "valid_from": "2024-01-01"})
    assert response.status_code == 201 and response.json()["cap"] == 3
    rows = {r["unit"]["name"]: r for r in items(get(client, "/caps", as_of="2024-06-30"))}
    assert (rows["天河区测试局下属中心"]["cap"], rows["天河区测试局下属中心"]["headroom"]) == (3, 1)
    response = post(client, "/caps", {"unit": world.yuexiu_unit.pk, "cap": 3, "valid_from": "2024-01-01"})
    assert response.status_code == 422 and codes(response) == ["unit_not_found"]
    assert CapChange.objects.count() == 1


# --- hire authorisations --------------------------------------------------------------------------


def test_authorisations_list_and_create(roster):
    world = roster.world
    client = client_for(world.users.tianhe_reviewer)
    response = post(
        client,
        "/authorisations",
        {"unit": world.tianhe_unit.pk, "post_class": "普通辅助岗", "quantity": 2, "valid_from": "2024-01-01"},
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["post_class"], body["post_class_label"], body["quantity"], body["remaining"]) == (
        "general_auxiliary",
        "普通辅助岗",
        2,
        2,
    )
    spells.authorisation_create(
        actor=world.users.province_admin,
        unit_id=world.yuexiu_unit.pk,
        post_class="general_auxiliary",
        quantity=1,
        valid_from=D(2024, 1, 1),
    )
    assert [a["number"] for a in items(get(client, "/authorisations"))] == [body["number"]]
    response = post(
        client,
        "/authorisations",
        {"unit": world.tianhe_unit.pk, "post_class": "x", "quantity": 0, "valid_from": "2024-01-01"},
    )
    assert response.status_code == 422 and codes(response) == ["quantity_invalid", "unknown_post_class"]
    assert HireAuthorisation.objects.count() == 2
    response = post(
        client_for(world.users.tianhe_operator),
        "/authorisations",
        {"unit": world.tianhe_unit.pk, "post_class": "普通辅助岗", "quantity": 1, "valid_from": "2024-01-01"},
    )
    assert response.status_code == 403


# --- coordinator pool ------------------------------------------------------------------------------


def test_pool_totals_members_and_assign(roster, towns):
    world = roster.world
    pool.pool_assign(
        actor=world.users.province_admin,
        spell_id=roster.s.yx_coord.pk,
        town_code="440104001",
        valid_from=D(2024, 1, 1),
    )
    client = client_for(world.users.tianhe_reviewer)
    response = post(
        client,
        "/pool/assignments",
        {
            "spell": roster.s.qian.pk,
            "town": "440106001",
            "valid_from": "2024-01-01",
            "department": world.tianhe_unit.pk,
        },
    )
    assert response.status_code == 201
    assert (response.json()["town"], response.json()["department"]["name"]) == (
        {"code": "440106001", "name": "天河测试街道一"},
        "天河区测试局",
    )
    response = post(
        client,
        "/pool/assignments",
        {"spell": roster.s.yx_coord.pk, "town": "440106001", "valid_from": "2024-06-01"},
    )
    assert response.status_code == 422 and codes(response) == ["spell_not_found"]
    response = post(
        client,
        "/pool/assignments",
        {"spell": roster.s.sun.pk, "town": "440104001", "valid_from": "2024-06-01"},
    )
    assert response.status_code == 422 and codes(response) == ["division_not_found"]

    body = get(client, "/pool/totals", city="440100", as_of="2024-07-01").json()
    assert body["city"] == {"code": "440100", "name": "广州市"} and body["total"] == 2
    assert [
        (t["town"]["code"] if t["town"] else None, t["assigned"], t["count"]) for t in body["by_town"]
    ] == [("440106001", True, 1), (None, False, 1)]
    departments = {
        (d["department"]["name"] if d["department"] else None, d["assigned"]): d["count"]
        for d in body["by_department"]
    }
    assert departments == {("天河区测试局", True): 1, (None, False): 1}
    assert "越秀" not in json.dumps(body, ensure_ascii=False)
    members = {
        m["person"]["name"]: m for m in items(get(client, "/pool/members", city="440100", as_of="2024-07-01"))
    }
    assert set(members) == {"钱七", "孙八"}
    assert members["钱七"]["town"] == {"code": "440106001", "name": "天河测试街道一"}
    assert members["孙八"]["town"] is None and members["钱七"]["assigned_from"] == "2024-01-01"
    assert get(client, "/pool/totals", city="440300").status_code == 404  # 深圳市: not the caller's city


# --- bulk operations --------------------------------------------------------------------------------


def test_bulk_preview_records_apply_cancel(roster):
    world = roster.world
    client = client_for(world.users.tianhe_reviewer)
    today = timezone.localdate().isoformat()
    response = post(
        client,
        "/bulk",
        {
            "kind": "group_transfer",
            "leave_date": today,
            "unit": world.tianhe_child.pk,
            "criteria": {"situation": "协管员/辅助人员"},
            "receiver": "广州市环卫集团",
        },
    )
    assert response.status_code == 201, response.content
    op = response.json()
    assert (op["status"], op["count"], op["criteria"], op["exit_reason"]) == (
        "previewed",
        2,
        {"situation": "coordinator"},
        "group_transfer",
    )
    records = items(get(client, f"/bulk/{op['id']}/records"))
    assert {r["person"]["name"] for r in records} == {"钱七", "孙八"}
    response = post(client, f"/bulk/{op['id']}/apply", {"document_ref": ""})
    assert response.status_code == 422 and codes(response) == ["bulk_document_required"]
    response = post(client, f"/bulk/{op['id']}/apply", {"document_ref": "穗编〔2024〕8号"})
    assert response.status_code == 200 and response.json()["status"] == "applied"
    assert Spell.objects.filter(operation_id=op["id"], leave_date=timezone.localdate()).count() == 2
    assert [o["id"] for o in items(get(client, "/bulk"))] == [op["id"]]
    response = post(client, f"/bulk/{op['id']}/cancel")
    assert response.status_code == 422 and codes(response) == ["bulk_not_pending"]

    response = post(
        client, "/bulk", {"kind": "downsizing", "leave_date": today, "unit": world.tianhe_unit.pk}
    )
    second = response.json()
    assert response.status_code == 201 and second["count"] == 5
    assert post(client, f"/bulk/{second['id']}/cancel").json()["status"] == "cancelled"
    assert BulkOperation.objects.get(pk=second["id"]).status == "cancelled"

    other = client_for(world.users.yuexiu_reviewer)
    for path in (f"/bulk/{op['id']}", f"/bulk/{op['id']}/records"):
        assert get(other, path).json() == NOT_FOUND_BODY
    assert post(other, f"/bulk/{second['id']}/cancel").status_code == 404
    response = post(
        client, "/bulk", {"kind": "downsizing", "leave_date": today, "unit": world.yuexiu_unit.pk}
    )
    assert response.status_code == 422 and codes(response) == ["unit_not_found"]


# --- rule tables ---------------------------------------------------------------------------------------


def test_rules_list_add_close(roster):
    world = roster.world
    client = client_for(world.users.tianhe_admin)
    rows = items(get(client, "/rules", table="situation", as_of="2024-06-30"))
    assert [r["name"] for r in rows] == [
        "劳动合同制聘用",
        "劳务派遣",
        "协管员/辅助人员",
        "退休返聘",
        "其他临时用工",
    ]
    assert {r["origin"] for r in rows} == {"province"}
    response = post(
        client,
        "/rules",
        {
            "table": "post_class",
            "code": "general_auxiliary",
            "valid_from": "2024-01-01",
            "jurisdiction": "440106",
            "policy": "reduce",
            "source_document": "天河区编外人员管理补充规定",
        },
    )
    assert response.status_code == 201, response.content
    local = response.json()
    assert (local["origin"], local["jurisdiction"]["code"], local["policy"]) == ("local", "440106", "reduce")
    row = next(
        r
        for r in items(get(client, "/rules", table="post_class", as_of="2024-06-30"))
        if r["code"] == "general_auxiliary"
    )
    assert (row["origin"], row["policy"]) == ("local", "reduce")
    response = post(
        client,
        "/rules",
        {
            "table": "post_class",
            "code": "general_auxiliary",
            "valid_from": "2024-01-01",
            "jurisdiction": "440106",
            "policy": "hold_total",
            "source_document": "x",
        },
    )
    assert response.status_code == 422 and "rule_not_stricter" in codes(response)
    response = post(client, f"/rules/{local['id']}/close", {"valid_to": "2025-01-01"})
    assert response.status_code == 200 and response.json()["valid_to"] == "2025-01-01"
    row = next(
        r
        for r in items(get(client, "/rules", table="post_class", as_of="2025-06-30"))
        if r["code"] == "general_auxiliary"
    )
    assert (row["origin"], row["policy"]) == ("province", "hold_total")
    yx = RuleItem.objects.create(
        table="key_post",
        code="yx",
        name="越秀专项",
        jurisdiction=world.yuexiu_unit.jurisdiction,
        jurisdiction_path=world.yuexiu_unit.jurisdiction_path,
        valid_from=D(2024, 1, 1),
        source_document="越秀",
    )
    assert post(client, f"/rules/{yx.pk}/close", {"valid_to": "2025-01-01"}).json() == NOT_FOUND_BODY
    assert "越秀" not in get(client, "/rules", page_size=100).content.decode()
    assert (
        post(
            client_for(world.users.tianhe_reviewer),
            "/rules",
            {
                "table": "key_post",
                "code": "z",
                "name": "z",
                "valid_from": "2024-01-01",
                "jurisdiction": "440106",
                "source_document": "x",
            },
        ).status_code
        == 403
    )


@pytest.mark.parametrize("path", ["/roster", "/baselines", "/caps", "/pool/totals", "/bulk", "/rules"])
def test_unauthenticated_requests_answer_401(db, path):
    response = Client().get(f"{API}{path}")
    assert response.status_code == 401 and [e["code"] for e in response.json()["errors"]] == [
        "not_authenticated"
    ]


def test_baseline_date_is_the_rule_setting(roster):
    assert roster.baseline.as_of == BASELINE_DATE
