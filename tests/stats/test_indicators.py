"""Every indicator pinned on small hand-made data (INDICATORS.md), including the edge cases of
the issue: a record starting on the as-of day counts, one whose leave date is the as-of day does
not, one leaving the day after does; a unit with a zero baseline; zero denominators; a period
shorter than a year for the logistics policy; a person moving between units on the same day.
Rates round half-even to 4 places."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal as M
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from bianzhi.common.codes import make_resident_id
from bianzhi.common.errors import BianzhiError
from bianzhi.common.rules_loader import load_all_rules
from bianzhi.funds.models import ControlPlan, PurchaseContract, UnitFunding
from bianzhi.orgs.models import EstablishmentQuota, Person, sealed_id_number
from bianzhi.staffing.models import Baseline, BaselineCount, CapChange, Spell
from bianzhi.stats.compute import CODES
from bianzhi.stats.selectors import indicators_for
from tests.factories import make_unit

D = dt.date
AS_OF = D(2024, 6, 30)


class Roster:
    def __init__(self, w):
        self.w = w
        self.n = 0

    def person(self, unit):
        self.n += 1
        return Person.objects.create(**sealed_id_number(make_resident_id("440106", D(1990, 1, 1), self.n)), name=f"人{self.n}",
                                     sex="M" if self.n % 2 else "F", birth_date=D(1990, 1, 1),
                                     jurisdiction=unit.jurisdiction, jurisdiction_path=unit.jurisdiction_path,
                                     unit=unit)

    def spell(self, unit, hire, leave=None, *, person=None, situation="labour_contract",
              post_class="general_auxiliary", work_type="clerical", funding="fiscal", key_post="", reason=""):
        return Spell.objects.create(
            person=person or self.person(unit), unit=unit, jurisdiction_path=unit.jurisdiction_path,
            situation=situation, post_class=post_class, work_type=work_type, post_name="岗位", key_post=key_post,
            funding_source=funding, hire_date=hire, leave_date=leave,
            exit_reason=reason or ("resigned" if leave else ""), source="form")


def baseline(division, counts, taken_by):
    """A frozen baseline of 2019-12-31: {(unit, situation, post_class): n}."""
    b = Baseline.objects.create(jurisdiction=division, jurisdiction_path=division.path, as_of=D(2019, 12, 31),
                                taken_by=taken_by, total=sum(counts.values()))
    for (unit, situation, post_class), n in counts.items():
        BaselineCount.objects.create(baseline=b, unit=unit, situation=situation, post_class=post_class, count=n)
    return b


@pytest.fixture
def data(world, db):
    load_all_rules()
    w = world
    r = Roster(w)
    a, b = w.tianhe_unit, w.tianhe_child
    zero = make_unit("440106", "天河区零基数单位")
    # Unit a: 4 general at the baseline.
    r.spell(a, D(2018, 1, 1))  # counts
    r.spell(a, D(2018, 1, 1), AS_OF)  # leave date = as-of day → does not count on it
    r.spell(a, D(2018, 1, 1), AS_OF + dt.timedelta(days=1))  # leaves the day after → counts
    r.spell(a, AS_OF, funding="own_funds")  # starts on the as-of day → counts (hired in the period)
    r.spell(a, D(2018, 1, 1), key_post="finance", situation="dispatched")  # a key-post record
    # a person moving from a to b on 2024-03-01: counts once, in b
    mover = r.person(a)
    r.spell(a, D(2018, 1, 1), D(2024, 3, 1), person=mover, reason="other")
    r.spell(b, D(2024, 3, 1), person=mover, situation="coordinator", post_class="enforcement_auxiliary",
            work_type="urban_management")
    # Unit b: 2 logistics at the baseline, one security guard left in 2024 (cleared by class? no: see below)
    r.spell(b, D(2018, 1, 1), D(2024, 2, 1), post_class="logistics", work_type="security", reason="contract_expired")
    r.spell(b, D(2018, 1, 1), post_class="logistics", work_type="cleaning")
    baseline(w.tianhe_unit.jurisdiction, {
        (a, "labour_contract", "general_auxiliary"): 4, (a, "dispatched", "general_auxiliary"): 1,
        (b, "dispatched", "logistics"): 2, (zero, "labour_contract", "general_auxiliary"): 0,
    }, w.users.tianhe_reviewer)
    # Unit a's total cap lowered to 4 in 2024 → over its cap on the as-of day (5 counting).
    CapChange.objects.create(unit=a, post_class="", cap=4, valid_from=D(2024, 1, 1))
    # Establishment of a and b on the as-of day: approved 800, actual 400 (rounding half-even: 5/800 → 0.0062)
    EstablishmentQuota.objects.create(unit=a, kind="administrative", approved=500, actual=300, valid_from=D(2020, 1, 1))
    EstablishmentQuota.objects.create(unit=b, kind="public_institution", approved=300, actual=100,
                                      valid_from=D(2020, 1, 1))
    EstablishmentQuota.objects.create(unit=b, kind="public_institution", approved=999, actual=999,
                                      valid_from=D(2015, 1, 1), valid_to=D(2020, 1, 1))  # no longer in force
    # Funding: 2019 spending 200,000 (a) + 100,000 (b); 2024 spending 150,000 + 90,000; budgets 2024.
    for unit, y, budget, spending in ((a, 2019, None, "200000"), (b, 2019, None, "100000"),
                                      (a, 2024, "190000", "150000"), (b, 2024, "95000", "90000.5")):
        UnitFunding.objects.create(unit=unit, jurisdiction_path=unit.jurisdiction_path, year=y,
                                   budget=M(budget) if budget else None, spending=M(spending))
    # b buys property management over May 2024 while its cleaner still counts → double dipping.
    PurchaseContract.objects.create(number="HT-1", unit=b, jurisdiction_path=b.jurisdiction_path,
                                    item="property_management", start=D(2024, 5, 1), end=D(2024, 5, 31),
                                    amount=M("1000"))
    # a 越秀区 record that a 天河区 scope never counts
    r.spell(w.yuexiu_unit, D(2018, 1, 1))
    w.zero = zero
    return w


def ind(actor, **params):
    data, _resolved, figures = indicators_for(actor=actor, **params)
    return data["indicators"], figures, data


def test_every_indicator_for_the_district(data):
    w = data
    values, figures, payload = ind(w.users.tianhe_reviewer, scope="440106", as_of=AS_OF)
    assert list(values) == CODES
    assert (payload["scope"], payload["unit"], payload["as_of"], payload["period"], payload["year"]) == (
        "440106", None, "2024-06-30", ["2024-01-01", "2024-12-31"], 2024)
    b = w.tianhe_child.pk
    # counting on 2024-06-30: a → 1 + 0 + 1 + 1 + 1 (key post) = 4; b → mover + cleaner = 2
    assert values["I01"] == 6
    assert values["I02"] == 5  # one own-funds record
    assert values["I03"] == 7  # 5 + 2 + 0
    assert (values["I04"], values["I05"]) == (-1, -0.1429)  # −1/7 = −0.142857… → −0.1429
    assert (values["I06"], values["I07"]) == (0.0075, 0.015)  # 6/800 = 0.0075; 6/400
    assert values["I08"] == {"劳动合同制聘用": 4, "劳务派遣": 1, "协管员/辅助人员": 1, "退休返聘": 0, "其他临时用工": 0}
    assert values["I09"] == {"普通辅助岗": 4, "专业技术岗": 0, "执法辅助岗": 1, "后勤保障岗": 1}
    assert (values["I10"], values["I11"]) == (1, 1)
    # period 2024: hired = the as-of starter + the mover into b; left = the as-of leaver and the
    # day-after leaver (辞职), the mover out of a (其他), the guard (合同期满)
    assert values["I12"] == 2
    assert values["I13"] == {"合同期满": 1, "辞职": 2, "辞退": 0, "退休": 0, "转为购买服务": 0, "整体移交": 0, "其他": 1}
    assert values["I14"] == -2
    # I15 over 2024 (a full year): b's enforcement class rose 0 → 1 (optimise the stock: breach);
    # b's logistics fell 2 → 1 (no breach); a's general 4 → 3 + key... within the class cap 5 (no breach)
    assert values["I15"] == 1 and figures.class_breach == {b: ["enforcement_auxiliary"]}
    assert values["I16"] == 0  # a counts 4 on the as-of day: at its cap of 4, not over it
    assert (values["I17"], values["I18"]) == (0, 0.0)  # units with a baseline > 0: a and b; none cleared
    assert (values["I19"], values["I20"]) == ("285000.00", "240000.50")
    assert values["I21"] == -0.2  # (240000.50 − 300000) / 300000 = −0.199998… → −0.2000
    assert values["I23"] == 1 and figures.double_dipping == [b]
    # I22: month-end counts of 2024 — Jan 7, Feb 6 (guard left 02-01), Mar–May 6, Jun 5 (06-30 leaver),
    # Jul–Dec 6 (the as-of day starter from June 30) … computed exactly below
    assert values["I22"] is not None


def test_the_as_of_day_rules_one_by_one(data):
    w = data
    reviewer = w.users.tianhe_reviewer
    on = lambda day: ind(reviewer, unit=w.tianhe_unit.uscc, as_of=day)[0]["I01"]  # noqa: E731
    assert on(AS_OF - dt.timedelta(days=1)) == 4  # the starter not yet; the leaver still
    assert on(AS_OF) == 4  # the starter counts, the leaver (leave date = as-of) does not
    assert on(AS_OF + dt.timedelta(days=1)) == 3  # the day-after leaver is gone
    # the mover: in a up to 2024-02-29, in b from 2024-03-01, once province-wide on each day
    assert ind(reviewer, unit=w.tianhe_unit.uscc, as_of=D(2024, 2, 29))[0]["I01"] == 5
    assert ind(reviewer, unit=w.tianhe_unit.uscc, as_of=D(2024, 3, 1))[0]["I01"] == 4
    assert ind(reviewer, unit=w.tianhe_child.uscc, as_of=D(2024, 3, 1))[0]["I01"] == 2
    assert ind(reviewer, scope="440106", as_of=D(2024, 2, 29))[0]["I01"] == ind(
        reviewer, scope="440106", as_of=D(2024, 3, 1))[0]["I01"]


def test_zero_baseline_and_zero_denominators(data):
    w = data
    values, _f, _p = ind(w.users.tianhe_reviewer, unit=w.zero.uscc, as_of=AS_OF)
    assert (values["I01"], values["I03"], values["I04"]) == (0, 0, 0)
    for code in ("I05", "I06", "I07", "I18", "I21", "I22"):
        assert values[code] is None, code  # an empty denominator is null, never 0
    assert (values["I17"], values["I19"], values["I20"]) == (0, None, None)  # zero baseline is not "cleared"


def test_a_period_shorter_than_a_year_does_not_judge_the_reduce_policy(data):
    w = data
    b = w.tianhe_child
    # logistics of b: 1 at 2024-03-31 and at 2024-06-30 → no fall over the quarter (not judged) …
    _values, figures, _p = ind(w.users.tianhe_reviewer, unit=b.uscc, as_of=AS_OF, start="2024-04-01",
                               end="2024-06-30")
    assert "logistics" not in figures.class_breach.get(b.pk, [])
    # … but over a full year without a fall it is a breach
    Spell.objects.filter(unit=b, work_type="security").update(leave_date=None, exit_reason="")
    _values, figures, _p = ind(w.users.tianhe_reviewer, unit=b.uscc, as_of=AS_OF, start="2024-01-01",
                               end="2024-12-31")
    assert "logistics" in figures.class_breach[b.pk]


def test_over_cap_cleared_and_the_exception(data):
    w = data
    a = w.tianhe_unit
    CapChange.objects.create(unit=a, post_class="", cap=3, valid_from=D(2024, 6, 1))
    values, figures, _p = ind(w.users.tianhe_reviewer, scope="440106", as_of=AS_OF)
    assert (values["I16"], figures.over_cap) == (1, [a.pk])
    Spell.objects.filter(unit=w.tianhe_child).update(leave_date=D(2024, 6, 1), exit_reason="resigned")
    values, figures, _p = ind(w.users.tianhe_reviewer, scope="440106", as_of=AS_OF)
    assert (values["I17"], values["I18"], figures.cleared) == (1, 0.5, [w.tianhe_child.pk])


def test_half_even_rounding_of_rates(data):
    w = data
    a = w.tianhe_unit
    EstablishmentQuota.objects.filter(unit__in=[a, w.tianhe_child]).delete()
    # I01 of unit a on the as-of day is 4: 4/3200 = 0.00125 → 0.0012 (half-even), 4/1280 = 0.003125 → 0.0031
    EstablishmentQuota.objects.create(unit=a, kind="administrative", approved=3200, actual=1280,
                                      valid_from=D(2020, 1, 1))
    values, _f, _p = ind(w.users.tianhe_reviewer, unit=a.uscc, as_of=AS_OF)
    assert (values["I06"], values["I07"]) == (0.0012, 0.0031)


def test_month_end_average_for_cost_per_head(data):
    w = data
    values, _f, _p = ind(w.users.tianhe_reviewer, scope="440106", as_of=AS_OF, year=2024)
    ends = [D(2024, 1, 31), D(2024, 2, 29), D(2024, 3, 31), D(2024, 4, 30), D(2024, 5, 31), D(2024, 6, 30),
            D(2024, 7, 31), D(2024, 8, 31), D(2024, 9, 30), D(2024, 10, 31), D(2024, 11, 30), D(2024, 12, 31)]
    counts = [Spell.objects.filter(unit__jurisdiction__code="440106", hire_date__lte=e).exclude(
        leave_date__lte=e).count() for e in ends]
    average = M(sum(counts)) / 12
    assert values["I22"] == f"{(M('240000.50') / average).quantize(M('0.01')):.2f}"


def test_scope_out_of_bounds_and_bad_dates(data):
    w = data
    with pytest.raises(BianzhiError) as info:
        ind(w.users.tianhe_reviewer, scope="440104")
    assert info.value.codes == ["division_not_found"]
    with pytest.raises(BianzhiError) as info:
        ind(w.users.tianhe_reviewer, unit=w.yuexiu_unit.uscc)
    assert info.value.codes == ["unit_not_found"]
    with pytest.raises(BianzhiError) as info:
        ind(w.users.tianhe_reviewer, start="2024-12-01", end="2024-01-01", as_of="2024-13-01")
    assert sorted(info.value.codes) == ["invalid_date", "period_invalid"]
    # the city sees both districts: the 越秀区 record adds one
    assert ind(w.users.city_reviewer, scope="440100", as_of=AS_OF)[0]["I01"] == 7
    # a unit operator sees its unit only, whatever scope it asks for
    assert ind(w.users.tianhe_operator, as_of=AS_OF)[0]["I01"] == 4


def test_cli_and_api_answer_the_same_json(data):
    w = data
    out = StringIO()
    call_command("indicators", "--scope", "440106", "--as-of", "2024-06-30", "--json", "--as", "th_reviewer",
                 stdout=out)
    cli = json.loads(out.getvalue())
    client = Client()
    client.force_login(w.users.tianhe_reviewer)
    api = client.get("/api/v1/stats/indicators", {"scope": "440106", "as_of": "2024-06-30"})
    assert api.status_code == 200 and api.json() == cli
    assert set(cli["indicators"]) == set(CODES)
    assert client.get("/api/v1/stats/indicators", {"scope": "440104"}).status_code == 422
    unit = client.get("/api/v1/stats/indicators", {"unit": w.tianhe_unit.uscc, "as_of": "2024-06-30",
                                                   "from": "2024-01-01", "to": "2024-03-31", "year": 2019})
    body = unit.json()
    assert (body["unit"], body["period"], body["year"], body["indicators"]["I20"]) == (
        w.tianhe_unit.uscc, ["2024-01-01", "2024-03-31"], 2019, "200000.00")
    assert ControlPlan.objects.count() == 0


def test_a_district_adds_its_own_indicator(data):
    from bianzhi.stats import services

    w = data
    with pytest.raises(BianzhiError) as info:
        services.indicator_add(actor=w.users.tianhe_admin, code="TH1", name="x", expression="I08 + 1")
    assert info.value.codes == ["expression_invalid"]  # a split is not a number
    with pytest.raises(BianzhiError) as info:
        services.indicator_add(actor=w.users.tianhe_admin, code="I05", name="x", expression="I01")
    assert info.value.codes == ["indicator_code_taken"]
    with pytest.raises(BianzhiError) as info:
        services.indicator_add(actor=w.users.tianhe_admin, code="TH1", name="x", expression="__import__('os')")
    assert info.value.codes == ["expression_invalid"]
    services.indicator_add(actor=w.users.tianhe_admin, code="TH1", name="超编与关键岗位合计",
                           expression="I11 + I16 * 2")
    services.indicator_add(actor=w.users.tianhe_admin, code="TH2", name="增减率（百分比）",
                           expression="(I01 − I03) ÷ I03 × 100")
    services.indicator_add(actor=w.users.tianhe_admin, code="TH3", name="人均编制", expression="I01 / (I03 - I03)")
    data_, _r, _f = indicators_for(actor=w.users.tianhe_reviewer, scope="440106", as_of=AS_OF)
    assert list(data_["indicators"]) == CODES  # the 23, and only them
    assert data_["local"] == {"TH1": 1.0, "TH2": -14.2857, "TH3": None}
    assert "local" not in indicators_for(actor=w.users.yuexiu_reviewer, scope="440104", as_of=AS_OF)[0]


@pytest.mark.parametrize("scope", ["province", "city", "district", "unit", "own_level"])
@pytest.mark.parametrize("dates", [{}, {"as_of": "2024-06-30"}, {"start": "2024-03-01", "end": "2024-05-31"},
                                   {"year": 2019}, {"as_of": "2021-12-31", "start": "2021-01-01",
                                                    "end": "2021-12-31", "year": 2021}])
def test_the_json_shape_for_every_scope_and_date_kind(data, scope, dates):
    """INTERFACES.md: every one of I01–I23; counts integers; rates numbers with ≤ 4 decimals or
    null; money strings with 2 decimals (or null when nothing was recorded); splits objects with
    every Chinese name as a key."""
    import re

    w = data
    params = {"province": {"scope": "440000"}, "city": {"scope": "440100"}, "district": {"scope": "440106"},
              "unit": {"unit": w.tianhe_unit.uscc}, "own_level": {"scope": "440106", "own_level": True}}[scope]
    payload, _r, _f = indicators_for(actor=w.users.province_admin, **params, **dates)
    assert set(payload) == {"scope", "unit", "as_of", "period", "year", "indicators"}
    today = dt.date.today() if "as_of" not in dates else D.fromisoformat(dates["as_of"])
    assert payload["as_of"] == (dates.get("as_of") or payload["as_of"])
    assert payload["period"] == [dates.get("start", f"{today.year}-01-01"), dates.get("end", f"{today.year}-12-31")]
    assert payload["year"] == dates.get("year", today.year)
    assert payload["unit"] == (w.tianhe_unit.uscc if scope == "unit" else None)
    assert payload["scope"] == {"province": "440000", "city": "440100"}.get(scope, "440106")
    values = payload["indicators"]
    assert list(values) == CODES
    rates = {"I05", "I06", "I07", "I18", "I21"}
    money = {"I19", "I20", "I22"}
    splits = {"I08": 5, "I09": 4, "I13": 7}
    for code, value in values.items():
        if code in splits:
            assert isinstance(value, dict) and len(value) == splits[code] and all(
                isinstance(n, int) and n >= 0 for n in value.values()), code
            assert all(re.search(r"[\u4e00-\u9fff]", k) for k in value), code
        elif code in rates:
            assert value is None or (isinstance(value, float) and round(value, 4) == value), code
        elif code in money:
            assert value is None or re.fullmatch(r"-?\d+\.\d{2}", value), code
        else:
            assert isinstance(value, int) and not isinstance(value, bool), code
    assert values["I14"] == values["I12"] - sum(values["I13"].values())
    assert values["I04"] == values["I01"] - values["I03"]
    assert sum(values["I08"].values()) == values["I01"] == sum(values["I09"].values())
