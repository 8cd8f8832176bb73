"""Pages of 编外人员经费 and purchased services: budget and spending with the funding cap, control
plans (and their application through the approvals), the service catalogue, contracts, double
dipping, both fall, posts moved to purchased services and the two imports.

Values are checked, not only status codes: the figures on the pages and in the exports are the
ones worked out by hand below, a refused form keeps its input and writes nothing (the service's
error code sits next to its field), and a 越秀区 user sees none of 天河区.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal as M

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from python_calamine import CalamineWorkbook

from bianzhi.common.models import AuditEvent
from bianzhi.funds import services
from bianzhi.funds.models import ControlPlan, PurchaseContract, ServiceConversion, UnitFunding
from bianzhi.staffing import spells
from bianzhi.staffing.models import RuleItem
from bianzhi.workflow import services as wf
from bianzhi.workflow.models import Case
from tests.factories import make_user

D = dt.date
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def this_year() -> int:
    return timezone.localdate().year


# ---------------------------------------------------------------------------------- helpers


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def html(response) -> str:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/html"), response["Content-Type"]
    page = response.content.decode("utf-8")
    assert not re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page), "inline <script> found"
    assert not re.search(r"\sstyle\s*=", page), "style= attribute found"
    return page


def sheet_rows(response) -> list[list]:
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    return CalamineWorkbook.from_filelike(io.BytesIO(response.content)).get_sheet_by_index(0).to_python()


def data_rows(rows: list[list]) -> list[list]:
    """Rows below the header of an export (title, subtitle, blank, header, data)."""
    return [r for r in rows[4:] if any(c != "" for c in r)]


def day(value) -> str:
    """A date cell of an export as ``YYYY-MM-DD`` (blank stays blank)."""
    return str(value)[:10] if value != "" else ""


def cell(page: str, row_attr: str, col: str) -> str:
    """The text of ``<td ... data-col="col">`` in the row carrying ``row_attr``."""
    row = re.search(rf"<tr[^>]*{row_attr}[^>]*>(.*?)</tr>", page, re.S)
    assert row, f"no row {row_attr}"
    value = re.search(rf'data-col="{col}"[^>]*>(.*?)</td>', row.group(1), re.S)
    assert value, f"no column {col}"
    return re.sub(r"<[^>]+>", "", value.group(1)).strip()


def row_html(page: str, row_attr: str) -> str:
    row = re.search(rf"<tr[^>]*{row_attr}[^>]*>.*?</tr>", page, re.S)
    assert row, f"no row {row_attr}"
    return row.group(0)


def codes(response, field: str) -> list[str]:
    """The error codes of one field of the page's form."""
    errors = response.context["form"].errors.as_data()
    return [e.code for e in errors.get(field, [])]


def total(page: str) -> int:
    found = re.search(r'data-testid="total">([\d,]+)', page)
    assert found, "no total"
    return int(found.group(1).replace(",", ""))


def body_text(response) -> str:
    if "spreadsheetml" in response.get("Content-Type", ""):
        book = CalamineWorkbook.from_filelike(io.BytesIO(response.content))
        return "\n".join(str(c) for row in book.get_sheet_by_index(0).to_python() for c in row)
    return response.content.decode("utf-8")


def fund_set(w, *, unit=None, actor=None, **kw):
    return services.funding_set(actor=actor or w.users.finance, unit_id=(unit or w.tianhe_unit).pk, **kw)


def contract(w, number, *, unit=None, item="property_management", start="2024-01-01", end="2024-12-31",
             amount="10000", actor=None):
    return services.contract_create(actor=actor or w.users.finance, unit_id=(unit or w.tianhe_unit).pk,
                                    number=number, item=item, start=start, end=end, amount=amount)


def plan(unit, year, amount, number, *, jurisdiction=None):
    """An approved control plan written straight to the table (the approvals are tested elsewhere)."""
    division = jurisdiction or unit.jurisdiction
    return ControlPlan.objects.create(unit=unit, jurisdiction=division, jurisdiction_path=division.path, year=year,
                                      amount=M(amount), case_number=number, approved_on=D(2025, 12, 1))


def funding_state():
    return (list(UnitFunding.objects.order_by("pk").values_list("unit_id", "year", "budget", "spending")),
            AuditEvent.objects.count())


# ---------------------------------------------------------------------------------- budget and spending


def test_funding_list_shows_budget_spending_caps_totals_and_export(fund):
    w = fund
    y = this_year()
    fund_set(w, year=2019, spending="100000")  # 天河区测试局: cap 100,000.00
    fund_set(w, year=y, budget="90000", spending="45000.5")
    fund_set(w, unit=w.tianhe_child, year=2019, spending="20000")
    fund_set(w, unit=w.tianhe_child, year=y, budget="20000")
    # a control plan approved afterwards lowers the child's cap below its declared budget → over the cap
    plan(w.tianhe_child, y, "15000", "SP-CHILD")
    services.funding_set(actor=w.users.yuexiu_finance, unit_id=w.yuexiu_unit.pk, year=y, spending="1")
    client = client_for(w.users.finance)

    page = html(client.get(reverse("funds:funding_list")))  # this year by default
    unit, child = f'data-unit="{w.tianhe_unit.pk}" data-year="{y}"', f'data-unit="{w.tianhe_child.pk}" data-year="{y}"'
    assert re.findall(r'data-unit="(\d+)" data-year="(\d+)"', page) == [
        (str(w.tianhe_unit.pk), str(y)), (str(w.tianhe_child.pk), str(y))]
    assert (cell(page, unit, "budget"), cell(page, unit, "spending"), cell(page, unit, "cap")) == (
        "90,000.00", "45,000.50", "100,000.00")
    assert (cell(page, child, "budget"), cell(page, child, "spending"), cell(page, child, "cap")) == (
        "20,000.00", "—", "15,000.00")
    assert 'data-testid="over"' in row_html(page, child) and 'data-testid="over"' not in row_html(page, unit)
    assert re.search(r'data-total="budget">110,000.00<', page)
    assert re.search(r'data-total="spending">45,000.50<', page)
    assert "越秀区测试局" not in page

    over = html(client.get(reverse("funds:funding_list"), {"year": y, "over": "on"}))
    assert re.findall(r'data-unit="(\d+)" data-year', over) == [str(w.tianhe_child.pk)]
    every_year = html(client.get(reverse("funds:funding_list"), {"year": ""}))
    assert sorted(re.findall(r'data-year="(\d+)"', every_year)) == sorted(["2019", "2019", str(y), str(y)])
    # the 2019 rows are history (baseline year): never over the cap
    assert 'data-testid="over"' not in row_html(every_year, f'data-unit="{w.tianhe_unit.pk}" data-year="2019"')
    # a unit out of scope in the filter shows nothing
    none = html(client.get(reverse("funds:funding_list"), {"year": y, "unit": w.yuexiu_unit.pk}))
    assert re.findall(r'data-unit="(\d+)" data-year', none) == []

    rows = data_rows(sheet_rows(client.get(reverse("funds:funding_list"), {"year": y, "export": "xlsx"})))
    assert [r[:6] for r in rows] == [
        [w.tianhe_unit.uscc, w.tianhe_unit.name, y, 90000.0, 45000.5, 100000.0],
        [w.tianhe_child.uscc, w.tianhe_child.name, y, 20000.0, "", 15000.0]]
    assert rows[0][6] == "" and rows[1][6] != ""
    over_rows = data_rows(sheet_rows(client.get(reverse("funds:funding_list"),
                                                {"year": y, "over": "on", "export": "xlsx"})))
    assert [r[0] for r in over_rows] == [w.tianhe_child.uscc]


def test_funding_form_shows_budget_over_cap_next_to_the_field_and_writes_nothing(fund):
    w = fund
    y = this_year()
    fund_set(w, year=2019, spending="100000")
    client = client_for(w.users.finance)
    url = reverse("funds:funding_set")

    page = html(client.get(url, {"unit": w.tianhe_unit.pk, "year": y}))
    assert re.search(r'data-testid="cap">100,000.00<', page)

    before = funding_state()
    response = client.post(url, {"unit": w.tianhe_unit.pk, "year": y, "budget": "100000.01", "spending": ""})
    assert response.status_code == 422
    assert codes(response, "budget") == ["budget_over_cap"]
    page = response.content.decode()
    assert re.search(r'<input[^>]*name="budget"[^>]*value="100000.01"', page)  # input kept
    assert re.search(r'<input[^>]*name="budget"[^>]*is-invalid|<input[^>]*is-invalid[^>]*name="budget"', page)
    assert funding_state() == before

    response = client.post(url, {"unit": w.tianhe_unit.pk, "year": "1999", "budget": "-5", "spending": ""})
    assert (codes(response, "year"), codes(response, "budget")) == (["year_invalid"], ["money_invalid"])
    response = client.post(url, {"unit": w.tianhe_unit.pk, "year": y, "budget": "", "spending": ""})
    assert codes(response, "budget") == ["funding_empty"]
    response = client.post(url, {"unit": w.yuexiu_unit.pk, "year": y, "budget": "1", "spending": ""})
    assert codes(response, "unit") == ["unit_not_found"]
    assert funding_state() == before

    response = client.post(url, {"unit": w.tianhe_unit.pk, "year": y, "budget": "100000", "spending": ""})
    assert response.status_code == 302 and response["Location"] == reverse("funds:funding_list") + f"?year={y}"
    row = UnitFunding.objects.get(unit=w.tianhe_unit, year=y)
    assert (row.budget, row.spending) == (M("100000.00"), None)
    assert AuditEvent.objects.filter(action="funding.set").latest("seq").actor == w.users.finance
    # editing shows the stored figures; an empty box keeps a figure
    page = html(client.get(url, {"unit": w.tianhe_unit.pk, "year": y}))
    assert re.search(r'name="budget"[^>]*value="100000.00"', page)
    client.post(url, {"unit": w.tianhe_unit.pk, "year": y, "budget": "", "spending": "70000"})
    row.refresh_from_db()
    assert (row.budget, row.spending) == (M("100000.00"), M("70000.00"))

    for user in (w.users.tianhe_operator, w.users.tianhe_reviewer):
        assert client_for(user).get(url).status_code == 403
        assert client_for(user).post(url, {"unit": w.tianhe_unit.pk, "year": y, "budget": "1"}).status_code == 403


# ---------------------------------------------------------------------------------- control plans


def test_plans_are_shown_against_budget_and_spending(fund):
    w = fund
    y = this_year()
    fund_set(w, year=2019, spending="100000")
    fund_set(w, year=y, budget="90000", spending="95000")
    fund_set(w, unit=w.tianhe_child, year=2019, spending="50000")
    fund_set(w, unit=w.tianhe_child, year=y, budget="40000", spending="30000")
    th, gz = w.tianhe_unit.jurisdiction, w.city_unit.jurisdiction
    unit_plan = plan(w.tianhe_unit, y, "92000", "SP-UNIT")
    district = plan(None, y, "120000", "SP-DIST", jurisdiction=th)
    city = plan(None, y, "5000000", "SP-CITY", jurisdiction=gz)
    plan(None, y, "1", "SP-YX", jurisdiction=w.yuexiu_unit.jurisdiction)

    client = client_for(w.users.finance)
    page = html(client.get(reverse("funds:plan_list")))
    assert sorted(re.findall(r'data-plan="(\d+)"', page)) == sorted(str(p.pk) for p in (unit_plan, district, city))
    assert "SP-YX" not in page
    u = f'data-plan="{unit_plan.pk}"'
    assert (cell(page, u, "amount"), cell(page, u, "budget"), cell(page, u, "spending")) == (
        "92,000.00", "90,000.00", "95,000.00")
    assert 'data-testid="spending-over"' in row_html(page, u) and 'data-testid="budget-over"' not in row_html(page, u)
    d = f'data-plan="{district.pk}"'
    assert (cell(page, d, "budget"), cell(page, d, "spending")) == ("130,000.00", "125,000.00")
    assert 'data-testid="budget-over"' in row_html(page, d)
    # the city's plan is shown, the city's totals are not (other districts are outside the scope)
    c = f'data-plan="{city.pk}"'
    assert cell(page, c, "amount") == "5,000,000.00"
    assert not re.search(r"\d", cell(page, c, "budget") + cell(page, c, "spending"))
    assert 'data-testid="apply-plan"' in page

    rows = data_rows(sheet_rows(client.get(reverse("funds:plan_list"), {"export": "xlsx"})))
    by_case = {r[6]: r for r in rows}
    assert set(by_case) == {"SP-UNIT", "SP-DIST", "SP-CITY"}
    assert by_case["SP-UNIT"][:6] == [w.tianhe_unit.name, w.tianhe_unit.uscc, y, 92000.0, 90000.0, 95000.0]
    assert by_case["SP-DIST"][3:6] == [120000.0, 130000.0, 125000.0]
    assert by_case["SP-CITY"][3:6] == [5000000.0, "", ""]

    # a unit operator sees its unit's plan and the district's, without the district's totals
    page = html(client_for(w.users.tianhe_operator).get(reverse("funds:plan_list")))
    assert sorted(re.findall(r'data-plan="(\d+)"', page)) == sorted(str(p.pk) for p in (unit_plan, district, city))
    assert not re.search(r"\d", cell(page, d, "budget"))
    # an establishment reviewer may look but not apply
    page = html(client_for(w.users.tianhe_reviewer).get(reverse("funds:plan_list")))
    assert 'data-testid="apply-plan"' not in page
    # another district sees its own plan and the city's, none of 天河区
    page = html(client_for(w.users.yuexiu_reviewer).get(reverse("funds:plan_list")))
    assert sorted(re.findall(r'data-plan="(\d+)"', page)) == sorted(
        [str(ControlPlan.objects.get(case_number="SP-YX").pk), str(city.pk)])
    assert "SP-UNIT" not in page and "SP-DIST" not in page and w.tianhe_unit.name not in page


def _targets(*pairs) -> dict[str, str]:
    out = {}
    for i, (year, amount) in enumerate(pairs):
        out[f"targets_{2 * i}"], out[f"targets_{2 * i + 1}"] = str(year), str(amount)
    return out


def test_a_plan_is_applied_for_through_the_approvals(fund):
    w = fund
    y = this_year()
    url = reverse("funds:apply_plan")
    client = client_for(w.users.finance)
    page = html(client.get(url))
    assert 'name="targets_0"' in page and 'name="targets_9"' in page and 'name="jurisdiction"' in page

    before = Case.objects.count()
    response = client.post(url, {"unit": "", "jurisdiction": "440106", "reason": "压减"})
    assert response.status_code == 422 and codes(response, "targets") == ["plan_targets_required"]
    response = client.post(url, {"jurisdiction": "440106", "reason": "压减", **_targets((y + 1, "-1"))})
    assert codes(response, "targets") == ["money_invalid"]
    assert re.search(r'name="targets_1"[^>]*value="-1"', response.content.decode())  # input kept
    response = client.post(url, {"jurisdiction": "440104", "reason": "压减", **_targets((y + 1, "1"))})
    assert codes(response, "jurisdiction") == ["division_not_found"]
    assert Case.objects.count() == before

    response = client.post(url, {"unit": "", "jurisdiction": "440106", "reason": "压减经费",
                                 **_targets((y + 1, "800000"), (y + 2, "750000"))})
    case = Case.objects.get(kind="funding_plan")
    assert response.status_code == 302 and response["Location"] == reverse("workflow:case_detail", args=[case.pk])
    assert case.payload == {"jurisdiction": "440106", "reason": "压减经费", "targets": [
        {"year": y + 1, "amount": "800000.00"}, {"year": y + 2, "amount": "750000.00"}]}

    # a reviewer may apply for one unit
    client.post(url, {"unit": w.tianhe_child.pk, "reason": "单位控制", **_targets((y + 1, "30000"))})
    assert Case.objects.filter(kind="funding_plan", unit=w.tianhe_child).count() == 1

    # a unit operator applies for its own unit: no unit or jurisdiction to choose
    operator = client_for(w.users.tianhe_operator)
    page = html(operator.get(url))
    assert 'name="unit"' not in page and 'name="jurisdiction"' not in page
    response = operator.post(url, {"reason": "本单位", **_targets((y + 1, "60000"))})
    assert response.status_code == 302
    mine = Case.objects.get(kind="funding_plan", unit=w.tianhe_unit)
    assert mine.payload == {"unit": w.tianhe_unit.pk, "reason": "本单位",
                            "targets": [{"year": y + 1, "amount": "60000.00"}]}
    # an establishment reviewer may not apply
    assert client_for(w.users.tianhe_reviewer).get(url).status_code == 403

    # returned to the applicant, the district plan is revised on the same form (still the district's)
    finance2 = make_user("th_finance2", "finance_reviewer", "440106")
    wf.case_act(actor=finance2, case_id=case.pk, step="finance", action="return", return_to="applicant",
                opinion="请细化")
    revise = reverse("workflow:case_revise", args=[case.pk])
    page = html(client.get(revise))
    assert re.search(r'name="jurisdiction"[^>]*value="440106"', page)
    assert re.search(rf'name="targets_0"[^>]*value="{y + 1}"', page)
    assert re.search(r'name="targets_1"[^>]*value="800000.00"', page)
    response = client.post(revise, {"jurisdiction": "440106", "reason": "压减经费（细化）", "note": "改为一年",
                                    **_targets((y + 1, "780000"))})
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.unit, case.payload["jurisdiction"], case.payload["targets"]) == (
        None, "440106", [{"year": y + 1, "amount": "780000.00"}])

    # a returned unit plan stays the unit's when revised
    wf.case_act(actor=w.users.finance, case_id=mine.pk, step="finance", action="return", return_to="applicant",
                opinion="请细化")
    revise = reverse("workflow:case_revise", args=[mine.pk])
    page = html(operator.get(revise))
    assert 'name="jurisdiction"' not in page
    assert operator.post(revise, {"reason": "本单位", **_targets((y + 1, "55000"))}).status_code == 302
    mine.refresh_from_db()
    assert (mine.unit, mine.payload["unit"], mine.payload["targets"]) == (
        w.tianhe_unit, w.tianhe_unit.pk, [{"year": y + 1, "amount": "55000.00"}])


# ---------------------------------------------------------------------------------- catalogue


def test_catalogue_lists_the_items_and_the_work_types_they_replace(fund):
    w = fund
    RuleItem.objects.create(table="service_item", code="th_digitising", name="天河档案数字化服务",
                            value="archives,data_entry", jurisdiction=w.tianhe_unit.jurisdiction,
                            jurisdiction_path=w.tianhe_unit.jurisdiction_path, valid_from=D(2020, 1, 1),
                            source_document="天河区补充规定")
    page = html(client_for(w.users.city_reviewer).get(reverse("funds:catalogue")))
    in_force, _sep, below = page.partition('data-testid="catalogue-local"')
    assert set(cell(in_force, 'data-item="property_management"', "replaces").split("、")) == {
        "保安", "保洁", "绿化养护", "设施维修"}
    assert cell(in_force, 'data-item="official_vehicles"', "replaces") == "驾驶员"
    assert "th_digitising" not in in_force
    assert set(cell(below, 'data-item="th_digitising"', "replaces").split("、")) == {"档案管理", "数据录入"}
    rows = data_rows(sheet_rows(client_for(w.users.city_reviewer).get(reverse("funds:catalogue"),
                                                                      {"export": "xlsx"})))
    assert len(rows) == 8 and rows[-1][:2] == ["天河档案数字化服务", "th_digitising"]

    page = html(client_for(w.users.tianhe_reviewer).get(reverse("funds:catalogue")))
    assert 'data-testid="catalogue-local"' not in page
    assert set(cell(page, 'data-item="th_digitising"', "replaces").split("、")) == {"档案管理", "数据录入"}
    assert "th_digitising" not in html(client_for(w.users.yuexiu_reviewer).get(reverse("funds:catalogue")))


# ---------------------------------------------------------------------------------- contracts


def test_contract_list_filters_export_and_form(fund):
    w = fund
    contract(w, "HT-2024-01", start="2024-01-01", end="2024-12-31", amount="120000")
    contract(w, "HT-2025-02", unit=w.tianhe_child, item="餐饮服务", start="2025-01-01", end="2025-12-31",
             amount="80000")
    contract(w, "YX-2024-01", unit=w.yuexiu_unit, actor=w.users.yuexiu_finance)
    client = client_for(w.users.finance)
    url = reverse("funds:contract_list")

    def numbers(params=None):
        page = html(client.get(url, params or {}))
        return re.findall(r'<tr data-contract="([^"]+)"', page), total(page)

    assert numbers() == (["HT-2025-02", "HT-2024-01"], 2)
    assert numbers({"item": "catering"}) == (["HT-2025-02"], 1)
    assert numbers({"in_force_on": "2024-06-01"}) == (["HT-2024-01"], 1)
    assert numbers({"in_force_on": "2024-12-31"}) == (["HT-2024-01"], 1)  # the end date is in force
    assert numbers({"q": "下属"}) == (["HT-2025-02"], 1)
    assert numbers({"q": "2024-01"}) == (["HT-2024-01"], 1)
    assert numbers({"unit": w.tianhe_child.pk}) == (["HT-2025-02"], 1)
    assert numbers({"unit": w.yuexiu_unit.pk}) == ([], 0)
    assert numbers({"sort": "amount"}) == (["HT-2025-02", "HT-2024-01"], 2)

    rows = data_rows(sheet_rows(client.get(url, {"in_force_on": "2025-03-01", "export": "xlsx"})))
    assert [[*r[:4], day(r[4]), day(r[5]), r[6]] for r in rows] == [
        ["HT-2025-02", w.tianhe_child.uscc, w.tianhe_child.name, "餐饮服务", "2025-01-01", "2025-12-31", 80000.0]]

    new = reverse("funds:contract_new")
    good = {"unit": w.tianhe_unit.pk, "number": "HT-2026-03", "item": "it_operations", "start": "2026-01-01",
            "end": "2026-12-31", "amount": "66000"}
    before = PurchaseContract.objects.count()
    response = client.post(new, {**good, "number": "HT-2024-01"})
    assert response.status_code == 422 and codes(response, "number") == ["contract_number_taken"]
    response = client.post(new, {**good, "end": "2025-12-31"})
    assert codes(response, "end") == ["contract_end_before_start"]
    response = client.post(new, {**good, "amount": "1.001"})
    assert codes(response, "amount") == ["money_invalid"]
    response = client.post(new, {**good, "unit": w.yuexiu_unit.pk})
    assert codes(response, "unit") == ["unit_not_found"]
    assert PurchaseContract.objects.count() == before
    response = client.post(new, good)
    assert response.status_code == 302
    made = PurchaseContract.objects.get(number="HT-2026-03")
    assert (made.unit, made.item, made.amount, made.created_by) == (
        w.tianhe_unit, "it_operations", M("66000.00"), w.users.finance)

    # a unit operator registers its own unit's contracts and sees only them
    operator = client_for(w.users.tianhe_operator)
    page = html(operator.get(new))
    assert re.findall(r'<option value="(\d+)"', page.split('name="unit"')[1].split("</select>")[0]) == [
        str(w.tianhe_unit.pk)]
    assert re.findall(r'<tr data-contract="([^"]+)"', html(operator.get(url))) == ["HT-2026-03", "HT-2024-01"]
    assert client_for(w.users.tianhe_reviewer).get(new).status_code == 403
    assert "YX-2024-01" in html(client_for(w.users.yuexiu_reviewer).get(url))


# ---------------------------------------------------------------------------------- double dipping


def test_double_dipping_page_and_the_boundary_days(fund):
    w = fund
    guard = w.hire(11, w.tianhe_child, "保安", hire_date=D(2024, 3, 1))
    # ends the day before the hire date: no flag; ends on the hire date: a flag of one day
    contract(w, "HT-BEFORE", unit=w.tianhe_child, start="2023-01-01", end="2024-02-29")
    contract(w, "HT-ON", unit=w.tianhe_child, start="2023-06-01", end="2024-03-01")
    client = client_for(w.users.tianhe_reviewer)
    url = reverse("funds:double_dipping")
    period = {"a": "2024-01-01", "b": "2024-12-31"}

    page = html(client.get(url, period))
    assert re.findall(r'data-testid="dipping-unit" data-unit="(\d+)"', page) == [str(w.tianhe_child.pk)]
    assert re.findall(r'data-testid="overlap" data-contract="([^"]+)" data-record="(\d+)"', page) == [
        ("HT-ON", str(guard.pk))]
    assert "HT-BEFORE" not in page
    overlap = f'data-record="{guard.pk}"'
    assert (cell(page, overlap, "period"), cell(page, overlap, "days")) == ("2024-03-01 – 2024-03-01", "1")
    assert f'href="{reverse("orgs:unit_detail", args=[w.tianhe_child.pk])}"' in page
    assert all(text in row_html(page, overlap) for text in ("职工11", "保安员", "保安"))
    assert re.search(r'data-total="units">1<', page) and re.search(r'data-total="overlaps">1<', page)

    rows = data_rows(sheet_rows(client.get(url, {**period, "export": "xlsx"})))
    assert [[*r[:4], day(r[4]), day(r[5]), *r[6:9], day(r[9]), day(r[10]), day(r[11]), day(r[12]), r[13]]
            for r in rows] == [
        [w.tianhe_child.uscc, w.tianhe_child.name, "HT-ON", "物业管理服务", "2023-06-01", "2024-03-01",
         "职工11", "保安员", "保安", "2024-03-01", "", "2024-03-01", "2024-03-01", 1]]

    # one more day of contract: two overlapping days, still one unit
    PurchaseContract.objects.filter(number="HT-BEFORE").update(end=D(2024, 3, 2))
    page = html(client.get(url, period))
    assert sorted(re.findall(r'data-testid="overlap" data-contract="([^"]+)"', page)) == ["HT-BEFORE", "HT-ON"]
    assert cell(page, 'data-contract="HT-BEFORE" data-record', "days") == "2"
    # a period that ends before the hire date flags nothing
    assert 'data-testid="no-flags"' in html(client.get(url, {"a": "2024-01-01", "b": "2024-02-29"}))
    # a period given backwards is refused on the form
    response = client.get(url, {"a": "2024-12-31", "b": "2024-01-01"})
    assert codes(response, "b") == ["period_invalid"] and 'data-testid="no-flags"' in html(response)
    # the default period is this year so far
    response = client.get(url)
    assert (response.context["a"], response.context["b"]) == (D(this_year(), 1, 1), timezone.localdate())
    # another district sees none of it
    other = client_for(w.users.yuexiu_reviewer)
    for response in (other.get(url, period), other.get(url, {**period, "export": "xlsx"})):
        text = body_text(response)
        assert "HT-ON" not in text and w.tianhe_child.name not in text


def test_a_local_catalogue_row_does_not_change_another_districts_flags(fund):
    w = fund
    # 越秀区 lets its 物业管理服务 replace drivers too; in 天河区 the item does not
    RuleItem.objects.create(table="service_item", code="property_management", name="物业管理服务",
                            value="security,cleaning,greening,maintenance,driver",
                            jurisdiction=w.yuexiu_unit.jurisdiction, jurisdiction_path=w.yuexiu_unit.jurisdiction_path,
                            valid_from=D(2020, 1, 1), source_document="越秀区补充规定")
    contract(w, "HT-PM", unit=w.tianhe_child, start="2024-01-01", end="2024-12-31")
    contract(w, "YX-PM", unit=w.yuexiu_unit, actor=w.users.province_admin, start="2024-01-01", end="2024-12-31")
    w.hire(21, w.tianhe_child, "驾驶员")  # a driver of 天河区: not replaced by 天河区's 物业管理服务
    period = {"a": "2024-01-01", "b": "2024-12-31"}
    district = html(client_for(w.users.tianhe_reviewer).get(reverse("funds:double_dipping"), period))
    assert 'data-testid="no-flags"' in district
    province = html(client_for(w.users.province_admin).get(reverse("funds:double_dipping"), period))
    assert f'data-unit="{w.tianhe_child.pk}"' not in province  # the same unit, the same rule


# ---------------------------------------------------------------------------------- both fall


def test_both_fall_page_says_yes_or_no_with_both_figures(fund):
    w = fund
    fund_set(w, year=2019, spending="100000")
    fund_set(w, year=2023, spending="80000")
    fund_set(w, year=2024, spending="90000")
    # 4 at the 2019 baseline; the clerk leaves in 2024 → 3 on 2024-12-31
    spells.spell_exit(actor=w.users.tianhe_admin, spell_id=w.clerk.pk, leave_date=D(2024, 6, 1),
                      exit_reason="辞职")
    client = client_for(w.users.tianhe_reviewer)
    url = reverse("funds:both_fall")

    def answer(page: str) -> str:
        found = re.search(r'data-testid="both-fall" data-value="(\w+)"', page)
        assert found
        return found.group(1)

    page = html(client.get(url, {"year": 2024}))
    assert answer(page) == "yes"
    assert re.search(r'data-testid="headcount">.*?data-value="headcount">3<.*?data-value="baseline">4<', page, re.S)
    assert re.search(r'data-testid="spending">.*?data-value="spending">90,000.00<.*?data-value="baseline">'
                     r"100,000.00<", page, re.S)
    row = f'data-unit="{w.tianhe_unit.pk}"'
    assert 'data-col="both" data-value="yes"' in row_html(page, row)
    assert (cell(page, row, "headcount"), cell(page, row, "spending")) == ("3", "90,000.00")

    rows = data_rows(sheet_rows(client.get(url, {"year": 2024, "export": "xlsx"})))
    assert [[r[0], r[1], r[2], r[4], r[5]] for r in rows] == [[w.tianhe_unit.name, 4, 3, 100000.0, 90000.0]]

    assert answer(html(client.get(url, {"year": 2023}))) == "no"  # the headcount had not fallen yet
    assert answer(html(client.get(url, {"year": 2025}))) == "unknown"  # no spending figure for 2025
    assert client.get(url).context["year"] == this_year() - 1

    page = html(client_for(w.users.yuexiu_reviewer).get(url, {"year": 2024}))
    assert answer(page) == "no" and w.tianhe_unit.name not in page


# ---------------------------------------------------------------------------------- posts moved to services


def test_a_post_moves_to_a_purchased_service_and_is_listed(fund):
    w = fund
    contract(w, "HT-PM", start="2024-01-01", end="2026-12-31")
    contract(w, "HT-CAT", item="catering", start="2024-01-01", end="2026-12-31")
    admin = client_for(w.users.tianhe_admin)
    url = reverse("funds:exit_to_service") + f"?spell={w.guard.pk}"
    detail = reverse("staffing:roster_detail", args=[w.guard.pk])
    assert f'href="{url}"' in html(admin.get(detail)).replace("&amp;", "&")

    page = html(admin.get(url))
    assert re.findall(r'<option value="(HT-[A-Z]+)"', page) == ["HT-CAT", "HT-PM"]
    assert re.search(r'<option value="HT-PM" selected>', page)  # the one contract that replaces 保安
    before = (ServiceConversion.objects.count(), AuditEvent.objects.count())
    response = admin.post(url, {"leave_date": "2025-07-01", "contract": "HT-CAT"})
    assert response.status_code == 422 and codes(response, "contract") == ["contract_not_replacing"]
    response = admin.post(url, {"leave_date": "2027-01-01", "contract": "HT-PM"})
    assert codes(response, "contract") == ["contract_not_in_force"]
    w.guard.refresh_from_db()
    assert w.guard.leave_date is None and (ServiceConversion.objects.count(), AuditEvent.objects.count()) == before

    response = admin.post(url, {"leave_date": "2025-07-01", "contract": "HT-PM"})
    assert response.status_code == 302 and response["Location"] == detail
    w.guard.refresh_from_db()
    assert (w.guard.leave_date, w.guard.exit_reason) == (D(2025, 7, 1), "to_purchased_service")
    assert ServiceConversion.objects.get().contract.number == "HT-PM"
    assert admin.get(url)["Location"] == detail  # the record has ended

    client = client_for(w.users.tianhe_reviewer)
    page = html(client.get(reverse("funds:conversion_list")))
    summary = f'data-unit="{w.tianhe_unit.pk}" data-year="2025"'
    assert cell(page, summary, "posts") == "1"
    assert "HT-PM" in page and "职工1" in page
    rows = data_rows(sheet_rows(client.get(reverse("funds:conversion_list"), {"export": "xlsx"})))
    assert [[day(r[0]), *r[1:]] for r in rows] == [
        ["2025-07-01", w.tianhe_unit.uscc, w.tianhe_unit.name, "职工1", "保安员", "保安", "HT-PM", "物业管理服务"]]
    page = html(client.get(reverse("funds:conversion_list"), {"year": 2024}))
    assert "HT-PM" not in page and summary not in page

    other = client_for(w.users.yuexiu_reviewer)
    for response in (other.get(reverse("funds:conversion_list")),
                     other.get(reverse("funds:conversion_list"), {"export": "xlsx"})):
        assert "HT-PM" not in body_text(response) and "职工1" not in body_text(response)
    yuexiu_admin = client_for(make_user("yx_admin", "administrator", "440104"))
    assert yuexiu_admin.get(reverse("funds:exit_to_service") + f"?spell={w.cleaner.pk}").status_code == 404
    assert yuexiu_admin.post(reverse("funds:exit_to_service") + f"?spell={w.cleaner.pk}",
                             {"leave_date": "2025-07-01", "contract": "HT-PM"}).status_code == 404
    assert admin.get(reverse("funds:exit_to_service"))["Location"] == reverse("funds:conversion_list")
    assert client_for(w.users.tianhe_supervisor).get(url).status_code == 403


# ---------------------------------------------------------------------------------- scope and menu


def test_a_yuexiu_reviewer_sees_none_of_tianhe(fund):
    w = fund
    y = this_year()
    fund_set(w, year=2019, spending="100000")
    fund_set(w, year=y, budget="90000")
    fund_set(w, unit=w.tianhe_child, year=y - 1, spending="5000")
    plan(w.tianhe_unit, y, "95000", "SP-TH")
    contract(w, "HT-SCOPE", start=f"{y}-01-01", end=f"{y}-12-31")  # guard and cleaner: double dipping
    markers = [w.tianhe_unit.name, w.tianhe_child.name, w.tianhe_unit.uscc, "HT-SCOPE", "SP-TH", "职工1"]
    pages = [("funds:funding_list", {"year": ""}), ("funds:plan_list", {}), ("funds:contract_list", {}),
             ("funds:double_dipping", {}), ("funds:both_fall", {"year": y - 1}), ("funds:conversion_list", {}),
             ("funds:catalogue", {})]
    own = client_for(w.users.tianhe_reviewer)
    seen = body_text(own.get(reverse("funds:double_dipping")))
    assert "HT-SCOPE" in seen and "职工1" in seen  # the 天河区 reviewer does see them
    other = client_for(w.users.yuexiu_reviewer)
    for name, params in pages:
        for extra in ({}, {"export": "xlsx"}):
            response = other.get(reverse(name), {**params, **extra})
            assert response.status_code == 200, name
            text = body_text(response)
            for marker in markers:
                assert marker not in text, f"{name} {extra} leaks {marker}"


def test_the_menu_offers_the_funds_pages_by_role(fund):
    w = fund
    page = html(client_for(w.users.finance).get(reverse("funds:funding_list")))
    for name in ("funding_list", "plan_list", "catalogue", "contract_list", "double_dipping", "both_fall",
                 "conversion_list", "funding_import", "contract_import"):
        assert f'href="{reverse("funds:" + name)}"' in page, name
    page = html(client_for(w.users.tianhe_reviewer).get(reverse("funds:funding_list")))
    assert f'href="{reverse("funds:funding_list")}"' in page
    assert f'href="{reverse("funds:funding_import")}"' not in page
    assert f'href="{reverse("funds:contract_import")}"' not in page
    assert 'data-testid="funding-new"' not in page
    page = html(client_for(w.users.tianhe_operator).get(reverse("funds:contract_list")))
    assert f'href="{reverse("funds:contract_import")}"' in page
    assert f'href="{reverse("funds:funding_import")}"' not in page


# ---------------------------------------------------------------------------------- imports


@pytest.fixture
def uploads(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return tmp_path


def _csv(name: str, lines: list[str]) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, ("\n".join(lines) + "\n").encode("utf-8"), content_type="text/csv")


def _sha(page: str) -> str:
    found = re.search(r'name="sha256" value="([0-9a-f]{64})"', page) or re.search(r"sha256=([0-9a-f]{64})", page)
    assert found
    return found.group(1)


def test_funding_import_reports_every_bad_row_then_imports(fund, uploads):
    w = fund
    y = this_year()
    client = client_for(w.users.finance)
    url = reverse("funds:funding_import")
    page = html(client.get(url))
    assert f'href="{reverse("funds:funding_import_template")}"' in page
    template = client.get(reverse("funds:funding_import_template"))
    assert template.status_code == 200 and template["Content-Type"] == XLSX

    header = "统一社会信用代码,年度,预算数,支出数"
    u = w.tianhe_unit.uscc
    bad = [header, f"{u},2019,,100000", f"{u},{y},100000.01,", f"{w.yuexiu_unit.uscc},{y},1,", f"{u},1999,,1"]
    before = funding_state()
    page = html(client.post(url, {"action": "upload", "file": _csv("经费.csv", bad)}))
    errors = re.findall(r"<tr><td class=\"num\">(\d+)</td>.*?<code>(\w+)</code>", page, re.S)
    assert sorted(errors) == sorted([("3", "budget_over_cap"), ("4", "unit_not_found"), ("5", "year_invalid")])
    assert 'data-testid="confirm-form"' not in page
    report = data_rows(sheet_rows(client.get(reverse("funds:funding_import_report"), {"sha256": _sha(page)})))
    assert sorted((int(r[0]), r[3]) for r in report) == [(3, "budget_over_cap"), (4, "unit_not_found"),
                                                          (5, "year_invalid")]
    assert funding_state() == before

    good = [header, f"{u},2019,,100000", f"{u},{y},100000,"]
    page = html(client.post(url, {"action": "upload", "file": _csv("经费.csv", good)}))
    assert re.search(r'data-count="created">2<', page) and 'data-testid="confirm-form"' in page
    assert funding_state() == before  # the check writes nothing
    response = client.post(url, {"action": "confirm", "sha256": _sha(page)})
    assert response.status_code == 302
    assert sorted(UnitFunding.objects.filter(unit=w.tianhe_unit).values_list("year", "budget", "spending")) == [
        (2019, None, M("100000.00")), (y, M("100000.00"), None)]
    page = html(client.get(url))
    assert re.search(r'data-count="created">2<', page)
    # a confirmation without the upload in the session is refused
    assert client.post(url, {"action": "confirm", "sha256": "0" * 64})["Location"] == url

    for user in (w.users.tianhe_reviewer, w.users.tianhe_operator):
        assert client_for(user).get(url).status_code == 403
        assert client_for(user).get(reverse("funds:funding_import_template")).status_code == 403


def test_purchase_import_reports_every_bad_row_then_imports(fund, uploads):
    w = fund
    client = client_for(w.users.tianhe_operator)  # a unit operator registers its own unit's contracts
    url = reverse("funds:contract_import")
    assert html(client.get(url))
    template = client.get(reverse("funds:contract_import_template"))
    assert template.status_code == 200 and template["Content-Type"] == XLSX

    header = "合同编号,统一社会信用代码,服务目录项,开始日期,结束日期,金额"
    u = w.tianhe_unit.uscc
    bad = [header, f"HT-I-1,{u},物业管理服务,2025-01-01,2025-12-31,50000",
           f"HT-I-2,{u},不存在的服务,2025-01-01,2025-12-31,1",
           f"HT-I-3,{w.tianhe_child.uscc},餐饮服务,2025-01-01,2025-12-31,1",
           f"HT-I-4,{u},餐饮服务,2025-12-31,2025-01-01,1"]
    page = html(client.post(url, {"action": "upload", "file": _csv("合同.csv", bad)}))
    errors = re.findall(r"<tr><td class=\"num\">(\d+)</td>.*?<code>(\w+)</code>", page, re.S)
    assert sorted(errors) == sorted([("3", "unknown_service_item"), ("4", "unit_not_found"),
                                     ("5", "contract_end_before_start")])
    assert PurchaseContract.objects.count() == 0

    page = html(client.post(url, {"action": "upload", "file": _csv("合同.csv", bad[:2])}))
    assert re.search(r'data-count="created">1<', page) and "HT-I-1" in page
    assert client.post(url, {"action": "confirm", "sha256": _sha(page)}).status_code == 302
    made = PurchaseContract.objects.get()
    assert (made.number, made.unit, made.item, made.start, made.end, made.amount) == (
        "HT-I-1", w.tianhe_unit, "property_management", D(2025, 1, 1), D(2025, 12, 31), M("50000.00"))
    assert client_for(w.users.tianhe_reviewer).get(url).status_code == 403
