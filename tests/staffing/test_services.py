"""Every error code of the 编外人员 services, that nothing is written on error, and the audit rows."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command

from bianzhi.common.codes import make_resident_id
from bianzhi.common.errors import BianzhiError
from bianzhi.common.models import AuditEvent
from bianzhi.orgs.models import Person
from bianzhi.staffing import selectors, services, spells
from bianzhi.staffing.models import (
    Baseline,
    BaselineCount,
    CapChange,
    HireAuthorisation,
    PolicyFlag,
    RuleItem,
    Spell,
)
from tests.factories import clear_id

from ..factories import make_unit

D = dt.date
TODAY = D(2022, 6, 30)
BASELINE_DATE = D(2019, 12, 31)
EXIT_DATE = D(2021, 1, 1)
CLOSE_DATE = D(2022, 1, 1)


def _state():
    return tuple(m.objects.count() for m in (
        Spell, Person, PolicyFlag, HireAuthorisation, AuditEvent, RuleItem, Baseline, BaselineCount, CapChange))


def _refused(call, *codes):
    before = _state()
    with pytest.raises(BianzhiError) as exc:
        call()
    assert sorted(exc.value.codes) == sorted(codes)
    assert _state() == before
    return exc.value


def pid(n: int, region: str = "440106") -> str:
    return make_resident_id(region, D(1990, 1, 1) + dt.timedelta(days=n), n)


def hire(actor, unit, n: int = 1, *, mode: str = "inventory", **overrides):
    params = dict(
        unit_id=unit.pk, id_number=pid(n), name=f"测试员{n}", situation="劳动合同制聘用", post_class="普通辅助岗",
        work_type="文秘文书", post_name="文员", funding_source="财政拨款", hire_date=D(2018, 3, 1), mode=mode,
        today=TODAY,
    )
    params.update(overrides)
    return spells.spell_create(actor=actor, **params)


def last_event(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).order_by("-seq").first()


@pytest.fixture
def w(world, rules):
    return world


@pytest.fixture
def stock(w):
    """天河区测试局 at the 2019-12-31 baseline: 2 普通辅助岗 (labour contract) and 1 后勤保障岗 (dispatched),
    recorded in inventory mode, baseline taken for 天河区."""
    admin = w.users.tianhe_admin
    hire(admin, w.tianhe_unit, 1)
    hire(admin, w.tianhe_unit, 2)
    hire(admin, w.tianhe_unit, 3, situation="劳务派遣", post_class="后勤保障岗", work_type="保洁")
    services.baseline_take(actor=w.users.tianhe_reviewer, scope="440106", as_of=BASELINE_DATE)
    return w


def authorise(w, post_class="普通辅助岗", quantity=1, **kw):
    params = dict(unit_id=w.tianhe_unit.pk, post_class=post_class, quantity=quantity, valid_from=D(2021, 1, 1))
    params.update(kw)
    return spells.authorisation_create(actor=w.users.tianhe_reviewer, **params)


def register(w, n, auth, **kw):
    params = dict(mode="register", hire_date=D(2021, 3, 1), authorisation_number=auth.number if auth else "")
    params.update(kw)
    return hire(w.users.tianhe_operator, w.tianhe_unit, n, **params)


# =========================================================================== spell_create: successes


def test_inventory_create_records_person_spell_and_audit(w):
    spell = hire(w.users.tianhe_admin, w.tianhe_unit, 1, key_post="无", education="大学本科", monthly_cost="4500.5",
                 contract_end="2021-02-28")
    assert (spell.situation, spell.post_class, spell.work_type, spell.funding_source, spell.key_post) == (
        "labour_contract", "general_auxiliary", "clerical", "fiscal", "")
    assert (spell.source, spell.education, str(spell.monthly_cost), spell.contract_end) == (
        "inventory", "bachelor", "4500.50", D(2021, 2, 28))
    person = spell.person
    assert (person.name, clear_id(person), person.jurisdiction_id, person.education) == (
        "测试员1", pid(1), w.tianhe_unit.jurisdiction_id, "bachelor")
    event = last_event("spell.create")
    assert event.object_type == "staffing.spell" and event.object_id == str(spell.pk)
    assert event.actor == w.users.tianhe_admin and event.scope_path == w.tianhe_unit.jurisdiction_path
    assert event.before is None
    assert event.after["person"] == person.masked_id and pid(1) not in str(event.after)
    assert {k: event.after[k] for k in ("unit", "situation", "post_class", "hire_date", "monthly_cost", "mode")} == {
        "unit": w.tianhe_unit.uscc, "situation": "labour_contract", "post_class": "general_auxiliary",
        "hire_date": "2018-03-01", "monthly_cost": "4500.50", "mode": "inventory"}
    assert "flags" not in event.after
    assert last_event("person.create").object_id == str(person.pk)


def test_codes_are_accepted_as_well_as_names_and_an_existing_person_is_reused(w):
    first = hire(w.users.tianhe_admin, w.tianhe_unit, 1, leave_date=D(2019, 1, 1), exit_reason="辞职")
    assert (first.leave_date, first.exit_reason) == (D(2019, 1, 1), "resigned")
    people = Person.objects.count()
    # The next spell of the same person starts on the first day the previous one no longer counts.
    second = hire(w.users.province_admin, w.yuexiu_unit, 1, situation="dispatched", post_class="logistics",
                  work_type="security", funding_source="own_funds", hire_date=D(2019, 1, 1))
    assert second.person_id == first.person_id and Person.objects.count() == people
    assert (second.situation, second.post_class, second.work_type) == ("dispatched", "logistics", "security")


def test_inventory_accepts_a_key_post_and_flags_it(w):
    spell = hire(w.users.tianhe_admin, w.tianhe_unit, 1, key_post="财务")
    assert spell.key_post == "finance"
    flag = PolicyFlag.objects.get()
    assert (flag.code, flag.spell, flag.unit, flag.raised_on, flag.resolved_on) == (
        "key_post_banned", spell, w.tianhe_unit, TODAY, None)
    assert flag.jurisdiction_path == w.tianhe_unit.jurisdiction_path
    assert last_event("spell.create").after["flags"] == ["key_post_banned"]


def test_inventory_after_the_baseline_flags_every_policy_breach(stock):
    w = stock
    spell = hire(w.users.tianhe_admin, w.tianhe_unit, 9, hire_date=D(2021, 2, 1), situation="退休返聘",
                 key_post="人事")
    codes = sorted(PolicyFlag.objects.filter(spell=spell).values_list("code", flat=True))
    assert codes == ["cap_exceeded", "class_cap_exceeded", "key_post_banned", "situation_frozen"]
    assert PolicyFlag.objects.get(spell=spell, code="cap_exceeded").params == {"cap": 3}


def test_inventory_before_the_baseline_date_only_flags_key_posts(stock):
    w = stock  # the unit is at its cap, but a record from before the baseline date is part of the stock
    hire(w.users.tianhe_admin, w.tianhe_unit, 9, hire_date=D(2019, 6, 1), situation="退休返聘")
    assert not PolicyFlag.objects.exists()


def test_register_hire_consumes_its_authorisation(stock):
    w = stock
    services.cap_set(actor=w.users.tianhe_reviewer, unit_id=w.tianhe_unit.pk, cap=5, valid_from=D(2021, 1, 1))
    services.cap_set(actor=w.users.tianhe_reviewer, unit_id=w.tianhe_unit.pk, cap=4, valid_from=D(2021, 1, 1),
                     post_class="general_auxiliary")
    auth = authorise(w, quantity=1)
    spell = register(w, 10, auth)
    auth.refresh_from_db()
    assert (auth.used, auth.remaining, spell.authorisation, spell.source) == (1, 0, auth, "form")
    event = last_event("authorisation.use")
    assert event.object_id == str(auth.pk) and event.actor == w.users.tianhe_operator
    assert (event.before, event.after) == ({"used": 0}, {"used": 1, "spell": spell.pk})
    assert last_event("spell.create").after["authorisation"] == auth.number
    # quantity 1: the second hire with the same authorisation is refused, nothing consumed
    _refused(lambda: register(w, 11, auth), "hire_authorisation_invalid")
    auth.refresh_from_db()
    assert auth.used == 1


def test_baseline_caps_refuse_a_hire_until_an_approved_cap_change(stock):
    w = stock
    baseline = Baseline.objects.get()
    assert (baseline.total, baseline.as_of) == (3, BASELINE_DATE)
    ctx = selectors.unit_contexts([w.tianhe_unit], D(2021, 3, 1))[w.tianhe_unit.pk]
    assert (ctx.has_baseline, ctx.total_cap, ctx.current_total) == (True, 3, 3)
    assert ctx.class_caps == {"general_auxiliary": 2, "logistics": 1}
    assert ctx.baseline_situations == {"labour_contract", "dispatched"}
    auth = authorise(w, quantity=2)
    err = _refused(lambda: register(w, 10, auth), "cap_exceeded", "class_cap_exceeded")
    assert {e.code: e.message for e in err.errors}["cap_exceeded"].count("3") == 1
    services.cap_set(actor=w.users.tianhe_reviewer, unit_id=w.tianhe_unit.pk, cap=4, valid_from=D(2021, 1, 1),
                     document_ref="穗编〔2021〕1号")
    _refused(lambda: register(w, 10, auth), "class_cap_exceeded")
    services.cap_set(actor=w.users.tianhe_reviewer, unit_id=w.tianhe_unit.pk, cap=3, valid_from=D(2021, 1, 1),
                     post_class="general_auxiliary")
    register(w, 10, auth)
    assert selectors.unit_contexts([w.tianhe_unit], D(2021, 3, 1))[w.tianhe_unit.pk].current_total == 4
    # the next one passes the new total cap of 4 again
    _refused(lambda: register(w, 11, auth), "cap_exceeded", "class_cap_exceeded")


def test_unit_operator_only_hires_into_its_own_unit(stock):
    w = stock
    services.cap_set(actor=w.users.tianhe_reviewer, unit_id=w.tianhe_unit.pk, cap=9, valid_from=D(2021, 1, 1))
    services.cap_set(actor=w.users.tianhe_reviewer, unit_id=w.tianhe_unit.pk, cap=9, valid_from=D(2021, 1, 1),
                     post_class="general_auxiliary")
    auth = authorise(w, quantity=3)
    assert register(w, 10, auth).unit == w.tianhe_unit
    for unit in (w.tianhe_child, w.yuexiu_unit):
        _refused(lambda unit=unit: register(w, 11, auth, unit_id=unit.pk), "unit_not_found")


# =========================================================================== spell_create: errors


BAD_VALUES = [
    ({"situation": "合同工"}, ["unknown_situation"]),
    ({"post_class": "辅助岗"}, ["unknown_post_class"]),
    ({"work_type": "打字"}, ["unknown_work_type"]),
    ({"work_type": "保安"}, ["work_type_other_class"]),
    ({"key_post": "会计"}, ["unknown_key_post"]),
    ({"funding_source": "财政"}, ["unknown_funding_source"]),
    ({"education": "博士"}, ["unknown_education"]),
    ({"hire_date": TODAY + dt.timedelta(days=1)}, ["hire_in_future"]),
    ({"hire_date": "2021-02-30"}, ["invalid_date"]),
    ({"hire_date": None}, ["required"]),
    ({"leave_date": D(2018, 3, 1), "exit_reason": "辞职"}, ["leave_not_after_hire"]),
    ({"leave_date": D(2019, 3, 1)}, ["exit_without_reason"]),
    ({"exit_reason": "辞职"}, ["reason_without_exit"]),
    ({"leave_date": D(2019, 3, 1), "exit_reason": "跳槽"}, ["unknown_exit_reason"]),
    ({"id_number": pid(1)[:-1] + ("0" if pid(1)[-1] != "0" else "1")}, ["id_checksum"]),
    ({"id_number": "4401061990"}, ["id_length"]),
    ({"id_number": "440106199002300011"}, ["id_birth_date"]),
    ({"name": ""}, ["name_required"]),
    ({"name": "名" * 51}, ["name_required"]),
    ({"post_name": " "}, ["post_name_required"]),
    ({"monthly_cost": "-1"}, ["cost_invalid"]),
    ({"monthly_cost": "1.234"}, ["cost_invalid"]),
    ({"monthly_cost": "很多"}, ["cost_invalid"]),
    ({"unit_id": 999999}, ["unit_not_found"]),
    ({"unit_id": "abc"}, ["unit_not_found"]),
    # everything at once
    ({"situation": "x", "post_class": "y", "work_type": "z", "funding_source": "?", "name": "", "post_name": "",
      "monthly_cost": -5, "hire_date": TODAY + dt.timedelta(days=3)},
     ["unknown_situation", "unknown_post_class", "unknown_work_type", "unknown_funding_source", "name_required",
      "post_name_required", "cost_invalid", "hire_in_future"]),
]


@pytest.mark.parametrize(("overrides", "codes"), BAD_VALUES)
def test_format_errors_refuse_in_inventory_mode(w, overrides, codes):
    _refused(lambda: hire(w.users.tianhe_admin, w.tianhe_unit, 1, **overrides), *codes)


@pytest.mark.parametrize(("overrides", "codes"), BAD_VALUES[:8])
def test_format_errors_refuse_in_register_mode(stock, overrides, codes):
    w = stock
    services.cap_set(actor=w.users.tianhe_reviewer, unit_id=w.tianhe_unit.pk, cap=9, valid_from=D(2021, 1, 1))
    services.cap_set(actor=w.users.tianhe_reviewer, unit_id=w.tianhe_unit.pk, cap=9, valid_from=D(2021, 1, 1),
                     post_class="general_auxiliary")
    auth = authorise(w, quantity=5)
    overrides = {"hire_date": D(2021, 3, 1)} | overrides
    _refused(lambda: register(w, 10, auth, **overrides), *codes)
    auth.refresh_from_db()
    assert auth.used == 0


def test_ended_unit_refuses_new_records(w):
    unit = make_unit("440106", "已撤销中心")
    unit.status, unit.ended_on = "abolished", D(2019, 1, 1)
    unit.save()
    _refused(lambda: hire(w.users.tianhe_admin, unit, 1, hire_date=D(2019, 1, 1)), "unit_not_active")
    hire(w.users.tianhe_admin, unit, 1, hire_date=D(2018, 1, 1), leave_date=D(2019, 1, 1), exit_reason="辞退")


def test_name_mismatch_names_the_registered_name_only_in_scope(w):
    hire(w.users.province_admin, w.yuexiu_unit, 1, name="张三丰", id_number=pid(1, "440104"),
         leave_date=D(2018, 12, 1), exit_reason="辞职")
    err = _refused(lambda: hire(w.users.tianhe_admin, w.tianhe_unit, 1, name="李四", id_number=pid(1, "440104"),
                                hire_date=D(2019, 1, 1)), "person_name_mismatch")
    assert "张**" in err.errors[0].message and "张三丰" not in str(err)
    err = _refused(lambda: hire(w.users.province_admin, w.tianhe_unit, 1, name="李四", id_number=pid(1, "440104"),
                                hire_date=D(2019, 1, 1)), "person_name_mismatch")
    assert "张三丰" in err.errors[0].message


def test_overlap_across_units_is_refused_without_revealing_out_of_scope_units(w):
    hire(w.users.province_admin, w.yuexiu_unit, 1, hire_date=D(2018, 1, 1))
    err = _refused(lambda: hire(w.users.tianhe_admin, w.tianhe_unit, 1, hire_date=D(2020, 1, 1)), "spell_overlap")
    assert w.yuexiu_unit.name not in err.errors[0].message and "2018" not in err.errors[0].message
    err = _refused(lambda: hire(w.users.province_admin, w.tianhe_unit, 1, hire_date=D(2020, 1, 1)), "spell_overlap")
    assert w.yuexiu_unit.name in err.errors[0].message and "2018-01-01" in err.errors[0].message
    # a spell that ended before also overlaps when the new one starts earlier
    _refused(lambda: hire(w.users.province_admin, w.tianhe_unit, 1, hire_date=D(2017, 1, 1),
                          leave_date=D(2018, 1, 2), exit_reason="辞职"), "spell_overlap")
    # ending on the day the other starts is no overlap
    hire(w.users.province_admin, w.tianhe_unit, 1, hire_date=D(2017, 1, 1), leave_date=D(2018, 1, 1),
         exit_reason="辞职")


def test_register_policy_errors(stock):
    w = stock
    auth = authorise(w, quantity=5)
    services.cap_set(actor=w.users.tianhe_reviewer, unit_id=w.tianhe_unit.pk, cap=9, valid_from=D(2021, 1, 1))
    services.cap_set(actor=w.users.tianhe_reviewer, unit_id=w.tianhe_unit.pk, cap=9, valid_from=D(2021, 1, 1),
                     post_class="general_auxiliary")
    _refused(lambda: register(w, 10, auth, key_post="人事"), "key_post_banned")
    _refused(lambda: register(w, 10, auth, situation="退休返聘"), "situation_frozen")
    pro = authorise(w, post_class="专业技术岗", quantity=1)
    _refused(lambda: register(w, 10, pro, post_class="专业技术岗", work_type="法律事务"), "post_class_frozen")
    # 后勤保障岗 must fall: with a raised class cap the hire is still refused (one in post at the year start)
    services.cap_set(actor=w.users.tianhe_reviewer, unit_id=w.tianhe_unit.pk, cap=3, valid_from=D(2021, 1, 1),
                     post_class="logistics")
    logistics = authorise(w, post_class="后勤保障岗", quantity=1)
    _refused(lambda: register(w, 10, logistics, situation="劳务派遣", post_class="后勤保障岗", work_type="保安"),
             "class_must_reduce")
    _refused(lambda: register(w, 10, auth, key_post="涉密", situation="退休返聘"), "key_post_banned",
             "situation_frozen")


def test_register_without_a_baseline_is_refused(w):
    auth = spells.authorisation_create(actor=w.users.city_reviewer, unit_id=w.yuexiu_unit.pk, post_class="普通辅助岗",
                                       quantity=1, valid_from=D(2021, 1, 1))
    _refused(lambda: hire(w.users.city_reviewer, w.yuexiu_unit, 1, mode="register", hire_date=D(2021, 3, 1),
                          authorisation_number=auth.number), "no_baseline")


def test_register_needs_a_fitting_authorisation(stock):
    w = stock
    services.cap_set(actor=w.users.tianhe_reviewer, unit_id=w.tianhe_unit.pk, cap=9, valid_from=D(2021, 1, 1))
    services.cap_set(actor=w.users.tianhe_reviewer, unit_id=w.tianhe_unit.pk, cap=9, valid_from=D(2021, 1, 1),
                     post_class="general_auxiliary")
    _refused(lambda: register(w, 10, None), "hire_authorisation_required")
    _refused(lambda: register(w, 10, None, authorisation_number="YG-440106-2021-99999"),
             "hire_authorisation_invalid")
    other_unit = spells.authorisation_create(actor=w.users.tianhe_reviewer, unit_id=w.tianhe_child.pk,
                                             post_class="普通辅助岗", quantity=1, valid_from=D(2021, 1, 1))
    other_class = authorise(w, post_class="后勤保障岗")
    expired = authorise(w, valid_from=D(2020, 1, 1), valid_to=D(2021, 3, 1))
    not_yet = authorise(w, valid_from=D(2021, 3, 2))
    other_situation = authorise(w, situation="劳务派遣")
    revoked = authorise(w)
    HireAuthorisation.objects.filter(pk=revoked.pk).update(status="revoked")
    for auth in (other_unit, other_class, expired, not_yet, other_situation, revoked):
        _refused(lambda auth=auth: register(w, 10, auth), "hire_authorisation_invalid")
    # the same authorisation used with the situation it names and on its first day
    register(w, 10, other_situation, situation="劳务派遣", hire_date=D(2021, 1, 1))


def test_mode_and_permissions(w):
    _refused(lambda: hire(w.users.tianhe_admin, w.tianhe_unit, 1, mode="survey"), "invalid_choice")
    for actor, mode in ((w.users.tianhe_reviewer, "inventory"), (w.users.tianhe_operator, "inventory"),
                        (w.users.tianhe_supervisor, "register")):
        before = _state()
        with pytest.raises(PermissionDenied):
            hire(actor, w.tianhe_unit, 1, mode=mode)
        assert _state() == before


# =========================================================================== spell_exit


def test_exit_records_leave_date_reason_and_audit(w):
    spell = hire(w.users.tianhe_admin, w.tianhe_unit, 1)
    done = spells.spell_exit(actor=w.users.tianhe_operator, spell_id=spell.pk, leave_date=D(2021, 7, 1),
                             exit_reason="合同期满")
    assert (done.leave_date, done.exit_reason) == (D(2021, 7, 1), "contract_expired")
    spell.refresh_from_db()
    assert spell.leave_date == D(2021, 7, 1)
    event = last_event("spell.exit")
    assert event.object_id == str(spell.pk) and event.actor == w.users.tianhe_operator
    assert event.before == {"leave_date": None, "exit_reason": ""}
    assert event.after == {"leave_date": "2021-07-01", "exit_reason": "contract_expired"}


def test_exit_errors(w):
    spell = hire(w.users.tianhe_admin, w.tianhe_unit, 1)
    other = hire(w.users.province_admin, w.yuexiu_unit, 2)
    a = w.users.tianhe_reviewer

    def exit_(spell_id=spell.pk, leave_date=EXIT_DATE, exit_reason="辞职", actor=a):
        return spells.spell_exit(actor=actor, spell_id=spell_id, leave_date=leave_date, exit_reason=exit_reason)

    _refused(lambda: exit_(spell_id=other.pk), "spell_not_found")
    _refused(lambda: exit_(spell_id=999999), "spell_not_found")
    _refused(lambda: exit_(spell_id="x"), "spell_not_found")
    child = hire(w.users.tianhe_admin, w.tianhe_child, 3)
    _refused(lambda: exit_(spell_id=child.pk, actor=w.users.tianhe_operator), "spell_not_found")
    _refused(lambda: exit_(leave_date=D(2018, 3, 1)), "leave_not_after_hire")
    _refused(lambda: exit_(leave_date="2021-13-01"), "invalid_date")
    _refused(lambda: exit_(leave_date=None), "required")
    _refused(lambda: exit_(exit_reason=""), "exit_without_reason")
    _refused(lambda: exit_(exit_reason="跳槽"), "unknown_exit_reason")
    _refused(lambda: exit_(leave_date=D(2017, 1, 1), exit_reason="跳槽"), "leave_not_after_hire",
             "unknown_exit_reason")
    exit_()
    _refused(lambda: exit_(leave_date=D(2021, 6, 1)), "spell_already_exited")
    with pytest.raises(PermissionDenied):
        exit_(actor=w.users.tianhe_supervisor)


# =========================================================================== authorisation_create


def test_authorisation_numbers_and_audit(w):
    first = authorise(w, quantity=3, situation="劳务派遣", valid_to=D(2022, 1, 1), document_ref="天编〔2021〕3号")
    second = authorise(w, post_class="logistics")
    assert (first.number, second.number) == ("YG-440106-2021-00001", "YG-440106-2021-00002")
    assert (first.post_class, first.situation, first.quantity, first.used, first.status) == (
        "general_auxiliary", "dispatched", 3, 0, "approved")
    city = spells.authorisation_create(actor=w.users.city_reviewer, unit_id=w.city_unit.pk, post_class="普通辅助岗",
                                       quantity=1, valid_from=D(2020, 5, 1))
    assert city.number == "YG-440100-2020-00001"
    named = authorise(w, number="天编用〔2021〕7号")
    assert named.number == "天编用〔2021〕7号"
    event = last_event("authorisation.create")
    assert event.object_id == str(named.pk) and event.actor == w.users.tianhe_reviewer
    assert AuditEvent.objects.get(action="authorisation.create", object_id=str(first.pk)).after == {
        "number": "YG-440106-2021-00001", "unit": w.tianhe_unit.uscc, "post_class": "general_auxiliary",
        "situation": "dispatched", "quantity": 3, "valid_from": "2021-01-01", "valid_to": "2022-01-01",
        "document_ref": "天编〔2021〕3号", "case": None}


def test_authorisation_errors(w):
    authorise(w, number="N-1")
    _refused(lambda: authorise(w, unit_id=w.yuexiu_unit.pk), "unit_not_found")
    _refused(lambda: authorise(w, post_class="辅助岗"), "unknown_post_class")
    _refused(lambda: authorise(w, situation="合同工"), "unknown_situation")
    for quantity in (0, -1, "x", 1.5, None, True):
        _refused(lambda quantity=quantity: authorise(w, quantity=quantity), "quantity_invalid")
    _refused(lambda: authorise(w, valid_to=D(2021, 1, 1)), "valid_to_not_after_from")
    _refused(lambda: authorise(w, valid_from="2021-02-30"), "invalid_date")
    _refused(lambda: authorise(w, number="N-1"), "authorisation_number_taken")
    _refused(lambda: authorise(w, number="N" * 65), "too_long")
    _refused(lambda: authorise(w, unit_id=0, post_class="?", quantity=0), "unit_not_found", "unknown_post_class",
             "quantity_invalid")
    with pytest.raises(PermissionDenied):
        spells.authorisation_create(actor=w.users.tianhe_operator, unit_id=w.tianhe_unit.pk, post_class="普通辅助岗",
                                    quantity=1, valid_from=D(2021, 1, 1))


# =========================================================================== local rule rows


def add_rule(actor, **kw):
    params = dict(table="key_post", code="procurement", name="采购", valid_from=D(2021, 1, 1),
                  jurisdiction_code="440106", source_document="天河区编外人员管理细则（2021）")
    params.update(kw)
    return spells.rule_item_add(actor=actor, **params)


def test_local_key_post_applies_to_the_subtree_only(w):
    item = add_rule(w.users.tianhe_admin)
    assert (item.jurisdiction.code, item.jurisdiction_path, item.valid_to) == ("440106", "440000/440100/440106/", None)
    event = last_event("rules.item_add")
    assert event.object_id == str(item.pk) and event.actor == w.users.tianhe_admin and event.before is None
    assert {k: event.after[k] for k in ("table", "code", "name", "valid_from", "source_document")} == {
        "table": "key_post", "code": "procurement", "name": "采购", "valid_from": "2021-01-01",
        "source_document": "天河区编外人员管理细则（2021）"}
    spell = hire(w.users.tianhe_admin, w.tianhe_unit, 1, key_post="采购", hire_date=D(2021, 2, 1))
    assert PolicyFlag.objects.get(spell=spell).code == "key_post_banned"
    _refused(lambda: hire(w.users.province_admin, w.yuexiu_unit, 2, key_post="采购", hire_date=D(2021, 2, 1)),
             "unknown_key_post")
    _refused(lambda: hire(w.users.tianhe_admin, w.tianhe_unit, 3, key_post="采购", hire_date=D(2020, 2, 1)),
             "unknown_key_post")


def test_local_stricter_policy(w):
    item = add_rule(w.users.tianhe_admin, table="post_class", code="general_auxiliary", name="", policy="optimise_stock")
    assert (item.name, item.policy) == ("普通辅助岗", "optimise_stock")
    event = last_event("rules.item_add")
    assert event.before == {"policy": "hold_total", "jurisdiction": ""}
    assert event.after["policy"] == "optimise_stock"
    assert selectors.ruleset_for("440000/440100/440106/", D(2021, 6, 1)).policy_of("general_auxiliary") == (
        "optimise_stock")
    assert selectors.ruleset_for("440000/440100/440104/", D(2021, 6, 1)).policy_of("general_auxiliary") == (
        "hold_total")
    # and stricter again later, by name
    add_rule(w.users.tianhe_admin, table="post_class", code="general_auxiliary", name="普通辅助岗", policy="reduce",
             valid_from=D(2022, 1, 1))
    assert selectors.ruleset_for("440000/440100/440106/", D(2022, 6, 1)).policy_of("general_auxiliary") == "reduce"


def test_rule_item_add_errors(w):
    a = w.users.tianhe_admin
    _refused(lambda: add_rule(a, jurisdiction_code="440104"), "division_not_found")
    _refused(lambda: add_rule(a, jurisdiction_code="999999"), "division_not_found")
    _refused(lambda: add_rule(w.users.province_admin), "rule_not_own_jurisdiction")
    _refused(lambda: add_rule(a, source_document=" "), "rule_source_required")
    _refused(lambda: add_rule(a, table="situation", code="volunteer", name="志愿者"), "rule_not_stricter")
    _refused(lambda: add_rule(a, table="work_type", code="typing", name="打字", parent_code="general_auxiliary"),
             "rule_not_stricter")
    _refused(lambda: add_rule(a, table="post_class", code="new_class", name="新岗", policy="reduce"),
             "rule_not_stricter")
    _refused(lambda: add_rule(a, table="post_class", code="logistics", name="", policy="optimise_stock"),
             "rule_not_stricter")  # looser than reduce
    _refused(lambda: add_rule(a, table="post_class", code="professional", name="", policy="control_increase"),
             "rule_not_stricter")  # the same
    _refused(lambda: add_rule(a, table="post_class", code="professional", name="", policy=""), "rule_not_stricter")
    _refused(lambda: add_rule(a, table="post_class", code="professional", name="技术岗", policy="reduce"),
             "rule_not_stricter")  # renaming is not stricter
    _refused(lambda: add_rule(a, table="key_post", code="finance", name="财务"), "rule_not_stricter")
    _refused(lambda: add_rule(a, table="key_post", code="procurement", name="采购", parent_code="x"),
             "rule_not_stricter")
    _refused(lambda: add_rule(a, code="accounting", name="财务"), "rule_name_taken")
    _refused(lambda: add_rule(a, name=""), "required")
    _refused(lambda: add_rule(a, code=""), "required")
    _refused(lambda: add_rule(a, table="nonsense"), "invalid_choice")
    _refused(lambda: add_rule(a, table="post_class", code="professional", name="", policy="abolish"),
             "invalid_choice")
    _refused(lambda: add_rule(a, valid_from="2021-02-30"), "invalid_date")
    _refused(lambda: add_rule(a, jurisdiction_code="440104", source_document="", table="situation"),
             "division_not_found", "rule_source_required", "rule_not_stricter")
    add_rule(a)
    _refused(lambda: add_rule(a), "rule_not_stricter")  # already there
    with pytest.raises(PermissionDenied):
        add_rule(w.users.tianhe_reviewer)


def test_rule_item_close(w):
    item = add_rule(w.users.tianhe_admin)
    other = add_rule(w.users.province_admin, jurisdiction_code="440000", code="audit", name="审计")
    province_row = RuleItem.objects.filter(jurisdiction__isnull=True).first()

    def close(item_id=item.pk, valid_to=CLOSE_DATE, actor=w.users.tianhe_admin):
        return spells.rule_item_close(actor=actor, item_id=item_id, valid_to=valid_to)

    _refused(lambda: close(item_id=province_row.pk), "rule_not_found")
    _refused(lambda: close(item_id=other.pk), "rule_not_found")  # not the actor's own jurisdiction
    _refused(lambda: close(actor=w.users.province_admin), "rule_not_found")  # not the province admin's own either
    _refused(lambda: close(item_id="x"), "rule_not_found")
    _refused(lambda: close(valid_to=D(2021, 1, 1)), "valid_to_not_after_from")
    _refused(lambda: close(valid_to="soon"), "invalid_date")
    closed = close()
    assert closed.valid_to == D(2022, 1, 1)
    event = last_event("rules.item_close")
    assert (event.object_id, event.before, event.after) == (str(item.pk), {"valid_to": None}, {"valid_to": "2022-01-01"})
    assert selectors.ruleset_for(item.jurisdiction_path, D(2022, 1, 1)).lookup("key_post", "采购") is None
    assert selectors.ruleset_for(item.jurisdiction_path, D(2021, 12, 31)).lookup("key_post", "采购") == "procurement"
    _refused(lambda: close(valid_to=D(2023, 1, 1)), "rule_already_closed")
    with pytest.raises(PermissionDenied):
        close(actor=w.users.tianhe_reviewer)


# =========================================================================== baselines and caps


def test_baseline_take_errors_and_retake(stock):
    w = stock
    r = w.users.tianhe_reviewer
    first = Baseline.objects.get()
    event = last_event("baseline.take")
    assert event.object_id == str(first.pk) and event.after["total"] == 3 and event.after["units"] == 1
    assert BaselineCount.objects.filter(baseline=first).count() == 2
    _refused(lambda: services.baseline_take(actor=r, scope="440106", as_of=BASELINE_DATE), "baseline_exists")
    _refused(lambda: services.baseline_take(actor=r, scope="440104", as_of=BASELINE_DATE), "division_not_found")
    _refused(lambda: services.baseline_take(actor=r, scope="440000", as_of=BASELINE_DATE), "division_not_found")
    _refused(lambda: services.baseline_take(actor=r, scope="999999", as_of=BASELINE_DATE), "division_not_found")
    with pytest.raises(PermissionDenied):
        services.baseline_take(actor=w.users.tianhe_operator, scope="440106", as_of=BASELINE_DATE)
    again = services.baseline_take(actor=r, scope="440106", as_of=D(2018, 1, 1), retake=True)
    first.refresh_from_db()
    assert (first.is_current, again.is_current, again.total) == (False, True, 0)
    event = last_event("baseline.retake")
    assert event.before == {"baseline": first.pk, "as_of": "2019-12-31", "total": 3}
    assert event.after["as_of"] == "2018-01-01" and event.after["total"] == 0


def test_cap_set_errors_and_audit(w):
    r = w.users.tianhe_reviewer
    for cap in (-1, "abc", "2.5", None):
        _refused(lambda cap=cap: services.cap_set(actor=r, unit_id=w.tianhe_unit.pk, cap=cap, valid_from=TODAY),
                 "cap_invalid")
    _refused(lambda: services.cap_set(actor=r, unit_id=w.yuexiu_unit.pk, cap=3, valid_from=TODAY), "unit_not_found")
    _refused(lambda: services.cap_set(actor=r, unit_id=999999, cap=3, valid_from=TODAY), "unit_not_found")
    with pytest.raises(PermissionDenied):
        services.cap_set(actor=w.users.tianhe_operator, unit_id=w.tianhe_unit.pk, cap=3, valid_from=TODAY)
    change = services.cap_set(actor=r, unit_id=w.tianhe_unit.pk, cap="7", valid_from=TODAY, post_class="logistics",
                              document_ref="天编〔2022〕9号")
    event = last_event("cap.set")
    assert event.object_id == str(change.pk) and event.after == {
        "unit": w.tianhe_unit.uscc, "post_class": "logistics", "cap": 7, "valid_from": TODAY.isoformat(),
        "document_ref": "天编〔2022〕9号", "is_exception": False, "case": None}


# =========================================================================== `bianzhi baseline take`


def _command(*args):
    out, err = StringIO(), StringIO()
    try:
        call_command("baseline", "take", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def test_baseline_command_exit_codes(w):
    admin = w.users.tianhe_admin
    hire(admin, w.tianhe_unit, 1)
    hire(admin, w.tianhe_unit, 2, hire_date=D(2020, 3, 1))  # after the default baseline date: not counted
    hire(admin, w.tianhe_child, 3, situation="劳务派遣", post_class="后勤保障岗", work_type="保洁")
    code, out, _ = _command("--scope", "440106")
    assert code == 0
    baseline = Baseline.objects.get(is_current=True)
    assert (baseline.as_of, baseline.total, baseline.taken_by.username) == (BASELINE_DATE, 2, "system")
    assert "2019-12-31" in out and "2个单位" in out and "共2人" in out and "劳务派遣 1" in out and "后勤保障岗 1" in out

    before = _state()
    code, _, err = _command("--scope", "440106")
    assert code == 1 and "baseline_exists" in err and "--retake" in err
    assert _state() == before

    code, _, err = _command("--scope", "999999")
    assert code == 1 and "division_not_found" in err
    code, _, err = _command("--scope", "440104", "--as", "th_reviewer")  # out of that user's scope
    assert code == 1 and "division_not_found" in err
    assert _command("--scope", "440106", "--date", "2019-13-01")[0] == 2
    assert _command("--scope", "440106", "--as", "nobody")[0] == 2
    assert _command("--scope", "440106", "--as", "th_operator", "--retake")[0] == 2
    assert _state() == before

    code, out, _ = _command("--scope", "440106", "--date", "2020-12-31", "--retake", "--as", "th_reviewer",
                            "--note", "复核")
    assert code == 0
    current = Baseline.objects.get(is_current=True)
    assert (current.as_of, current.total, current.taken_by, current.note) == (
        D(2020, 12, 31), 3, w.users.tianhe_reviewer, "复核")
    assert last_event("baseline.retake").actor == w.users.tianhe_reviewer


# =========================================================================== concurrency (both databases)


def _race(*calls):
    """Run the calls at the same moment in threads of their own; return (results, error codes)."""
    import threading

    from django.db import connection

    barrier = threading.Barrier(len(calls))
    results, codes = [], []

    def run(call):
        try:
            barrier.wait()
            results.append(call())
        except BianzhiError as exc:
            codes.extend(exc.codes)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, codes


@pytest.mark.django_db(transaction=True)
def test_concurrent_hires_never_over_consume_an_authorisation(stock):

    w = stock
    services.cap_set(actor=w.users.tianhe_reviewer, unit_id=w.tianhe_unit.pk, cap=9, valid_from=D(2021, 1, 1))
    services.cap_set(actor=w.users.tianhe_reviewer, unit_id=w.tianhe_unit.pk, cap=9, valid_from=D(2021, 1, 1),
                     post_class="general_auxiliary")
    auth = authorise(w, quantity=1)
    results, codes = _race(lambda: register(w, 10, auth), lambda: register(w, 11, auth))
    auth.refresh_from_db()
    assert (len(results), codes, auth.used) == (1, ["hire_authorisation_invalid"], 1)


@pytest.mark.django_db(transaction=True)
def test_concurrent_hires_never_pass_a_cap_together(stock):

    w = stock
    services.cap_set(actor=w.users.tianhe_reviewer, unit_id=w.tianhe_unit.pk, cap=4, valid_from=D(2021, 1, 1))
    services.cap_set(actor=w.users.tianhe_reviewer, unit_id=w.tianhe_unit.pk, cap=9, valid_from=D(2021, 1, 1),
                     post_class="general_auxiliary")
    auth = authorise(w, quantity=2)
    results, codes = _race(lambda: register(w, 10, auth), lambda: register(w, 11, auth))
    auth.refresh_from_db()
    assert (len(results), codes, auth.used) == (1, ["cap_exceeded"], 1)
    assert Spell.objects.filter(unit=w.tianhe_unit).count() == 4
