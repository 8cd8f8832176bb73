"""The funding control plan application (经费控制方案): target amounts of 编外人员经费 by year,
for one unit or for a whole jurisdiction, decided through the approvals engine (S7)."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from django.db.models import Sum
from django.utils.translation import gettext as _

from bianzhi.common.errors import TOO_LONG, Collector
from bianzhi.common.scoping import path_in_scope, scoped
from bianzhi.divisions.errors import DIVISION_NOT_FOUND
from bianzhi.divisions.models import Division
from bianzhi.orgs.errors import UNIT_NOT_FOUND
from bianzhi.orgs.models import Unit

from . import errors, rules, selectors
from .models import ControlPlan, UnitFunding

PLAN_YEARS_AHEAD = 5
REASON_MAX = 1000


def _targets(value: Any, today: dt.date, c: Collector) -> list[dict[str, str | int]]:
    out: list[dict[str, str | int]] = []
    seen: set[int] = set()
    rows = value if isinstance(value, list) else []
    for row in rows:
        if not isinstance(row, dict):
            continue
        try:
            year = rules.parse_year(row.get("year"), today.replace(year=today.year + PLAN_YEARS_AHEAD - 1))
        except ValueError as exc:
            c.add(str(exc), field="targets", value=row.get("year"))
            continue
        try:
            amount = rules.parse_yuan(row.get("amount"))
        except ValueError as exc:
            c.add(str(exc), field="targets", value=row.get("amount"))
            continue
        if year in seen:
            c.add(errors.PLAN_YEAR_TWICE, field="targets", value=year, year=year)
            continue
        seen.add(year)
        out.append({"year": year, "amount": str(amount)})
    if not out and not c:
        c.add(errors.PLAN_TARGETS_REQUIRED, field="targets")
    return sorted(out, key=lambda t: int(t["year"]))


class FundingPlanApplication:
    code = "funding_plan"
    permission = "application.funding_plan"

    def label(self) -> str:
        return _("Funding control plan")

    def clean(self, *, actor: Any, data: dict[str, Any], today: dt.date, case: Any = None,
              lock: bool = False) -> tuple[Any, dict[str, Any], str]:
        c = Collector()
        subject: Unit | Division | None = None
        unit_id = actor.unit_id if actor.is_unit_bound else data.get("unit")
        if unit_id:
            try:
                subject = scoped(Unit.objects.all(), actor).filter(pk=unit_id).first()
            except (TypeError, ValueError):
                subject = None
            if subject is None:
                c.add(UNIT_NOT_FOUND, field="unit", value=unit_id)
        else:
            code = str(data.get("jurisdiction") or (actor.jurisdiction.code if actor.jurisdiction_id else ""))
            subject = Division.objects.filter(code=code.strip()).first()
            if subject is None or not path_in_scope(subject.path, actor):
                c.add(DIVISION_NOT_FOUND, field="jurisdiction", value=code)
                subject = None
        targets = _targets(data.get("targets"), today, c)
        reason = str(data.get("reason") or "").strip()
        if not reason:
            from bianzhi.staffing.applications import REASON_REQUIRED

            c.add(REASON_REQUIRED, field="reason")
        elif len(reason) > REASON_MAX:
            c.add(TOO_LONG, field="reason", value=reason[:20], max=REASON_MAX)
        c.raise_if_any()
        assert subject is not None
        payload: dict[str, Any] = {"targets": targets, "reason": reason}
        if isinstance(subject, Unit):
            payload["unit"] = subject.pk
        else:
            payload["jurisdiction"] = subject.code
        years = "、".join(str(t["year"]) for t in targets)
        return subject, payload, _("%(who)s: funding control plan for %(years)s") % {"who": subject.name,
                                                                                     "years": years}

    def _subject(self, case: Any) -> tuple[Any, str]:
        if case.unit_id:
            return case.unit, case.unit.name
        return case.jurisdiction, case.jurisdiction.name

    def facts(self, case: Any) -> list[tuple[str, str]]:
        _subject, name = self._subject(case)
        rows = [(_("Plan for"), name)]
        rows += [(_("Target for %(year)s (yuan)") % {"year": t["year"]}, f"{decimal.Decimal(t['amount']):,.2f}")
                 for t in case.payload["targets"]]
        rows.append((_("Reason"), case.payload["reason"]))
        return rows

    def review(self, case: Any, today: dt.date) -> list[tuple[str, str, list[tuple[str, str]]]]:
        subject, _name = self._subject(case)
        fundings = UnitFunding.objects.filter(unit=subject) if case.unit_id else UnitFunding.objects.filter(
            jurisdiction_path__startswith=subject.path)
        base = selectors.baseline_year(case.jurisdiction_path)
        base_spent = fundings.filter(year=base).aggregate(s=Sum("spending"))["s"]
        rows = [(_("Spending in %(year)s (baseline year, yuan)") % {"year": base},
                 f"{base_spent:,.2f}" if base_spent is not None else "—")]
        for t in case.payload["targets"]:
            year = int(t["year"])
            sums = fundings.filter(year=year).aggregate(b=Sum("budget"), s=Sum("spending"))
            rows.append((_("%(year)s: target / budget / spending (yuan)") % {"year": year},
                         " / ".join(f"{v:,.2f}" if v is not None else "—"
                                    for v in (decimal.Decimal(t["amount"]), sums["b"], sums["s"]))))
        return [(_("Funds (finance)"), "finance_reviewer", rows)]

    def effect(self, *, case: Any, actor: Any, today: dt.date) -> str:
        from bianzhi.common import audit

        subject, _name = self._subject(case)
        created = []
        for t in case.payload["targets"]:
            year = int(t["year"])
            previous = ControlPlan.objects.select_for_update().filter(
                year=year, is_current=True, **({"unit": subject} if case.unit_id else
                                                {"unit__isnull": True, "jurisdiction": subject}))
            replaced = [p.pk for p in previous]
            previous.update(is_current=False)
            plan = ControlPlan.objects.create(
                unit=subject if case.unit_id else None, jurisdiction=case.jurisdiction,
                jurisdiction_path=case.jurisdiction_path, year=year, amount=decimal.Decimal(t["amount"]),
                case_number=case.number, approved_on=today)
            created.append(audit.entry_for("plan.approve", plan, scope_path=case.jurisdiction_path,
                                           before={"replaced": replaced} if replaced else None,
                                           after={"year": year, "amount": plan.amount, "case": case.number,
                                                  "unit": subject.uscc if case.unit_id else None,
                                                  "jurisdiction": case.jurisdiction.code}))
        audit.record_many(actor, created)
        return case.number
