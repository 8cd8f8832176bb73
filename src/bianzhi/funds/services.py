"""The only writers of 编外人员经费 and purchased services. One transaction each, the audit
row in it, every violation reported at once, nothing written on a refusal."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from bianzhi.accounts.permissions import require
from bianzhi.common import audit
from bianzhi.common.errors import TOO_LONG, BianzhiError, Collector
from bianzhi.common.scoping import scoped
from bianzhi.orgs.errors import UNIT_NOT_FOUND
from bianzhi.orgs.models import Unit
from bianzhi.staffing import selectors as staffing_selectors
from bianzhi.staffing.choices import RuleTable
from bianzhi.staffing.models import Spell

from . import errors, rules, selectors
from .models import PurchaseContract, ServiceConversion, UnitFunding

CATALOGUE_FILE = Path(__file__).resolve().parent / "data" / "catalogue.yaml"
UNSET: Any = object()
TO_PURCHASED_SERVICE = "to_purchased_service"


def catalogue_load(*, actor: Any = None) -> dict[str, int]:
    """Load the default service catalogue into the rule tables (idempotent)."""
    from bianzhi.staffing.services import rules_load

    return rules_load(actor=actor, path=CATALOGUE_FILE)


def _unit(actor: Any, unit_id: Any, c: Collector, *, lock: bool = False) -> Unit | None:
    qs = Unit.objects.select_for_update() if lock else Unit.objects.all()
    try:
        unit = scoped(qs, actor).filter(pk=unit_id).first()
    except (TypeError, ValueError):
        unit = None
    if unit is None:
        c.add(UNIT_NOT_FOUND, field="unit", value=unit_id)
    return unit


def _money(value: Any, field: str, c: Collector) -> decimal.Decimal | None:
    try:
        return rules.parse_yuan(value)
    except ValueError as exc:
        c.add(str(exc), field=field, value=value)
        return None


def _year(value: Any, c: Collector, today: dt.date) -> int | None:
    try:
        return rules.parse_year(value, today)
    except ValueError as exc:
        c.add(str(exc), field="year", value=value)
        return None


def _snapshot(f: UnitFunding | None) -> dict[str, Any] | None:
    return None if f is None else {"budget": f.budget, "spending": f.spending}


@transaction.atomic
def funding_set(*, actor: Any, unit_id: Any, year: Any, budget: Any = UNSET, spending: Any = UNSET,
                today: dt.date | None = None) -> UnitFunding:
    """Declare a unit's 编外人员经费 budget and/or record its spending for a year. A budget above
    the unit's funding cap is refused with ``budget_over_cap``. ``None`` clears a figure."""
    require(actor, "funding.change")
    today = today or timezone.localdate()
    c = Collector()
    unit = _unit(actor, unit_id, c, lock=True)
    number = _year(year, c, today)
    values: dict[str, decimal.Decimal | None] = {}
    for name, raw in (("budget", budget), ("spending", spending)):
        if raw is UNSET:
            continue
        values[name] = None if raw in (None, "") else _money(raw, name, c)
    if not values:
        c.add(errors.FUNDING_EMPTY, field="budget")
    c.raise_if_any()
    assert unit is not None and number is not None
    current = UnitFunding.objects.filter(unit=unit, year=number).first()
    new_budget = values.get("budget", current.budget if current else None)
    if "budget" in values and new_budget is not None:
        baseline_year = selectors.baseline_year(unit.jurisdiction_path)
        known = {number: values.get("spending")} if "spending" in values else {}
        cap = selectors.funding_cap_for(unit, number, pending=known)
        for code, params in rules.check_budget(year=number, amount=new_budget, baseline_year=baseline_year,
                                               cap=cap):
            c.add(code, field="budget", value=f"{new_budget:,.2f}", **params)
    c.raise_if_any()
    before = _snapshot(current)
    if current is None:
        current = UnitFunding(unit=unit, jurisdiction_path=unit.jurisdiction_path, year=number)
    for name, value in values.items():
        setattr(current, name, value)
    current.save()
    audit.record(actor, audit.entry_for("funding.set", current, scope_path=unit.jurisdiction_path, before=before,
                                        after={"unit": unit.uscc, "year": number, **_snapshot(current)}))  # type: ignore[dict-item]
    return current


def _item_code(path: str, value: Any, day: dt.date, c: Collector) -> str | None:
    ruleset = staffing_selectors.ruleset_for(path, day)
    code = ruleset.lookup(RuleTable.SERVICE_ITEM, str(value or ""))
    if code is None:
        c.add(errors.UNKNOWN_SERVICE_ITEM, field="item", value=value,
              allowed=" / ".join(ruleset.names(RuleTable.SERVICE_ITEM)))
    return code


def _date(value: Any, field: str, c: Collector) -> dt.date | None:
    from bianzhi.staffing.spells import _date as parse

    return parse(value, field, c)


@transaction.atomic
def contract_create(*, actor: Any, unit_id: Any, number: Any, item: Any, start: Any, end: Any,
                    amount: Any) -> PurchaseContract:
    """Register a purchase contract of a catalogue service, in force on [start, end]."""
    require(actor, "purchase.change")
    c = Collector()
    unit = _unit(actor, unit_id, c)
    number = str(number or "").strip()
    if not number:
        c.add(errors.CONTRACT_NUMBER_REQUIRED, field="number")
    elif len(number) > 64:
        c.add(TOO_LONG, field="number", value=number, max=64)
    elif PurchaseContract.objects.filter(number=number).exists():
        c.add(errors.CONTRACT_NUMBER_TAKEN, field="number", value=number)
    first, last = _date(start, "start", c), _date(end, "end", c)
    if first is not None and last is not None and last < first:
        c.add(errors.CONTRACT_END_BEFORE_START, field="end", value=last)
    code = _item_code(unit.jurisdiction_path if unit else "", item, first or timezone.localdate(), c)
    money = _money(amount, "amount", c)
    c.raise_if_any()
    assert unit is not None and first is not None and last is not None and code is not None and money is not None
    try:
        with transaction.atomic():
            contract = PurchaseContract.objects.create(
                number=number, unit=unit, jurisdiction_path=unit.jurisdiction_path, item=code, start=first, end=last,
                amount=money, created_by=actor if getattr(actor, "pk", None) else None)
    except IntegrityError:
        raise BianzhiError(errors.CONTRACT_NUMBER_TAKEN, field="number", value=number) from None
    audit.record(actor, audit.entry_for("contract.create", contract, scope_path=unit.jurisdiction_path, after={
        "number": number, "unit": unit.uscc, "item": code, "start": first, "end": last, "amount": money}))
    return contract


@transaction.atomic
def exit_to_service(*, actor: Any, spell_id: Any, leave_date: Any, contract_number: Any) -> ServiceConversion:
    """Move a post to a purchased service: the record exits with reason 转为购买服务 and cites
    the unit's contract whose item replaces its work type, in force on the leave date."""
    from bianzhi.staffing import errors as staffing_errors
    from bianzhi.staffing.spells import spell_exit

    require(actor, "roster.change")
    c = Collector()
    try:
        spell = scoped(Spell.objects.select_related("unit"), actor).filter(pk=spell_id).first()
    except (TypeError, ValueError):
        spell = None
    if spell is None:
        raise BianzhiError(staffing_errors.SPELL_NOT_FOUND, field="spell", value=spell_id)
    contract = scoped(PurchaseContract.objects.all(), actor).filter(number=str(contract_number or "").strip()).first()
    leave = _date(leave_date, "leave_date", c)
    if contract is None:
        c.add(errors.CONTRACT_NOT_FOUND, field="contract", value=contract_number)
    else:
        ruleset = staffing_selectors.ruleset_for(spell.jurisdiction_path, leave or contract.start)
        replaces = rules.replaced_by({contract.item: ruleset.table(RuleTable.SERVICE_ITEM)[contract.item].value}
                                     if contract.item in ruleset.table(RuleTable.SERVICE_ITEM) else {})
        if contract.unit_id != spell.unit_id:
            c.add(errors.CONTRACT_OTHER_UNIT, field="contract", value=contract.number)
        elif spell.work_type not in replaces.get(contract.item, set()):
            c.add(errors.CONTRACT_NOT_REPLACING, field="contract", value=contract.number,
                  item=ruleset.name_of(RuleTable.SERVICE_ITEM, contract.item))
        elif leave is not None and not contract.start <= leave <= contract.end:
            c.add(errors.CONTRACT_NOT_IN_FORCE, field="contract", value=contract.number,
                  start=contract.start.isoformat(), end=contract.end.isoformat())
    c.raise_if_any()
    assert contract is not None and leave is not None
    spell = spell_exit(actor=actor, spell_id=spell.pk, leave_date=leave, exit_reason=TO_PURCHASED_SERVICE)
    conversion = ServiceConversion.objects.create(spell=spell, contract=contract, unit_id=spell.unit_id,
                                                  jurisdiction_path=spell.jurisdiction_path, converted_on=leave)
    audit.record(actor, audit.entry_for("spell.to_service", conversion, scope_path=spell.jurisdiction_path, after={
        "spell": spell.pk, "contract": contract.number, "leave_date": leave}))
    return conversion
