"""Dynamic supervision (S12): the alert rules (data/alerts.yaml) evaluated over the units of a
scope. Each finding has a stable key; an evaluation raises an alert for a new finding, keeps the
open one up to date, and resolves (with an automatic note) the alerts whose finding is gone.
Users acknowledge and resolve with a note; a finding that still holds after a user resolved it
is raised again at the next evaluation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from bianzhi.accounts.permissions import require
from bianzhi.common import audit
from bianzhi.common.errors import BianzhiError
from bianzhi.common.scoping import scoped
from bianzhi.funds import selectors as fund_selectors
from bianzhi.funds.models import UnitFunding
from bianzhi.orgs.models import Unit
from bianzhi.staffing.models import Spell

from . import errors
from .choices import AlertStatus
from .compute import Query, compute, counting_q
from .models import Alert, AlertEvent

RULES_FILE = Path(__file__).resolve().parent / "data" / "alerts.yaml"


def alert_rules() -> dict[str, dict[str, Any]]:
    with open(RULES_FILE, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    return {r["code"]: r for r in data["rules"] if r.get("enabled", True)}


def rule_names() -> dict[str, str]:
    with open(RULES_FILE, encoding="utf-8") as fh:
        return {r["code"]: r["name"] for r in yaml.safe_load(fh)["rules"]}


#: The kinds :func:`find` evaluates. Alerts of other kinds (``member_cap``, raised by the bodies
#: import) are never resolved by an evaluation.
EVALUATED_KINDS = ("over_cap", "key_post", "class_breach", "budget_over_cap", "double_dipping",
                   "contract_expired", "roster_stale")


@dataclass
class Finding:
    kind: str
    key: str
    unit_id: int
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    records: list[int] = field(default_factory=list)


def find(units: QuerySet[Unit], today: dt.date) -> list[Finding]:
    """Every finding of the enabled rules among ``units`` on ``today``."""
    rules = alert_rules()
    paths = dict(units.values_list("pk", "jurisdiction_path"))
    if not paths:
        return []
    out: list[Finding] = []
    year_start = dt.date(today.year, 1, 1)
    _values, figures = compute(Query(units=units, path=_common_path(paths.values()), as_of=today, start=year_start,
                                    end=today, year=today.year))
    counting = Spell.objects.filter(unit__in=units).filter(counting_q(today))
    if "over_cap" in rules:
        for unit_id in figures.over_cap:
            out.append(Finding("over_cap", f"over_cap:{unit_id}", unit_id, paths[unit_id],
                               {"count": figures.now.get(unit_id, 0), "cap": figures.total_cap[unit_id]}))
    if "key_post" in rules:
        for pk, unit_id, key_post in counting.exclude(key_post="").values_list("pk", "unit_id", "key_post"):
            out.append(Finding("key_post", f"key_post:{pk}", unit_id, paths[unit_id], {"key_post": key_post}, [pk]))
    if "class_breach" in rules:
        for unit_id, classes in figures.class_breach.items():
            for post_class in classes:
                out.append(Finding("class_breach", f"class_breach:{unit_id}:{post_class}:{today.year}", unit_id,
                                   paths[unit_id], {"post_class": post_class, "year": today.year}))
    if "budget_over_cap" in rules:
        budgets = list(UnitFunding.objects.filter(unit__in=units, year=today.year, budget__isnull=False)
                       .select_related("unit"))
        caps = fund_selectors.caps_for([b.unit for b in budgets], today.year)
        for b in budgets:
            cap = caps.get(b.unit_id)
            if cap is not None and b.budget is not None and b.budget > cap:
                out.append(Finding("budget_over_cap", f"budget_over_cap:{b.unit_id}:{today.year}", b.unit_id,
                                   paths[b.unit_id], {"budget": f"{b.budget:.2f}", "cap": f"{cap:.2f}",
                                                      "year": today.year}))
    if "double_dipping" in rules:
        for unit_id in figures.double_dipping:
            out.append(Finding("double_dipping", f"double_dipping:{unit_id}:{today.year}", unit_id, paths[unit_id],
                               {"from": year_start.isoformat(), "to": today.isoformat()}))
    if "contract_expired" in rules:
        limit = today - dt.timedelta(days=int(rules["contract_expired"].get("grace_days", 0)))
        expired: dict[int, list[int]] = {}
        for pk, unit_id in counting.filter(contract_end__lt=limit).values_list("pk", "unit_id"):
            expired.setdefault(unit_id, []).append(pk)
        for unit_id, pks in expired.items():
            out.append(Finding("contract_expired", f"contract_expired:{unit_id}", unit_id, paths[unit_id],
                               {"records": len(pks)}, sorted(pks)))
    if "roster_stale" in rules:
        days = int(rules["roster_stale"].get("days", 365))
        last = (Spell.objects.filter(unit__in=units).values("unit_id")
                .annotate(hired=Max("hire_date"), left=Max("leave_date")))
        active = set(counting.values_list("unit_id", flat=True).distinct())
        for row in last:
            newest = max(d for d in (row["hired"], row["left"]) if d is not None)
            if row["unit_id"] in active and (today - newest).days >= days:
                out.append(Finding("roster_stale", f"roster_stale:{row['unit_id']}", row["unit_id"],
                                   paths[row["unit_id"]], {"last_change": newest.isoformat(),
                                                          "days": (today - newest).days}))
    return out


def _common_path(paths: Any) -> str:
    paths = list(paths)
    common = paths[0]
    for p in paths[1:]:
        while not p.startswith(common):
            common = common[: common.rstrip("/").rfind("/") + 1]
    return common


@transaction.atomic
def evaluate(*, units: QuerySet[Unit] | None = None, today: dt.date | None = None,
             actor: Any = None) -> dict[str, int]:
    """Re-evaluate the rules over ``units`` (default: every unit): raise, refresh, resolve."""
    today = today or timezone.localdate()
    units = units if units is not None else Unit.objects.all()
    # Lock the units first, in one order, as the approvals do (unit, then the audit chain): two
    # evaluations of a unit never interleave, and an evaluation never deadlocks with a decision.
    unit_ids = set(Unit.objects.select_for_update().filter(pk__in=units.values("pk")).order_by("pk")
                   .values_list("pk", flat=True))
    findings = {f.key: f for f in find(units, today)}
    current = {a.key: a for a in Alert.objects.select_for_update().filter(unit_id__in=unit_ids)
               .filter(kind__in=EVALUATED_KINDS).exclude(status=AlertStatus.RESOLVED)}
    raised = refreshed = resolved = 0
    entries: list[audit.Entry] = []
    for key, f in findings.items():
        alert = current.get(key)
        if alert is None:
            alert = Alert.objects.create(kind=f.kind, key=key, unit_id=f.unit_id, jurisdiction_path=f.path,
                                         params=f.params, records=f.records, raised_on=today)
            AlertEvent.objects.create(alert=alert, action="raised", actor=actor)
            entries.append(audit.entry_for("alert.raise", alert, scope_path=f.path,
                                           after={"kind": f.kind, "key": key, **f.params}))
            raised += 1
        elif alert.params != f.params or alert.records != f.records:
            alert.params, alert.records = f.params, f.records
            alert.save(update_fields=["params", "records", "updated_at"])
            refreshed += 1
    for key, alert in current.items():
        if key not in findings:
            alert.status, alert.resolved_on = AlertStatus.RESOLVED, today
            alert.note = _("The finding no longer holds (checked automatically).")
            alert.save(update_fields=["status", "resolved_on", "note", "updated_at"])
            AlertEvent.objects.create(alert=alert, action="cleared", actor=actor, note=alert.note)
            entries.append(audit.entry_for("alert.clear", alert, scope_path=alert.jurisdiction_path,
                                           after={"kind": alert.kind, "key": key}))
            resolved += 1
    if entries:
        audit.record_many(actor, entries)
    return {"raised": raised, "refreshed": refreshed, "resolved": resolved, "open": len(findings)}


def alerts_in_scope(*, actor: Any, kind: str = "", status: str = "", unit: Any = None) -> QuerySet[Alert]:
    require(actor, "alert.view")
    qs = scoped(Alert.objects.select_related("unit"), actor)
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    if unit:
        qs = qs.filter(unit_id=unit)
    return qs


def open_count(actor: Any) -> int:
    from bianzhi.accounts.permissions import can

    if not can(actor, "alert.view"):
        return 0
    return scoped(Alert.objects.filter(~Q(status=AlertStatus.RESOLVED)), actor).count()


@transaction.atomic
def alert_handle(*, actor: Any, alert_id: Any, action: str, note: str = "") -> Alert:
    """Acknowledge an open alert, or resolve it with a note."""
    require(actor, "alert.handle")
    try:
        alert = scoped(Alert.objects.select_for_update(), actor).filter(pk=alert_id).first()
    except (TypeError, ValueError):
        alert = None
    if alert is None:
        raise BianzhiError(errors.ALERT_NOT_FOUND, field="alert", value=alert_id)
    if alert.status == AlertStatus.RESOLVED:
        raise BianzhiError(errors.ALERT_RESOLVED, field="alert", value=alert_id)
    note = str(note or "").strip()
    before = {"status": alert.status}
    if action == "acknowledge":
        alert.status = AlertStatus.ACKNOWLEDGED
    elif action == "resolve":
        if not note:
            raise BianzhiError(errors.NOTE_REQUIRED, field="note")
        alert.status, alert.resolved_on, alert.note = AlertStatus.RESOLVED, timezone.localdate(), note[:2000]
    else:
        from bianzhi.common.errors import INVALID_CHOICE

        raise BianzhiError(INVALID_CHOICE, field="action", value=action, params={"allowed": "acknowledge / resolve"})
    alert.save()
    AlertEvent.objects.create(alert=alert, action=action, actor=actor, note=note[:2000])
    audit.record(actor, audit.entry_for(f"alert.{action}", alert, scope_path=alert.jurisdiction_path, before=before,
                                        after={"status": alert.status, "note": note[:2000]}))
    return alert
