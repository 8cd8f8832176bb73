"""The statistics pages: every number equals the indicator JSON of the same scope and dates,
every number opens the records behind it, the exports hold exactly what the pages show, and
越秀区 stays invisible to a 天河区 user on every page, drill-down and export."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from decimal import Decimal as M
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from python_calamine import CalamineWorkbook

from bianzhi.staffing import selectors as staffing_selectors
from bianzhi.staffing.models import Spell
from bianzhi.stats import figures as fig
from bianzhi.stats.compute import CODES, counting_q
from bianzhi.stats.report import kind_of
from bianzhi.stats.selectors import indicators_for
from tests.factories import clear_id, make_unit

from .test_indicators import AS_OF, Roster, data  # noqa: F401 - the fixture

DAY = AS_OF.isoformat()


@pytest.fixture
def w(data):  # noqa: F811 - the hand-made data of the indicator tests
    return data
PARAMS = {"scope": "440106", "as_of": DAY}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page(client, url, params=None, status=200) -> str:
    response = client.get(url, params)
    assert response.status_code == status, (url, params, response.status_code)
    return response.content.decode()


def sheet(response) -> list[list]:
    assert response.status_code == 200
    assert "spreadsheetml" in response["Content-Type"]
    book = CalamineWorkbook.from_filelike(io.BytesIO(response.content))
    return book.get_sheet_by_name(book.sheet_names[0]).to_python()


def attr_values(html: str, testid_prefix: str) -> dict[str, str]:
    """data-testid="<prefix>X" … data-value="v" → {X: v}."""
    found = re.findall(rf'data-testid="{testid_prefix}([^"]+)"[^>]*data-value="([^"]*)"', html)
    return {k: unescape(v) for k, v in found}


def same(code: str, shown, expected) -> bool:
    if expected is None:
        return shown in ("", None)
    if kind_of(code) == "rate":
        return float(shown) == expected
    if kind_of(code) == "money":
        return M(str(shown)) == M(expected)
    return int(shown) == expected


def the_json(user, **params):
    return indicators_for(actor=user, **params)[0]


# ------------------------------------------------------------------------------ indicators page


def test_the_indicators_page_shows_the_json(w):
    client = client_for(w.users.tianhe_reviewer)
    html = page(client, "/stats/indicators/", PARAMS)
    expected = the_json(w.users.tianhe_reviewer, scope="440106", as_of=AS_OF)["indicators"]
    shown = attr_values(html, "value-")
    assert list(shown) == CODES
    for code in CODES:
        value = expected[code]
        if isinstance(value, dict):  # the split: its total, and each item
            assert int(shown[code]) == sum(value.values())
            block = html.split(f'data-split="{code}"', 1)[1].split("</table>", 1)[0]
            items = dict(re.findall(r'data-item="([^"]+)">.*?data-value="([^"]*)"', block, re.S))
            assert {k: int(v) for k, v in items.items()} == value, code
        else:
            assert same(code, shown[code], value), (code, shown[code], value)
    # formats: thousands separators, percentages with 2 decimals, yuan with 2 decimals, a dash for null
    assert ">-14.29%<" in html and ">285,000.00<" in html and ">240,000.50<" in html and ">0.75%<" in html
    # every number links to its drill-down with the same, explicit parameters
    links = re.findall(r'href="(/stats/indicators/I\d\d/\?[^"]+)"', html)
    assert len({urlsplit(unescape(u)).path for u in links}) == 23
    query = parse_qs(urlsplit(unescape(links[0])).query)
    assert (query["scope"], query["as_of"], query["from"], query["to"], query["year"]) == (
        ["440106"], [DAY], ["2024-01-01"], ["2024-12-31"], ["2024"])
    situation = [unescape(u) for u in links if "/I08/" in u and "key=" in u]
    assert len(situation) == 5


def test_the_indicators_page_for_a_unit_and_the_defaults(w):
    client = client_for(w.users.tianhe_reviewer)
    html = page(client, "/stats/indicators/", {"unit": w.tianhe_unit.uscc, "as_of": DAY, "from": "2024-01-01",
                                               "to": "2024-03-31", "year": "2019"})
    expected = the_json(w.users.tianhe_reviewer, unit=w.tianhe_unit.uscc, as_of=AS_OF, start="2024-01-01",
                        end="2024-03-31", year=2019)["indicators"]
    shown = attr_values(html, "value-")
    for code in ("I01", "I12", "I13", "I20"):
        value = expected[code]
        assert same(code, shown[code], sum(value.values()) if isinstance(value, dict) else value), code
    # no parameters: the user's jurisdiction today
    html = page(client, "/stats/indicators/")
    today = the_json(w.users.tianhe_reviewer)["indicators"]
    assert int(attr_values(html, "value-")["I01"]) == today["I01"]
    # own level (本级): the district's own units only
    html = page(client, "/stats/indicators/", {**PARAMS, "own_level": "on"})
    own = the_json(w.users.tianhe_reviewer, scope="440106", as_of=AS_OF, own_level=True)["indicators"]
    assert int(attr_values(html, "value-")["I01"]) == own["I01"]
    assert "own_level=1" in html


def test_the_indicators_page_answers_the_selectors_errors(w):
    client = client_for(w.users.tianhe_reviewer)
    response = client.get("/stats/indicators/", {"scope": "440104"})
    assert response.status_code == 422
    html = response.content.decode()
    assert 'data-testid="error-scope"' in html and 'data-testid="indicator-table"' not in html
    response = client.get("/stats/indicators/", {"unit": w.yuexiu_unit.uscc})
    assert response.status_code == 422 and 'data-testid="error-unit"' in response.content.decode()
    assert w.yuexiu_unit.name not in response.content.decode()
    response = client.get("/stats/indicators/", {"as_of": "2024-13-01", "from": "2024-12-01", "to": "2024-01-01"})
    html = response.content.decode()
    assert response.status_code == 422 and 'data-testid="error-as_of"' in html and 'data-testid="error-to"' in html


def test_the_indicators_export(w):
    client = client_for(w.users.tianhe_reviewer)
    rows = sheet(client.get("/stats/indicators/", {**PARAMS, "export": "xlsx"}))
    expected = the_json(w.users.tianhe_reviewer, scope="440106", as_of=AS_OF)["indicators"]
    table = [r for r in rows[5:] if r and r[0]]
    scalars = {r[0]: r[3] for r in table if not r[2]}
    items = {(r[0], r[2]): r[3] for r in table if r[2]}
    for code in CODES:
        value = expected[code]
        if isinstance(value, dict):
            assert {name: int(items[(code, name)]) for name in value} == value
        elif value is None:
            assert scalars[code] == ""
        else:
            assert same(code, scalars[code], value), code


# ------------------------------------------------------------------------------ drill-down


def drill(client, code, status=200, **params):
    return page(client, f"/stats/indicators/{code}/", {**PARAMS, **params}, status=status)


def record_ids(html: str) -> set[int]:
    return {int(pk) for pk in re.findall(r'data-record="(\d+)"', html)}


def test_the_drill_down_of_i01_lists_exactly_the_records_counting(w):
    client = client_for(w.users.tianhe_reviewer)
    html = drill(client, "I01")
    counting = set(Spell.objects.filter(unit__jurisdiction__code="440106").filter(counting_q(AS_OF))
                   .values_list("pk", flat=True))
    assert record_ids(html) == counting and len(counting) == 6
    assert 'data-value="6"' in html
    # the person's masked ID, never the full one; each record opens its page
    spell = Spell.objects.get(pk=min(counting))
    assert spell.person.masked_id in html and clear_id(spell.person) not in html
    assert f"/staffing/roster/{spell.pk}/" in html or 'data-href="/staffing/' in html
    # the day of the as-of rules: the leaver of the as-of day is not among them, the starter is
    assert not Spell.objects.filter(pk__in=counting, leave_date=AS_OF).exists()
    assert Spell.objects.filter(pk__in=counting, hire_date=AS_OF).exists()


def test_the_records_behind_the_other_counts(w):
    client = client_for(w.users.tianhe_reviewer)
    th = Spell.objects.filter(unit__jurisdiction__code="440106")
    now = th.filter(counting_q(AS_OF))
    assert record_ids(drill(client, "I02")) == set(now.filter(funding_source="fiscal").values_list("pk", flat=True))
    assert record_ids(drill(client, "I08", key="dispatched")) == set(
        now.filter(situation="dispatched").values_list("pk", flat=True))
    assert record_ids(drill(client, "I09", key="logistics")) == set(
        now.filter(post_class="logistics").values_list("pk", flat=True))
    assert record_ids(drill(client, "I10")) == set(now.filter(situation="coordinator").values_list("pk", flat=True))
    assert record_ids(drill(client, "I11")) == set(now.exclude(key_post="").values_list("pk", flat=True))
    assert len(record_ids(drill(client, "I12"))) == 2
    left = set(th.filter(leave_date__year=2024).values_list("pk", flat=True))
    assert record_ids(drill(client, "I13")) == left and len(left) == 4
    assert len(record_ids(drill(client, "I13", key="resigned"))) == 2
    # a split's drill-down names the split value it shows
    assert 'data-value="2"' in drill(client, "I13", key="resigned")


def test_the_units_cells_and_funding_behind_the_other_numbers(w):
    client = client_for(w.users.tianhe_reviewer)
    b = w.tianhe_child
    # I03: the frozen baseline cells, summing to I03
    html = drill(client, "I03")
    counts = [int(n) for n in re.findall(r'<td class="num">(\d+)</td></tr>', html.split('data-testid="drill-baseline"')[1])]
    assert sum(counts) == 7
    # I15 and I23: the units, I23 linking to the double-dipping page over the same period
    assert re.findall(r'<tr data-unit="(\d+)"', drill(client, "I15")) == [str(b.pk)]
    html = drill(client, "I23")
    assert re.findall(r'<tr data-unit="(\d+)"', html) == [str(b.pk)]
    assert f"/funds/double-dipping/?a=2024-01-01&amp;b=2024-12-31&amp;unit={b.pk}" in html
    # I16 over the cap: none on the as-of day; lower a's cap and it is listed with its figures
    assert 'data-testid="drill-units"' in drill(client, "I16") and "<tr data-unit" not in drill(client, "I16")
    from bianzhi.staffing.models import CapChange

    CapChange.objects.create(unit=w.tianhe_unit, post_class="", cap=3, valid_from=dt.date(2024, 6, 1))
    html = drill(client, "I16")
    assert re.findall(r'<tr data-unit="(\d+)"', html) == [str(w.tianhe_unit.pk)]
    # I19–I22: the funding rows of the year
    html = drill(client, "I20")
    assert set(re.findall(r'<tr data-unit="(\d+)"', html)) == {str(w.tianhe_unit.pk), str(b.pk)}
    assert 'data-value="240000.50"' in html and "150,000.00" in html and "90,000.50" in html
    html = drill(client, "I20", year="2019")
    assert "200,000.00" in html and "100,000.00" in html
    # derived indicators show their components, each with its own drill-down
    html = drill(client, "I05")
    assert "/stats/indicators/I01/?" in html and "/stats/indicators/I03/?" in html
    html = drill(client, "I21")
    assert "year=2019" in html and "300,000.00" in html
    html = drill(client, "I22")
    assert html.count("/stats/indicators/I01/?") >= 12 and "as_of=2024-01-31" in html
    html = drill(client, "I06")
    assert ">800<" in html and 'data-testid="drill-quotas"' in html
    html = drill(client, "I18")
    assert len(re.findall(r'<tr data-unit="(\d+)"', html)) == 2  # the units with a baseline above 0


def test_drill_down_exports(w):
    client = client_for(w.users.tianhe_reviewer)
    rows = sheet(client.get("/stats/indicators/I01/", {**PARAMS, "export": "xlsx"}))
    records = [r for r in rows[4:] if r and r[0]]
    counting = Spell.objects.filter(unit__jurisdiction__code="440106").filter(counting_q(AS_OF)).select_related(
        "person")
    assert sorted(r[0] for r in records) == sorted(s.person.name for s in counting)
    assert {r[1] for r in records} == {s.person.masked_id for s in counting}
    assert not any(clear_id(s.person) in str(r) for s in counting for r in records)
    # a split value, exactly what the page lists
    rows = sheet(client.get("/stats/indicators/I13/", {**PARAMS, "key": "resigned", "export": "xlsx"}))
    assert len([r for r in rows[4:] if r and r[0]]) == 2
    for code in ("I03", "I16", "I20", "I06", "I05"):
        assert client.get(f"/stats/indicators/{code}/", {**PARAMS, "export": "xlsx"}).status_code == 200


def test_unknown_codes_answer_404(w):
    client = client_for(w.users.tianhe_reviewer)
    for code in ("I00", "I24", "i01", "TH1", "I1"):
        assert client.get(f"/stats/indicators/{code}/", PARAMS).status_code == 404


# ------------------------------------------------------------------------------ scope


def test_yuexiu_is_invisible_to_a_tianhe_user(w):
    client = client_for(w.users.tianhe_reviewer)
    markers = [w.yuexiu_unit.name, "越秀", w.yuexiu_unit.uscc]
    probes = [("/stats/indicators/I01/", {"scope": "440104"}), ("/stats/indicators/I01/", {"unit": w.yuexiu_unit.uscc}),
              ("/stats/indicators/I03/", {"scope": "440104", "export": "xlsx"}),
              ("/stats/indicators/I20/", {"unit": w.yuexiu_unit.uscc, "export": "xlsx"}),
              ("/stats/report/", {"scope": "440104"}), ("/stats/report/", {"scope": "440100", "export": "xlsx"}),
              ("/stats/", {"scope": "440104"}), ("/stats/", {"unit": w.yuexiu_unit.uscc}),
              ("/stats/indicators/", {"scope": "440104", "export": "xlsx"})]
    for url, params in probes:
        response = client.get(url, params)
        assert response.status_code == 422, (url, params, response.status_code)
        body = response.content.decode()
        for marker in markers:
            assert marker not in body, (url, params, marker)
    # the 天河区 pages and exports never count the 越秀区 record
    for url in ("/stats/", "/stats/indicators/", "/stats/report/", "/stats/catalogue/"):
        for suffix in ({}, {"export": "xlsx"}) if url != "/stats/" else ({},):
            response = client.get(url, {**({"as_of": DAY} if url != "/stats/catalogue/" else {}), **suffix})
            assert response.status_code == 200
            text = response.content.decode("utf-8", "replace") if not suffix else json.dumps(sheet(response),
                                                                                             ensure_ascii=False)
            for marker in markers:
                assert marker not in text, (url, suffix, marker)


def test_a_unit_operator_sees_its_unit_only(w):
    client = client_for(w.users.tianhe_operator)
    html = page(client, "/stats/indicators/", PARAMS)
    assert int(attr_values(html, "value-")["I01"]) == 4
    html = drill(client, "I01")
    assert {Spell.objects.get(pk=pk).unit_id for pk in record_ids(html)} == {w.tianhe_unit.pk}


# ------------------------------------------------------------------------------ report


def test_the_report_of_a_district_has_a_row_per_unit(w):
    user = w.users.tianhe_reviewer
    client = client_for(user)
    response = client.get("/stats/report/", {**PARAMS, "export": "xlsx"})
    rows = sheet(response)
    assert "天河区" in rows[0][0]
    header, sub, measure = rows[3], rows[4], rows[5]
    assert [c.split(" ")[0] for c in header[2:] if c] == CODES  # the 23, split ones over their values
    total = the_json(user, scope="440106", as_of=AS_OF)["indicators"]
    columns = _columns(header, sub)
    assert {name for code, name in columns if code == "I08"} == set(total["I08"])
    assert len(columns) == 20 + len(total["I08"]) + len(total["I09"]) + len(total["I13"])
    assert measure[2 + [c for c, _n in columns].index("I05")] == "%"
    body = {r[1]: r for r in rows[6:] if r and r[1]}
    _same_row(body["440106"], columns, total)
    # one row per unit, equal to the unit's own indicators
    units = [w.tianhe_unit, w.tianhe_child, w.zero]
    for unit in units:
        _same_row(body[unit.uscc], columns, the_json(user, unit=unit.uscc, as_of=AS_OF)["indicators"])
    assert any("th_reviewer" in str(r[0]) for r in rows[-3:])  # compiled by
    # the page shows the same table
    html = page(client, "/stats/report/", PARAMS)
    assert html.count('data-role="unit"') == 3 and 'data-role="total"' in html and 'data-role="own"' in html


def test_the_report_of_a_city_has_a_row_per_district(w):
    user = w.users.city_reviewer
    rows = sheet(client_for(user).get("/stats/report/", {"scope": "440100", "as_of": DAY, "export": "xlsx"}))
    columns = _columns(rows[3], rows[4])
    body: dict = {}
    for r in rows[6:]:
        if r and r[1]:
            body.setdefault(r[1], r)  # the total comes before the own level
    for code in ("440100", "440106", "440104"):
        _same_row(body[code], columns, the_json(user, scope=code, as_of=AS_OF)["indicators"])
    own = the_json(user, scope="440100", as_of=AS_OF, own_level=True)["indicators"]
    own_row = [r for r in rows[6:] if r and r[1] == "440100"][1]
    _same_row(own_row, columns, own)
    districts = {d.code for d in fig.sub_jurisdictions(w.city_unit.jurisdiction)}
    assert set(body) == districts | {"440100"}


def _columns(header, sub):
    columns, current = [], ""
    for i in range(2, len(header)):
        if header[i]:
            current = header[i].split(" ")[0]
        columns.append((current, sub[i] or None))
    return columns


def _same_row(row, columns, expected):
    for i, (code, split) in enumerate(columns):
        cell = row[2 + i]
        value = expected[code][split] if split else expected[code]
        if value is None:
            assert cell == "", (code, cell)
        elif kind_of(code) == "money":
            assert M(str(cell)).quantize(M("0.01")) == M(value), (code, cell, value)
        elif kind_of(code) == "rate":
            assert cell == pytest.approx(value), (code, cell, value)
        else:
            assert int(cell) == value, (code, split, cell, value)


def test_per_unit_values_equal_each_units_indicators(w):
    """The report's unit rows come from grouped queries: each equals the unit's own JSON,
    over a period and a year with movements, money and a breach."""
    user = w.users.tianhe_reviewer
    roster = Roster(w)
    roster.n = 100  # people of their own
    roster.spell(w.zero, dt.date(2024, 2, 1), dt.date(2024, 5, 1), post_class="professional_technical",
                    work_type="it_operations", reason="dismissed")
    _json, resolved, figures = indicators_for(actor=user, scope="440106", as_of=AS_OF, start="2024-02-01",
                                              end="2024-11-30", year=2024)
    values = fig.per_unit_values(resolved.query, figures)
    rules = staffing_selectors.ruleset_for(resolved.query.path, resolved.query.as_of)
    for unit in (w.tianhe_unit, w.tianhe_child, w.zero):
        own = the_json(user, unit=unit.uscc, as_of=AS_OF, start="2024-02-01", end="2024-11-30", year=2024)
        assert fig.named(values[unit.pk], rules) == own["indicators"], unit.name


# ------------------------------------------------------------------------------ dashboard


def chart_data(html: str) -> dict:
    block = re.search(r'<script id="chart-data" type="application/json">(.*?)</script>', html, re.S)
    assert block is not None
    return json.loads(block.group(1))


def test_the_dashboard_charts_carry_the_indicator_figures(w):
    user = w.users.tianhe_reviewer
    html = page(client_for(user), "/stats/", PARAMS)
    charts = chart_data(html)
    expected = the_json(user, scope="440106", as_of=AS_OF)["indicators"]
    headcount = charts["headcount"]
    assert headcount["categories"][0] == "2015-12-31" and headcount["categories"][-1] == DAY
    assert headcount["series"][0]["data"][-1] == expected["I01"]
    assert set(headcount["series"][1]["data"]) == {expected["I03"]}
    for day, count in zip(headcount["categories"], headcount["series"][0]["data"], strict=True):
        assert count == the_json(user, scope="440106", as_of=day)["indicators"]["I01"], day
    def split(name):
        return dict(zip(charts[name]["categories"], charts[name]["series"][0]["data"], strict=True))

    assert split("situation") == expected["I08"] and split("post_class") == expected["I09"]
    sources = split("funding_source")
    assert sum(sources.values()) == expected["I01"] and sources["财政拨款"] == expected["I02"]
    funding = dict(zip(charts["funding"]["categories"], zip(*[s["data"] for s in charts["funding"]["series"]],
                                                            strict=True), strict=True))
    assert funding["2024"] == (28.5, 24.0, 30.0)  # 万元: budget, spending, baseline-year spending
    assert funding["2019"][1] == 30.0 and funding["2020"][:2] == (None, None)
    assert charts["funding"]["categories"][0] == "2019"  # the empty years before the first figures are left out
    assert [s["value"] for s in charts["cleared"]["series"]] == [expected["I17"], 2 - expected["I17"]]
    assert charts["over_cap"]["total"] == expected["I16"] == 0 and charts["over_cap"]["categories"] == []
    assert "children" not in charts  # a district: its towns hold no units
    # the tables under the charts carry the same figures
    assert 'data-testid="table-headcount"' in html and f'data-date="{DAY}"' in html
    assert 'data-testid="counter-alerts"' in html and 'data-testid="counter-pending"' in html


def test_the_dashboard_of_a_city_compares_its_districts(w):
    user = w.users.city_reviewer
    from bianzhi.staffing.models import CapChange

    CapChange.objects.create(unit=w.tianhe_unit, post_class="", cap=2, valid_from=dt.date(2024, 6, 1))
    html = page(client_for(user), "/stats/", {"scope": "440100", "as_of": DAY})
    charts = chart_data(html)
    children = dict(zip(charts["children"]["categories"], zip(*[s["data"] for s in charts["children"]["series"]],
                                                              strict=True), strict=True))
    for code, name in (("440106", "天河区"), ("440104", "越秀区")):
        v = the_json(user, scope=code, as_of=AS_OF)["indicators"]
        i05 = None if v["I05"] is None else pytest.approx(v["I05"] * 100)
        assert children[name] == (v["I01"], v["I03"], i05), name
    assert charts["over_cap"]["categories"] == [w.tianhe_unit.name]
    assert charts["over_cap"]["series"][0]["data"] == [4] and charts["over_cap"]["series"][1]["data"] == [2]
    # no inline script besides the JSON blocks, ECharts served by the app itself
    assert "cdn" not in html.lower()
    scripts = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    assert all('type="application/json"' in s for s in scripts), scripts


# ------------------------------------------------------------------------------ catalogue


def test_a_local_indicator_added_on_the_catalogue_appears_on_the_indicators_page(w):
    admin = client_for(w.users.tianhe_admin)
    html = page(admin, "/stats/catalogue/")
    assert html.count("<tr data-code=") == 23 and 'data-testid="indicator-form"' in html
    response = admin.post("/stats/catalogue/", {"code": "th1", "name": "关键岗位与超上限合计", "expression": "I11 + I16 * 2"})
    assert response.status_code == 302
    response = admin.post("/stats/catalogue/", {"code": "TH2", "name": "x", "expression": "I08 + 1"})
    assert response.status_code == 422
    assert re.search(r'id="id_expression"[^>]*is-invalid|is-invalid[^>]*id="id_expression"', response.content.decode())
    response = admin.post("/stats/catalogue/", {"code": "I05", "name": "x", "expression": "I01"})
    assert response.status_code == 422 and 'aria-invalid="true"' in response.content.decode()
    html = page(admin, "/stats/catalogue/")
    assert 'data-code="TH1"' in html
    # a reviewer of the district sees it on the indicators page, computed for the scope and day
    reviewer = client_for(w.users.tianhe_reviewer)
    html = page(reviewer, "/stats/indicators/", PARAMS)
    assert re.search(r'data-testid="local-TH1" data-value="1(\.0)?"', html)
    assert "form" not in page(reviewer, "/stats/catalogue/").split('data-testid="local-catalogue"')[1]
    assert reviewer.post("/stats/catalogue/", {"code": "TH3", "name": "x", "expression": "I01"}).status_code == 403
    # not for 越秀区
    assert 'data-code="TH1"' not in page(client_for(w.users.yuexiu_reviewer), "/stats/catalogue/")


def test_the_catalogue_export(w):
    rows = sheet(client_for(w.users.tianhe_reviewer).get("/stats/catalogue/", {"export": "xlsx"}))
    assert [r[0] for r in rows[4:27]] == CODES


def test_a_new_unit_in_the_district_appears_in_the_report(w):
    unit = make_unit("440106", "天河区新设单位")
    html = page(client_for(w.users.tianhe_reviewer), "/stats/report/", PARAMS)
    assert unit.name in html


def test_the_dashboard_of_a_citys_own_level(w):
    """本级 on the dashboard: the city's own units only (the demo's 广州市本级 calibration shows there)."""
    user = w.users.city_reviewer
    charts = chart_data(page(client_for(user), "/stats/", {"scope": "440100", "own_level": "on", "as_of": DAY}))
    expected = the_json(user, scope="440100", own_level=True, as_of=AS_OF)["indicators"]
    whole = the_json(user, scope="440100", as_of=AS_OF)["indicators"]
    assert charts["headcount"]["series"][0]["data"][-1] == expected["I01"] != whole["I01"]
    assert set(charts["headcount"]["series"][1]["data"]) == {expected["I03"]}
