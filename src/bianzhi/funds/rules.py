"""Pure rules of 编外人员经费 and purchased services: money and years, the funding cap, the
"both fall" check and the double-dipping rule of INDICATORS.md. Plain values in; no ORM."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import errors

MAX_YUAN = decimal.Decimal("1000000000000")  # 10^12 yuan: far above any unit's budget
FIRST_YEAR = 2000
ONE_DAY = dt.timedelta(days=1)


def parse_yuan(value: Any) -> decimal.Decimal:
    """Yuan ≥ 0 with at most 2 decimals (``12``, ``"12.5"``, ``12.50``); raises
    ``ValueError(code)`` with ``money_invalid``."""
    if isinstance(value, bool) or value is None:
        raise ValueError(errors.MONEY_INVALID)
    try:
        amount = decimal.Decimal(str(value).strip().replace(",", ""))
    except decimal.InvalidOperation:
        raise ValueError(errors.MONEY_INVALID) from None
    exponent = amount.as_tuple().exponent
    if not amount.is_finite() or amount < 0 or amount >= MAX_YUAN or (isinstance(exponent, int) and exponent < -2):
        raise ValueError(errors.MONEY_INVALID)
    return amount.quantize(decimal.Decimal("0.01"))


def parse_year(value: Any, today: dt.date) -> int:
    """A year from 2000 to next year; raises ``ValueError(code)``."""
    if isinstance(value, bool):
        raise ValueError(errors.YEAR_INVALID)
    try:
        year = int(str(value).strip().removesuffix("年").removesuffix(".0"))
    except (TypeError, ValueError):
        raise ValueError(errors.YEAR_INVALID) from None
    if not FIRST_YEAR <= year <= today.year + 1:
        raise ValueError(errors.YEAR_INVALID)
    return year


def funding_cap(baseline_spending: decimal.Decimal | None, plan: decimal.Decimal | None) -> decimal.Decimal | None:
    """The most a unit may budget for a year: its spending in the baseline year, or its control
    plan's target for the year when that is lower (``None`` when neither is known)."""
    known = [v for v in (baseline_spending, plan) if v is not None]
    return min(known) if known else None


def check_budget(*, year: int, amount: decimal.Decimal, baseline_year: int, cap: decimal.Decimal | None,
                 ) -> list[tuple[str, dict[str, Any]]]:
    """Violations of a budget declaration: above the cap, or no cap known for a year after the
    baseline year (a budget of the baseline year or before is history, not limited)."""
    if year <= baseline_year:
        return []
    if cap is None:
        return [(errors.FUNDING_CAP_UNKNOWN, {"year": baseline_year})]
    if amount > cap:
        return [(errors.BUDGET_OVER_CAP, {"cap": f"{cap:,.2f}"})]
    return []


@dataclass(frozen=True)
class BothFall:
    """The 双下降 check of one unit or jurisdiction for one year."""

    headcount: int  # I01 on 31 December of the year
    baseline_count: int  # I03
    spending: decimal.Decimal | None  # I20
    baseline_spending: decimal.Decimal | None  # spending in the baseline year

    @property
    def headcount_fell(self) -> bool:
        return self.headcount < self.baseline_count

    @property
    def spending_fell(self) -> bool | None:
        if self.spending is None or self.baseline_spending is None:
            return None
        return self.spending < self.baseline_spending

    @property
    def both_fell(self) -> bool | None:
        """Yes / no, or ``None`` while a spending figure is missing (and the headcount fell)."""
        if not self.headcount_fell:
            return False
        return self.spending_fell


@dataclass(frozen=True)
class ContractFacts:
    id: int
    number: str
    unit_id: int
    item: str
    start: dt.date
    end: dt.date  # in force on this day too


@dataclass(frozen=True)
class RecordFacts:
    id: int
    unit_id: int
    work_type: str
    hire_date: dt.date
    leave_date: dt.date | None  # first day no longer in post


@dataclass
class Overlap:
    contract: ContractFacts
    record: RecordFacts
    first: dt.date
    last: dt.date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


@dataclass
class DoubleDipping:
    """A unit flagged over [a, b]: the contracts, the records and the days they overlap."""

    unit_id: int
    overlaps: list[Overlap] = field(default_factory=list)

    @property
    def contracts(self) -> list[ContractFacts]:
        return list({o.contract.id: o.contract for o in self.overlaps}.values())

    @property
    def records(self) -> list[RecordFacts]:
        return list({o.record.id: o.record for o in self.overlaps}.values())

    @property
    def first_day(self) -> dt.date:
        return min(o.first for o in self.overlaps)


def replaced_by(items: Mapping[str, str]) -> dict[str, set[str]]:
    """Service item code → the work-type codes it replaces, from the rule rows' values."""
    return {code: {w.strip() for w in value.replace("，", ",").split(",") if w.strip()}
            for code, value in items.items()}


def double_dipping(contracts: Iterable[ContractFacts], records: Iterable[RecordFacts],
                   replaces: Mapping[str, set[str]], a: dt.date, b: dt.date,
                   by_contract: Mapping[int, set[str]] | None = None) -> list[DoubleDipping]:
    """INDICATORS.md (I23): a unit is flagged over [a, b] when, on some day of [a, b], it has a
    contract in force for a catalogue item and a record counting that day whose work type the
    item replaces. A contract is in force on [start, end]; a record counts on
    [hire_date, leave_date). ``by_contract`` (contract id → work types) overrides ``replaces``
    where each contract's unit reads the catalogue of its own jurisdiction."""
    by_unit: dict[int, list[RecordFacts]] = {}
    for r in records:
        by_unit.setdefault(r.unit_id, []).append(r)
    flags: dict[int, DoubleDipping] = {}
    for c in contracts:
        kinds = by_contract[c.id] if by_contract is not None else replaces.get(c.item, set())
        if not kinds:
            continue
        for r in by_unit.get(c.unit_id, []):
            if r.work_type not in kinds:
                continue
            first = max(a, c.start, r.hire_date)
            last = min(b, c.end, r.leave_date - ONE_DAY if r.leave_date is not None else b)
            if first <= last:
                flags.setdefault(c.unit_id, DoubleDipping(c.unit_id)).overlaps.append(Overlap(c, r, first, last))
    return sorted(flags.values(), key=lambda f: f.unit_id)
