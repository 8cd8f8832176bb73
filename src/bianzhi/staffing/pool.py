"""The coordinator pool (S9): the coordinators (协管员/辅助人员) of a city's units as one pool,
assigned to a town/street and to a department or a task, re-allocated with history.

A coordinator is a record with situation ``coordinator`` of a unit whose jurisdiction lies
within a city (the division at depth 1 of the path: ``440000/440100/…`` → 广州市). An
assignment is valid over ``[valid_from, valid_to)``; re-allocation closes the open one with
``valid_to`` = the new ``valid_from``, so as of any day a coordinator has at most one
assignment. Coordinators without an assignment on a day count as unassigned.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.db import transaction
from django.db.models import BooleanField, Case, Count, F, FilteredRelation, Q, QuerySet, Value, When
from django.http import Http404

from bianzhi.accounts.permissions import require
from bianzhi.common import audit
from bianzhi.common.errors import INVALID_DATE, TOO_LONG, BianzhiError, Collector
from bianzhi.common.scoping import path_in_scope, scope_of, scoped
from bianzhi.divisions.choices import Level
from bianzhi.divisions.errors import DIVISION_NOT_FOUND
from bianzhi.divisions.models import Division
from bianzhi.orgs.choices import UnitStatus
from bianzhi.orgs.errors import DATE_NOT_AFTER_PREVIOUS, UNIT_NOT_ACTIVE, UNIT_NOT_FOUND
from bianzhi.orgs.models import Unit

from . import errors
from .bulk import as_date
from .models import PoolAssignment, Spell
from .selectors import counting_on

COORDINATOR = "coordinator"

_CITY_CODE = re.compile(r"^\d{4}00$")


def city_path_of(path: str) -> str | None:
    """The path of the city (depth 1) a jurisdiction path lies in, or None above city level."""
    parts = [p for p in path.split("/") if p]
    return f"{parts[0]}/{parts[1]}/" if len(parts) >= 2 else None


def city_path_for_code(city_code: str) -> str | None:
    """A city's path from its GB/T 2260 code, without a query (province = first two digits)."""
    code = str(city_code or "").strip()
    if not _CITY_CODE.match(code) or code.endswith("0000"):
        return None
    return f"{code[:2]}0000/{code}/"


def _in_force(division: Division, day: dt.date) -> bool:
    return (division.valid_from is None or division.valid_from <= day) and (
        division.valid_to is None or division.valid_to > day
    )


def _counts_on(spell: Spell, day: dt.date) -> bool:
    return spell.hire_date <= day and (spell.leave_date is None or spell.leave_date > day)


def assignment_snapshot(a: PoolAssignment) -> dict[str, Any]:
    return {
        "spell": a.spell_id, "city": a.city.code, "town": a.town.code, "town_name": a.town.name,
        "department": a.department.uscc if a.department else None,
        "department_name": a.department.name if a.department else None, "task": a.task,
        "valid_from": a.valid_from, "valid_to": a.valid_to, "document_ref": a.document_ref,
    }


# --- service -----------------------------------------------------------------------------


@transaction.atomic
def pool_assign(
    *, actor: Any, spell_id: Any, town_code: str, valid_from: Any, department_id: Any = None, task: str = "",
    document_ref: str = "",
) -> PoolAssignment:
    """Assign a coordinator to a town/street of its city (and a department or task) from a day;
    an open assignment is closed on that day (re-allocation)."""
    require(actor, "pool.change")
    try:
        spell = scoped(Spell.objects.select_for_update(), actor).filter(pk=spell_id).first()
    except (TypeError, ValueError):
        spell = None
    if spell is None:
        raise BianzhiError(errors.SPELL_NOT_FOUND, field="spell", value=spell_id)
    city_path = city_path_of(spell.jurisdiction_path)
    if spell.situation != COORDINATOR or city_path is None:
        raise BianzhiError(errors.POOL_NOT_COORDINATOR, field="spell", value=spell_id)
    city = Division.objects.get(path=city_path)
    c = Collector()
    day = as_date(valid_from)
    if day is None:
        c.add(INVALID_DATE, field="valid_from", value=valid_from)
    elif not _counts_on(spell, day):
        c.add(errors.POOL_NOT_ACTIVE, field="valid_from", value=day)
    town = Division.objects.filter(code=str(town_code or "").strip(), level=Level.TOWN).first()
    if (
        town is None or not town.path.startswith(city.path) or not path_in_scope(town.path, actor)
        or (day is not None and not _in_force(town, day))
    ):
        c.add(DIVISION_NOT_FOUND, field="town", value=town_code)
    department: Unit | None = None
    if department_id not in (None, ""):
        try:
            department = scoped(Unit.objects.all(), actor).filter(
                pk=department_id, jurisdiction_path__startswith=city.path
            ).first()
        except (TypeError, ValueError):
            department = None
        if department is None:
            c.add(UNIT_NOT_FOUND, field="department", value=department_id)
        elif department.status != UnitStatus.ACTIVE:
            c.add(UNIT_NOT_ACTIVE, field="department", value=department_id)
    task = (task or "").strip()
    if len(task) > 100:
        c.add(TOO_LONG, field="task", value=task, max=100)
    document_ref = (document_ref or "").strip()
    if len(document_ref) > 100:
        c.add(TOO_LONG, field="document_ref", value=document_ref, max=100)
    c.raise_if_any()
    assert day is not None and town is not None
    history = list(PoolAssignment.objects.select_for_update().filter(spell=spell).order_by("valid_from"))
    current = next((a for a in history if a.valid_to is None), None)
    if current is not None and day <= current.valid_from:
        raise BianzhiError(DATE_NOT_AFTER_PREVIOUS, field="valid_from", value=day,
                           params={"previous": current.valid_from.isoformat()})
    last_end = max((a.valid_to for a in history if a.valid_to is not None), default=None)
    if current is None and last_end is not None and day < last_end:
        raise BianzhiError(DATE_NOT_AFTER_PREVIOUS, field="valid_from", value=day,
                           params={"previous": last_end.isoformat()})
    before = None
    if current is not None:
        before = assignment_snapshot(current)
        current.valid_to = day
        current.save(update_fields=["valid_to"])
    assignment = PoolAssignment.objects.create(
        spell=spell, city=city, town=town, department=department, task=task, valid_from=day,
        document_ref=document_ref,
    )
    audit.record(actor, audit.entry_for(
        "pool.reallocate" if current is not None else "pool.assign", assignment,
        scope_path=spell.jurisdiction_path, before=before, after=assignment_snapshot(assignment),
    ))
    return assignment


# --- selectors ---------------------------------------------------------------------------


def _city_path_for_actor(actor: Any, city_code: str) -> str:
    """The city's path when the actor may see (part of) it; 404 otherwise."""
    path = city_path_for_code(city_code)
    scope = scope_of(actor).path
    if path is None or not (path.startswith(scope) or scope.startswith(path)):
        raise Http404
    return path


def _assignment_on(as_of: dt.date) -> FilteredRelation:
    return FilteredRelation("assignments", condition=Q(assignments__valid_from__lte=as_of) & (
        Q(assignments__valid_to__isnull=True) | Q(assignments__valid_to__gt=as_of)
    ))


def _coordinators(actor: Any, city_code: str, as_of: dt.date) -> QuerySet[Spell]:
    require(actor, "pool.view")
    path = _city_path_for_actor(actor, city_code)
    qs = scoped(Spell.objects.all(), actor).filter(situation=COORDINATOR, jurisdiction_path__startswith=path)
    return counting_on(qs, as_of).annotate(on_day=_assignment_on(as_of))


def pool_members(*, actor: Any, city_code: str, as_of: dt.date) -> QuerySet[Spell]:
    """The city's coordinators in post on ``as_of`` (in the actor's scope), each annotated with
    its assignment on that day (``None`` values when unassigned). One query."""
    return (
        _coordinators(actor, city_code, as_of).select_related("person", "unit")
        .annotate(
            assignment_id=F("on_day__id"), town_code=F("on_day__town__code"),
            town_name=F("on_day__town__name"), pool_department_id=F("on_day__department_id"),
            pool_department_name=F("on_day__department__name"), pool_task=F("on_day__task"),
            assigned_from=F("on_day__valid_from"),
        )
        .order_by(F("town_code").asc(nulls_last=True), "unit_id", "person__name", "id")
    )


def pool_totals_by_town(*, actor: Any, city_code: str, as_of: dt.date) -> list[dict[str, Any]]:
    """Coordinators per town/street on ``as_of``, one grouped query; the unassigned form one
    row with ``town_code`` None and ``assigned`` False."""
    rows = (
        _coordinators(actor, city_code, as_of)
        .values(town_code=F("on_day__town__code"), town_name=F("on_day__town__name"))
        .annotate(count=Count("id"))
        .order_by(F("town_code").asc(nulls_last=True))
    )
    return [dict(row, assigned=row["town_code"] is not None) for row in rows]


def pool_totals_by_department(*, actor: Any, city_code: str, as_of: dt.date) -> list[dict[str, Any]]:
    """Coordinators per department on ``as_of``, one grouped query. Rows with
    ``department_id`` None: ``assigned`` True = assigned to a town (or task) without a
    department; ``assigned`` False = not assigned at all."""
    assigned = Case(When(on_day__id__isnull=False, then=Value(True)), default=Value(False),
                    output_field=BooleanField())
    rows = (
        _coordinators(actor, city_code, as_of)
        .values(department_id=F("on_day__department_id"), department_name=F("on_day__department__name"),
                assigned=assigned)
        .annotate(count=Count("id"))
        .order_by(F("department_name").asc(nulls_last=True), "department_id", "-assigned")
    )
    return [dict(row) for row in rows]


def assignment_history(*, actor: Any, spell: Spell | int) -> QuerySet[PoolAssignment]:
    """All assignments of one coordinator, oldest first; 404 when the record is out of scope."""
    require(actor, "pool.view")
    spell_id = spell.pk if isinstance(spell, Spell) else spell
    try:
        visible = scoped(Spell.objects.all(), actor).filter(pk=spell_id).exists()
    except (TypeError, ValueError):
        visible = False
    if not visible:
        raise Http404
    return (PoolAssignment.objects.filter(spell_id=spell_id).select_related("town", "department", "city")
            .order_by("valid_from"))


def close_assignments(spell_ids: list[int], on: Any) -> int:
    """End the open pool assignments of records that leave on ``on`` (their first day out of post).
    Called by the exit and bulk services inside their transaction."""
    return PoolAssignment.objects.filter(
        spell_id__in=spell_ids, valid_to__isnull=True, valid_from__lt=on
    ).update(valid_to=on)
