"""The first load of the coordinating bodies (`bianzhi import bodies`): all or nothing with every
bad row reported (row, column, value, code), codes kept when given and valid and assigned when
empty (never colliding with a kept one), over-cap bodies accepted and raised for supervision,
idempotent re-import, dry run, audit rows, the template workbook and the command's exit codes."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest
import xlsxwriter
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db import transaction

from bianzhi.bodies import codes, services
from bianzhi.bodies.importing import TEMPLATE, import_bodies, template_bytes
from bianzhi.bodies.models import Body, BodyMember, BodyVersion
from bianzhi.common.audit import verify_chain
from bianzhi.common.models import AuditEvent, Sequence
from bianzhi.divisions.choices import Level
from bianzhi.divisions.models import Division
from bianzhi.orgs.choices import UnitStatus
from bianzhi.stats.models import Alert

from ..factories import make_unit, next_uscc

HEADERS = ["机构编码", "机构名称", "行政区划代码", "机构类型", "牵头单位代码", "办公室设在", "成员单位代码",
           "设立依据", "设立文号", "设立日期", "主要职责", "到期日期", "状态"]
TODAY = dt.date(2026, 11, 26)


def xlsx(rows: list[list[Any]], headers: list[str] = HEADERS) -> bytes:
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


def csv_bytes(rows: list[list[Any]], headers: list[str] = HEADERS) -> bytes:
    lines = [",".join(headers)] + [",".join("" if v is None else str(v) for v in cells) for cells in rows]
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def row(w, **over: Any) -> list[Any]:
    """One 天河区 body as the template has it; ``over`` replaces cells by field name."""
    base = {
        "code": None, "name": "天河区安全生产委员会", "division": "440106", "kind": "委员会",
        "lead": w.tianhe_unit.uscc, "office": w.units[0].uscc, "members": ";".join(u.uscc for u in w.units[:5]),
        "ground": "法律法规明确规定", "document": "穗天办发〔2018〕12号", "set_up_on": "2018-03-15",
        "duties": "统筹协调全区安全生产工作。", "planned_end": None, "status": "存续",
    }
    base.update(over)
    return [base[c.field] for c in TEMPLATE.columns]


def state() -> tuple[Any, ...]:
    return (sorted(Body.objects.values_list("code", "name", "status", "duties")),
            BodyMember.objects.count(), BodyVersion.objects.count(), Alert.objects.count(),
            sorted(Sequence.objects.filter(key__startswith="body:").values_list("key", "value")),
            AuditEvent.objects.count())


def load(w, rows: list[list[Any]], *, actor=None, dry_run=False, name="bodies.xlsx", data: bytes | None = None):
    return import_bodies(actor=actor or w.users.tianhe_admin, data=data if data is not None else xlsx(rows),
                         filename=name, dry_run=dry_run, today=TODAY)


def triples(result) -> list[tuple[int | None, str | None, str]]:
    return [(e.row, e.field, e.code) for e in result.errors]


def rejected(result, before) -> list[tuple[int | None, str | None, str]]:
    assert not result.ok and not result.committed
    assert (result.created, result.updated, result.unchanged) == (0, 0, 0) and result.preview == []
    assert state() == before
    return triples(result)


def wrong_check(code: str) -> str:
    return code[:-1] + ("0" if code[-1] != "0" else "1")


# =========================================================================== loading


def test_first_load_assigns_and_keeps_codes(bodies_world):
    w = bodies_world
    kept = codes.make_code("440106", 2018, 7)
    rows = [
        row(w),
        row(w, code=kept, name="天河区食品安全委员会", kind="committee", ground="major_work",
            members=f"{w.units[5].uscc}；{w.units[6].uscc}、{w.units[5].uscc}", office=None),
        row(w, name="天河区河长制工作领导小组", kind="领导小组", set_up_on="2018/06/01", planned_end="2020-12-31"),
        row(w, name="天河区创卫工作指挥部", kind="指挥部", status="已撤销", set_up_on="2012年5月4日",
            members=";".join(u.uscc for u in w.units[:3])),
    ]
    result = load(w, rows)
    assert result.ok and result.committed, triples(result)
    assert (result.rows, result.created, result.updated, result.unchanged) == (4, 4, 0, 0)
    bodies = {b.name: b for b in Body.objects.all()}
    assert all(codes.is_valid(b.code) for b in bodies.values()) and len({b.code for b in bodies.values()}) == 4
    # The given code is kept; the two new 2018 bodies take the sequences after it; 2012 starts at 1.
    assert bodies["天河区食品安全委员会"].code == kept
    assert bodies["天河区安全生产委员会"].code == codes.make_code("440106", 2018, 8)
    assert bodies["天河区河长制工作领导小组"].code == codes.make_code("440106", 2018, 9)
    assert bodies["天河区创卫工作指挥部"].code == codes.make_code("440106", 2012, 1)
    assert [c.key for c in result.preview] == [bodies[n].code for n in (
        "天河区安全生产委员会", "天河区食品安全委员会", "天河区河长制工作领导小组", "天河区创卫工作指挥部")]
    first = bodies["天河区安全生产委员会"]
    assert (first.kind, first.ground, first.lead_unit, first.office_unit, first.set_up_on, first.status,
            first.jurisdiction.code, first.jurisdiction_path) == (
        "committee", "law_requires", w.tianhe_unit, w.units[0], dt.date(2018, 3, 15), "active", "440106",
        first.jurisdiction.path)
    food = bodies["天河区食品安全委员会"]
    assert (food.kind, food.ground, food.office_unit) == ("committee", "major_work", None)
    assert sorted(food.members.values_list("unit_id", flat=True)) == sorted([w.units[5].pk, w.units[6].pk])
    assert bodies["天河区河长制工作领导小组"].planned_end == dt.date(2020, 12, 31)
    # Members from the set-up date; the revoked body keeps its members in its history only.
    assert set(first.members.values_list("valid_from", "valid_to")) == {(dt.date(2018, 3, 15), None)}
    revoked = bodies["天河区创卫工作指挥部"]
    assert (revoked.status, revoked.set_up_on, revoked.members.count()) == ("revoked", dt.date(2012, 5, 4), 0)
    # The history starts with an import version holding the procedure's own snapshot.
    for body in bodies.values():
        version = BodyVersion.objects.get(body=body)
        assert (version.change, version.valid_from, version.valid_to, version.created_by) == (
            "import", body.set_up_on, None, w.users.tianhe_admin)
        if body.status == "active":
            assert version.snapshot == services.snapshot(body)
    assert len(BodyVersion.objects.get(body=revoked).snapshot["members"]) == 3
    # Audit: one import event, one per body; the chain holds.
    events = AuditEvent.objects.filter(action__in=["bodies.import", "body.import"]).order_by("seq")
    assert [e.action for e in events] == ["bodies.import"] + ["body.import"] * 4
    assert events[0].after["created"] == 4 and events[0].after["sha256"] == result.sha256
    assert {e.object_id for e in events[1:]} == {str(b.pk) for b in bodies.values()}
    assert verify_chain().ok
    # The counters moved past the kept code: a later set-up of the same division and year goes on.
    with transaction.atomic():
        assert services.new_code("440106", 2018) == codes.make_code("440106", 2018, 10)


def test_a_kept_code_in_the_current_year_does_not_collide_with_a_later_set_up(bodies_world):
    w = bodies_world
    kept = codes.make_code("440106", 2026, 40)
    result = load(w, [row(w, code=kept, set_up_on="2026-01-05")])
    assert result.ok, triples(result)
    with transaction.atomic():  # the procedure's set-up in 2026 takes 41, not 1 … 40
        assert services.new_code("440106", 2026) == codes.make_code("440106", 2026, 41)


def test_csv_and_the_province_administrator(bodies_world):
    w = bodies_world
    rows = [row(w, division="440104", lead=w.yuexiu_unit.uscc, office=None, members=w.tianhe_unit.uscc,
                name="越秀区安全生产委员会"),
            row(w, division="440000", lead=w.city_unit.uscc, office=None, members=None, name="广东省示例委员会")]
    result = load(w, [], actor=w.users.province_admin, data=csv_bytes(rows), name="bodies.csv")
    assert result.ok and result.created == 2, triples(result)
    assert set(Body.objects.values_list("jurisdiction__code", flat=True)) == {"440104", "440000"}


def test_every_error_is_reported_and_nothing_is_written(bodies_world):
    w = bodies_world
    # Registered: an active body of 天河区 and one of 越秀区 (loaded by the province).
    assert load(w, [row(w, name="天河区已有委员会")]).ok
    yuexiu = load(w, [row(w, division="440104", lead=w.yuexiu_unit.uscc, office=None, members=None)],
                  actor=w.users.province_admin)
    assert yuexiu.ok
    yuexiu_code = Body.objects.get(jurisdiction__code="440104").code
    town = Division.objects.create(code="440106901", name="示例街道", level=Level.TOWN,
                                   parent=Division.objects.get(code="440106"),
                                   path=Division.objects.get(code="440106").path + "440106901/", depth=3)
    assert town.pk
    abolished = make_unit("440106", "天河区已撤销单位")
    abolished.status = UnitStatus.ABOLISHED
    abolished.save()
    unknown = next_uscc("440106")
    bad_uscc = wrong_check(w.units[1].uscc)
    good = codes.make_code("440106", 2018, 3)
    rows = [
        row(w, name="甲"),                                                                    # 2 fine
        row(w, name="乙", division="440104"),                                                 # 3
        row(w, name="丙", kind="协会"),                                                        # 4
        row(w, name="丁", ground=None),                                                        # 5
        row(w, name="戊", ground="上级要求"),                                                   # 6
        row(w, name="己", lead=w.yuexiu_unit.uscc),                                           # 7
        row(w, name="庚", members=f"{w.units[1].uscc};{unknown};{bad_uscc}"),                 # 8
        row(w, name="天河区已有委员会", code=good),                                             # 9
        row(w, name="甲"),                                                                    # 10
        row(w, name="辛", code=wrong_check(good)),                                             # 11
        row(w, name="壬", code=codes.make_code("440104", 2018, 5)),                            # 12
        row(w, name="癸", code=yuexiu_code, division="440104"),                                # 13
        row(w, name="子", set_up_on="2018-02-30", planned_end="明年"),                          # 14
        row(w, name="丑", planned_end="2017-01-01"),                                          # 15
        row(w, name="寅", status="撤销"),                                                       # 16
        row(w, name=None, duties=None),                                                      # 17
        row(w, name="卯", set_up_on="2027-01-01"),                                            # 18
        row(w, name="辰", members=abolished.uscc),                                            # 19
        row(w, name="巳", division="440106901"),                                              # 20
        row(w, name="午", code=good, duties="另一个"),                                         # 21
        row(w, name="未", office=w.units[1].uscc + "X"),                                      # 22
    ]
    before = state()
    result = load(w, rows)
    assert rejected(result, before) == [
        (3, "行政区划代码", "division_not_found"),
        (4, "机构类型", "unknown_body_kind"),
        (5, "设立依据", "ground_required"),
        (6, "设立依据", "ground_required"),
        (7, "牵头单位代码", "unit_not_found"),
        (8, "成员单位代码", "unit_not_found"),
        (8, "成员单位代码", "uscc_checksum"),
        (9, "机构名称", "body_name_taken"),
        (10, "机构名称", "duplicate_key"),
        (11, "机构编码", "body_code_invalid"),
        (12, "机构编码", "body_code_invalid"),
        (13, "机构编码", "body_code_taken"),
        (13, "行政区划代码", "division_not_found"),
        (14, "设立日期", "invalid_date"),
        (14, "到期日期", "invalid_date"),
        (15, "到期日期", "planned_end_before_set_up"),
        (16, "状态", "invalid_choice"),
        (17, "机构名称", "required"),
        (17, "主要职责", "required"),
        (18, "设立日期", "date_in_future"),
        (19, "成员单位代码", "unit_not_active"),
        (20, "行政区划代码", "body_division_level"),
        (21, "机构编码", "duplicate_key"),
        (22, "办公室设在", "uscc_length"),
    ]
    errors = {(e.row, e.code): e for e in result.errors}
    # The value of a member-unit error is the code concerned, not the whole cell.
    assert errors[(8, "unit_not_found")].value == unknown
    assert errors[(8, "uscc_checksum")].value == bad_uscc
    assert errors[(7, "unit_not_found")].value == w.yuexiu_unit.uscc
    assert errors[(10, "duplicate_key")].params == {"first": 2}
    assert "委员会" in errors[(4, "unknown_body_kind")].message
    assert all(e.message for e in result.errors)


def test_wrong_check_character_and_header_errors(bodies_world):
    w = bodies_world
    before = state()
    code = codes.make_code("440106", 2018, 1)
    result = load(w, [row(w, code=wrong_check(code))])
    assert rejected(result, before) == [(2, "机构编码", "body_code_invalid")]
    assert result.errors[0].value == wrong_check(code)
    # The ground column may not be left out, nor any other required one; unknown columns are named.
    headers = [h for h in HEADERS if h not in ("设立依据", "状态")] + ["备注"]
    result = load(w, [], data=xlsx([["x"] * len(headers)], headers))
    assert sorted(triples(result)) == sorted([(1, "备注", "unknown_column"), (1, "设立依据", "missing_column"),
                                              (1, "状态", "missing_column")])
    assert load(w, [], data=b"PK\x03\x04 junk").unreadable
    with pytest.raises(PermissionDenied):
        load(w, [row(w)], actor=w.users.tianhe_reviewer)


def test_over_the_cap_is_accepted_and_raised_for_supervision(bodies_world):
    from bianzhi.stats.alerts import evaluate

    w = bodies_world
    members = ";".join(u.uscc for u in w.units[:22])
    result = load(w, [row(w, members=members), row(w, name="天河区小委员会")])
    assert result.ok, triples(result)
    body = Body.objects.get(name="天河区安全生产委员会")
    assert body.members.count() == 22
    alert = Alert.objects.get()
    assert (alert.kind, alert.key, alert.unit, alert.status, alert.raised_on) == (
        "member_cap", f"member_cap:{body.code}", w.tianhe_unit, "open", TODAY)
    assert alert.params == {"count": 22, "cap": 20, "body": body.code, "name": body.name}
    assert alert.jurisdiction_path == w.tianhe_unit.jurisdiction_path
    assert alert.events.get().action == "raised"
    assert AuditEvent.objects.filter(action="alert.raise", object_id=str(alert.pk)).count() == 1
    # An evaluation of dynamic supervision leaves it alone (it does not compute member caps).
    evaluate(today=TODAY)
    alert.refresh_from_db()
    assert alert.status == "open"
    # A re-import still over the cap refreshes it; one within the cap resolves it.
    assert load(w, [row(w, members=";".join(u.uscc for u in w.units[:21]))]).updated == 1
    alert.refresh_from_db()
    assert (alert.status, alert.params["count"]) == ("open", 21)
    assert load(w, [row(w, members=";".join(u.uscc for u in w.units[:20]))]).updated == 1
    alert.refresh_from_db()
    assert (alert.status, alert.resolved_on) == ("resolved", TODAY) and alert.note
    assert Alert.objects.count() == 1


def test_the_cap_is_the_jurisdictions_rule(bodies_world):
    from bianzhi.staffing.models import RuleItem

    w = bodies_world
    tianhe = Division.objects.get(code="440106")
    RuleItem.objects.create(table="setting", code="member_cap", name="成员单位上限", value="4",
                            jurisdiction=tianhe, jurisdiction_path=tianhe.path, valid_from=dt.date(2020, 1, 1))
    assert load(w, [row(w)]).ok
    assert Alert.objects.get().params["cap"] == 4


def test_idempotent_re_import_and_updates(bodies_world):
    w = bodies_world
    rows = [row(w), row(w, name="天河区创卫工作指挥部", status="已撤销", set_up_on="2012-05-04"),
            row(w, name="天河区河长制工作领导小组", kind="领导小组")]
    first = load(w, rows)
    assert first.created == 3
    before = state()
    again = load(w, rows)
    assert (again.ok, again.created, again.updated, again.unchanged) == (True, 0, 0, 3)
    after = state()
    assert after[:-1] == before[:-1] and after[-1] == before[-1] + 1  # only the bodies.import event
    # The same with the codes filled in (an export of the registry re-imported).
    coded = [row(w, code=Body.objects.get(name="天河区安全生产委员会").code), *rows[1:]]
    assert load(w, coded).unchanged == 3
    # Changes: duties of one, members of one, the third revoked.
    body = Body.objects.get(name="天河区安全生产委员会")
    river = Body.objects.get(name="天河区河长制工作领导小组")
    changed = [row(w, duties="统筹协调全区安全生产和应急管理工作。", members=";".join(u.uscc for u in w.units[1:6])),
               rows[1], row(w, name="天河区河长制工作领导小组", kind="领导小组", status="已撤销")]
    result = load(w, changed)
    assert (result.created, result.updated, result.unchanged) == (0, 2, 1), triples(result)
    update = next(c for c in result.preview if c.key == body.code)
    assert update.fields["主要职责"] == ("统筹协调全区安全生产工作。", "统筹协调全区安全生产和应急管理工作。")
    body.refresh_from_db()
    river.refresh_from_db()
    assert body.duties.startswith("统筹协调全区安全生产和应急") and river.status == "revoked"
    assert not river.members.filter(valid_to__isnull=True).exists()
    assert set(body.members.filter(valid_to__isnull=True).values_list("unit_id", flat=True)) == {
        u.pk for u in w.units[1:6]}
    assert body.members.get(unit=w.units[0]).valid_to == TODAY
    assert body.members.get(unit=w.units[5]).valid_from == TODAY
    versions = list(BodyVersion.objects.filter(body=body).order_by("valid_from"))
    assert [(v.valid_from, v.valid_to) for v in versions] == [(dt.date(2018, 3, 15), TODAY), (TODAY, None)]
    assert versions[-1].snapshot == services.snapshot(body)
    event = AuditEvent.objects.filter(action="body.import", object_id=str(body.pk)).latest("seq")
    assert event.before["duties"] == "统筹协调全区安全生产工作。" and event.after["code"] == body.code
    # A second change on the same day corrects that day's version in place.
    assert load(w, [row(w, duties="又一次调整。", members=";".join(u.uscc for u in w.units[1:6]))]).updated == 1
    assert BodyVersion.objects.filter(body=body).count() == 2
    assert BodyVersion.objects.get(body=body, valid_to__isnull=True).snapshot["duties"] == "又一次调整。"
    # A new active body may take the name of a revoked one; a rename through the code frees a name.
    result = load(w, [row(w, code=body.code, name="天河区安全生产委员会（更名）"),
                      row(w, name="天河区安全生产委员会", set_up_on="2020-01-01")])
    assert (result.created, result.updated) == (1, 1), triples(result)
    assert Body.objects.filter(name="天河区安全生产委员会", status="active").exclude(pk=body.pk).exists()


def test_a_body_changed_through_the_procedure_is_not_changed_by_an_import(bodies_world):
    w = bodies_world
    assert load(w, [row(w)]).ok
    body = Body.objects.get()
    with transaction.atomic():
        body.duties = "经审批调整的职责。"
        body.save()
        BodyVersion.objects.filter(body=body).update(valid_to=TODAY)
        BodyVersion.objects.create(body=body, valid_from=TODAY, change="duties", snapshot=services.snapshot(body))
    before = state()
    result = load(w, [row(w)])
    assert rejected(result, before) == [(2, "机构名称", "change_outside_procedure")]
    # The file that says what the registry says is fine.
    assert load(w, [row(w, duties="经审批调整的职责。")]).unchanged == 1


def test_dry_run_writes_nothing_and_previews_the_codes(bodies_world):
    w = bodies_world
    rows = [row(w), row(w, name="天河区食品安全委员会", set_up_on="2019-01-01")]
    before = state()
    dry = load(w, rows, dry_run=True)
    assert dry.ok and not dry.committed and dry.created == 2
    assert state() == before
    real = load(w, rows)
    assert [c.key for c in dry.preview] == [c.key for c in real.preview]
    assert [c.key for c in real.preview] == list(Body.objects.order_by("set_up_on").values_list("code", flat=True))
    # A dry run of a bad file reports the same errors.
    bad = [row(w, name="甲", kind="协会")]
    assert triples(load(w, bad, dry_run=True)) == triples(load(w, bad)) == [(2, "机构类型", "unknown_body_kind")]


def test_template_workbook(bodies_world):
    w = bodies_world
    book = template_bytes(w.users.tianhe_admin)
    from python_calamine import CalamineWorkbook

    workbook = CalamineWorkbook.from_filelike(io.BytesIO(book))
    first = workbook.get_sheet_by_index(0).to_python()
    lists = workbook.get_sheet_by_index(1).to_python()
    assert first[0] == HEADERS
    words = {cell for line in lists for cell in line if cell}
    assert {"委员会", "领导小组", "联席会议", "指挥部", "其他", "法律法规明确规定", "对应上级设立",
            "落实重大工作需要", "存续", "已撤销"} <= words
    # The empty template is an (empty) file to fill in.
    assert triples(load(w, [], data=book, name="t.xlsx")) == [(None, None, "file_empty")]


# =========================================================================== the command


def run_import(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_command_exit_codes(bodies_world, tmp_path):
    from bianzhi.accounts.services import system_user

    w = bodies_world
    system_user()
    good = tmp_path / "bodies.xlsx"
    good.write_bytes(xlsx([row(w), row(w, name="天河区食品安全委员会")]))
    before = state()
    code, out, _err = run_import("bodies", str(good), "--dry-run", "--as", "th_admin")
    assert code == 0 and state() == before and "bodies.xlsx" in out
    code, out, _err = run_import("bodies", str(good), "--json", "--as", "th_admin")
    answer = json.loads(out)
    assert code == 0 and answer["committed"] is True and answer["created"] == 2 and answer["errors"] == []
    assert AuditEvent.objects.filter(action="bodies.import").latest("seq").actor_username == "th_admin"
    code, out, _err = run_import("bodies", str(good), "--json")  # the system administrator
    assert code == 0 and json.loads(out)["unchanged"] == 2

    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(xlsx([row(w, name="甲", kind="协会"), row(w, name="乙", lead=w.yuexiu_unit.uscc)]))
    before = state()
    code, out, _err = run_import("bodies", str(bad), "--json", "--as", "th_admin")
    assert code == 1 and state() == before
    assert [(e["row"], e["column"], e["code"]) for e in json.loads(out)["errors"]] == [
        (2, "机构类型", "unknown_body_kind"), (3, "牵头单位代码", "unit_not_found")]
    code, out, _err = run_import("bodies", str(bad), "--as", "th_admin")
    assert code == 1 and "unknown_body_kind" in out
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"PK\x03\x04 not a workbook")
    assert run_import("bodies", str(junk), "--as", "th_admin")[0] == 2
    assert run_import("bodies", str(tmp_path / "missing.xlsx"))[0] == 2
    assert run_import("bodies", str(good), "--as", "nobody")[0] == 2
    assert run_import("bodies", str(good), "--as", "th_reviewer")[0] == 2


# =========================================================================== gaps of the procedure
# Noticed while building the first load; pinned here until the procedure handles them.


def test_a_set_up_led_by_a_street_unit_is_refused_or_runs_at_the_county(bodies_world):
    from bianzhi.common.errors import BianzhiError

    from .test_procedure import run, submit

    w = bodies_world
    tianhe = Division.objects.get(code="440106")
    Division.objects.create(code="440106901", name="示例街道", level=Level.TOWN, parent=tianhe,
                            path=tianhe.path + "440106901/", depth=tianhe.depth + 1)
    street = make_unit("440106901", "示例街道办事处")
    try:
        case = submit(w, lead_unit=street.pk)
    except BianzhiError:
        return  # refused at submission: fine
    case = run(w, case)
    body = Body.objects.get(code=case.result_ref.split()[0])
    assert codes.is_valid(body.code)


def test_a_merger_may_take_the_name_of_a_merged_body(bodies_world):
    from .test_procedure import run, setup_body, submit

    w = bodies_world
    a, _ = setup_body(w)
    b, _ = setup_body(w, name="天河区消防安全委员会", duties="统筹消防安全工作。", members=[u.pk for u in w.units[4:8]])
    case = run(w, submit(w, "body_merge", body=a.code, others=[b.code], name=b.name, reason="整合设置"))
    a.refresh_from_db()
    assert (case.status, a.name, a.code) == ("approved", "天河区消防安全委员会", a.code)


def test_the_web_import_dry_run_then_confirm(bodies_world, settings, tmp_path):
    """The first load from the page: template, upload, check report, confirm (the shared import pages)."""
    import re

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    settings.DATA_DIR = tmp_path
    w = bodies_world
    client = Client()
    client.force_login(w.users.tianhe_admin)
    assert client.get("/bodies/import/template/").status_code == 200
    data = xlsx([row(w)])
    page = client.post("/bodies/import/", {"action": "upload",
                                          "file": SimpleUploadedFile("机构.xlsx", data)}).content.decode()
    assert re.search(r'data-count="created">1<', page) and Body.objects.count() == 0
    sha = re.search(r'name="sha256" value="([0-9a-f]{64})"', page).group(1)
    response = client.post("/bodies/import/", {"action": "confirm", "sha256": sha})
    assert response.status_code == 302 and Body.objects.count() == 1
    assert codes.is_valid(Body.objects.get().code)
    assert Client().get("/bodies/import/").status_code == 302  # not logged in
    reviewer = Client()
    reviewer.force_login(w.users.tianhe_reviewer)
    assert reviewer.get("/bodies/import/").status_code == 403  # administrators load bodies
