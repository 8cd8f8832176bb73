"""Pages of the orgs app: units (list, tree, record, forms), establishment, people, unit import.

Every page is checked for values, not only status codes: out-of-scope names never show up
(lists, records, exports), refused writes leave no row and no audit event behind, exports
hold exactly the filtered rows, and ID numbers are only ever shown masked.
"""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
import xlsxwriter
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils.html import escape
from python_calamine import CalamineWorkbook

from bianzhi.common.codes import make_resident_id
from bianzhi.common.errors import message_for
from bianzhi.common.models import AuditEvent
from bianzhi.orgs import services
from bianzhi.orgs.choices import EstablishmentKind, UnitCategory, UnitStatus
from bianzhi.orgs.models import EstablishmentQuota, Person, Unit, UnitVersion
from tests.factories import clear_id

from ..factories import make_unit, next_uscc

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ON = dt.date(2024, 1, 1)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def html(response) -> str:
    assert response["Content-Type"].startswith("text/html"), response["Content-Type"]
    return response.content.decode("utf-8")


def audit_rows():
    return AuditEvent.objects.exclude(action="divisions.load")


def sheet_rows(response, index: int = 0) -> list[list]:
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    book = CalamineWorkbook.from_filelike(io.BytesIO(response.content))
    return book.get_sheet_by_index(index).to_python()


def data_rows(rows: list[list]) -> list[list]:
    """The rows below the header row of an export (rows: title, subtitle, blank, header, data)."""
    return [r for r in rows[4:] if any(c != "" for c in r)]


def assert_csp_friendly(page: str) -> None:
    assert not re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page), "inline <script> found"
    assert not re.search(r"\sstyle\s*=", page), "style= attribute found"
    assert not re.search(r"\son[a-z]+\s*=", page), "inline event handler found"


@pytest.fixture
def quotas(world):
    """From 2024: 天河区测试局 10/12 (over), its centre 5/3 (vacancies), 越秀区 12,000/11,000."""
    admin = world.users.province_admin
    services.quota_set(
        actor=admin,
        unit_id=world.tianhe_unit.pk,
        kind=EstablishmentKind.ADMINISTRATIVE,
        approved=10,
        actual=12,
        on=ON,
    )
    services.quota_set(
        actor=admin,
        unit_id=world.tianhe_child.pk,
        kind=EstablishmentKind.PUBLIC_INSTITUTION,
        approved=5,
        actual=3,
        on=ON,
    )
    services.quota_set(
        actor=admin,
        unit_id=world.yuexiu_unit.pk,
        kind=EstablishmentKind.ADMINISTRATIVE,
        approved=12000,
        actual=11000,
        on=ON,
    )
    return world


# ---------------------------------------------------------------------------------- unit list


def test_unit_list_shows_in_scope_units_only(quotas):
    world = quotas
    page = html(client_for(world.users.tianhe_reviewer).get(reverse("orgs:unit_list")))
    assert "天河区测试局" in page and "天河区测试局下属中心" in page
    assert "越秀区测试局" not in page
    assert "广州市测试委员会" not in page
    assert "12,000" not in page
    assert 'data-testid="total"' in page
    assert f'data-href="{reverse("orgs:unit_detail", args=[world.tianhe_unit.pk])}"' in page
    assert_csp_friendly(page)


def test_unit_list_numbers_have_thousands_separators(quotas):
    page = html(client_for(quotas.users.city_reviewer).get(reverse("orgs:unit_list")))
    assert re.search(r'<td class="num">12,000</td>', page)
    assert re.search(r'<td class="num">11,000</td>', page)


def test_unit_operator_sees_only_its_unit(world):
    page = html(client_for(world.users.tianhe_operator).get(reverse("orgs:unit_list")))
    assert "天河区测试局" in page
    assert "天河区测试局下属中心" not in page and "越秀区测试局" not in page


def test_unit_list_filters_and_the_export_holds_exactly_the_filtered_rows(world):
    extra = make_unit("440106", "天河区测试研究所", category=UnitCategory.PUBLIC_INSTITUTION)
    make_unit("440104", "越秀区测试研究所", category=UnitCategory.PUBLIC_INSTITUTION)
    client = client_for(world.users.tianhe_reviewer)
    url = reverse("orgs:unit_list")

    page = html(client.get(url, {"category": UnitCategory.PUBLIC_INSTITUTION}))
    assert "天河区测试研究所" in page and "天河区测试局" not in page and "越秀区测试研究所" not in page

    rows = data_rows(
        sheet_rows(client.get(url, {"category": UnitCategory.PUBLIC_INSTITUTION, "export": "xlsx"}))
    )
    assert [(r[0], r[1]) for r in rows] == [(extra.uscc, "天河区测试研究所")]
    assert isinstance(rows[0][0], str)  # the code is written as text

    rows = data_rows(sheet_rows(client.get(url, {"export": "xlsx"})))
    assert sorted(r[1] for r in rows) == sorted(["天河区测试局", "天河区测试局下属中心", "天河区测试研究所"])

    rows = data_rows(sheet_rows(client.get(url, {"q": world.tianhe_child.uscc[:12], "export": "xlsx"})))
    assert {r[0] for r in rows} <= {
        u.uscc for u in Unit.objects.filter(uscc__startswith=world.tianhe_child.uscc[:12])
    }
    assert world.tianhe_child.uscc in {r[0] for r in rows}

    rows = data_rows(sheet_rows(client.get(url, {"q": "下属", "export": "xlsx"})))
    assert [r[1] for r in rows] == ["天河区测试局下属中心"]


def test_unit_list_status_filter_and_division_filter(world):
    services.unit_abolish(actor=world.users.tianhe_reviewer, unit_id=world.tianhe_child.pk, on=ON)
    client = client_for(world.users.city_reviewer)
    url = reverse("orgs:unit_list")
    assert "天河区测试局下属中心" not in html(client.get(url))  # active by default
    assert "天河区测试局下属中心" in html(client.get(url, {"status": UnitStatus.ABOLISHED}))
    assert "天河区测试局下属中心" in html(client.get(url, {"status": "all"}))
    page = html(client.get(url, {"division": "440104"}))
    assert "越秀区测试局" in page and "天河区测试局" not in page and "广州市测试委员会" not in page
    page = html(client.get(url, {"division": "440100"}))
    assert "越秀区测试局" in page and "天河区测试局" in page and "广州市测试委员会" in page


def test_unit_list_division_filter_cannot_reach_outside_the_scope(world):
    client = client_for(world.users.tianhe_reviewer)
    page = html(client.get(reverse("orgs:unit_list"), {"division": "440104"}))
    assert "越秀区测试局" not in page
    rows = data_rows(
        sheet_rows(client.get(reverse("orgs:unit_list"), {"division": "440104", "export": "xlsx"}))
    )
    assert all("越秀" not in str(cell) for r in rows for cell in r)
    assert ">越秀区<" not in page  # not even offered in the division drop-down


def test_unit_list_sorts(world):
    client = client_for(world.users.tianhe_reviewer)
    names = data_rows(sheet_rows(client.get(reverse("orgs:unit_list"), {"sort": "-uscc", "export": "xlsx"})))
    codes = [r[0] for r in names]
    assert codes == sorted(codes, reverse=True)


def test_parent_in_another_jurisdiction_is_never_named(world):
    """A city reviewer puts a 天河区 unit under a 越秀区 one: 天河区 users must not see that name."""
    unit = services.unit_set_up(
        actor=world.users.city_reviewer,
        uscc=next_uscc("440106"),
        name="天河区跨区挂靠单位",
        category=UnitCategory.OTHER,
        funding_form="full",
        jurisdiction="440106",
        set_up_on=ON,
        parent=world.yuexiu_unit.uscc,
    )
    client = client_for(world.users.tianhe_reviewer)
    for response in (
        client.get(reverse("orgs:unit_list")),
        client.get(reverse("orgs:unit_detail", args=[unit.pk])),
        client.get(reverse("orgs:unit_tree"), {"as_of": "2024-06-01"}),
    ):
        page = html(response)
        assert "天河区跨区挂靠单位" in page
        assert "越秀区测试局" not in page
    for url in (reverse("orgs:unit_list"), reverse("orgs:unit_tree")):
        rows = sheet_rows(client.get(url, {"export": "xlsx", "as_of": "2024-06-01"}))
        assert "越秀区测试局" not in repr(rows)


# ---------------------------------------------------------------------------------- unit tree


def test_unit_tree_as_of_a_date_nests_by_parent_and_exports(world):
    actor = world.users.tianhe_reviewer
    services.unit_rename(
        actor=actor, unit_id=world.tianhe_unit.pk, name="天河区更名局", on=dt.date(2022, 6, 1)
    )
    client = client_for(actor)
    url = reverse("orgs:unit_tree")

    old = html(client.get(url, {"as_of": "2021-01-01"}))
    assert "天河区测试局" in old and "天河区更名局" not in old
    assert "越秀区测试局" not in old
    assert_csp_friendly(old)
    new = html(client.get(url, {"as_of": "2023-01-01"}))
    assert "天河区更名局" in new and ">天河区测试局<" not in new
    assert html(client.get(url, {"as_of": "2009-01-01"})).count("data-href=") == 0

    rows = data_rows(sheet_rows(client.get(url, {"as_of": "2023-01-01", "export": "xlsx"})))
    assert [(r[0], r[2].strip("\u3000└ ")) for r in rows] == [
        (1, "天河区更名局"),
        (2, "天河区测试局下属中心"),
    ]
    assert rows[1][3] == "天河区更名局"  # the parent column


# ---------------------------------------------------------------------------------- unit record


def test_unit_detail_has_header_tabs_history_children_and_audit(quotas):
    world = quotas
    actor = world.users.tianhe_reviewer
    services.unit_rename(
        actor=actor, unit_id=world.tianhe_unit.pk, name="天河区更名局", on=dt.date(2024, 6, 1)
    )
    response = client_for(actor).get(reverse("orgs:unit_detail", args=[world.tianhe_unit.pk]))
    page = html(response)
    assert "天河区更名局" in page and world.tianhe_unit.uscc in page
    assert 'data-testid="status"' in page
    for pane in ("pane-details", "pane-establishment", "pane-history", "pane-children", "pane-audit"):
        assert f'id="{pane}"' in page
    assert 'data-bs-toggle="tab"' in page
    history = page.split('data-testid="history-table"')[1].split("</table>")[0]
    assert "天河区测试局" in history and "天河区更名局" in history and "2024-06-01" in history
    children = page.split('data-testid="children-table"')[1].split("</table>")[0]
    assert "天河区测试局下属中心" in children
    quota_table = page.split('data-testid="quota-table"')[1].split("</table>")[0]
    assert 'class="table-danger"' in quota_table  # 12 of 10: over-establishment
    audit = page.split('data-testid="audit-table"')[1].split("</table>")[0]
    assert 'data-action="unit.rename"' in audit and 'data-action="establishment.set"' in audit
    assert_csp_friendly(page)


def test_unit_detail_audit_tab_is_limited_to_the_actor_scope(world):
    """Events written with a scope_path above the user's jurisdiction are not shown."""
    from django.db import transaction

    from bianzhi.common import audit

    with transaction.atomic():
        audit.record(
            world.users.province_admin,
            audit.Entry(
                action="unit.note",
                scope_path="440000/",
                object_type="orgs.unit",
                object_id=str(world.tianhe_unit.pk),
                object_repr="越秀区测试局",
            ),
        )
    page = html(
        client_for(world.users.tianhe_reviewer).get(reverse("orgs:unit_detail", args=[world.tianhe_unit.pk]))
    )
    assert "越秀区测试局" not in page
    page = html(
        client_for(world.users.province_admin).get(reverse("orgs:unit_detail", args=[world.tianhe_unit.pk]))
    )
    assert 'data-action="unit.note"' in page


def test_unit_operator_has_no_audit_tab_and_no_action_buttons(world):
    page = html(
        client_for(world.users.tianhe_operator).get(reverse("orgs:unit_detail", args=[world.tianhe_unit.pk]))
    )
    assert 'id="pane-audit"' not in page
    assert 'data-testid="unit-actions"' not in page


@pytest.mark.parametrize(
    "name", ["unit_detail", "unit_rename", "unit_merge", "unit_abolish", "unit_establishment"]
)
def test_out_of_scope_unit_pages_are_404(world, name):
    response = client_for(world.users.tianhe_reviewer).get(
        reverse(f"orgs:{name}", args=[world.yuexiu_unit.pk])
    )
    assert response.status_code == 404
    assert "越秀区测试局" not in response.content.decode("utf-8")


def test_unit_operator_cannot_open_a_sibling_unit(world):
    client = client_for(world.users.tianhe_operator)
    assert client.get(reverse("orgs:unit_detail", args=[world.tianhe_child.pk])).status_code == 404
    assert client.get(reverse("orgs:unit_detail", args=[world.tianhe_unit.pk])).status_code == 200


def test_missing_unit_is_404(world):
    assert (
        client_for(world.users.province_admin).get(reverse("orgs:unit_detail", args=[999999])).status_code
        == 404
    )


# ---------------------------------------------------------------------------------- unit forms


def test_set_up_rename_abolish_through_the_forms_write_audit_rows(world):
    client = client_for(world.users.tianhe_reviewer)
    uscc = next_uscc("440106")
    page = html(client.get(reverse("orgs:unit_new")))
    assert 'type="date"' in page
    assert_csp_friendly(page)

    response = client.post(
        reverse("orgs:unit_new"),
        {
            "uscc": uscc,
            "name": "天河区新设中心",
            "category": UnitCategory.PUBLIC_INSTITUTION,
            "funding_form": "full",
            "jurisdiction": "440106",
            "parent": world.tianhe_unit.uscc,
            "set_up_on": "2024-03-01",
            "document_ref": "穗天编〔2024〕1号",
        },
    )
    unit = Unit.objects.get(uscc=uscc)
    assert response.status_code == 302 and response["Location"] == reverse("orgs:unit_detail", args=[unit.pk])
    assert unit.parent_id == world.tianhe_unit.pk and unit.set_up_on == dt.date(2024, 3, 1)
    assert list(audit_rows().values_list("action", flat=True)) == ["unit.set_up"]
    assert "天河区新设中心" in html(client.get(response["Location"]))  # the success message and the header

    response = client.post(
        reverse("orgs:unit_rename", args=[unit.pk]),
        {"name": "天河区改名中心", "on": "2024-09-01", "document_ref": ""},
    )
    assert response.status_code == 302
    unit.refresh_from_db()
    assert unit.name == "天河区改名中心"
    assert UnitVersion.objects.filter(unit=unit).count() == 2
    assert audit_rows().filter(action="unit.rename", object_id=str(unit.pk)).count() == 1

    response = client.post(reverse("orgs:unit_abolish", args=[unit.pk]), {"on": "2025-01-01"})
    assert response.status_code == 302
    unit.refresh_from_db()
    assert unit.status == UnitStatus.ABOLISHED and unit.ended_on == dt.date(2025, 1, 1)
    assert audit_rows().filter(action="unit.abolish", object_id=str(unit.pk)).count() == 1

    # An abolished unit offers no forms any more.
    response = client.get(reverse("orgs:unit_rename", args=[unit.pk]))
    assert response.status_code == 302


def test_bad_uscc_shows_the_error_message_keeps_the_input_and_writes_nothing(world):
    client = client_for(world.users.tianhe_reviewer)
    good = next_uscc("440106")
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    units, events = Unit.objects.count(), audit_rows().count()
    response = client.post(
        reverse("orgs:unit_new"),
        {
            "uscc": bad,
            "name": "天河区坏码中心",
            "category": UnitCategory.OTHER,
            "funding_form": "self",
            "jurisdiction": "440106",
            "set_up_on": "2024-03-01",
        },
    )
    assert response.status_code == 200
    page = html(response)
    assert escape(message_for("uscc_checksum")) in page
    assert 'data-testid="form-errors"' in page and "is-invalid" in page
    assert f'value="{bad}"' in page and 'value="天河区坏码中心"' in page and 'value="2024-03-01"' in page
    assert Unit.objects.count() == units and audit_rows().count() == events


def test_every_violation_is_shown_next_to_its_field(world):
    client = client_for(world.users.tianhe_reviewer)
    response = client.post(
        reverse("orgs:unit_new"),
        {
            "uscc": "123",
            "name": "天河区测试局",
            "category": UnitCategory.OTHER,
            "funding_form": "self",
            "jurisdiction": "440106",
            "set_up_on": "2024-03-01",
            "parent": next_uscc("440106"),
        },
    )
    page = html(response)
    assert escape(message_for("uscc_length")) in page
    assert escape(message_for("parent_not_found")) in page


def test_rename_to_a_taken_name_and_a_date_before_the_current_state(world):
    client = client_for(world.users.tianhe_reviewer)
    response = client.post(
        reverse("orgs:unit_rename", args=[world.tianhe_unit.pk]),
        {"name": "天河区测试局下属中心", "on": "2024-01-01"},
    )
    assert response.status_code == 200
    assert escape(message_for("unit_name_taken")) in html(response)
    response = client.post(
        reverse("orgs:unit_rename", args=[world.tianhe_unit.pk]), {"name": "天河区新名", "on": "2001-01-01"}
    )
    assert response.status_code == 200
    assert escape(message_for("date_not_after_previous", previous="2010-01-01")) in html(response)
    assert not audit_rows().exists()


def test_merge_form_merges_units_of_the_scope(world):
    actor = world.users.tianhe_reviewer
    other = make_unit("440106", "天河区待合并办")
    client = client_for(actor)
    page = html(client.get(reverse("orgs:unit_merge", args=[world.tianhe_unit.pk])))
    assert "天河区待合并办" in page and "越秀区测试局" not in page
    response = client.post(
        reverse("orgs:unit_merge", args=[world.tianhe_unit.pk]), {"sources": [other.pk], "on": "2024-05-01"}
    )
    assert response.status_code == 302
    other.refresh_from_db()
    assert other.status == UnitStatus.MERGED and other.merged_into_id == world.tianhe_unit.pk
    assert audit_rows().filter(action="unit.merge", object_id=str(other.pk)).count() == 1


def test_merge_form_refuses_units_outside_the_scope(world):
    client = client_for(world.users.tianhe_reviewer)
    response = client.post(
        reverse("orgs:unit_merge", args=[world.tianhe_unit.pk]),
        {"sources": [world.yuexiu_unit.pk], "on": "2024-05-01"},
    )
    assert response.status_code == 200
    assert "越秀区测试局" not in html(response)
    world.yuexiu_unit.refresh_from_db()
    assert world.yuexiu_unit.status == UnitStatus.ACTIVE
    assert not audit_rows().exists()


def test_set_establishment_form(world):
    client = client_for(world.users.tianhe_reviewer)
    url = reverse("orgs:unit_establishment", args=[world.tianhe_unit.pk])
    response = client.post(
        url, {"kind": EstablishmentKind.ADMINISTRATIVE, "approved": "20", "actual": "18", "on": "2024-02-01"}
    )
    assert response.status_code == 302
    quota = EstablishmentQuota.objects.get(unit=world.tianhe_unit, valid_to__isnull=True)
    assert (quota.approved, quota.actual, quota.valid_from) == (20, 18, dt.date(2024, 2, 1))
    assert audit_rows().filter(action="establishment.set").count() == 1
    page = html(client.get(url, {"kind": EstablishmentKind.ADMINISTRATIVE}))
    assert 'value="20"' in page and 'value="18"' in page

    response = client.post(
        url, {"kind": EstablishmentKind.ADMINISTRATIVE, "approved": "-1", "actual": "x", "on": "2024-03-01"}
    )
    assert response.status_code == 200
    assert EstablishmentQuota.objects.filter(unit=world.tianhe_unit).count() == 1


@pytest.mark.parametrize(
    "name,data",
    [
        ("unit_rename", {"name": "x", "on": "2024-01-01"}),
        ("unit_abolish", {"on": "2024-01-01"}),
        ("unit_merge", {"on": "2024-01-01"}),
        (
            "unit_establishment",
            {"kind": "administrative", "approved": "1", "actual": "1", "on": "2024-01-01"},
        ),
    ],
)
def test_supervisor_gets_403_on_the_unit_forms(world, name, data):
    client = client_for(world.users.tianhe_supervisor)
    url = reverse(f"orgs:{name}", args=[world.tianhe_unit.pk])
    if name == "unit_merge":
        data = {**data, "sources": [world.tianhe_child.pk]}
    assert client.get(url).status_code == 403
    assert client.post(url, data).status_code == 403
    assert not audit_rows().exists()
    world.tianhe_unit.refresh_from_db()
    assert world.tianhe_unit.name == "天河区测试局" and world.tianhe_unit.status == UnitStatus.ACTIVE


def test_supervisor_gets_403_on_set_up_and_sees_no_buttons(world):
    client = client_for(world.users.tianhe_supervisor)
    units = Unit.objects.count()
    response = client.post(
        reverse("orgs:unit_new"),
        {
            "uscc": next_uscc("440106"),
            "name": "监督新设",
            "category": "other",
            "funding_form": "self",
            "jurisdiction": "440106",
            "set_up_on": "2024-03-01",
        },
    )
    assert response.status_code == 403
    assert Unit.objects.count() == units
    assert client.get(reverse("orgs:unit_import")).status_code == 403
    page = html(client.get(reverse("orgs:unit_detail", args=[world.tianhe_unit.pk])))
    assert 'data-testid="unit-actions"' not in page
    assert reverse("orgs:unit_new") not in html(client.get(reverse("orgs:unit_list")))


def test_forms_need_a_login(world):
    response = Client().get(reverse("orgs:unit_new"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# ---------------------------------------------------------------------------------- establishment


def test_establishment_list_flags_over_establishment_and_totals(quotas):
    world = quotas
    client = client_for(world.users.tianhe_reviewer)
    url = reverse("orgs:establishment_list")
    page = html(client.get(url))
    assert "越秀区测试局" not in page and "12,000" not in page
    assert page.count('data-over="1"') == 1
    over_row = page.split('data-over="1"')[1].split("</tr>")[0]
    assert "天河区测试局" in over_row and "下属中心" not in over_row
    assert 'data-testid="over-warning"' in page
    totals = page.split('data-testid="totals"')[1].split("</tr>")[0]
    assert re.findall(r'<td class="num">([\d,]+)</td>', totals) == ["15", "15", "2", "2"]
    assert_csp_friendly(page)

    over = html(client.get(url, {"problem": "over"}))
    assert "天河区测试局" in over and "天河区测试局下属中心" not in over
    vacant = html(client.get(url, {"problem": "vacant"}))
    assert "天河区测试局下属中心" in vacant and 'data-over="1"' not in vacant

    past = html(client.get(url, {"as_of": "2023-12-31"}))
    assert "天河区测试局" not in past


def test_establishment_export_holds_the_filtered_rows(quotas):
    world = quotas
    client = client_for(world.users.city_reviewer)
    url = reverse("orgs:establishment_list")
    rows = data_rows(sheet_rows(client.get(url, {"export": "xlsx"})))
    assert sorted(r[1] for r in rows) == sorted(["天河区测试局", "天河区测试局下属中心", "越秀区测试局"])
    yuexiu = next(r for r in rows if r[1] == "越秀区测试局")
    assert yuexiu[4:8] == [12000, 11000, 1000, 0]
    rows = data_rows(sheet_rows(client.get(url, {"problem": "over", "export": "xlsx"})))
    assert [(r[0], r[1], r[7]) for r in rows] == [(world.tianhe_unit.uscc, "天河区测试局", 2)]
    page = html(client.get(url, {"division": "440104"}))
    assert "越秀区测试局" in page and "天河区测试局" not in page

    tianhe = data_rows(sheet_rows(client_for(world.users.tianhe_reviewer).get(url, {"export": "xlsx"})))
    assert "越秀区测试局" not in repr(tianhe)


# ---------------------------------------------------------------------------------- people


@pytest.fixture
def person(world):
    number = make_resident_id("440106", dt.date(1990, 5, 17), 123)
    person = services.person_create(
        actor=world.users.tianhe_reviewer,
        id_number=number,
        name="张三",
        unit_id=world.tianhe_unit.pk,
        education="bachelor",
    )
    return person


def test_person_detail_list_and_export_show_the_masked_id_only(world, person):
    """Neither the number nor the full birth date (which would complete the masked number)."""
    client = client_for(world.users.tianhe_reviewer)
    detail = html(client.get(reverse("orgs:person_detail", args=[person.pk])))
    listing = html(client.get(reverse("orgs:person_list")))
    for page in (detail, listing):
        assert person.masked_id in page and "张三" in page
        assert clear_id(person) not in page
        assert "1990-05-17" not in page and "19900517" not in page and "1990年5月17日" not in page
        assert "1990" in page
        assert_csp_friendly(page)
    export = client.get(reverse("orgs:person_list"), {"export": "xlsx"})
    rows = data_rows(sheet_rows(export))
    assert [r[:4] for r in rows] == [["张三", person.masked_id, rows[0][2], 1990]]
    assert clear_id(person) not in repr(sheet_rows(export))
    assert "1990-05-17" not in repr(sheet_rows(export))


def test_person_list_filters_by_name_and_unit(world, person):
    client = client_for(world.users.tianhe_reviewer)
    url = reverse("orgs:person_list")
    assert "张三" in html(client.get(url, {"q": "张"}))
    assert "张三" not in html(client.get(url, {"q": "李"}))
    assert "张三" in html(client.get(url, {"unit": world.tianhe_unit.pk}))
    assert "张三" not in html(client.get(url, {"unit": world.tianhe_child.pk}))
    assert "张三" not in html(
        client_for(world.users.yuexiu_reviewer).get(url, {"unit": world.tianhe_unit.pk})
    )


def test_people_of_another_district_are_404_and_never_listed(world, person):
    client = client_for(world.users.yuexiu_reviewer)
    assert client.get(reverse("orgs:person_detail", args=[person.pk])).status_code == 404
    assert "张三" not in html(client.get(reverse("orgs:person_list")))


def test_person_new_form_registers_and_reports_a_bad_id(world):
    client = client_for(world.users.tianhe_reviewer)
    number = make_resident_id("440106", dt.date(1985, 2, 3), 44)
    response = client.post(
        reverse("orgs:person_new"),
        {"id_number": number, "name": "李四", "unit": world.tianhe_child.uscc, "education": ""},
    )
    person = Person.objects.get(name="李四")
    assert response.status_code == 302
    assert person.unit_id == world.tianhe_child.pk and person.birth_date == dt.date(1985, 2, 3)
    assert audit_rows().filter(action="person.create").count() == 1

    bad = number[:-1] + ("0" if number[-1] != "0" else "1")
    response = client.post(reverse("orgs:person_new"), {"id_number": bad, "name": "王五"})
    assert response.status_code == 200
    assert escape(message_for("id_checksum")) in html(response)
    response = client.post(
        reverse("orgs:person_new"),
        {
            "id_number": make_resident_id("440106", dt.date(1980, 1, 1), 5),
            "name": "赵六",
            "unit": world.yuexiu_unit.uscc,
        },
    )
    assert response.status_code == 200
    assert escape(message_for("unit_not_found")) in html(response)
    assert not Person.objects.filter(name__in=["王五", "赵六"]).exists()


def test_unit_operator_registers_people_of_its_own_unit_only(world):
    client = client_for(world.users.tianhe_operator)
    page = html(client.get(reverse("orgs:person_new")))
    assert 'name="unit"' not in page and 'name="jurisdiction"' not in page
    number = make_resident_id("440106", dt.date(1992, 7, 8), 17)
    response = client.post(reverse("orgs:person_new"), {"id_number": number, "name": "陈七"})
    assert response.status_code == 302
    assert Person.objects.get(name="陈七").unit_id == world.tianhe_unit.pk


def test_supervisor_cannot_register_people(world):
    client = client_for(world.users.tianhe_supervisor)
    number = make_resident_id("440106", dt.date(1985, 2, 3), 44)
    assert client.post(reverse("orgs:person_new"), {"id_number": number, "name": "李四"}).status_code == 403
    assert not Person.objects.exists()


# ---------------------------------------------------------------------------------- import


def template_workbook(rows: list[list]) -> bytes:
    from bianzhi.orgs.importing import TEMPLATE

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("单位")
    sheet.write_row(0, 0, [c.header for c in TEMPLATE.columns])
    for r, cells in enumerate(rows, start=1):
        for c, value in enumerate(cells):
            if isinstance(value, str):
                sheet.write_string(r, c, value)
            elif value is not None:
                sheet.write_number(r, c, value)
    book.close()
    return buffer.getvalue()


@pytest.fixture
def upload_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return tmp_path / "uploads" / "units-import"


def test_import_template_has_the_headers_and_the_code_lists_of_the_scope(world):
    from bianzhi.orgs.importing import TEMPLATE

    response = client_for(world.users.tianhe_reviewer).get(reverse("orgs:unit_import_template"))
    rows = sheet_rows(response)
    assert rows[0] == [c.header for c in TEMPLATE.columns]
    lists = sheet_rows(response, 1)
    codes = [r[0] for r in lists[1:] if r[0]]
    assert "440106" in codes and "440104" not in codes
    assert "党政机关" in [r[2] for r in lists] and "自收自支" in [r[3] for r in lists]
    assert b"dataValidation" in _sheet_xml(response.content)


def _sheet_xml(content: bytes) -> bytes:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return archive.read("xl/worksheets/sheet1.xml")


def test_import_dry_run_then_confirm(world, upload_dir):
    client = client_for(world.users.tianhe_reviewer)
    uscc = next_uscc("440106")
    data = template_workbook(
        [
            [
                uscc,
                "天河区导入中心",
                world.tianhe_unit.uscc,
                "440106",
                "事业单位",
                "财政全额拨款",
                None,
                12,
                None,
                9,
            ]
        ]
    )
    response = client.post(
        reverse("orgs:unit_import"),
        {"action": "upload", "file": SimpleUploadedFile("单位.xlsx", data, content_type=XLSX)},
    )
    page = html(response)
    assert response.status_code == 200
    assert 'data-testid="import-preview"' in page and "天河区导入中心" in page
    assert re.search(r'data-count="created">1<', page)
    assert not Unit.objects.filter(uscc=uscc).exists()
    assert not audit_rows().exists()
    stored = list(upload_dir.iterdir())
    assert len(stored) == 1 and stored[0].stat().st_mode & 0o077 == 0
    sha = re.search(r'name="sha256" value="([0-9a-f]{64})"', page).group(1)

    response = client.post(reverse("orgs:unit_import"), {"action": "confirm", "sha256": sha})
    assert response.status_code == 302 and response["Location"] == reverse("orgs:unit_import")
    unit = Unit.objects.get(uscc=uscc)
    assert unit.parent_id == world.tianhe_unit.pk
    assert EstablishmentQuota.objects.get(unit=unit).approved == 12
    assert audit_rows().filter(action="units.import").count() == 1
    assert not list(upload_dir.iterdir())  # the kept file is gone
    result = html(client.get(response["Location"]))
    assert re.search(r'data-count="created">1<', result)

    # Confirming again: the file is no longer kept, nothing happens.
    response = client.post(reverse("orgs:unit_import"), {"action": "confirm", "sha256": sha})
    assert response.status_code == 302
    assert audit_rows().filter(action="units.import").count() == 1


def test_import_report_lists_every_bad_row_and_exports_it(world, upload_dir):
    client = client_for(world.users.tianhe_reviewer)
    good = next_uscc("440106")
    data = template_workbook(
        [
            [
                good[:-1] + ("0" if good[-1] != "0" else "1"),
                "坏码单位",
                None,
                "440106",
                "党政机关",
                "财政全额拨款",
            ],
            [next_uscc("440104"), "越界单位", None, "440104", "党政机关", "财政全额拨款"],
            [next_uscc("440106"), "好单位", None, "440106", "政府", "财政全额拨款"],
        ]
    )
    response = client.post(
        reverse("orgs:unit_import"),
        {"action": "upload", "file": SimpleUploadedFile("units.xlsx", data, content_type=XLSX)},
    )
    assert response.status_code == 200
    page = html(response)
    errors = page.split('data-testid="import-errors"')[1].split("</table>")[0]
    assert errors.count("<tr>") == 1 + 3  # header row + one row per error
    for code in ("uscc_checksum", "division_not_found", "invalid_choice"):
        assert f"<code>{code}</code>" in errors
    assert 'data-testid="confirm-form"' not in page
    sha = re.search(r"sha256=([0-9a-f]{64})", page).group(1)
    report = data_rows(sheet_rows(client.get(reverse("orgs:unit_import_report"), {"sha256": sha})))
    assert [(r[0], r[3]) for r in report] == [
        (2, "uscc_checksum"),
        (3, "division_not_found"),
        (4, "invalid_choice"),
    ]
    assert report[1][1] == "行政区划代码" and report[1][2] == "440104"
    assert not Unit.objects.filter(name__in=["坏码单位", "越界单位", "好单位"]).exists()

    # A confirm of a file with errors writes nothing either.
    response = client.post(reverse("orgs:unit_import"), {"action": "confirm", "sha256": sha})
    assert response.status_code == 200
    assert not audit_rows().exists()


def test_import_accepts_csv(world, upload_dir):
    from bianzhi.orgs.importing import TEMPLATE

    uscc = next_uscc("440106")
    text = (
        ",".join(c.header for c in TEMPLATE.columns)
        + "\n"
        + f"{uscc},天河区CSV中心,,440106,其他,自收自支,,,,\n"
    )
    client = client_for(world.users.tianhe_reviewer)
    page = html(
        client.post(
            reverse("orgs:unit_import"),
            {"action": "upload", "file": SimpleUploadedFile("units.csv", text.encode("utf-8-sig"))},
        )
    )
    sha = re.search(r'name="sha256" value="([0-9a-f]{64})"', page).group(1)
    assert client.post(reverse("orgs:unit_import"), {"action": "confirm", "sha256": sha}).status_code == 302
    assert Unit.objects.get(uscc=uscc).name == "天河区CSV中心"


def test_import_confirm_needs_the_session_that_uploaded_the_file(world, upload_dir):
    uploader = client_for(world.users.tianhe_reviewer)
    data = template_workbook([[next_uscc("440106"), "天河区导入二", None, "440106", "其他", "自收自支"]])
    page = html(
        uploader.post(
            reverse("orgs:unit_import"),
            {"action": "upload", "file": SimpleUploadedFile("u.xlsx", data, content_type=XLSX)},
        )
    )
    sha = re.search(r'name="sha256" value="([0-9a-f]{64})"', page).group(1)
    other = client_for(world.users.tianhe_admin)
    response = other.post(reverse("orgs:unit_import"), {"action": "confirm", "sha256": sha})
    assert response.status_code == 302
    assert not Unit.objects.filter(name="天河区导入二").exists()
    assert other.get(reverse("orgs:unit_import_report"), {"sha256": sha}).status_code == 302


def test_import_refuses_other_file_types_and_roles(world, upload_dir):
    client = client_for(world.users.tianhe_reviewer)
    response = client.post(
        reverse("orgs:unit_import"),
        {
            "action": "upload",
            "file": SimpleUploadedFile("units.exe", b"MZ", content_type="application/octet-stream"),
        },
    )
    assert response.status_code == 200 and 'data-testid="form-errors"' in html(response)
    assert client_for(world.users.tianhe_operator).get(reverse("orgs:unit_import")).status_code == 403
    assert (
        client_for(world.users.tianhe_supervisor).get(reverse("orgs:unit_import_template")).status_code == 403
    )


# ---------------------------------------------------------------------------------- every page


@pytest.mark.parametrize(
    "name",
    ["unit_list", "unit_tree", "establishment_list", "person_list", "unit_new", "person_new", "unit_import"],
)
def test_pages_render_without_inline_script_or_style(world, name):
    page = html(client_for(world.users.tianhe_reviewer).get(reverse(f"orgs:{name}")))
    assert_csp_friendly(page)
    assert "越秀区测试局" not in page
