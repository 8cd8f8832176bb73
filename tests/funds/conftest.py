"""Fixtures for the funds tests: rule tables and processes loaded, a finance user, and a
天河区 unit with 后勤保障岗 records (保安, 保洁) and a 2019 baseline."""

from __future__ import annotations

import datetime as dt

import pytest

from bianzhi.accounts.choices import Role
from bianzhi.common.codes import make_resident_id
from tests.factories import make_user


def pid(n: int, region: str = "440106") -> str:
    return make_resident_id(region, dt.date(1985, 1, 1) + dt.timedelta(days=n), n)


@pytest.fixture
def fund(world):
    from bianzhi.common.rules_loader import load_all_rules
    from bianzhi.staffing import services, spells

    load_all_rules()
    w = world
    admin = w.users.tianhe_admin

    def hire(n, unit, work_type, post_class="后勤保障岗", hire_date=dt.date(2018, 3, 1), **kw):
        return spells.spell_create(actor=admin, unit_id=unit.pk, id_number=pid(n), name=f"职工{n}",
                                   situation="劳务派遣", post_class=post_class, work_type=work_type,
                                   post_name=work_type + "员", funding_source="财政拨款", hire_date=hire_date,
                                   mode="inventory", **kw)

    w.guard = hire(1, w.tianhe_unit, "保安")
    w.cleaner = hire(2, w.tianhe_unit, "保洁")
    w.driver = hire(3, w.tianhe_unit, "驾驶员")
    w.clerk = hire(4, w.tianhe_unit, "文秘文书", post_class="普通辅助岗")
    services.baseline_take(actor=w.users.tianhe_reviewer, scope="440106", as_of=dt.date(2019, 12, 31))
    w.users.finance = make_user("th_finance", Role.FINANCE_REVIEWER, "440106")
    w.users.leader = make_user("th_leader", Role.DECISION_MAKER, "440106")
    w.users.yuexiu_finance = make_user("yx_finance", Role.FINANCE_REVIEWER, "440104")
    w.hire = hire
    return w
