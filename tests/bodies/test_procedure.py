"""The one procedure for every change of a coordinating body, end to end on the approvals
engine: nothing changes until the general office issues the document, then the registry
changes in that transaction; codes stay with the body for life and are never reused."""

from __future__ import annotations

import datetime as dt

import pytest

from bianzhi.bodies import codes, selectors, services
from bianzhi.bodies.models import Body, BodyMember, BodyVersion, TaskGroup
from bianzhi.common.errors import BianzhiError
from bianzhi.common.models import AuditEvent
from bianzhi.workflow import services as wf

from .conftest import SETUP

TODAY = dt.date(2026, 11, 26)


def codes_of(call):
    with pytest.raises(BianzhiError) as info:
        call()
    return info.value.codes


def submit(w, case_kind="body_setup", actor=None, **data):
    base = ({**SETUP, "lead_unit": w.tianhe_unit.pk, "members": [u.pk for u in w.units[:5]]}
            if case_kind == "body_setup" else {})
    return wf.case_submit(actor=actor or w.users.tianhe_reviewer, kind=case_kind, data={**base, **data}, today=TODAY)


def run(w, case, extras=None):
    u = w.users
    reviewer = u.reviewer2 if case.applicant_id == u.tianhe_reviewer.pk else u.tianhe_reviewer
    case = wf.case_act(actor=reviewer, case_id=case.pk, step="establishment", action="approve", opinion="同意",
                       today=TODAY, extras=extras)
    assert not Body.objects.filter(name=case.payload.get("name", "")).exclude(code=case.payload.get("body", "")
                                                                             ).exists() or case.kind != "body_setup"
    case = wf.case_act(actor=u.leader, case_id=case.pk, step="committee", action="approve", opinion="同意",
                       today=TODAY)
    return wf.case_act(actor=u.office, case_id=case.pk, step="general_office", action="approve", today=TODAY)


def setup_body(w, **data):
    case = run(w, submit(w, **data))
    return Body.objects.get(code=case.result_ref.split()[0]), case


def test_set_up_through_the_procedure(bodies_world):
    w = bodies_world
    case = submit(w)
    assert Body.objects.count() == 0
    case = run(w, case)
    assert case.status == "approved"
    body = Body.objects.get()
    assert codes.is_valid(body.code) and body.code.startswith(f"YX440106{TODAY.year}00001")
    assert (body.name, body.kind, body.ground, body.lead_unit, body.status, body.set_up_on) == (
        "天河区安全生产委员会", "committee", "law_requires", w.tianhe_unit, "active", TODAY)
    assert sorted(BodyMember.objects.filter(body=body).values_list("unit__name", flat=True)) == sorted(
        u.name for u in w.units[:5])
    number = case.result_ref.split()[1]
    assert body.set_up_document == number
    version = BodyVersion.objects.get(body=body)
    assert (version.change, version.document_number, version.snapshot["name"]) == ("set_up", number,
                                                                                    body.name)
    assert AuditEvent.objects.filter(action="body.set_up").count() == 1


def test_bad_set_up_applications_write_nothing(bodies_world):
    w = bodies_world
    setup_body(w)
    from bianzhi.workflow.models import Case

    before = Case.objects.count()
    cases = [
        ({"name": SETUP["name"]}, ["body_name_taken"]),
        ({"name": "新机构", "ground": ""}, ["ground_required"]),
        ({"name": "新机构", "members": [w.yuexiu_unit.pk]}, ["unit_not_found"]),
        ({"name": "新机构", "lead_unit": w.yuexiu_unit.pk}, ["unit_not_found"]),
        ({"name": "新机构", "negative": {}}, ["negative_answer_required"] * 3),
        ({"name": "新机构", "members": [u.pk for u in w.units[:21]]}, ["member_cap_exceeded"]),
        ({"name": "新机构", "ground": "对应上级设立", "parent_body": "YX44000020260000"}, ["body_code_invalid"]),
        ({"name": "新机构", "ground": "对应上级设立", "parent_body": codes.make_code("440000", 2020, 7)},
         ["parent_body_required"]),  # valid, but no such body above
        ({"name": "新机构", "ground": "对应上级设立"}, ["parent_body_required"]),
        ({"name": "新机构", "kind": "协会"}, ["unknown_body_kind"]),
    ]
    for data, expected in cases:
        assert codes_of(lambda data=data: submit(w, **data)) == expected, data
    assert Case.objects.count() == before
    # over the cap with a recorded exception is accepted
    body, _case = setup_body(w, name="天河区城市管理委员会", members=[u.pk for u in w.units[:21]],
                             over_cap_reason="涉及全部街道和相关部门，确需纳入。", duties="统筹城市管理。")
    assert body.members.count() == 21 and body.over_cap_reason


def test_a_close_match_needs_the_reviewers_reason(bodies_world):
    w = bodies_world
    setup_body(w)
    case = submit(w, name="天河区安全生产工作领导小组", kind="领导小组")
    matches = selectors.similar_bodies(path=case.jurisdiction_path, name=case.payload["name"],
                                       duties=case.payload["duties"])
    assert matches and matches[0].candidate.name == "天河区安全生产委员会" and matches[0].score > 0.5
    assert codes_of(lambda: wf.case_act(actor=w.users.reviewer2, case_id=case.pk, step="establishment",
                                        action="approve", opinion="同意", today=TODAY)) == [
        "similarity_reason_required"]
    case = wf.case_act(actor=w.users.reviewer2, case_id=case.pk, step="establishment", action="approve",
                       opinion="同意", today=TODAY, extras={"similarity_reason": "专项整治任务，期限一年，到期撤销。"})
    assert case.events.get(kind="approve").params["extras"] == {"similarity_reason": "专项整治任务，期限一年，到期撤销。"}


def test_rename_keeps_the_code_and_revoke_ends_it(bodies_world):
    w = bodies_world
    body, _ = setup_body(w)
    code = body.code
    case = run(w, submit(w, "body_rename", body=code, name="天河区安全生产委员会（新）", reason="规范名称"))
    body.refresh_from_db()
    assert (body.code, body.name, case.status) == (code, "天河区安全生产委员会（新）", "approved")
    case = run(w, submit(w, "body_revoke", body=code, situation="工作任务已完成", reason="任务完成"))
    body.refresh_from_db()
    assert (body.status, body.ended_on, body.members.filter(valid_to__isnull=True).count()) == ("revoked", TODAY, 0)
    # a revoked body can be neither renamed nor revoked again; its code is never reused
    assert codes_of(lambda: submit(w, "body_rename", body=code, name="又一个", reason="x")) == ["body_not_active"]
    assert codes_of(lambda: submit(w, "body_revoke", body=code, situation="工作任务已完成", reason="x")) == [
        "body_not_active"]
    again, _ = setup_body(w, name="天河区安全生产委员会")
    assert again.code != code and codes.parts(again.code)[2] == codes.parts(code)[2] + 1
    assert list(BodyVersion.objects.filter(body=body).values_list("change", flat=True)) == [
        "set_up", "rename", "revoke"]


def test_merge_keeps_the_survivors_code_and_carries_members_and_groups(bodies_world):
    w = bodies_world
    a, _ = setup_body(w)
    b, _ = setup_body(w, name="天河区消防安全委员会", duties="统筹消防安全工作。", members=[u.pk for u in w.units[4:8]])
    TaskGroup.objects.create(body=b, name="高层建筑消防专项小组", lead_unit=w.units[5], valid_from=TODAY)
    run(w, submit(w, "body_merge", body=a.code, others=[b.code], reason="职责相近，整合设置"))
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, b.status, b.merged_into, b.code) == ("active", "merged", a, b.code)
    assert a.members.filter(valid_to__isnull=True).count() == 8  # units 0–7, the shared one once
    assert list(TaskGroup.objects.filter(body=a).values_list("name", flat=True)) == ["高层建筑消防专项小组"]


def test_bad_codes_and_changes_outside_the_procedure(bodies_world):
    w = bodies_world
    body, case = setup_body(w)
    wrong = body.code[:-1] + ("0" if body.code[-1] != "0" else "1")
    assert codes_of(lambda: submit(w, "body_rename", body=wrong, name="新名称", reason="x")) == ["body_code_invalid"]
    assert codes_of(lambda: submit(w, "body_duties", body=body.code, duties=body.duties, reason="x")) == [
        "nothing_changes"]
    assert codes_of(lambda: services.apply_change(case=case, actor=w.users.office, today=TODAY)) == [
        "change_outside_procedure"]
    assert codes_of(lambda: submit(w, "body_members", actor=w.users.yuexiu_reviewer, body=body.code,
                                   members=[], reason="x")) == ["body_not_found"]


def test_task_groups_are_set_up_and_ended_through_the_procedure(bodies_world):
    w = bodies_world
    body, _ = setup_body(w)
    case = run(w, submit(w, "body_task_group", body=body.code, task_group="危险化学品专项小组",
                         lead_unit=w.units[2].uscc, members=[w.units[3].pk, w.units[4].pk], duties="专项整治危险化学品。",
                         reason="开展专项整治"))
    group = TaskGroup.objects.get(body=body)
    assert (case.status, group.name, group.lead_unit, group.valid_from, group.valid_to) == (
        "approved", "危险化学品专项小组", w.units[2], TODAY, None)
    assert sorted(group.members.values_list("pk", flat=True)) == [w.units[3].pk, w.units[4].pk]
    assert codes_of(lambda: submit(w, "body_task_group", body=body.code, task_group="危险化学品专项小组",
                                   lead_unit=w.units[2].uscc, reason="x")) == ["task_group_taken"]
    assert codes_of(lambda: submit(w, "body_task_group", body=body.code, task_group="不存在的小组", end=True,
                                   reason="x")) == ["task_group_not_found"]
    run(w, submit(w, "body_task_group", body=body.code, task_group="危险化学品专项小组", end=True, reason="整治结束"))
    group.refresh_from_db()
    assert group.valid_to == TODAY
    assert list(BodyVersion.objects.filter(body=body).values_list("change", flat=True)) == [
        "set_up", "task_group", "task_group_end"]


def test_the_task_group_form_page(bodies_world):
    from django.test import Client

    w = bodies_world
    body, _ = setup_body(w)
    client = Client()
    client.force_login(w.users.tianhe_reviewer)
    page = client.get(f"/bodies/{body.pk}/apply/task-group/")
    assert page.status_code == 200 and 'name="task_group"' in page.content.decode()
    response = client.post(f"/bodies/{body.pk}/apply/task-group/", {
        "body": body.code, "task_group": "督查专项小组", "lead_unit": w.units[1].uscc,
        "members": [str(w.units[2].pk)], "reason": "加强督查"})
    assert response.status_code == 302
    from bianzhi.workflow.models import Case

    assert Case.objects.filter(kind="body_task_group").get().payload["task_group"] == "督查专项小组"
