"""The approvals engine: the whole journey, every error code with nothing changed, the audit
rows, separation of duties, process versions, working-day deadlines."""

from __future__ import annotations

import datetime as dt

import pytest

from bianzhi.common.errors import BianzhiError
from bianzhi.common.models import AuditEvent
from bianzhi.staffing import spells
from bianzhi.staffing.models import CapChange, HireAuthorisation, Spell
from bianzhi.workflow import services as wf
from bianzhi.workflow.models import Case, CaseEvent, Notification, ProcessDefinition, Step
from tests.workflow.conftest import HIRE, _pid

TODAY = dt.date(2026, 11, 26)  # a Thursday


def submit(actor, **changes):
    return wf.case_submit(actor=actor, kind="hire", data={**HIRE, **changes}, today=TODAY)


def act(actor, case, step, action="approve", opinion="同意", **kw):
    return wf.case_act(actor=actor, case_id=case.pk, step=step, action=action, opinion=opinion, today=TODAY, **kw)


def codes_of(call) -> list[str]:
    with pytest.raises(BianzhiError) as info:
        call()
    return info.value.codes


def state(case=None):
    """Everything the engine may write, to show that a refused call wrote nothing."""
    return (
        list(Case.objects.values_list("id", "status", "round", "stage_index", "result_ref", "payload")),
        list(Step.objects.values_list("id", "status", "actor_id", "opinion")),
        CaseEvent.objects.count(), Notification.objects.count(), AuditEvent.objects.count(),
        HireAuthorisation.objects.count(), CapChange.objects.count(),
    )


def review_all(flow, case):
    u = flow.users
    act(u.tianhe_reviewer, case, "establishment")
    act(u.finance, case, "finance")
    return act(u.hr, case, "hr")


# =========================================================================== the journey of the issue


def test_hire_journey_with_a_return_and_a_revision_ends_in_a_consumed_authorisation(flow):
    u = flow.users
    case = submit(u.tianhe_operator, quantity=2, post_names=["窗口服务员"])
    assert case.number == "SP-440106-2026-00001" and case.status == "in_review"
    steps = {s.code: s for s in case.steps.all()}
    assert set(steps) == {"establishment", "finance", "hr"}  # three parallel reviews
    assert {s.due_on for s in steps.values()} == {dt.date(2026, 12, 3)}  # 5 working days after Thu 26 Nov
    assert Notification.objects.filter(recipient=u.finance, case=case, kind="assigned").count() == 1
    assert not Notification.objects.filter(recipient=u.tianhe_operator, kind="assigned").exists()

    act(u.tianhe_reviewer, case, "establishment", opinion="规模符合")
    case = act(u.finance, case, "finance", action="return", opinion="请补充经费测算")
    assert case.status == "returned"
    assert Step.objects.get(case=case, code="hr").status == "cancelled"  # the parallel step closes too
    assert Notification.objects.filter(recipient=u.tianhe_operator, kind="returned").count() == 1

    case = wf.case_resubmit(actor=u.tianhe_operator, case_id=case.pk, data={"monthly_cost": "4300"},
                            note="已补充经费测算", today=TODAY)
    assert (case.status, case.round, case.payload["monthly_cost"]) == ("in_review", 2, "4300.00")
    assert set(case.steps.filter(round=2).values_list("code", flat=True)) == {"establishment", "finance", "hr"}
    review_all(flow, case)
    case.refresh_from_db()
    assert case.stage_index == 1
    assert list(case.steps.filter(status="active").values_list("code", flat=True)) == ["leading_group"]
    assert list(case.steps.get(code="leading_group").__class__.objects.filter(case=case, code="leading_group")
                .values_list("due_on", flat=True)) == [dt.date(2026, 12, 10)]  # 10 working days

    case = act(u.leader, case, "leading_group", opinion="同意，按程序招聘")
    assert case.status == "approved"
    auth = HireAuthorisation.objects.get(number=case.result_ref)
    assert (auth.unit, auth.post_class, auth.situation, auth.quantity, auth.used) == (
        flow.tianhe_unit, "general_auxiliary", "labour_contract", 2, 0)
    assert (auth.valid_from, auth.valid_to, auth.document_ref) == (TODAY, dt.date(2027, 5, 26), case.number)
    assert Notification.objects.filter(recipient=u.tianhe_operator, kind="decided").count() == 1

    spell = spells.spell_create(
        actor=u.tianhe_operator, unit_id=flow.tianhe_unit.pk, id_number=_pid(20), name="新员工",
        situation="劳动合同制聘用", post_class="普通辅助岗", work_type="窗口服务", post_name="窗口服务员",
        funding_source="财政拨款", hire_date=TODAY, authorisation_number=auth.number, mode="register", today=TODAY)
    auth.refresh_from_db()
    assert (spell.authorisation_id, auth.used) == (auth.pk, 1)

    trail = list(case.events.values_list("seq", "kind", "actor__username"))
    assert trail == [
        (1, "submit", "th_operator"), (2, "approve", "th_reviewer"), (3, "return", "th_finance"),
        (4, "resubmit", "th_operator"), (5, "approve", "th_reviewer"), (6, "approve", "th_finance"),
        (7, "approve", "th_hr"), (8, "approve", "th_leader"), (9, "decide", "th_leader"),
    ]
    actions = list(AuditEvent.objects.filter(object_type="workflow.case", object_id=str(case.pk))
                   .order_by("seq").values_list("action", flat=True))
    assert actions == ["case.submit", "case.approve", "case.return", "case.resubmit", "case.approve",
                       "case.approve", "case.approve", "case.approve"]
    created = AuditEvent.objects.get(action="authorisation.create")
    assert created.actor == u.leader and created.after["case"] == case.number
    final = AuditEvent.objects.filter(action="case.approve").order_by("-seq").first()
    assert final.after["status"] == "approved" and final.after["result"] == auth.number


def test_return_to_a_named_earlier_step_reopens_only_that_step(flow):
    u = flow.users
    case = submit(u.tianhe_operator)
    review_all(flow, case)
    case = act(u.leader, case, "leading_group", action="return", opinion="请财政部门复核经费", return_to="finance")
    assert case.status == "in_review" and case.stage_index == 0
    assert list(case.steps.filter(status="active").values_list("code", flat=True)) == ["finance"]
    act(u.finance, case, "finance", opinion="复核无误")
    case.refresh_from_db()
    assert case.stage_index == 1 and case.steps.filter(status="active", code="leading_group").count() == 1
    assert act(u.leader, case, "leading_group").status == "approved"


def test_reject_closes_the_case_and_creates_nothing(flow):
    u = flow.users
    case = submit(u.tianhe_operator)
    case = act(u.hr, case, "hr", action="reject", opinion="不符合条件")
    assert case.status == "rejected" and not case.steps.filter(status="active").exists()
    assert HireAuthorisation.objects.count() == 0
    assert codes_of(lambda: act(u.finance, case, "finance")) == ["case_closed"]


def test_withdraw_before_the_decision(flow):
    u = flow.users
    case = submit(u.tianhe_operator)
    before = state()
    assert codes_of(lambda: wf.case_withdraw(actor=u.tianhe_reviewer, case_id=case.pk)) == ["not_applicant"]
    assert state() == before
    case = wf.case_withdraw(actor=u.tianhe_operator, case_id=case.pk, reason="需求取消")
    assert case.status == "withdrawn" and not case.steps.filter(status="active").exists()
    assert Notification.objects.filter(recipient=u.hr, kind="withdrawn").count() == 1
    assert AuditEvent.objects.filter(action="case.withdraw").get().after["reason"] == "需求取消"
    before = state()
    assert codes_of(lambda: act(u.tianhe_reviewer, case, "establishment")) == ["case_closed"]
    assert codes_of(lambda: wf.case_withdraw(actor=u.tianhe_operator, case_id=case.pk)) == ["case_closed"]
    assert state() == before


# =========================================================================== bad input: error code, nothing written


def test_acting_not_mine_out_of_turn_twice_and_separation_of_duties(flow):
    u = flow.users
    case = submit(u.tianhe_operator)
    before = state()
    assert codes_of(lambda: act(u.finance, case, "establishment")) == ["step_not_yours"]
    assert codes_of(lambda: act(u.leader, case, "leading_group")) == ["step_not_active"]  # out of turn
    assert codes_of(lambda: act(u.tianhe_operator, case, "establishment")) == ["applicant_cannot_decide"]
    assert codes_of(lambda: act(u.city_leader, case, "hr")) == ["step_not_yours"]  # another jurisdiction's role
    assert codes_of(lambda: act(u.yuexiu_leader, case, "establishment")) == ["case_not_found"]  # out of scope
    assert codes_of(lambda: act(u.tianhe_reviewer, case, "nonexistent")) == ["step_not_active"]
    assert state() == before
    act(u.tianhe_reviewer, case, "establishment")
    before = state()
    assert codes_of(lambda: act(u.reviewer2, case, "establishment")) == ["step_already_decided"]
    assert codes_of(lambda: act(u.tianhe_reviewer, case, "establishment")) == ["step_already_decided"]
    assert state() == before


def test_one_person_cannot_act_for_two_departments(flow):
    """A district whose establishment reviewers also sit on the leading group's step."""
    u = flow.users
    wf.process_define(actor=u.tianhe_admin, code="hire", jurisdiction="440106", source_document="天河区编委会议纪要",
                      definition={"stages": [
                          {"name": "审核", "steps": [_step("establishment", "establishment_reviewer", "编办")]},
                          {"name": "审定", "steps": [_step("committee", "establishment_reviewer", "区编委")]}]})
    case = submit(u.tianhe_operator)
    act(u.tianhe_reviewer, case, "establishment")
    before = state()
    codes = codes_of(lambda: act(u.tianhe_reviewer, case, "committee"))
    assert codes == ["two_departments"]
    assert state() == before
    assert act(u.reviewer2, case, "committee").status == "approved"


def test_the_applicant_cannot_decide_even_with_the_right_role(flow):
    u = flow.users
    case = wf.case_submit(actor=u.tianhe_reviewer, kind="hire", data={**HIRE, "unit": flow.tianhe_unit.pk},
                          today=TODAY)
    before = state()
    assert codes_of(lambda: act(u.tianhe_reviewer, case, "establishment")) == ["applicant_cannot_decide"]
    assert state() == before
    assert not Notification.objects.filter(recipient=u.tianhe_reviewer, kind="assigned").exists()
    act(u.reviewer2, case, "establishment")


def test_opinion_action_and_return_target_rules(flow):
    u = flow.users
    case = submit(u.tianhe_operator)
    before = state()
    assert codes_of(lambda: act(u.tianhe_reviewer, case, "establishment", opinion="  ")) == ["opinion_required"]
    assert codes_of(lambda: act(u.tianhe_reviewer, case, "establishment", action="return", opinion="")) == [
        "opinion_required"]
    assert codes_of(lambda: act(u.tianhe_reviewer, case, "establishment", action="return", opinion="改",
                                return_to="hr")) == ["return_target_invalid"]
    assert codes_of(lambda: act(u.tianhe_reviewer, case, "establishment", action="escalate")) == [
        "action_not_allowed"]
    assert codes_of(lambda: act(u.tianhe_reviewer, case, "establishment", opinion="意" * 2001)) == [
        "opinion_too_long"]
    bad = wf.Upload("病毒.exe", b"MZ")
    assert codes_of(lambda: act(u.tianhe_reviewer, case, "establishment", uploads=[bad])) == ["attachment_type"]
    assert state() == before


@pytest.mark.parametrize(("changes", "expected"), [
    ({"quantity": 0}, ["quantity_invalid"]),
    ({"quantity": -3}, ["quantity_invalid"]),
    ({"quantity": "两"}, ["quantity_invalid"]),
    ({"post_names": ["财务助理"]}, ["key_post_banned"]),
    ({"post_names": ["机要文书"]}, ["key_post_banned"]),
    ({"situation": "退休返聘"}, ["situation_frozen"]),
    ({"post_class": "专业技术岗", "work_type": "信息技术"}, ["post_class_frozen"]),
    ({"quantity": 3, "post_names": ["窗口服务员"]}, ["cap_exceeded", "class_cap_exceeded"]),
    ({"post_class": "后勤保障岗", "work_type": "保洁", "situation": "劳务派遣"}, ["class_cap_exceeded"]),
    ({"work_type": "保洁"}, ["work_type_other_class"]),
    ({"situation": "合同工"}, ["unknown_situation"]),
    ({"funding_source": "捐赠"}, ["unknown_funding_source"]),
    ({"post_names": []}, ["post_names_invalid"]),
    ({"quantity": 1, "post_names": ["文员", "窗口服务员"]}, ["post_names_invalid"]),
    ({"reason": ""}, ["reason_required"]),
    ({"monthly_cost": "-1"}, ["cost_invalid"]),
])
def test_hire_application_bad_input_is_refused_with_nothing_written(flow, changes, expected):
    before = state()
    assert codes_of(lambda: submit(flow.users.tianhe_operator, **changes)) == expected
    assert state() == before


def test_out_of_scope_unit_and_wrong_role(flow):
    u = flow.users
    before = state()
    data = {**HIRE, "unit": flow.yuexiu_unit.pk}
    assert codes_of(lambda: wf.case_submit(actor=u.tianhe_reviewer, kind="hire", data=data, today=TODAY)) == [
        "unit_not_found"]
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        wf.case_submit(actor=u.finance, kind="hire", data={**HIRE, "unit": flow.tianhe_unit.pk}, today=TODAY)
    assert codes_of(lambda: wf.case_submit(actor=u.tianhe_operator, kind="bonus", data={}, today=TODAY)) == [
        "case_kind_unknown"]
    assert state() == before


def test_the_cap_is_rechecked_at_the_final_approval(flow):
    """Two applications of 2 places each pass the submit check; the second final approval finds
    the places taken by the first authorisation and is refused, the case unchanged."""
    u = flow.users
    first, second = submit(u.tianhe_operator, quantity=2), submit(u.tianhe_operator, quantity=2)
    for case in (first, second):
        review_all(flow, case)
    act(u.leader, first, "leading_group")
    before = state()
    assert codes_of(lambda: act(u.leader, second, "leading_group")) == ["cap_exceeded", "class_cap_exceeded"]
    assert state() == before
    assert Step.objects.get(case=second, code="leading_group").status == "active"
    assert act(u.leader, second, "leading_group", action="reject", opinion="名额已用完").status == "rejected"


def test_submitting_beyond_the_headroom_counts_approved_places(flow):
    u = flow.users
    case = submit(u.tianhe_operator, quantity=2)
    review_all(flow, case)
    act(u.leader, case, "leading_group")
    assert codes_of(lambda: submit(u.tianhe_operator)) == ["cap_exceeded", "class_cap_exceeded"]


# =========================================================================== cap change


def cap_case(actor, **data):
    return wf.case_submit(actor=actor, kind="cap_change", data={"reason": "业务调整", **data}, today=TODAY)


def test_cap_change_raises_a_professional_class_cap_as_an_approved_exception(flow):
    u = flow.users
    from bianzhi.staffing import services

    services.baseline_take(actor=u.tianhe_reviewer, scope="440106", as_of=dt.date(2019, 12, 31), retake=True)
    case = cap_case(u.tianhe_operator, post_class="普通辅助岗", cap=3)
    for who, step in ((u.tianhe_reviewer, "establishment"), (u.finance, "finance"), (u.leader, "leading_group")):
        case = act(who, case, step)
    assert case.status == "approved"
    change = CapChange.objects.get()
    assert (change.post_class, change.cap, change.valid_from, change.is_exception, change.document_ref) == (
        "general_auxiliary", 3, TODAY, False, case.number)
    assert AuditEvent.objects.get(action="cap.set").after["case"] == case.number


def test_cap_change_bad_input(flow):
    u = flow.users
    before = state()
    assert codes_of(lambda: cap_case(u.tianhe_operator, post_class="后勤保障岗", cap=2)) == ["cap_increase_forbidden"]
    assert codes_of(lambda: cap_case(u.tianhe_operator, post_class="执法辅助岗", cap=2)) == [
        "post_class_frozen"]  # no new categories
    assert codes_of(lambda: cap_case(u.tianhe_operator, post_class="", cap=5)) == ["cap_unchanged"]
    assert codes_of(lambda: cap_case(u.tianhe_operator, post_class="", cap=-1)) == ["cap_invalid"]
    assert codes_of(lambda: cap_case(u.tianhe_operator, post_class="岗位X", cap=1)) == ["unknown_post_class"]
    assert codes_of(lambda: cap_case(u.tianhe_operator, post_class="", cap=4, reason="")) == ["reason_required"]
    assert state() == before


def test_professional_increase_is_recorded_as_the_exception(flow):
    """A unit with 专业技术岗 in its baseline raises that cap: is_exception is set, which the
    class policy check (I15) recognises."""
    u = flow.users
    w = flow
    spells.spell_create(actor=u.tianhe_admin, unit_id=w.tianhe_child.pk, id_number=_pid(21),
                        name="技术员", situation="劳动合同制聘用", post_class="专业技术岗", work_type="信息技术",
                        post_name="网络管理员", funding_source="财政拨款", hire_date=dt.date(2018, 1, 1),
                        mode="inventory")
    from bianzhi.staffing import services

    services.baseline_take(actor=u.tianhe_reviewer, scope="440106", as_of=dt.date(2019, 12, 31), retake=True)
    case = cap_case(u.tianhe_reviewer, unit=w.tianhe_child.pk, post_class="专业技术岗", cap=2)
    for who, step in ((u.reviewer2, "establishment"), (u.finance, "finance"), (u.leader, "leading_group")):
        case = act(who, case, step)
    change = CapChange.objects.get(unit=w.tianhe_child)
    assert (change.post_class, change.cap, change.is_exception) == ("professional", 2, True)


# =========================================================================== processes as data


def _step(code, role, department, days=3):
    return {"code": code, "name": f"{department}审核", "role": role, "department": department, "days": days,
            "actions": ["approve", "return", "reject"], "return_to": ["applicant"]}


def test_a_district_adds_a_step_and_running_cases_keep_their_version(flow):
    u = flow.users
    running = submit(u.tianhe_operator)
    province = ProcessDefinition.objects.get(code="hire", jurisdiction__isnull=True)
    definition = {"stages": [*province.definition["stages"][:1],
                             {"name": "区委办会签", "steps": [_step("party_office", "issuing_office", "区委办公室")]},
                             *province.definition["stages"][1:]]}
    office = __import__("tests.factories", fromlist=["make_user"]).make_user(
        "th_office", "issuing_office", "440106")
    new = wf.process_define(actor=u.tianhe_admin, code="hire", jurisdiction="440106", definition=definition,
                            source_document="天河区编外人员管理办法（2026）")
    assert (new.version, new.jurisdiction.code, new.is_current) == (1, "440106", True)
    assert AuditEvent.objects.get(action="process.define", object_id=str(new.pk)).after["jurisdiction"] == "440106"

    case = submit(u.tianhe_operator, quantity=1)
    assert case.process == new and running.process == province
    review_all(flow, case)
    case.refresh_from_db()
    assert list(case.steps.filter(status="active").values_list("code", flat=True)) == ["party_office"]
    act(office, case, "party_office")
    assert act(u.leader, case, "leading_group").status == "approved"
    review_all(flow, running)  # the running case goes straight to the leading group, as it started
    running.refresh_from_db()
    assert list(running.steps.filter(status="active").values_list("code", flat=True)) == ["leading_group"]

    # a second change makes version 2; the first stays for the cases that used it
    again = wf.process_define(actor=u.tianhe_admin, code="hire", jurisdiction="440106",
                              definition=province.definition, source_document="恢复省默认流程")
    new.refresh_from_db()
    assert (again.version, new.is_current) == (2, False)
    # other districts keep the province default
    assert wf.process_for("hire", flow.yuexiu_unit.jurisdiction_path) == province


@pytest.mark.parametrize(("definition", "fragment"), [
    ({"stages": []}, "at least one stage"),
    ({"stages": [{"name": "审核", "steps": [{**_step("a", "boss", "编办")}]}]}, "role must be"),
    ({"stages": [{"name": "审核", "steps": [{**_step("a", "hr_reviewer", "编办"), "days": 0}]}]}, "days"),
    ({"stages": [{"name": "审核", "steps": [{**_step("a", "hr_reviewer", "编办"), "return_to": ["b"]}]}]},
     "return_to"),
    ({"stages": [{"name": "审核", "steps": [_step("a", "hr_reviewer", "编办"), _step("a", "hr_reviewer", "X")]}]},
     "used twice"),
    ("stages: [", "while parsing"),
])
def test_invalid_process_definitions_are_refused(flow, definition, fragment):
    before = (ProcessDefinition.objects.count(), AuditEvent.objects.count())
    with pytest.raises(BianzhiError) as info:
        wf.process_define(actor=flow.users.tianhe_admin, code="hire", jurisdiction="440106", definition=definition,
                          source_document="x")
    assert info.value.codes == ["process_invalid"] and fragment in info.value.errors[0].message
    assert (ProcessDefinition.objects.count(), AuditEvent.objects.count()) == before


def test_process_define_scope_and_role(flow):
    from django.core.exceptions import PermissionDenied

    u = flow.users
    definition = ProcessDefinition.objects.get(code="hire").definition
    with pytest.raises(BianzhiError) as info:
        wf.process_define(actor=u.tianhe_admin, code="hire", jurisdiction="440104", definition=definition,
                          source_document="x")
    assert info.value.codes == ["division_not_found"]
    with pytest.raises(PermissionDenied):
        wf.process_define(actor=u.tianhe_reviewer, code="hire", jurisdiction="440106", definition=definition,
                          source_document="x")


def test_processes_load_is_idempotent(flow):
    assert wf.processes_load() == {"created": 0, "calendar_days": 0}
    assert ProcessDefinition.objects.filter(jurisdiction__isnull=True).count() == 4


# =========================================================================== numbering


def test_case_numbers_are_sequential_per_jurisdiction_and_year(flow):
    u = flow.users
    a = submit(u.tianhe_operator)
    b = cap_case(u.tianhe_operator, post_class="", cap=4)
    assert (a.number, b.number) == ("SP-440106-2026-00001", "SP-440106-2026-00002")
    assert Spell.objects.filter(unit=flow.tianhe_unit).count() == 5
