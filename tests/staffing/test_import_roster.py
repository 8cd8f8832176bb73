"""The roster import (编外人员花名册), both modes: every bad-input case of issue 3 with its code,
row and column and the database unchanged; inventory imports with flags, re-import no-op and
exits added; register mode with policy and hire authorisations; the command; 20,000 rows."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import random
import time
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db.models import Sum

from bianzhi.common.audit import verify_chain
from bianzhi.common.codes import make_resident_id
from bianzhi.common.models import AuditEvent
from bianzhi.orgs.choices import UnitStatus
from bianzhi.orgs.models import Person, Unit
from bianzhi.staffing.choices import AuthorisationStatus, SpellSource
from bianzhi.staffing.importing import TEMPLATE, as_cost, as_resident_id, import_roster
from bianzhi.staffing.models import HireAuthorisation, PolicyFlag, Spell
from bianzhi.staffing.services import baseline_take

from ..factories import next_uscc

TODAY = dt.date(2025, 6, 30)
HEADERS = [c.header for c in TEMPLATE.columns]
D = dt.date


# --------------------------------------------------------------------------- helpers

_sequence = iter(range(1, 1_000_000))


BIRTH = D(1990, 5, 17)


def new_id(region: str = "440106", birth: dt.date = BIRTH) -> str:
    """A fresh valid ID number (1,000 per birth date and region: then the next day)."""
    n = next(_sequence)
    return make_resident_id(region, birth + dt.timedelta(days=n // 1000), n)


def rec(unit: Any, **values: Any) -> dict[str, Any]:
    """One roster row (header → cell); keyword names are the template's field names."""
    row: dict[str, Any] = {
        "统一社会信用代码": unit.uscc if hasattr(unit, "uscc") else unit,
        "姓名": "张伟",
        "公民身份号码": new_id(),
        "情形": "劳动合同制聘用",
        "岗位类别": "普通辅助岗",
        "工作内容": "文秘文书",
        "岗位名称": "文员",
        "经费来源": "财政拨款",
        "入职日期": D(2018, 3, 1),
    }
    for name, value in values.items():
        row[TEMPLATE.header(name)] = value
    return row


def xlsx(tmp_path: Path, rows: list[dict[str, Any]], headers: list[str] = HEADERS, name: str = "roster.xlsx") -> bytes:
    """A workbook like the template: text as text cells, numbers as numbers, dates as date cells."""
    path = tmp_path / name
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = workbook.add_worksheet("花名册")
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(0, 0, headers)
    for r, row in enumerate(rows, start=1):
        for c, header in enumerate(headers):
            value = row.get(header)
            if value is None:
                continue
            if isinstance(value, dt.date):
                sheet.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date_format)
            elif isinstance(value, (int, float)):
                sheet.write_number(r, c, value)
            else:
                sheet.write_string(r, c, str(value))
    workbook.close()
    return path.read_bytes()


def state() -> tuple[Any, ...]:
    """Everything an import may write."""
    return (
        sorted(Spell.objects.values_list("pk", "unit_id", "hire_date", "leave_date", "exit_reason", "key_post")),
        Person.objects.count(),
        PolicyFlag.objects.count(),
        HireAuthorisation.objects.aggregate(n=Sum("used"))["n"],
        AuditEvent.objects.count(),
    )


def run(actor: Any, data: bytes, *, mode: str = "inventory", dry_run: bool = False, filename: str = "roster.xlsx",
        today: dt.date = TODAY, progress: Any = None) -> Any:
    return import_roster(actor=actor, data=data, filename=filename, mode=mode, dry_run=dry_run, today=today,
                         progress=progress)


def rejected(actor: Any, data: bytes, *, mode: str = "inventory", filename: str = "roster.xlsx") -> Any:
    before = state()
    result = run(actor, data, mode=mode, filename=filename)
    assert not result.ok and not result.committed
    assert state() == before
    return result


def only_error(result: Any) -> tuple[str, int | None, str | None]:
    assert len(result.errors) == 1, [e.as_dict() for e in result.errors]
    error = result.errors[0]
    return error.code, error.row, error.field


def imported(actor: Any, data: bytes, **kwargs: Any) -> Any:
    result = run(actor, data, **kwargs)
    assert result.ok, [e.as_dict() for e in result.errors[:10]]
    return result


@pytest.fixture
def admin(world, rules):
    """The 天河区 administrator (inventory and register)."""
    return world.users.tianhe_admin


# --------------------------------------------------------------------------- coercers


def test_cost_coercer():
    assert as_cost(4500) == Decimal("4500.00")
    assert as_cost(4500.5) == Decimal("4500.50")
    assert as_cost("4,500.5") == Decimal("4500.50")
    assert as_cost(0.1 + 0.2) == Decimal("0.30")  # a number cell's binary noise
    for bad in (-1, "abc", 1.234, "1.234", True, float("nan"), 10**10):
        with pytest.raises(Exception, match="cost_invalid"):
            as_cost(bad)


def test_resident_id_fast_path_agrees_with_the_validator():
    rnd = random.Random(7)
    for _ in range(2000):
        number = make_resident_id("440106", D(1950, 1, 1) + dt.timedelta(days=rnd.randrange(25_000)),
                                  rnd.randrange(1000))
        assert as_resident_id(number) == number
        assert as_resident_id(number.lower()) == number
        wrong = number[:17] + next(c for c in "0123456789X" if c != number[17])
        with pytest.raises(Exception, match="id_checksum"):
            as_resident_id(wrong)
    with pytest.raises(Exception, match="numeric_code_cell"):
        as_resident_id(440106199005170011.0)
    with pytest.raises(Exception, match="id_legacy_15"):
        as_resident_id("440106900517001")


# --------------------------------------------------------------------------- bad input: cells


def wrong_check_digit() -> str:
    number = new_id()
    return number[:17] + ("0" if number[17] != "0" else "1")


def test_bad_id_check_digit(world, admin, tmp_path):
    bad = wrong_check_digit()
    result = rejected(admin, xlsx(tmp_path, [rec(world.tianhe_unit, id_number=bad)]))
    assert only_error(result) == ("id_checksum", 2, "公民身份号码")
    assert result.errors[0].value == bad


def test_impossible_birth_date_in_id(world, admin, tmp_path):
    from stdnum.cn import ric

    partial = "44010619900230001"  # 30 February
    number = partial + ric.calc_check_digit(partial + "0")
    result = rejected(admin, xlsx(tmp_path, [rec(world.tianhe_unit, id_number=number)]))
    assert only_error(result) == ("id_birth_date", 2, "公民身份号码")


def test_legacy_fifteen_digit_id(world, admin, tmp_path):
    result = rejected(admin, xlsx(tmp_path, [rec(world.tianhe_unit, id_number="440106900517001")]))
    assert only_error(result) == ("id_legacy_15", 2, "公民身份号码")


def test_id_as_numeric_cell(world, admin, tmp_path):
    result = rejected(admin, xlsx(tmp_path, [rec(world.tianhe_unit, id_number=440106199005170011)]))
    assert only_error(result) == ("numeric_code_cell", 2, "公民身份号码")


@pytest.mark.parametrize(("field", "value", "code", "header"), [
    ("situation", "长期合同工", "unknown_situation", "情形"),
    ("post_class", "管理岗", "unknown_post_class", "岗位类别"),
    ("work_type", "打字员", "unknown_work_type", "工作内容"),
    ("work_type", "保安", "work_type_other_class", "工作内容"),  # a 后勤保障岗 work type under 普通辅助岗
    ("funding_source", "上级拨款", "unknown_funding_source", "经费来源"),
    ("key_post", "党务", "unknown_key_post", "关键岗位"),
    ("education", "博士后", "unknown_education", "学历"),
    ("monthly_cost", -100, "cost_invalid", "月人均成本"),
    ("name", "张" * 51, "too_long", "姓名"),
    ("post_name", "岗" * 51, "too_long", "岗位名称"),
])
def test_bad_values(world, admin, tmp_path, field, value, code, header):
    result = rejected(admin, xlsx(tmp_path, [rec(world.tianhe_unit, **{field: value})]))
    assert only_error(result) == (code, 2, header)


def test_unknown_situation_lists_the_allowed_ones(world, admin, tmp_path):
    result = rejected(admin, xlsx(tmp_path, [rec(world.tianhe_unit, situation="长期合同工")]))
    assert "劳务派遣" in result.errors[0].message and result.errors[0].value == "长期合同工"


def test_unit_unknown(world, admin, tmp_path):
    result = rejected(admin, xlsx(tmp_path, [rec(next_uscc())]))
    assert only_error(result) == ("unit_not_found", 2, "统一社会信用代码")


def test_unit_out_of_scope_is_the_same_error_as_unknown(world, admin, tmp_path):
    unknown = rejected(admin, xlsx(tmp_path, [rec(next_uscc())]))
    outside = rejected(admin, xlsx(tmp_path, [rec(world.yuexiu_unit)]))
    assert only_error(outside) == ("unit_not_found", 2, "统一社会信用代码")
    assert outside.errors[0].message == unknown.errors[0].message
    # A unit operator may import for its own unit only.
    operator = world.users.tianhe_operator
    mine = run(operator, xlsx(tmp_path, [rec(world.tianhe_unit, authorisation="X")]), mode="register")
    assert "unit_not_found" not in [e.code for e in mine.errors]
    other = rejected(operator, xlsx(tmp_path, [rec(world.tianhe_child, authorisation="X")]), mode="register")
    assert ("unit_not_found", 2, "统一社会信用代码") in [(e.code, e.row, e.field) for e in other.errors]


def test_unit_not_active(world, admin, tmp_path):
    Unit.objects.filter(pk=world.tianhe_child.pk).update(status=UnitStatus.ABOLISHED)
    result = rejected(admin, xlsx(tmp_path, [rec(world.tianhe_child)]))
    assert only_error(result) == ("unit_not_active", 2, "统一社会信用代码")


def test_leave_date_not_after_hire_date(world, admin, tmp_path):
    for leave in (D(2018, 3, 1), D(2018, 2, 1)):
        result = rejected(admin, xlsx(tmp_path, [rec(world.tianhe_unit, leave_date=leave, exit_reason="辞职")]))
        assert only_error(result) == ("leave_not_after_hire", 2, "离职日期")


def test_hire_date_in_the_future(world, admin, tmp_path):
    result = rejected(admin, xlsx(tmp_path, [rec(world.tianhe_unit, hire_date=TODAY + dt.timedelta(days=1))]))
    assert only_error(result) == ("hire_in_future", 2, "入职日期")


@pytest.mark.parametrize("value", ["2021-02-30", "2021/13/01", "2021年2月30日", "明年", 44000])
def test_impossible_date(world, admin, tmp_path, value):
    result = rejected(admin, xlsx(tmp_path, [rec(world.tianhe_unit, hire_date=value)]))
    assert only_error(result) == ("invalid_date", 2, "入职日期")


def test_missing_required_value(world, admin, tmp_path):
    row = rec(world.tianhe_unit)
    row["岗位名称"] = "  "
    result = rejected(admin, xlsx(tmp_path, [row]))
    assert only_error(result) == ("required", 2, "岗位名称")


def test_exit_without_reason_and_reason_without_exit(world, admin, tmp_path):
    result = rejected(admin, xlsx(tmp_path, [rec(world.tianhe_unit, leave_date=D(2020, 1, 1)),
                                             rec(world.tianhe_unit, exit_reason="辞职")]))
    assert [(e.code, e.row, e.field) for e in result.errors] == [
        ("exit_without_reason", 2, "离职原因"), ("reason_without_exit", 3, "离职原因")]


def test_overlap_with_a_record_in_another_unit(world, rules, tmp_path):
    number = new_id()
    imported(world.users.province_admin, xlsx(tmp_path, [rec(world.yuexiu_unit, id_number=number, hire_date=D(2016, 1, 1))]))
    row = rec(world.tianhe_unit, id_number=number, hire_date=D(2019, 1, 1))
    # The 天河区 administrator may not see the 越秀区 record: the message does not describe it.
    hidden = rejected(world.users.tianhe_admin, xlsx(tmp_path, [row]))
    assert only_error(hidden) == ("spell_overlap", 2, "入职日期")
    assert "越秀" not in hidden.errors[0].message and "2016" not in hidden.errors[0].message
    # The province administrator may: the unit and its hire date are named.
    shown = rejected(world.users.province_admin, xlsx(tmp_path, [row]))
    assert only_error(shown) == ("spell_overlap", 2, "入职日期")
    assert world.yuexiu_unit.name in shown.errors[0].message and "2016-01-01" in shown.errors[0].message
    # Ending the first record before the second starts is fine (the leave date is the first day out).
    ended = rec(world.yuexiu_unit, id_number=number, hire_date=D(2016, 1, 1), leave_date=D(2019, 1, 1),
                exit_reason="辞职")
    result = imported(world.users.province_admin, xlsx(tmp_path, [ended, row]))
    assert (result.created, result.updated) == (1, 1)


def test_overlap_within_the_file(world, admin, tmp_path):
    number = new_id()
    rows = [rec(world.tianhe_unit, id_number=number, hire_date=D(2017, 1, 1), leave_date=D(2019, 6, 1),
                exit_reason="辞职"),
            rec(world.tianhe_child, id_number=number, hire_date=D(2019, 5, 1)),
            rec(world.tianhe_child, id_number=new_id(), hire_date=D(2019, 5, 1))]
    result = rejected(admin, xlsx(tmp_path, rows))
    assert only_error(result) == ("spell_overlap", 3, "入职日期")
    assert world.tianhe_unit.name in result.errors[0].message


def test_duplicate_key_and_name_mismatch_in_the_file(world, admin, tmp_path):
    number = new_id()
    rows = [rec(world.tianhe_unit, id_number=number), rec(world.tianhe_unit, id_number=number),
            rec(world.tianhe_child, id_number=number, name="李四", hire_date=D(2015, 6, 1),
                leave_date=D(2018, 3, 1), exit_reason="辞职")]
    result = rejected(admin, xlsx(tmp_path, rows))
    assert [(e.code, e.row, e.field) for e in result.errors] == [
        ("duplicate_key", 3, "公民身份号码"), ("person_name_mismatch", 4, "姓名")]


def test_name_mismatch_with_a_registered_person(world, admin, tmp_path):
    number = new_id()
    imported(admin, xlsx(tmp_path, [rec(world.tianhe_unit, id_number=number, name="王芳",
                                        leave_date=D(2019, 1, 1), exit_reason="辞职")]))
    result = rejected(admin, xlsx(tmp_path, [rec(world.tianhe_child, id_number=number, name="王方",
                                                 hire_date=D(2020, 1, 1))]))
    assert only_error(result) == ("person_name_mismatch", 2, "姓名")
    assert "王芳" in result.errors[0].message


def test_several_bad_rows_reported_together(world, admin, tmp_path):
    rows = [
        rec(world.tianhe_unit),
        rec(world.tianhe_unit, id_number=wrong_check_digit()),
        rec(world.tianhe_unit, situation="临时工", hire_date="2021-02-30"),
        rec(world.yuexiu_unit),
        rec(world.tianhe_unit),
        rec(world.tianhe_unit, leave_date=D(2017, 1, 1), exit_reason="辞职", monthly_cost="很多"),
    ]
    result = rejected(admin, xlsx(tmp_path, rows))
    assert [(e.row, e.field, e.code) for e in result.errors] == [
        (3, "公民身份号码", "id_checksum"),
        (4, "情形", "unknown_situation"),
        (4, "入职日期", "invalid_date"),
        (5, "统一社会信用代码", "unit_not_found"),
        (7, "离职日期", "leave_not_after_hire"),
        (7, "月人均成本", "cost_invalid"),
    ]


# --------------------------------------------------------------------------- bad input: files


def test_unknown_column(world, admin, tmp_path):
    row = {**rec(world.tianhe_unit), "备注": "x"}
    result = rejected(admin, xlsx(tmp_path, [row], headers=[*HEADERS, "备注"]))
    assert only_error(result) == ("unknown_column", 1, "备注")


def test_missing_column(world, admin, tmp_path):
    headers = [h for h in HEADERS if h != "入职日期"]
    result = rejected(admin, xlsx(tmp_path, [rec(world.tianhe_unit)], headers=headers))
    assert only_error(result) == ("missing_column", 1, "入职日期")


def test_optional_columns_may_be_left_out(world, admin, tmp_path):
    headers = [c.header for c in TEMPLATE.columns if c.required]
    result = imported(admin, xlsx(tmp_path, [rec(world.tianhe_unit)], headers=headers))
    assert result.created == 1
    spell = Spell.objects.get()
    assert (spell.key_post, spell.education, spell.leave_date, spell.monthly_cost) == ("", "", None, None)


def test_empty_files(world, admin, tmp_path):
    header_only = rejected(admin, xlsx(tmp_path, []))
    assert only_error(header_only) == ("file_empty", None, None)
    workbook = xlsxwriter.Workbook(str(tmp_path / "blank.xlsx"))
    workbook.add_worksheet()
    workbook.close()
    blank = rejected(admin, (tmp_path / "blank.xlsx").read_bytes())
    assert only_error(blank)[0] == "file_empty"
    assert only_error(rejected(admin, b""))[0] == "file_empty"


def test_not_a_workbook(world, admin, tmp_path):
    result = rejected(admin, os.urandom(4096))
    assert only_error(result)[0] == "file_unreadable" and result.unreadable
    text = rejected(admin, "统一社会信用代码,姓名\n".encode("gb18030"), filename="roster.csv")
    assert only_error(text)[0] == "file_unreadable"


def test_truncated_workbook(world, admin, tmp_path):
    data = xlsx(tmp_path, [rec(world.tianhe_unit) for _ in range(50)])
    result = rejected(admin, data[: len(data) // 2])
    assert only_error(result)[0] == "file_unreadable"


def test_csv_is_accepted(world, admin, tmp_path):
    row = rec(world.tianhe_unit, hire_date="2018年3月1日", contract_end="2021.02.28", monthly_cost="5000.0")
    lines = [",".join(HEADERS), ",".join(str(row.get(h) or "") for h in HEADERS)]
    result = imported(admin, ("\ufeff" + "\r\n".join(lines)).encode("utf-8"), filename="roster.csv")
    assert result.created == 1
    spell = Spell.objects.get()
    assert (spell.hire_date, spell.contract_end, spell.monthly_cost) == (D(2018, 3, 1), D(2021, 2, 28),
                                                                          Decimal("5000.00"))


# --------------------------------------------------------------------------- inventory mode


def roster_rows(world: Any, n: int, seed: int = 3) -> list[dict[str, Any]]:
    """A realistic roster: every situation, class and work type, exits, key posts, text dates."""
    rnd = random.Random(seed)
    units = [world.tianhe_unit, world.tianhe_child, world.yuexiu_unit, world.city_unit]
    classes = {"普通辅助岗": ["文秘文书", "窗口服务", "档案管理"], "专业技术岗": ["信息技术", "法律事务"],
               "执法辅助岗": ["辅警", "城管协管"], "后勤保障岗": ["保安", "保洁", "驾驶员"]}
    rows = []
    for i in range(n):
        post_class = rnd.choice(list(classes))
        hire = D(2015, 1, 1) + dt.timedelta(days=rnd.randrange(3500))
        row = rec(units[i % 4], name=rnd.choice("王李张刘陈") + rnd.choice("伟芳敏静强"),
                  id_number=new_id(rnd.choice(["440106", "440104", "440103"])),
                  situation=rnd.choice(["劳动合同制聘用", "劳务派遣", "协管员/辅助人员", "退休返聘", "其他临时用工",
                                        "labour_contract"]),
                  post_class=post_class, work_type=rnd.choice(classes[post_class]), post_name=f"岗位{i % 7}",
                  funding_source=rnd.choice(["财政拨款", "单位自有资金", "其他"]),
                  hire_date=hire if i % 5 else f"{hire:%Y/%m/%d}", education=rnd.choice(["大学本科", "大学专科", None]),
                  monthly_cost=rnd.choice([4200, 5300.5, None]), contract_end=hire + dt.timedelta(days=1095))
        if i % 7 == 0:
            row["离职日期"] = hire + dt.timedelta(days=200)
            row["离职原因"] = rnd.choice(["辞职", "合同期满", "退休"])
        if i % 50 == 3:
            row["关键岗位"] = rnd.choice(["人事", "财务", "涉密"])
        elif i % 50 == 4:
            row["关键岗位"] = "无"
        rows.append(row)
    return rows


def test_inventory_import_of_a_realistic_roster(world, rules, tmp_path):
    actor = world.users.province_admin
    rows = roster_rows(world, 400)
    data = xlsx(tmp_path, rows)
    before = AuditEvent.objects.count()
    calls: list[tuple[str, int, int]] = []
    dry = run(actor, data, dry_run=True, progress=lambda *a: calls.append(a))
    assert dry.ok and dry.created == 400 and Spell.objects.count() == 0 and AuditEvent.objects.count() == before
    assert {c[0] for c in calls} == {"read", "validate"} and calls[-1] == ("validate", 400, 400)
    calls.clear()
    result = imported(actor, data, filename="摸底.xlsx", progress=lambda *a: calls.append(a))
    assert (result.rows, result.created, result.updated, result.unchanged) == (400, 400, 0, 0)
    assert calls[-1] == ("write", 400, 400) and all(a[1] <= b[1] for a, b in pairwise(calls) if a[0] == b[0])
    assert Spell.objects.count() == 400 and Person.objects.count() == 400
    assert Spell.objects.filter(source=SpellSource.INVENTORY).count() == 400
    exits = sum(1 for r in rows if r.get("离职日期"))
    assert Spell.objects.exclude(leave_date=None).count() == exits
    key_posts = [r for r in rows if r.get("关键岗位") in ("人事", "财务", "涉密")]
    flags = PolicyFlag.objects.all()
    assert flags.count() == len(key_posts) and {f.code for f in flags} == {"key_post_banned"}
    assert all(f.raised_on == TODAY and f.spell.key_post for f in flags)
    assert Spell.objects.filter(key_post="").count() == 400 - len(key_posts)
    # Values are stored as codes; the person gets sex and birth date from the number.
    first = rows[1]
    spell = Spell.objects.select_related("person", "unit").get(person__in=Person.objects.by_id_number(first["公民身份号码"]))
    assert spell.unit.uscc == first["统一社会信用代码"] and spell.jurisdiction_path == spell.unit.jurisdiction_path
    assert spell.work_type in {"clerical", "counter_service", "archives", "information_technology", "legal",
                               "auxiliary_police", "urban_management", "security", "cleaning", "driver"}
    number = first["公民身份号码"]
    assert spell.person.birth_date == D(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    assert spell.person.sex == ("M" if int(number[16]) % 2 else "F") and spell.person.unit_id == spell.unit_id
    # Audit: the import, then one event per record; the chain holds.
    events = AuditEvent.objects.filter(seq__gt=before).order_by("seq")
    assert events.count() == 401
    head = events.first()
    assert head.action == "roster.import" and head.after["mode"] == "inventory" and head.after["created"] == 400
    assert head.after["sha256"] == result.sha256 and head.after["flags"] == len(key_posts)
    assert set(events.values_list("action", flat=True)[1:]) == {"spell.import_create"}
    one = events.filter(object_id=str(spell.pk)).get()
    assert one.object_repr == f"{spell.person.name} · {spell.unit.name} · {spell.hire_date}"
    assert verify_chain().ok


def test_reimport_is_a_no_op(world, rules, tmp_path):
    actor = world.users.province_admin
    data = xlsx(tmp_path, roster_rows(world, 120))
    imported(actor, data)
    before = state()
    again = imported(actor, data)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 120)
    after = state()
    assert after[:4] == before[:4] and after[4] == before[4] + 1  # only the roster.import event
    assert AuditEvent.objects.order_by("-seq").first().action == "roster.import"


def test_updated_file_adds_exits(world, rules, tmp_path):
    actor = world.users.province_admin
    rows = roster_rows(world, 60)
    imported(actor, xlsx(tmp_path, rows))
    open_rows = [i for i, r in enumerate(rows) if not r.get("离职日期")][:5]
    for i in open_rows:
        rows[i]["离职日期"] = D(2025, 1, 1)
        rows[i]["离职原因"] = "合同期满"
    before = AuditEvent.objects.count()
    result = imported(actor, xlsx(tmp_path, rows, name="v2.xlsx"))
    assert (result.created, result.updated, result.unchanged) == (0, 5, 55)
    changed = {c.row: c.fields for c in result.preview}
    assert changed[open_rows[0] + 2]["离职日期"] == (None, "2025-01-01")
    assert changed[open_rows[0] + 2]["离职原因"] == (None, "合同期满")
    assert Spell.objects.filter(leave_date=D(2025, 1, 1), exit_reason="contract_expired").count() == 5
    updates = AuditEvent.objects.filter(seq__gt=before, action="spell.import_update")
    assert updates.count() == 5
    event = updates.first()
    assert event.before["leave_date"] is None and event.after["leave_date"] == "2025-01-01"
    # The first file again: empty cells keep the recorded exits, so nothing changes.
    again = imported(actor, xlsx(tmp_path, rows, name="v2-again.xlsx"))
    assert again.unchanged == 60
    for i in open_rows:
        rows[i].pop("离职日期")
        rows[i].pop("离职原因")
    older = imported(actor, xlsx(tmp_path, rows, name="v1-again.xlsx"))
    assert (older.updated, older.unchanged) == (0, 60)
    assert Spell.objects.filter(leave_date=D(2025, 1, 1)).count() == 5


def test_exit_and_next_record_in_one_file(world, admin, tmp_path):
    number = new_id()
    imported(admin, xlsx(tmp_path, [rec(world.tianhe_unit, id_number=number, hire_date=D(2016, 1, 1))]))
    rows = [rec(world.tianhe_unit, id_number=number, hire_date=D(2016, 1, 1), leave_date=D(2020, 7, 1),
                exit_reason="辞职"),
            rec(world.tianhe_child, id_number=number, hire_date=D(2020, 7, 1))]
    result = imported(admin, xlsx(tmp_path, rows))
    assert (result.created, result.updated) == (1, 1)
    assert list(Spell.objects.order_by("hire_date").values_list("leave_date", flat=True)) == [D(2020, 7, 1), None]


def test_inventory_flags_a_key_post_added_later_once(world, admin, tmp_path):
    number = new_id()
    imported(admin, xlsx(tmp_path, [rec(world.tianhe_unit, id_number=number)]))
    row = rec(world.tianhe_unit, id_number=number, key_post="财务")
    result = imported(admin, xlsx(tmp_path, [row]))
    assert result.updated == 1 and PolicyFlag.objects.count() == 1
    again = imported(admin, xlsx(tmp_path, [row]))
    assert again.unchanged == 1 and PolicyFlag.objects.count() == 1


def test_inventory_by_a_non_administrator_is_refused(world, rules, tmp_path):
    data = xlsx(tmp_path, [rec(world.tianhe_unit)])
    before = state()
    for actor in (world.users.tianhe_reviewer, world.users.tianhe_operator, world.users.tianhe_supervisor):
        with pytest.raises(PermissionDenied):
            run(actor, data, mode="inventory")
    with pytest.raises(PermissionDenied):
        run(world.users.tianhe_supervisor, data, mode="register")
    assert state() == before


def test_dry_run_writes_nothing(world, admin, tmp_path):
    data = xlsx(tmp_path, [rec(world.tianhe_unit), rec(world.tianhe_child)])
    before = state()
    result = run(admin, data, dry_run=True)
    assert result.ok and not result.committed and result.created == 2 and state() == before
    assert [c.action for c in result.preview] == ["create", "create"]


# --------------------------------------------------------------------------- register mode


@pytest.fixture
def baseline(world, rules, tmp_path):
    """天河测试局 at its baseline (2019-12-31): 4 general auxiliary staff; one left in 2021, so
    the unit has one place under its total cap of 4 (more once more leave)."""
    admin = world.users.tianhe_admin
    rows = [rec(world.tianhe_unit, hire_date=D(2017, 1, 1) + dt.timedelta(days=30 * i)) for i in range(4)]
    rows[0]["离职日期"], rows[0]["离职原因"] = D(2021, 1, 1), "辞职"
    imported(admin, xlsx(tmp_path, rows, name="stock.xlsx"))
    baseline_take(actor=admin, scope="440106", as_of=D(2019, 12, 31))
    return rows


def authorisation(unit: Any, quantity: int = 2, **values: Any) -> HireAuthorisation:
    fields = {"number": f"YG-440106-2025-{HireAuthorisation.objects.count() + 1:05d}", "unit": unit,
              "post_class": "general_auxiliary", "quantity": quantity, "valid_from": D(2025, 1, 1), **values}
    return HireAuthorisation.objects.create(**fields)


def test_register_new_hire_needs_an_authorisation(world, baseline, tmp_path):
    result = rejected(world.users.tianhe_operator, xlsx(tmp_path, [rec(world.tianhe_unit, hire_date=D(2025, 3, 1))]),
                      mode="register")
    assert only_error(result) == ("hire_authorisation_required", 2, "审批编号")


def test_register_with_a_valid_authorisation_consumes_it(world, baseline, tmp_path):
    auth = authorisation(world.tianhe_unit)
    row = rec(world.tianhe_unit, hire_date=D(2025, 3, 1), authorisation=auth.number)
    before = AuditEvent.objects.count()
    result = imported(world.users.tianhe_operator, xlsx(tmp_path, [row]), mode="register")
    assert result.created == 1
    auth.refresh_from_db()
    assert auth.used == 1
    spell = Spell.objects.get(hire_date=D(2025, 3, 1))
    assert spell.authorisation_id == auth.pk and spell.source == SpellSource.REGISTER
    actions = list(AuditEvent.objects.filter(seq__gt=before).order_by("seq").values_list("action", flat=True))
    assert actions == ["roster.import", "authorisation.use", "spell.import_create"]
    # The same file again: the record exists, nothing is consumed twice.
    again = imported(world.users.tianhe_operator, xlsx(tmp_path, [row]), mode="register")
    assert again.unchanged == 1
    auth.refresh_from_db()
    assert auth.used == 1


@pytest.mark.parametrize("change", [
    {"unit": "child"}, {"post_class": "logistics"}, {"situation": "dispatched"},
    {"valid_from": D(2025, 4, 1)}, {"valid_to": D(2025, 3, 1)}, {"status": AuthorisationStatus.REVOKED},
    {"used": 2}, {"number": "unknown"},
])
def test_register_invalid_authorisation(world, baseline, tmp_path, change):
    values = dict(change)
    unit = world.tianhe_child if values.pop("unit", None) == "child" else world.tianhe_unit
    number = values.pop("number", None)
    auth = authorisation(unit, **values)
    row = rec(world.tianhe_unit, hire_date=D(2025, 3, 1), authorisation=number or auth.number)
    result = rejected(world.users.tianhe_operator, xlsx(tmp_path, [row]), mode="register")
    assert only_error(result) == ("hire_authorisation_invalid", 2, "审批编号")


def test_register_authorisation_places_are_counted_in_the_file(world, baseline, tmp_path):
    Spell.objects.filter(leave_date=None).update(leave_date=D(2022, 1, 1), exit_reason="resigned")  # room
    auth = authorisation(world.tianhe_unit, quantity=2)
    rows = [rec(world.tianhe_unit, hire_date=D(2025, 3, d), authorisation=auth.number) for d in (1, 2, 3)]
    result = rejected(world.users.tianhe_operator, xlsx(tmp_path, rows), mode="register")
    assert only_error(result) == ("hire_authorisation_invalid", 4, "审批编号")


def test_register_cap_exceeded_counts_the_files_own_rows(world, baseline, tmp_path):
    # Cap 4 (the baseline), 3 in post after one exit: room for one more; a second exit in
    # the same file makes room for a second; the third new row is refused.
    auth = authorisation(world.tianhe_unit, quantity=5)
    exit_row = dict(baseline[1], 离职日期=D(2025, 2, 1), 离职原因="辞职")
    rows = [exit_row] + [rec(world.tianhe_unit, hire_date=D(2025, 3, d), authorisation=auth.number)
                         for d in (1, 2, 3)]
    result = rejected(world.users.tianhe_operator, xlsx(tmp_path, rows), mode="register")
    assert [(e.row, e.field, e.code) for e in result.errors] == [
        (5, "统一社会信用代码", "cap_exceeded"), (5, "岗位类别", "class_cap_exceeded")]
    ok = imported(world.users.tianhe_operator, xlsx(tmp_path, rows[:3]), mode="register")
    assert (ok.created, ok.updated) == (2, 1)
    auth.refresh_from_db()
    assert auth.used == 2


def test_register_policy_refusals(world, baseline, tmp_path):
    Spell.objects.filter(leave_date=None).update(leave_date=D(2022, 1, 1), exit_reason="resigned")
    auth = authorisation(world.tianhe_unit, quantity=5)
    logistics = authorisation(world.tianhe_unit, post_class="logistics")
    rows = [rec(world.tianhe_unit, hire_date=D(2025, 3, 1), authorisation=auth.number, key_post="人事"),
            rec(world.tianhe_unit, hire_date=D(2025, 3, 1), authorisation=logistics.number, post_class="后勤保障岗",
                work_type="保洁"),
            rec(world.tianhe_unit, hire_date=D(2025, 3, 1), authorisation=auth.number, situation="劳务派遣")]
    result = rejected(world.users.tianhe_admin, xlsx(tmp_path, rows), mode="register")
    assert [(e.row, e.field, e.code) for e in result.errors] == [
        (2, "关键岗位", "key_post_banned"),
        (3, "岗位类别", "post_class_frozen"),
        (3, "岗位类别", "class_must_reduce"),
        (4, "情形", "situation_frozen"),
    ]


def test_register_without_a_baseline(world, rules, tmp_path):
    auth = authorisation(world.tianhe_unit)
    row = rec(world.tianhe_unit, hire_date=D(2025, 3, 1), authorisation=auth.number)
    result = rejected(world.users.tianhe_operator, xlsx(tmp_path, [row]), mode="register")
    assert only_error(result) == ("no_baseline", 2, "统一社会信用代码")


def test_register_may_record_exits_without_authorisation(world, baseline, tmp_path):
    row = dict(baseline[2], 离职日期=D(2025, 2, 1), 离职原因="合同期满")
    result = imported(world.users.tianhe_operator, xlsx(tmp_path, [row]), mode="register")
    assert result.updated == 1


def test_inventory_after_the_baseline_flags_every_breach(world, baseline, tmp_path):
    rows = [rec(world.tianhe_unit, hire_date=D(2025, 3, d)) for d in (1, 2)]
    rows.append(rec(world.tianhe_unit, hire_date=D(2019, 6, 1), key_post="涉密"))
    result = imported(world.users.tianhe_admin, xlsx(tmp_path, rows))
    assert result.created == 3
    codes = sorted(PolicyFlag.objects.values_list("code", flat=True))
    # Hired before the baseline: the key post only (but it counts). After it: 3 in post + that
    # one reach the cap of 4, so both later hires pass it.
    assert codes == ["cap_exceeded", "cap_exceeded", "class_cap_exceeded", "class_cap_exceeded", "key_post_banned"]


# --------------------------------------------------------------------------- the command


def command(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_command(world, rules, tmp_path):
    from bianzhi.accounts.services import system_user

    system_user()
    good = tmp_path / "good.xlsx"
    good.write_bytes(xlsx(tmp_path, [rec(world.tianhe_unit, hire_date=D(2020, 1, 1))], name="g.xlsx"))
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(xlsx(tmp_path, [rec(world.tianhe_unit, situation="临时工")], name="b.xlsx"))
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(os.urandom(1000))
    before = state()
    code, out, _err = command("roster", str(good), "--mode", "inventory", "--dry-run", "--as", "th_admin")
    assert code == 0 and state() == before and "good.xlsx" in out
    code, out, _err = command("roster", str(bad), "--mode", "inventory", "--json", "--as", "th_admin")
    assert code == 1 and state() == before
    answer = json.loads(out)
    assert [(e["row"], e["column"], e["value"], e["code"]) for e in answer["errors"]] == [
        (2, "情形", "临时工", "unknown_situation")]
    assert command("roster", str(junk), "--mode", "inventory", "--as", "th_admin")[0] == 2
    code, out, _err = command("roster", str(junk), "--mode", "inventory", "--json")
    assert code == 2 and json.loads(out)["errors"][0]["code"] == "file_unreadable"
    # Inventory by a reviewer: refused (2); register is the default mode.
    code, _out, err = command("roster", str(good), "--mode", "inventory", "--as", "th_reviewer")
    assert code == 2 and "th_reviewer" in err
    code, out, _err = command("roster", str(good), "--as", "th_reviewer", "--json")
    assert code == 1 and {e["code"] for e in json.loads(out)["errors"]} == {"no_baseline",
                                                                            "hire_authorisation_required"}
    assert state() == before
    code, out, _err = command("roster", str(good), "--mode", "inventory", "--json")  # the system administrator
    assert code == 0
    answer = json.loads(out)
    assert answer["created"] == 1 and answer["committed"] is True and answer["kind"] == "roster"
    assert AuditEvent.objects.filter(action="roster.import").get().actor_username == "system"


# --------------------------------------------------------------------------- PostgreSQL / SQLite guard


def test_database_guard_agrees(world, admin, tmp_path):
    """What the import accepts, the database's own overlap guard accepts too (same transaction)."""
    number = new_id()
    rows = [rec(world.tianhe_unit, id_number=number, hire_date=D(2015, 1, 1) + dt.timedelta(days=400 * i),
                leave_date=D(2015, 1, 1) + dt.timedelta(days=400 * i + 400), exit_reason="辞职") for i in range(5)]
    result = imported(admin, xlsx(tmp_path, rows))
    assert result.created == 5 and Person.objects.by_id_number(number).count() == 1


def guard_present() -> bool:
    from django.db import connection

    if connection.vendor != "sqlite":
        return True  # PostgreSQL: the exclusion constraint, never touched
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = 'spell_no_overlap_insert'")
        return cursor.fetchone()[0] == 1


def overlapping_insert_refused(spell: Spell) -> bool:
    from django.db import IntegrityError, InternalError, transaction

    twin = Spell(person_id=spell.person_id, unit=spell.unit, jurisdiction_path=spell.jurisdiction_path,
                 situation=spell.situation, post_class=spell.post_class, work_type=spell.work_type, post_name="x",
                 funding_source=spell.funding_source, hire_date=spell.hire_date + dt.timedelta(days=1),
                 source=SpellSource.FORM)
    try:
        with transaction.atomic():
            twin.save()
    except (IntegrityError, InternalError):
        return True
    return False


def test_large_import_keeps_the_database_overlap_guard(world, rules, tmp_path, monkeypatch):
    """A large import inserts without SQLite's per-row trigger (its own check covers it) and
    puts the trigger back: after success, and by the rollback after a failure."""
    from bianzhi.common import audit

    actor = world.users.province_admin
    rows = roster_rows(world, 1200, seed=5)
    result = imported(actor, xlsx(tmp_path, rows))
    assert result.created == 1200 and guard_present()
    assert overlapping_insert_refused(Spell.objects.filter(leave_date=None).first())

    def broken(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("audit down")

    before = state()
    monkeypatch.setattr(audit, "record_many", broken)
    with pytest.raises(RuntimeError):
        run(actor, xlsx(tmp_path, roster_rows(world, 1200, seed=6), name="second.xlsx"))
    assert state() == before and guard_present()
    assert overlapping_insert_refused(Spell.objects.filter(leave_date=None).last())


# --------------------------------------------------------------------------- 20,000 rows


@pytest.mark.slow
def test_twenty_thousand_rows(world, rules, tmp_path):
    actor = world.users.province_admin
    rows = roster_rows(world, 20_000, seed=11)
    data = xlsx(tmp_path, rows)
    started = time.perf_counter()
    result = imported(actor, data)
    assert time.perf_counter() - started < 60
    assert result.created == 20_000 and Spell.objects.count() == 20_000
    assert AuditEvent.objects.filter(action="spell.import_create").count() == 20_000
    before = state()
    again = imported(actor, data)
    assert again.unchanged == 20_000 and state()[:4] == before[:4]
    rows[19_999]["入职日期"] = "2021-02-30"  # one bad row: nothing written
    result = rejected(actor, xlsx(tmp_path, rows, name="bad.xlsx"))
    assert only_error(result) == ("invalid_date", 20_001, "入职日期")
    assert verify_chain().ok and guard_present()
