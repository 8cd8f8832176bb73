"""Alert pages and API: the list (default: not resolved; counts per kind; filters, sorting, paging,
export), the detail (finding, unit, records, owner, history), acknowledging and resolving with a
note (422 with nothing changed on a refusal), the counters in the top bar and on the workbench,
and 404 for an alert outside the caller's jurisdiction — the same answer as a missing one.

Values are checked, never translated labels: ids, counts, dates, names from the data.
"""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.test import Client
from django.urls import reverse
from python_calamine import CalamineWorkbook

from bianzhi.orgs.models import Unit
from bianzhi.staffing.models import CapChange, Spell
from bianzhi.stats import alerts
from bianzhi.stats.models import Alert, AlertEvent

from .test_indicators import AS_OF, data  # noqa: F401 - the fixture

D = dt.date
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def html(response, status: int = 200) -> str:
    assert response.status_code == status, response.status_code
    page = response.content.decode("utf-8")
    assert not re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page), "inline <script> found"
    assert not re.search(r"\sstyle\s*=", page), "style= attribute found"
    return page


def listed(page: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-alert="(\d+)"', page)]


def kind_counts(page: str) -> dict[str, int]:
    block = page.split('data-testid="kind-counts"', 1)[1].split('data-testid="alert-table"', 1)[0]
    return {k: int(n) for k, n in re.findall(r'data-kind="(\w+)">.*?data-count="(\d+)"', block, re.S)}


@pytest.fixture
def alerted(data):  # noqa: F811
    """The 天河区 data with five kinds of finding on the as-of day, and one 越秀区 alert."""
    w = data
    a = w.tianhe_unit
    Spell.objects.filter(unit=a, hire_date=AS_OF).update(contract_end=D(2024, 5, 1))  # contract expired
    CapChange.objects.create(unit=a, post_class="", cap=3, valid_from=D(2024, 6, 1))  # 4 in post > 3
    alerts.evaluate(units=Unit.objects.filter(jurisdiction__code="440106"), today=AS_OF)
    w.yuexiu_alert = Alert.objects.create(
        kind="over_cap", key=f"over_cap:{w.yuexiu_unit.pk}", unit=w.yuexiu_unit,
        jurisdiction_path=w.yuexiu_unit.jurisdiction_path, params={"count": 9, "cap": 1}, raised_on=AS_OF)
    w.alerts = {a.kind: a for a in Alert.objects.filter(jurisdiction_path__startswith="440000/440100/440106/")}
    assert set(w.alerts) == {"over_cap", "key_post", "class_breach", "double_dipping", "contract_expired"}
    return w


def snapshot():
    return (list(Alert.objects.order_by("pk").values_list("pk", "status", "note", "resolved_on")),
            AlertEvent.objects.count())


# ---------------------------------------------------------------------------------- list


def test_list_shows_the_unresolved_alerts_of_my_scope_with_counts_per_kind(alerted):
    w = alerted
    client = client_for(w.users.tianhe_reviewer)
    # one resolved alert drops out of the default list
    alerts.alert_handle(actor=w.users.tianhe_reviewer, alert_id=w.alerts["double_dipping"].pk, action="resolve",
                        note="已终止物业合同")
    page = html(client.get(reverse("stats:alert_list")))
    tianhe = {a.pk for k, a in w.alerts.items() if k != "double_dipping"}
    assert set(listed(page)) == tianhe
    assert w.yuexiu_alert.pk not in listed(page) and "越秀区测试局" not in page
    counts = kind_counts(page)
    assert counts == {"over_cap": 1, "key_post": 1, "class_breach": 1, "budget_over_cap": 0, "double_dipping": 0,
                      "contract_expired": 1, "roster_stale": 0, "member_cap": 0}
    # every row links to its detail; the finding is built from the params
    over = w.alerts["over_cap"]
    assert reverse("stats:alert_detail", args=[over.pk]) in page
    row = page.split(f'data-alert="{over.pk}"', 1)[1].split("</tr>", 1)[0]
    assert re.search(r"(?<!\d)4(?!\d)", row) and re.search(r"(?<!\d)3(?!\d)", row)  # 4 in post, cap 3
    assert w.tianhe_unit.name in row
    # status=all brings the resolved one back; status=resolved shows only it
    assert set(listed(html(client.get(reverse("stats:alert_list"), {"status": "all"})))) == tianhe | {
        w.alerts["double_dipping"].pk}
    assert listed(html(client.get(reverse("stats:alert_list"), {"status": "resolved"}))) == [
        w.alerts["double_dipping"].pk]


def test_list_filters_sorting_and_paging(alerted):
    w = alerted
    client = client_for(w.users.tianhe_reviewer)
    url = reverse("stats:alert_list")
    page = html(client.get(url, {"kind": "key_post"}))
    assert listed(page) == [w.alerts["key_post"].pk]
    assert kind_counts(page)["over_cap"] == 1  # the counts ignore the kind filter
    child = w.tianhe_child
    assert set(listed(html(client.get(url, {"unit": child.pk})))) == {
        w.alerts["class_breach"].pk, w.alerts["double_dipping"].pk}
    assert listed(html(client.get(url, {"raised_from": "2024-07-01"}))) == []
    assert len(listed(html(client.get(url, {"raised_to": "2024-06-30"})))) == 5
    # a unit outside the scope is refused like a missing one: nothing listed
    assert listed(html(client.get(url, {"unit": w.yuexiu_unit.pk}))) == []
    # sorted by unit name: 天河区测试局 (3 alerts) before 天河区测试局下属中心 (2)
    rows = listed(html(client.get(url, {"sort": "unit"})))
    units = [Alert.objects.get(pk=pk).unit_id for pk in rows]
    assert units == sorted(units, key=lambda u: Unit.objects.get(pk=u).name)
    # paging: 60 more findings make two pages of 50
    for i in range(60):
        Alert.objects.create(kind="roster_stale", key=f"roster_stale:test{i}", unit=child,
                             jurisdiction_path=child.jurisdiction_path,
                             params={"last_change": "2023-01-01", "days": 400 + i}, raised_on=D(2024, 1, 1))
    first = html(client.get(url))
    second = html(client.get(url, {"page": 2}))
    assert len(listed(first)) == 50 and len(listed(second)) == 15
    assert not set(listed(first)) & set(listed(second))
    assert re.search(r"(?<!\d)65(?!\d)", first.split('data-testid="total"', 1)[1].split("</span>", 1)[0])  # the total


def test_export_is_exactly_the_filtered_list(alerted):
    w = alerted
    client = client_for(w.users.tianhe_reviewer)
    response = client.get(reverse("stats:alert_list"), {"unit": w.tianhe_unit.pk, "export": "xlsx"})
    assert response.status_code == 200 and response["Content-Type"] == XLSX
    book = CalamineWorkbook.from_filelike(io.BytesIO(response.content))
    rows = book.get_sheet_by_name(book.sheet_names[0]).to_python()
    body = [r for r in rows[4:] if any(c not in ("", None) for c in r)]
    ids = sorted(int(r[0]) for r in body)
    assert ids == sorted(w.alerts[k].pk for k in ("over_cap", "key_post", "contract_expired"))
    for r in body:
        assert r[3] == w.tianhe_unit.uscc and r[4] == w.tianhe_unit.name
    names = alerts.rule_names()
    assert {r[2] for r in body} == {names["over_cap"], names["key_post"], names["contract_expired"]}
    assert "越秀" not in str(rows)


def test_a_unit_operator_sees_its_own_unit_only(alerted):
    w = alerted
    page = html(client_for(w.users.tianhe_operator).get(reverse("stats:alert_list")))
    assert set(listed(page)) == {w.alerts[k].pk for k in ("over_cap", "key_post", "contract_expired")}
    response = client_for(w.users.tianhe_operator).get(reverse("stats:alert_detail", args=[w.alerts["class_breach"].pk]))
    assert response.status_code == 404


# ---------------------------------------------------------------------------------- detail


def test_detail_shows_finding_unit_records_owner_and_history(alerted):
    w = alerted
    client = client_for(w.users.tianhe_reviewer)
    key = w.alerts["key_post"]
    spell = Spell.objects.get(pk=key.records[0])
    page = html(client.get(reverse("stats:alert_detail", args=[key.pk])))
    assert 'data-status="open"' in page
    assert reverse("orgs:unit_detail", args=[w.tianhe_unit.pk]) in page
    assert reverse("staffing:roster_detail", args=[spell.pk]) in page and spell.person.name in page
    assert "财务" in page  # the key post's name from the rule table
    assert 'data-owner="th_reviewer"' in page and 'data-owner="gz_reviewer"' not in page
    assert re.findall(r'<tr data-action="(\w+)"', page) == ["raised"]
    assert 'data-testid="resolve-form"' in page and 'data-testid="acknowledge-form"' in page
    # the records behind other kinds
    expired = w.alerts["contract_expired"]
    page = html(client.get(reverse("stats:alert_detail", args=[expired.pk])))
    starter = Spell.objects.get(unit=w.tianhe_unit, hire_date=AS_OF)
    assert expired.records == [starter.pk] and reverse("staffing:roster_detail", args=[starter.pk]) in page
    page = html(client.get(reverse("stats:alert_detail", args=[w.alerts["double_dipping"].pk])))
    link = re.search(r'href="(/funds/double-dipping/\?[^"]+)"', page)
    assert link and "a=2024-01-01" in link.group(1) and "b=2024-06-30" in link.group(1)
    assert f"unit={w.tianhe_child.pk}" in link.group(1)
    page = html(client.get(reverse("stats:alert_detail", args=[w.alerts["over_cap"].pk])))
    assert reverse("staffing:cap_list") + f"?q={w.tianhe_unit.uscc}" in page
    assert re.search(r'data-testid="finding">[^<]*(?<!\d)4(?!\d)[^<]*(?<!\d)3(?!\d)', page)
    page = html(client.get(reverse("stats:alert_detail", args=[w.alerts["class_breach"].pk])))
    assert "by=class" in page and "执法辅助岗" in page
    # a supervisor may look but not handle
    page = html(client_for(w.users.tianhe_supervisor).get(reverse("stats:alert_detail", args=[key.pk])))
    assert 'data-testid="resolve-form"' not in page


def test_acknowledge_then_resolve_with_a_note(alerted):
    w = alerted
    client = client_for(w.users.tianhe_reviewer)
    key = w.alerts["key_post"]
    url = reverse("stats:alert_handle", args=[key.pk])
    response = client.post(url, {"action": "acknowledge"})
    assert response.status_code == 302 and response["Location"] == reverse("stats:alert_detail", args=[key.pk])
    key.refresh_from_db()
    assert key.status == "acknowledged"
    page = html(client.get(reverse("stats:alert_detail", args=[key.pk])))
    assert 'data-testid="acknowledge-form"' not in page and 'data-testid="resolve-form"' in page
    response = client.post(url, {"action": "resolve", "note": "已调离财务岗位"})
    assert response.status_code == 302
    key.refresh_from_db()
    assert (key.status, key.note, key.resolved_on is not None) == ("resolved", "已调离财务岗位", True)
    page = html(client.get(reverse("stats:alert_detail", args=[key.pk])))
    assert re.findall(r'<tr data-action="(\w+)"', page) == ["raised", "acknowledge", "resolve"]
    assert "已调离财务岗位" in page and "th_reviewer" in page
    assert 'data-testid="resolve-form"' not in page
    # the counter in the top bar counts what is left open
    assert re.search(r'data-testid="alert-count">[^<]*<span[^>]*>4<', page)


@pytest.mark.parametrize("post, code", [
    ({"action": "resolve", "note": "  "}, "note_required"),
    ({"action": "resolve"}, "note_required"),
    ({"action": "approve", "note": "x"}, "invalid_choice"),
])
def test_refused_actions_answer_422_and_change_nothing(alerted, post, code):
    w = alerted
    client = client_for(w.users.tianhe_reviewer)
    key = w.alerts["key_post"]
    before = snapshot()
    response = client.post(reverse("stats:alert_handle", args=[key.pk]), post)
    page = html(response, 422)
    assert f'data-code="{code}"' in page
    assert snapshot() == before
    if "note" in post and post["note"].strip():
        assert post["note"] in page  # the input is kept


def test_a_resolved_alert_cannot_be_handled_again(alerted):
    w = alerted
    key = w.alerts["key_post"]
    alerts.alert_handle(actor=w.users.tianhe_reviewer, alert_id=key.pk, action="resolve", note="已调整")
    before = snapshot()
    response = client_for(w.users.tianhe_reviewer).post(reverse("stats:alert_handle", args=[key.pk]),
                                                        {"action": "resolve", "note": "再次"})
    assert 'data-code="alert_resolved"' in html(response, 422)
    assert snapshot() == before


def test_out_of_scope_answers_404_and_changes_nothing(alerted):
    w = alerted
    client = client_for(w.users.tianhe_reviewer)
    yx = w.yuexiu_alert
    before = snapshot()
    missing = Alert.objects.order_by("-pk").first().pk + 100
    for pk in (yx.pk, missing):
        assert client.get(reverse("stats:alert_detail", args=[pk])).status_code == 404
        response = client.post(reverse("stats:alert_handle", args=[pk]), {"action": "resolve", "note": "探测"})
        assert response.status_code == 404
        assert "越秀" not in response.content.decode()
    assert snapshot() == before
    # a role that may not handle alerts: 403 in scope, and nothing changes
    response = client_for(w.users.tianhe_supervisor).post(
        reverse("stats:alert_handle", args=[w.alerts["key_post"].pk]), {"action": "acknowledge"})
    assert response.status_code == 403 and snapshot() == before
    assert client.get(reverse("stats:alert_handle", args=[w.alerts["key_post"].pk])).status_code == 405


# ---------------------------------------------------------------------------------- counters


def test_counters_in_the_top_bar_and_on_the_workbench(alerted):
    w = alerted
    client = client_for(w.users.tianhe_reviewer)
    page = html(client.get(reverse("common:workbench")))
    assert re.search(r'data-testid="alert-count">[^<]*<span[^>]*>5<', page)
    block = page.split('data-testid="workbench-alerts"', 1)[1].split("</section>", 1)[0]
    assert re.search(r'data-testid="alerts-total">5<', block)
    counts = dict(re.findall(r'data-kind="(\w+)">.*?data-count="(\d+)"', block, re.S))
    assert counts == {"over_cap": "1", "key_post": "1", "class_breach": "1", "double_dipping": "1",
                      "contract_expired": "1"}
    assert set(listed(block)) == {a.pk for a in w.alerts.values()}
    assert "越秀" not in page
    # the city sees both districts
    page = html(client_for(w.users.city_reviewer).get(reverse("common:workbench")))
    assert re.search(r'data-testid="alert-count">[^<]*<span[^>]*>6<', page)
    # at most five newest on the workbench
    for i in range(4):
        Alert.objects.create(kind="roster_stale", key=f"roster_stale:x{i}", unit=w.tianhe_child,
                             jurisdiction_path=w.tianhe_child.jurisdiction_path,
                             params={"last_change": "2023-01-01", "days": 500}, raised_on=D(2024, 7, 1 + i))
    block = html(client.get(reverse("common:workbench"))).split('data-testid="workbench-alerts"', 1)[1]
    assert len(listed(block.split("</section>", 1)[0])) == 5


# ---------------------------------------------------------------------------------- API


def test_api_list_detail_and_handle(alerted):
    w = alerted
    client = client_for(w.users.tianhe_reviewer)
    body = client.get("/api/v1/stats/alerts").json()
    assert body["count"] == 5 and {i["id"] for i in body["items"]} == {a.pk for a in w.alerts.values()}
    over = next(i for i in body["items"] if i["kind"] == "over_cap")
    assert (over["params"], over["unit"]["uscc"], over["status"], over["raised_on"], over["kind_name"]) == (
        {"count": 4, "cap": 3}, w.tianhe_unit.uscc, "open", "2024-06-30", alerts.rule_names()["over_cap"])
    assert client.get("/api/v1/stats/alerts", {"kind": "key_post"}).json()["count"] == 1
    assert client.get("/api/v1/stats/alerts", {"unit": w.tianhe_child.pk}).json()["count"] == 2
    paged = client.get("/api/v1/stats/alerts", {"page_size": 2, "page": 3}).json()
    assert paged["count"] == 5 and len(paged["items"]) == 1
    bad = client.get("/api/v1/stats/alerts", {"status": "gone"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["code"] == "invalid_choice"

    key = w.alerts["key_post"]
    detail = client.get(f"/api/v1/stats/alerts/{key.pk}").json()
    assert detail["records"] == key.records and [e["action"] for e in detail["events"]] == ["raised"]
    assert "财务" in detail["finding"]  # the key post by its name
    before = snapshot()
    refused = client.post(f"/api/v1/stats/alerts/{key.pk}/handle", {"action": "resolve", "note": " "},
                          content_type="application/json")
    assert refused.status_code == 422 and refused.json()["errors"][0]["code"] == "note_required"
    assert snapshot() == before
    done = client.post(f"/api/v1/stats/alerts/{key.pk}/handle", {"action": "resolve", "note": "已调整"},
                       content_type="application/json")
    assert done.status_code == 200
    assert (done.json()["status"], done.json()["note"]) == ("resolved", "已调整")
    assert [(e["action"], e["actor"]) for e in done.json()["events"]] == [("raised", None), ("resolve", "th_reviewer")]
    assert client.get("/api/v1/stats/alerts", {"status": "unresolved"}).json()["count"] == 4
    assert client.get("/api/v1/stats/alerts", {"status": "resolved"}).json()["count"] == 1


def test_api_out_of_scope_is_missing(alerted):
    w = alerted
    client = client_for(w.users.tianhe_reviewer)
    missing = Alert.objects.order_by("-pk").first().pk + 100
    before = snapshot()
    answers = []
    for pk in (w.yuexiu_alert.pk, missing):
        got = client.get(f"/api/v1/stats/alerts/{pk}")
        posted = client.post(f"/api/v1/stats/alerts/{pk}/handle", {"action": "resolve", "note": "探测"},
                             content_type="application/json")
        assert (got.status_code, posted.status_code) == (404, 404)
        answers.append((got.json(), posted.json()))
    assert answers[0] == answers[1]
    assert snapshot() == before
    assert all(i["id"] != w.yuexiu_alert.pk for i in client.get("/api/v1/stats/alerts").json()["items"])
    supervisor = client_for(w.users.tianhe_supervisor)
    response = supervisor.post(f"/api/v1/stats/alerts/{w.alerts['key_post'].pk}/handle",
                               {"action": "acknowledge"}, content_type="application/json")
    assert response.status_code == 403 and snapshot() == before
