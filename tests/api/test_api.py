"""The REST API under /api/v1/: scoping, permissions, error bodies, history, audit.

Values are checked, not only status codes: out-of-scope objects must answer exactly like
missing ones, refused writes must leave no row and no audit event behind.
"""

import datetime as dt
import json

import pytest
from django.test import Client

from bianzhi.common.errors import message_for
from bianzhi.common.models import AuditEvent
from bianzhi.divisions.models import Division
from bianzhi.orgs.models import EstablishmentQuota, Person, Unit, UnitVersion

from ..factories import next_uscc

API = "/api/v1"
NOT_FOUND_BODY = {"errors": [{"row": None, "column": None, "value": None, "code": "not_found",
                              "message": message_for("not_found")}]}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def audit_rows():
    return AuditEvent.objects.exclude(action="divisions.load")


def codes(response) -> list[str]:
    return [e["code"] for e in response.json()["errors"]]


def unit_payload(**changes):
    payload = {
        "uscc": next_uscc("440106"), "name": "天河区接口新设中心", "category": "public_institution",
        "funding_form": "full", "jurisdiction": "440106", "set_up_on": "2020-01-01",
    }
    payload.update(changes)
    return payload


def post(client: Client, path: str, body, method: str = "post"):
    return getattr(client, method)(f"{API}{path}", data=json.dumps(body), content_type="application/json")


# --- authentication, OpenAPI -------------------------------------------------------------


@pytest.mark.parametrize("method,path", [
    ("get", "/me"), ("get", "/units"), ("get", "/units/1"), ("post", "/units"), ("get", "/audit"),
    ("get", "/people"), ("get", "/divisions"), ("get", "/users"),
])
def test_unauthenticated_requests_answer_401(world, method, path):
    response = getattr(Client(), method)(f"{API}{path}")
    assert response.status_code == 401
    assert codes(response) == ["not_authenticated"]


def test_openapi_json_lists_every_path(db):
    response = Client().get(f"{API}/openapi.json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    expected = {
        "/me": {"get"}, "/users": {"get", "post"},
        "/divisions": {"get"}, "/divisions/{code}": {"get"}, "/divisions/{code}/towns": {"post"},
        "/units": {"get", "post"}, "/units/{id}": {"get"}, "/units/{id}/history": {"get"},
        "/units/{id}/establishment": {"get"}, "/units/as-of": {"get"}, "/units/{id}/rename": {"post"},
        "/units/{id}/abolish": {"post"}, "/units/merge": {"post"},
        "/units/{id}/establishment/{kind}": {"put"}, "/establishment": {"get"},
        "/people": {"get", "post"}, "/people/{id}": {"get"},
        "/audit": {"get"}, "/audit/{seq}": {"get"},
    }
    paths = {p.removeprefix(API): set(ops) for p, ops in schema["paths"].items()}
    for path, methods in expected.items():
        assert methods <= paths.get(path, set()), path
    # error answers are documented with the shared error schema
    unit_get = schema["paths"][f"{API}/units/{{id}}"]["get"]["responses"]
    assert {"200", "401", "403", "404", "422"} <= set(unit_get)
    docs = Client().get(f"{API}/docs")
    assert docs.status_code == 200
    assert b"cdn.jsdelivr" not in docs.content  # served from our own static files (intranet, no CDN)


# --- me ----------------------------------------------------------------------------------


def test_me_describes_the_current_user(world):
    operator = world.users.tianhe_operator
    body = client_for(operator).get(f"{API}/me").json()
    assert body["username"] == "th_operator"
    assert body["role"] == "unit_operator"
    assert body["role_label"]
    assert body["jurisdiction"] == {"code": "440106", "name": Division.objects.get(code="440106").name}
    unit = world.tianhe_unit
    assert body["unit"] == {"id": unit.pk, "uscc": unit.uscc, "name": "天河区测试局"}
    assert "person.change" in body["permissions"] and "unit.change" not in body["permissions"]
    admin = client_for(world.users.province_admin).get(f"{API}/me").json()
    assert admin["unit"] is None and admin["jurisdiction"]["code"] == "440000"


# --- divisions ---------------------------------------------------------------------------


def test_divisions_are_scoped(world):
    client = client_for(world.users.tianhe_reviewer)
    body = client.get(f"{API}/divisions", {"page_size": 100}).json()
    tianhe = Division.objects.get(code="440106")
    assert body["count"] == Division.objects.filter(path__startswith=tianhe.path).count()
    assert body["items"][0]["code"] == "440106"
    assert body["items"][0]["parent_code"] == "440100"
    assert all(item["path"].startswith(tianhe.path) for item in body["items"])
    assert client.get(f"{API}/divisions", {"level": "city"}).json()["count"] == 0

    city = client_for(world.users.city_reviewer).get(f"{API}/divisions", {"level": "county"}).json()
    assert city["count"] == Division.objects.filter(path__startswith="440000/440100/", level="county").count()
    assert {"440106", "440104"} <= {item["code"] for item in city["items"]}


def test_division_out_of_scope_answers_like_a_missing_one(world):
    client = client_for(world.users.tianhe_reviewer)
    assert client.get(f"{API}/divisions/440106").json()["name"] == Division.objects.get(code="440106").name
    out_of_scope = client.get(f"{API}/divisions/440104")
    missing = client.get(f"{API}/divisions/449999")
    assert out_of_scope.status_code == missing.status_code == 404
    assert out_of_scope.json() == missing.json() == NOT_FOUND_BODY


def test_add_town(world):
    admin = client_for(world.users.tianhe_admin)
    response = post(admin, "/divisions/440106/towns", {"code": "440106901", "name": "接口测试街道"})
    assert response.status_code == 201, response.content
    assert response.json()["level"] == "town" and response.json()["parent_code"] == "440106"
    assert Division.objects.filter(code="440106901", path="440000/440100/440106/440106901/").exists()
    assert audit_rows().filter(action="division.add", object_repr__contains="440106901").count() == 1

    # bad code: the service's error code; out-of-scope parent: 404; reviewer: 403
    assert codes(post(admin, "/divisions/440106/towns", {"code": "440104901", "name": "x"})) == [
        "division_code_format"]
    assert post(admin, "/divisions/440104/towns", {"code": "440104901", "name": "x"}).json() == NOT_FOUND_BODY
    reviewer = client_for(world.users.tianhe_reviewer)
    assert post(reviewer, "/divisions/440106/towns", {"code": "440106902", "name": "x"}).status_code == 403
    assert not Division.objects.filter(code__in=["440104901", "440106902"]).exists()


# --- units: lists and details ------------------------------------------------------------


def test_unit_list_is_scoped_with_total_count(world):
    body = client_for(world.users.tianhe_reviewer).get(f"{API}/units").json()
    assert body["count"] == 2
    assert sorted(item["name"] for item in body["items"]) == ["天河区测试局", "天河区测试局下属中心"]
    assert not any("越秀" in item["name"] for item in body["items"])
    item = next(i for i in body["items"] if i["name"] == "天河区测试局下属中心")
    parent = world.tianhe_unit
    assert item["parent"] == {"id": parent.pk, "uscc": parent.uscc, "name": "天河区测试局"}
    assert item["jurisdiction"]["code"] == "440106"
    assert item["category"] == "party_government" and item["category_label"]
    assert item["status"] == "active" and item["funding_form"] == "full"

    city = client_for(world.users.city_reviewer).get(f"{API}/units").json()
    assert city["count"] == 4 == len(city["items"])
    assert {"越秀区测试局", "广州市测试委员会"} <= {i["name"] for i in city["items"]}

    operator = client_for(world.users.tianhe_operator).get(f"{API}/units").json()
    assert operator["count"] == 1 and operator["items"][0]["id"] == world.tianhe_unit.pk


def test_unit_list_filters_and_pages(world):
    client = client_for(world.users.city_reviewer)
    assert client.get(f"{API}/units", {"division": "440106"}).json()["count"] == 2
    assert client.get(f"{API}/units", {"q": "越秀"}).json()["count"] == 1
    assert client.get(f"{API}/units", {"q": world.city_unit.uscc[:12]}).json()["count"] >= 1
    assert client.get(f"{API}/units", {"category": "public_institution"}).json()["count"] == 0
    assert client.get(f"{API}/units", {"funding_form": "full"}).json()["count"] == 4
    page1 = client.get(f"{API}/units", {"page_size": 3, "page": 1}).json()
    page2 = client.get(f"{API}/units", {"page_size": 3, "page": 2}).json()
    assert page1["count"] == page2["count"] == 4
    assert len(page1["items"]) == 3 and len(page2["items"]) == 1
    assert {i["id"] for i in page1["items"]}.isdisjoint({i["id"] for i in page2["items"]})


def test_unit_out_of_scope_answers_exactly_like_a_missing_one(world):
    client = client_for(world.users.tianhe_reviewer)
    ok = client.get(f"{API}/units/{world.tianhe_unit.pk}")
    assert ok.status_code == 200 and ok.json()["uscc"] == world.tianhe_unit.uscc
    missing_id = Unit.objects.order_by("-pk").first().pk + 1000
    for suffix in ("", "/history", "/establishment"):
        out_of_scope = client.get(f"{API}/units/{world.yuexiu_unit.pk}{suffix}")
        missing = client.get(f"{API}/units/{missing_id}{suffix}")
        assert out_of_scope.status_code == missing.status_code == 404
        assert out_of_scope.content == missing.content
        assert out_of_scope.json() == NOT_FOUND_BODY
    # a unit operator sees its own unit only, even within its jurisdiction
    operator = client_for(world.users.tianhe_operator)
    assert operator.get(f"{API}/units/{world.tianhe_child.pk}").json() == NOT_FOUND_BODY


# --- units: writes -----------------------------------------------------------------------


def test_set_up_unit(world):
    client = client_for(world.users.tianhe_reviewer)
    payload = unit_payload(parent=world.tianhe_unit.uscc, document_ref="天编〔2020〕1号")
    response = post(client, "/units", payload)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "天河区接口新设中心" and body["uscc"] == payload["uscc"]
    assert body["parent"]["id"] == world.tianhe_unit.pk and body["set_up_on"] == "2020-01-01"
    unit = Unit.objects.get(pk=body["id"])
    assert unit.versions.count() == 1
    event = audit_rows().get(action="unit.set_up")
    assert event.object_id == str(unit.pk) and event.actor_username == "th_reviewer"


def test_bad_uscc_is_refused_with_its_code_and_nothing_is_written(world):
    good = next_uscc("440106")
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    units, versions, events = Unit.objects.count(), UnitVersion.objects.count(), audit_rows().count()
    response = post(client_for(world.users.tianhe_reviewer), "/units", unit_payload(uscc=bad))
    assert response.status_code == 422
    assert response.json()["errors"] == [{
        "row": None, "column": "uscc", "value": bad, "code": "uscc_checksum",
        "message": message_for("uscc_checksum"),
    }]
    after = (Unit.objects.count(), UnitVersion.objects.count(), audit_rows().count())
    assert after == (units, versions, events)


def test_all_service_errors_are_listed_at_once(world):
    response = post(client_for(world.users.tianhe_reviewer), "/units",
                    unit_payload(uscc="123", name="", category="nonsense", jurisdiction="440104"))
    assert response.status_code == 422
    assert set(codes(response)) == {"uscc_length", "name_required", "invalid_choice", "division_not_found"}


def test_out_of_scope_and_unknown_references_give_the_same_code(world):
    client = client_for(world.users.tianhe_reviewer)
    before = Unit.objects.count()
    out_of_scope = post(client, "/units", unit_payload(jurisdiction="440104"))
    unknown = post(client, "/units", unit_payload(jurisdiction="449999"))
    assert codes(out_of_scope) == codes(unknown) == ["division_not_found"]
    assert out_of_scope.json()["errors"][0]["message"] == unknown.json()["errors"][0]["message"]
    yuexiu_parent = post(client, "/units", unit_payload(parent=world.yuexiu_unit.uscc))
    unknown_parent = post(client, "/units", unit_payload(parent=next_uscc("440106")))
    assert codes(yuexiu_parent) == codes(unknown_parent) == ["parent_not_found"]
    assert Unit.objects.count() == before and not audit_rows().exists()


def test_supervisor_may_not_write(world):
    client = client_for(world.users.tianhe_supervisor)
    before = Unit.objects.count()
    response = post(client, "/units", unit_payload())
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "permission_denied"
    assert response.json()["errors"][0]["message"] == message_for("permission_denied")
    rename = post(client, f"/units/{world.tianhe_unit.pk}/rename", {"name": "改名", "on": "2021-01-01"})
    assert rename.status_code == 403
    assert Unit.objects.count() == before and not audit_rows().exists()
    assert Unit.objects.get(pk=world.tianhe_unit.pk).name == "天河区测试局"


def test_parse_errors_use_the_import_codes(world):
    client = client_for(world.users.tianhe_reviewer)
    payload = unit_payload(set_up_on="2020-13-45")
    del payload["name"]
    response = post(client, "/units", payload)
    assert response.status_code == 422
    errors = {e["column"]: e for e in response.json()["errors"]}
    assert errors["name"]["code"] == "required"
    assert errors["set_up_on"]["code"] == "invalid_date" and errors["set_up_on"]["value"] == "2020-13-45"
    assert errors["name"]["message"] == message_for("required")
    as_of = client.get(f"{API}/units/as-of", {"date": "yesterday"})
    assert as_of.status_code == 422 and as_of.json()["errors"][0]["column"] == "date"
    assert codes(as_of) == ["invalid_date"]
    assert codes(client.get(f"{API}/units/as-of")) == ["required"]
    assert codes(client.get(f"{API}/establishment", {"problem": "worse"})) == ["invalid_choice"]
    assert codes(client.get(f"{API}/units", {"page": 0})) == ["invalid_input"]
    not_json = client.post(f"{API}/units", data="{not json", content_type="application/json")
    assert not_json.status_code == 422 and codes(not_json) == ["invalid_input"]
    assert not audit_rows().exists()


def test_rename_keeps_history_and_as_of(world):
    client = client_for(world.users.tianhe_reviewer)
    unit = world.tianhe_unit
    response = post(client, f"/units/{unit.pk}/rename",
                    {"name": "天河区测试管理局", "on": "2022-06-01", "document_ref": "天编〔2022〕5号"})
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "天河区测试管理局"

    history = client.get(f"{API}/units/{unit.pk}/history").json()
    assert [(v["name"], v["valid_from"], v["valid_to"], v["change"]) for v in history] == [
        ("天河区测试局", "2010-01-01", "2022-06-01", "set_up"),
        ("天河区测试管理局", "2022-06-01", None, "rename"),
    ]
    assert history[1]["document_ref"] == "天编〔2022〕5号" and history[1]["uscc"] == unit.uscc

    event = audit_rows().get(action="unit.rename")
    assert event.object_id == str(unit.pk)
    assert event.before["name"] == "天河区测试局" and event.after["name"] == "天河区测试管理局"

    def names(day: str) -> set[str]:
        body = client.get(f"{API}/units/as-of", {"date": day}).json()
        assert body["count"] == len(body["items"])
        return {v["name"] for v in body["items"]}

    assert names("2022-05-31") == {"天河区测试局", "天河区测试局下属中心"}
    assert names("2022-06-01") == {"天河区测试管理局", "天河区测试局下属中心"}
    assert names("2009-12-31") == set()
    # the as-of tree is scoped like everything else
    assert not any("越秀" in n for n in names("2022-05-31"))


def test_rename_of_an_out_of_scope_unit_answers_404_and_writes_nothing(world):
    client = client_for(world.users.tianhe_reviewer)
    response = post(client, f"/units/{world.yuexiu_unit.pk}/rename", {"name": "越界改名", "on": "2022-01-01"})
    assert response.status_code == 404 and response.json() == NOT_FOUND_BODY
    assert Unit.objects.get(pk=world.yuexiu_unit.pk).name == "越秀区测试局"
    assert not audit_rows().exists()


def test_rename_date_must_follow_the_current_state(world):
    client = client_for(world.users.tianhe_reviewer)
    response = post(client, f"/units/{world.tianhe_unit.pk}/rename", {"name": "新名", "on": "2009-01-01"})
    assert response.status_code == 422 and codes(response) == ["date_not_after_previous"]
    assert not audit_rows().exists()


def test_abolish_and_merge(world):
    client = client_for(world.users.city_reviewer)
    # a unit with active children cannot be abolished
    refused = post(client, f"/units/{world.tianhe_unit.pk}/abolish", {"on": "2021-01-01"})
    assert codes(refused) == ["unit_has_children"]
    abolished = post(client, f"/units/{world.tianhe_child.pk}/abolish", {"on": "2021-01-01"})
    assert abolished.status_code == 200 and abolished.json()["status"] == "abolished"
    assert abolished.json()["ended_on"] == "2021-01-01"
    assert client.get(f"{API}/units").json()["count"] == 3
    assert client.get(f"{API}/units", {"status": "all"}).json()["count"] == 4
    assert client.get(f"{API}/units", {"status": "abolished"}).json()["count"] == 1

    merged = post(client, "/units/merge", {"target": world.city_unit.pk, "sources": [world.yuexiu_unit.pk],
                                          "on": "2023-01-01", "document_ref": "穗编〔2023〕1号"})
    assert merged.status_code == 200, merged.content
    assert merged.json()["id"] == world.city_unit.pk
    yuexiu = client.get(f"{API}/units/{world.yuexiu_unit.pk}").json()
    assert yuexiu["status"] == "merged" and yuexiu["merged_into"]["id"] == world.city_unit.pk
    assert audit_rows().filter(action="unit.merge", object_id=str(world.yuexiu_unit.pk)).count() == 1


def test_merge_with_an_out_of_scope_source_is_refused(world):
    client = client_for(world.users.tianhe_reviewer)
    response = post(client, "/units/merge", {"target": world.tianhe_unit.pk,
                                             "sources": [world.yuexiu_unit.pk], "on": "2023-01-01"})
    assert response.status_code == 422 and codes(response) == ["unit_not_found"]
    assert Unit.objects.get(pk=world.yuexiu_unit.pk).status == "active"
    assert not audit_rows().exists()


# --- establishment -----------------------------------------------------------------------


def test_quota_set_and_establishment_lists(world):
    client = client_for(world.users.tianhe_reviewer)
    unit = world.tianhe_unit
    response = post(client, f"/units/{unit.pk}/establishment/administrative",
                    {"approved": 10, "actual": 12, "on": "2020-01-01"}, method="put")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["approved"], body["actual"], body["vacancies"], body["over"]) == (10, 12, 0, 2)
    assert body["kind"] == "administrative" and body["kind_label"] and body["unit"]["id"] == unit.pk
    post(client, f"/units/{world.tianhe_child.pk}/establishment/public_institution",
         {"approved": 5, "actual": 3, "on": "2020-01-01"}, method="put")
    post(client, f"/units/{unit.pk}/establishment/administrative",
         {"approved": 14, "actual": 12, "on": "2022-01-01"}, method="put")

    current = client.get(f"{API}/units/{unit.pk}/establishment").json()
    assert [(q["approved"], q["actual"], q["vacancies"]) for q in current] == [(14, 12, 2)]
    old = client.get(f"{API}/units/{unit.pk}/establishment", {"as_of": "2021-06-30"}).json()
    assert [(q["approved"], q["over"]) for q in old] == [(10, 2)]

    assert client.get(f"{API}/establishment").json()["count"] == 2
    assert client.get(f"{API}/establishment", {"problem": "vacant"}).json()["count"] == 2
    over = client.get(f"{API}/establishment", {"problem": "over", "as_of": "2021-06-30"}).json()
    assert over["count"] == 1 and over["items"][0]["unit"]["id"] == unit.pk
    assert client.get(f"{API}/establishment", {"kind": "public_institution"}).json()["count"] == 1
    assert audit_rows().filter(action="establishment.set").count() == 3


def test_quota_errors(world):
    client = client_for(world.users.tianhe_reviewer)
    bad_kind = post(client, f"/units/{world.tianhe_unit.pk}/establishment/nonsense",
                    {"approved": 1, "actual": 1, "on": "2020-01-01"}, method="put")
    assert codes(bad_kind) == ["invalid_choice"]
    negative = post(client, f"/units/{world.tianhe_unit.pk}/establishment/administrative",
                    {"approved": -1, "actual": 1, "on": "2020-01-01"}, method="put")
    assert codes(negative) == ["quota_invalid"]
    out_of_scope = post(client, f"/units/{world.yuexiu_unit.pk}/establishment/administrative",
                        {"approved": 1, "actual": 1, "on": "2020-01-01"}, method="put")
    assert out_of_scope.json() == NOT_FOUND_BODY
    assert not EstablishmentQuota.objects.exists() and not audit_rows().exists()
    # the city's establishment is not visible to the district
    city = client_for(world.users.city_reviewer)
    post(city, f"/units/{world.yuexiu_unit.pk}/establishment/administrative",
         {"approved": 3, "actual": 1, "on": "2020-01-01"}, method="put")
    assert client.get(f"{API}/establishment").json()["count"] == 0
    assert city.get(f"{API}/establishment").json()["count"] == 1


# --- people ------------------------------------------------------------------------------

ID_NUMBER = "11010519491231002X"  # GB 11643 example number: female, born 1949-12-31


def test_people_show_the_masked_id_only(world):
    client = client_for(world.users.tianhe_reviewer)
    response = post(client, "/people", {"id_number": ID_NUMBER, "name": "张三", "unit": world.tianhe_unit.pk,
                                        "education": "bachelor"})
    assert response.status_code == 201, response.content
    person = Person.objects.by_id_number(ID_NUMBER).get()
    for answer in (response, client.get(f"{API}/people/{person.pk}"), client.get(f"{API}/people")):
        text = answer.content.decode()
        assert ID_NUMBER not in text and "19491231" not in text and "1949-12-31" not in text
    detail = client.get(f"{API}/people/{person.pk}").json()
    assert detail["id_number_masked"] == "110105********002X"
    assert detail["name"] == "张三" and detail["sex"] == "F" and detail["education"] == "bachelor"
    assert detail["unit"]["id"] == world.tianhe_unit.pk and detail["jurisdiction"]["code"] == "440106"
    assert "id_number" not in detail
    event = audit_rows().get(action="person.create")
    assert ID_NUMBER not in json.dumps(event.after, ensure_ascii=False)


def test_people_are_scoped(world):
    yuexiu = client_for(world.users.yuexiu_reviewer)
    created = post(yuexiu, "/people", {"id_number": ID_NUMBER, "name": "李四"})
    assert created.status_code == 201
    person_id = created.json()["id"]
    assert created.json()["jurisdiction"]["code"] == "440104"

    tianhe = client_for(world.users.tianhe_reviewer)
    assert tianhe.get(f"{API}/people").json() == {"items": [], "count": 0}
    assert tianhe.get(f"{API}/people/{person_id}").json() == NOT_FOUND_BODY
    missing = tianhe.get(f"{API}/people/{person_id + 999}")
    assert tianhe.get(f"{API}/people/{person_id}").content == missing.content
    assert yuexiu.get(f"{API}/people", {"q": "李"}).json()["count"] == 1


def test_person_errors(world):
    client = client_for(world.users.tianhe_reviewer)
    bad = post(client, "/people", {"id_number": ID_NUMBER[:-1] + "1", "name": "王五"})
    assert codes(bad) == ["id_checksum"]
    other_unit = post(client, "/people",
                      {"id_number": ID_NUMBER, "name": "王五", "unit": world.yuexiu_unit.pk})
    assert codes(other_unit) == ["unit_not_found"]
    supervisor = client_for(world.users.tianhe_supervisor)
    assert post(supervisor, "/people", {"id_number": ID_NUMBER, "name": "王五"}).status_code == 403
    assert not Person.objects.exists() and not audit_rows().exists()


# --- audit -------------------------------------------------------------------------------


def test_audit_is_scoped_and_needs_permission(world):
    post(client_for(world.users.tianhe_reviewer), f"/units/{world.tianhe_unit.pk}/rename",
         {"name": "天河区审计测试局", "on": "2021-01-01"})
    post(client_for(world.users.yuexiu_reviewer), f"/units/{world.yuexiu_unit.pk}/rename",
         {"name": "越秀区审计测试局", "on": "2021-01-01"})
    tianhe_event = audit_rows().get(object_id=str(world.tianhe_unit.pk))
    yuexiu_event = audit_rows().get(object_id=str(world.yuexiu_unit.pk))

    supervisor = client_for(world.users.tianhe_supervisor)
    body = supervisor.get(f"{API}/audit").json()
    assert body["count"] == 1
    assert [(e["seq"], e["action"], e["object_repr"]) for e in body["items"]] == [
        (tianhe_event.seq, "unit.rename", "天河区审计测试局")]

    detail = supervisor.get(f"{API}/audit/{tianhe_event.seq}").json()
    assert detail["before"]["name"] == "天河区测试局" and detail["hash"] == tianhe_event.hash
    assert supervisor.get(f"{API}/audit/{yuexiu_event.seq}").json() == NOT_FOUND_BODY
    assert supervisor.get(f"{API}/audit/{yuexiu_event.seq}").content == supervisor.get(
        f"{API}/audit/{yuexiu_event.seq + 1000}").content

    city = client_for(world.users.city_reviewer).get(f"{API}/audit").json()
    assert city["count"] == 2
    assert client_for(world.users.city_reviewer).get(
        f"{API}/audit", {"actor_name": "yx_", "action": "unit.rename"}).json()["count"] == 1
    today = dt.date.today()
    assert client_for(world.users.city_reviewer).get(
        f"{API}/audit", {"date_from": (today + dt.timedelta(days=1)).isoformat()}).json()["count"] == 0

    operator = client_for(world.users.tianhe_operator)
    assert operator.get(f"{API}/audit").status_code == 403
    assert operator.get(f"{API}/audit/{tianhe_event.seq}").status_code == 403


# --- users -------------------------------------------------------------------------------


def test_users_list_and_create(world):
    admin = client_for(world.users.tianhe_admin)
    body = admin.get(f"{API}/users").json()
    assert body["count"] == 4
    usernames = {u["username"] for u in body["items"]}
    assert usernames == {"th_reviewer", "th_admin", "th_supervisor", "th_operator"}

    response = post(admin, "/users", {"username": "th_new", "password": "Another-Passw0rd!",
                                      "role": "unit_operator", "jurisdiction": "440106",
                                      "unit": world.tianhe_unit.uscc, "display_name": "新用户"})
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["username"] == "th_new" and created["unit"]["id"] == world.tianhe_unit.pk
    assert "password" not in response.content.decode() and "Passw0rd" not in response.content.decode()
    assert audit_rows().filter(action="user.create", object_id=str(created["id"])).count() == 1

    refused = post(admin, "/users", {"username": "th_out", "password": "Another-Passw0rd!",
                                     "role": "establishment_reviewer", "jurisdiction": "440104"})
    assert codes(refused) == ["division_not_found"]
    weak = post(admin, "/users", {"username": "th_weak", "password": "123", "role": "supervisor",
                                  "jurisdiction": "440106"})
    assert codes(weak) == ["password_weak"]
    assert all(e["value"] is None for e in weak.json()["errors"])

    reviewer = client_for(world.users.tianhe_reviewer)
    assert reviewer.get(f"{API}/users").status_code == 403
    assert post(reviewer, "/users", {"username": "x_user", "password": "Another-Passw0rd!",
                                     "role": "supervisor", "jurisdiction": "440106"}).status_code == 403
