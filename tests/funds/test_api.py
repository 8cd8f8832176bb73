"""编外人员经费 and purchased services over the API (/api/v1/funds): values asserted, refused
writes answer 422 with the services' codes and leave nothing behind, 越秀区's objects answer
exactly like missing ones, and 天河区 sees nothing of 越秀区 in any list."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal as M

import pytest
from django.test import Client
from django.utils import timezone

from bianzhi.common.errors import message_for
from bianzhi.common.models import AuditEvent
from bianzhi.divisions.models import Division
from bianzhi.funds import services
from bianzhi.funds.models import ControlPlan, PurchaseContract, ServiceConversion, UnitFunding
from bianzhi.staffing.models import Spell

API = "/api/v1/funds"
D = dt.date
NOT_FOUND_BODY = {"errors": [{"row": None, "column": None, "value": None, "code": "not_found",
                              "message": message_for("not_found")}]}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def get(client: Client, path: str, **params):
    return client.get(f"{API}{path}", params)


def send(client: Client, path: str, body, method: str = "post"):
    return getattr(client, method)(f"{API}{path}", data=json.dumps(body), content_type="application/json")


def codes(response) -> list[str]:
    return sorted(e["code"] for e in response.json()["errors"])


def state():
    return (sorted(UnitFunding.objects.values_list("unit_id", "year", "budget", "spending")),
            sorted(PurchaseContract.objects.values_list("number", "unit_id", "item", "start", "end", "amount")),
            ServiceConversion.objects.count(), AuditEvent.objects.count())


def unit_ref(unit) -> dict:
    return {"id": unit.pk, "uscc": unit.uscc, "name": unit.name}


def plan(unit=None, *, division=None, year=2024, amount="80000", current=True):
    division = division or unit.jurisdiction
    return ControlPlan.objects.create(unit=unit, jurisdiction=division, jurisdiction_path=division.path, year=year,
                                      amount=M(amount), case_number=f"SP-{year}-{amount}",
                                      approved_on=D(2024, 1, 5), is_current=current)


@pytest.fixture
def money(fund):
    """Funding of 天河区 (with a 2024 budget above a later control plan) and of 越秀区."""
    w = fund
    fin = w.users.finance
    services.funding_set(actor=fin, unit_id=w.tianhe_unit.pk, year=2019, spending="100000")
    services.funding_set(actor=fin, unit_id=w.tianhe_unit.pk, year=2024, budget="90000", spending="85000")
    services.funding_set(actor=fin, unit_id=w.tianhe_child.pk, year=2019, spending="5000")
    services.funding_set(actor=w.users.yuexiu_finance, unit_id=w.yuexiu_unit.pk, year=2019, spending="777")
    plan(w.tianhe_unit, year=2024, amount="80000")  # approved after the budget: now over the cap
    return w


def contract(w, number="HT-A", unit=None, actor=None, **kw):
    params = {"item": "物业管理服务", "start": "2024-01-01", "end": "2024-12-31", "amount": "120000", **kw}
    return services.contract_create(actor=actor or w.users.finance, unit_id=(unit or w.tianhe_unit).pk,
                                    number=number, **params)


# =========================================================================== funding


def test_funding_list_with_caps_and_scope(money):
    w = money
    th, child = w.tianhe_unit, w.tianhe_child
    response = get(client_for(w.users.tianhe_reviewer), "/funding")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    rows = {(r["unit"]["id"], r["year"]): r for r in body["items"]}
    assert set(rows) == {(th.pk, 2019), (th.pk, 2024), (child.pk, 2019)}
    assert rows[(th.pk, 2024)] == {
        "id": UnitFunding.objects.get(unit=th, year=2024).pk, "unit": unit_ref(th), "year": 2024,
        "budget": "90000.00", "spending": "85000.00", "cap": "80000.00", "over_cap": True}
    # The baseline year itself has no cap (history).
    assert (rows[(th.pk, 2019)]["spending"], rows[(th.pk, 2019)]["cap"], rows[(th.pk, 2019)]["over_cap"]) == (
        "100000.00", None, False)
    assert rows[(child.pk, 2019)]["budget"] is None
    # Filters.
    by_year = get(client_for(w.users.tianhe_reviewer), "/funding", year=2019).json()
    assert sorted(r["unit"]["id"] for r in by_year["items"]) == sorted([th.pk, child.pk])
    by_unit = get(client_for(w.users.tianhe_reviewer), "/funding", unit=child.pk).json()
    assert [(r["unit"]["id"], r["year"]) for r in by_unit["items"]] == [(child.pk, 2019)]
    # 越秀区 sees its own row only; 天河区 asking for 越秀区's unit gets nothing.
    yuexiu = get(client_for(w.users.yuexiu_reviewer), "/funding").json()
    assert [(r["unit"]["id"], r["spending"]) for r in yuexiu["items"]] == [(w.yuexiu_unit.pk, "777.00")]
    assert get(client_for(w.users.tianhe_reviewer), "/funding", unit=w.yuexiu_unit.pk).json() == {
        "items": [], "count": 0}
    # A unit operator sees its own unit.
    mine = get(client_for(w.users.tianhe_operator), "/funding").json()
    assert {r["unit"]["id"] for r in mine["items"]} == {th.pk}


def test_funding_put(money):
    w = money
    th = w.tianhe_unit
    client = client_for(w.users.finance)
    response = send(client, "/funding", {"unit": th.pk, "year": 2025, "budget": "70000"}, "put")
    assert response.status_code == 200
    row = UnitFunding.objects.get(unit=th, year=2025)
    assert response.json() == {"id": row.pk, "unit": unit_ref(th), "year": 2025, "budget": "70000.00",
                               "spending": None, "cap": "100000.00", "over_cap": False}
    # Spending alone keeps the budget; null clears a figure.
    body = send(client, "/funding", {"unit": th.pk, "year": 2025, "spending": 65000.5}, "put").json()
    assert (body["budget"], body["spending"]) == ("70000.00", "65000.50")
    body = send(client, "/funding", {"unit": th.pk, "year": 2025, "budget": None}, "put").json()
    assert (body["budget"], body["spending"]) == (None, "65000.50")
    assert AuditEvent.objects.filter(action="funding.set").latest("seq").before == {
        "budget": "70000.00", "spending": "65000.50"}


@pytest.mark.parametrize(("body", "expected"), [
    ({"year": 2025, "budget": "abc"}, ["money_invalid"]),
    ({"year": 2025, "budget": "-1"}, ["money_invalid"]),
    ({"year": 2025, "spending": "1.001"}, ["money_invalid"]),
    ({"year": 2025, "budget": "100000.01"}, ["budget_over_cap"]),
    ({"year": 2024, "budget": "80000.01"}, ["budget_over_cap"]),  # the control plan is lower
    ({"year": 1999, "spending": "1"}, ["year_invalid"]),
    ({"year": 2025}, ["funding_empty"]),
    ({"year": "next", "budget": "1"}, ["invalid_integer"]),
    ({"unit": "yuexiu", "year": 2019, "spending": "1"}, ["unit_not_found"]),
    ({"unit": 999999, "year": 2019, "spending": "1"}, ["unit_not_found"]),
])
def test_funding_put_refusals(money, body, expected):
    w = money
    if body.get("unit") == "yuexiu":
        body = {**body, "unit": w.yuexiu_unit.pk}
    before = state()
    response = send(client_for(w.users.finance), "/funding", {"unit": w.tianhe_unit.pk, **body}, "put")
    assert response.status_code == 422
    assert codes(response) == expected
    assert state() == before


def test_funding_put_needs_the_finance_role(money):
    w = money
    before = state()
    response = send(client_for(w.users.tianhe_reviewer), "/funding",
                    {"unit": w.tianhe_unit.pk, "year": 2019, "spending": "1"}, "put")
    assert response.status_code == 403 and codes(response) == ["permission_denied"]
    assert state() == before


# =========================================================================== control plans and catalogue


def test_plans_of_my_units_jurisdiction_and_above(money):
    w = money
    tianhe = Division.objects.get(code="440106")
    district = plan(division=tianhe, year=2025, amount="500000")
    city = plan(division=Division.objects.get(code="440100"), year=2025, amount="9000000")
    plan(division=Division.objects.get(code="440104"), year=2025, amount="1")  # 越秀区: never shown to 天河区
    plan(w.tianhe_unit, year=2024, amount="85000", current=False)
    body = get(client_for(w.users.tianhe_reviewer), "/plans").json()
    assert body["count"] == 3
    rows = {r["id"]: r for r in body["items"]}
    unit_plan = ControlPlan.objects.get(unit=w.tianhe_unit, is_current=True)
    assert rows[unit_plan.pk] == {
        "id": unit_plan.pk, "unit": unit_ref(w.tianhe_unit), "jurisdiction": {"code": "440106", "name": "天河区"},
        "year": 2024, "amount": "80000.00", "case_number": "SP-2024-80000", "approved_on": "2024-01-05",
        "is_current": True}
    assert rows[district.pk]["unit"] is None and rows[district.pk]["amount"] == "500000.00"
    assert rows[city.pk]["jurisdiction"]["code"] == "440100"
    assert get(client_for(w.users.tianhe_reviewer), "/plans", year=2025).json()["count"] == 2
    assert get(client_for(w.users.tianhe_reviewer), "/plans", current="false").json()["count"] == 4
    yuexiu = get(client_for(w.users.yuexiu_reviewer), "/plans").json()
    assert {r["jurisdiction"]["code"] for r in yuexiu["items"]} == {"440104", "440100"}


def test_catalogue(fund):
    w = fund
    response = get(client_for(w.users.tianhe_operator), "/catalogue")
    assert response.status_code == 200
    items = {i["code"]: i for i in response.json()}
    assert len(items) == 7
    assert items["property_management"]["name"] == "物业管理服务"
    assert items["property_management"]["replaces"] == [
        {"code": "cleaning", "name": "保洁"}, {"code": "greening", "name": "绿化养护"},
        {"code": "maintenance", "name": "设施维修"}, {"code": "security", "name": "保安"}]
    assert items["official_vehicles"]["replaces"] == [{"code": "driver", "name": "驾驶员"}]
    assert items["catering"]["source_document"].startswith("广东省")
    assert items["catering"]["valid_from"] == "1980-01-01"
    assert get(client_for(w.users.tianhe_operator), "/catalogue", as_of="1970-01-01").json() == []


# =========================================================================== contracts


def test_contracts_create_list_detail_and_scope(fund):
    w = fund
    client = client_for(w.users.finance)
    response = send(client, "/contracts", {"unit": w.tianhe_unit.pk, "number": "HT-2024-1", "item": "物业管理服务",
                                           "start": "2024-01-01", "end": "2024-12-31", "amount": "120000.5"})
    assert response.status_code == 201
    created = PurchaseContract.objects.get(number="HT-2024-1")
    body = response.json()
    assert body.pop("created_at")
    assert body == {"id": created.pk, "number": "HT-2024-1", "unit": unit_ref(w.tianhe_unit),
                    "item": "property_management", "item_label": "物业管理服务", "start": "2024-01-01",
                    "end": "2024-12-31", "amount": "120000.50"}
    assert AuditEvent.objects.filter(action="contract.create").latest("seq").object_id == str(created.pk)
    contract(w, "HT-2025-2", unit=w.tianhe_child, item="餐饮服务", start="2025-01-01", end="2025-06-30",
             amount="1000")
    theirs = contract(w, "YX-1", unit=w.yuexiu_unit, actor=w.users.yuexiu_finance)
    reviewer = client_for(w.users.tianhe_reviewer)

    def numbers(**params):
        answer = get(reviewer, "/contracts", **params).json()
        assert answer["count"] == len(answer["items"])
        return sorted(c["number"] for c in answer["items"])

    assert numbers() == ["HT-2024-1", "HT-2025-2"]
    assert numbers(unit=w.tianhe_child.pk) == ["HT-2025-2"]
    assert numbers(item="catering") == ["HT-2025-2"]
    assert numbers(in_force_on="2024-12-31") == ["HT-2024-1"]
    assert numbers(in_force_on="2025-01-01") == ["HT-2025-2"]
    assert numbers(q="2024") == ["HT-2024-1"]
    assert numbers(q="下属中心") == ["HT-2025-2"]
    assert numbers(unit=w.yuexiu_unit.pk) == []
    assert numbers(q="YX") == []
    # Detail; 越秀区's contract answers exactly like a missing one.
    detail = get(reviewer, f"/contracts/{created.pk}")
    assert detail.status_code == 200 and detail.json()["number"] == "HT-2024-1"
    for pk in (theirs.pk, 999999):
        response = get(reviewer, f"/contracts/{pk}")
        assert (response.status_code, response.json()) == (404, NOT_FOUND_BODY)
    assert get(client_for(w.users.yuexiu_reviewer), f"/contracts/{theirs.pk}").status_code == 200
    # A unit operator sees its own unit's contracts only.
    mine = get(client_for(w.users.tianhe_operator), "/contracts").json()
    assert [c["number"] for c in mine["items"]] == ["HT-2024-1"]


@pytest.mark.parametrize(("changes", "expected"), [
    ({"end": "2023-12-31"}, ["contract_end_before_start"]),
    ({"item": "保安服务"}, ["unknown_service_item"]),
    ({"number": "HT-OLD"}, ["contract_number_taken"]),
    ({"number": " "}, ["contract_number_required"]),
    ({"amount": "-1"}, ["money_invalid"]),
    ({"amount": "一万"}, ["money_invalid"]),
    ({"unit": "yuexiu"}, ["unit_not_found"]),
    ({"start": "2024-02-30"}, ["invalid_date"]),
    ({"end": None}, ["invalid_date"]),
])
def test_contract_refusals(fund, changes, expected):
    w = fund
    contract(w, "HT-OLD")
    body = {"unit": w.tianhe_unit.pk, "number": "HT-NEW", "item": "餐饮服务", "start": "2024-01-01",
            "end": "2024-12-31", "amount": "1", **changes}
    if body["unit"] == "yuexiu":
        body["unit"] = w.yuexiu_unit.pk
    before = state()
    response = send(client_for(w.users.finance), "/contracts", body)
    assert response.status_code == 422
    assert codes(response) == expected
    assert state() == before


# =========================================================================== double dipping, both fall


def test_double_dipping(fund):
    w = fund
    deal = contract(w, "HT-A")  # property management over 2024: the guard and the cleaner count all year
    contract(w, "HT-C", item="餐饮服务")  # no canteen staff: no flag
    reviewer = client_for(w.users.tianhe_reviewer)
    response = get(reviewer, "/double-dipping", a="2024-01-01", b="2024-12-31")
    assert response.status_code == 200
    body = response.json()
    assert (body["a"], body["b"], body["count"]) == ("2024-01-01", "2024-12-31", 1)
    (flag,) = body["flags"]
    assert flag["unit"] == unit_ref(w.tianhe_unit) and flag["first_day"] == "2024-01-01"
    assert flag["contracts"] == [{"id": deal.pk, "number": "HT-A", "item": "property_management",
                                  "item_label": "物业管理服务", "start": "2024-01-01", "end": "2024-12-31"}]
    assert sorted(flag["records"], key=lambda r: r["id"]) == [
        {"id": w.guard.pk, "post_name": "保安员", "work_type": "security", "work_type_label": "保安",
         "hire_date": "2018-03-01", "leave_date": None},
        {"id": w.cleaner.pk, "post_name": "保洁员", "work_type": "cleaning", "work_type_label": "保洁",
         "hire_date": "2018-03-01", "leave_date": None}]
    assert sorted((o["record"], o["contract"], o["first"], o["last"], o["days"]) for o in flag["overlaps"]) == sorted([
        (w.guard.pk, deal.pk, "2024-01-01", "2024-12-31", 366),
        (w.cleaner.pk, deal.pk, "2024-01-01", "2024-12-31", 366)])
    # The period clips the overlap; the guard leaving on 1 July stops counting that day.
    Spell.objects.filter(pk=w.guard.pk).update(leave_date=D(2024, 7, 1), exit_reason="resigned")
    (flag,) = get(reviewer, "/double-dipping", a="2024-06-01", b="2024-12-31", unit=w.tianhe_unit.pk).json()["flags"]
    guard = next(o for o in flag["overlaps"] if o["record"] == w.guard.pk)
    assert (guard["first"], guard["last"], guard["days"]) == ("2024-06-01", "2024-06-30", 30)
    # A period before the contract: nothing; an inverted period: 422.
    assert get(reviewer, "/double-dipping", a="2023-01-01", b="2023-12-31").json()["flags"] == []
    response = get(reviewer, "/double-dipping", a="2024-12-31", b="2024-01-01")
    assert response.status_code == 422 and codes(response) == ["period_invalid"]
    response = get(reviewer, "/double-dipping", a="2024-13-01")
    assert response.status_code == 422 and codes(response) == ["invalid_date"]
    # 越秀区 sees none of it, even naming the unit.
    yuexiu = client_for(w.users.yuexiu_reviewer)
    assert get(yuexiu, "/double-dipping", a="2024-01-01", b="2024-12-31").json()["flags"] == []
    assert get(yuexiu, "/double-dipping", a="2024-01-01", b="2024-12-31", unit=w.tianhe_unit.pk).json() == {
        "a": "2024-01-01", "b": "2024-12-31", "count": 0, "flags": []}
    # Defaults: the current year.
    year = timezone.localdate().year
    assert get(reviewer, "/double-dipping").json()["a"] == f"{year}-01-01"


def test_both_fall(fund):
    w = fund
    fin = w.users.finance
    services.funding_set(actor=fin, unit_id=w.tianhe_unit.pk, year=2019, spending="100000")
    services.funding_set(actor=fin, unit_id=w.tianhe_unit.pk, year=2024, spending="90000")
    Spell.objects.filter(pk=w.clerk.pk).update(leave_date=D(2024, 6, 1), exit_reason="resigned")
    reviewer = client_for(w.users.tianhe_reviewer)
    response = get(reviewer, "/both-fall", year=2024)
    assert response.status_code == 200
    figures = {"headcount": 3, "baseline_count": 4, "spending": "90000.00", "baseline_spending": "100000.00",
               "headcount_fell": True, "spending_fell": True, "both_fell": True}
    assert response.json() == {"year": 2024, "baseline_year": 2019, "total": figures,
                               "units": [{"unit": unit_ref(w.tianhe_unit), **figures}]}
    # 2023: the headcount had not fallen; 2025: no spending figure yet → cannot say.
    body = get(reviewer, "/both-fall", year=2023).json()
    assert (body["total"]["headcount"], body["total"]["both_fell"], body["total"]["spending"]) == (4, False, None)
    body = get(reviewer, "/both-fall", year=2025).json()
    assert (body["total"]["headcount_fell"], body["total"]["spending_fell"], body["total"]["both_fell"]) == (
        True, None, None)
    # 越秀区 sees none of 天河区's units.
    body = get(client_for(w.users.yuexiu_reviewer), "/both-fall", year=2024).json()
    assert body["units"] == [] and (body["total"]["headcount"], body["total"]["baseline_count"]) == (0, 0)


def test_both_fall_with_a_city_and_a_district_baseline(fund):
    from bianzhi.staffing.services import baseline_take

    w = fund
    baseline_take(actor=w.users.city_reviewer, scope="440100", as_of=D(2019, 12, 31))
    for user in (w.users.tianhe_reviewer, w.users.city_reviewer):
        body = get(client_for(user), "/both-fall", year=2024).json()
        assert (body["total"]["headcount"], body["total"]["baseline_count"]) == (4, 4)
        assert body["total"]["headcount_fell"] is False


# =========================================================================== posts moved to services


def test_conversions(fund):
    w = fund
    deal = contract(w, "HT-A", start="2024-01-01", end="2026-12-31")
    op = client_for(w.users.tianhe_operator)
    before = state()
    for body, expected in [
        ({"spell": w.guard.pk, "leave_date": "2024-07-01", "contract_number": "NOPE"}, ["contract_not_found"]),
        ({"spell": w.driver.pk, "leave_date": "2024-07-01", "contract_number": "HT-A"}, ["contract_not_replacing"]),
        ({"spell": w.guard.pk, "leave_date": "2027-01-01", "contract_number": "HT-A"}, ["contract_not_in_force"]),
        ({"spell": 999999, "leave_date": "2024-07-01", "contract_number": "HT-A"}, ["spell_not_found"]),
        ({"spell": w.guard.pk, "leave_date": "someday", "contract_number": "HT-A"}, ["invalid_date"]),
    ]:
        response = send(op, "/conversions", body)
        assert (response.status_code, codes(response)) == (422, expected), body
    response = send(client_for(w.users.yuexiu_reviewer), "/conversions",
                    {"spell": w.guard.pk, "leave_date": "2024-07-01", "contract_number": "HT-A"})
    assert (response.status_code, codes(response)) == (422, ["spell_not_found"])
    assert state() == before
    response = send(op, "/conversions", {"spell": w.guard.pk, "leave_date": "2024-07-01", "contract_number": "HT-A"})
    assert response.status_code == 201
    conversion = ServiceConversion.objects.get()
    expected = {"id": conversion.pk, "record": w.guard.pk, "person": "职工1", "post_name": "保安员",
                "work_type": "security", "work_type_label": "保安", "unit": unit_ref(w.tianhe_unit),
                "contract": deal.pk, "contract_number": "HT-A", "converted_on": "2024-07-01"}
    assert response.json() == expected
    w.guard.refresh_from_db()
    assert (w.guard.leave_date, w.guard.exit_reason) == (D(2024, 7, 1), "to_purchased_service")
    reviewer = client_for(w.users.tianhe_reviewer)
    assert get(reviewer, "/conversions").json() == {"items": [expected], "count": 1}
    assert get(reviewer, "/conversions", year=2024, unit=w.tianhe_unit.pk).json()["count"] == 1
    assert get(reviewer, "/conversions", year=2025).json()["count"] == 0
    assert get(client_for(w.users.yuexiu_reviewer), "/conversions").json() == {"items": [], "count": 0}


# =========================================================================== OpenAPI and authentication


def test_openapi_lists_the_funds_paths(db):
    schema = Client().get("/api/v1/openapi.json").json()
    paths = {p.removeprefix("/api/v1"): set(ops) for p, ops in schema["paths"].items()}
    expected = {
        "/funds/funding": {"get", "put"}, "/funds/plans": {"get"}, "/funds/catalogue": {"get"},
        "/funds/contracts": {"get", "post"}, "/funds/contracts/{id}": {"get"}, "/funds/double-dipping": {"get"},
        "/funds/both-fall": {"get"}, "/funds/conversions": {"get", "post"},
    }
    for path, methods in expected.items():
        assert methods <= paths.get(path, set()), path


@pytest.mark.parametrize("path", ["/funding", "/plans", "/catalogue", "/contracts", "/double-dipping",
                                  "/both-fall", "/conversions"])
def test_unauthenticated_requests_answer_401(db, path):
    response = Client().get(f"{API}{path}")
    assert response.status_code == 401 and codes(response) == ["not_authenticated"]
