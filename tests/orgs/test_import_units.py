"""The units import (requirement "Unit import"): every error code with its row and column,
nothing written on any error, idempotent re-import, history, audit, dry run, CSV, the
`bianzhi import` command, and 50,000 rows."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.utils import timezone
from stdnum.cn import uscc as stdnum_uscc

from bianzhi.common.audit import verify_chain
from bianzhi.common.codes import make_uscc, org_code_check_char
from bianzhi.common.models import AuditEvent
from bianzhi.common.tabular import (
    CellError,
    Column,
    Template,
    as_code,
    as_date,
    as_non_negative_int,
    as_text,
    read_table,
)
from bianzhi.orgs import selectors
from bianzhi.orgs.choices import EstablishmentKind, FundingForm, UnitCategory, UnitChange
from bianzhi.orgs.importing import import_units, principal_kind
from bianzhi.orgs.models import EstablishmentQuota, Unit, UnitVersion

from ..factories import next_uscc

HEADERS = [
    "统一社会信用代码",
    "单位名称",
    "上级单位代码",
    "行政区划代码",
    "单位类别",
    "经费形式",
    "行政编制数",
    "事业编制数",
    "政法专项编制数",
    "实有在编人数",
]
ALL_NUMERIC_USCC = "124401061000000084"  # valid, org-code check included, digits only
ADM, PUB, POL = (
    EstablishmentKind.ADMINISTRATIVE,
    EstablishmentKind.PUBLIC_INSTITUTION,
    EstablishmentKind.POLITICAL_LEGAL,
)


def row(
    code: Any,
    name: str,
    division: Any = "440106",
    category: str = "党政机关",
    funding: str = "财政全额拨款",
    parent: Any = None,
    adm: Any = None,
    pub: Any = None,
    pol: Any = None,
    actual: Any = None,
) -> list[Any]:
    return [code, name, parent, division, category, funding, adm, pub, pol, actual]


def xlsx(
    tmp_path: Path, rows: list[list[Any]], headers: list[str] = HEADERS, name: str = "units.xlsx"
) -> bytes:
    """A workbook written by XlsxWriter: str cells as text, int/float cells as numbers."""
    path = tmp_path / name
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = workbook.add_worksheet("单位")
    sheet.write_row(0, 0, headers)
    for r, cells in enumerate(rows, start=1):
        for c, value in enumerate(cells):
            if value is None:
                continue
            if isinstance(value, (int, float)):
                sheet.write_number(r, c, value)
            else:
                sheet.write_string(r, c, str(value))
    workbook.close()
    return path.read_bytes()


def csv_text(rows: list[list[Any]], headers: list[str] = HEADERS) -> str:
    lines = [",".join(headers)]
    lines += [",".join("" if v is None else str(v) for v in cells) for cells in rows]
    return "\r\n".join(lines) + "\r\n"


def db_counts() -> tuple[int, int, int, int]:
    return (
        Unit.objects.count(),
        UnitVersion.objects.count(),
        EstablishmentQuota.objects.count(),
        AuditEvent.objects.count(),
    )


def only_error(result: Any) -> tuple[str, int | None, str | None]:
    assert len(result.errors) == 1, [e.as_dict() for e in result.errors]
    error = result.errors[0]
    return error.code, error.row, error.field


def rejected(
    world: Any,
    tmp_path: Path,
    rows: list[list[Any]],
    *,
    actor: Any = None,
    headers: list[str] = HEADERS,
    data: bytes | None = None,
    filename: str = "units.xlsx",
) -> Any:
    """Import as the 天河区 reviewer (by default) and check that nothing at all was written."""
    before = db_counts()
    payload = data if data is not None else xlsx(tmp_path, rows, headers)
    result = import_units(actor=actor or world.users.tianhe_reviewer, data=payload, filename=filename)
    assert not result.ok
    assert not result.committed
    assert db_counts() == before
    return result


def uscc_with_bad_org_check(division: str = "440106") -> str:
    """Final check character right, embedded organisation-code check character wrong."""
    good = make_uscc("12", division, "Q1234567")
    wrong_org = next(c for c in "0123456789X" if c != org_code_check_char(good[8:16]))
    partial = good[:16] + wrong_org
    return partial + stdnum_uscc.calc_check_digit(partial)


# --------------------------------------------------------------------------- cell errors


def test_wrong_check_character(world, tmp_path):
    code = next_uscc()
    bad = code[:-1] + ("0" if code[-1] != "0" else "1")
    result = rejected(world, tmp_path, [row(bad, "天河区甲中心")])
    assert only_error(result) == ("uscc_checksum", 2, "统一社会信用代码")
    assert result.errors[0].value == bad


def test_wrong_length(world, tmp_path):
    result = rejected(world, tmp_path, [row(next_uscc()[:17], "天河区甲中心")])
    assert only_error(result) == ("uscc_length", 2, "统一社会信用代码")


def test_wrong_embedded_organisation_code_check(world, tmp_path):
    code = uscc_with_bad_org_check()
    assert stdnum_uscc.is_valid(code)  # the final check character is right
    result = rejected(world, tmp_path, [row(code, "天河区甲中心")])
    assert only_error(result) == ("uscc_org_checksum", 2, "统一社会信用代码")


def test_uscc_stored_as_number(world, tmp_path):
    result = rejected(world, tmp_path, [row(int(ALL_NUMERIC_USCC), "天河区甲中心")])
    assert only_error(result) == ("numeric_code_cell", 2, "统一社会信用代码")
    assert isinstance(result.errors[0].value, float)


def test_all_numeric_uscc_as_text_is_accepted(world, tmp_path):
    result = import_units(
        actor=world.users.tianhe_reviewer,
        data=xlsx(tmp_path, [row(ALL_NUMERIC_USCC, "天河区数字中心")]),
        filename="u.xlsx",
    )
    assert result.ok and result.created == 1


def test_unknown_division(world, tmp_path):
    result = rejected(world, tmp_path, [row(next_uscc(), "天河区甲中心", division="449999")])
    assert only_error(result) == ("division_not_found", 2, "行政区划代码")


def test_out_of_scope_division_is_the_same_error_as_unknown(world, tmp_path):
    unknown = rejected(world, tmp_path, [row(next_uscc(), "甲中心", division="449999")])
    outside = rejected(world, tmp_path, [row(next_uscc("440104"), "越秀区甲中心", division="440104")])
    assert only_error(outside) == ("division_not_found", 2, "行政区划代码")
    assert outside.errors[0].message == unknown.errors[0].message


def test_parent_missing(world, tmp_path):
    result = rejected(world, tmp_path, [row(next_uscc(), "天河区甲中心", parent=next_uscc())])
    assert only_error(result) == ("parent_not_found", 2, "上级单位代码")


def test_parent_out_of_scope(world, tmp_path):
    result = rejected(world, tmp_path, [row(next_uscc(), "天河区甲中心", parent=world.yuexiu_unit.uscc)])
    assert only_error(result) == ("parent_not_found", 2, "上级单位代码")


def test_parent_cycle_in_the_file(world, tmp_path):
    a, b = next_uscc(), next_uscc()
    result = rejected(
        world, tmp_path, [row(a, "甲", parent=b), row(b, "乙", parent=a), row(next_uscc(), "丙")]
    )
    assert [(e.code, e.row, e.field) for e in result.errors] == [
        ("parent_cycle", 2, "上级单位代码"),
        ("parent_cycle", 3, "上级单位代码"),
    ]


def test_parent_cycle_through_registered_units(world, tmp_path):
    # 测试局 ← 下属中心 in the database; the file makes 测试局 a child of 下属中心.
    unit, child = world.tianhe_unit, world.tianhe_child
    result = rejected(world, tmp_path, [row(unit.uscc, unit.name, parent=child.uscc)])
    assert only_error(result) == ("parent_cycle", 2, "上级单位代码")


def test_duplicate_name_within_file(world, tmp_path):
    result = rejected(
        world, tmp_path, [row(next_uscc(), "天河区同名中心"), row(next_uscc(), "天河区同名中心")]
    )
    assert only_error(result) == ("unit_name_duplicate_in_file", 3, "单位名称")
    assert "2" in result.errors[0].message


def test_same_name_in_two_jurisdictions_is_fine(world, tmp_path):
    result = import_units(
        actor=world.users.city_reviewer,
        data=xlsx(
            tmp_path,
            [
                row(next_uscc(), "同名中心", division="440106"),
                row(next_uscc("440104"), "同名中心", division="440104"),
            ],
        ),
        filename="u.xlsx",
    )
    assert result.ok, result.errors


def test_duplicate_name_against_database(world, tmp_path):
    result = rejected(world, tmp_path, [row(next_uscc(), world.tianhe_unit.name)])
    assert only_error(result) == ("unit_name_taken", 2, "单位名称")


def test_duplicate_code_within_file(world, tmp_path):
    code = next_uscc()
    result = rejected(world, tmp_path, [row(code, "甲"), row(code, "乙")])
    assert only_error(result) == ("duplicate_key", 3, "统一社会信用代码")


def test_code_of_a_unit_outside_the_jurisdiction(world, tmp_path):
    result = rejected(world, tmp_path, [row(world.yuexiu_unit.uscc, "改名")])
    assert only_error(result) == ("unit_code_taken", 2, "统一社会信用代码")


def test_registered_unit_cannot_change_division(world, tmp_path):
    unit = world.tianhe_unit
    result = rejected(
        world, tmp_path, [row(unit.uscc, unit.name, division="440104")], actor=world.users.city_reviewer
    )
    assert only_error(result) == ("unit_division_fixed", 2, "行政区划代码")


def test_negative_quota(world, tmp_path):
    result = rejected(world, tmp_path, [row(next_uscc(), "天河区甲中心", adm=-1)])
    assert only_error(result) == ("invalid_integer", 2, "行政编制数")


def test_fractional_quota_refused_and_whole_float_accepted(world, tmp_path):
    result = rejected(world, tmp_path, [row(next_uscc(), "天河区甲中心", pub=1.5)])
    assert only_error(result) == ("invalid_integer", 2, "事业编制数")
    code = next_uscc()
    ok = import_units(
        actor=world.users.tianhe_reviewer,
        filename="u.xlsx",
        data=xlsx(tmp_path, [row(code, "天河区乙中心", category="事业单位", pub=3.0, actual="2")]),
    )
    assert ok.ok, ok.errors
    quota = EstablishmentQuota.objects.get(unit__uscc=code)
    assert (quota.kind, quota.approved, quota.actual) == (PUB, 3, 2)


def test_bad_choices_and_required_cells(world, tmp_path):
    result = rejected(world, tmp_path, [row(next_uscc(), "", category="行政机关", funding="全额")])
    assert [(e.code, e.field) for e in result.errors] == [
        ("required", "单位名称"),
        ("invalid_choice", "单位类别"),
        ("invalid_choice", "经费形式"),
    ]
    assert "党政机关" in result.errors[1].message


def test_several_bad_rows_all_reported(world, tmp_path):
    good = next_uscc()
    rows = [
        row(good, "天河区好中心"),
        row(next_uscc()[:-1] + "?", "天河区坏一", adm="abc"),
        row(next_uscc(), "天河区坏二", division="440104"),
        row(next_uscc(), "天河区坏三", parent=next_uscc()),
        row(good, "天河区坏四"),
        row(next_uscc(), world.tianhe_unit.name, pol=-3),
    ]
    result = rejected(world, tmp_path, rows)
    assert [(e.row, e.field, e.code) for e in result.errors] == [
        (3, "统一社会信用代码", "uscc_format"),
        (3, "行政编制数", "invalid_integer"),
        (4, "行政区划代码", "division_not_found"),
        (5, "上级单位代码", "parent_not_found"),
        (6, "统一社会信用代码", "duplicate_key"),
        (7, "单位名称", "unit_name_taken"),
        (7, "政法专项编制数", "invalid_integer"),
    ]


# --------------------------------------------------------------------------- file errors


def test_unknown_column(world, tmp_path):
    result = rejected(world, tmp_path, [[*row(next_uscc(), "甲"), "x"]], headers=[*HEADERS, "备注"])
    assert only_error(result) == ("unknown_column", 1, "备注")


def test_missing_required_column(world, tmp_path):
    headers = [h for h in HEADERS if h != "单位类别"]
    cells = row(next_uscc(), "甲")
    del cells[HEADERS.index("单位类别")]
    result = rejected(world, tmp_path, [cells], headers=headers)
    assert only_error(result) == ("missing_column", 1, "单位类别")


def test_duplicate_column(world, tmp_path):
    result = rejected(world, tmp_path, [[*row(next_uscc(), "甲"), "甲"]], headers=[*HEADERS, "单位名称"])
    assert only_error(result) == ("duplicate_column", 1, "单位名称")


def test_optional_columns_may_be_absent(world, tmp_path):
    headers = HEADERS[:2] + HEADERS[3:6]
    result = import_units(
        actor=world.users.tianhe_reviewer,
        filename="u.xlsx",
        data=xlsx(tmp_path, [[next_uscc(), "天河区精简中心", "440106", "其他", "自收自支"]], headers),
    )
    assert result.ok and result.created == 1


def test_header_only_sheet(world, tmp_path):
    result = rejected(world, tmp_path, [])
    assert only_error(result) == ("file_empty", None, None)


@pytest.mark.parametrize("filename", ["units.xlsx", "units.csv"])
def test_totally_empty_file(world, tmp_path, filename):
    result = rejected(world, tmp_path, [], data=b"", filename=filename)
    assert only_error(result) == ("file_empty", None, None)


def test_empty_workbook(world, tmp_path):
    path = tmp_path / "empty.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    workbook.add_worksheet()
    workbook.close()
    result = rejected(world, tmp_path, [], data=path.read_bytes())
    assert only_error(result) == ("file_empty", None, None)


def test_not_a_workbook(world, tmp_path):
    result = rejected(world, tmp_path, [], data=random.Random(7).randbytes(4096))
    assert only_error(result) == ("file_unreadable", None, None)
    assert result.unreadable


def test_truncated_workbook(world, tmp_path):
    data = xlsx(tmp_path, [row(next_uscc(), f"天河区中心{i}") for i in range(50)])
    result = rejected(world, tmp_path, [], data=data[: len(data) // 2])
    assert only_error(result) == ("file_unreadable", None, None)


def test_csv_not_utf8(world, tmp_path):
    data = csv_text([row(next_uscc(), "天河区甲中心")]).encode("gbk")
    result = rejected(world, tmp_path, [], data=data, filename="units.csv")
    assert only_error(result) == ("file_unreadable", None, None)


def test_permission(world, tmp_path):
    with pytest.raises(PermissionDenied):
        import_units(
            actor=world.users.tianhe_supervisor,
            data=xlsx(tmp_path, [row(next_uscc(), "甲")]),
            filename="u.xlsx",
        )


# --------------------------------------------------------------------------- happy paths


def test_create_reimport_update_with_history(world, tmp_path):
    actor = world.users.tianhe_reviewer
    today = timezone.localdate()
    yesterday = today - dt.timedelta(days=1)
    parent, child, other = next_uscc(), next_uscc(), next_uscc()
    rows = [
        # the child comes first: its parent is created later in the same file
        row(
            child,
            "天河区导入下属中心",
            category="事业单位",
            funding="财政差额拨款",
            parent=parent,
            pub=10,
            actual=8,
        ),
        row(parent, "天河区导入局", adm=20, pol=5, actual=22),
        row(
            other,
            "天河区导入中心",
            category="群团组织",
            parent=world.tianhe_unit.uscc,
            adm=0,
            pub=4,
            actual=3,
        ),
        row(world.tianhe_child.uscc, world.tianhe_child.name, parent=world.tianhe_unit.uscc),
    ]
    data = xlsx(tmp_path, rows)
    base = db_counts()

    first = import_units(actor=actor, data=data, filename="units.xlsx", today=yesterday)
    assert first.ok, [e.as_dict() for e in first.errors]
    assert (first.rows, first.created, first.updated, first.unchanged) == (4, 3, 0, 1)
    assert [c.action for c in first.preview] == ["create", "create", "create"]
    assert db_counts() == (base[0] + 3, base[1] + 3, base[2] + 5, base[3] + 4)
    created = Unit.objects.get(uscc=child)
    assert created.parent.uscc == parent and created.set_up_on == yesterday
    assert created.category == UnitCategory.PUBLIC_INSTITUTION and created.funding_form == FundingForm.PARTIAL
    version = created.versions.get()
    assert (version.change, version.valid_from, version.valid_to, version.parent_id) == (
        UnitChange.IMPORT,
        yesterday,
        None,
        created.parent_id,
    )
    quotas = {
        (q.unit.uscc, q.kind): (q.approved, q.actual)
        for q in EstablishmentQuota.objects.select_related("unit")
    }
    assert quotas[(parent, ADM)] == (20, 22) and quotas[(parent, POL)] == (5, 0)
    assert quotas[(child, PUB)] == (10, 8)
    # 群团组织 → administrative, but it has none and exactly one other kind: 事业编制 carries them.
    assert quotas[(other, ADM)] == (0, 0) and quotas[(other, PUB)] == (4, 3)
    events = list(AuditEvent.objects.filter(seq__gt=base[3]).order_by("seq"))
    assert [e.action for e in events] == ["units.import"] + ["unit.import_create"] * 3
    assert events[0].after["sha256"] == first.sha256 and events[0].after["created"] == 3
    assert events[0].after["file"] == "units.xlsx"

    # The same file again: nothing changes but the record of the attempt.
    again = import_units(actor=actor, data=data, filename="units.xlsx")
    assert again.ok and (again.created, again.updated, again.unchanged) == (0, 0, 4)
    assert again.preview == []
    assert db_counts() == (base[0] + 3, base[1] + 3, base[2] + 5, base[3] + 5)
    assert AuditEvent.objects.order_by("-seq").first().action == "units.import"

    # A modified file: a new name and a new approved number, from today.
    rows[1] = row(parent, "天河区导入改名局", adm=25, pol=5, actual=22)
    changed = import_units(actor=actor, data=xlsx(tmp_path, rows, name="v2.xlsx"), filename="v2.xlsx")
    assert changed.ok, changed.errors
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 3)
    assert changed.preview[0].fields == {
        "单位名称": ("天河区导入局", "天河区导入改名局"),
        "行政编制数": (20, 25),
    }
    names_then = {v.unit.uscc: v.name for v in selectors.unit_versions_as_of(actor=actor, as_of=yesterday)}
    names_now = {v.unit.uscc: v.name for v in selectors.unit_versions_as_of(actor=actor, as_of=today)}
    assert names_then[parent] == "天河区导入局" and names_now[parent] == "天河区导入改名局"
    assert Unit.objects.get(uscc=parent).name == "天河区导入改名局"
    adm_then = selectors.quotas_in_scope(actor=actor, as_of=yesterday).get(unit__uscc=parent, kind=ADM)
    adm_now = selectors.quotas_in_scope(actor=actor, as_of=today).get(unit__uscc=parent, kind=ADM)
    assert (adm_then.approved, adm_then.valid_to) == (20, today) and (adm_now.approved, adm_now.actual) == (
        25,
        22,
    )
    assert (
        EstablishmentQuota.objects.filter(unit__uscc=parent, kind=POL).count() == 1
    )  # unchanged kind untouched
    assert UnitVersion.objects.filter(unit__uscc=parent).count() == 2
    update_event = AuditEvent.objects.order_by("-seq").first()
    assert update_event.action == "unit.import_update"
    assert update_event.before["name"] == "天河区导入局" and update_event.after["name"] == "天河区导入改名局"
    assert update_event.after["quotas"][ADM] == {"approved": 25, "actual": 22}

    # The same day again: the version and quota opened today are corrected in place.
    rows[1] = row(parent, "天河区导入再改名局", adm=26, pol=5, actual=22)
    third = import_units(actor=actor, data=xlsx(tmp_path, rows, name="v3.xlsx"), filename="v3.xlsx")
    assert third.ok and third.updated == 1
    assert UnitVersion.objects.filter(unit__uscc=parent).count() == 2
    assert UnitVersion.objects.get(unit__uscc=parent, valid_to__isnull=True).name == "天河区导入再改名局"
    assert EstablishmentQuota.objects.filter(unit__uscc=parent, kind=ADM).count() == 2
    assert verify_chain().ok


def test_reparent_and_detach(world, tmp_path):
    actor = world.users.tianhe_reviewer
    child = world.tianhe_child
    new_parent = next_uscc()
    rows = [row(new_parent, "天河区新上级"), row(child.uscc, child.name, parent=new_parent)]
    result = import_units(
        actor=actor,
        data=xlsx(tmp_path, rows),
        filename="u.xlsx",
        today=timezone.localdate() + dt.timedelta(days=1),
    )
    assert result.ok, result.errors
    assert (result.created, result.updated) == (1, 1)
    child.refresh_from_db()
    assert child.parent.uscc == new_parent
    assert child.versions.filter(valid_to__isnull=True).get().parent_id == child.parent_id
    # An empty parent cell makes it a top-level unit.
    result = import_units(
        actor=actor,
        data=xlsx(tmp_path, [row(child.uscc, child.name)], name="b.xlsx"),
        filename="b.xlsx",
        today=timezone.localdate() + dt.timedelta(days=2),
    )
    assert result.ok and result.updated == 1
    child.refresh_from_db()
    assert child.parent_id is None


def test_names_can_swap_within_a_file(world, tmp_path):
    actor = world.users.tianhe_reviewer
    a, b = world.tianhe_unit, world.tianhe_child
    rows = [row(a.uscc, b.name, parent=None), row(b.uscc, a.name, parent=a.uscc, category="党政机关")]
    result = import_units(actor=actor, data=xlsx(tmp_path, rows), filename="swap.xlsx")
    assert result.ok, result.errors
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.name, b.name) == ("天河区测试局下属中心", "天河区测试局")
    assert verify_chain().ok


def test_dry_run_writes_nothing(world, tmp_path):
    before = db_counts()
    rows = [row(next_uscc(), "天河区预演中心", adm=3), row(world.tianhe_unit.uscc, "天河区测试局（改）")]
    result = import_units(
        actor=world.users.tianhe_reviewer, data=xlsx(tmp_path, rows), filename="u.xlsx", dry_run=True
    )
    assert result.ok and result.dry_run and not result.committed
    assert (result.created, result.updated) == (1, 1)
    assert [c.action for c in result.preview] == ["create", "update"]
    assert result.preview[1].fields == {"单位名称": ("天河区测试局", "天河区测试局（改）")}
    assert db_counts() == before


def test_dry_run_reports_errors_too(world, tmp_path):
    before = db_counts()
    result = import_units(
        actor=world.users.tianhe_reviewer,
        data=xlsx(tmp_path, [row("bad", "甲")]),
        filename="u.xlsx",
        dry_run=True,
    )
    assert only_error(result) == ("uscc_length", 2, "统一社会信用代码")
    assert db_counts() == before


@pytest.mark.parametrize("bom", [True, False])
def test_csv(world, tmp_path, bom):
    code = next_uscc()
    text = csv_text(
        [row(code, "天河区CSV中心", category="事业单位", funding="自收自支", pub="7", actual="5")]
    )
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")
    result = import_units(actor=world.users.tianhe_reviewer, data=data, filename="units.csv")
    assert result.ok, result.errors
    unit = Unit.objects.get(uscc=code)
    assert unit.name == "天河区CSV中心" and unit.funding_form == FundingForm.SELF
    assert EstablishmentQuota.objects.get(unit=unit).approved == 7


def test_columns_in_any_order_and_numeric_division_cells(world, tmp_path):
    order = [5, 3, 0, 9, 1, 4, 2, 8, 7, 6]
    code = next_uscc()
    cells = row(code, "天河区乱序中心", division=440106, category="其他", pub=2, actual=1)
    data = xlsx(tmp_path, [[cells[i] for i in order]], headers=[HEADERS[i] for i in order])
    result = import_units(actor=world.users.tianhe_reviewer, data=data, filename="u.xlsx")
    assert result.ok, result.errors
    unit = Unit.objects.get(uscc=code)
    assert unit.jurisdiction.code == "440106" and unit.category == UnitCategory.OTHER
    quota = EstablishmentQuota.objects.get(unit=unit)
    assert (quota.kind, quota.approved, quota.actual) == (PUB, 2, 1)


def test_csv_errors_have_row_numbers(world, tmp_path):
    text = csv_text([row(next_uscc(), "天河区甲"), row(next_uscc(), "天河区乙", adm="x")])
    result = rejected(world, tmp_path, [], data=text.encode("utf-8-sig"), filename="units.csv")
    assert only_error(result) == ("invalid_integer", 3, "行政编制数")


# --------------------------------------------------------------------------- rules and coercers


@pytest.mark.parametrize(
    ("category", "approved", "expected"),
    [
        (UnitCategory.PARTY_GOVERNMENT, {}, ADM),
        (UnitCategory.PARTY_GOVERNMENT, {ADM: 3, PUB: 2}, ADM),
        (UnitCategory.PARTY_GOVERNMENT, {ADM: 0, POL: 4}, POL),
        (UnitCategory.PARTY_GOVERNMENT, {PUB: 1, POL: 4}, ADM),
        (UnitCategory.MASS_ORGANISATION, {PUB: 2}, PUB),
        (UnitCategory.PUBLIC_INSTITUTION, {PUB: 5, ADM: 1}, PUB),
        (UnitCategory.PUBLIC_INSTITUTION, {ADM: 2}, ADM),
        (UnitCategory.OTHER, {}, PUB),
    ],
)
def test_principal_kind(category, approved, expected):
    assert principal_kind(category, approved) == expected


def test_headcount_split_kept_when_total_unchanged(world, tmp_path):
    unit = world.tianhe_unit
    today = timezone.localdate()
    EstablishmentQuota.objects.create(
        unit=unit, kind=ADM, approved=10, actual=6, valid_from=dt.date(2020, 1, 1)
    )
    EstablishmentQuota.objects.create(
        unit=unit, kind=POL, approved=3, actual=3, valid_from=dt.date(2020, 1, 1)
    )
    data = xlsx(tmp_path, [row(unit.uscc, unit.name, actual=9)])
    result = import_units(actor=world.users.tianhe_reviewer, data=data, filename="u.xlsx")
    assert result.ok and result.unchanged == 1
    data = xlsx(tmp_path, [row(unit.uscc, unit.name, actual=11)], name="b.xlsx")
    result = import_units(actor=world.users.tianhe_reviewer, data=data, filename="b.xlsx")
    assert result.ok and result.updated == 1
    now = {
        q.kind: (q.approved, q.actual)
        for q in EstablishmentQuota.objects.filter(unit=unit, valid_to__isnull=True)
    }
    assert now == {ADM: (10, 11), POL: (3, 0)}
    assert EstablishmentQuota.objects.filter(unit=unit, valid_to=today).count() == 2


@pytest.mark.parametrize(
    ("value", "expected"), [(12, 12), (12.0, 12), ("12", 12), (" 12 ", 12), ("12.0", 12), (0, 0)]
)
def test_non_negative_int_accepts(value, expected):
    assert as_non_negative_int(value) == expected


@pytest.mark.parametrize("value", [-1, 1.5, "abc", "-1", "1.5", True, dt.date(2020, 1, 1)])
def test_non_negative_int_refuses(value):
    with pytest.raises(CellError) as exc:
        as_non_negative_int(value)
    assert exc.value.code == "invalid_integer"


@pytest.mark.parametrize(
    "value",
    [
        dt.date(2021, 3, 4),
        dt.datetime(2021, 3, 4),
        "2021-03-04",
        "2021/3/4",
        "2021.03.04",
        "2021年3月4日",
        " 2021-3-4 ",
        "2021-03-04 00:00:00",
    ],
)
def test_dates(value):
    assert as_date(value) == dt.date(2021, 3, 4)


@pytest.mark.parametrize(
    "value",
    ["2021-02-30", "04/03/2021", "20210304x", 44259, 44259.0, dt.datetime(2021, 3, 4, 10, 30), "明天"],
)
def test_bad_dates(value):
    with pytest.raises(CellError) as exc:
        as_date(value)
    assert exc.value.code == "invalid_date"


def test_text_and_code_cells():
    assert as_text(440106.0) == "440106" and as_text(12) == "12" and as_text("  甲 ") == "甲"
    assert as_text(dt.date(2021, 1, 2)) == "2021-01-02"
    for value in (9.1440106e17, 914401060000000000, "9.1440106E+17"):
        with pytest.raises(CellError) as exc:
            as_code(value)
        assert exc.value.code == "numeric_code_cell"
    assert as_code(" 91440106 mA5c ") == "91440106MA5C"


def test_template_reads_calamine_types_and_row_numbers(tmp_path):
    path = tmp_path / "t.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    sheet.write_row(2, 1, ["名称", "日期 *", "人数"])  # header in row 3, from column B
    sheet.write_row(3, 1, ["甲", "2021-03-04", 3])
    sheet.write_datetime(5, 2, dt.datetime(2022, 1, 2), workbook.add_format({"num_format": "yyyy-mm-dd"}))
    sheet.write_row(5, 1, ["乙"])
    sheet.write_row(5, 3, [1.5])
    workbook.close()
    table = read_table(path.read_bytes(), "t.xlsx")
    assert table.header_row == 3 and table.headers == ["", "名称", "日期", "人数"]
    assert [r for r, _cells in table.rows] == [4, 6]  # blank row 5 skipped, numbering kept
    template = Template(
        [
            Column("名称", "name", required=True),
            Column("日期", "on", coerce=as_date),
            Column("人数", "n", coerce=as_non_negative_int),
        ]
    )
    assert template.header_errors(table) == []
    errors: list[Any] = []
    records = list(template.records(table, errors))
    assert records[0].values == {"name": "甲", "on": dt.date(2021, 3, 4), "n": 3}
    assert records[1].values == {"name": "乙", "on": dt.date(2022, 1, 2), "n": None}
    assert [(e.row, e.field, e.code, e.value) for e in errors] == [(6, "人数", "invalid_integer", 1.5)]


# --------------------------------------------------------------------------- the command


def run_import(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_command_commit_dry_run_and_json(world, tmp_path):
    from bianzhi.accounts.services import system_user

    system_user()
    path = tmp_path / "units.xlsx"
    code_value = next_uscc()
    path.write_bytes(xlsx(tmp_path, [row(code_value, "天河区命令中心", adm=2)], name="src.xlsx"))
    before = db_counts()
    code, out, _err = run_import("units", str(path), "--dry-run")
    assert code == 0 and db_counts() == before
    assert "units.xlsx" in out
    code, out, _err = run_import("units", str(path), "--json", "--as", "th_reviewer")
    assert code == 0
    answer = json.loads(out)
    assert answer["created"] == 1 and answer["errors"] == [] and answer["committed"] is True
    assert Unit.objects.filter(uscc=code_value).exists()
    event = AuditEvent.objects.filter(action="units.import").order_by("-seq").first()
    assert event.actor_username == "th_reviewer"
    # Without --as the system administrator of the province imports; --mode is ignored for units.
    code, _out, _err = run_import("units", str(path), "--mode", "inventory")
    assert code == 0
    assert (
        AuditEvent.objects.filter(action="units.import").order_by("-seq").first().actor_username == "system"
    )


def test_command_rejection_json(world, tmp_path):
    path = tmp_path / "bad.xlsx"
    path.write_bytes(
        xlsx(tmp_path, [row("123", "甲"), row(next_uscc(), "乙", division="440104")], name="s.xlsx")
    )
    before = db_counts()
    code, out, _err = run_import("units", str(path), "--json", "--as", "th_reviewer")
    assert code == 1 and db_counts() == before
    answer = json.loads(out)
    assert [(e["row"], e["column"], e["value"], e["code"]) for e in answer["errors"]] == [
        (2, "统一社会信用代码", "123", "uscc_length"),
        (3, "行政区划代码", "440104", "division_not_found"),
    ]
    assert all(
        set(e) >= {"row", "column", "value", "code", "message"} and e["message"] for e in answer["errors"]
    )
    assert "统一社会信用代码" in out  # ensure_ascii=False
    code, out, _err = run_import("units", str(path), "--as", "th_reviewer")
    assert code == 1 and "uscc_length" in out and "division_not_found" in out


def test_command_usage_errors(world, tmp_path):
    path = tmp_path / "junk.xlsx"
    path.write_bytes(os.urandom(2048))
    assert run_import("units", str(path), "--as", "th_reviewer")[0] == 2
    code, out, _err = run_import("units", str(path), "--as", "th_reviewer", "--json")
    assert code == 2 and json.loads(out)["errors"][0]["code"] == "file_unreadable"
    assert run_import("units", str(tmp_path / "missing.xlsx"), "--as", "th_reviewer")[0] == 2
    assert run_import("units", str(path), "--as", "nobody")[0] == 2
    code, _out, err = run_import("roster", str(path), "--mode", "inventory", "--as", "th_reviewer")
    assert code == 2 and "roster" in err
    assert run_import("units", str(path), "--as", "th_supervisor")[0] == 2


# --------------------------------------------------------------------------- 50,000 rows

COUNTIES = [
    "440103",
    "440104",
    "440105",
    "440106",
    "440111",
    "440112",
    "440113",
    "440114",
    "440115",
    "440117",
]


def big_rows(n: int) -> list[list[Any]]:
    rows = []
    for i in range(n):
        division = COUNTIES[i % len(COUNTIES)]
        rows.append(
            row(
                make_uscc("12", division, f"B{i:07d}"),
                f"大表单位{i:05d}",
                division=division,
                category="事业单位",
                pub=i % 30,
                actual=i % 25,
            )
        )
    return rows


@pytest.mark.slow
def test_fifty_thousand_rows_one_bad_row_writes_nothing(world, tmp_path):
    rows = big_rows(50_000)
    rows[24_999][HEADERS.index("事业编制数")] = -5  # Excel row 25,001
    data = xlsx(tmp_path, rows)
    before = db_counts()
    started = time.perf_counter()
    result = import_units(actor=world.users.province_admin, data=data, filename="big.xlsx")
    assert time.perf_counter() - started < 60
    assert only_error(result) == ("invalid_integer", 25_001, "事业编制数")
    assert db_counts() == before


@pytest.mark.slow
def test_fifty_thousand_rows_import(world, tmp_path):
    data = xlsx(tmp_path, big_rows(50_000))
    before = db_counts()
    started = time.perf_counter()
    result = import_units(actor=world.users.province_admin, data=data, filename="big.xlsx")
    assert time.perf_counter() - started < 60
    assert result.ok, result.errors[:5]
    assert result.created == 50_000
    after = db_counts()
    assert after[0] - before[0] == 50_000 and after[1] - before[1] == 50_000
    assert after[3] - before[3] == 50_001
    again = import_units(actor=world.users.province_admin, data=data, filename="big.xlsx")
    assert again.ok and again.unchanged == 50_000 and db_counts()[:3] == after[:3]
    assert verify_chain().ok
