"""The funding (编外人员经费) and purchase (购买服务合同) imports: every error code with its row
and column and nothing written, the file's own baseline-year spending enabling a budget,
idempotent re-import, dry run, audit rows, the template workbooks and `bianzhi import`."""

from __future__ import annotations

import io
import json
from decimal import Decimal as M
from typing import Any

import pytest
import xlsxwriter
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.utils import timezone

from bianzhi.common.audit import verify_chain
from bianzhi.common.models import AuditEvent
from bianzhi.funds import services
from bianzhi.funds.importing import import_funding, import_purchases, template_bytes
from bianzhi.funds.models import ControlPlan, PurchaseContract, UnitFunding

from ..factories import next_uscc

FUNDING = ["统一社会信用代码", "年度", "预算数", "支出数"]
PURCHASES = ["合同编号", "统一社会信用代码", "服务目录项", "开始日期", "结束日期", "金额"]
NEXT_YEAR = timezone.localdate().year + 1


def xlsx(rows: list[list[Any]], headers: list[str]) -> bytes:
    """A workbook in memory: str cells as text, int/float cells as numbers, None blank."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("Sheet1")
    sheet.write_row(0, 0, headers)
    for r, cells in enumerate(rows, start=1):
        for c, value in enumerate(cells):
            if value is None:
                continue
            if isinstance(value, (int, float)):
                sheet.write_number(r, c, value)
            else:
                sheet.write_string(r, c, str(value))
    book.close()
    return buffer.getvalue()


def csv_bytes(rows: list[list[Any]], headers: list[str]) -> bytes:
    lines = [",".join(headers)] + [",".join("" if v is None else str(v) for v in cells) for cells in rows]
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def state() -> tuple[Any, ...]:
    return (sorted(UnitFunding.objects.values_list("unit_id", "year", "budget", "spending")),
            sorted(PurchaseContract.objects.values_list("number", "unit_id", "item", "start", "end", "amount")),
            AuditEvent.objects.count())


def triples(result) -> list[tuple[int | None, str | None, str]]:
    return [(e.row, e.field, e.code) for e in result.errors]


def funding(w, rows, *, actor=None, dry_run=False, name="funding.xlsx"):
    return import_funding(actor=actor or w.users.finance, data=xlsx(rows, FUNDING), filename=name, dry_run=dry_run)


def purchases(w, rows, *, actor=None, dry_run=False):
    return import_purchases(actor=actor or w.users.finance, data=xlsx(rows, PURCHASES), filename="purchases.xlsx",
                            dry_run=dry_run)


def rejected(result, before) -> list[tuple[int | None, str | None, str]]:
    """The errors of a refused import, after checking that nothing was written."""
    assert not result.ok and not result.committed
    assert (result.created, result.updated, result.unchanged) == (0, 0, 0)
    assert state() == before
    return triples(result)


# =========================================================================== funding


def test_funding_first_load_counts_the_files_own_baseline_spending(fund):
    w = fund
    th, child = w.tianhe_unit, w.tianhe_child
    before_events = AuditEvent.objects.count()
    # The budgets come first: the 2019 spending further down the file still sets their cap.
    result = funding(w, [
        [th.uscc, 2024, 100000, None],
        [child.uscc, "2025", "4000", "3900.5"],
        [th.uscc, 2019, None, 100000],
        [child.uscc, "2019年", None, "5,000"],
        [th.uscc, 2018, 250000, 240000.25],  # before the baseline year: history, no cap
    ])
    assert result.ok, [e.as_dict() for e in result.errors]
    assert (result.rows, result.created, result.updated, result.unchanged) == (5, 5, 0, 0)
    assert result.committed
    assert sorted(UnitFunding.objects.values_list("unit_id", "year", "budget", "spending")) == sorted([
        (th.pk, 2024, M("100000.00"), None), (th.pk, 2019, None, M("100000.00")),
        (th.pk, 2018, M("250000.00"), M("240000.25")),
        (child.pk, 2025, M("4000.00"), M("3900.50")), (child.pk, 2019, None, M("5000.00")),
    ])
    assert set(UnitFunding.objects.values_list("jurisdiction_path", flat=True)) == {th.jurisdiction_path}
    # One import event with the counts, then one funding.set per created row.
    events = list(AuditEvent.objects.filter(seq__gt=before_events).order_by("seq"))
    assert [e.action for e in events] == ["funding.import"] + ["funding.set"] * 5
    assert events[0].actor == w.users.finance and events[0].object_repr == "funding.xlsx"
    assert {k: events[0].after[k] for k in ("file", "sha256", "rows", "created", "updated", "unchanged")} == {
        "file": "funding.xlsx", "sha256": result.sha256, "rows": 5, "created": 5, "updated": 0, "unchanged": 0}
    by_object = {e.object_id: e for e in events[1:]}
    th_2024 = UnitFunding.objects.get(unit=th, year=2024)
    assert by_object[str(th_2024.pk)].before is None
    assert by_object[str(th_2024.pk)].after == {"unit": th.uscc, "year": 2024, "budget": "100000.00",
                                                 "spending": None, "file": result.sha256}
    assert by_object[str(th_2024.pk)].scope_path == th.jurisdiction_path
    assert verify_chain().ok


def test_the_files_baseline_spending_also_sets_a_refusing_cap(fund):
    w = fund
    th = w.tianhe_unit
    services.funding_set(actor=w.users.finance, unit_id=th.pk, year=2019, spending="500000")
    before = state()
    # The file lowers the 2019 spending: its own figure is the cap, not the registered one.
    result = funding(w, [[th.uscc, 2019, None, 100000], [th.uscc, 2024, "100000.01", None]])
    assert rejected(result, before) == [(3, "预算数", "budget_over_cap")]
    assert result.errors[0].value == "100000.01"
    assert "100,000.00" in result.errors[0].message
    # Without the 2019 row, the registered 500,000 is the cap.
    assert funding(w, [[th.uscc, 2024, "100000.01", None]]).ok


def test_a_lower_control_plan_caps_the_budget(fund):
    w = fund
    th = w.tianhe_unit
    ControlPlan.objects.create(unit=th, jurisdiction=th.jurisdiction, jurisdiction_path=th.jurisdiction_path,
                               year=2024, amount=M("80000"), case_number="SP-1", approved_on=timezone.localdate())
    before = state()
    result = funding(w, [[th.uscc, 2019, None, 100000], [th.uscc, 2024, 80000.01, None],
                         [th.uscc, 2023, 95000, None]])  # 2023 has no plan: the 2019 spending caps it
    assert rejected(result, before) == [(3, "预算数", "budget_over_cap")]
    result = funding(w, [[th.uscc, 2019, None, 100000], [th.uscc, 2024, 80000, None], [th.uscc, 2023, 95000, None]])
    assert result.ok and result.created == 3
    # A plan that is no longer current does not count.
    ControlPlan.objects.update(is_current=False)
    assert funding(w, [[th.uscc, 2024, 99000, None]]).updated == 1


def test_every_bad_funding_row_is_reported_and_nothing_written(fund):
    w = fund
    th = w.tianhe_unit
    services.funding_set(actor=w.users.finance, unit_id=th.pk, year=2019, spending="1000")
    before = state()
    result = funding(w, [
        [th.uscc, 2020, None, 1],                 # 2 fine
        [next_uscc("440106"), 2020, 1, 1],        # 3 unknown unit
        [w.yuexiu_unit.uscc, 2019, None, 1],      # 4 out of scope
        [th.uscc, 1999, None, 1],                 # 5 year before 2000
        [th.uscc, NEXT_YEAR + 1, None, 1],        # 6 after next year
        [th.uscc, "明年", None, 1],               # 7 not a year
        [th.uscc, 2021, -1, None],                # 8 negative
        [th.uscc, 2025, None, "十万"],            # 9 not a number
        [th.uscc, 2022, 1.234, None],             # 10 three decimals
        [th.uscc, 2023, None, None],              # 11 neither figure
        [th.uscc, 2020, None, 2],                 # 12 the key of row 2 again
        ["123", 2020, None, 1],                   # 13 not a credit code
        [None, 2020, None, 1],                    # 14 no credit code
        [th.uscc, 2024, 1000.01, None],           # 15 above the 2019 spending
        [w.tianhe_child.uscc, 2024, 1, None],     # 16 no cap known
        [th.uscc, None, None, 1],                 # 17 no year
    ])
    assert rejected(result, before) == [
        (3, "统一社会信用代码", "unit_not_found"),
        (4, "统一社会信用代码", "unit_not_found"),
        (5, "年度", "year_invalid"),
        (6, "年度", "year_invalid"),
        (7, "年度", "year_invalid"),
        (8, "预算数", "money_invalid"),
        (9, "支出数", "money_invalid"),
        (10, "预算数", "money_invalid"),
        (11, "预算数", "funding_empty"),
        (12, "年度", "duplicate_key"),
        (13, "统一社会信用代码", "uscc_length"),
        (14, "统一社会信用代码", "required"),
        (15, "预算数", "budget_over_cap"),
        (16, "预算数", "funding_cap_unknown"),
        (17, "年度", "required"),
    ]
    values = {e.row: e.value for e in result.errors}
    assert (values[3], values[5], values[9], values[13]) == (result.errors[0].value, 1999, "十万", "123")
    assert result.errors[9].params == {"first": 2}
    assert all(e.message for e in result.errors)
    assert result.preview == []


def test_funding_file_with_wrong_columns_or_no_rows(fund):
    w = fund
    before = state()
    result = import_funding(actor=w.users.finance, data=xlsx([[w.tianhe_unit.uscc, 1]], ["统一社会信用代码", "金额"]),
                            filename="f.xlsx", dry_run=False)
    assert rejected(result, before) == [(1, "金额", "unknown_column"), (1, "年度", "missing_column")]
    result = import_funding(actor=w.users.finance, data=xlsx([], FUNDING), filename="f.xlsx", dry_run=False)
    assert rejected(result, before) == [(None, None, "file_empty")]
    result = import_funding(actor=w.users.finance, data=b"PK\x03\x04junk", filename="f.xlsx", dry_run=False)
    assert rejected(result, before) == [(None, None, "file_unreadable")] and result.unreadable


def test_funding_reimport_is_idempotent_and_blank_cells_keep_values(fund):
    w = fund
    th = w.tianhe_unit
    rows = [[th.uscc, 2019, None, 100000], [th.uscc, 2024, 90000, 85000]]
    assert funding(w, rows).created == 2
    before = state()
    again = funding(w, rows)
    assert again.ok and (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert again.preview == []
    # Only the import event of the attempt was written.
    assert state()[:2] == before[:2] and state()[2] == before[2] + 1
    assert AuditEvent.objects.latest("seq").action == "funding.import"
    # An update: a blank budget keeps the registered one; the changed spending is audited.
    changed = funding(w, [[th.uscc, 2024, None, "86000"], [th.uscc, 2019, None, 100000]])
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 1)
    assert [(c.row, c.action, c.fields) for c in changed.preview] == [
        (2, "update", {"支出数": (M("85000.00"), M("86000.00"))})]
    row = UnitFunding.objects.get(unit=th, year=2024)
    assert (row.budget, row.spending) == (M("90000.00"), M("86000.00"))
    event = AuditEvent.objects.filter(action="funding.set").latest("seq")
    assert event.object_id == str(row.pk)
    assert event.before == {"budget": "90000.00", "spending": "85000.00"}
    assert event.after == {"unit": th.uscc, "year": 2024, "budget": "90000.00", "spending": "86000.00",
                           "file": changed.sha256}


def test_funding_dry_run_writes_nothing(fund):
    w = fund
    th = w.tianhe_unit
    services.funding_set(actor=w.users.finance, unit_id=th.pk, year=2019, spending="100000")
    before = state()
    result = funding(w, [[th.uscc, 2019, None, 90000], [th.uscc, 2024, 90000, None]], dry_run=True)
    assert result.ok and result.dry_run and not result.committed
    assert (result.created, result.updated, result.unchanged) == (1, 1, 0)
    assert [(c.row, c.action) for c in result.preview] == [(2, "update"), (3, "create")]
    assert state() == before
    # The same dry run refuses what the real import would refuse.
    result = funding(w, [[th.uscc, 2019, None, 90000], [th.uscc, 2024, 90001, None]], dry_run=True)
    assert triples(result) == [(3, "预算数", "budget_over_cap")] and state() == before


def test_funding_csv_and_permissions(fund):
    w = fund
    th = w.tianhe_unit
    data = csv_bytes([[th.uscc, "2019", "", "1200.50"]], FUNDING)
    result = import_funding(actor=w.users.finance, data=data, filename="f.csv", dry_run=False)
    assert result.ok and UnitFunding.objects.get(unit=th, year=2019).spending == M("1200.50")
    for actor in (w.users.tianhe_reviewer, w.users.tianhe_operator, w.users.yuexiu_reviewer):
        with pytest.raises(PermissionDenied):
            import_funding(actor=actor, data=data, filename="f.csv", dry_run=True)
    # Another district's finance reviewer does not see 天河区's units.
    result = import_funding(actor=w.users.yuexiu_finance, data=data, filename="f.csv", dry_run=False)
    assert triples(result) == [(2, "统一社会信用代码", "unit_not_found")]


# =========================================================================== purchases


def test_purchases_import_and_audit(fund):
    w = fund
    th = w.tianhe_unit
    before_events = AuditEvent.objects.count()
    result = purchases(w, [
        ["HT-2024-001", th.uscc, "物业管理服务", "2024-01-01", "2024-12-31", 120000],
        [20240002, w.tianhe_child.uscc, "catering", "2024/03/01", "2025年2月28日", "36,000.5"],
    ])
    assert result.ok, [e.as_dict() for e in result.errors]
    assert (result.rows, result.created, result.updated, result.unchanged) == (2, 2, 0, 0)
    contracts = {c.number: c for c in PurchaseContract.objects.all()}
    a, b = contracts["HT-2024-001"], contracts["20240002"]
    assert (a.unit_id, a.item, a.start.isoformat(), a.end.isoformat(), a.amount) == (
        th.pk, "property_management", "2024-01-01", "2024-12-31", M("120000.00"))
    assert (b.unit_id, b.item, b.start.isoformat(), b.end.isoformat(), b.amount) == (
        w.tianhe_child.pk, "catering", "2024-03-01", "2025-02-28", M("36000.50"))
    assert a.created_by == w.users.finance and a.jurisdiction_path == th.jurisdiction_path
    events = list(AuditEvent.objects.filter(seq__gt=before_events).order_by("seq"))
    assert [e.action for e in events] == ["contract.import", "contract.create", "contract.create"]
    assert events[0].after["created"] == 2 and events[0].after["sha256"] == result.sha256
    assert events[1].object_id == str(a.pk) and events[1].after == {
        "number": "HT-2024-001", "unit": th.uscc, "item": "property_management", "start": "2024-01-01",
        "end": "2024-12-31", "amount": "120000.00", "file": result.sha256}
    assert verify_chain().ok


def test_every_bad_purchase_row_is_reported_and_nothing_written(fund):
    w = fund
    th = w.tianhe_unit
    services.contract_create(actor=w.users.finance, unit_id=th.pk, number="HT-OLD", item="物业管理服务",
                             start="2024-01-01", end="2024-12-31", amount="1000")
    before = state()
    result = purchases(w, [
        ["HT-1", th.uscc, "物业管理服务", "2024-01-01", "2024-12-31", 1],          # 2 fine
        ["HT-1", th.uscc, "物业管理服务", "2024-01-01", "2024-12-31", 1],          # 3 number twice in the file
        ["HT-OLD", th.uscc, "物业管理服务", "2024-01-01", "2024-12-31", 2000],     # 4 registered, other amount
        ["HT-4", next_uscc("440106"), "物业管理服务", "2024-01-01", "2024-12-31", 1],  # 5 unknown unit
        ["HT-5", w.yuexiu_unit.uscc, "物业管理服务", "2024-01-01", "2024-12-31", 1],  # 6 out of scope
        ["HT-6", th.uscc, "保安服务", "2024-01-01", "2024-12-31", 1],              # 7 not in the catalogue
        ["HT-7", th.uscc, "餐饮服务", "2024-02-30", "2024-12-31", 1],              # 8 not a date
        ["HT-8", th.uscc, "餐饮服务", "2024-06-01", "2024-05-31", 1],              # 9 end before start
        ["HT-9", th.uscc, "餐饮服务", "2024-01-01", "2024-12-31", -5],             # 10 negative amount
        [None, th.uscc, "餐饮服务", "2024-01-01", "2024-12-31", 1],                # 11 no number
        ["X" * 65, th.uscc, "餐饮服务", "2024-01-01", "2024-12-31", 1],            # 12 number too long
        ["HT-12", th.uscc, "餐饮服务", "2024-01-01", "2024-12-31", "一万"],        # 13 not a number
        ["HT-13", th.uscc, None, "2024-01-01", None, 1],                           # 14 no item, no end
    ])
    assert rejected(result, before) == [
        (3, "合同编号", "duplicate_key"),
        (4, "合同编号", "contract_number_taken"),
        (5, "统一社会信用代码", "unit_not_found"),
        (6, "统一社会信用代码", "unit_not_found"),
        (7, "服务目录项", "unknown_service_item"),
        (8, "开始日期", "invalid_date"),
        (9, "结束日期", "contract_end_before_start"),
        (10, "金额", "money_invalid"),
        (11, "合同编号", "required"),
        (12, "合同编号", "too_long"),
        (13, "金额", "money_invalid"),
        (14, "服务目录项", "required"),
        (14, "结束日期", "required"),
    ]
    unknown_item = next(e for e in result.errors if e.code == "unknown_service_item")
    assert unknown_item.value == "保安服务" and "物业管理服务" in unknown_item.params["allowed"]


def test_a_registered_contract_again_is_unchanged(fund):
    w = fund
    th = w.tianhe_unit
    rows = [["HT-A", th.uscc, "物业管理服务", "2024-01-01", "2024-12-31", 5000],
            ["HT-B", th.uscc, "it_operations", "2024-01-01", "2025-12-31", 8000.5]]
    assert purchases(w, rows).created == 2
    before = state()
    again = purchases(w, rows)
    assert again.ok and (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert state()[:2] == before[:2] and state()[2] == before[2] + 1
    # The same number with another item, unit or end date is another contract: refused.
    before = state()
    changed = purchases(w, [["HT-A", th.uscc, "餐饮服务", "2024-01-01", "2024-12-31", 5000],
                            ["HT-B", w.tianhe_child.uscc, "it_operations", "2024-01-01", "2025-12-31", 8000.5],
                            ["HT-C", th.uscc, "餐饮服务", "2024-01-01", "2024-12-31", 1]])
    assert rejected(changed, before) == [(2, "合同编号", "contract_number_taken"),
                                         (3, "合同编号", "contract_number_taken")]


def test_purchases_dry_run_and_the_unit_operator(fund):
    w = fund
    th = w.tianhe_unit
    before = state()
    result = purchases(w, [["HT-A", th.uscc, "物业管理服务", "2024-01-01", "2024-12-31", 5000]], dry_run=True)
    assert result.ok and result.created == 1 and not result.committed
    assert [(c.row, c.key, c.action) for c in result.preview] == [(2, "HT-A", "create")]
    assert state() == before
    # A unit operator registers its own unit's contracts only.
    op = w.users.tianhe_operator
    result = purchases(w, [["HT-A", th.uscc, "物业管理服务", "2024-01-01", "2024-12-31", 5000],
                           ["HT-B", w.tianhe_child.uscc, "物业管理服务", "2024-01-01", "2024-12-31", 5000]], actor=op)
    assert rejected(result, before) == [(3, "统一社会信用代码", "unit_not_found")]
    assert purchases(w, [["HT-A", th.uscc, "物业管理服务", "2024-01-01", "2024-12-31", 5000]], actor=op).created == 1
    with pytest.raises(PermissionDenied):
        purchases(w, [], actor=w.users.tianhe_reviewer)


# =========================================================================== template workbooks


def test_template_workbooks(fund):
    from python_calamine import CalamineWorkbook

    w = fund
    funding_book = template_bytes("funding", w.users.finance)
    book = CalamineWorkbook.from_filelike(io.BytesIO(funding_book))
    assert book.get_sheet_by_index(0).to_python()[0] == FUNDING
    purchase_book = template_bytes("purchases", w.users.finance)
    book = CalamineWorkbook.from_filelike(io.BytesIO(purchase_book))
    assert book.get_sheet_by_index(0).to_python()[0] == PURCHASES
    lists = book.get_sheet_by_index(1).to_python()
    items = {r[0]: (r[1], r[2]) for r in lists[1:]}
    assert items["物业管理服务"][0] == "property_management"
    assert set(items["物业管理服务"][1].split("、")) == {"保安", "保洁", "绿化养护", "设施维修"}
    # The drop-down of 服务目录项 and the text format of the code column are in the sheet's XML.
    import zipfile

    sheet_xml = zipfile.ZipFile(io.BytesIO(purchase_book)).read("xl/worksheets/sheet1.xml").decode()
    assert 'type="list"' in sheet_xml and f"$A$2:$A${len(items) + 1}" in sheet_xml
    styles = zipfile.ZipFile(io.BytesIO(funding_book)).read("xl/styles.xml").decode()
    assert 'formatCode="@"' in styles  # code columns as text
    with pytest.raises(ValueError):
        template_bytes("bodies", w.users.finance)
    # The empty template itself is a valid (empty) file to fill in: no data rows yet.
    result = import_funding(actor=w.users.finance, data=funding_book, filename="t.xlsx", dry_run=True)
    assert triples(result) == [(None, None, "file_empty")]


# =========================================================================== the command


def run_import(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_command_funding_and_purchases(fund, tmp_path):
    from bianzhi.accounts.services import system_user

    w = fund
    th = w.tianhe_unit
    system_user()
    good = tmp_path / "funding.xlsx"
    good.write_bytes(xlsx([[th.uscc, 2019, None, 1000], [th.uscc, 2024, 900, None]], FUNDING))
    before = state()
    code, out, _err = run_import("funding", str(good), "--dry-run", "--as", "th_finance")
    assert code == 0 and state() == before and "funding.xlsx" in out
    code, out, _err = run_import("funding", str(good), "--json", "--as", "th_finance")
    answer = json.loads(out)
    assert code == 0 and answer["committed"] is True and answer["created"] == 2 and answer["errors"] == []
    assert AuditEvent.objects.filter(action="funding.import").latest("seq").actor_username == "th_finance"
    # Without --as: the system administrator of the province.
    code, out, _err = run_import("funding", str(good), "--json")
    assert code == 0 and json.loads(out)["unchanged"] == 2
    assert AuditEvent.objects.filter(action="funding.import").latest("seq").actor_username == "system"

    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(xlsx([[th.uscc, 2024, 1000.01, None], [w.yuexiu_unit.uscc, 2019, None, 1]], FUNDING))
    before = state()
    code, out, _err = run_import("funding", str(bad), "--json", "--as", "th_finance")
    assert code == 1 and state() == before
    assert [(e["row"], e["column"], e["code"]) for e in json.loads(out)["errors"]] == [
        (2, "预算数", "budget_over_cap"), (3, "统一社会信用代码", "unit_not_found")]
    code, out, _err = run_import("funding", str(bad), "--as", "th_finance")
    assert code == 1 and "budget_over_cap" in out
    # Unreadable file, unknown user, a role without the permission: usage (2).
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"PK\x03\x04 not a workbook")
    assert run_import("funding", str(junk), "--as", "th_finance")[0] == 2
    assert run_import("funding", str(tmp_path / "missing.xlsx"))[0] == 2
    assert run_import("funding", str(good), "--as", "nobody")[0] == 2
    assert run_import("funding", str(good), "--as", "th_reviewer")[0] == 2

    contracts = tmp_path / "contracts.csv"
    contracts.write_bytes(csv_bytes([["HT-1", th.uscc, "餐饮服务", "2024-01-01", "2024-12-31", "100"]], PURCHASES))
    code, out, _err = run_import("purchases", str(contracts), "--json", "--as", "th_operator")
    assert code == 0 and json.loads(out)["created"] == 1
    assert PurchaseContract.objects.get(number="HT-1").created_by == w.users.tianhe_operator
    code, out, _err = run_import("purchases", str(contracts), "--json")
    assert code == 0 and json.loads(out)["unchanged"] == 1
    contracts.write_bytes(csv_bytes([["HT-1", th.uscc, "餐饮服务", "2024-01-01", "2024-12-30", "100"]], PURCHASES))
    before = state()
    code, out, _err = run_import("purchases", str(contracts), "--json")
    assert code == 1 and state() == before
    assert json.loads(out)["errors"][0]["code"] == "contract_number_taken"
