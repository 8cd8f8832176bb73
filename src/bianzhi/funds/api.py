"""编外人员经费 and purchased services over the API (/api/v1/funds): funding with its caps,
control plans, the service catalogue, purchase contracts, the double-dipping flags (两头占),
the "both fall" check (双下降) and the posts moved to purchased services.

Scoped like everything else: a contract outside the caller's jurisdiction answers 404
exactly like a missing one; references inside a body (unit, record, contract number) are
checked by the services and answer their own codes (``unit_not_found``,
``spell_not_found``, ``contract_not_found``). Money is a string with 2 decimals, dates ISO.
"""

import datetime as dt
import decimal
from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from bianzhi.common.api import ERRORS, DivisionRef, Id, Paged, UnitRef, Year, division_ref, stable, unit_ref
from bianzhi.common.errors import BianzhiError
from bianzhi.common.scoping import scope_of
from bianzhi.orgs.models import Unit
from bianzhi.staffing import selectors as staffing_selectors
from bianzhi.staffing import views as staffing_views
from bianzhi.staffing.choices import RuleTable
from bianzhi.staffing.models import Spell
from bianzhi.stats.errors import PERIOD_INVALID as PERIOD_END_BEFORE_START

from . import rules, selectors, services
from .models import PurchaseContract, ServiceConversion, UnitFunding

router = Router(tags=["funds and purchased services"])

#: Money fields of the input: a number or a string (``"12,345.60"``), checked by the services.
Money = decimal.Decimal | str


def _money(value: decimal.Decimal | None) -> str | None:
    return f"{value:.2f}" if value is not None else None


def _names(request: HttpRequest) -> Any:
    names = getattr(request, "_staffing_names", None)
    if names is None:
        names = staffing_views._names(request.user)
        request._staffing_names = names  # type: ignore[attr-defined]
    return names


def _name(context: Any, table: str, code: str) -> str:
    return _names(context["request"]).name_of(table, code) if code else ""


# --- funding ------------------------------------------------------------------------


class FundingOut(Schema):
    """A unit's 编外人员经费 for a year. ``cap`` is the most it may budget (spending in the
    baseline year, or its control plan when lower); ``None`` for the baseline year and
    before (history, not limited) or while neither figure is known."""

    id: int | None = Field(None, description="None: nothing recorded yet")
    unit: UnitRef
    year: int
    budget: str | None = Field(None, description="yuan, 2 decimals")
    spending: str | None = Field(None, description="yuan, 2 decimals")
    cap: str | None = Field(None, description="yuan, 2 decimals")
    over_cap: bool = Field(..., description="a budget above the cap")


class FundingFilter(Schema):
    year: Year | None = None
    unit: Id | None = Field(None, description="unit id")


class FundingIn(Schema):
    unit: int = Field(..., description="unit id")
    year: int
    budget: Money | None = Field(None, description="yuan ≥ 0; null clears it; leave out to keep it")
    spending: Money | None = Field(None, description="yuan ≥ 0; null clears it; leave out to keep it")


def _funding_rows(fundings: Sequence[UnitFunding]) -> list[dict[str, Any]]:
    """Rows with their caps: one cap computation per year present (a fixed number of queries)."""
    by_year: dict[int, list[Any]] = {}
    for f in fundings:
        by_year.setdefault(f.year, []).append(f.unit)
    caps: dict[tuple[int, int], decimal.Decimal | None] = {}
    for year, units in by_year.items():
        for unit_id, cap in selectors.caps_for(list({u.pk: u for u in units}.values()), year).items():
            caps[(unit_id, year)] = cap
    base_years: dict[str, int] = {}
    rows = []
    for f in fundings:
        path = f.unit.jurisdiction_path
        if path not in base_years:
            base_years[path] = selectors.baseline_year(path)
        cap = caps.get((f.unit_id, f.year)) if f.year > base_years[path] else None
        rows.append({
            "id": f.pk, "unit": unit_ref(f.unit), "year": f.year, "budget": _money(f.budget),
            "spending": _money(f.spending), "cap": _money(cap),
            "over_cap": f.budget is not None and cap is not None and f.budget > cap,
        })
    return rows


class _LazyFunding:
    """A queryset of fundings that computes the caps of the page it is sliced to only."""

    def __init__(self, qs: QuerySet[UnitFunding]) -> None:
        self.qs = qs

    def __len__(self) -> int:
        return self.qs.count()

    def __getitem__(self, index: slice) -> list[dict[str, Any]]:
        return _funding_rows(list(self.qs[index]))


@router.get("/funding", response={200: list[FundingOut], **ERRORS},
            summary="编外人员经费 of my units: budget, spending and the funding cap")
@paginate(Paged)
def funds_funding_list(request: HttpRequest, filters: Query[FundingFilter]) -> Any:
    qs = selectors.fundings_in_scope(actor=request.user, year=filters.year, unit=filters.unit)
    return _LazyFunding(stable(qs.order_by("unit__name", "unit_id", "-year")))


@router.put("/funding", response={200: FundingOut, **ERRORS},
            summary="Declare a budget and/or record the spending of a unit for a year")
def funds_funding_set(request: HttpRequest, payload: FundingIn) -> Any:
    given = payload.model_fields_set
    params = {name: getattr(payload, name) for name in ("budget", "spending") if name in given}
    funding = services.funding_set(actor=request.user, unit_id=payload.unit, year=payload.year, **params)
    return _funding_rows([UnitFunding.objects.select_related("unit").get(pk=funding.pk)])[0]


# --- control plans --------------------------------------------------------------------


class PlanOut(Schema):
    """An approved funding control plan target: of a unit, or of a whole jurisdiction (``unit`` null)."""

    id: int
    unit: UnitRef | None
    jurisdiction: DivisionRef
    year: int
    amount: str = Field(..., description="yuan, 2 decimals")
    case_number: str
    approved_on: dt.date
    is_current: bool

    @staticmethod
    def resolve_unit(obj: Any) -> Any:
        return unit_ref(obj.unit)

    @staticmethod
    def resolve_jurisdiction(obj: Any) -> Any:
        return division_ref(obj.jurisdiction)

    @staticmethod
    def resolve_amount(obj: Any) -> str:
        return f"{obj.amount:.2f}"


class PlanFilter(Schema):
    year: Year | None = None
    current: bool = Field(True, description="only the plans in force (not replaced by a later approval)")


@router.get("/plans", response={200: list[PlanOut], **ERRORS},
            summary="Funding control plans of my units, my jurisdiction and the jurisdictions above it")
@paginate(Paged)
def funds_plan_list(request: HttpRequest, filters: Query[PlanFilter]) -> Any:
    return stable(selectors.plans_in_scope(actor=request.user, year=filters.year, current=filters.current))


# --- service catalogue ------------------------------------------------------------------


class CodeName(Schema):
    code: str
    name: str


class CatalogueItemOut(Schema):
    code: str
    name: str
    replaces: list[CodeName] = Field(..., description="the work types the item replaces")
    source_document: str
    valid_from: dt.date


class CatalogueFilter(Schema):
    as_of: dt.date | None = Field(None, description="YYYY-MM-DD; today when empty")


@router.get("/catalogue", response={200: list[CatalogueItemOut], **ERRORS},
            summary="The service catalogue (服务目录清单) in force for my jurisdiction")
def funds_catalogue(request: HttpRequest, filters: Query[CatalogueFilter]) -> Any:
    from bianzhi.accounts.permissions import require
    from bianzhi.staffing.models import RuleItem

    require(request.user, "funding.view")
    ruleset = staffing_selectors.ruleset_for(scope_of(request.user).path, filters.as_of or timezone.localdate())
    items = sorted(ruleset.table(RuleTable.SERVICE_ITEM).values(), key=lambda r: (r.sort, r.code))
    replaces = rules.replaced_by({r.code: r.value for r in items})
    sources = {(r.jurisdiction_path, r.code, r.valid_from): r.source_document
               for r in RuleItem.objects.filter(table=RuleTable.SERVICE_ITEM)}
    return [{
        "code": r.code, "name": r.name, "valid_from": r.valid_from,
        "source_document": sources.get((r.jurisdiction_path, r.code, r.valid_from), ""),
        "replaces": [{"code": w, "name": ruleset.name_of(RuleTable.WORK_TYPE, w)}
                     for w in sorted(replaces.get(r.code, set()))],
    } for r in items]


# --- contracts --------------------------------------------------------------------------


class ContractOut(Schema):
    """A purchase contract of a catalogue service, in force on every day of [start, end]."""

    id: int
    number: str
    unit: UnitRef
    item: str
    item_label: str
    start: dt.date
    end: dt.date
    amount: str = Field(..., description="yuan, 2 decimals")
    created_at: dt.datetime

    @staticmethod
    def resolve_unit(obj: Any) -> Any:
        return unit_ref(obj.unit)

    @staticmethod
    def resolve_item_label(obj: Any, context: Any) -> str:
        return _name(context, RuleTable.SERVICE_ITEM, obj.item)

    @staticmethod
    def resolve_amount(obj: Any) -> str:
        return f"{obj.amount:.2f}"


class ContractFilter(Schema):
    unit: Id | None = Field(None, description="unit id")
    item: str = Field("", description="service item code")
    in_force_on: dt.date | None = Field(None, description="only contracts in force on this day")
    q: str = Field("", description="part of the contract number or of the unit name")


class ContractIn(Schema):
    unit: int = Field(..., description="unit id")
    number: str = Field(..., description="the contract number, unique")
    item: str = Field(..., description="service item: code or Chinese name")
    start: dt.date
    end: dt.date = Field(..., description="the last day in force")
    amount: Money = Field(..., description="yuan ≥ 0")


@router.get("/contracts", response={200: list[ContractOut], **ERRORS}, summary="Purchase contracts of my units")
@paginate(Paged)
def funds_contract_list(request: HttpRequest, filters: Query[ContractFilter]) -> Any:
    return stable(selectors.contracts_in_scope(actor=request.user, unit=filters.unit, item=filters.item.strip(),
                                               in_force_on=filters.in_force_on, q=filters.q.strip()))


@router.post("/contracts", response={201: ContractOut, **ERRORS}, summary="Register a purchase contract")
def funds_contract_create(request: HttpRequest, payload: ContractIn) -> Any:
    params = payload.model_dump()
    params["unit_id"] = params.pop("unit")
    contract = services.contract_create(actor=request.user, **params)
    return Status(201, PurchaseContract.objects.select_related("unit").get(pk=contract.pk))


@router.get("/contracts/{int:id}", response={200: ContractOut, **ERRORS}, summary="One purchase contract")
def funds_contract_detail(request: HttpRequest, id: int) -> Any:
    contract = selectors.contracts_in_scope(actor=request.user).filter(pk=id).first()
    if contract is None:
        raise Http404
    return contract


# --- double dipping ---------------------------------------------------------------------


class DipContractOut(Schema):
    id: int
    number: str
    item: str
    item_label: str
    start: dt.date
    end: dt.date


class DipRecordOut(Schema):
    id: int
    post_name: str
    work_type: str
    work_type_label: str
    hire_date: dt.date
    leave_date: dt.date | None


class OverlapOut(Schema):
    contract: int = Field(..., description="contract id")
    record: int = Field(..., description="record id")
    first: dt.date
    last: dt.date
    days: int


class DipFlagOut(Schema):
    unit: UnitRef
    first_day: dt.date
    contracts: list[DipContractOut]
    records: list[DipRecordOut]
    overlaps: list[OverlapOut]


class DoubleDippingOut(Schema):
    a: dt.date
    b: dt.date
    count: int
    flags: list[DipFlagOut]


class PeriodFilter(Schema):
    a: dt.date | None = Field(None, description="first day of the period; 1 January of this year when empty")
    b: dt.date | None = Field(None, description="last day of the period; 31 December of this year when empty")
    unit: Id | None = Field(None, description="unit id")


@router.get("/double-dipping", response={200: DoubleDippingOut, **ERRORS},
            summary="Units with a contract in force for an item and a record whose work the item replaces (两头占)")
def funds_double_dipping(request: HttpRequest, filters: Query[PeriodFilter]) -> Any:
    actor: Any = request.user
    year = timezone.localdate().year
    a, b = filters.a or dt.date(year, 1, 1), filters.b or dt.date(year, 12, 31)
    if b < a:
        raise BianzhiError(PERIOD_END_BEFORE_START, field="b", value=b.isoformat())
    flags = selectors.double_dipping(actor=actor, a=a, b=b, unit=filters.unit)
    units = {u.pk: u for u in Unit.objects.filter(pk__in={f.unit_id for f in flags})}
    post_names = dict(Spell.objects.filter(pk__in={r.id for f in flags for r in f.records})
                      .values_list("pk", "post_name"))
    names = _names(request)
    return {"a": a, "b": b, "count": len(flags), "flags": [{
        "unit": unit_ref(units[f.unit_id]),
        "first_day": f.first_day,
        "contracts": [{"id": c.id, "number": c.number, "item": c.item,
                       "item_label": names.name_of(RuleTable.SERVICE_ITEM, c.item), "start": c.start, "end": c.end}
                      for c in f.contracts],
        "records": [{"id": r.id, "post_name": post_names.get(r.id, ""), "work_type": r.work_type,
                     "work_type_label": names.name_of(RuleTable.WORK_TYPE, r.work_type), "hire_date": r.hire_date,
                     "leave_date": r.leave_date} for r in f.records],
        "overlaps": [{"contract": o.contract.id, "record": o.record.id, "first": o.first, "last": o.last,
                      "days": o.days} for o in f.overlaps],
    } for f in flags]}


# --- both fall --------------------------------------------------------------------------


class BothFallFigures(Schema):
    headcount: int = Field(..., description="records counting on 31 December of the year (I01)")
    baseline_count: int
    spending: str | None = Field(None, description="yuan, 2 decimals (I20); None while not recorded")
    baseline_spending: str | None = Field(None, description="spending in the baseline year")
    headcount_fell: bool
    spending_fell: bool | None
    both_fell: bool | None = Field(..., description="yes / no; None while a spending figure is missing")


class BothFallUnitOut(BothFallFigures):
    unit: UnitRef


class BothFallOut(Schema):
    year: int
    baseline_year: int
    total: BothFallFigures
    units: list[BothFallUnitOut]


class YearFilter(Schema):
    year: Year | None = Field(None, description="this year when empty")


def _figures(check: rules.BothFall) -> dict[str, Any]:
    return {"headcount": check.headcount, "baseline_count": check.baseline_count,
            "spending": _money(check.spending), "baseline_spending": _money(check.baseline_spending),
            "headcount_fell": check.headcount_fell, "spending_fell": check.spending_fell,
            "both_fell": check.both_fell}


@router.get("/both-fall", response={200: BothFallOut, **ERRORS},
            summary="双下降: headcount and spending both below the baseline, for my jurisdiction and each unit")
def funds_both_fall(request: HttpRequest, filters: Query[YearFilter]) -> Any:
    actor: Any = request.user
    year = filters.year or timezone.localdate().year
    total, rows = selectors.both_fall(actor=actor, year=year)
    units = {u.pk: u for u in Unit.objects.filter(pk__in=[r.unit for r in rows])}
    return {"year": year, "baseline_year": selectors.baseline_year(scope_of(actor).path),
            "total": _figures(total),
            "units": [{"unit": unit_ref(units[r.unit]), **_figures(r.check)} for r in rows]}


# --- posts moved to purchased services ------------------------------------------------------


class ConversionOut(Schema):
    """A post moved to a purchased service: the record's exit citing the contract."""

    id: int
    record: int = Field(..., description="record id")
    person: str
    post_name: str
    work_type: str
    work_type_label: str
    unit: UnitRef
    contract: int = Field(..., description="contract id")
    contract_number: str
    converted_on: dt.date = Field(..., description="the leave date of the record")

    @staticmethod
    def resolve_record(obj: Any) -> int:
        return int(obj.spell_id)

    @staticmethod
    def resolve_person(obj: Any) -> str:
        return str(obj.spell.person.name)

    @staticmethod
    def resolve_post_name(obj: Any) -> str:
        return str(obj.spell.post_name)

    @staticmethod
    def resolve_work_type(obj: Any) -> str:
        return str(obj.spell.work_type)

    @staticmethod
    def resolve_work_type_label(obj: Any, context: Any) -> str:
        return _name(context, RuleTable.WORK_TYPE, obj.spell.work_type)

    @staticmethod
    def resolve_unit(obj: Any) -> Any:
        return unit_ref(obj.unit)

    @staticmethod
    def resolve_contract(obj: Any) -> int:
        return int(obj.contract_id)

    @staticmethod
    def resolve_contract_number(obj: Any) -> str:
        return str(obj.contract.number)


class ConversionFilter(Schema):
    year: Year | None = None
    unit: Id | None = Field(None, description="unit id")


class ConversionIn(Schema):
    spell: int = Field(..., description="the record id")
    leave_date: dt.date = Field(..., description="the first day no longer in post")
    contract_number: str = Field(..., description="the unit's contract that takes the work over")


@router.get("/conversions", response={200: list[ConversionOut], **ERRORS},
            summary="Posts moved to purchased services in my jurisdiction")
@paginate(Paged)
def funds_conversion_list(request: HttpRequest, filters: Query[ConversionFilter]) -> Any:
    return stable(selectors.conversions_in_scope(actor=request.user, year=filters.year, unit=filters.unit))


@router.post("/conversions", response={201: ConversionOut, **ERRORS},
             summary="Move a post to a purchased service: exit 转为购买服务 citing the contract")
def funds_conversion_create(request: HttpRequest, payload: ConversionIn) -> Any:
    conversion = services.exit_to_service(actor=request.user, spell_id=payload.spell, leave_date=payload.leave_date,
                                          contract_number=payload.contract_number)
    return Status(201, ServiceConversion.objects.select_related("spell", "spell__person", "contract", "unit")
                  .get(pk=conversion.pk))
