"""Writers for 编外人员 rule tables, baselines and caps. Every change is audited in the same
transaction. (Records, exits, bulk operations, the coordinator pool and imports have their
own modules: spells.py, bulk.py, pool.py, importing.py.)"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from bianzhi.accounts.permissions import require
from bianzhi.common import audit
from bianzhi.common.errors import BianzhiError, define
from bianzhi.common.limits import MAX_COUNT
from bianzhi.common.scoping import path_in_scope
from bianzhi.divisions.errors import DIVISION_NOT_FOUND
from bianzhi.divisions.models import Division
from bianzhi.orgs.models import Unit

from .models import Baseline, BaselineCount, CapChange, RuleItem, Spell
from .selectors import counting_on

RULES_FILE = Path(__file__).resolve().parent / "data" / "rules.yaml"

BASELINE_EXISTS = define(
    "baseline_exists",
    _("This jurisdiction already has a baseline: re-taking it must be asked for explicitly."),
)
CAP_INVALID = define("cap_invalid", _("A cap is a whole number from 0 to 1,000,000."))


@transaction.atomic
def rules_load(*, actor: Any = None, path: Path = RULES_FILE) -> dict[str, int]:
    """Load the province default rule tables (idempotent: existing rows are updated in place)."""
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    valid_from = dt.date.fromisoformat(str(data["valid_from"]))
    source = data.get("source_document", "")
    existing = {(r.table, r.code): r for r in RuleItem.objects.filter(jurisdiction__isnull=True)}
    created = updated = 0
    for table, rows in data["tables"].items():
        for sort, row in enumerate(rows):
            fields = {"name": row["name"], "parent_code": row.get("parent", ""), "policy": row.get("policy", ""),
                      "value": str(row.get("value", "")), "sort": sort, "source_document": source,
                      "valid_from": valid_from}
            item = existing.get((table, row["code"]))
            if item is None:
                RuleItem.objects.create(table=table, code=row["code"], jurisdiction_path="", **fields)
                created += 1
            elif any(getattr(item, k) != v for k, v in fields.items()):
                for k, v in fields.items():
                    setattr(item, k, v)
                item.save()
                updated += 1
    if created or updated:
        audit.record(actor, audit.Entry(action="rules.load", scope_path=_province_path(),
                                        object_type="staffing.ruleitem", object_repr=path.name,
                                        after={"created": created, "updated": updated, "file": path.name}))
    return {"created": created, "updated": updated}


def _province_path() -> str:
    province = Division.objects.filter(code=settings.BIANZHI_PROVINCE_CODE).first()
    return province.path if province else ""


@transaction.atomic
def baseline_take(*, actor: Any, scope: str, as_of: dt.date, retake: bool = False, note: str = "") -> Baseline:
    """Freeze the count per unit × situation × post class of a jurisdiction as of a date."""
    require(actor, "baseline.take")
    division = Division.objects.filter(code=str(scope).strip()).first()
    if division is None or not path_in_scope(division.path, actor):
        raise BianzhiError(DIVISION_NOT_FOUND, field="scope", value=scope)
    previous = Baseline.objects.select_for_update().filter(jurisdiction=division, is_current=True).first()
    if previous is not None and not retake:
        raise BianzhiError(BASELINE_EXISTS, field="scope", value=scope)
    if previous is not None:
        previous.is_current = False
        previous.save(update_fields=["is_current"])
    rows = (counting_on(Spell.objects.filter(jurisdiction_path__startswith=division.path), as_of)
            .values_list("unit_id", "situation", "post_class").annotate(n=Count("id"))
            .values_list("unit_id", "situation", "post_class", "n"))
    cells = [(unit_id, situation, post_class, n) for unit_id, situation, post_class, n in rows]
    baseline = Baseline.objects.create(
        jurisdiction=division, jurisdiction_path=division.path, as_of=as_of, taken_by=actor, note=note,
        total=sum(c[3] for c in cells),
    )
    BaselineCount.objects.bulk_create(
        [BaselineCount(baseline=baseline, unit_id=u, situation=s, post_class=p, count=n) for u, s, p, n in cells],
        batch_size=2000,
    )
    by_unit: dict[int, int] = defaultdict(int)
    for u, _s, _p, n in cells:
        by_unit[u] += n
    audit.record(actor, audit.entry_for(
        "baseline.retake" if previous else "baseline.take", baseline, scope_path=division.path,
        before={"baseline": previous.pk, "as_of": previous.as_of, "total": previous.total} if previous else None,
        after={"scope": division.code, "as_of": as_of, "total": baseline.total, "units": len(by_unit),
               "note": note},
    ))
    return baseline


@transaction.atomic
def cap_set(*, actor: Any, unit_id: Any, cap: Any, valid_from: dt.date, post_class: str = "",
            document_ref: str = "", is_exception: bool = False, case: Any = None) -> CapChange:
    """Record an approved cap change (total when ``post_class`` is empty). The approvals
    engine calls this in the deciding transaction of a cap change application (``case``);
    otherwise the actor needs ``cap.change``."""
    if case is None:
        require(actor, "cap.change")
    from bianzhi.common.scoping import scoped
    from bianzhi.orgs.errors import UNIT_NOT_FOUND

    unit = scoped(Unit.objects.select_for_update(), actor).filter(pk=unit_id).first()
    if unit is None:
        raise BianzhiError(UNIT_NOT_FOUND, field="unit", value=unit_id)
    try:
        number = int(cap)
        if not 0 <= number <= MAX_COUNT or str(cap).strip() not in {str(number), f"{number}.0"}:
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise BianzhiError(CAP_INVALID, field="cap", value=cap) from None
    change = CapChange.objects.create(unit=unit, post_class=post_class, cap=number, valid_from=valid_from,
                                      document_ref=document_ref, is_exception=is_exception)
    audit.record(actor, audit.entry_for("cap.set", change, scope_path=unit.jurisdiction_path, after={
        "unit": unit.uscc, "post_class": post_class, "cap": number, "valid_from": valid_from,
        "document_ref": document_ref, "is_exception": is_exception,
        "case": case.number if case is not None else None}))
    return change
