"""Pages of common (workbench, audit log), accounts (login, users) and divisions.

Every page is checked for values, not only status codes: counts equal the in-scope counts,
out-of-scope rows never show up (lists, details, exports), refused writes leave no row and
no audit event behind.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from python_calamine import CalamineWorkbook

import bianzhi
from bianzhi.accounts.models import User
from bianzhi.common.errors import message_for
from bianzhi.common.models import AuditEvent
from bianzhi.common.templatetags.bianzhi import date_zh, num
from bianzhi.divisions import services as division_services
from bianzhi.divisions.models import Division
from bianzhi.orgs import selectors as org_selectors
from bianzhi.orgs import services as org_services

from ..factories import PASSWORD, make_unit

CATALOGUE = Path(bianzhi.__file__).resolve().parent / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.mo"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def html(response) -> str:
    return response.content.decode("utf-8")


def audit_rows():
    return AuditEvent.objects.exclude(action="divisions.load")


def figure(page: str, key: str) -> int:
    match = re.search(rf'data-testid="figure-{key}".*?data-value="(-?\d+)"', page, re.S)
    assert match, f"figure {key} not on the page"
    return int(match.group(1))


def xlsx_rows(response) -> list[list]:
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(response.content)).get_sheet_by_index(0)
    return sheet.to_python()


def assert_no_inline_script_or_style(page: str) -> None:
    assert not re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page), "inline <script> found"
    assert not re.search(r"\sstyle\s*=", page), "style= attribute found"


@pytest.fixture
def quotas(world):
    """Establishment as of 2024: 天河区 10/12 (over) and 5/3; 越秀区 12,000/11,000; 广州市 50/40."""
    admin = world.users.province_admin
    on = dt.date(2024, 1, 1)
    org_services.quota_set(
        actor=admin, unit_id=world.tianhe_unit.pk, kind="administrative", approved=10, actual=12, on=on
    )
    org_services.quota_set(
        actor=admin, unit_id=world.tianhe_child.pk, kind="public_institution", approved=5, actual=3, on=on
    )
    org_services.quota_set(
        actor=admin, unit_id=world.yuexiu_unit.pk, kind="administrative", approved=12000, actual=11000, on=on
    )
    org_services.quota_set(
        actor=admin, unit_id=world.city_unit.pk, kind="administrative", approved=50, actual=40, on=on
    )
    return world


@pytest.fixture
def renamed(world):
    """One audited change in each district, made by the province administrator."""
    admin = world.users.province_admin
    org_services.unit_rename(
        actor=admin, unit_id=world.tianhe_unit.pk, name="天河区改名局", on=dt.date(2024, 3, 1)
    )
    org_services.unit_rename(
        actor=admin, unit_id=world.yuexiu_unit.pk, name="越秀区改名局", on=dt.date(2024, 3, 1)
    )
    tianhe_event = AuditEvent.objects.get(action="unit.rename", object_id=str(world.tianhe_unit.pk))
    yuexiu_event = AuditEvent.objects.get(action="unit.rename", object_id=str(world.yuexiu_unit.pk))
    return tianhe_event, yuexiu_event


# --- log in, log out, login required ---------------------------------------------------------


def test_login_page_is_chinese_and_logs_in_with_csrf(world):
    client = Client(enforce_csrf_checks=True)
    response = client.get("/accounts/login/")
    page = html(response)
    assert response.status_code == 200
    assert '<html lang="zh-hans">' in page
    assert "密码" in page  # the label "Password", translated by Django's own zh_Hans catalogue
    with translation.override("zh-hans"):
        labels = [gettext("User name"), gettext("Log in")]
    assert all(label in page for label in labels)
    if CATALOGUE.exists():  # once the project's catalogue is built, these labels are Chinese too
        assert all(re.search(r"[\u4e00-\u9fff]", label) for label in labels), labels
    assert 'name="username"' in page and 'name="password"' in page
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert_no_inline_script_or_style(page)

    refused = Client(enforce_csrf_checks=True).post(
        "/accounts/login/", {"username": "th_admin", "password": PASSWORD}
    )
    assert refused.status_code == 403  # no CSRF token, no log-in

    wrong = client.post(
        "/accounts/login/", {"username": "th_admin", "password": "wrong", "csrfmiddlewaretoken": token}
    )
    assert wrong.status_code == 200 and "_auth_user_id" not in client.session

    ok = client.post(
        "/accounts/login/", {"username": "th_admin", "password": PASSWORD, "csrfmiddlewaretoken": token}
    )
    assert ok.status_code == 302 and ok["Location"] == "/"
    assert int(client.session["_auth_user_id"]) == world.users.tianhe_admin.pk
    assert client.get("/").status_code == 200


def test_login_honours_next_and_refuses_deactivated_users(world):
    client = Client()
    response = client.post(
        "/accounts/login/?next=/divisions/",
        {"username": "th_reviewer", "password": PASSWORD, "next": "/divisions/"},
    )
    assert response.status_code == 302 and response["Location"] == "/divisions/"
    user = world.users.yuexiu_reviewer
    user.is_active = False
    user.save()
    refused = Client().post("/accounts/login/", {"username": "yx_reviewer", "password": PASSWORD})
    assert refused.status_code == 200 and "alert-danger" in html(refused)


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/audit/",
        "/audit/1/",
        "/accounts/users/",
        "/accounts/users/new/",
        "/accounts/users/1/",
        "/divisions/",
        "/divisions/440106/",
        "/divisions/440106/add-town/",
    ],
)
def test_anonymous_users_are_sent_to_login(world, path):
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_logout_is_post_only(world):
    client = client_for(world.users.tianhe_admin)
    assert client.get("/accounts/logout/").status_code == 405
    response = client.post("/accounts/logout/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert client.get("/").status_code == 302


# --- workbench --------------------------------------------------------------------------------


def test_workbench_figures_of_a_tianhe_user_are_the_in_scope_figures(quotas):
    user = quotas.users.tianhe_reviewer
    page = html(client_for(user).get("/"))
    in_scope = org_selectors.quotas_in_scope(actor=user)
    assert figure(page, "units") == org_selectors.units_in_scope(actor=user).count() == 2
    assert figure(page, "approved") == sum(q.approved for q in in_scope) == 15
    assert figure(page, "actual") == sum(q.actual for q in in_scope) == 15
    assert figure(page, "vacancies") == sum(q.vacancies for q in in_scope) == 2
    assert figure(page, "over_units") == len({q.unit_id for q in in_scope if q.over}) == 1
    # Each figure links to the list behind it.
    assert f'href="{reverse("orgs:establishment_list")}?problem=over"' in page
    assert f'href="{reverse("orgs:unit_list")}"' in page
    assert "越秀" not in page
    assert_no_inline_script_or_style(page)


def test_workbench_numbers_have_thousands_separators_and_operator_sees_own_unit(quotas):
    page = html(client_for(quotas.users.province_admin).get("/"))
    assert figure(page, "approved") == 12065
    assert ">12,065<" in page
    assert figure(page, "units") == 4
    assert figure(page, "active_users") == 7

    operator_page = html(client_for(quotas.users.tianhe_operator).get("/"))
    assert figure(operator_page, "units") == 1
    assert figure(operator_page, "approved") == 10
    assert figure(operator_page, "over_units") == 1
    assert 'data-testid="recent-events"' not in operator_page  # no audit.view for unit operators


def test_workbench_recent_events_are_of_my_scope(renamed):
    tianhe_event, yuexiu_event = renamed
    page = html(client_for(User.objects.get(username="th_admin")).get("/"))
    assert reverse("common:audit_detail", args=[tianhe_event.seq]) in page
    assert reverse("common:audit_detail", args=[yuexiu_event.seq]) not in page
    assert "越秀区改名局" not in page


# --- audit log --------------------------------------------------------------------------------


def test_audit_list_of_a_tianhe_admin_excludes_yuexiu(world, renamed):
    tianhe_event, yuexiu_event = renamed
    detail = reverse("common:audit_detail", args=[tianhe_event.seq])
    client = client_for(world.users.tianhe_admin)
    page = html(client.get("/audit/"))
    assert "天河区改名局" in page
    assert "越秀区改名局" not in page and "越秀" not in page
    expected = AuditEvent.objects.filter(
        scope_path__startswith=world.users.tianhe_admin.jurisdiction_path
    ).count()
    assert expected == 1
    assert re.search(rf'data-testid="total">{expected}\D', page)
    assert detail in page
    assert reverse("common:audit_detail", args=[yuexiu_event.seq]) not in page
    assert_no_inline_script_or_style(page)

    # The province administrator sees both; filters narrow the list.
    province = client_for(world.users.province_admin)
    both = html(province.get("/audit/?action=unit.rename"))
    assert "天河区改名局" in both and "越秀区改名局" in both
    only_yuexiu = html(province.get("/audit/", {"q": "越秀"}))
    assert "越秀区改名局" in only_yuexiu and "天河区改名局" not in only_yuexiu
    by_actor = html(province.get("/audit/", {"actor": "nobody"}))
    assert "天河区改名局" not in by_actor
    today = dt.date.today()
    by_date = html(province.get("/audit/", {"date_from": (today + dt.timedelta(days=1)).isoformat()}))
    assert "天河区改名局" not in by_date
    in_range = html(
        province.get(
            "/audit/",
            {"date_from": today.isoformat(), "date_to": today.isoformat(), "object_type": "orgs.unit"},
        )
    )
    assert "天河区改名局" in in_range and "越秀区改名局" in in_range


def test_audit_list_pages_sorts_and_keeps_valid_filters(world):
    admin = world.users.tianhe_admin
    for n in range(55):
        division_services.division_add(
            actor=admin, parent_code="440106", code=f"440106{n + 1:03d}", name=f"街道{n}"
        )
    client = client_for(admin)
    first = html(client.get("/audit/"))
    assert re.search(r'data-testid="total">55\D', first)
    assert first.count('<tr data-href="/audit/') == 50
    assert 'rel="next"' in first
    second = html(client.get("/audit/?page=2"))
    assert second.count('<tr data-href="/audit/') == 5 and 'rel="prev"' in second
    seqs = [
        int(x) for x in re.findall(r'<tr data-href="/audit/(\d+)/"', html(client.get("/audit/?sort=seq")))
    ]
    assert seqs == sorted(seqs) and len(seqs) == 50
    # A wrong date is reported next to its field; the other filters still apply.
    bad = client.get("/audit/", {"date_from": "2026-13-45", "q": "街道54"})
    page = html(bad)
    assert bad.status_code == 200 and "invalid-feedback" in page
    assert page.count('<tr data-href="/audit/') == 1


def test_audit_detail_shows_the_event_and_answers_404_out_of_scope(world, renamed):
    tianhe_event, yuexiu_event = renamed
    client = client_for(world.users.tianhe_admin)
    response = client.get(f"/audit/{tianhe_event.seq}/")
    page = html(response)
    assert response.status_code == 200
    assert tianhe_event.hash in page and tianhe_event.prev_hash in page
    assert "天河区测试局" in page and "天河区改名局" in page  # before and after
    assert 'data-testid="hash-ok"' in page
    assert_no_inline_script_or_style(page)
    assert client.get(f"/audit/{yuexiu_event.seq}/").status_code == 404
    assert client.get("/audit/999999/").status_code == 404
    assert client_for(world.users.tianhe_supervisor).get(f"/audit/{tianhe_event.seq}/").status_code == 200


def test_audit_pages_need_the_audit_permission(world, renamed):
    operator = client_for(world.users.tianhe_operator)
    assert operator.get("/audit/").status_code == 403
    assert operator.get(f"/audit/{renamed[0].seq}/").status_code == 403


def test_audit_export_contains_only_in_scope_rows(world, renamed):
    tianhe_event, yuexiu_event = renamed
    rows = xlsx_rows(client_for(world.users.tianhe_admin).get("/audit/?export=xlsx"))
    body = rows[4:]
    seqs = [int(r[0]) for r in body]
    assert seqs == [tianhe_event.seq]
    assert not any("越秀" in str(cell) for row in rows for cell in row)
    # The province export of a filter holds exactly the filtered rows.
    province_rows = xlsx_rows(client_for(world.users.province_admin).get("/audit/?export=xlsx&q=越秀"))
    assert [int(r[0]) for r in province_rows[4:]] == [yuexiu_event.seq]


# --- users ------------------------------------------------------------------------------------


def _new_user(**changes):
    data = {
        "username": "th_new",
        "display_name": "新用户",
        "role": "establishment_reviewer",
        "jurisdiction": "440106",
        "unit": "",
        "password": PASSWORD,
        "password_confirm": PASSWORD,
    }
    data.update(changes)
    return data


def test_tianhe_admin_creates_a_user_in_440106(world):
    client = client_for(world.users.tianhe_admin)
    form = html(client.get("/accounts/users/new/"))
    assert 'value="440106"' in form and 'value="440104"' not in form
    assert_no_inline_script_or_style(form)
    response = client.post("/accounts/users/new/", _new_user())
    created = User.objects.get(username="th_new")
    assert response.status_code == 302 and response["Location"] == f"/accounts/users/{created.pk}/"
    assert created.jurisdiction.code == "440106" and created.check_password(PASSWORD)
    event = audit_rows().get(action="user.create")
    assert event.actor_id == world.users.tianhe_admin.pk and event.object_id == str(created.pk)
    detail = html(client.get(response["Location"]))
    assert "th_new" in detail and f"/audit/{event.seq}/" in detail


def test_user_for_an_out_of_scope_division_is_refused_and_nothing_written(world):
    client = client_for(world.users.tianhe_admin)
    before = User.objects.count()
    response = client.post("/accounts/users/new/", _new_user(jurisdiction="440104"))
    page = html(response)
    assert response.status_code == 200
    assert message_for("division_not_found") in page
    assert re.search(
        r'id="id_jurisdiction".*?invalid-feedback d-block">' + re.escape(message_for("division_not_found")),
        page,
        re.S,
    ), "the message is next to the jurisdiction field"
    assert 'value="th_new"' in page  # input kept
    assert User.objects.count() == before
    assert not audit_rows().exists()


def test_user_form_errors(world):
    client = client_for(world.users.tianhe_admin)
    mismatch = html(client.post("/accounts/users/new/", _new_user(password_confirm="Other-Passw0rd!")))
    weak = html(client.post("/accounts/users/new/", _new_user(password="short", password_confirm="short")))
    no_unit = html(client.post("/accounts/users/new/", _new_user(role="unit_operator")))
    foreign_unit = html(
        client.post("/accounts/users/new/", _new_user(role="unit_operator", unit=world.yuexiu_unit.uscc))
    )
    assert 'data-testid="form-errors"' in mismatch
    assert "password_weak" not in weak and 'id="id_password"' in weak and "is-invalid" in weak
    assert message_for("unit_required") in no_unit and message_for("unit_required") in foreign_unit
    assert not User.objects.filter(username="th_new").exists()
    assert not audit_rows().exists()
    ok = client.post("/accounts/users/new/", _new_user(role="unit_operator", unit=world.tianhe_unit.uscc))
    assert ok.status_code == 302
    assert User.objects.get(username="th_new").unit_id == world.tianhe_unit.pk


def test_supervisor_gets_403_on_user_pages(world):
    client = client_for(world.users.tianhe_supervisor)
    assert client.get("/accounts/users/").status_code == 403
    assert client.get("/accounts/users/new/").status_code == 403
    assert client.post("/accounts/users/new/", _new_user()).status_code == 403
    assert client.get(f"/accounts/users/{world.users.tianhe_reviewer.pk}/").status_code == 403
    assert not User.objects.filter(username="th_new").exists()


def test_user_list_and_export_are_scoped(world):
    client = client_for(world.users.tianhe_admin)
    page = html(client.get("/accounts/users/"))
    for name in ("th_admin", "th_reviewer", "th_supervisor", "th_operator"):
        assert f">{name}<" in page
    for name in ("yx_reviewer", "gz_reviewer", "prov_admin"):
        assert name not in page
    assert_no_inline_script_or_style(page)
    rows = xlsx_rows(client.get("/accounts/users/?export=xlsx"))
    names = sorted(r[0] for r in rows[4:])
    assert names == ["th_admin", "th_operator", "th_reviewer", "th_supervisor"]
    assert sorted(
        r[0] for r in xlsx_rows(client.get("/accounts/users/?export=xlsx&role=supervisor"))[4:]
    ) == ["th_supervisor"]
    assert client.get(f"/accounts/users/{world.users.yuexiu_reviewer.pk}/").status_code == 404
    assert (
        client.post(f"/accounts/users/{world.users.yuexiu_reviewer.pk}/active/", {"active": "0"}).status_code
        == 404
    )
    assert User.objects.get(pk=world.users.yuexiu_reviewer.pk).is_active


def test_deactivate_and_activate_a_user(world):
    client = client_for(world.users.tianhe_admin)
    subject = world.users.tianhe_reviewer
    url = f"/accounts/users/{subject.pk}/active/"
    assert client.get(url).status_code == 405
    assert client.post(url, {"active": "0"}).status_code == 302
    subject.refresh_from_db()
    assert not subject.is_active
    assert "th_reviewer" in html(client.get("/accounts/users/?status=inactive"))
    assert "th_reviewer" not in html(client.get("/accounts/users/?status=active"))
    client.post(url, {"active": "1"})
    subject.refresh_from_db()
    assert subject.is_active
    assert list(audit_rows().order_by("seq").values_list("action", flat=True)) == [
        "user.deactivate",
        "user.activate",
    ]


# --- divisions --------------------------------------------------------------------------------


def test_division_list_of_a_tianhe_user_has_no_yuexiu(world):
    page = html(client_for(world.users.tianhe_reviewer).get("/divisions/"))
    assert "天河区" in page and "440106" in page
    assert (
        "越秀区" not in page
        and "440104" not in page
        and "广州市" not in page.split("<main")[1].split('data-testid="division-table"')[1]
    )
    assert re.search(r'data-testid="total-440106">(<a [^>]*>)?2<', page)
    assert_no_inline_script_or_style(page)


def test_division_list_counts_come_from_one_grouped_query(world):
    client = client_for(world.users.city_reviewer)
    with CaptureQueriesContext(connection) as first:
        page = html(client.get("/divisions/"))
    assert re.search(r'data-testid="total-440100">(<a [^>]*>)?4<', page)
    assert re.search(r'data-testid="direct-440100">1<', page)
    assert re.search(r'data-testid="total-440104">(<a [^>]*>)?1<', page)
    for code in ("440103", "440105", "440111", "440112", "440113"):
        make_unit(code)
    with CaptureQueriesContext(connection) as second:
        page = html(client.get("/divisions/"))
    assert re.search(r'data-testid="total-440100">(<a [^>]*>)?9<', page)
    assert len(second.captured_queries) == len(first.captured_queries)
    unit_queries = [q["sql"] for q in second.captured_queries if "orgs_unit" in q["sql"]]
    assert len(unit_queries) == 1 and "GROUP BY" in unit_queries[0]
    rows = xlsx_rows(client.get("/divisions/?export=xlsx"))
    by_code = {r[0]: r for r in rows[4:]}
    assert int(by_code["440100"][5]) == 9 and int(by_code["440106"][5]) == 2


def test_division_detail_and_404_out_of_scope(world):
    client = client_for(world.users.tianhe_reviewer)
    page = html(client.get("/divisions/440106/"))
    assert "天河区测试局" in page and "天河区测试局下属中心" in page and "越秀" not in page
    assert 'data-testid="add-town"' not in page  # reviewers may not change divisions
    assert_no_inline_script_or_style(page)
    assert client.get("/divisions/440104/").status_code == 404
    assert client.get("/divisions/440100/").status_code == 404
    assert client.get("/divisions/nonsense/").status_code == 404
    operator = client_for(world.users.tianhe_operator)
    operator_page = html(operator.get("/divisions/440106/"))
    assert "天河区测试局" in operator_page and "天河区测试局下属中心" not in operator_page


def test_add_town_under_440106(world):
    client = client_for(world.users.tianhe_admin)
    assert 'data-testid="add-town"' in html(client.get("/divisions/440106/"))
    form = client.get("/divisions/440106/add-town/")
    assert form.status_code == 200 and 'value="440106"' in html(form)
    assert_no_inline_script_or_style(html(form))
    response = client.post("/divisions/440106/add-town/", {"code": "440106001", "name": "五山街道"})
    assert response.status_code == 302 and response["Location"] == "/divisions/440106001/"
    town = Division.objects.get(code="440106001")
    assert town.parent.code == "440106" and town.path == "440000/440100/440106/440106001/"
    event = audit_rows().get(action="division.add")
    assert event.actor_id == world.users.tianhe_admin.pk and event.after["code"] == "440106001"
    assert "五山街道" in html(client.get("/divisions/"))


def test_add_town_out_of_scope_or_wrong_is_refused(world):
    client = client_for(world.users.tianhe_admin)
    assert client.get("/divisions/440104/add-town/").status_code == 404
    assert (
        client.post("/divisions/440104/add-town/", {"code": "440104001", "name": "北京街道"}).status_code
        == 404
    )
    wrong = client.post("/divisions/440106/add-town/", {"code": "440104001", "name": "北京街道"})
    assert wrong.status_code == 200 and message_for("division_code_format") in html(wrong)
    supervisor = client_for(world.users.tianhe_supervisor)
    assert supervisor.get("/divisions/440106/add-town/").status_code == 403
    assert (
        supervisor.post("/divisions/440106/add-town/", {"code": "440106002", "name": "x"}).status_code == 403
    )
    assert not Division.objects.filter(code__in=["440104001", "440106002"]).exists()
    assert not audit_rows().exists()


# --- template filters -------------------------------------------------------------------------


def test_num_and_date_zh_filters():
    assert num(1234567) == "1,234,567" and num(0) == "0" and num(None) == "" and num("—") == "—"
    assert date_zh(dt.date(2026, 11, 26)) == "2026年11月26日"
    assert date_zh(dt.datetime(2026, 11, 25, 17, 0, tzinfo=dt.UTC)) == "2026年11月26日"  # Asia/Shanghai
    assert date_zh(None) == ""
