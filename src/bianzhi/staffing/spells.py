"""Writers for 编外人员 records (spells), exits, hire authorisations and local rule rows.

Every service takes ``(*, actor, ...)``, runs in one transaction, checks everything first
and raises :class:`~bianzhi.common.errors.BianzhiError` with **all** violations (nothing
written), and writes its audit rows in the same transaction.

Two modes for a new record (TEMPLATES.md):

* ``register`` (报送; forms and unit operators): the policy of S2–S5 applies
  (:func:`~bianzhi.staffing.rules.check_new_hire`) and the hire must cite an approved,
  unexpired hire authorisation of the unit and post class with places left; one place is
  consumed under a row lock.
* ``inventory`` (摸底; administrators with ``roster.import_inventory``): format errors still
  refuse, policy breaches are accepted and each becomes a :class:`PolicyFlag` row.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from typing import Any

from django.db import IntegrityError, InternalError, transaction
from django.db.models import F
from django.utils import timezone

from bianzhi.accounts.permissions import require
from bianzhi.common import audit
from bianzhi.common.codes import CodeError, validate_resident_id
from bianzhi.common.errors import (
    INVALID_CHOICE,
    INVALID_DATE,
    REQUIRED,
    TOO_LONG,
    BianzhiError,
    Collector,
    ErrorDetail,
)
from bianzhi.common.limits import MAX_COUNT
from bianzhi.common.scoping import path_in_scope, scope_of, scoped
from bianzhi.divisions.errors import DIVISION_NOT_FOUND
from bianzhi.divisions.models import Division
from bianzhi.orgs.choices import Education
from bianzhi.orgs.errors import NAME_REQUIRED, UNIT_NOT_ACTIVE, UNIT_NOT_FOUND
from bianzhi.orgs.models import Person, Unit

from . import errors, selectors
from .choices import AuthorisationStatus, ClassPolicy, RuleTable, SpellSource
from .models import HireAuthorisation, PolicyFlag, RuleItem, Spell
from .rules import RuleSet, SpellFacts, Violation, check_format, check_new_hire, overlaps

REGISTER, INVENTORY = "register", "inventory"
MODES = (REGISTER, INVENTORY)
NO_KEY_POST = {"", "无"}

#: How strict each post-class policy is; a local rule row may only move a class up this order.
POLICY_STRICTNESS: dict[str, int] = {
    ClassPolicy.HOLD_TOTAL: 0,
    ClassPolicy.CONTROL_INCREASE: 1,
    ClassPolicy.OPTIMISE_STOCK: 2,
    ClassPolicy.REDUCE: 3,
}
#: The rule tables a city or district may add local rows to (and how), in this issue.
LOCAL_TABLES = (RuleTable.KEY_POST, RuleTable.POST_CLASS, RuleTable.SERVICE_ITEM)


# --------------------------------------------------------------------------- parsing helpers


def _date(value: Any, field: str, c: Collector, *, required: bool = True) -> dt.date | None:
    """A date from a ``date`` or an ISO ``YYYY-MM-DD`` string; records ``required`` /
    ``invalid_date`` in ``c``."""
    if value is None or value == "":
        if required:
            c.add(REQUIRED, field=field, value=value)
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        c.add(INVALID_DATE, field=field, value=value)
        return None


def _money(value: Any, field: str, c: Collector) -> decimal.Decimal | None:
    """Yuan ≥ 0 with at most 2 decimals (fits ``max_digits=12``), or ``cost_invalid``."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, bool):
            raise decimal.InvalidOperation
        amount = decimal.Decimal(str(value).strip())
        exponent = amount.as_tuple().exponent
        if (not amount.is_finite() or amount < 0 or amount >= 10**10
                or (isinstance(exponent, int) and exponent < -2)):
            raise decimal.InvalidOperation
    except (decimal.InvalidOperation, ValueError):
        c.add(errors.COST_INVALID, field=field, value=value)
        return None
    return amount.quantize(decimal.Decimal("0.01"))


def _whole(value: Any, minimum: int, maximum: int = MAX_COUNT) -> int | None:
    """A whole number from ``minimum`` to ``maximum`` (``3``, ``"3"``, ``3.0``), else ``None``."""
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
        if (value != number) if isinstance(value, float) else str(value).strip() != str(number):
            return None
    except (TypeError, ValueError, OverflowError):
        return None
    return number if minimum <= number <= maximum else None


def _unit_in_scope(actor: Any, unit_id: Any, *, lock: bool = False) -> Unit | None:
    qs = Unit.objects.select_for_update() if lock else Unit.objects.all()
    try:
        return scoped(qs, actor).filter(pk=unit_id).first()
    except (TypeError, ValueError):
        return None


def _masked_name(name: str) -> str:
    return name[:1] + "*" * max(len(name) - 1, 1)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


# --------------------------------------------------------------------------- reusable checks


def overlap_error(actor: Any, other: Spell, *, field: str = "hire_date", value: Any = None,
                  row: int | None = None) -> ErrorDetail:
    """The ``spell_overlap`` error for an overlapping record ``other`` (its unit loaded).

    The other record's unit and hire date are named only when the actor may see that
    record; otherwise the message is neutral (out-of-scope names are never revealed)."""
    if scoped(Spell.objects.filter(pk=other.pk), actor).exists():
        return ErrorDetail(errors.SPELL_OVERLAP, field=field, value=value, row=row,
                           params={"unit": other.unit.name, "hire_date": other.hire_date.isoformat()})
    return ErrorDetail(errors.SPELL_OVERLAP, message=str(errors.SPELL_OVERLAP_HIDDEN_MESSAGE), field=field,
                       value=value, row=row)


def facts_from(rules: RuleSet, *, situation: Any, post_class: Any, work_type: Any, key_post: Any,
               funding_source: Any, hire_date: dt.date, leave_date: dt.date | None = None,
               exit_reason: Any = "", education: Any = "") -> SpellFacts:
    """Map values as users type them (Chinese names or codes) to codes; ``None`` marks an
    unknown value. Empty and 无 mean "no key post"; empty education and exit reason stay empty."""
    raw = {"situation": _text(situation), "post_class": _text(post_class), "work_type": _text(work_type),
           "key_post": _text(key_post), "funding_source": _text(funding_source),
           "exit_reason": _text(exit_reason), "education": _text(education)}
    return SpellFacts(
        situation=rules.lookup(RuleTable.SITUATION, raw["situation"]),
        post_class=rules.lookup(RuleTable.POST_CLASS, raw["post_class"]),
        work_type=rules.lookup(RuleTable.WORK_TYPE, raw["work_type"]),
        key_post="" if raw["key_post"] in NO_KEY_POST else rules.lookup(RuleTable.KEY_POST, raw["key_post"]),
        funding_source=rules.lookup(RuleTable.FUNDING_SOURCE, raw["funding_source"]),
        hire_date=hire_date, leave_date=leave_date,
        exit_reason="" if not raw["exit_reason"] else rules.lookup(RuleTable.EXIT_REASON, raw["exit_reason"]),
        education="" if not raw["education"] else rules.lookup(RuleTable.EDUCATION, raw["education"]),
        raw=raw,
    )


def _add_violations(c: Collector, violations: list[Violation], shown: dict[str, Any]) -> None:
    for v in violations:
        c.add(v.code, field=v.field, value=shown.get(v.field or "") or None, **v.params)


def _spell_snapshot(spell: Spell) -> dict[str, Any]:
    return {
        "person": spell.person.masked_id, "name": spell.person.name, "unit": spell.unit.uscc,
        "situation": spell.situation, "post_class": spell.post_class, "work_type": spell.work_type,
        "post_name": spell.post_name, "key_post": spell.key_post, "funding_source": spell.funding_source,
        "hire_date": spell.hire_date, "leave_date": spell.leave_date, "exit_reason": spell.exit_reason,
        "contract_end": spell.contract_end, "education": spell.education, "monthly_cost": spell.monthly_cost,
        "authorisation": spell.authorisation.number if spell.authorisation else None, "source": spell.source,
    }


# --------------------------------------------------------------------------- records


@transaction.atomic
def spell_create(
    *, actor: Any, unit_id: Any, id_number: str, name: str, situation: str, post_class: str, work_type: str,
    post_name: str, funding_source: str, hire_date: Any, key_post: str = "", contract_end: Any = None,
    education: str = "", monthly_cost: Any = None, authorisation_number: str = "", mode: str = REGISTER,
    today: dt.date | None = None, leave_date: Any = None, exit_reason: str = "", source: str | None = None,
) -> Spell:
    """Record one non-establishment record (and the person, when the ID number is new).

    ``leave_date``/``exit_reason`` allow an already-ended record (history); ``source``
    overrides the default (form for register mode, inventory for inventory mode)."""
    if mode not in MODES:
        raise BianzhiError(INVALID_CHOICE, field="mode", value=mode, params={"allowed": " / ".join(MODES)})
    require(actor, "roster.import_inventory" if mode == INVENTORY else "roster.change")
    today = today or timezone.localdate()
    c = Collector()

    # The unit (locked, so that concurrent hires of one unit are counted one after the other).
    unit = _unit_in_scope(actor, unit_id, lock=True)
    if unit is None:
        c.add(UNIT_NOT_FOUND, field="unit", value=unit_id)

    hire = _date(hire_date, "hire_date", c)
    leave = _date(leave_date, "leave_date", c, required=False)
    contract = _date(contract_end, "contract_end", c, required=False)
    if unit is not None and unit.ended_on is not None and hire is not None and hire >= unit.ended_on:
        c.add(UNIT_NOT_ACTIVE, field="unit", value=unit_id)

    # The person.
    rid = None
    try:
        rid = validate_resident_id(id_number)
    except CodeError as exc:
        c.add(exc.code, field="id_number", value=id_number)
    name = _text(name)
    if not name or len(name) > 50:
        c.add(NAME_REQUIRED, field="name", value=name)
    person = Person.objects.by_id_number(rid.number).first() if rid is not None else None
    if person is not None and name and person.name != name:
        visible = scoped(Person.objects.filter(pk=person.pk), actor).exists()
        c.add(errors.PERSON_NAME_MISMATCH, field="name", value=name,
              name=person.name if visible else _masked_name(person.name))

    # Values and format rules.
    post_name = _text(post_name)
    if not post_name or len(post_name) > 50:
        c.add(errors.POST_NAME_REQUIRED, field="post_name", value=post_name)
    cost = _money(monthly_cost, "monthly_cost", c)
    path = unit.jurisdiction_path if unit is not None else scope_of(actor).path
    rules = selectors.ruleset_for(path, hire or today)
    facts = facts_from(rules, situation=situation, post_class=post_class, work_type=work_type,
                       key_post=key_post, funding_source=funding_source, hire_date=hire or today,
                       leave_date=leave, exit_reason=exit_reason, education=education)
    shown = {**facts.raw, "hire_date": hire, "leave_date": leave}
    found = check_format(facts, rules, today)
    if hire is None:  # the date checks need a real hire date; the value checks do not
        found = [v for v in found if v.code not in {errors.HIRE_IN_FUTURE, errors.LEAVE_NOT_AFTER_HIRE}]
    _add_violations(c, found, shown)

    # One record per person and day, province-wide.
    if person is not None and hire is not None and (leave is None or leave > hire):
        others = Spell.objects.filter(person=person).select_related("unit").order_by("hire_date")
        other = next((s for s in others if overlaps(hire, leave, s.hire_date, s.leave_date)), None)
        if other is not None:
            c.extend([overlap_error(actor, other, value=hire)])

    # Policy (S2–S5): refused in register mode, flagged in inventory mode.
    breaches: list[Violation] = []
    if unit is not None and hire is not None:
        context = selectors.unit_contexts([unit], hire)[unit.pk]
        breaches = check_new_hire(facts, context, rules)
        if mode == INVENTORY:
            baseline = selectors.current_baseline_for(unit.jurisdiction_path)
            if baseline is None or hire <= baseline.as_of:
                # Part of the stock the baseline is (or will be) taken from: only the key-post ban applies.
                breaches = [v for v in breaches if v.code == errors.KEY_POST_BANNED]
        else:
            _add_violations(c, breaches, shown)

    authorisation = None
    if mode == REGISTER:
        number = _text(authorisation_number)
        if not number:
            c.add(errors.HIRE_AUTHORISATION_REQUIRED, field="authorisation_number")
        elif unit is not None and hire is not None and facts.post_class is not None:
            authorisation = HireAuthorisation.objects.select_for_update().filter(number=number).first()
            if authorisation is None or not _authorisation_fits(authorisation, unit, facts, hire):
                c.add(errors.HIRE_AUTHORISATION_INVALID, field="authorisation_number", value=number)
                authorisation = None

    c.raise_if_any()
    assert unit is not None and hire is not None and rid is not None and facts.situation is not None
    assert facts.post_class and facts.work_type and facts.funding_source and facts.key_post is not None

    entries: list[audit.Entry] = []
    if person is None:
        from bianzhi.orgs.services import person_create

        person = person_create(actor=actor, id_number=rid.number, name=name, unit_id=unit.pk,
                               education=facts.education if facts.education in Education.values else "")
    if authorisation is not None:
        consumed = HireAuthorisation.objects.filter(pk=authorisation.pk, used__lt=F("quantity")).update(
            used=F("used") + 1)
        if not consumed:
            raise BianzhiError(errors.HIRE_AUTHORISATION_INVALID, field="authorisation_number",
                               value=authorisation.number)
    spell = Spell(
        person=person, unit=unit, jurisdiction_path=unit.jurisdiction_path, situation=facts.situation,
        post_class=facts.post_class, work_type=facts.work_type, post_name=post_name, key_post=facts.key_post,
        funding_source=facts.funding_source, hire_date=hire, leave_date=leave, exit_reason=facts.exit_reason or "",
        contract_end=contract, education=facts.education or "", monthly_cost=cost, authorisation=authorisation,
        source=source or (SpellSource.INVENTORY if mode == INVENTORY else SpellSource.FORM),
    )
    try:
        with transaction.atomic():
            spell.save()
    except (IntegrityError, InternalError):
        # The database guard (0002_spell_no_overlap) caught a concurrent overlapping record.
        raise BianzhiError(ErrorDetail(errors.SPELL_OVERLAP, message=str(errors.SPELL_OVERLAP_HIDDEN_MESSAGE),
                                       field="hire_date", value=hire)) from None
    after = _spell_snapshot(spell) | {"mode": mode}
    if mode == INVENTORY and breaches:
        flags = PolicyFlag.objects.bulk_create([
            PolicyFlag(spell=spell, unit=unit, jurisdiction_path=unit.jurisdiction_path, code=v.code,
                       params=audit.jsonable(v.params), raised_on=today)
            for v in breaches
        ])
        after["flags"] = [f.code for f in flags]
    entries.append(audit.entry_for("spell.create", spell, scope_path=unit.jurisdiction_path, after=after))
    if authorisation is not None:
        entries.append(audit.entry_for(
            "authorisation.use", authorisation, scope_path=unit.jurisdiction_path,
            before={"used": authorisation.used}, after={"used": authorisation.used + 1, "spell": spell.pk},
        ))
        authorisation.used += 1
    audit.record_many(actor, entries)
    return spell


def _authorisation_fits(auth: HireAuthorisation, unit: Unit, facts: SpellFacts, hire: dt.date) -> bool:
    """Approved, for this unit and post class (and situation, when it names one), in force on
    the hire date, with places left."""
    return (
        auth.status == AuthorisationStatus.APPROVED and auth.unit_id == unit.pk
        and auth.post_class == facts.post_class
        and (not auth.situation or auth.situation == facts.situation)
        and auth.valid_from <= hire and (auth.valid_to is None or hire < auth.valid_to)
        and auth.remaining > 0
    )


@transaction.atomic
def spell_exit(*, actor: Any, spell_id: Any, leave_date: Any, exit_reason: str) -> Spell:
    """Record an exit: ``leave_date`` is the first day no longer in post (after the hire date)."""
    require(actor, "roster.change")
    try:
        spell = (scoped(Spell.objects.select_for_update(), actor).filter(pk=spell_id).first())
    except (TypeError, ValueError):
        spell = None
    if spell is None:
        raise BianzhiError(errors.SPELL_NOT_FOUND, field="spell", value=spell_id)
    c = Collector()
    if spell.leave_date is not None:
        c.add(errors.SPELL_ALREADY_EXITED, field="leave_date", value=spell.leave_date)
    leave = _date(leave_date, "leave_date", c)
    if leave is not None and leave <= spell.hire_date:
        c.add(errors.LEAVE_NOT_AFTER_HIRE, field="leave_date", value=leave)
    rules = selectors.ruleset_for(spell.jurisdiction_path, leave or spell.hire_date)
    reason_text = _text(exit_reason)
    reason = rules.lookup(RuleTable.EXIT_REASON, reason_text) if reason_text else ""
    if not reason_text:
        c.add(errors.EXIT_WITHOUT_REASON, field="exit_reason")
    elif reason is None:
        c.add(errors.UNKNOWN_EXIT_REASON, field="exit_reason", value=reason_text,
              allowed=" / ".join(rules.names(RuleTable.EXIT_REASON)))
    c.raise_if_any()
    assert leave is not None and reason
    before = {"leave_date": spell.leave_date, "exit_reason": spell.exit_reason}
    spell.leave_date, spell.exit_reason = leave, reason
    spell.save(update_fields=["leave_date", "exit_reason"])
    from .pool import close_assignments

    close_assignments([spell.pk], spell.leave_date)
    audit.record(actor, audit.entry_for("spell.exit", spell, scope_path=spell.jurisdiction_path, before=before,
                                        after={"leave_date": leave, "exit_reason": reason}))
    return spell


# --------------------------------------------------------------------------- hire authorisations


AUTHORISATION_PREFIX = "YG"


def next_authorisation_number(division_code: str, year: int) -> str:
    """``YG-<division code>-<year>-<5-digit sequence>``, one more than the highest so far."""
    prefix = f"{AUTHORISATION_PREFIX}-{division_code}-{year}-"
    pattern = re.compile(re.escape(prefix) + r"(\d{5})$")
    highest = 0
    for number in HireAuthorisation.objects.filter(number__startswith=prefix).values_list("number", flat=True):
        m = pattern.match(number)
        if m:
            highest = max(highest, int(m.group(1)))
    return f"{prefix}{highest + 1:05d}"


@transaction.atomic
def authorisation_create(
    *, actor: Any, unit_id: Any, post_class: str, quantity: Any, valid_from: Any, valid_to: Any = None,
    situation: str = "", document_ref: str = "", number: str = "", case: Any = None,
) -> HireAuthorisation:
    """Record an approved hire authorisation (用人审批) of ``quantity`` hires of one post class
    (and situation, when given) for a unit, in force over ``[valid_from, valid_to)``. The
    approvals flow calls this from the deciding transaction of a hire application (``case``):
    the leading group's decision is the authority then; otherwise (recording an approval made
    outside the system) the actor needs ``cap.change``."""
    if case is None:
        require(actor, "cap.change")
    c = Collector()
    unit = _unit_in_scope(actor, unit_id)
    if unit is None:
        c.add(UNIT_NOT_FOUND, field="unit", value=unit_id)
    start = _date(valid_from, "valid_from", c)
    end = _date(valid_to, "valid_to", c, required=False)
    if start is not None and end is not None and end <= start:
        c.add(errors.VALID_TO_NOT_AFTER_FROM, field="valid_to", value=end)
    count = _whole(quantity, 1)
    if count is None:
        c.add(errors.QUANTITY_INVALID, field="quantity", value=quantity)
    path = unit.jurisdiction_path if unit is not None else scope_of(actor).path
    rules = selectors.ruleset_for(path, start or timezone.localdate())
    class_code = rules.lookup(RuleTable.POST_CLASS, _text(post_class))
    if class_code is None:
        c.add(errors.UNKNOWN_POST_CLASS, field="post_class", value=post_class,
              allowed=" / ".join(rules.names(RuleTable.POST_CLASS)))
    situation_code = rules.lookup(RuleTable.SITUATION, _text(situation)) if _text(situation) else ""
    if situation_code is None:
        c.add(errors.UNKNOWN_SITUATION, field="situation", value=situation,
              allowed=" / ".join(rules.names(RuleTable.SITUATION)))
    document_ref = _text(document_ref)
    if len(document_ref) > 100:
        c.add(TOO_LONG, field="document_ref", value=document_ref, max=100)
    number = _text(number)
    if len(number) > 64:
        c.add(TOO_LONG, field="number", value=number, max=64)
    elif number and HireAuthorisation.objects.filter(number=number).exists():
        c.add(errors.AUTHORISATION_NUMBER_TAKEN, field="number", value=number)
    c.raise_if_any()
    assert unit is not None and start is not None and count is not None and class_code is not None
    division_code = Division.objects.only("code").get(pk=unit.jurisdiction_id).code
    for _attempt in range(5):
        chosen = number or next_authorisation_number(division_code, start.year)
        try:
            with transaction.atomic():
                auth = HireAuthorisation.objects.create(
                    number=chosen, unit=unit, post_class=class_code, situation=situation_code or "",
                    quantity=count, valid_from=start, valid_to=end, document_ref=document_ref,
                )
            break
        except IntegrityError:
            if number:
                raise BianzhiError(errors.AUTHORISATION_NUMBER_TAKEN, field="number", value=number) from None
    else:  # pragma: no cover - five concurrent writers took the same sequence number in a row
        raise BianzhiError(errors.AUTHORISATION_NUMBER_TAKEN, field="number", value=number)
    audit.record(actor, audit.entry_for("authorisation.create", auth, scope_path=unit.jurisdiction_path, after={
        "number": auth.number, "unit": unit.uscc, "post_class": class_code, "situation": auth.situation,
        "quantity": count, "valid_from": start, "valid_to": end, "document_ref": document_ref,
        "case": case.number if case is not None else None,
    }))
    return auth


# --------------------------------------------------------------------------- local rule rows (X5)


def _rule_snapshot(item: RuleItem) -> dict[str, Any]:
    return {"table": item.table, "code": item.code, "name": item.name, "parent_code": item.parent_code,
            "policy": item.policy, "value": item.value, "jurisdiction": item.jurisdiction_path,
            "valid_from": item.valid_from, "valid_to": item.valid_to, "source_document": item.source_document}


@transaction.atomic
def rule_item_add(
    *, actor: Any, table: str, code: str, name: str, valid_from: Any, jurisdiction_code: str,
    parent_code: str = "", policy: str = "", value: str = "", source_document: str,
) -> RuleItem:
    """Add a stricter local row for the actor's own jurisdiction (规定动作 + 自选动作).

    Allowed in this issue: a new key post (``key_post``), or an existing post class moved to
    a stricter policy (``post_class``; order :data:`POLICY_STRICTNESS`, the name kept).
    Anything else — a new or removed situation, post class or work type, a looser or equal
    policy, a parent or value — is refused with ``rule_not_stricter``."""
    require(actor, "rules.change")
    c = Collector()
    division = Division.objects.filter(code=_text(jurisdiction_code)).first()
    if division is None or not path_in_scope(division.path, actor):
        c.add(DIVISION_NOT_FOUND, field="jurisdiction", value=jurisdiction_code)
        division = None
    elif division.pk != actor.jurisdiction_id:
        c.add(errors.RULE_NOT_OWN_JURISDICTION, field="jurisdiction", value=jurisdiction_code)
    start = _date(valid_from, "valid_from", c)
    source_document = _text(source_document)
    if not source_document:
        c.add(errors.RULE_SOURCE_REQUIRED, field="source_document")
    elif len(source_document) > 200:
        c.add(TOO_LONG, field="source_document", value=source_document, max=200)
    table, code, name = _text(table), _text(code), _text(name)
    policy, parent_code, value = _text(policy), _text(parent_code), _text(value)
    if table not in RuleTable.values:
        c.add(INVALID_CHOICE, field="table", value=table, allowed=" / ".join(LOCAL_TABLES))
    if not code:
        c.add(REQUIRED, field="code")
    elif len(code) > 64:
        c.add(TOO_LONG, field="code", value=code, max=64)
    if len(name) > 100:
        c.add(TOO_LONG, field="name", value=name, max=100)
    fields: dict[str, Any] = {}
    if table in RuleTable.values and code and start is not None:
        rules = selectors.ruleset_for(division.path if division else scope_of(actor).path, start)
        current = rules.table(table).get(code)
        if table == RuleTable.KEY_POST:
            if current is not None or parent_code or policy or value:
                c.add(errors.RULE_NOT_STRICTER, field="code", value=code)
            elif not name:
                c.add(REQUIRED, field="name")
            elif rules.lookup(table, name) is not None:
                c.add(errors.RULE_NAME_TAKEN, field="name", value=name)
            else:
                fields = {"name": name, "sort": max((r.sort for r in rules.table(table).values()), default=-1) + 1}
        elif table == RuleTable.POST_CLASS:
            if policy and policy not in POLICY_STRICTNESS:
                c.add(INVALID_CHOICE, field="policy", value=policy, allowed=" / ".join(ClassPolicy.values))
            elif (current is None or parent_code or value or (name and name not in {current.name, current.code})
                  or POLICY_STRICTNESS.get(policy, -1) <= POLICY_STRICTNESS.get(current.policy, -1)):
                c.add(errors.RULE_NOT_STRICTER, field="policy", value=policy)
            else:
                fields = {"name": current.name, "sort": current.sort, "policy": policy}
        elif table == RuleTable.SERVICE_ITEM:
            # A new catalogue item widens the double-dipping check: the work types it replaces.
            kinds = [w.strip() for w in value.replace("，", ",").split(",") if w.strip()]
            codes = [rules.lookup(RuleTable.WORK_TYPE, w) for w in kinds]
            if current is not None or parent_code or policy:
                c.add(errors.RULE_NOT_STRICTER, field="code", value=code)
            elif not name:
                c.add(REQUIRED, field="name")
            elif rules.lookup(table, name) is not None:
                c.add(errors.RULE_NAME_TAKEN, field="name", value=name)
            elif not kinds or None in codes:
                c.add(errors.UNKNOWN_WORK_TYPE, field="value", value=value)
            else:
                fields = {"name": name, "value": ",".join(w for w in codes if w),
                          "sort": max((r.sort for r in rules.table(table).values()), default=-1) + 1}
        else:
            c.add(errors.RULE_NOT_STRICTER, field="table", value=table)
    c.raise_if_any()
    assert division is not None and start is not None
    before = None
    if table == RuleTable.POST_CLASS:
        row = selectors.ruleset_for(division.path, start).table(table)[code]
        before = {"policy": row.policy, "jurisdiction": row.jurisdiction_path}
    try:
        with transaction.atomic():
            item = RuleItem.objects.create(
                table=table, code=code, jurisdiction=division, jurisdiction_path=division.path, valid_from=start,
                source_document=source_document, **fields,
            )
    except IntegrityError:
        raise BianzhiError(errors.RULE_NOT_STRICTER, field="code", value=code) from None
    audit.record(actor, audit.entry_for("rules.item_add", item, scope_path=division.path, before=before,
                                        after=_rule_snapshot(item)))
    return item


@transaction.atomic
def rule_item_close(*, actor: Any, item_id: Any, valid_to: Any) -> RuleItem:
    """End a local row of the actor's own jurisdiction: ``valid_to`` is its first day no longer in force."""
    require(actor, "rules.change")
    try:
        item = RuleItem.objects.select_for_update().filter(pk=item_id, jurisdiction_id=actor.jurisdiction_id).first()
    except (TypeError, ValueError):
        item = None
    if item is None:
        raise BianzhiError(errors.RULE_NOT_FOUND, field="item", value=item_id)
    c = Collector()
    if item.valid_to is not None:
        c.add(errors.RULE_ALREADY_CLOSED, field="valid_to", value=item.valid_to)
    end = _date(valid_to, "valid_to", c)
    if end is not None and end <= item.valid_from:
        c.add(errors.VALID_TO_NOT_AFTER_FROM, field="valid_to", value=end)
    c.raise_if_any()
    before = _rule_snapshot(item)
    item.valid_to = end
    item.save(update_fields=["valid_to"])
    audit.record(actor, audit.entry_for("rules.item_close", item, scope_path=item.jurisdiction_path,
                                        before={"valid_to": before["valid_to"]}, after={"valid_to": end}))
    return item

