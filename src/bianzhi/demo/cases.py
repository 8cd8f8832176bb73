"""Demo applications, moved through the real approval services so that every 天河区 and
深圳市 account finds something in its inbox: one application at each stage, one returned,
one approved (its authorisation half used), one rejected, and one overdue."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from bianzhi.accounts.models import User
from bianzhi.staffing import selectors as staffing_selectors
from bianzhi.staffing.choices import RuleTable
from bianzhi.staffing.models import BaselineCount
from bianzhi.workflow import services as wf
from bianzhi.workflow.models import Case, Step


def _hire_data(unit: Any, today: dt.date, **extra: Any) -> dict[str, Any] | None:
    """An application the unit may make: its largest baseline situation and class, 1 place."""
    ctx = staffing_selectors.unit_contexts([unit], today)[unit.pk]
    if ctx.total_cap is None or ctx.current_total + ctx.reserved_total >= ctx.total_cap:
        return None
    rules = staffing_selectors.ruleset_for(unit.jurisdiction_path, today)
    for row in (BaselineCount.objects.filter(unit=unit).values("situation", "post_class")
                .annotate(n=Sum("count")).order_by("-n")):
        cls = row["post_class"]
        cap = ctx.class_caps.get(cls)
        taken = ctx.current_by_class.get(cls, 0) + ctx.reserved_by_class.get(cls, 0)
        if cap is None or taken >= cap or rules.policy_of(cls) == "reduce":
            continue
        work_type = next(c for c, r in sorted(rules.table(RuleTable.WORK_TYPE).items()) if r.parent_code == cls)
        return {"unit": unit.pk, "situation": row["situation"], "post_class": cls, "work_type": work_type,
                "quantity": 1, "post_names": [rules.name_of(RuleTable.WORK_TYPE, work_type) + "岗"],
                "funding_source": "fiscal", "monthly_cost": "4800", "reason": "业务量增加，现有人员不足", **extra}
    return None


def build_cases(prefix: str = "th") -> dict[str, int]:
    users = {u.username.split("_", 1)[1]: u for u in User.objects.filter(username__startswith=f"{prefix}_")}
    operator, reviewer, finance, hr, leader = (users[k] for k in ("operator", "reviewer", "finance", "hr", "leader"))
    today = timezone.localdate()
    made: dict[str, int] = {}
    unit = operator.unit
    assert unit is not None  # a unit operator is bound to a unit

    def act(user: User, case: Case, step: str, action: str = "approve", opinion: str = "同意。", **kw: Any) -> Case:
        return wf.case_act(actor=user, case_id=case.pk, step=step, action=action, opinion=opinion, **kw)

    def submit(**extra: Any) -> Case | None:
        data = _hire_data(unit, today, **extra)
        return wf.case_submit(actor=operator, kind="hire", data=data) if data else None

    # 0. Two approved cap changes make room: the unit's 普通辅助岗 are at their cap.
    ctx = staffing_selectors.unit_contexts([unit], today)[unit.pk]
    if ctx.total_cap is not None and "general_auxiliary" in ctx.class_caps:
        for post_class, cap, reason in (
            ("general_auxiliary", ctx.class_caps["general_auxiliary"] + 3, "新增政务服务窗口，需增加普通辅助岗位"),
            ("", ctx.total_cap + 2, "承接上级下放事项，总量相应调整"),
        ):
            change = wf.case_submit(actor=operator, kind="cap_change",
                                    data={"unit": unit.pk, "post_class": post_class, "cap": cap,
                                          "reason": reason})
            for user, step in ((reviewer, "establishment"), (finance, "finance"), (leader, "leading_group")):
                act(user, change, step)
        made["cap_changes"] = 2
    # 1. Just submitted: in the three departments' inboxes.
    if submit(reason="窗口业务量增加，申请补充窗口服务人员") is not None:
        made["pending"] = 1
    # 2. Reviewed by all three departments: with the leading group, overdue.
    case = submit(reason="新增业务系统运维，申请补充人员")
    if case is not None:
        act(reviewer, case, "establishment", opinion="规模在上限以内，同意。")
        act(finance, case, "finance", opinion="经费渠道已落实，同意。")
        act(hr, case, "hr", opinion="岗位不属于关键岗位，条件符合，同意。")
        # The demo shows an overdue step: the leading group received it fifteen working days ago.
        Step.objects.filter(case=case, code="leading_group").update(due_on=today - dt.timedelta(days=5))
        made["with_leading_group"] = 1
    # 3. Returned by finance for a cost estimate.
    case = submit(monthly_cost="", reason="临时性工作任务增加")
    if case is not None:
        act(reviewer, case, "establishment", opinion="规模可行。")
        act(finance, case, "finance", action="return", opinion="请补充人均月经费测算后再报。")
        made["returned"] = 1
    # 4. Approved: the authorisation exists.
    case = submit(reason="退休人员空缺，申请补充")
    if case is not None:
        for user, step in ((reviewer, "establishment"), (finance, "finance"), (hr, "hr"), (leader, "leading_group")):
            act(user, case, step)
        made["approved"] = 1
    # 5. Rejected by HR: a key-post-like duty hidden in the reason.
    case = submit(reason="协助办理人员调配手续")
    if case is not None:
        act(hr, case, "hr", action="reject", opinion="所述工作涉及人事事项，编外人员不得从事，不予同意。")
        made["rejected"] = 1
    return made
