"""Imports of 编外人员经费 (funding) and 购买服务合同 (service purchases), requirement S13 / X4.

The path is the house one (see :mod:`bianzhi.orgs.importing`): read (python-calamine or
CSV) → coerce every cell → validate every row with a fixed number of batched look-ups →
report **every** error with row, column, value and code → only when there is none, write
everything in one transaction (``bulk_create`` / ``bulk_update``) with one import audit
event plus one per created or changed object. A dry run does the same reading,
validation and preview and writes nothing (not even an audit row).

Funding (``funding.change``) — key 统一社会信用代码 + 年度
--------------------------------------------------------
A row names a unit of the importer's jurisdiction (unknown and out of scope are the same
``unit_not_found``; an abolished unit is accepted, its history may still be recorded) and
a year from 2000 to next year. 预算数 and 支出数 are yuan ≥ 0 with at most two decimals;
an empty cell means "not stated" and keeps the registered figure (so an older file never
erases one), and a row stating neither is ``funding_empty``. A row whose key is not
registered creates the unit's funding of that year, one whose key is registered updates
it; a row that changes nothing writes nothing, so importing the same file twice is a no-op
apart from the one ``funding.import`` audit event of the attempt.

Every budget the file states for a year after the baseline year is checked against the
unit's funding cap (:func:`bianzhi.funds.rules.check_budget`): its spending in the
baseline year, or its current control plan's target for that year when lower. **The
file's own baseline-year spending counts**: a first load may give the 2019 spending and
the later budgets in one file. Restating a registered budget is checked too (as the form
does), so a file re-imported after a lower control plan was approved is refused for the
budgets now above the cap.

Purchases (``purchase.change``) — key 合同编号
---------------------------------------------
合同编号 is unique province-wide. A number given twice in the file is ``duplicate_key``;
a number already registered is accepted only when the registered contract is the same
contract (same unit, item, dates and amount: the row is reported as unchanged, which
makes a re-import a no-op); a registered number with any other value is refused with
``contract_number_taken`` — an import never rewrites a registered contract. The unit is
one of the importer's jurisdiction (a unit operator: its own unit), 服务目录项 an item of
the service catalogue in force for the unit's jurisdiction on the start date (name or
code), the dates ``YYYY-MM-DD`` (both days in force, so start ≤ end) and 金额 yuan ≥ 0.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from bianzhi.accounts.permissions import require
from bianzhi.common import audit
from bianzhi.common.errors import BianzhiError, ErrorDetail
from bianzhi.common.scoping import Scope, scope_of
from bianzhi.common.tabular import (
    DUPLICATE_KEY,
    CellError,
    Change,
    Column,
    ImportResult,
    Record,
    Template,
    as_date,
    as_uscc,
    read_table,
    sha256_hex,
    text,
)
from bianzhi.orgs.errors import UNIT_NOT_FOUND
from bianzhi.orgs.importing import IMPORT_CONFLICT
from bianzhi.orgs.models import Unit
from bianzhi.staffing import selectors as staffing_selectors
from bianzhi.staffing.choices import RuleTable
from bianzhi.staffing.rules import RuleRow, RuleSet

from . import errors, rules
from .models import ControlPlan, PurchaseContract, UnitFunding

#: ``progress(phase, done, total)`` with the phases ``read``, ``validate`` and ``write``.
Progress = Callable[[str, int, int], None]
BATCH = 2000


# --------------------------------------------------------------------------- coercers


def as_yuan(value: Any) -> decimal.Decimal:
    """Yuan ≥ 0, at most two decimals (:func:`bianzhi.funds.rules.parse_yuan`)."""
    try:
        return rules.parse_yuan(value)
    except ValueError as exc:
        raise CellError(str(exc)) from None


def year_coercer(today: dt.date) -> Callable[[Any], int]:
    """A year from 2000 to next year (``2021``, ``2021.0``, ``"2021年"``)."""

    def coerce(value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        try:
            return rules.parse_year(value, today)
        except ValueError as exc:
            raise CellError(str(exc)) from None

    return coerce


def funding_template(today: dt.date | None = None) -> Template:
    """The 编外人员经费 template (TEMPLATES.md); ``today`` bounds the year column."""
    return Template([
        Column("统一社会信用代码", "uscc", required=True, coerce=as_uscc),
        Column("年度", "year", required=True, coerce=year_coercer(today or timezone.localdate())),
        Column("预算数", "budget", coerce=as_yuan),
        Column("支出数", "spending", coerce=as_yuan),
    ])


PURCHASE_TEMPLATE = Template([
    Column("合同编号", "number", required=True, coerce=text(64)),
    Column("统一社会信用代码", "uscc", required=True, coerce=as_uscc),
    Column("服务目录项", "item", required=True, coerce=text(64)),
    Column("开始日期", "start", required=True, coerce=as_date),
    Column("结束日期", "end", required=True, coerce=as_date),
    Column("金额", "amount", required=True, coerce=as_yuan),
])


# --------------------------------------------------------------------------- look-ups


def _among(values: list[str] | list[int]) -> RawSQL:
    """The operand of an ``IN`` over many values as one parameter: one query, no batches."""
    if connection.vendor == "postgresql":
        kind = "bigint" if values and isinstance(values[0], int) else "text"
        return RawSQL(f"SELECT unnest(%s::{kind}[])", (values,))
    return RawSQL("SELECT value FROM json_each(%s)", (json.dumps(values),))


@dataclass(slots=True, frozen=True)
class _Unit:
    pk: int
    uscc: str
    name: str
    path: str


def _units(scope: Scope, codes: Iterable[str]) -> dict[str, _Unit]:
    """Units of the importer's scope by credit code; any other code reads as unknown."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    qs = Unit.objects.filter(uscc__in=_among(wanted), jurisdiction_path__startswith=scope.path)
    if scope.unit_id is not None:
        qs = qs.filter(pk=scope.unit_id)
    return {uscc: _Unit(pk, uscc, name, path)
            for pk, uscc, name, path in qs.values_list("pk", "uscc", "name", "jurisdiction_path")}


def _rule_rows(table: str) -> list[RuleRow]:
    return [r for r in staffing_selectors.rule_rows() if r.table == table]


class _Rulesets:
    """Rule sets per (path, day) from one read of the rule rows of one table."""

    def __init__(self, table: str) -> None:
        self.rows = _rule_rows(table)
        self.cache: dict[tuple[str, dt.date], RuleSet] = {}

    def get(self, path: str, day: dt.date) -> RuleSet:
        key = (path, day)
        found = self.cache.get(key)
        if found is None:
            found = self.cache[key] = staffing_selectors.ruleset_for(path, day, self.rows)
        return found


def _report(progress: Progress | None) -> Progress:
    return progress or (lambda phase, done, total: None)


def _read(template: Template, result: ImportResult, data: bytes, filename: str) -> list[Record] | None:
    """Read and coerce a file; ``None`` (with ``result.errors`` set) when it cannot go on."""
    try:
        table = read_table(data, filename)
    except BianzhiError as exc:
        result.errors = exc.errors
        return None
    header_errors = template.header_errors(table)
    if header_errors:
        result.errors = sorted(header_errors, key=template.order_key())
        return None
    result.rows = len(table.rows)
    return list(template.records(table, result.errors))


def _run(result: ImportResult, dry_run: bool, validate: Callable[[], Any], write: Callable[[Any], None],
         order: Callable[[ErrorDetail], Any]) -> None:
    """Validate, then write in one transaction unless there is an error or it is a dry run.

    The validation runs inside the writing transaction (on SQLite it holds the write lock
    from its start), so what was checked is what is written."""

    def run() -> None:
        plan = validate()
        if result.errors or dry_run:
            return
        write(plan)

    if dry_run:
        run()
    else:
        try:
            with transaction.atomic():
                run()
                if result.errors:
                    transaction.set_rollback(True)
        except IntegrityError:
            result.created = result.updated = result.unchanged = 0
            result.preview = []
            result.errors.append(ErrorDetail(IMPORT_CONFLICT))
    if result.errors:
        result.created = result.updated = result.unchanged = 0
        result.preview = []
    result.errors.sort(key=order)


def _import_entry(kind: str, actor: Any, result: ImportResult, object_type: str, today: dt.date) -> audit.Entry:
    return audit.Entry(action=f"{kind}.import", scope_path=scope_of(actor).path, object_type=object_type,
                       object_repr=result.filename[:255],
                       after={"file": result.filename, "sha256": result.sha256, "on": today, **result.counts()})


# --------------------------------------------------------------------------- funding


@dataclass(slots=True)
class _FundingRow:
    record: Record
    unit: _Unit
    year: int
    budget: decimal.Decimal | None
    spending: decimal.Decimal | None
    existing: tuple[int, decimal.Decimal | None, decimal.Decimal | None] | None = None  # pk, budget, spending


@dataclass
class _FundingPlan:
    creates: list[_FundingRow] = field(default_factory=list)
    updates: list[_FundingRow] = field(default_factory=list)
    unchanged: int = 0


def _validate_funding(actor: Any, template: Template, records: list[Record], errs: list[ErrorDetail],
                      today: dt.date) -> _FundingPlan:
    units = _units(scope_of(actor), (r.values["uscc"] for r in records if r.values["uscc"]))
    unit_ids = sorted({u.pk for u in units.values()})
    # The baseline year of each jurisdiction (its rule setting baseline_date; 2019 by default).
    settings = _Rulesets(RuleTable.SETTING)
    base_year = {path: settings.get(path, today).baseline_date.year for path in {u.path for u in units.values()}}
    # Registered funding of the file's units (every year: the baseline year's spending too).
    registered: dict[tuple[int, int], tuple[int, decimal.Decimal | None, decimal.Decimal | None]] = {}
    plans: dict[tuple[int, int], decimal.Decimal] = {}
    if unit_ids:
        for pk, unit_id, year, budget, spending in UnitFunding.objects.filter(
            unit_id__in=_among(unit_ids)
        ).values_list("pk", "unit_id", "year", "budget", "spending"):
            registered[(unit_id, year)] = (pk, budget, spending)
        years = sorted({r.values["year"] for r in records if r.values["year"] is not None})
        for unit_id, year, amount in ControlPlan.objects.filter(
            unit_id__in=_among(unit_ids), year__in=years, is_current=True
        ).values_list("unit_id", "year", "amount"):
            plans[(unit_id, year)] = amount

    rows: list[_FundingRow] = []
    first_of_key: dict[tuple[str, int], int] = {}
    # The file's own baseline-year spending (by unit); units whose baseline spending cell is bad.
    file_spent: dict[int, decimal.Decimal] = {}
    unsure: set[int] = set()
    for record in records:
        values = record.values
        uscc, year, budget, spending = values["uscc"], values["year"], values["budget"], values["spending"]
        unit = units.get(uscc) if uscc is not None else None
        if uscc is not None and unit is None:
            errs.append(template.error(record, "uscc", UNIT_NOT_FOUND))
        if budget is None and spending is None and not record.bad & {"budget", "spending"}:
            errs.append(template.error(record, "budget", errors.FUNDING_EMPTY))
        if uscc is not None and year is not None:
            first = first_of_key.get((uscc, year))
            if first is not None:
                errs.append(template.error(record, "year", DUPLICATE_KEY, first=first))
                continue
            first_of_key[(uscc, year)] = record.row
        if unit is None or year is None:
            continue
        if year == base_year[unit.path]:
            if "spending" in record.bad:
                unsure.add(unit.pk)
            elif spending is not None:
                file_spent[unit.pk] = spending
        if record.ok:
            rows.append(_FundingRow(record, unit, year, budget, spending, registered.get((unit.pk, year))))

    # Budgets against the caps, once the whole file's baseline-year spending is known.
    for row in rows:
        base = base_year[row.unit.path]
        if row.budget is None or row.year <= base or row.unit.pk in unsure:
            continue
        known = registered.get((row.unit.pk, base))
        spent = file_spent.get(row.unit.pk, known[2] if known else None)
        cap = rules.funding_cap(spent, plans.get((row.unit.pk, row.year)))
        for code, params in rules.check_budget(year=row.year, amount=row.budget, baseline_year=base, cap=cap):
            errs.append(template.error(row.record, "budget", code, **params))

    plan = _FundingPlan()
    if errs:
        return plan
    for row in rows:
        if row.existing is None:
            plan.creates.append(row)
            continue
        _pk, old_budget, old_spending = row.existing
        new_budget = row.budget if row.budget is not None else old_budget
        new_spending = row.spending if row.spending is not None else old_spending
        if (new_budget, new_spending) == (old_budget, old_spending):
            plan.unchanged += 1
        else:
            plan.updates.append(row)
    return plan


def _funding_after(row: _FundingRow) -> tuple[decimal.Decimal | None, decimal.Decimal | None]:
    if row.existing is None:
        return row.budget, row.spending
    _pk, budget, spending = row.existing
    return (row.budget if row.budget is not None else budget, row.spending if row.spending is not None else spending)


def _funding_preview(template: Template, plan: _FundingPlan) -> list[Change]:
    preview = [Change(row=r.record.row, key=f"{r.unit.uscc} {r.year}", label=r.unit.name, action="create")
               for r in plan.creates]
    for row in plan.updates:
        assert row.existing is not None
        _pk, old_budget, old_spending = row.existing
        new_budget, new_spending = _funding_after(row)
        fields: dict[str, tuple[Any, Any]] = {}
        if new_budget != old_budget:
            fields[template.header("budget")] = (old_budget, new_budget)
        if new_spending != old_spending:
            fields[template.header("spending")] = (old_spending, new_spending)
        preview.append(Change(row=row.record.row, key=f"{row.unit.uscc} {row.year}", label=row.unit.name,
                              action="update", fields=fields))
    preview.sort(key=lambda c: c.row)
    return preview


def _write_funding(actor: Any, plan: _FundingPlan, result: ImportResult, today: dt.date,
                   report: Progress) -> None:
    total = len(plan.creates) + len(plan.updates)
    report("write", 0, total)
    created = [UnitFunding(unit_id=r.unit.pk, jurisdiction_path=r.unit.path, year=r.year, budget=r.budget,
                           spending=r.spending) for r in plan.creates]
    UnitFunding.objects.bulk_create(created, batch_size=BATCH)
    if any(f.pk is None for f in created):  # a database that does not return the new keys
        ids = dict(((u, y), pk) for pk, u, y in UnitFunding.objects.filter(
            unit_id__in=_among(sorted({f.unit_id for f in created}))).values_list("pk", "unit_id", "year"))
        for f in created:
            f.pk = ids[(f.unit_id, f.year)]
    now = timezone.now()
    changed: list[UnitFunding] = []
    for row in plan.updates:
        assert row.existing is not None
        budget, spending = _funding_after(row)
        changed.append(UnitFunding(pk=row.existing[0], budget=budget, spending=spending, updated_at=now))
    UnitFunding.objects.bulk_update(changed, ["budget", "spending", "updated_at"], batch_size=BATCH)
    report("write", total, total)

    def entries() -> Iterable[audit.Entry]:
        yield _import_entry("funding", actor, result, "funds.unitfunding", today)
        rows: list[tuple[int, _FundingRow, dict[str, Any] | None]] = [
            (f.pk, r, None) for f, r in zip(created, plan.creates, strict=True)]
        rows += [(r.existing[0], r, {"budget": r.existing[1], "spending": r.existing[2]})
                 for r in plan.updates if r.existing is not None]
        for pk, row, before in rows:
            budget, spending = _funding_after(row)
            yield audit.Entry(
                action="funding.set", scope_path=row.unit.path, object_type="funds.unitfunding",
                object_id=str(pk), object_repr=f"{row.unit.pk} {row.year}", before=before,
                after={"unit": row.unit.uscc, "year": row.year, "budget": budget, "spending": spending,
                       "file": result.sha256})

    audit.record_many(actor, entries())
    from bianzhi.stats.tasks import after_commit

    after_commit([r.unit.pk for r in (*plan.creates, *plan.updates)])


def import_funding(*, actor: Any, data: bytes, filename: str, dry_run: bool = False, today: dt.date | None = None,
                   progress: Progress | None = None) -> ImportResult:
    """Validate a 编外人员经费 file completely and, when every row is valid, apply it atomically.

    Returns an :class:`~bianzhi.common.tabular.ImportResult`; when ``errors`` is not empty
    nothing was written. ``today`` bounds the years (2000 to next year) and dates the
    import; it defaults to the local date."""
    require(actor, "funding.change")
    on = today or timezone.localdate()
    template = funding_template(on)
    result = ImportResult(kind="funding", filename=filename, sha256=sha256_hex(data), dry_run=dry_run)
    report = _report(progress)
    report("read", 0, 1)
    records = _read(template, result, data, filename)
    if records is None:
        return result
    report("validate", 0, result.rows)

    def validate() -> _FundingPlan:
        plan = _validate_funding(actor, template, records, result.errors, on)
        result.created, result.updated, result.unchanged = len(plan.creates), len(plan.updates), plan.unchanged
        result.preview = _funding_preview(template, plan)
        report("validate", result.rows, result.rows)
        return plan

    _run(result, dry_run, validate, lambda plan: _write_funding(actor, plan, result, on, report),
         template.order_key())
    return result


# --------------------------------------------------------------------------- purchases


@dataclass(slots=True)
class _Contract:
    record: Record
    number: str
    unit: _Unit
    item: str
    start: dt.date
    end: dt.date
    amount: decimal.Decimal


@dataclass
class _PurchasePlan:
    creates: list[_Contract] = field(default_factory=list)
    unchanged: int = 0


def _validate_purchases(actor: Any, records: list[Record], errs: list[ErrorDetail],
                        today: dt.date) -> _PurchasePlan:
    template = PURCHASE_TEMPLATE
    units = _units(scope_of(actor), (r.values["uscc"] for r in records if r.values["uscc"]))
    numbers = sorted({r.values["number"] for r in records if r.values["number"]})
    registered: dict[str, tuple[int, str, dt.date, dt.date, decimal.Decimal]] = {}
    if numbers:
        for number, unit_id, item, start, end, amount in PurchaseContract.objects.filter(
            number__in=_among(numbers)
        ).values_list("number", "unit_id", "item", "start", "end", "amount"):
            registered[number] = (unit_id, item, start, end, amount)
    catalogues = _Rulesets(RuleTable.SERVICE_ITEM)

    plan = _PurchasePlan()
    first_of_number: dict[str, int] = {}
    for record in records:
        values = record.values
        number, uscc, item, start, end = (values["number"], values["uscc"], values["item"], values["start"],
                                          values["end"])
        duplicate = False
        if number is not None:
            first = first_of_number.get(number)
            if first is not None:
                errs.append(template.error(record, "number", DUPLICATE_KEY, first=first))
                duplicate = True
            else:
                first_of_number[number] = record.row
        unit = units.get(uscc) if uscc is not None else None
        if uscc is not None and unit is None:
            errs.append(template.error(record, "uscc", UNIT_NOT_FOUND))
        code: str | None = None
        if item is not None:
            ruleset = catalogues.get(unit.path if unit else "", start or today)
            code = ruleset.lookup(RuleTable.SERVICE_ITEM, item)
            if code is None:
                errs.append(template.error(record, "item", errors.UNKNOWN_SERVICE_ITEM,
                                           allowed=" / ".join(ruleset.names(RuleTable.SERVICE_ITEM))))
        if start is not None and end is not None and end < start:
            errs.append(template.error(record, "end", errors.CONTRACT_END_BEFORE_START))
        if duplicate or number is None:
            continue
        known = registered.get(number)
        if known is not None:
            # The same contract again is unchanged; any value that differs is another contract.
            wanted = (unit.pk if unit else None, code, start, end, values["amount"])
            if any(new is not None and new != old for new, old in zip(wanted, known, strict=True)):
                errs.append(template.error(record, "number", errors.CONTRACT_NUMBER_TAKEN))
            elif record.ok:
                plan.unchanged += 1
            continue
        if record.ok:
            assert unit is not None and code is not None and start is not None and end is not None
            plan.creates.append(_Contract(record, number, unit, code, start, end, values["amount"]))
    if errs:
        return _PurchasePlan()
    return plan


def _write_purchases(actor: Any, plan: _PurchasePlan, result: ImportResult, today: dt.date,
                     report: Progress) -> None:
    total = len(plan.creates)
    report("write", 0, total)
    creator = actor if getattr(actor, "pk", None) else None
    created = [PurchaseContract(number=c.number, unit_id=c.unit.pk, jurisdiction_path=c.unit.path, item=c.item,
                                start=c.start, end=c.end, amount=c.amount, created_by=creator)
               for c in plan.creates]
    PurchaseContract.objects.bulk_create(created, batch_size=BATCH)
    if any(c.pk is None for c in created):
        ids = dict(PurchaseContract.objects.filter(number__in=_among([c.number for c in created]))
                   .values_list("number", "pk"))
        for contract in created:
            contract.pk = ids[contract.number]
    report("write", total, total)

    def entries() -> Iterable[audit.Entry]:
        yield _import_entry("contract", actor, result, "funds.purchasecontract", today)
        for contract, c in zip(created, plan.creates, strict=True):
            yield audit.Entry(
                action="contract.create", scope_path=c.unit.path, object_type="funds.purchasecontract",
                object_id=str(contract.pk), object_repr=c.number,
                after={"number": c.number, "unit": c.unit.uscc, "item": c.item, "start": c.start, "end": c.end,
                       "amount": c.amount, "file": result.sha256})

    audit.record_many(actor, entries())
    from bianzhi.stats.tasks import after_commit

    after_commit([c.unit.pk for c in plan.creates])


def import_purchases(*, actor: Any, data: bytes, filename: str, dry_run: bool = False,
                     today: dt.date | None = None, progress: Progress | None = None) -> ImportResult:
    """Validate a 购买服务合同 file completely and, when every row is valid, register its new
    contracts atomically (registered numbers are never rewritten; see the module docstring)."""
    require(actor, "purchase.change")
    on = today or timezone.localdate()
    template = PURCHASE_TEMPLATE
    result = ImportResult(kind="purchases", filename=filename, sha256=sha256_hex(data), dry_run=dry_run)
    report = _report(progress)
    report("read", 0, 1)
    records = _read(template, result, data, filename)
    if records is None:
        return result
    report("validate", 0, result.rows)

    def validate() -> _PurchasePlan:
        plan = _validate_purchases(actor, records, result.errors, on)
        result.created, result.unchanged = len(plan.creates), plan.unchanged
        result.preview = [Change(row=c.record.row, key=c.number, label=c.unit.name, action="create")
                          for c in plan.creates]
        report("validate", result.rows, result.rows)
        return plan

    _run(result, dry_run, validate, lambda plan: _write_purchases(actor, plan, result, on, report),
         template.order_key())
    return result


# --------------------------------------------------------------------------- template workbooks

TEMPLATE_DATA_ROWS = 5000
KINDS = ("funding", "purchases")


def template_bytes(kind: str, actor: Any, *, today: dt.date | None = None) -> bytes:
    """The downloadable template workbook of ``kind`` (``funding`` or ``purchases``): the
    exchange headers exactly as TEMPLATES.md (required ones highlighted), code columns as
    text, checks on years, amounts and dates, and for purchases the service catalogue in
    force for the actor's jurisdiction as a drop-down (with the work types each item
    replaces on the second sheet)."""
    import xlsxwriter

    if kind not in KINDS:
        raise ValueError(f"unknown template kind {kind!r}")
    on = today or timezone.localdate()
    template = funding_template(on) if kind == "funding" else PURCHASE_TEMPLATE
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet((_("Funding") if kind == "funding" else _("Service purchases"))[:31])
    header = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    required = book.add_format({"bold": True, "bg_color": "#FCE4D6", "border": 1})
    as_text = book.add_format({"num_format": "@"})
    as_money = book.add_format({"num_format": "#,##0.00"})
    as_day = book.add_format({"num_format": "yyyy-mm-dd"})
    last = TEMPLATE_DATA_ROWS
    sources: dict[str, str] = {}
    if kind == "purchases":
        path = scope_of(actor).path if getattr(actor, "jurisdiction_id", None) else ""
        ruleset = staffing_selectors.ruleset_for(path, on)
        lists = book.add_worksheet(_("Code lists")[:31])
        lists.write_row(0, 0, [_("Service item"), _("Code"), _("Work types it replaces")], header)
        items = sorted(ruleset.table(RuleTable.SERVICE_ITEM).values(), key=lambda r: (r.sort, r.code))
        replaces = rules.replaced_by({r.code: r.value for r in items})
        for r, item in enumerate(items, start=1):
            lists.write_string(r, 0, item.name)
            lists.write_string(r, 1, item.code)
            lists.write_string(r, 2, "、".join(ruleset.name_of(RuleTable.WORK_TYPE, w)
                                               for w in sorted(replaces.get(item.code, set()))))
        lists.set_column(0, 0, 22)
        lists.set_column(1, 1, 20)
        lists.set_column(2, 2, 40)
        if items:
            sources["item"] = f"='{lists.name}'!$A$2:$A${len(items) + 1}"
    kinds = {"uscc": "code", "number": "text", "item": "item", "year": "year", "budget": "money",
             "spending": "money", "amount": "money", "start": "date", "end": "date"}
    for c, column in enumerate(template.columns):
        title, what = column.header, kinds[column.field]
        sheet.write_string(0, c, title, required if column.required else header)
        width = {"code": 22, "text": 22, "item": 22, "year": 8, "money": 16, "date": 12}[what]
        cell_format = {"code": as_text, "text": as_text, "item": as_text, "money": as_money, "date": as_day}.get(what)
        sheet.set_column(c, c, width, cell_format)
        check: dict[str, Any] | None = None
        if what == "code":
            check = {"validate": "length", "criteria": "==", "value": 18, "input_title": title,
                     "input_message": _("18 characters, entered as text."),
                     "error_message": _("A unified social credit code has 18 characters.")}
        elif what == "item" and "item" in sources:
            check = {"validate": "list", "source": sources["item"],
                     "error_message": _("Choose a value from the list.")}
        elif what == "year":
            check = {"validate": "integer", "criteria": "between", "minimum": rules.FIRST_YEAR,
                     "maximum": on.year + 1,
                     "error_message": _("A year from %(first)s to %(last)s.") % {"first": rules.FIRST_YEAR,
                                                                                 "last": on.year + 1}}
        elif what == "money":
            check = {"validate": "decimal", "criteria": ">=", "value": 0,
                     "error_message": _("An amount in yuan of 0 or more.")}
        elif what == "date":
            check = {"validate": "date", "criteria": ">=", "value": dt.date(1980, 1, 1),
                     "error_message": _("A date (YYYY-MM-DD).")}
        if check is not None:
            sheet.data_validation(1, c, last, c, {"error_title": title, **check})
    sheet.freeze_panes(1, 0)
    book.close()
    return buffer.getvalue()


def funding_workbook(actor: Any) -> bytes:
    return template_bytes("funding", actor)


def purchases_workbook(actor: Any) -> bytes:
    return template_bytes("purchases", actor)
