"""The two 编外人员 applications the approvals engine runs (requirement S6):

* :class:`HireApplication` (用人申请) — N hires of one situation, post class and work type;
  the final approval creates a hire authorisation that register-mode records consume.
* :class:`CapChangeApplication` (规模上限调整申请) — raise or lower a unit's total or
  class cap; raising 专业技术岗 is the approved exception the class policy recognises.

Both re-check the caps in the deciding transaction under a lock on the unit row, so
concurrent final approvals can never together pass a cap.
"""

from __future__ import annotations

import calendar
import datetime as dt
import decimal
from typing import Any

from django.db.models import Q, Sum
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bianzhi.common.errors import TOO_LONG, Collector, define
from bianzhi.orgs.errors import UNIT_NOT_ACTIVE, UNIT_NOT_FOUND
from bianzhi.orgs.models import Unit

from . import errors, selectors
from .choices import ClassPolicy, RuleTable
from .models import CapChange, Spell
from .rules import RuleSet, UnitContext, check_hire_request
from .services import CAP_INVALID, cap_set
from .spells import _money, _text, _unit_in_scope, _whole, authorisation_create, facts_from

REASON_REQUIRED = define("reason_required", gettext_lazy("State the reason for the application."))
POST_NAMES_INVALID = define(
    "post_names_invalid",
    gettext_lazy("List 1 to %(max)s post names (one per line), each of 1 to 50 characters."))
CAP_UNCHANGED = define("cap_unchanged", gettext_lazy("The new cap equals the cap in force (%(cap)s)."))
CAP_INCREASE_FORBIDDEN = define(
    "cap_increase_forbidden",
    gettext_lazy("The policy of %(post_class)s (%(policy)s) allows no increase of its cap."))
REASON_MAX = 1000


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _post_names(value: Any) -> list[str]:
    if isinstance(value, str):
        value = value.replace("、", "\n").replace("，", "\n").replace(",", "\n").splitlines()
    if not isinstance(value, (list, tuple)):
        return []
    return [_text(v) for v in value if _text(v)]


def _unit_and_rules(actor: Any, data: dict[str, Any], today: dt.date, c: Collector, *,
                    lock: bool = False) -> tuple[Unit | None, RuleSet]:
    unit_id = actor.unit_id if actor.is_unit_bound and not data.get("unit") else data.get("unit")
    unit = _unit_in_scope(actor, unit_id, lock=lock)
    if unit is None:
        c.add(UNIT_NOT_FOUND, field="unit", value=unit_id)
    elif unit.ended_on is not None and unit.ended_on <= today:
        c.add(UNIT_NOT_ACTIVE, field="unit", value=unit.name)
    path = unit.jurisdiction_path if unit is not None else ""
    return unit, selectors.ruleset_for(path, today)


def _reason(data: dict[str, Any], c: Collector) -> str:
    reason = _text(data.get("reason"))
    if not reason:
        c.add(REASON_REQUIRED, field="reason")
    elif len(reason) > REASON_MAX:
        c.add(TOO_LONG, field="reason", value=reason[:20], max=REASON_MAX)
    return reason


def _unit_facts(unit: Unit | None, ctx: UnitContext, rules: RuleSet) -> list[tuple[str, str]]:
    """The establishment view of a unit: baseline, count, places approved and unused, caps."""
    if not ctx.has_baseline:
        return [(_("Stock baseline"), _("not taken"))]
    rows = [
        (_("Total cap"), f"{ctx.total_cap:,}" if ctx.total_cap is not None else "—"),
        (_("In post now"), f"{ctx.current_total:,}"),
        (_("Approved, not yet hired"), f"{ctx.reserved_total:,}"),
        (_("Headroom"), f"{max((ctx.total_cap or 0) - ctx.current_total - ctx.reserved_total, 0):,}"
         if ctx.total_cap is not None else "—"),
    ]
    for code, row in sorted(rules.table(RuleTable.POST_CLASS).items(), key=lambda kv: (kv[1].sort, kv[0])):
        cap = ctx.class_caps.get(code)
        rows.append((
            f"{row.name}（{ClassPolicy(row.policy).label if row.policy else ''}）",
            _("cap %(cap)s · in post %(now)s · approved %(reserved)s") % {
                "cap": f"{cap:,}" if cap is not None else "—", "now": f"{ctx.current_by_class.get(code, 0):,}",
                "reserved": f"{ctx.reserved_by_class.get(code, 0):,}"},
        ))
    return rows


def _violations_text(violations: list[Any]) -> str:
    from bianzhi.common.errors import message_for

    return "；".join(message_for(v.code, **v.params) for v in violations) if violations else _("complies")


class HireApplication:
    code = "hire"
    permission = "application.hire"

    def label(self) -> str:
        return _("Hire application")

    def clean(self, *, actor: Any, data: dict[str, Any], today: dt.date, case: Any = None,
              lock: bool = False) -> tuple[Any, dict[str, Any], str]:
        c = Collector()
        unit, rules = _unit_and_rules(actor, data, today, c, lock=lock)
        facts = facts_from(rules, situation=data.get("situation"), post_class=data.get("post_class"),
                           work_type=data.get("work_type"), key_post="",
                           funding_source=data.get("funding_source"), hire_date=today)
        allowed = {t: " / ".join(rules.names(t)) for t in (RuleTable.SITUATION, RuleTable.POST_CLASS,
                                                            RuleTable.FUNDING_SOURCE)}
        if facts.situation is None:
            c.add(errors.UNKNOWN_SITUATION, field="situation", value=data.get("situation"),
                  allowed=allowed[RuleTable.SITUATION])
        if facts.post_class is None:
            c.add(errors.UNKNOWN_POST_CLASS, field="post_class", value=data.get("post_class"),
                  allowed=allowed[RuleTable.POST_CLASS])
        if facts.work_type is None:
            c.add(errors.UNKNOWN_WORK_TYPE, field="work_type", value=data.get("work_type"))
        elif facts.post_class is not None and rules.class_of(facts.work_type) != facts.post_class:
            c.add(errors.WORK_TYPE_OTHER_CLASS, field="work_type", value=data.get("work_type"),
                  work_type=rules.name_of(RuleTable.WORK_TYPE, facts.work_type),
                  post_class=rules.name_of(RuleTable.POST_CLASS, rules.class_of(facts.work_type)))
        if facts.funding_source is None:
            c.add(errors.UNKNOWN_FUNDING_SOURCE, field="funding_source", value=data.get("funding_source"),
                  allowed=allowed[RuleTable.FUNDING_SOURCE])
        quantity = _whole(data.get("quantity"), 1)
        if quantity is None or quantity > 10000:
            c.add(errors.QUANTITY_INVALID, field="quantity", value=data.get("quantity"))
        names = _post_names(data.get("post_names"))
        if not names or len(names) > (quantity or 1) or any(len(n) > 50 for n in names):
            c.add(POST_NAMES_INVALID, field="post_names", value="、".join(names)[:60] or None, max=quantity or 1)
        cost = _money(data.get("monthly_cost"), "monthly_cost", c)
        reason = _reason(data, c)
        if unit is not None and quantity is not None:
            ctx = selectors.unit_contexts([unit], today)[unit.pk]
            for v in check_hire_request(facts, ctx, rules, quantity=quantity, post_names=names):
                shown = {"situation": data.get("situation"), "post_class": data.get("post_class"),
                         "quantity": quantity, "post_names": v.params.get("post")}
                c.add(v.code, field=v.field, value=shown.get(v.field or ""), **v.params)
        c.raise_if_any()
        assert unit is not None and quantity is not None and facts.post_class and facts.situation
        payload = {
            "unit": unit.pk, "situation": facts.situation, "post_class": facts.post_class,
            "work_type": facts.work_type, "quantity": quantity, "post_names": names,
            "funding_source": facts.funding_source, "monthly_cost": str(cost) if cost is not None else "",
            "reason": reason,
        }
        title = _("%(unit)s: %(n)s %(post_class)s hire(s)") % {
            "unit": unit.name, "n": quantity, "post_class": rules.name_of(RuleTable.POST_CLASS, facts.post_class)}
        return unit, payload, title

    def facts(self, case: Any) -> list[tuple[str, str]]:
        p = case.payload
        rules = selectors.ruleset_for(case.jurisdiction_path, case.submitted_at.date())
        return [
            (_("Applying unit"), case.unit.name if case.unit else ""),
            (_("Situation"), rules.name_of(RuleTable.SITUATION, p["situation"])),
            (_("Post class"), rules.name_of(RuleTable.POST_CLASS, p["post_class"])),
            (_("Work type"), rules.name_of(RuleTable.WORK_TYPE, p["work_type"])),
            (_("Hires applied for"), str(p["quantity"])),
            (_("Post names"), "、".join(p["post_names"])),
            (_("Funding source"), rules.name_of(RuleTable.FUNDING_SOURCE, p["funding_source"])),
            (_("Estimated monthly cost per person (yuan)"), p.get("monthly_cost") or "—"),
            (_("Reason"), p["reason"]),
        ]

    def review(self, case: Any, today: dt.date) -> list[tuple[str, str, list[tuple[str, str]]]]:
        """(title, role, rows) panels: establishment (scale), finance (funds), HR (personnel)."""
        p = case.payload
        unit = case.unit
        rules = selectors.ruleset_for(case.jurisdiction_path, today)
        ctx = selectors.unit_contexts([unit], today)[unit.pk]
        facts = facts_from(rules, situation=p["situation"], post_class=p["post_class"], work_type=p["work_type"],
                           key_post="", funding_source=p["funding_source"], hire_date=today)
        found = check_hire_request(facts, ctx, rules, quantity=p["quantity"], post_names=p["post_names"])
        scale_codes = {errors.NO_BASELINE, errors.SITUATION_FROZEN, errors.POST_CLASS_FROZEN, errors.CAP_EXCEEDED,
                       errors.CLASS_CAP_EXCEEDED, errors.CLASS_MUST_REDUCE}
        scale = [*_unit_facts(unit, ctx, rules),
                 (_("Policy check of this application"),
                  _violations_text([v for v in found if v.code in scale_codes]))]
        if case.is_open:
            scale.insert(4, (_("After this application"),
                             f"{ctx.current_total + ctx.reserved_total + p['quantity']:,}"))
        # Finance: what the roster costs now and what the application would add (the
        # 编外人员经费 budget and its cap join this panel with the funding module).
        counting = selectors.counting_on(Spell.objects.filter(unit=unit), today)
        monthly = counting.aggregate(s=Sum("monthly_cost"))["s"] or decimal.Decimal("0")
        unknown = counting.filter(monthly_cost__isnull=True).count()
        estimate = (decimal.Decimal(p["monthly_cost"]) * p["quantity"] * 12) if p.get("monthly_cost") else None
        funds = [
            (_("Funding source"), rules.name_of(RuleTable.FUNDING_SOURCE, p["funding_source"])),
            (_("Monthly cost of the staff in post (yuan)"), f"{monthly:,.2f}"),
            (_("Records without a monthly cost"), f"{unknown:,}"),
            (_("Yearly cost of this application (yuan)"), f"{estimate:,.2f}" if estimate is not None else "—"),
        ]
        funds.extend(self._budget_rows(case, today))
        key = [v for v in found if v.code == errors.KEY_POST_BANNED]
        people = [
            (_("Post names"), "、".join(p["post_names"])),
            (_("Key posts (personnel, finance, classified)"), _violations_text(key)),
            (_("Work type and post class"), f"{rules.name_of(RuleTable.WORK_TYPE, p['work_type'])} → "
                                             f"{rules.name_of(RuleTable.POST_CLASS, p['post_class'])}"),
            (_("Situation"), rules.name_of(RuleTable.SITUATION, p["situation"])),
        ]
        return [(_("Scale (establishment office)"), "establishment_reviewer", scale),
                (_("Funds (finance)"), "finance_reviewer", funds),
                (_("Personnel (human resources)"), "hr_reviewer", people)]

    def _budget_rows(self, case: Any, today: dt.date) -> list[tuple[str, str]]:
        """The 编外人员经费 of the unit this year: cap, budget, spending, room under the cap."""
        from bianzhi.funds import selectors as funds
        from bianzhi.funds.models import UnitFunding

        year = today.year
        cap = funds.funding_cap_for(case.unit, year)
        row = UnitFunding.objects.filter(unit=case.unit, year=year).first()
        budget = row.budget if row else None
        spending = row.spending if row else None

        def money(v: Any) -> str:
            return f"{v:,.2f}" if v is not None else "—"

        room = cap - budget if cap is not None and budget is not None else None
        return [
            (_("Funding cap for %(year)s (yuan)") % {"year": year}, money(cap)),
            (_("Budget declared for %(year)s (yuan)") % {"year": year}, money(budget)),
            (_("Spending recorded for %(year)s (yuan)") % {"year": year}, money(spending)),
            (_("Room under the cap (yuan)"), money(room)),
        ]

    def effect(self, *, case: Any, actor: Any, today: dt.date) -> str:
        """Re-check everything under a lock on the unit row, then create the authorisation."""
        p = case.payload
        self.clean(actor=actor, data=p, today=today, case=case, lock=True)
        rules = selectors.ruleset_for(case.jurisdiction_path, today)
        auth = authorisation_create(
            actor=actor, unit_id=case.unit_id, post_class=p["post_class"], situation=p["situation"],
            quantity=p["quantity"], valid_from=today,
            valid_to=add_months(today, rules.authorisation_validity_months), document_ref=case.number, case=case,
        )
        return auth.number


class CapChangeApplication:
    code = "cap_change"
    permission = "application.cap_change"

    def label(self) -> str:
        return _("Cap change application")

    def clean(self, *, actor: Any, data: dict[str, Any], today: dt.date, case: Any = None,
              lock: bool = False) -> tuple[Any, dict[str, Any], str]:
        c = Collector()
        unit, rules = _unit_and_rules(actor, data, today, c, lock=lock)
        raw_class = _text(data.get("post_class"))
        post_class = rules.lookup(RuleTable.POST_CLASS, raw_class) if raw_class else ""
        if post_class is None:
            c.add(errors.UNKNOWN_POST_CLASS, field="post_class", value=raw_class,
                  allowed=" / ".join(rules.names(RuleTable.POST_CLASS)))
        cap = _whole(data.get("cap"), 0)
        if cap is None:
            c.add(CAP_INVALID, field="cap", value=data.get("cap"))
        reason = _reason(data, c)
        if unit is not None and post_class is not None and cap is not None:
            ctx = selectors.unit_contexts([unit], today)[unit.pk]
            current = ctx.class_caps.get(post_class) if post_class else ctx.total_cap
            if not ctx.has_baseline:
                c.add(errors.NO_BASELINE, field="unit", value=unit.name)
            elif post_class and post_class not in ctx.baseline_classes:
                c.add(errors.POST_CLASS_FROZEN, field="post_class", value=raw_class)
            elif current == cap:
                c.add(CAP_UNCHANGED, field="cap", value=cap, cap=current)
            elif post_class and current is not None and cap > current and rules.policy_of(post_class) in (
                    ClassPolicy.OPTIMISE_STOCK, ClassPolicy.REDUCE):
                c.add(CAP_INCREASE_FORBIDDEN, field="cap", value=cap,
                      post_class=rules.name_of(RuleTable.POST_CLASS, post_class),
                      policy=ClassPolicy(rules.policy_of(post_class)).label)
        c.raise_if_any()
        assert unit is not None and cap is not None and post_class is not None
        what = rules.name_of(RuleTable.POST_CLASS, post_class) if post_class else _("total")
        payload = {"unit": unit.pk, "post_class": post_class, "cap": cap, "reason": reason}
        return unit, payload, _("%(unit)s: cap of %(what)s to %(cap)s") % {"unit": unit.name, "what": what,
                                                                             "cap": cap}

    def _current(self, case: Any, today: dt.date) -> tuple[UnitContext, int | None]:
        ctx = selectors.unit_contexts([case.unit], today)[case.unit_id]
        p = case.payload
        return ctx, ctx.class_caps.get(p["post_class"]) if p["post_class"] else ctx.total_cap

    def facts(self, case: Any) -> list[tuple[str, str]]:
        p = case.payload
        rules = selectors.ruleset_for(case.jurisdiction_path, case.submitted_at.date())
        return [
            (_("Applying unit"), case.unit.name if case.unit else ""),
            (_("Cap of"), rules.name_of(RuleTable.POST_CLASS, p["post_class"]) if p["post_class"] else _("total")),
            (_("New cap"), f"{p['cap']:,}"),
            (_("Reason"), p["reason"]),
        ]

    def review(self, case: Any, today: dt.date) -> list[tuple[str, str, list[tuple[str, str]]]]:
        rules = selectors.ruleset_for(case.jurisdiction_path, today)
        ctx, current = self._current(case, today)
        p = case.payload
        rows = [(_("Cap in force"), f"{current:,}" if current is not None else "—"),
                (_("New cap"), f"{p['cap']:,}"), *_unit_facts(case.unit, ctx, rules)]
        if p["post_class"] and rules.policy_of(p["post_class"]) == ClassPolicy.CONTROL_INCREASE and (
                current is not None and p["cap"] > current):
            rows.append((_("Approved exception"), _("yes: an increase of a class whose increases are strictly "
                                                     "controlled")))
        history = CapChange.objects.filter(unit=case.unit).filter(Q(post_class=p["post_class"])).order_by(
            "-valid_from")[:5]
        rows.extend((_("Earlier change from %(date)s") % {"date": h.valid_from.isoformat()},
                     f"{h.cap:,} {h.document_ref}") for h in history)
        return [(_("Scale (establishment office)"), "establishment_reviewer", rows)]

    def effect(self, *, case: Any, actor: Any, today: dt.date) -> str:
        p = case.payload
        self.clean(actor=actor, data=p, today=today, case=case, lock=True)
        rules = selectors.ruleset_for(case.jurisdiction_path, today)
        _ctx, current = self._current(case, today)
        exception = bool(p["post_class"] and rules.policy_of(p["post_class"]) == ClassPolicy.CONTROL_INCREASE
                         and current is not None and p["cap"] > current)
        cap_set(actor=actor, unit_id=case.unit_id, cap=p["cap"], valid_from=today, post_class=p["post_class"],
                document_ref=case.number, is_exception=exception, case=case)
        return case.number
