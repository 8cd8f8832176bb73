"""The only writers of the approvals engine: submit, act (approve / return / reject),
withdraw, revise and resubmit; process definitions and the working calendar.

Every service runs in one transaction with its audit row. The final approval runs the
kind's ``effect`` (creating an authorisation, changing a cap, later a registry change or a
document) in the same transaction, so a refused effect leaves the case exactly as it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from bianzhi.accounts.choices import Role
from bianzhi.accounts.models import User
from bianzhi.accounts.permissions import require
from bianzhi.common import audit
from bianzhi.common.errors import BianzhiError, Collector
from bianzhi.common.scoping import path_in_scope, scoped
from bianzhi.common.sequences import next_value
from bianzhi.common.uploads import write_atomic
from bianzhi.divisions.errors import DIVISION_NOT_FOUND
from bianzhi.divisions.models import Division

from . import errors, rules
from .choices import RETURN_TO_APPLICANT, Action, CaseStatus, EventKind, NotificationKind, StepStatus
from .kinds import CaseKind, kind_for
from .models import Attachment, CalendarDay, Case, CaseEvent, Notification, ProcessDefinition, Step

DATA_DIR = Path(__file__).resolve().parent / "data"
OPINION_MAX = 2000
ATTACHMENT_MAX_MB = 20
ATTACHMENT_SUFFIXES = {".pdf", ".ofd", ".doc", ".docx", ".wps", ".xls", ".xlsx", ".et", ".jpg", ".jpeg", ".png"}


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes
    content_type: str = ""


# --------------------------------------------------------------------------- definitions


def _definition_from(row: dict[str, Any]) -> dict[str, Any]:
    return {"stages": row["stages"]}


@transaction.atomic
def processes_load(*, actor: Any = None, path: Path = DATA_DIR / "processes.yaml",
                   calendar: Path = DATA_DIR / "calendar.yaml") -> dict[str, int]:
    """Load the province default processes (a new version only when a definition changed)
    and the working calendar. Idempotent."""
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    created = 0
    for row in data["processes"]:
        definition = _definition_from(row)
        problems = rules.check_definition(definition, Role.values)
        if problems:
            raise BianzhiError(errors.PROCESS_INVALID, field=row.get("code"), params={"reason": "; ".join(problems)})
        current = ProcessDefinition.objects.filter(code=row["code"], jurisdiction__isnull=True,
                                                   is_current=True).first()
        if current is not None and current.definition == definition and current.name == row["name"]:
            continue
        _new_version(actor, code=row["code"], name=row["name"], jurisdiction=None, definition=definition,
                     source_document=data.get("source_document", ""), previous=current)
        created += 1
    days = _calendar_load(actor, calendar)
    return {"created": created, "calendar_days": days}


def _calendar_load(actor: Any, path: Path) -> int:
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    source = data.get("source_document", "")
    wanted: dict[dt.date, tuple[bool, str]] = {}
    for h in data.get("holidays", []):
        day, end = dt.date.fromisoformat(str(h["from"])), dt.date.fromisoformat(str(h["to"]))
        while day <= end:
            wanted[day] = (False, h["name"])
            day += dt.timedelta(days=1)
    for w in data.get("workdays", []):
        wanted[dt.date.fromisoformat(str(w["day"]))] = (True, w["name"])
    existing = {c.day: c for c in CalendarDay.objects.filter(day__in=list(wanted))}
    changed = 0
    for day, (workday, name) in sorted(wanted.items()):
        row = existing.get(day)
        if row is None:
            CalendarDay.objects.create(day=day, is_workday=workday, name=name, source_document=source)
            changed += 1
        elif (row.is_workday, row.name) != (workday, name):
            row.is_workday, row.name, row.source_document = workday, name, source
            row.save()
            changed += 1
    if changed:
        audit.record(actor, audit.Entry(action="calendar.load", scope_path="", object_type="workflow.calendarday",
                                        object_repr=path.name, after={"days": changed, "source": source}))
    return changed


def _new_version(actor: Any, *, code: str, name: str, jurisdiction: Division | None, definition: dict[str, Any],
                 source_document: str, previous: ProcessDefinition | None) -> ProcessDefinition:
    path = jurisdiction.path if jurisdiction is not None else ""
    highest = ProcessDefinition.objects.filter(code=code, jurisdiction_path=path).aggregate(v=Max("version"))["v"]
    if previous is not None:
        previous.is_current = False
        previous.save(update_fields=["is_current"])
    process = ProcessDefinition.objects.create(
        code=code, name=name, jurisdiction=jurisdiction, jurisdiction_path=path, version=(highest or 0) + 1,
        definition=definition, is_current=True, source_document=source_document,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    audit.record(actor, audit.entry_for(
        "process.define", process, scope_path=path,
        before={"version": previous.version, "definition": previous.definition} if previous else None,
        after={"code": code, "version": process.version, "jurisdiction": jurisdiction.code if jurisdiction else "",
               "definition": definition, "source_document": source_document},
    ))
    return process


@transaction.atomic
def process_define(*, actor: Any, code: str, jurisdiction: str, definition: Any, name: str = "",
                   source_document: str = "") -> ProcessDefinition:
    """A jurisdiction's own version of a process (e.g. a district adds a step). ``definition``
    is a mapping or its YAML text. Running cases keep the version they started with."""
    require(actor, "process.change")
    c = Collector()
    division = Division.objects.filter(code=str(jurisdiction).strip()).first()
    if division is None or not path_in_scope(division.path, actor):
        raise BianzhiError(DIVISION_NOT_FOUND, field="jurisdiction", value=jurisdiction)
    if kind_for(code) is None:
        raise BianzhiError(errors.PROCESS_NOT_FOUND, field="code", value=code, params={"kind": code})
    if isinstance(definition, str):
        try:
            definition = yaml.safe_load(definition)
        except yaml.YAMLError as exc:
            raise BianzhiError(errors.PROCESS_INVALID, field="definition",
                               params={"reason": str(exc).splitlines()[0]}) from None
    if isinstance(definition, dict) and "stages" in definition:
        definition = {"stages": definition["stages"]}
    problems = rules.check_definition(definition, Role.values)
    if problems:
        c.add(errors.PROCESS_INVALID, field="definition", reason="; ".join(problems))
    if not str(source_document).strip():
        c.add(errors.PROCESS_INVALID, field="source_document", reason="source_document")
    c.raise_if_any()
    previous = (ProcessDefinition.objects.select_for_update()
                .filter(code=code, jurisdiction=division, is_current=True).first())
    inherited = process_for(code, division.path)
    return _new_version(actor, code=code, name=str(name).strip() or (inherited.name if inherited else code),
                        jurisdiction=division, definition=definition,
                        source_document=str(source_document).strip(), previous=previous)


def process_for(code: str, path: str) -> ProcessDefinition | None:
    """The current version that applies on a jurisdiction path: the deepest jurisdiction on
    the path that defines the process, else the province default."""
    candidates = [p for p in ProcessDefinition.objects.filter(code=code, is_current=True)
                  if path.startswith(p.jurisdiction_path)]
    return max(candidates, key=lambda p: len(p.jurisdiction_path), default=None)


def calendar_overrides(start: dt.date) -> dict[dt.date, bool]:
    return dict(CalendarDay.objects.filter(day__gte=start, day__lte=start + dt.timedelta(days=400))
                .values_list("day", "is_workday"))


# --------------------------------------------------------------------------- helpers


def _next_event(case: Case, kind: str, *, actor: Any, step: Step | None = None, opinion: str = "",
                params: dict[str, Any] | None = None, now: dt.datetime) -> CaseEvent:
    seq = (CaseEvent.objects.filter(case=case).aggregate(m=Max("seq"))["m"] or 0) + 1
    return CaseEvent.objects.create(case=case, seq=seq, kind=kind, step=step, actor=actor, opinion=opinion,
                                    params=audit.jsonable(params or {}), at=now)


def _check_uploads(uploads: list[Upload], c: Collector) -> None:
    for up in uploads:
        if Path(up.filename).suffix.lower() not in ATTACHMENT_SUFFIXES:
            c.add(errors.ATTACHMENT_TYPE, field="attachments", value=up.filename)
        elif len(up.data) > ATTACHMENT_MAX_MB * 1024 * 1024:
            c.add(errors.ATTACHMENT_TOO_LARGE, field="attachments", value=up.filename, max=ATTACHMENT_MAX_MB)


def attachment_path(sha256: str) -> Path:
    return Path(settings.DATA_DIR) / "attachments" / sha256[:2] / f"{sha256}.bin"


def _store_uploads(case: Case, event: CaseEvent, uploads: list[Upload]) -> list[str]:
    names = []
    for up in uploads:
        digest = hashlib.sha256(up.data).hexdigest()
        path = attachment_path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_atomic(path, up.data)
        name = Path(up.filename).name[:200]
        Attachment.objects.create(case=case, event=event, filename=name, sha256=digest, size=len(up.data),
                                  content_type=up.content_type[:100])
        names.append(name)
    return names


def eligible_users(case: Case, role: str) -> list[User]:
    return list(User.objects.filter(role=role, jurisdiction_id=case.jurisdiction_id, is_active=True)
                .exclude(pk=case.applicant_id))


def _notify(users: list[Any], case: Case, kind: str, step_name: str, now: dt.datetime) -> None:
    Notification.objects.bulk_create([
        Notification(recipient=u, case=case, kind=kind, step_name=step_name, created_at=now) for u in users
    ])


def _activate(case: Case, stage_index: int, now: dt.datetime, only: str | None = None) -> list[Step]:
    today = timezone.localdate(now)
    overrides = calendar_overrides(today)
    created = []
    for spec in rules.stage_steps(case.process.definition, stage_index):
        if only is not None and spec["code"] != only:
            continue
        step = Step.objects.create(
            case=case, round=case.round, stage_index=stage_index, code=spec["code"], name=spec["name"],
            role=spec["role"], department=spec["department"], activated_at=now,
            due_on=rules.add_working_days(today, int(spec["days"]), overrides),
        )
        _notify(eligible_users(case, step.role), case, NotificationKind.ASSIGNED, step.name, now)
        created.append(step)
    return created


def _cancel_active(case: Case) -> list[Step]:
    active = list(case.steps.filter(status=StepStatus.ACTIVE))
    Step.objects.filter(pk__in=[s.pk for s in active]).update(status=StepStatus.CANCELLED)
    return active


def _snapshot(case: Case) -> dict[str, Any]:
    return {"number": case.number, "status": case.status, "round": case.round, "stage": case.stage_index,
            "result": case.result_ref}


def _locked_case(actor: Any, case_id: Any) -> Case:
    try:
        case = (scoped(Case.objects.select_for_update(of=("self",)), actor).select_related("process")
                .filter(pk=case_id).first())
    except (TypeError, ValueError):
        case = None
    if case is None:
        raise BianzhiError(errors.CASE_NOT_FOUND, field="case", value=case_id)
    return case


def _handler(case_kind: str) -> CaseKind:
    handler = kind_for(case_kind)
    if handler is None:
        raise BianzhiError(errors.KIND_UNKNOWN, field="kind", value=case_kind)
    return handler


def _opinion(value: Any) -> str:
    return str(value or "").strip()


# --------------------------------------------------------------------------- the life of a case


@transaction.atomic
def case_submit(*, actor: Any, kind: str, data: dict[str, Any], uploads: list[Upload] | None = None,
                today: dt.date | None = None) -> Case:
    """Submit an application: validated by its kind, numbered, first stage opened."""
    handler = _handler(kind)
    require(actor, handler.permission)
    today = today or timezone.localdate()
    uploads = list(uploads or [])
    c = Collector()
    _check_uploads(uploads, c)
    try:
        subject, payload, title = handler.clean(actor=actor, data=data, today=today)
    except BianzhiError as exc:
        c.extend(exc.errors)
        subject = None
    c.raise_if_any()
    # The subject of an application is a unit, or a whole jurisdiction (a district's funding plan).
    if isinstance(subject, Division):
        division, unit = subject, None
    else:
        division, unit = Division.objects.get(pk=subject.jurisdiction_id), subject
    process = process_for(getattr(handler, "process", kind), division.path)
    if process is None:
        raise BianzhiError(errors.PROCESS_NOT_FOUND, field="kind", value=kind, params={"kind": handler.label()})
    now = timezone.now()
    number = f"SP-{division.code}-{today.year}-{next_value(f'case:{division.code}:{today.year}'):05d}"
    case = Case.objects.create(
        number=number, process=process, kind=kind, title=title, unit=unit, jurisdiction=division,
        jurisdiction_path=division.path, applicant=actor, payload=payload, submitted_at=now,
    )
    event = _next_event(case, EventKind.SUBMIT, actor=actor, params={"process_version": process.version},
                        now=now)
    names = _store_uploads(case, event, uploads)
    steps = _activate(case, 0, now)
    audit.record(actor, audit.entry_for("case.submit", case, scope_path=case.jurisdiction_path, after={
        **_snapshot(case), "kind": kind, "process": f"{process.code} v{process.version}", "payload": payload,
        "attachments": names, "steps": [s.code for s in steps]}))
    return case


@transaction.atomic
def case_act(*, actor: Any, case_id: Any, step: str, action: str, opinion: str = "", return_to: str = "",
             uploads: list[Upload] | None = None, today: dt.date | None = None,
             extras: dict[str, Any] | None = None) -> Case:
    """Decide one step: approve, return for revision (to the applicant or an earlier step) or
    reject. The last approval makes the decision take effect in this transaction."""
    case = _locked_case(actor, case_id)
    today = today or timezone.localdate()
    uploads = list(uploads or [])
    if not case.is_open:
        raise BianzhiError(errors.CASE_CLOSED, field="case", value=case.number,
                           params={"status": CaseStatus(case.status).label})
    definition = case.process.definition
    found = rules.find_step(definition, str(step))
    row = case.steps.filter(code=str(step), status=StepStatus.ACTIVE).first()
    if found is None or row is None:
        decided = (found is not None and case.status == CaseStatus.IN_REVIEW and case.steps.filter(
            code=str(step), round=case.round).exclude(status=StepStatus.CANCELLED).exists())
        raise BianzhiError(errors.STEP_ALREADY_DECIDED if decided else errors.STEP_NOT_ACTIVE,
                           field="step", value=step)
    stage_index, spec = found
    c = Collector()
    acted = case.steps.filter(actor=actor).values_list("department", flat=True)
    for code, params in rules.who_may_act(
        rules.ActorFacts(actor.pk, actor.role, actor.jurisdiction_id), rules.StepFacts(row.role, row.department),
        case_jurisdiction_id=case.jurisdiction_id, applicant_id=case.applicant_id, departments_acted=acted,
    ):
        if code == errors.STEP_NOT_YOURS:
            params = {"role": Role(row.role).label, "department": row.department}
        c.add(code, field="step", value=step, **params)
    if action not in spec["actions"]:
        c.add(errors.ACTION_NOT_ALLOWED, field="action", value=action,
              allowed=" / ".join(str(Action(a).label) for a in spec["actions"]))
    opinion = _opinion(opinion)
    if not opinion and action in Action.values and rules.opinion_needed(spec, action):
        c.add(errors.OPINION_REQUIRED, field="opinion")
    if len(opinion) > OPINION_MAX:
        c.add(errors.OPINION_TOO_LONG, field="opinion", max=OPINION_MAX)
    target = str(return_to or RETURN_TO_APPLICANT) if action == Action.RETURN else ""
    if action == Action.RETURN and target not in rules.return_targets(spec):
        c.add(errors.RETURN_TARGET_INVALID, field="return_to", value=return_to,
              allowed=" / ".join(_target_label(definition, t) for t in rules.return_targets(spec)))
    _check_uploads(uploads, c)
    # What a kind of application asks of a decision beyond the opinion (e.g. why a similar body
    # does not bar a set-up): its own violations, recorded with the decision when satisfied.
    extras = {k: str(v).strip() for k, v in (extras or {}).items() if str(v or "").strip()}
    hook = getattr(kind_for(case.kind), "decision_errors", None)
    if hook is not None and action in Action.values:
        for code, field, params in hook(case=case, step=str(step), action=action, extras=extras):
            c.add(code, field=field, **params)
    c.raise_if_any()

    now = timezone.now()
    before = _snapshot(case)
    row.actor, row.acted_at, row.opinion = actor, now, opinion
    row.status = {Action.APPROVE: StepStatus.APPROVED, Action.RETURN: StepStatus.RETURNED,
                  Action.REJECT: StepStatus.REJECTED}[Action(action)]
    row.return_to = target
    row.save()
    details: dict[str, Any] = {"step": row.code, **({"extras": extras} if extras else {})}
    if target:
        details |= {"return_to": target, "return_to_name": _target_label(definition, target)}
    event = _next_event(case, action, actor=actor, step=row, opinion=opinion, params=details, now=now)
    names = _store_uploads(case, event, uploads)
    extra: dict[str, Any] = {}
    if action == Action.APPROVE:
        latest = _latest_statuses(case, stage_index)
        if rules.stage_done(definition, stage_index, latest):
            if stage_index + 1 < len(definition["stages"]):
                case.stage_index = stage_index + 1
                extra["opened"] = [s.code for s in _activate(case, case.stage_index, now)]
            else:
                handler = _handler(case.kind)
                case.result_ref = handler.effect(case=case, actor=actor, today=today)[:100]
                case.approve()
                if case.unit_id:
                    from bianzhi.stats.tasks import after_commit

                    after_commit([case.unit_id])
                case.decided_at = now
                _next_event(case, EventKind.DECIDE, actor=actor, params={"result": case.result_ref}, now=now)
                _notify([case.applicant], case, NotificationKind.DECIDED, row.name, now)
    elif action == Action.RETURN:
        _cancel_active(case)
        if target == RETURN_TO_APPLICANT:
            case.return_to_applicant()
            _notify([case.applicant], case, NotificationKind.RETURNED, row.name, now)
        else:
            target_stage, _spec = rules.find_step(definition, target) or (0, {})
            case.stage_index = target_stage
            extra["opened"] = [s.code for s in _activate(case, target_stage, now, only=target)]
    else:
        _cancel_active(case)
        case.reject()
        case.decided_at = now
        _notify([case.applicant], case, NotificationKind.DECIDED, row.name, now)
    case.save()
    audit.record(actor, audit.entry_for(f"case.{action}", case, scope_path=case.jurisdiction_path, before=before,
                                        after={**_snapshot(case), "step": row.code, "opinion": opinion,
                                               "return_to": target, "attachments": names, **extra}))
    return case


def _target_label(definition: dict[str, Any], code: str) -> str:
    if code == RETURN_TO_APPLICANT:
        from django.utils.translation import gettext

        return gettext("the applicant")
    found = rules.find_step(definition, code)
    return found[1]["name"] if found else code


def _latest_statuses(case: Case, stage_index: int) -> dict[str, str]:
    latest: dict[str, str] = {}
    for code, status in (case.steps.filter(round=case.round, stage_index=stage_index)
                         .exclude(status=StepStatus.CANCELLED).order_by("id").values_list("code", "status")):
        latest[code] = status
    return latest


@transaction.atomic
def case_withdraw(*, actor: Any, case_id: Any, reason: str = "") -> Case:
    """The applicant withdraws its case before the decision."""
    case = _locked_case(actor, case_id)
    if case.applicant_id != actor.pk:
        raise BianzhiError(errors.NOT_APPLICANT, field="case", value=case.number)
    if not case.is_open:
        raise BianzhiError(errors.CASE_CLOSED, field="case", value=case.number,
                           params={"status": CaseStatus(case.status).label})
    now = timezone.now()
    before = _snapshot(case)
    cancelled = _cancel_active(case)
    case.withdraw()
    case.decided_at = now
    case.save()
    reason = _opinion(reason)[:OPINION_MAX]
    _next_event(case, EventKind.WITHDRAW, actor=actor, opinion=reason, now=now)
    # Everyone who had the case in hand hears of it: the open steps' assignees and those who acted.
    told: dict[int, Any] = {u.pk: u for step in cancelled for u in eligible_users(case, step.role)}
    told |= {u.pk: u for u in User.objects.filter(pk__in=case.steps.values("actor"))}
    _notify(list(told.values()), case, NotificationKind.WITHDRAWN, "", now)
    audit.record(actor, audit.entry_for("case.withdraw", case, scope_path=case.jurisdiction_path, before=before,
                                        after={**_snapshot(case), "reason": reason}))
    return case


@transaction.atomic
def case_resubmit(*, actor: Any, case_id: Any, data: dict[str, Any], note: str = "",
                  uploads: list[Upload] | None = None, today: dt.date | None = None) -> Case:
    """The applicant revises a returned case and sends it back to the first stage."""
    case = _locked_case(actor, case_id)
    if case.applicant_id != actor.pk:
        raise BianzhiError(errors.NOT_APPLICANT, field="case", value=case.number)
    if case.status != CaseStatus.RETURNED:
        raise BianzhiError(errors.CASE_NOT_RETURNED, field="case", value=case.number)
    today = today or timezone.localdate()
    uploads = list(uploads or [])
    handler = _handler(case.kind)
    require(actor, handler.permission)
    c = Collector()
    _check_uploads(uploads, c)
    merged = {**case.payload, **data}
    if case.unit_id:
        merged["unit"] = case.unit_id
    try:
        _unit, payload, title = handler.clean(actor=actor, data=merged, today=today, case=case)
    except BianzhiError as exc:
        c.extend(exc.errors)
    c.raise_if_any()
    now = timezone.now()
    before = _snapshot(case) | {"payload": case.payload}
    changes = {k: payload[k] for k in payload if case.payload.get(k) != payload[k]}
    case.payload, case.title = payload, title
    case.resubmit()
    case.save()
    event = _next_event(case, EventKind.RESUBMIT, actor=actor, opinion=_opinion(note)[:OPINION_MAX],
                        params={"changes": changes}, now=now)
    names = _store_uploads(case, event, uploads)
    _activate(case, 0, now)
    audit.record(actor, audit.entry_for("case.resubmit", case, scope_path=case.jurisdiction_path, before=before,
                                        after={**_snapshot(case), "changes": changes, "attachments": names}))
    return case


@transaction.atomic
def notifications_read(*, actor: Any, ids: list[int] | None = None, case_id: int | None = None) -> int:
    """Mark my notifications read: all, the given ones, or those of a case I opened."""
    qs = Notification.objects.filter(recipient=actor, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    if case_id is not None:
        qs = qs.filter(case_id=case_id)
    return qs.update(read_at=timezone.now())
