"""Pages of 编外人员: roster, record, exits, new records, baselines, caps, hire authorisations,
the coordinator pool, bulk operations, rule tables and the roster import.

Values are checked, not only status codes: a 天河区 user never sees a 越秀区 record (lists,
records, exports, totals), exports hold exactly the filtered rows with masked ID numbers,
writes leave their row and audit event behind, refused writes leave nothing, and the cap
figures equal the numbers worked out by hand below.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import re
from types import SimpleNamespace

import pytest
import xlsxwriter
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from python_calamine import CalamineWorkbook

from bianzhi.common.codes import make_resident_id
from bianzhi.common.errors import message_for
from bianzhi.common.models import AuditEvent
from bianzhi.divisions.choices import Level
from bianzhi.divisions.models import Division
from bianzhi.orgs.models import Person, sealed_id_number
from bianzhi.staffing import pool, services, spells, tasks
from bianzhi.staffing.models import (
    Baseline,
    BaselineCount,
    BulkOperation,
    CapChange,
    HireAuthorisation,
    PolicyFlag,
    PoolAssignment,
    RuleItem,
    Spell,
)
from tests.factories import clear_id

D = dt.date
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BASELINE_DATE = D(2019, 12, 31)
_seq = itertools.count(101)


# ---------------------------------------------------------------------------------- helpers


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def html(response) -> str:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/html"), response["Content-Type"]
    return response.content.decode("utf-8")


def sheet_rows(response, index: int = 0) -> list[list]:
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    return CalamineWorkbook.from_filelike(io.BytesIO(response.content)).get_sheet_by_index(index).to_python()


def data_rows(rows: list[list]) -> list[list]:
    """Rows below the header of an export (title, subtitle, blank, header, data)."""
    return [r for r in rows[4:] if any(c != "" for c in r)]


def assert_csp_friendly(page: str) -> None:
    assert not re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page), "inline <script> found"
    assert not re.search(r"\sstyle\s*=", page), "style= attribute found"
    assert not re.search(r"\son[a-z]+\s*=", page), "inline event handler found"


def cell(page: str, testid_row_attr: str, col: str) -> str:
    """The text of ``<td ... data-col="col">`` in the row carrying ``testid_row_attr``."""
    row = re.search(rf"<tr[^>]*{testid_row_attr}[^>]*>(.*?)</tr>", page, re.S)
    assert row, f"no row {testid_row_attr}"
    value = re.search(rf'data-col="{col}">([^<]*)<', row.group(1))
    assert value, f"no column {col}"
    return value.group(1).strip()


def person(unit, name: str, *, region: str | None = None) -> Person:
    k = next(_seq)
    birth = D(1985, 1, 1) + dt.timedelta(days=k)
    return Person.objects.create(
        **sealed_id_number(make_resident_id(region or unit.jurisdiction.code, birth, k)),
        name=name,
        sex="M" if k % 2 else "F",
        birth_date=birth,
        jurisdiction=unit.jurisdiction,
        jurisdiction_path=unit.jurisdiction_path,
        unit=unit,
    )


def spell(
    unit,
    who,
    hire,
    *,
    leave=None,
    reason="",
    situation="labour_contract",
    post_class="general_auxiliary",
    work_type="clerical",
    key_post="",
    post_name="文员",
    funding="fiscal",
) -> Spell:
    """A record written straight to the table (test data only, no audit)."""
    p = who if isinstance(who, Person) else person(unit, who)
    return Spell.objects.create(
        person=p,
        unit=unit,
        jurisdiction_path=unit.jurisdiction_path,
        situation=situation,
        post_class=post_class,
        work_type=work_type,
        post_name=post_name,
        key_post=key_post,
        funding_source=funding,
        hire_date=hire,
        leave_date=leave,
        exit_reason=reason,
        source="form",
    )


def audit_actions(object_type: str = "", object_id: str = "") -> list[str]:
    qs = AuditEvent.objects.all()
    if object_type:
        qs = qs.filter(object_type=object_type)
    if object_id:
        qs = qs.filter(object_id=object_id)
    return list(qs.order_by("seq").values_list("action", flat=True))


# ---------------------------------------------------------------------------------- data


@pytest.fixture
def roster(world, rules):
    return build_roster(world)


def build_roster(world) -> SimpleNamespace:
    """A small roster of 广州市 with a baseline of 2019-12-31 (taken for the whole city).

    天河区测试局 (A): 张三, 李四 (劳动合同制, 普通辅助岗, from 2018); 王五 (劳务派遣, 后勤保障岗,
    2019 – left 2021-01-01); 周九 (普通辅助岗 from 2018-06-01, earlier in 越秀区 2015–2017);
    赵六 (专业技术岗 from 2020, key post 财务); 吴十 (普通辅助岗 from 2021).
      baseline: 普通辅助岗 3 (张三 李四 周九), 后勤保障岗 1 (王五) → total 4.
      today: 普通辅助岗 4, 专业技术岗 1, 后勤保障岗 0 → total 5, over cap by 1.
    天河区测试局下属中心 (B): 钱七, 孙八 (协管员, 执法辅助岗, 2017), baseline 2, today 2.
    越秀区测试局 (Y): 越秀测试人 (普通辅助岗, 2018), 越秀协管员 (协管员, 2018).
    """
    a, b, y = world.tianhe_unit, world.tianhe_child, world.yuexiu_unit
    zhou = person(y, "周九", region="440104")
    records = SimpleNamespace(
        zhang=spell(a, "张三", D(2018, 1, 1)),
        li=spell(a, "李四", D(2018, 3, 1), work_type="counter_service", post_name="窗口受理"),
        wang=spell(
            a,
            "王五",
            D(2019, 1, 1),
            leave=D(2021, 1, 1),
            reason="resigned",
            situation="dispatched",
            post_class="logistics",
            work_type="security",
            post_name="门卫",
        ),
        zhou_y=spell(y, zhou, D(2015, 1, 1), leave=D(2018, 1, 1), reason="resigned"),
        zhou=spell(a, zhou, D(2018, 6, 1)),
        zhao=spell(
            a,
            "赵六",
            D(2020, 6, 1),
            post_class="professional",
            work_type="information_technology",
            key_post="finance",
            post_name="会计",
        ),
        wu=spell(a, "吴十", D(2021, 3, 1)),
        qian=spell(
            b,
            "钱七",
            D(2017, 1, 1),
            situation="coordinator",
            post_class="enforcement_auxiliary",
            work_type="urban_management",
            post_name="城管协管员",
        ),
        sun=spell(
            b,
            "孙八",
            D(2017, 5, 1),
            situation="coordinator",
            post_class="enforcement_auxiliary",
            work_type="traffic",
            post_name="交通协管员",
        ),
        yx=spell(y, "越秀测试人", D(2018, 1, 1)),
        yx_coord=spell(
            y,
            "越秀协管员",
            D(2018, 1, 1),
            situation="coordinator",
            post_class="enforcement_auxiliary",
            work_type="urban_management",
        ),
    )
    PolicyFlag.objects.create(
        spell=records.zhao,
        unit=a,
        jurisdiction_path=a.jurisdiction_path,
        code="key_post_banned",
        raised_on=D(2024, 1, 1),
    )
    baseline = services.baseline_take(actor=world.users.province_admin, scope="440100", as_of=BASELINE_DATE)
    return SimpleNamespace(world=world, s=records, baseline=baseline)


@pytest.fixture
def towns(world):
    return build_towns()


def build_towns() -> SimpleNamespace:
    """Two streets of 天河区 and one of 越秀区."""

    def town(code: str, name: str) -> Division:
        parent = Division.objects.get(code=code[:6])
        return Division.objects.create(
            code=code,
            name=name,
            level=Level.TOWN,
            parent=parent,
            path=f"{parent.path}{code}/",
            depth=parent.depth + 1,
        )

    return SimpleNamespace(
        t1=town("440106001", "天河测试街道一"),
        t2=town("440106002", "天河测试街道二"),
        y1=town("440104001", "越秀测试街道"),
    )


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return tmp_path


# ---------------------------------------------------------------------------------- menu


def test_menu_shows_the_staffing_group_by_permission(roster):
    world = roster.world
    page = html(client_for(world.users.tianhe_reviewer).get(reverse("common:workbench")))
    for name in (
        "roster_list",
        "baseline_list",
        "cap_list",
        "pool",
        "bulk_list",
        "roster_import",
        "rule_list",
    ):
        assert f'href="{reverse("staffing:" + name)}"' in page, name
    page = html(client_for(world.users.tianhe_supervisor).get(reverse("common:workbench")))
    assert f'href="{reverse("staffing:roster_list")}"' in page
    assert f'href="{reverse("staffing:bulk_list")}"' not in page
    assert f'href="{reverse("staffing:roster_import")}"' not in page


# ---------------------------------------------------------------------------------- roster list


def test_roster_list_of_a_tianhe_user_excludes_yuexiu(roster):
    page = html(client_for(roster.world.users.tianhe_reviewer).get(reverse("staffing:roster_list")))
    for name in ("张三", "李四", "周九", "赵六", "吴十", "钱七", "孙八"):
        assert name in page, name
    assert "越秀测试人" not in page and "越秀协管员" not in page and "越秀区测试局" not in page
    assert "王五" not in page  # left before today: the list defaults to the records in post today
    assert "劳动合同制聘用" in page and "普通辅助岗" in page and "文秘文书" in page and "财政拨款" in page
    assert "labour_contract" not in page.split("<table", 1)[1]
    zhang = roster.s.zhang.person
    assert zhang.masked_id in page and clear_id(zhang) not in page
    assert f'data-href="{reverse("staffing:roster_detail", args=[roster.s.zhang.pk])}"' in page
    assert re.search(r'data-testid="total">\s*7(?!\d)', page)
    assert_csp_friendly(page)


def test_roster_list_filters(roster):
    client = client_for(roster.world.users.tianhe_reviewer)
    url = reverse("staffing:roster_list")

    def names(**params) -> set[str]:
        page = html(client.get(url, params))
        return set(re.findall(r'<a href="/staffing/roster/\d+/">([^<]+)</a>', page))

    assert names(situation="coordinator") == {"钱七", "孙八"}
    assert names(post_class="professional") == {"赵六"}
    assert names(work_type="counter_service") == {"李四"}
    assert names(key_post="any") == {"赵六"}
    assert names(key_post="finance") == {"赵六"}
    assert "赵六" not in names(key_post="none")
    assert names(unit=roster.world.tianhe_child.pk) == {"钱七", "孙八"}
    assert names(q="张") == {"张三"}
    assert names(as_of="2020-01-01") == {"张三", "李四", "王五", "周九", "钱七", "孙八"}
    assert "王五" in names(as_of="")  # every record, those who left included
    assert names(unit=roster.world.yuexiu_unit.pk) == set()  # out of scope: refused, nothing listed


def test_roster_export_has_the_filtered_rows_with_masked_ids(roster):
    client = client_for(roster.world.users.tianhe_reviewer)
    rows = data_rows(
        sheet_rows(
            client.get(reverse("staffing:roster_list"), {"export": "xlsx", "situation": "coordinator"})
        )
    )
    assert sorted(r[0] for r in rows) == ["孙八", "钱七"]
    qian = next(r for r in rows if r[0] == "钱七")
    assert qian[1] == roster.s.qian.person.masked_id and "*" in qian[1]
    assert qian[3] == "天河区测试局下属中心" and qian[4] == "协管员/辅助人员" and qian[5] == "执法辅助岗"
    everything = sheet_rows(client.get(reverse("staffing:roster_list"), {"export": "xlsx", "as_of": ""}))
    text = "\n".join(str(c) for r in everything for c in r)
    for s in Spell.objects.all():
        assert clear_id(s.person) not in text
    assert "越秀" not in text
    assert len(data_rows(everything)) == 8


def test_unit_operator_sees_only_its_unit(roster):
    page = html(client_for(roster.world.users.tianhe_operator).get(reverse("staffing:roster_list")))
    assert "张三" in page and "钱七" not in page
    assert 'name="unit"' not in page
    assert (
        client_for(roster.world.users.tianhe_operator)
        .get(reverse("staffing:roster_detail", args=[roster.s.qian.pk]))
        .status_code
        == 404
    )


# ---------------------------------------------------------------------------------- record page


def test_record_page_shows_details_history_flags_and_audit(roster):
    client = client_for(roster.world.users.tianhe_admin)
    page = html(client.get(reverse("staffing:roster_detail", args=[roster.s.zhou.pk])))
    assert "周九" in page and roster.s.zhou.person.masked_id in page
    history = page.split('data-testid="history-table"', 1)[1].split("</table>", 1)[0]
    assert "天河区测试局" in history
    assert 'data-testid="hidden-record"' in history and "2015-01-01" in history and "2018-01-01" in history
    assert "越秀" not in page
    assert_csp_friendly(page)

    page = html(client.get(reverse("staffing:roster_detail", args=[roster.s.zhao.pk])))
    assert "财务" in page and "key_post_banned" in page and "专业技术岗" in page
    assert "严控增量" in page or "Strictly control increases" in page
    assert 'data-testid="audit-table"' in page
    assert client.get(reverse("staffing:roster_detail", args=[roster.s.yx.pk])).status_code == 404


def test_exit_form_writes_the_exit_and_the_audit(roster):
    client = client_for(roster.world.users.tianhe_reviewer)
    record = roster.s.li
    url = reverse("staffing:roster_exit", args=[record.pk])
    response = client.post(url, {"leave_date": "2024-07-01", "exit_reason": "contract_expired"})
    assert response.status_code == 302 and response["Location"] == reverse(
        "staffing:roster_detail", args=[record.pk]
    )
    record.refresh_from_db()
    assert (record.leave_date, record.exit_reason) == (D(2024, 7, 1), "contract_expired")
    assert audit_actions("staffing.spell", str(record.pk)) == ["spell.exit"]
    event = AuditEvent.objects.get(action="spell.exit")
    assert event.after == {"leave_date": "2024-07-01", "exit_reason": "contract_expired"}
    page = html(client.get(reverse("staffing:roster_detail", args=[record.pk])))
    assert "合同期满" in page and "2024-07-01" in page and 'data-testid="exit-form"' not in page


def test_exit_form_refusal_writes_nothing(roster):
    client = client_for(roster.world.users.tianhe_reviewer)
    record = roster.s.zhang
    before = AuditEvent.objects.count()
    page = html(
        client.post(
            reverse("staffing:roster_exit", args=[record.pk]),
            {"leave_date": "2017-01-01", "exit_reason": "resigned"},
        )
    )
    assert 'data-testid="form-errors"' in page and 'data-testid="exit-form"' in page
    record.refresh_from_db()
    assert record.leave_date is None and AuditEvent.objects.count() == before
    assert (
        client.post(
            reverse("staffing:roster_exit", args=[roster.s.yx.pk]),
            {"leave_date": "2024-07-01", "exit_reason": "resigned"},
        ).status_code
        == 404
    )
    assert (
        client_for(roster.world.users.tianhe_supervisor)
        .post(
            reverse("staffing:roster_exit", args=[record.pk]),
            {"leave_date": "2024-07-01", "exit_reason": "resigned"},
        )
        .status_code
        == 403
    )


# ---------------------------------------------------------------------------------- new record


def test_new_record_needs_a_hire_authorisation(roster):
    world = roster.world
    client = client_for(world.users.tianhe_reviewer)
    url = reverse("staffing:roster_new")
    page = html(client.get(url))
    assert "劳务派遣" in page and "文秘文书" in page and "越秀区测试局" not in page
    form = {
        "unit": world.tianhe_child.pk,
        "id_number": make_resident_id("440106", D(1995, 5, 5), 33),
        "name": "新协管",
        "situation": "coordinator",
        "post_class": "enforcement_auxiliary",
        "work_type": "traffic",
        "post_name": "交通协管员",
        "funding_source": "fiscal",
        "hire_date": timezone.localdate().isoformat(),
        "key_post": "",
    }
    CapChange.objects.create(unit=world.tianhe_child, cap=3, valid_from=D(2024, 1, 1))
    CapChange.objects.create(
        unit=world.tianhe_child, post_class="enforcement_auxiliary", cap=3, valid_from=D(2024, 1, 1)
    )
    count = Spell.objects.count()
    page = html(client.post(url, form))
    assert escape(message_for("hire_authorisation_required")) in page
    assert Spell.objects.count() == count
    auth = spells.authorisation_create(
        actor=world.users.tianhe_reviewer,
        unit_id=world.tianhe_child.pk,
        post_class="enforcement_auxiliary",
        quantity=1,
        valid_from=D(2024, 1, 1),
    )
    response = client.post(url, {**form, "authorisation_number": auth.number})
    assert response.status_code == 302, response.content.decode()[:3000]
    created = Spell.objects.get(person__name="新协管")
    assert response["Location"] == reverse("staffing:roster_detail", args=[created.pk])
    assert (created.unit_id, created.work_type, created.authorisation_id) == (
        world.tianhe_child.pk,
        "traffic",
        auth.pk,
    )
    auth.refresh_from_db()
    assert auth.used == 1
    assert "spell.create" in audit_actions("staffing.spell", str(created.pk))


# ---------------------------------------------------------------------------------- baselines


def test_baseline_take_page(roster, world):
    client = client_for(world.users.tianhe_reviewer)
    url = reverse("staffing:baseline_list")
    page = html(client.get(url))
    # the city's baseline covers 天河区 too: it is listed with the 天河区 part of its total (6 of 8)
    assert 'data-testid="take-form"' in page
    assert re.search(r'data-baseline="440100">.*?data-col="total">6<', page, re.S)
    assert "越秀" not in page
    response = client.post(url, {"scope": "440106", "as_of": "2019-12-31", "note": "首次"})
    baseline = Baseline.objects.get(jurisdiction__code="440106", is_current=True)
    assert response.status_code == 302 and response["Location"] == reverse(
        "staffing:baseline_detail", args=[baseline.pk]
    )
    cells = {
        (c.unit_id, c.situation, c.post_class): c.count
        for c in BaselineCount.objects.filter(baseline=baseline)
    }
    a, b = world.tianhe_unit.pk, world.tianhe_child.pk
    assert cells == {
        (a, "labour_contract", "general_auxiliary"): 3,
        (a, "dispatched", "logistics"): 1,
        (b, "coordinator", "enforcement_auxiliary"): 2,
    }
    assert baseline.total == 6 and audit_actions("staffing.baseline") == ["baseline.take", "baseline.take"]

    # re-taking needs the explicit checkbox
    page = html(client.post(url, {"scope": "440106", "as_of": "2020-12-31"}))
    assert escape(message_for("baseline_exists")) in page
    assert Baseline.objects.filter(jurisdiction__code="440106").count() == 1
    response = client.post(url, {"scope": "440106", "as_of": "2020-12-31", "retake": "on"})
    assert response.status_code == 302
    assert Baseline.objects.filter(jurisdiction__code="440106").count() == 2
    assert Baseline.objects.get(jurisdiction__code="440106", is_current=True).total == 7
    assert audit_actions("staffing.baseline")[-1] == "baseline.retake"

    # a supervisor sees the list, not the form; posting is refused
    page = html(client_for(world.users.tianhe_supervisor).get(url))
    assert 'data-testid="take-form"' not in page
    assert (
        client_for(world.users.tianhe_supervisor)
        .post(url, {"scope": "440106", "as_of": "2019-12-31"})
        .status_code
        == 403
    )


def test_baseline_detail_counts_and_export(roster):
    world = roster.world
    client = client_for(world.users.city_reviewer)
    url = reverse("staffing:baseline_detail", args=[roster.baseline.pk])
    page = html(client.get(url))
    assert re.search(r'data-testid="baseline-total">8<', page)
    rows = data_rows(sheet_rows(client.get(url, {"export": "xlsx"})))
    got = {(r[1], r[2], r[3]): r[4] for r in rows}
    assert got == {
        ("天河区测试局", "劳动合同制聘用", "普通辅助岗"): 3,
        ("天河区测试局", "劳务派遣", "后勤保障岗"): 1,
        ("天河区测试局下属中心", "协管员/辅助人员", "执法辅助岗"): 2,
        ("越秀区测试局", "劳动合同制聘用", "普通辅助岗"): 1,
        ("越秀区测试局", "协管员/辅助人员", "执法辅助岗"): 1,
    }
    # shown to 天河区, the city baseline holds the 天河区 counts only
    page = html(client_for(world.users.tianhe_reviewer).get(url))
    assert re.search(r'data-testid="baseline-total">6<', page) and "越秀" not in page
    rows = data_rows(sheet_rows(client_for(world.users.tianhe_reviewer).get(url, {"export": "xlsx"})))
    assert sum(r[4] for r in rows) == 6 and {r[1] for r in rows} == {"天河区测试局", "天河区测试局下属中心"}
    assert (
        client_for(world.users.yuexiu_reviewer)
        .get(
            reverse(
                "staffing:baseline_detail",
                args=[
                    Baseline.objects.create(
                        jurisdiction=world.tianhe_unit.jurisdiction,
                        jurisdiction_path=world.tianhe_unit.jurisdiction_path,
                        as_of=BASELINE_DATE,
                        taken_by=world.users.province_admin,
                    ).pk
                ],
            )
        )
        .status_code
        == 404
    )


# ---------------------------------------------------------------------------------- caps


def test_caps_page_figures_equal_hand_computed_numbers(roster):
    world = roster.world
    client = client_for(world.users.tianhe_reviewer)
    url = reverse("staffing:cap_list")
    page = html(client.get(url, {"as_of": "2024-06-30"}))
    a, b = f'data-unit="{world.tianhe_unit.pk}"', f'data-unit="{world.tianhe_child.pk}"'
    assert [cell(page, a, c) for c in ("baseline", "cap", "current", "headroom")] == ["4", "4", "5", "-1"]
    assert [cell(page, b, c) for c in ("baseline", "cap", "current", "headroom")] == ["2", "2", "2", "0"]
    row_a = re.search(rf"<tr[^>]*{a}[^>]*>", page).group(0)
    assert "table-danger" in row_a and "table-danger" not in re.search(rf"<tr[^>]*{b}[^>]*>", page).group(0)
    assert "越秀区测试局" not in page
    assert re.search(r'data-total="current">7<', page) and re.search(r'data-total="over">1<', page)

    # on the baseline date every unit is at its cap
    page = html(client.get(url, {"as_of": "2019-12-31"}))
    assert [cell(page, a, c) for c in ("cap", "current", "headroom")] == ["4", "4", "0"]

    # per post class: 普通辅助岗 3 → 4 over, 后勤保障岗 1 → 0, 专业技术岗 0 → 1 over (no new categories)
    page = html(client.get(url, {"as_of": "2024-06-30", "by": "class"}))
    ga = f'data-unit="{world.tianhe_unit.pk}" data-class="general_auxiliary"'
    lg = f'data-unit="{world.tianhe_unit.pk}" data-class="logistics"'
    pr = f'data-unit="{world.tianhe_unit.pk}" data-class="professional"'
    assert [cell(page, ga, c) for c in ("baseline", "cap", "current", "headroom")] == ["3", "3", "4", "-1"]
    assert [cell(page, lg, c) for c in ("baseline", "cap", "current", "headroom")] == ["1", "1", "0", "1"]
    assert [cell(page, pr, c) for c in ("baseline", "cap", "current", "headroom")] == ["0", "0", "1", "-1"]

    # over cap only, and the export of exactly those rows
    page = html(client.get(url, {"as_of": "2024-06-30", "over": "on"}))
    assert a in page and b not in page
    rows = data_rows(sheet_rows(client.get(url, {"as_of": "2024-06-30", "over": "on", "export": "xlsx"})))
    assert rows == [[world.tianhe_unit.uscc, "天河区测试局", 4, 4, 5, -1, rows[0][-1]]]


def test_cap_change_form(roster):
    world = roster.world
    client = client_for(world.users.tianhe_reviewer)
    url = reverse("staffing:cap_change")
    response = client.post(
        url,
        {
            "unit": world.tianhe_child.pk,
            "post_class": "",
            "cap": "3",
            "valid_from": "2024-01-01",
            "document_ref": "天编〔2024〕1号",
        },
    )
    assert response.status_code == 302
    change = CapChange.objects.get()
    assert (change.unit_id, change.post_class, change.cap, change.document_ref) == (
        world.tianhe_child.pk,
        "",
        3,
        "天编〔2024〕1号",
    )
    assert audit_actions("staffing.capchange") == ["cap.set"]
    page = html(client.get(reverse("staffing:cap_list"), {"as_of": "2024-06-30"}))
    b = f'data-unit="{world.tianhe_child.pk}"'
    assert [cell(page, b, c) for c in ("baseline", "cap", "current", "headroom")] == ["2", "3", "2", "1"]
    # a unit of another district is refused like a missing one
    before = CapChange.objects.count()
    page = html(client.post(url, {"unit": world.yuexiu_unit.pk, "cap": "9", "valid_from": "2024-01-01"}))
    assert 'data-testid="form-errors"' in page and CapChange.objects.count() == before


# ---------------------------------------------------------------------------------- hire authorisations


def test_authorisation_list_and_form(roster):
    world = roster.world
    client = client_for(world.users.tianhe_reviewer)
    response = client.post(
        reverse("staffing:authorisation_new"),
        {
            "unit": world.tianhe_unit.pk,
            "post_class": "general_auxiliary",
            "quantity": "2",
            "valid_from": "2024-01-01",
            "document_ref": "天编〔2024〕9号",
        },
    )
    assert response.status_code == 302
    auth = HireAuthorisation.objects.get()
    assert (auth.unit_id, auth.post_class, auth.quantity, auth.used) == (
        world.tianhe_unit.pk,
        "general_auxiliary",
        2,
        0,
    )
    spells.authorisation_create(
        actor=world.users.province_admin,
        unit_id=world.yuexiu_unit.pk,
        post_class="general_auxiliary",
        quantity=1,
        valid_from=D(2024, 1, 1),
    )
    page = html(client.get(reverse("staffing:authorisation_list")))
    assert auth.number in page and "普通辅助岗" in page and "越秀" not in page
    rows = data_rows(sheet_rows(client.get(reverse("staffing:authorisation_list"), {"export": "xlsx"})))
    assert [r[0] for r in rows] == [auth.number]
    assert (
        client_for(world.users.tianhe_operator).get(reverse("staffing:authorisation_new")).status_code == 403
    )


# ---------------------------------------------------------------------------------- coordinator pool


def test_pool_assign_page_and_totals(roster, towns):
    world = roster.world
    admin = world.users.province_admin
    pool.pool_assign(
        actor=admin, spell_id=roster.s.yx_coord.pk, town_code="440104001", valid_from=D(2024, 1, 1)
    )
    client = client_for(world.users.tianhe_reviewer)
    url = reverse("staffing:pool_assign", args=[roster.s.qian.pk])
    page = html(client.get(url))
    assert "天河测试街道一" in page and "越秀测试街道" not in page
    response = client.post(
        url,
        {"town": "440106001", "department": world.tianhe_unit.pk, "task": "巡查", "valid_from": "2024-01-01"},
    )
    assert response.status_code == 302
    pool.pool_assign(actor=admin, spell_id=roster.s.sun.pk, town_code="440106001", valid_from=D(2024, 1, 1))
    # re-allocation across towns: the open assignment closes on the new start
    response = client.post(url, {"town": "440106002", "valid_from": "2024-06-01"})
    assert response.status_code == 302
    history = list(
        PoolAssignment.objects.filter(spell=roster.s.qian)
        .order_by("valid_from")
        .values_list("town__code", "valid_from", "valid_to")
    )
    assert history == [("440106001", D(2024, 1, 1), D(2024, 6, 1)), ("440106002", D(2024, 6, 1), None)]
    assert audit_actions("staffing.poolassignment")[-2:] == ["pool.assign", "pool.reallocate"]

    page = html(client.get(reverse("staffing:pool"), {"city": "440100", "as_of": "2024-07-01"}))
    towns_table = page.split('data-testid="town-totals"', 1)[1].split("</table>", 1)[0]
    assert re.search(
        r'data-town="440106001">\s*<td>天河测试街道一</td>\s*<td class="num">1</td>', towns_table
    )
    assert re.search(
        r'data-town="440106002">\s*<td>天河测试街道二</td>\s*<td class="num">1</td>', towns_table
    )
    assert re.search(r'data-testid="pool-total">2<', page)
    departments = page.split('data-testid="department-totals"', 1)[1].split("</table>", 1)[0]
    assert re.search(r'data-department="">\s*<td>[^<]+</td>\s*<td class="num">2</td>', departments)
    assert "越秀" not in page
    assert "钱七" in page and "孙八" in page

    # on 2024-03-01 both were in the first street, 钱七 with 天河区测试局 as its department
    page = html(client.get(reverse("staffing:pool"), {"city": "440100", "as_of": "2024-03-01"}))
    towns_table = page.split('data-testid="town-totals"', 1)[1].split("</table>", 1)[0]
    assert re.search(
        r'data-town="440106001">\s*<td>天河测试街道一</td>\s*<td class="num">2</td>', towns_table
    )
    departments = page.split('data-testid="department-totals"', 1)[1].split("</table>", 1)[0]
    assert re.search(
        rf'data-department="{world.tianhe_unit.pk}">\s*<td>天河区测试局</td>\s*<td class="num">1</td>',
        departments,
    )

    # the record page shows the assignment history
    page = html(client.get(reverse("staffing:roster_detail", args=[roster.s.qian.pk])))
    table = page.split('data-testid="assignment-table"', 1)[1].split("</table>", 1)[0]
    assert table.index("天河测试街道一") < table.index("天河测试街道二") and "巡查" in table

    # exports: towns and members
    rows = data_rows(
        sheet_rows(
            client.get(
                reverse("staffing:pool"),
                {"city": "440100", "as_of": "2024-07-01", "export": "xlsx", "sheet": "towns"},
            )
        )
    )
    assert sorted((r[1], r[2]) for r in rows) == [("天河测试街道一", 1), ("天河测试街道二", 1)]
    rows = data_rows(
        sheet_rows(
            client.get(reverse("staffing:pool"), {"city": "440100", "as_of": "2024-07-01", "export": "xlsx"})
        )
    )
    assert sorted(r[0] for r in rows) == ["孙八", "钱七"] and all("*" in r[1] for r in rows)


# ---------------------------------------------------------------------------------- bulk operations


def test_bulk_preview_apply_flow_via_pages(roster):
    world = roster.world
    client = client_for(world.users.tianhe_reviewer)
    today = timezone.localdate()
    response = client.post(
        reverse("staffing:bulk_new"),
        {
            "kind": "group_transfer",
            "unit": world.tianhe_child.pk,
            "situation": "coordinator",
            "leave_date": today.isoformat(),
            "exit_reason": "group_transfer",
            "receiver": "广州市环卫集团有限公司",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    operation = BulkOperation.objects.get()
    assert response["Location"] == reverse("staffing:bulk_detail", args=[operation.pk])
    assert Spell.objects.filter(leave_date=today).count() == 0  # a preview changes no record
    page = html(client.get(response["Location"]))
    selection = page.split('data-testid="selection-table"', 1)[1].split("</table>", 1)[0]
    assert set(re.findall(r'<a href="/staffing/roster/\d+/">([^<]+)</a>', selection)) == {"钱七", "孙八"}
    assert re.search(r'data-testid="total">\s*2(?!\d)', page) and 'data-testid="apply-form"' in page

    # applying needs the document reference
    page = html(client.post(reverse("staffing:bulk_apply", args=[operation.pk]), {"document_ref": ""}))
    assert 'data-testid="form-errors"' in page
    assert BulkOperation.objects.get().status == "previewed"
    response = client.post(
        reverse("staffing:bulk_apply", args=[operation.pk]), {"document_ref": "穗编〔2024〕8号"}
    )
    assert response.status_code == 302
    operation.refresh_from_db()
    assert (operation.status, operation.document_ref, operation.count) == ("applied", "穗编〔2024〕8号", 2)
    moved = Spell.objects.filter(operation=operation)
    assert {s.person.name for s in moved} == {"钱七", "孙八"}
    assert {(s.leave_date, s.exit_reason) for s in moved} == {(today, "group_transfer")}
    assert audit_actions("staffing.bulkoperation") == ["bulk.preview", "bulk.apply"]

    page = html(client.get(reverse("staffing:bulk_list")))
    assert re.search(rf'href="{reverse("staffing:bulk_detail", args=[operation.pk])}"', page)
    rows = data_rows(sheet_rows(client.get(reverse("staffing:bulk_list"), {"export": "xlsx"})))
    assert [(r[0], r[5]) for r in rows] == [(operation.pk, 2)]
    page = html(client.get(reverse("staffing:bulk_detail", args=[operation.pk])))
    assert 'data-testid="apply-form"' not in page and "钱七" in page


def test_bulk_cancel_changes_no_record(roster):
    world = roster.world
    client = client_for(world.users.tianhe_reviewer)
    leave = timezone.localdate()
    client.post(
        reverse("staffing:bulk_new"),
        {
            "kind": "downsizing",
            "unit": world.tianhe_unit.pk,
            "post_class": "general_auxiliary",
            "leave_date": leave.isoformat(),
        },
    )
    operation = BulkOperation.objects.get()
    assert operation.count == 4
    response = client.post(reverse("staffing:bulk_cancel", args=[operation.pk]))
    assert response.status_code == 302
    operation.refresh_from_db()
    assert operation.status == "cancelled" and not Spell.objects.filter(operation=operation).exists()
    assert Spell.objects.filter(leave_date=leave).count() == 0
    # another district's operation answers 404
    other = client_for(world.users.yuexiu_reviewer)
    assert other.get(reverse("staffing:bulk_detail", args=[operation.pk])).status_code == 404
    assert other.post(reverse("staffing:bulk_cancel", args=[operation.pk])).status_code == 404


# ---------------------------------------------------------------------------------- rule tables


def test_rule_table_page_marks_province_and_local_rows(roster):
    world = roster.world
    client = client_for(world.users.tianhe_admin)
    url = reverse("staffing:rule_list")
    response = client.post(
        url,
        {
            "table": "key_post",
            "code": "procurement",
            "name": "采购",
            "valid_from": "2024-01-01",
            "jurisdiction_code": "440106",
            "source_document": "天河区编外人员管理补充规定",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    item = RuleItem.objects.get(code="procurement")
    assert item.jurisdiction_path == "440000/440100/440106/"
    assert audit_actions("staffing.ruleitem")[-1] == "rules.item_add"
    RuleItem.objects.create(
        table="key_post",
        code="yuexiu_only",
        name="越秀专项",
        jurisdiction=world.yuexiu_unit.jurisdiction,
        jurisdiction_path=world.yuexiu_unit.jurisdiction_path,
        valid_from=D(2024, 1, 1),
        source_document="越秀文件",
    )

    page = html(client.get(url, {"as_of": "2024-06-30"}))
    assert re.search(r'data-table="key_post" data-code="procurement" data-origin="local"', page)
    assert re.search(r'data-table="situation" data-code="labour_contract" data-origin="province"', page)
    assert "采购" in page and "天河区编外人员管理补充规定" in page and "越秀" not in page
    # in force only from its start
    page = html(client.get(url, {"as_of": "2023-06-30"}))
    assert 'data-code="procurement"' not in page.split('data-testid="local-table"')[0]

    # the new key post is a choice of the forms and is shown by name on records
    rows = data_rows(
        sheet_rows(client.get(url, {"as_of": "2024-06-30", "table": "key_post", "export": "xlsx"}))
    )
    assert sorted(r[2] for r in rows) == ["人事", "涉密", "财务", "采购"]

    # ending the local row
    response = client.post(reverse("staffing:rule_close", args=[item.pk]), {"valid_to": "2025-01-01"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.valid_to == D(2025, 1, 1)
    assert audit_actions("staffing.ruleitem")[-1] == "rules.item_close"
    yx_item = RuleItem.objects.get(code="yuexiu_only")
    assert client.get(reverse("staffing:rule_close", args=[yx_item.pk])).status_code == 404
    # a reviewer sees the tables but no form
    page = html(client_for(world.users.tianhe_reviewer).get(url))
    assert 'data-testid="rule-form"' not in page


# ---------------------------------------------------------------------------------- roster import


HEADERS = [
    "统一社会信用代码",
    "姓名",
    "公民身份号码",
    "情形",
    "岗位类别",
    "工作内容",
    "岗位名称",
    "关键岗位",
    "审批编号",
    "经费来源",
    "入职日期",
    "离职日期",
    "离职原因",
    "合同到期日",
    "学历",
    "月人均成本",
]


def workbook(rows: list[list]) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet()
    for r, row in enumerate([HEADERS, *rows]):
        for c, value in enumerate(row):
            sheet.write_string(r, c, str(value)) if value != "" else None
    book.close()
    return buffer.getvalue()


def roster_rows(world, n: int = 2) -> list[list]:
    return [
        [
            world.tianhe_unit.uscc,
            f"导入{k}",
            make_resident_id("440106", D(1990, 1, 1) + dt.timedelta(days=k), k),
            "劳动合同制聘用",
            "普通辅助岗",
            "文秘文书",
            "文员",
            "",
            "",
            "财政拨款",
            "2016-03-01",
            "",
            "",
            "",
            "大学本科",
            "5000",
        ]
        for k in range(1, n + 1)
    ]


def upload(client: Client, data: bytes, mode: str = "inventory", name: str = "roster.xlsx"):
    return client.post(
        reverse("staffing:roster_import"),
        {"action": "upload", "mode": mode, "file": SimpleUploadedFile(name, data, content_type=XLSX)},
    )


def test_import_template_has_headers_and_drop_downs(roster):
    response = client_for(roster.world.users.tianhe_admin).get(reverse("staffing:roster_import_template"))
    assert response.status_code == 200 and response["Content-Type"] == XLSX
    book = CalamineWorkbook.from_filelike(io.BytesIO(response.content))
    assert book.get_sheet_by_index(0).to_python()[0] == HEADERS
    lists = book.get_sheet_by_index(1).to_python()
    columns = {
        lists[0][c]: [r[c] for r in lists[1:] if r[c] != ""] for c in range(len(lists[0])) if lists[0][c]
    }
    assert columns["情形"] == ["劳动合同制聘用", "劳务派遣", "协管员/辅助人员", "退休返聘", "其他临时用工"]
    assert columns["关键岗位"] == ["无", "人事", "财务", "涉密"]
    assert roster.world.tianhe_unit.uscc in columns["统一社会信用代码"]
    assert roster.world.yuexiu_unit.uscc not in columns["统一社会信用代码"]
    import zipfile

    sheet_xml = zipfile.ZipFile(io.BytesIO(response.content)).read("xl/worksheets/sheet1.xml").decode()
    assert sheet_xml.count("<dataValidation ") >= 8


def test_import_dry_run_then_confirm(roster):
    world = roster.world
    client = client_for(world.users.tianhe_admin)
    page = html(client.get(reverse("staffing:roster_import")))
    assert 'value="inventory"' in page
    count = Spell.objects.count()
    page = html(upload(client, workbook(roster_rows(world))))
    assert re.search(r'data-count="rows">2<', page) and re.search(r'data-count="created">2<', page)
    assert re.search(r'data-count="errors">0<', page) and 'data-testid="confirm-form"' in page
    assert Spell.objects.count() == count
    sha = re.search(r'name="sha256" value="([0-9a-f]{64})"', page).group(1)
    response = client.post(reverse("staffing:roster_import"), {"action": "confirm", "sha256": sha})
    assert response.status_code == 302
    assert Spell.objects.count() == count + 2
    assert set(Spell.objects.filter(person__name__startswith="导入").values_list("source", flat=True)) == {
        "inventory"
    }
    page = html(client.get(reverse("staffing:roster_import")))
    assert re.search(r'data-count="created">2<', page)
    assert "roster.import" in audit_actions()


def test_import_errors_are_reported_and_downloadable(roster):
    world = roster.world
    client = client_for(world.users.tianhe_admin)
    rows = roster_rows(world)
    rows[1][3] = "临时工"  # unknown situation
    rows[0][0] = world.yuexiu_unit.uscc  # out of scope
    page = html(upload(client, workbook(rows)))
    assert re.search(r'data-count="errors">[1-9]', page) and 'data-testid="confirm-form"' not in page
    assert "unknown_situation" in page and "unit_not_found" in page
    link = re.search(r'href="([^"]+)" data-testid="report-export"', page).group(1).replace("&amp;", "&")
    report = data_rows(sheet_rows(client.get(link)))
    assert {(r[0], r[1], r[3]) for r in report} >= {
        (3, "情形", "unknown_situation"),
        (2, "统一社会信用代码", "unit_not_found"),
    }
    assert not Spell.objects.filter(person__name__startswith="导入").exists()


def test_import_register_mode_for_unit_operators(roster):
    world = roster.world
    client = client_for(world.users.tianhe_operator)
    page = html(client.get(reverse("staffing:roster_import")))
    assert 'value="inventory"' not in page
    page = html(upload(client, workbook(roster_rows(world, 1)), mode="inventory"))
    assert 'data-testid="form-errors"' in page  # not a choice for this role
    page = html(upload(client, workbook(roster_rows(world, 1)), mode="register"))
    assert "hire_authorisation_required" in page


def test_large_import_runs_as_a_background_task_with_progress(roster, monkeypatch):
    world = roster.world
    monkeypatch.setattr(tasks, "BACKGROUND_ROWS", 1)
    client = client_for(world.users.tianhe_admin)
    response = upload(client, workbook(roster_rows(world, 3)))
    assert response.status_code == 302
    job = response["Location"].rstrip("/").split("/")[-1]
    assert response["Location"] == reverse("staffing:roster_import_job", args=[job])
    # the immediate backend has run it: the job page is the report, the status asks for a reload
    status = client.get(reverse("staffing:roster_import_job_status", args=[job]))
    assert status.status_code == 200 and status["HX-Refresh"] == "true"
    page = html(client.get(response["Location"]))
    assert re.search(r'data-count="created">3<', page) and 'data-testid="confirm-form"' in page
    sha = re.search(r'name="sha256" value="([0-9a-f]{64})"', page).group(1)
    response = client.post(reverse("staffing:roster_import"), {"action": "confirm", "sha256": sha})
    assert response.status_code == 302
    commit_job = response["Location"].rstrip("/").split("/")[-1]
    assert commit_job != job
    page = html(client.get(response["Location"]))
    assert 'data-testid="import-result"' in page and re.search(r'data-count="created">3<', page)
    assert Spell.objects.filter(person__name__startswith="导入").count() == 3
    # another user's job answers 404
    other = client_for(world.users.tianhe_reviewer)
    assert other.get(reverse("staffing:roster_import_job", args=[job])).status_code == 404
    assert other.get(reverse("staffing:roster_import_job_status", args=[job])).status_code == 404


def test_progress_page_polls_while_the_job_runs(roster):
    user = roster.world.users.tianhe_admin
    job = "0" * 31 + "1"
    tasks.job_update(
        job,
        job=job,
        user=user.pk,
        sha256="0" * 64,
        filename="big.xlsx",
        mode="inventory",
        dry_run=False,
        state=tasks.RUNNING,
        phase="validate",
        done=50_000,
        total=100_000,
    )
    client = client_for(user)
    page = html(client.get(reverse("staffing:roster_import_job", args=[job])))
    status_url = reverse("staffing:roster_import_job_status", args=[job])
    assert f'hx-get="{status_url}"' in page and 'hx-trigger="every 1s"' in page
    assert '<progress class="w-100" max="100" value="40"' in page  # checking fills 10–70 %: halfway is 40 %
    assert_csp_friendly(page)
    fragment = client.get(status_url).content.decode()
    assert 'value="40"' in fragment and "50,000" in fragment and "100,000" in fragment
    tasks.job_update(job, phase="write", done=25_000, total=100_000)
    assert 'value="77"' in client.get(status_url).content.decode()
    assert tasks.estimate_rows(workbook(roster_rows(roster.world, 5)), "x.xlsx") == 5
    assert tasks.estimate_rows(b"a,b\n1,2\n3,4\n", "x.csv") == 2
