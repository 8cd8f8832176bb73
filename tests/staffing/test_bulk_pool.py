"""Bulk exits and whole-group transfers (S10) and the coordinator pool (S9): every error code
with nothing written, the audit rows, and the figures before and after."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone

from bianzhi.common.audit import verify_chain
from bianzhi.common.codes import make_resident_id
from bianzhi.common.errors import BianzhiError
from bianzhi.common.models import AuditEvent
from bianzhi.divisions.models import Division
from bianzhi.orgs.models import Person, sealed_id_number
from bianzhi.staffing import bulk, pool
from bianzhi.staffing.models import BulkOperation, PoolAssignment, Spell
from bianzhi.staffing.selectors import counting_on

from ..factories import make_unit

D = dt.date
LEAVE = D(2024, 7, 1)
DAY = dt.timedelta(days=1)
_seq = itertools.count(1)


def _people(unit, n):
    people = []
    for _ in range(n):
        k = next(_seq)
        birth = D(1970, 1, 1) + dt.timedelta(days=k)
        people.append(Person(**sealed_id_number(make_resident_id("440106", birth, k)), name=f"测试{k}",
                             sex="M" if k % 2 else "F", birth_date=birth, jurisdiction=unit.jurisdiction,
                             jurisdiction_path=unit.jurisdiction_path))
    return Person.objects.bulk_create(people)


def _spells(unit, n, *, situation="labour_contract", post_class="logistics", work_type="cleaning",
            hire=None, leave=None, reason=""):
    hire = hire or D(2018, 1, 1)
    spells = [
        Spell(person=p, unit=unit, jurisdiction_path=unit.jurisdiction_path, situation=situation,
              post_class=post_class, work_type=work_type, post_name="岗位", funding_source="fiscal",
              hire_date=hire, leave_date=leave, exit_reason=reason, source="form")
        for p in _people(unit, n)
    ]
    return Spell.objects.bulk_create(spells)


def _all_spells():
    return {pk: rest for pk, *rest in Spell.objects.values_list("pk", "leave_date", "exit_reason", "operation_id")}


def _counting(day):
    return set(counting_on(Spell.objects.all(), day).values_list("pk", flat=True))


def _bulk_state():
    return (_all_spells(), list(BulkOperation.objects.values_list("pk", "status", "count", "document_ref")),
            AuditEvent.objects.count())


def _refused(state, call, *codes):
    before = state()
    with pytest.raises(BianzhiError) as exc:
        call()
    assert sorted(exc.value.codes) == sorted(codes)
    assert state() == before
    return exc.value


# --- bulk operations -----------------------------------------------------------------------


@pytest.fixture
def roster(world, rules):
    """100 records: 75 in 天河区测试局 (40 refuse collectors to move), 15 in its sub-unit, 10 in 越秀区."""
    a = world.tianhe_unit
    group = _spells(a, 39) + _spells(a, 1, leave=LEAVE + 30 * DAY, reason="contract_expired")
    leaving_that_day = _spells(a, 1, leave=LEAVE, reason="contract_expired")
    hired_that_day = _spells(a, 1, hire=LEAVE)
    left_before = _spells(a, 3, leave=D(2020, 1, 1), reason="resigned")
    clerks = _spells(a, 30, post_class="general_auxiliary", work_type="clerical")
    child = _spells(world.tianhe_child, 15)
    yuexiu = _spells(world.yuexiu_unit, 10)
    assert Spell.objects.count() == 100
    return {
        "group": {s.pk for s in group}, "leaving_that_day": leaving_that_day[0].pk,
        "hired_that_day": hired_that_day[0].pk, "left_before": {s.pk for s in left_before},
        "clerks": [s.pk for s in clerks], "child": {s.pk for s in child}, "yuexiu": {s.pk for s in yuexiu},
    }


def _transfer(actor, unit, **kw):
    params = dict(kind="group_transfer", leave_date=LEAVE, unit_id=unit.pk, criteria={"work_type": "保洁"},
                  receiver="广州环卫集团有限公司")
    params.update(kw)
    return bulk.bulk_preview(actor=actor, **params)


def test_whole_group_transfer_moves_exactly_the_group(world, roster):
    """Done-when: one audited operation; the figures as of the day before and the day after
    differ by exactly that group."""
    r = world.users.tianhe_reviewer
    before = _all_spells()
    on_eve, on_day, day_after = _counting(LEAVE - DAY), _counting(LEAVE), _counting(LEAVE + DAY)
    assert len(on_eve) == len(on_day) == 96  # one leaves and one joins on the day: net 0

    op = _transfer(r, world.tianhe_unit)
    assert (op.status, op.count, op.exit_reason, op.criteria) == ("previewed", 40, "group_transfer",
                                                                  {"work_type": "cleaning"})
    assert _all_spells() == before  # a preview writes nothing to the records
    assert set(bulk.bulk_selection(actor=r, operation=op).values_list("pk", flat=True)) == roster["group"]
    preview_event = AuditEvent.objects.latest("seq")
    assert (preview_event.action, preview_event.after["count"]) == ("bulk.preview", 40)

    seq = preview_event.seq
    bulk.bulk_apply(actor=r, operation_id=op.pk, document_ref="穗编字〔2024〕12号")
    op.refresh_from_db()
    assert op.status == "applied" and op.applied_at is not None and op.document_ref == "穗编字〔2024〕12号"

    after = _all_spells()
    assert {pk for pk in before if before[pk] != after[pk]} == roster["group"]  # 0 other changes
    assert all(after[pk] == [LEAVE, "group_transfer", op.pk] for pk in roster["group"])
    # the figures: the day before is unchanged, the leave date and the day after lose exactly the group
    assert _counting(LEAVE - DAY) == on_eve
    assert _counting(LEAVE) == on_day - roster["group"]
    assert _counting(LEAVE + DAY) == day_after - roster["group"]
    assert len(_counting(LEAVE - DAY)) - len(_counting(LEAVE)) == 40
    assert len(_counting(LEAVE - DAY)) - len(_counting(LEAVE + DAY)) == 40

    events = list(AuditEvent.objects.filter(seq__gt=seq))
    assert [e.action for e in events] == ["bulk.apply"]  # one operation event, no per-record rows
    event = events[0]
    assert event.object_id == str(op.pk)
    assert event.after["spell_ids"] == sorted(roster["group"])
    assert event.after["count"] == 40
    assert event.after["criteria"] == {"work_type": "cleaning"}
    assert event.after["document_ref"] == "穗编字〔2024〕12号"
    assert event.after["receiver"] == "广州环卫集团有限公司"
    assert event.before["status"] == "previewed"
    planned = [pk for pk in roster["group"] if before[pk][0] is not None]
    assert list(event.before["planned_exits_overwritten"]) == [str(pk) for pk in planned]
    assert verify_chain().ok

    # listed as one operation; its records are the ones it changed
    assert list(bulk.operations_in_scope(actor=r)) == [op]
    assert set(bulk.bulk_selection(actor=r, operation=op).values_list("pk", flat=True)) == roster["group"]
    assert Spell.objects.filter(operation=op).count() == 40


def test_group_selected_across_units_by_filter(world, roster):
    r = world.users.tianhe_reviewer
    op = bulk.bulk_preview(actor=r, kind="group_transfer", leave_date=LEAVE, receiver="国企",
                           criteria={"work_type": "cleaning", "situation": "劳动合同制聘用", "post_class": ""})
    assert op.count == 40 + 15  # 越秀区 is outside the reviewer's jurisdiction
    assert op.unit is None and op.jurisdiction_path == r.jurisdiction.path
    assert op.criteria == {"work_type": "cleaning", "situation": "labour_contract"}
    city = bulk.bulk_preview(actor=world.users.city_reviewer, kind="group_transfer", leave_date=LEAVE,
                             receiver="国企", criteria={"work_type": "cleaning"})
    assert city.count == 40 + 15 + 10
    # a city-wide operation is not visible to a district
    assert op in bulk.operations_in_scope(actor=r) and city not in bulk.operations_in_scope(actor=r)
    with pytest.raises(Http404):
        bulk.bulk_selection(actor=r, operation=city)
    with pytest.raises(Http404):
        bulk.get_operation(actor=r, pk=city.pk)
    # applying as the district would see a different selection than the city previewed
    _refused(_bulk_state, lambda: bulk.bulk_apply(actor=r, operation_id=city.pk, document_ref="x"), "not_found")


def test_downsizing_a_list_of_records(world, roster):
    r = world.users.tianhe_reviewer
    chosen = roster["clerks"][:5]
    elsewhere = next(iter(roster["yuexiu"]))  # outside the unit and the jurisdiction: not matched
    op = bulk.bulk_preview(actor=r, kind="downsizing", leave_date=LEAVE, unit_id=world.tianhe_unit.pk,
                           criteria={"spell_ids": [*chosen, f"  {chosen[0]} ", elsewhere]})
    assert op.count == 5 and op.exit_reason == "dismissed"
    assert op.criteria == {"spell_ids": sorted([*chosen, elsewhere])}
    by_reason = bulk.bulk_preview(actor=r, kind="downsizing", leave_date=LEAVE.isoformat(),
                                  unit_id=world.tianhe_unit.pk, exit_reason="合同期满",
                                  criteria={"post_class": "general_auxiliary"})
    assert by_reason.count == 30 and by_reason.exit_reason == "contract_expired"
    bulk.bulk_apply(actor=r, operation_id=op.pk, document_ref="天河编〔2024〕3号")
    assert set(Spell.objects.filter(exit_reason="dismissed").values_list("pk", flat=True)) == set(chosen)
    # the other preview overlapped it: its selection changed (25 now), so it is refused
    err = _refused(_bulk_state, lambda: bulk.bulk_apply(actor=r, operation_id=by_reason.pk, document_ref="y"),
                   "bulk_selection_changed")
    assert "30" in err.errors[0].message and "25" in err.errors[0].message


def test_cancel(world, roster):
    r = world.users.tianhe_reviewer
    before = _all_spells()
    op = _transfer(r, world.tianhe_unit)
    bulk.bulk_cancel(actor=r, operation_id=op.pk)
    op.refresh_from_db()
    assert op.status == "cancelled"
    event = AuditEvent.objects.latest("seq")
    assert (event.action, event.before["status"], event.after["status"]) == ("bulk.cancel", "previewed", "cancelled")
    assert _all_spells() == before
    _refused(_bulk_state, lambda: bulk.bulk_cancel(actor=r, operation_id=op.pk), "bulk_not_pending")
    _refused(_bulk_state, lambda: bulk.bulk_apply(actor=r, operation_id=op.pk, document_ref="x"), "bulk_not_pending")
    _refused(_bulk_state, lambda: bulk.bulk_cancel(actor=world.users.yuexiu_reviewer, operation_id=op.pk),
             "not_found")
    assert verify_chain().ok


def test_apply_refusals(world, roster):
    r = world.users.tianhe_reviewer
    op = _transfer(r, world.tianhe_unit)
    for ref in ("", "   ", None):
        _refused(_bulk_state, lambda ref=ref: bulk.bulk_apply(actor=r, operation_id=op.pk, document_ref=ref),
                 "bulk_document_required")
    _refused(_bulk_state, lambda: bulk.bulk_apply(actor=r, operation_id=op.pk, document_ref="x" * 101), "too_long")
    _refused(_bulk_state, lambda: bulk.bulk_apply(actor=r, operation_id=999999, document_ref="x"), "not_found")
    _refused(_bulk_state, lambda: bulk.bulk_apply(actor=r, operation_id="abc", document_ref="x"), "not_found")
    _refused(_bulk_state, lambda: bulk.bulk_apply(actor=world.users.yuexiu_reviewer, operation_id=op.pk,
                                                  document_ref="x"), "not_found")
    # the selection changes after the preview: one more refuse collector is hired
    extra = _spells(world.tianhe_unit, 1, hire=D(2023, 1, 1))
    _refused(_bulk_state, lambda: bulk.bulk_apply(actor=r, operation_id=op.pk, document_ref="x"),
             "bulk_selection_changed")
    extra[0].delete()
    bulk.bulk_apply(actor=r, operation_id=op.pk, document_ref="x")
    # applied twice
    _refused(_bulk_state, lambda: bulk.bulk_apply(actor=r, operation_id=op.pk, document_ref="x"), "bulk_not_pending")
    _refused(_bulk_state, lambda: bulk.bulk_cancel(actor=r, operation_id=op.pk), "bulk_not_pending")
    # without a document, twice: both reported
    _refused(_bulk_state, lambda: bulk.bulk_apply(actor=r, operation_id=op.pk, document_ref=""),
             "bulk_not_pending", "bulk_document_required")


def test_preview_refusals(world, roster):
    r = world.users.tianhe_reviewer
    a = world.tianhe_unit

    def refused(*codes, **kw):
        _refused(_bulk_state, lambda: _transfer(r, a, **kw), *codes)

    refused("unit_not_found", unit_id=world.yuexiu_unit.pk)  # out of scope = unknown
    refused("unit_not_found", unit_id=999999)
    refused("unit_not_found", unit_id="abc")
    refused("required", kind="downsizing", unit_id=None)
    refused("bulk_date_too_far", leave_date=timezone.localdate() + dt.timedelta(days=400))
    refused("invalid_date", leave_date="2024-02-30")
    refused("invalid_date", leave_date=None)
    refused("unknown_exit_reason", exit_reason="跑路")
    refused("invalid_choice", kind="merge")
    refused("bulk_criteria_unknown", criteria={"colour": "red"})
    refused("unknown_work_type", criteria={"work_type": "扫地"})
    refused("unknown_situation", criteria={"situation": "合同工"})
    refused("invalid_integer", criteria={"spell_ids": ["x"]})
    refused("required", receiver="  ")
    refused("too_long", receiver="国" * 201)
    refused("bulk_criteria_required", unit_id=None, criteria={})
    refused("bulk_criteria_required", unit_id=None, criteria={"work_type": ""})
    refused("bulk_selection_empty", criteria={"situation": "dispatched"})
    refused("bulk_selection_empty", leave_date=D(2016, 1, 1))  # nobody was in post yet
    # every problem at once
    refused("invalid_date", "unknown_exit_reason", "unit_not_found", "unknown_work_type",
            leave_date="x", exit_reason="?", unit_id=world.yuexiu_unit.pk, criteria={"work_type": "?"})
    # a year ahead is allowed
    assert _transfer(r, a, leave_date=bulk.one_year_after(timezone.localdate())).count == 39 + 1  # + hired on LEAVE


def test_bulk_permissions(world, roster):
    op = _transfer(world.users.tianhe_reviewer, world.tianhe_unit)
    for user in (world.users.tianhe_supervisor, world.users.tianhe_operator):
        with pytest.raises(PermissionDenied):
            _transfer(user, world.tianhe_unit)
        with pytest.raises(PermissionDenied):
            bulk.bulk_apply(actor=user, operation_id=op.pk, document_ref="x")
        with pytest.raises(PermissionDenied):
            bulk.bulk_cancel(actor=user, operation_id=op.pk)
    # a supervisor may look at the operation and its records
    assert bulk.get_operation(actor=world.users.tianhe_supervisor, pk=op.pk) == op
    assert bulk.bulk_selection(actor=world.users.tianhe_supervisor, operation=op).count() == 40
    # an administrator may apply
    bulk.bulk_apply(actor=world.users.tianhe_admin, operation_id=op.pk, document_ref="x")


# --- coordinator pool ----------------------------------------------------------------------


def _town(parent_code, code, name):
    parent = Division.objects.get(code=parent_code)
    return Division.objects.create(code=code, name=name, level="town", parent=parent, path=f"{parent.path}{code}/",
                                   depth=parent.depth + 1)


@pytest.fixture
def pool_world(world, rules):
    towns = {
        "th1": _town("440106", "440106901", "天河甲街道"), "th2": _town("440106", "440106902", "天河乙街道"),
        "yx1": _town("440104", "440104901", "越秀甲街道"), "sz1": _town("440305", "440305901", "南山甲街道"),
    }
    kw = dict(situation="coordinator", post_class="enforcement_auxiliary", work_type="urban_management",
              hire=D(2019, 1, 1))
    coordinators = {
        "th": _spells(world.tianhe_unit, 4, **kw), "child": _spells(world.tianhe_child, 2, **kw),
        "yx": _spells(world.yuexiu_unit, 2, **kw), "city": _spells(world.city_unit, 2, **kw),
    }
    left = _spells(world.tianhe_unit, 1, leave=D(2021, 1, 1), reason="resigned", **kw)[0]
    clerk = _spells(world.tianhe_unit, 1)[0]
    return {"towns": towns, "c": coordinators, "left": left, "clerk": clerk}


def _pool_state():
    return (list(PoolAssignment.objects.order_by("pk").values_list()), AuditEvent.objects.count())


def test_assign_and_reallocate_with_history(world, pool_world):
    r = world.users.city_reviewer
    c1 = pool_world["c"]["th"][0]
    first = pool.pool_assign(actor=r, spell_id=c1.pk, town_code="440106901", valid_from=D(2020, 1, 1),
                             department_id=world.city_unit.pk, document_ref="穗编〔2020〕1号")
    event = AuditEvent.objects.latest("seq")
    assert event.action == "pool.assign" and event.before is None
    assert event.after["town"] == "440106901" and event.after["department"] == world.city_unit.uscc
    assert first.city.code == "440100"

    second = pool.pool_assign(actor=r, spell_id=c1.pk, town_code="440104901", valid_from="2022-03-01",
                              task="垃圾分类督导")
    event = AuditEvent.objects.latest("seq")
    assert event.action == "pool.reallocate"
    assert (event.before["town"], event.before["valid_to"]) == ("440106901", None)
    assert (event.after["town"], event.after["task"], event.after["department"]) == ("440104901", "垃圾分类督导", None)

    history = list(pool.assignment_history(actor=r, spell=c1))
    assert [h.pk for h in history] == [first.pk, second.pk]
    assert history[0].valid_to == D(2022, 3, 1) and history[1].valid_to is None

    def town_of(day):
        return {m.pk: m.town_code for m in pool.pool_members(actor=r, city_code="440100", as_of=day)}[c1.pk]

    assert town_of(D(2019, 6, 1)) is None
    assert town_of(D(2022, 2, 28)) == "440106901"
    assert town_of(D(2022, 3, 1)) == "440104901"
    member = next(m for m in pool.pool_members(actor=r, city_code="440100", as_of=D(2022, 3, 1)) if m.pk == c1.pk)
    assert (member.pool_task, member.pool_department_id, member.assigned_from) == ("垃圾分类督导", None, D(2022, 3, 1))
    assert verify_chain().ok


def test_totals_equal_hand_counts(world, pool_world, django_assert_num_queries):
    r = world.users.city_reviewer
    c = pool_world["c"]
    plan = [
        (c["th"][0], "440106901", world.tianhe_unit, D(2020, 1, 1)),
        (c["th"][1], "440106901", world.tianhe_unit, D(2020, 1, 1)),
        (c["th"][2], "440106902", world.city_unit, D(2020, 1, 1)),
        (c["child"][0], "440106902", None, D(2020, 1, 1)),
        (c["yx"][0], "440104901", world.yuexiu_unit, D(2020, 1, 1)),
        (c["city"][0], "440104901", world.city_unit, D(2020, 1, 1)),
        (c["city"][1], "440106901", None, D(2023, 1, 1)),  # not yet assigned on the day counted
    ]
    for spell, town, dept, day in plan:
        pool.pool_assign(actor=r, spell_id=spell.pk, town_code=town, valid_from=day,
                         department_id=dept.pk if dept else None)
    # re-allocate one across districts
    pool.pool_assign(actor=r, spell_id=c["th"][1].pk, town_code="440104901", valid_from=D(2021, 6, 1),
                     department_id=world.yuexiu_unit.pk)
    as_of = D(2022, 1, 1)

    members = [s for group in c.values() for s in group]  # the left one and the clerk are not members
    hand_town: dict = {}
    hand_dept: dict = {}
    for s in members:
        a = PoolAssignment.objects.filter(spell=s, valid_from__lte=as_of).exclude(valid_to__lte=as_of).first()
        town = a.town.code if a else None
        hand_town[town] = hand_town.get(town, 0) + 1
        key = (a.department_id if a else None, a is not None)
        hand_dept[key] = hand_dept.get(key, 0) + 1

    with django_assert_num_queries(1):
        by_town = pool.pool_totals_by_town(actor=r, city_code="440100", as_of=as_of)
    assert {row["town_code"]: row["count"] for row in by_town} == hand_town
    assert hand_town == {"440106901": 1, "440106902": 2, "440104901": 3, None: 4}
    assert by_town[-1] == {"town_code": None, "town_name": None, "count": 4, "assigned": False}
    with django_assert_num_queries(1):
        by_dept = pool.pool_totals_by_department(actor=r, city_code="440100", as_of=as_of)
    assert {(row["department_id"], row["assigned"]): row["count"] for row in by_dept} == hand_dept
    assert hand_dept[(world.yuexiu_unit.pk, True)] == 2 and hand_dept[(None, False)] == 4
    assert sum(row["count"] for row in by_dept) == len(members) == 10
    with django_assert_num_queries(1):
        assert len(list(pool.pool_members(actor=r, city_code="440100", as_of=as_of))) == 10

    # a district sees its own coordinators only
    th = world.users.tianhe_reviewer
    assert sum(row["count"] for row in pool.pool_totals_by_town(actor=th, city_code="440100", as_of=as_of)) == 6
    assert {m.unit_id for m in pool.pool_members(actor=th, city_code="440100", as_of=as_of)} == {
        world.tianhe_unit.pk, world.tianhe_child.pk}


def test_pool_refusals(world, pool_world):
    r = world.users.tianhe_reviewer
    c1 = pool_world["c"]["th"][0]

    def refused(*codes, actor=r, **kw):
        params = dict(spell_id=c1.pk, town_code="440106901", valid_from=D(2020, 1, 1))
        params.update(kw)
        _refused(_pool_state, lambda: pool.pool_assign(actor=actor, **params), *codes)

    refused("pool_not_coordinator", spell_id=pool_world["clerk"].pk)
    province_unit = make_unit("440000", "省测试厅")
    province_coordinator = _spells(province_unit, 1, situation="coordinator", hire=D(2019, 1, 1))[0]
    refused("pool_not_coordinator", actor=world.users.province_admin, spell_id=province_coordinator.pk)
    refused("spell_not_found", spell_id=pool_world["c"]["yx"][0].pk)  # out of scope
    refused("spell_not_found", spell_id=999999)
    refused("division_not_found", town_code="440305901")  # another city
    refused("division_not_found", town_code="440104901")  # same city, outside the district
    refused("division_not_found", town_code="440106")  # not a town
    refused("division_not_found", town_code="440106999")
    refused("pool_not_active", valid_from=D(2018, 12, 31))  # before the hire date
    refused("pool_not_active", spell_id=pool_world["left"].pk, valid_from=D(2021, 1, 1))  # left that day
    refused("invalid_date", valid_from="2020-13-01")
    refused("unit_not_found", department_id=world.yuexiu_unit.pk)
    refused("unit_not_found", department_id=999999)
    refused("too_long", task="任" * 101)
    refused("pool_not_active", "division_not_found", "unit_not_found", valid_from=D(2000, 1, 1),
            town_code="440305901", department_id=world.yuexiu_unit.pk)
    # a town of another city is refused even for the province
    refused("division_not_found", actor=world.users.province_admin, town_code="440305901")

    pool.pool_assign(actor=r, spell_id=c1.pk, town_code="440106901", valid_from=D(2020, 1, 1))
    refused("date_not_after_previous", town_code="440106902", valid_from=D(2020, 1, 1))
    refused("date_not_after_previous", town_code="440106902", valid_from=D(2019, 6, 1))
    with pytest.raises(PermissionDenied):
        pool.pool_assign(actor=world.users.tianhe_supervisor, spell_id=c1.pk, town_code="440106902",
                         valid_from=D(2021, 1, 1))
    assert PoolAssignment.objects.count() == 1


def test_pool_out_of_scope_is_invisible(world, pool_world):
    c = pool_world["c"]
    th, yx = world.users.tianhe_reviewer, world.users.yuexiu_reviewer
    pool.pool_assign(actor=th, spell_id=c["th"][0].pk, town_code="440106901", valid_from=D(2020, 1, 1))
    as_of = D(2022, 1, 1)
    assert {m.pk for m in pool.pool_members(actor=yx, city_code="440100", as_of=as_of)} == {s.pk for s in c["yx"]}
    assert pool.pool_totals_by_town(actor=yx, city_code="440100", as_of=as_of) == [
        {"town_code": None, "town_name": None, "count": 2, "assigned": False}]
    for actor, city in ((th, "440300"), (th, "440106"), (th, "44010"), (yx, "999900")):
        with pytest.raises(Http404):
            pool.pool_members(actor=actor, city_code=city, as_of=as_of)
        with pytest.raises(Http404):
            pool.pool_totals_by_town(actor=actor, city_code=city, as_of=as_of)
        with pytest.raises(Http404):
            pool.pool_totals_by_department(actor=actor, city_code=city, as_of=as_of)
    with pytest.raises(Http404):
        pool.assignment_history(actor=yx, spell=c["th"][0])
    with pytest.raises(Http404):
        pool.assignment_history(actor=th, spell=c["city"][0].pk)  # a city-level record
    # the operator of a unit sees its own unit's coordinators only; a supervisor may look
    op = world.users.tianhe_operator
    assert {m.pk for m in pool.pool_members(actor=op, city_code="440100", as_of=as_of)} == {s.pk for s in c["th"]}
    assert len(pool.assignment_history(actor=world.users.tianhe_supervisor, spell=c["th"][0])) == 1


def test_apply_refuses_a_swapped_selection(world, roster):
    """Same count, other people: one previewed collector leaves, another is hired before apply."""
    r = world.users.tianhe_reviewer
    op = _transfer(r, world.tianhe_unit)
    gone = Spell.objects.get(pk=sorted(roster["group"])[0])
    Spell.objects.filter(pk=gone.pk).update(leave_date=D(2022, 1, 1), exit_reason="resigned")
    _spells(world.tianhe_unit, 1, hire=D(2022, 6, 1))
    op.refresh_from_db()
    assert op.count == len(roster["group"])
    _refused(_bulk_state, lambda: bulk.bulk_apply(actor=r, operation_id=op.pk, document_ref="x"),
             "bulk_selection_changed")


def test_exits_close_pool_assignments(world, pool_world):
    from bianzhi.staffing import spells

    r = world.users.city_reviewer
    c1, c2 = pool_world["c"]["th"][:2]
    for c in (c1, c2):
        pool.pool_assign(actor=r, spell_id=c.pk, town_code="440106901", valid_from=D(2020, 1, 1))
    spells.spell_exit(actor=r, spell_id=c1.pk, leave_date=D(2022, 5, 1), exit_reason="resigned")
    assert PoolAssignment.objects.get(spell=c1).valid_to == D(2022, 5, 1)
    op = bulk.bulk_preview(actor=r, kind="downsizing", leave_date=D(2023, 1, 1), unit_id=world.tianhe_unit.pk,
                           criteria={"spell_ids": [c2.pk]}, exit_reason="dismissed")
    bulk.bulk_apply(actor=r, operation_id=op.pk, document_ref="穗编〔2023〕2号")
    assert PoolAssignment.objects.get(spell=c2).valid_to == D(2023, 1, 1)
