"""Writers of the statistics app: the indicator catalogue (load and local indicators)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from django.db import transaction

from bianzhi.accounts.permissions import require
from bianzhi.common import audit
from bianzhi.common.errors import REQUIRED, TOO_LONG, Collector

from . import errors, expressions
from .models import IndicatorDefinition

CATALOGUE_FILE = Path(__file__).resolve().parent / "data" / "indicators.yaml"


@transaction.atomic
def indicators_load(*, actor: Any = None, path: Path = CATALOGUE_FILE) -> dict[str, int]:
    """Load the default catalogue of 23 indicators (idempotent)."""
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    existing = {d.code: d for d in IndicatorDefinition.objects.filter(jurisdiction__isnull=True)}
    created = updated = 0
    for sort, row in enumerate(data["indicators"]):
        fields = {"name": row["name"], "kind": row["kind"], "unit": row.get("unit", "count"),
                  "split": row.get("split", ""), "definition": row["definition"], "sort": sort,
                  "source_document": data.get("source_document", "")}
        item = existing.get(row["code"])
        if item is None:
            IndicatorDefinition.objects.create(code=row["code"], jurisdiction_path="", **fields)
            created += 1
        elif any(getattr(item, k) != v for k, v in fields.items()):
            for k, v in fields.items():
                setattr(item, k, v)
            item.save()
            updated += 1
    if created or updated:
        audit.record(actor, audit.Entry(action="indicators.load", scope_path="", object_type="stats.indicatordefinition",
                                        object_repr=path.name, after={"created": created, "updated": updated}))
    return {"created": created, "updated": updated}


SPLIT_CODES = {"I08", "I09", "I13"}


@transaction.atomic
def indicator_add(*, actor: Any, code: str, name: str, expression: str, definition: str = "",
                  source_document: str = "") -> IndicatorDefinition:
    """A jurisdiction's own indicator: an expression over the scalar indicators, computed with
    them for any scope and date (answered under ``local`` beside the 23)."""
    require(actor, "stats.change")
    c = Collector()
    code, name, expression = str(code or "").strip().upper(), str(name or "").strip(), str(expression or "").strip()
    division = actor.jurisdiction
    if not code or not code.isascii() or not code.replace("_", "").isalnum() or len(code) > 16:
        c.add(REQUIRED, field="code", value=code)
    elif expressions.CODE.match(code) or IndicatorDefinition.objects.filter(
            code=code, jurisdiction_path__in=["", division.path]).exists():
        c.add(errors.INDICATOR_CODE_TAKEN, field="code", value=code)
    if not name:
        c.add(REQUIRED, field="name")
    elif len(name) > 100:
        c.add(TOO_LONG, field="name", value=name, max=100)
    scalars = {f"I{n:02d}" for n in range(1, 24)} - SPLIT_CODES
    try:
        expressions.parse(expression, scalars)
    except ValueError:
        c.add(errors.EXPRESSION_INVALID, field="expression", value=expression)
    c.raise_if_any()
    item = IndicatorDefinition.objects.create(
        code=code, name=name, kind="as_of", unit="count", definition=str(definition or expression)[:2000],
        expression=expression, jurisdiction=division, jurisdiction_path=division.path, sort=100,
        source_document=str(source_document or "")[:200])
    audit.record(actor, audit.entry_for("indicator.add", item, scope_path=division.path,
                                        after={"code": code, "name": name, "expression": expression}))
    return item
