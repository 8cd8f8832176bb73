"""The only writers of units, establishment quotas and people; each change is audited in
the same transaction and keeps the effective-dated history."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction

from bianzhi.accounts.permissions import require
from bianzhi.common import audit, pii
from bianzhi.common.codes import CodeError, validate_resident_id, validate_uscc
from bianzhi.common.errors import BianzhiError, Collector
from bianzhi.common.limits import MAX_COUNT
from bianzhi.common.scoping import get_scoped_or_404, path_in_scope, scoped
from bianzhi.divisions.errors import DIVISION_NOT_FOUND
from bianzhi.divisions.models import Division

from . import errors
from .choices import Education, EstablishmentKind, FundingForm, UnitCategory, UnitChange, UnitStatus
from .models import ID_NUMBER_FIELD, EstablishmentQuota, Person, Unit, UnitVersion, sealed_id_number


def unit_snapshot(unit: Unit) -> dict[str, Any]:
    return {
        "uscc": unit.uscc, "name": unit.name, "category": unit.category, "funding_form": unit.funding_form,
        "parent": unit.parent.uscc if unit.parent_id and unit.parent else None,
        "jurisdiction": unit.jurisdiction.code, "status": unit.status,
        "set_up_on": unit.set_up_on, "ended_on": unit.ended_on,
    }


def _division_in_scope(actor: Any, code: str, collector: Collector, field: str = "jurisdiction") -> Division | None:
    division = Division.objects.filter(code=str(code).strip()).first() if code else None
    if division is None or not path_in_scope(division.path, actor):
        collector.add(DIVISION_NOT_FOUND, field=field, value=code)
        return None
    return division


def _unit_in_scope(actor: Any, uscc: str, code: str, field: str, collector: Collector) -> Unit | None:
    unit = scoped(Unit.objects.all(), actor).filter(uscc=str(uscc).strip().upper()).first()
    if unit is None:
        collector.add(code, field=field, value=uscc)
    return unit


def _locked_unit(actor: Any, unit_id: Any) -> Unit:
    unit = scoped(Unit.objects.select_for_update(), actor).filter(pk=unit_id).first()
    if unit is None:
        raise BianzhiError(errors.UNIT_NOT_FOUND, field="unit", value=unit_id)
    return unit


def _open_version(unit: Unit) -> UnitVersion:
    return UnitVersion.objects.select_for_update().get(unit=unit, valid_to__isnull=True)


def _new_version(unit: Unit, on: dt.date, change: str, document_ref: str = "") -> UnitVersion:
    return UnitVersion.objects.create(
        unit=unit, valid_from=on, change=change, name=unit.name, category=unit.category,
        funding_form=unit.funding_form, parent=unit.parent, jurisdiction=unit.jurisdiction,
        jurisdiction_path=unit.jurisdiction_path, document_ref=document_ref,
    )


def _close_and_reopen(unit: Unit, on: dt.date, change: str, document_ref: str) -> None:
    current = _open_version(unit)
    if on <= current.valid_from:
        raise BianzhiError(errors.DATE_NOT_AFTER_PREVIOUS, field="on", value=on,
                           params={"previous": current.valid_from.isoformat()})
    current.valid_to = on
    current.save(update_fields=["valid_to"])
    _new_version(unit, on, change, document_ref)


def _check_choice(collector: Collector, field: str, value: str, choices: Any) -> None:
    if value not in choices.values:
        collector.add("invalid_choice", field=field, value=value, allowed=" / ".join(str(label) for label in choices.labels))


@transaction.atomic
def unit_set_up(
    *, actor: Any, uscc: str, name: str, category: str, funding_form: str, jurisdiction: str,
    set_up_on: dt.date, parent: str | None = None, document_ref: str = "",
) -> Unit:
    require(actor, "unit.change")
    c = Collector()
    try:
        uscc = validate_uscc(uscc)
    except CodeError as exc:
        c.add(exc.code, field="uscc", value=uscc)
    name = (name or "").strip()
    if not name or len(name) > 100:
        c.add(errors.NAME_REQUIRED, field="name", value=name)
    _check_choice(c, "category", category, UnitCategory)
    _check_choice(c, "funding_form", funding_form, FundingForm)
    division = _division_in_scope(actor, jurisdiction, c)
    parent_unit = _unit_in_scope(actor, parent, errors.PARENT_NOT_FOUND, "parent", c) if parent else None
    if parent_unit is not None and parent_unit.status != UnitStatus.ACTIVE:
        c.add(errors.UNIT_NOT_ACTIVE, field="parent", value=parent)
    if not c.errors and Unit.objects.filter(uscc=uscc).exists():
        c.add(errors.UNIT_CODE_TAKEN, field="uscc", value=uscc)
    if division is not None and name and Unit.objects.filter(
        jurisdiction=division, name=name, status=UnitStatus.ACTIVE
    ).exists():
        c.add(errors.UNIT_NAME_TAKEN, field="name", value=name)
    c.raise_if_any()
    assert division is not None
    unit = Unit.objects.create(
        uscc=uscc, name=name, category=category, funding_form=funding_form, parent=parent_unit,
        jurisdiction=division, jurisdiction_path=division.path, set_up_on=set_up_on,
    )
    _new_version(unit, set_up_on, UnitChange.SET_UP, document_ref)
    audit.record(actor, audit.entry_for("unit.set_up", unit, scope_path=unit.jurisdiction_path,
                                        after=unit_snapshot(unit) | {"document_ref": document_ref}))
    return unit


@transaction.atomic
def unit_rename(*, actor: Any, unit_id: Any, name: str, on: dt.date, document_ref: str = "") -> Unit:
    require(actor, "unit.change")
    unit = _locked_unit(actor, unit_id)
    if unit.status != UnitStatus.ACTIVE:
        raise BianzhiError(errors.UNIT_NOT_ACTIVE, field="unit", value=unit_id)
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise BianzhiError(errors.NAME_REQUIRED, field="name", value=name)
    if Unit.objects.filter(jurisdiction=unit.jurisdiction, name=name, status=UnitStatus.ACTIVE).exclude(
        pk=unit.pk
    ).exists():
        raise BianzhiError(errors.UNIT_NAME_TAKEN, field="name", value=name)
    before = unit_snapshot(unit)
    unit.name = name
    unit.save(update_fields=["name"])
    _close_and_reopen(unit, on, UnitChange.RENAME, document_ref)
    audit.record(actor, audit.entry_for("unit.rename", unit, scope_path=unit.jurisdiction_path, before=before,
                                        after=unit_snapshot(unit) | {"on": on, "document_ref": document_ref}))
    return unit


@transaction.atomic
def unit_merge(
    *, actor: Any, target_id: Any, source_ids: list[Any], on: dt.date, document_ref: str = ""
) -> Unit:
    """Merge the source units into the target: sources end on ``on``; their active
    sub-units move under the target. Every unit involved must be in the actor's scope."""
    require(actor, "unit.change")
    target = _locked_unit(actor, target_id)
    sources = [_locked_unit(actor, sid) for sid in source_ids if str(sid) != str(target.pk)]
    if not sources:
        raise BianzhiError(errors.MERGE_NEEDS_SOURCES, field="sources")
    for unit in [target, *sources]:
        if unit.status != UnitStatus.ACTIVE:
            raise BianzhiError(errors.UNIT_NOT_ACTIVE, field="unit", value=unit.uscc)
    entries = []
    for source in sources:
        before = unit_snapshot(source)
        for child in Unit.objects.select_for_update().filter(parent=source, status=UnitStatus.ACTIVE):
            child_before = unit_snapshot(child)
            child.parent = target
            child.save(update_fields=["parent"])
            _close_and_reopen(child, on, UnitChange.UPDATE, document_ref)
            entries.append(audit.entry_for("unit.reparent", child, scope_path=child.jurisdiction_path,
                                           before=child_before, after=unit_snapshot(child)))
        current = _open_version(source)
        if on <= current.valid_from:
            raise BianzhiError(errors.DATE_NOT_AFTER_PREVIOUS, field="on", value=on,
                               params={"previous": current.valid_from.isoformat()})
        current.valid_to = on
        current.save(update_fields=["valid_to"])
        source.status = UnitStatus.MERGED
        source.ended_on = on
        source.merged_into = target
        source.save(update_fields=["status", "ended_on", "merged_into"])
        EstablishmentQuota.objects.filter(unit=source, valid_to__isnull=True).update(valid_to=on)
        entries.append(audit.entry_for("unit.merge", source, scope_path=source.jurisdiction_path, before=before,
                                       after=unit_snapshot(source) | {"merged_into": target.uscc,
                                                                     "document_ref": document_ref}))
    audit.record_many(actor, entries)
    return target


@transaction.atomic
def unit_abolish(*, actor: Any, unit_id: Any, on: dt.date, document_ref: str = "") -> Unit:
    require(actor, "unit.change")
    unit = _locked_unit(actor, unit_id)
    if unit.status != UnitStatus.ACTIVE:
        raise BianzhiError(errors.UNIT_NOT_ACTIVE, field="unit", value=unit_id)
    if Unit.objects.filter(parent=unit, status=UnitStatus.ACTIVE).exists():
        raise BianzhiError(errors.UNIT_HAS_CHILDREN, field="unit", value=unit.uscc)
    current = _open_version(unit)
    if on <= current.valid_from:
        raise BianzhiError(errors.DATE_NOT_AFTER_PREVIOUS, field="on", value=on,
                           params={"previous": current.valid_from.isoformat()})
    before = unit_snapshot(unit)
    current.valid_to = on
    current.save(update_fields=["valid_to"])
    unit.status = UnitStatus.ABOLISHED
    unit.ended_on = on
    unit.save(update_fields=["status", "ended_on"])
    EstablishmentQuota.objects.filter(unit=unit, valid_to__isnull=True).update(valid_to=on)
    audit.record(actor, audit.entry_for("unit.abolish", unit, scope_path=unit.jurisdiction_path, before=before,
                                        after=unit_snapshot(unit) | {"document_ref": document_ref}))
    return unit


@transaction.atomic
def quota_set(
    *, actor: Any, unit_id: Any, kind: str, approved: Any, actual: Any, on: dt.date, document_ref: str = ""
) -> EstablishmentQuota:
    """Set the approved number and actual headcount of one kind from ``on``."""
    require(actor, "establishment.change")
    c = Collector()
    _check_choice(c, "kind", kind, EstablishmentKind)
    values = {}
    for field, raw in (("approved", approved), ("actual", actual)):
        try:
            number = int(raw)
            if not 0 <= number <= MAX_COUNT or str(raw).strip() not in {str(number), f"{number}.0"}:
                raise ValueError
            values[field] = number
        except (TypeError, ValueError, OverflowError):
            c.add(errors.QUOTA_NEGATIVE, field=field, value=raw)
    c.raise_if_any()
    unit = _locked_unit(actor, unit_id)
    if unit.status != UnitStatus.ACTIVE:
        raise BianzhiError(errors.UNIT_NOT_ACTIVE, field="unit", value=unit_id)
    current = EstablishmentQuota.objects.select_for_update().filter(unit=unit, kind=kind, valid_to__isnull=True).first()
    before = None
    if current is not None:
        before = {"approved": current.approved, "actual": current.actual, "valid_from": current.valid_from}
        if on <= current.valid_from:
            raise BianzhiError(errors.DATE_NOT_AFTER_PREVIOUS, field="on", value=on,
                               params={"previous": current.valid_from.isoformat()})
        current.valid_to = on
        current.save(update_fields=["valid_to"])
    quota = EstablishmentQuota.objects.create(
        unit=unit, kind=kind, approved=values["approved"], actual=values["actual"], valid_from=on,
        document_ref=document_ref,
    )
    audit.record(actor, audit.entry_for(
        "establishment.set", quota, scope_path=unit.jurisdiction_path, before=before,
        after={"unit": unit.uscc, "kind": kind, "approved": quota.approved, "actual": quota.actual,
               "valid_from": on, "document_ref": document_ref},
    ))
    return quota


@transaction.atomic
def person_create(
    *, actor: Any, id_number: str, name: str, jurisdiction: str | None = None, unit_id: Any = None,
    education: str = "", birth_date: dt.date | None = None, sex: str | None = None,
) -> Person:
    """Register a real-name person. Birth date and sex come from the ID number; when
    they are also given, they must agree with it."""
    require(actor, "person.change")
    c = Collector()
    rid = None
    try:
        rid = validate_resident_id(id_number)
    except CodeError as exc:
        c.add(exc.code, field="id_number", value=id_number)
    name = (name or "").strip()
    if not name or len(name) > 50:
        c.add(errors.NAME_REQUIRED, field="name", value=name)
    if education:
        _check_choice(c, "education", education, Education)
    if rid is not None and birth_date is not None and birth_date != rid.birth_date:
        c.add("id_birth_mismatch", field="birth_date", value=birth_date)
    if rid is not None and sex and sex != rid.sex:
        c.add("id_sex_mismatch", field="sex", value=sex)
    unit = None
    if unit_id not in (None, ""):
        unit = scoped(Unit.objects.all(), actor).filter(pk=unit_id).first()
        if unit is None:
            c.add(errors.UNIT_NOT_FOUND, field="unit", value=unit_id)
    elif actor.is_unit_bound:
        unit = actor.unit
    division = unit.jurisdiction if unit is not None else None
    if division is None:
        division = _division_in_scope(actor, jurisdiction or actor.jurisdiction.code, c)
    if rid is not None and Person.objects.by_id_number(rid.number).exists():
        c.add(errors.PERSON_EXISTS, field="id_number", value=rid.number)
    c.raise_if_any()
    assert rid is not None and division is not None
    try:
        with transaction.atomic():
            person = Person.objects.create(
                **sealed_id_number(rid.number), name=name, sex=rid.sex, birth_date=rid.birth_date, education=education,
                jurisdiction=division, jurisdiction_path=division.path, unit=unit,
            )
    except IntegrityError:
        raise BianzhiError(errors.PERSON_EXISTS, field="id_number") from None
    audit.record(actor, audit.entry_for(
        "person.create", person, scope_path=person.jurisdiction_path,
        # Masked ID only, and no birth date: together they would give the full number back.
        after={"id_number": person.masked_id, "name": name, "sex": rid.sex, "unit": unit.uscc if unit else None},
    ))
    return person


@transaction.atomic
def person_reveal_id(*, actor: Any, person_id: Any, purpose: str) -> str:
    """The full ID number of one person, for a user allowed to unmask it. Out of scope is
    not found; the read itself is an audit event with the stated purpose."""
    person = get_scoped_or_404(Person.objects.all(), actor, pk=person_id)
    require(actor, "person.unmask")
    purpose = (purpose or "").strip()
    if not purpose or len(purpose) > 200:
        raise BianzhiError(errors.REVEAL_PURPOSE_REQUIRED, field="purpose", value=purpose[:200])
    number = pii.decrypt(person.id_number_enc, field=ID_NUMBER_FIELD)
    audit.record(actor, audit.entry_for(
        "person.reveal_id", person, scope_path=person.jurisdiction_path,
        after={"masked": person.masked_id, "purpose": purpose},
    ))
    return number


@transaction.atomic
def reveal_ids_for_export(*, actor: Any, people: list[Person], what: str, query: str) -> dict[int, str]:
    """Full ID numbers for an export the actor asked to unmask: one audit event for the whole
    export, naming what was exported and how many numbers."""
    require(actor, "person.unmask")
    numbers = {p.pk: pii.decrypt(p.id_number_enc, field=ID_NUMBER_FIELD) for p in people}
    audit.record(actor, audit.Entry(
        action="person.reveal_ids_export", scope_path=actor.jurisdiction_path,
        object_type="orgs.person", object_repr=what[:255],
        after={"export": what, "query": query, "count": len(numbers), "people": sorted(numbers)[:10000]},
    ))
    return numbers
