"""Fixtures for the approvals tests: processes loaded, a unit at its baseline, every
department's users of 天河区."""

from __future__ import annotations

import datetime as dt

import pytest

from bianzhi.accounts.choices import Role
from tests.factories import make_user

BASELINE_DATE = dt.date(2019, 12, 31)


@pytest.fixture
def flow(world):
    """天河区测试局 with 4 普通辅助岗 and 1 后勤保障岗 at the 2019 baseline (total cap 5, class
    caps 4 and 1), two of the 普通辅助岗 gone since (headroom 2); processes and rule tables loaded, and a user for every step of 天河区."""
    from bianzhi.common.rules_loader import load_all_rules
    from bianzhi.staffing import services, spells

    load_all_rules()
    w = world
    admin = w.users.tianhe_admin
    for n in range(1, 5):
        spells.spell_create(actor=admin, unit_id=w.tianhe_unit.pk, id_number=_pid(n), name=f"测试员{n}",
                            situation="劳动合同制聘用", post_class="普通辅助岗", work_type="文秘文书",
                            post_name="文员", funding_source="财政拨款", hire_date=dt.date(2018, 3, 1),
                            mode="inventory", monthly_cost="4000")
    spells.spell_create(actor=admin, unit_id=w.tianhe_unit.pk, id_number=_pid(5), name="测试员5",
                        situation="劳务派遣", post_class="后勤保障岗", work_type="保洁", post_name="保洁员",
                        funding_source="财政拨款", hire_date=dt.date(2018, 3, 1), mode="inventory")
    services.baseline_take(actor=w.users.tianhe_reviewer, scope="440106", as_of=BASELINE_DATE)
    # Two left in 2020: 2 普通辅助岗 in post now, total cap 5, class cap 4 → headroom 2.
    from bianzhi.staffing.models import Spell

    for spell in Spell.objects.filter(person__name__in=["测试员3", "测试员4"]):
        spells.spell_exit(actor=admin, spell_id=spell.pk, leave_date=dt.date(2020, 6, 30), exit_reason="辞职")
    u = w.users
    u.finance = make_user("th_finance", Role.FINANCE_REVIEWER, "440106")
    u.hr = make_user("th_hr", Role.HR_REVIEWER, "440106")
    u.leader = make_user("th_leader", Role.DECISION_MAKER, "440106")
    u.reviewer2 = make_user("th_reviewer2", Role.ESTABLISHMENT_REVIEWER, "440106")
    u.city_leader = make_user("gz_leader", Role.DECISION_MAKER, "440100")
    u.yuexiu_leader = make_user("yx_leader", Role.DECISION_MAKER, "440104")
    return w


def _pid(n: int) -> str:
    from bianzhi.common.codes import make_resident_id

    return make_resident_id("440106", dt.date(1990, 1, 1), n)


HIRE = {"situation": "劳动合同制聘用", "post_class": "普通辅助岗", "work_type": "窗口服务", "quantity": 1,
        "post_names": ["窗口服务员"], "funding_source": "财政拨款", "monthly_cost": "4200", "reason": "窗口业务量增加"}
