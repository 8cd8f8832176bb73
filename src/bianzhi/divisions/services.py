"""Writers for the division tree."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from django.db import transaction

from bianzhi.accounts.permissions import require
from bianzhi.common import audit
from bianzhi.common.errors import BianzhiError
from bianzhi.common.scoping import path_in_scope

from . import errors
from .choices import Level
from .models import Division

DATA_FILE = Path(__file__).resolve().parent / "data" / "guangdong.yaml"


def read_division_file(path: Path = DATA_FILE) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return list(yaml.safe_load(fh)["divisions"])


@transaction.atomic
def divisions_load(*, actor: Any = None, path: Path = DATA_FILE) -> dict[str, int]:
    """Load the GB/T 2260 tree (idempotent): new codes are added, changed names updated."""
    rows = read_division_file(path)
    existing = {d.code: d for d in Division.objects.all()}
    created = updated = 0
    for row in rows:
        code = str(row["code"])
        parent = existing.get(str(row["parent"])) if row.get("parent") else None
        division = existing.get(code)
        if division is None:
            division = Division.objects.create(
                code=code, name=row["name"], level=row["level"], parent=parent,
                path=(parent.path if parent else "") + code + "/",
                depth=(parent.depth + 1) if parent else 0,
            )
            existing[code] = division
            created += 1
        elif division.name != row["name"]:
            division.name = row["name"]
            division.save(update_fields=["name"])
            updated += 1
    if created or updated:
        root = min(existing.values(), key=lambda d: d.depth)
        audit.record(actor, audit.Entry(
            action="divisions.load", scope_path=root.path, object_type="divisions.division",
            object_repr=path.name, after={"created": created, "updated": updated, "file": path.name},
        ))
    return {"created": created, "updated": updated, "total": len(existing)}


_TOWN_CODE = re.compile(r"^\d{9}$")


@transaction.atomic
def division_add(*, actor: Any, parent_code: str, code: str, name: str) -> Division:
    """Add a town or street under a county-level division of the actor's jurisdiction."""
    require(actor, "division.change")
    parent = Division.objects.filter(code=parent_code).first()
    if parent is None or not path_in_scope(parent.path, actor):
        raise BianzhiError(errors.DIVISION_NOT_FOUND, field="parent_code", value=parent_code)
    if parent.level != Level.COUNTY:
        raise BianzhiError(errors.DIVISION_PARENT_LEVEL, field="parent_code", value=parent_code)
    code = str(code).strip()
    if not _TOWN_CODE.match(code) or not code.startswith(parent.code):
        raise BianzhiError(errors.DIVISION_CODE_FORMAT, field="code", value=code)
    if Division.objects.filter(code=code).exists():
        raise BianzhiError(errors.DIVISION_EXISTS, field="code", value=code)
    division = Division.objects.create(
        code=code, name=name.strip(), level=Level.TOWN, parent=parent, path=f"{parent.path}{code}/",
        depth=parent.depth + 1,
    )
    audit.record(actor, audit.entry_for(
        "division.add", division, scope_path=division.path,
        after={"code": code, "name": division.name, "parent": parent.code},
    ))
    return division
