"""Scoped reads for 编外人员, and the batched look-ups the checks and imports need."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Sum

from bianzhi.accounts.permissions import require
from bianzhi.common.scoping import get_scoped_or_404, scoped

from .choices import AuthorisationStatus
from .models import Baseline, BaselineCount, CapChange, HireAuthorisation, RuleItem, Spell
from .rules import RuleRow, RuleSet, UnitContext, build_ruleset


def counting_on(qs: QuerySet[Spell], day: dt.date) -> QuerySet[Spell]:
    """Records that count on ``day``: hired on or before it, not yet left (INDICATORS.md)."""
    return qs.filter(hire_date__lte=day).filter(Q(leave_date__isnull=True) | Q(leave_date__gt=day))


def rule_rows() -> list[RuleRow]:
    return [
        RuleRow(table=r.table, code=r.code, name=r.name, parent_code=r.parent_code, policy=r.policy, value=r.value,
                sort=r.sort, jurisdiction_path=r.jurisdiction_path, valid_from=r.valid_from, valid_to=r.valid_to)
        for r in RuleItem.objects.all()
    ]


def ruleset_for(path: str, as_of: dt.date, rows: list[RuleRow] | None = None) -> RuleSet:
    """The rule tables in force for a jurisdiction path on a day (pass ``rows`` to reuse one read)."""
    return build_ruleset(rows if rows is not None else rule_rows(), path, as_of)


def current_baseline_for(path: str) -> Baseline | None:
    """The current baseline that covers a jurisdiction path: the deepest jurisdiction on the path that has one."""
    candidates = [b for b in Baseline.objects.filter(is_current=True) if path.startswith(b.jurisdiction_path)]
    return max(candidates, key=lambda b: len(b.jurisdiction_path), default=None)


def unit_contexts(units: Iterable[Any], day: dt.date) -> dict[int, UnitContext]:
    """Baselines, caps and current counts of many units with a fixed number of queries."""
    units = list(units)
    ids = [u.pk for u in units]
    baselines = list(Baseline.objects.filter(is_current=True))

    def baseline_of(path: str) -> Baseline | None:
        found = [b for b in baselines if path.startswith(b.jurisdiction_path)]
        return max(found, key=lambda b: len(b.jurisdiction_path), default=None)

    unit_baseline = {u.pk: baseline_of(u.jurisdiction_path) for u in units}
    cells: dict[int, list[tuple[str, str, int]]] = defaultdict(list)
    baseline_ids = {b.pk for b in unit_baseline.values() if b is not None}
    for c in BaselineCount.objects.filter(unit_id__in=ids, baseline_id__in=baseline_ids).values_list(
        "unit_id", "baseline_id", "situation", "post_class", "count"
    ):
        unit_id, baseline_id, situation, post_class, count = c
        b = unit_baseline.get(unit_id)
        if b is not None and b.pk == baseline_id:
            cells[unit_id].append((situation, post_class, count))
    caps: dict[int, dict[str, tuple[dt.date, int]]] = defaultdict(dict)
    for unit_id, post_class, cap, valid_from in CapChange.objects.filter(
        unit_id__in=ids, valid_from__lte=day
    ).values_list("unit_id", "post_class", "cap", "valid_from"):
        known = caps[unit_id].get(post_class)
        if known is None or valid_from >= known[0]:
            caps[unit_id][post_class] = (valid_from, cap)
    current: dict[int, dict[str, int]] = defaultdict(dict)
    for unit_id, post_class, n in counting_on(Spell.objects.filter(unit_id__in=ids), day).values_list(
        "unit_id", "post_class").annotate(n=Count("id")).values_list("unit_id", "post_class", "n"):
        current[unit_id][post_class] = n
    year_start = dt.date(day.year, 1, 1)
    at_start: dict[int, dict[str, int]] = defaultdict(dict)
    for unit_id, post_class, n in counting_on(Spell.objects.filter(unit_id__in=ids), year_start).values_list(
        "unit_id", "post_class").annotate(n=Count("id")).values_list("unit_id", "post_class", "n"):
        at_start[unit_id][post_class] = n
    reserved: dict[int, dict[str, int]] = defaultdict(dict)
    for unit_id, post_class, n in reserved_places(ids, day):
        reserved[unit_id][post_class] = n
    out: dict[int, UnitContext] = {}
    for u in units:
        has = unit_baseline[u.pk] is not None
        by_class: dict[str, int] = defaultdict(int)
        situations, classes = set(), set()
        for situation, post_class, count in cells[u.pk]:
            by_class[post_class] += count
            if count > 0:
                situations.add(situation)
                classes.add(post_class)
        total = sum(by_class.values())
        class_caps = dict(by_class)
        total_cap: int | None = total if has else None
        for post_class, (_, cap) in caps[u.pk].items():
            if post_class:
                class_caps[post_class] = cap
            else:
                total_cap = cap
        out[u.pk] = UnitContext(
            has_baseline=has, baseline_situations=situations, baseline_classes=classes, total_cap=total_cap,
            class_caps=class_caps, current_total=sum(current[u.pk].values()),
            current_by_class=dict(current[u.pk]), class_at_year_start=dict(at_start[u.pk]),
            reserved_total=sum(reserved[u.pk].values()), reserved_by_class=dict(reserved[u.pk]),
        )
    return out


def baseline_cells(units: Any) -> list[tuple[int, str, int]]:
    """(unit, post class, count) of each unit's baseline — the deepest current baseline on its
    path — for a queryset of units, with two queries."""
    baselines = dict(Baseline.objects.filter(is_current=True).values_list("pk", "jurisdiction_path"))
    if not baselines:
        return []
    rows = (BaselineCount.objects.filter(unit__in=units, baseline_id__in=list(baselines))
            .values("unit_id", "unit__jurisdiction_path", "baseline_id", "post_class").annotate(n=Sum("count"))
            .values_list("unit_id", "unit__jurisdiction_path", "baseline_id", "post_class", "n"))
    chosen: dict[int, tuple[int, int]] = {}  # unit → (baseline, depth of its jurisdiction path)
    cells = []
    for unit_id, path, baseline_id, post_class, n in rows:
        cells.append((unit_id, baseline_id, post_class, n))
        depth = len(baselines[baseline_id]) if path.startswith(baselines[baseline_id]) else -1
        if depth >= 0 and (unit_id not in chosen or depth > chosen[unit_id][1]):
            chosen[unit_id] = (baseline_id, depth)
    return [(u, pc, n) for u, b, pc, n in cells if u in chosen and chosen[u][0] == b]


def reserved_places(unit_ids: list[int], day: dt.date) -> list[tuple[int, str, int]]:
    """(unit, post class, places) approved and not yet used: hire authorisations in force on ``day``."""
    rows = (HireAuthorisation.objects.filter(unit_id__in=unit_ids, status=AuthorisationStatus.APPROVED,
                                             valid_from__lte=day, used__lt=F("quantity"))
            .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=day))
            .values_list("unit_id", "post_class").annotate(n=Sum(F("quantity") - F("used")))
            .values_list("unit_id", "post_class", "n"))
    return [(u, p, int(n)) for u, p, n in rows]


def spells_in_scope(
    *, actor: Any, unit: Any = None, situation: str = "", post_class: str = "", work_type: str = "",
    funding_source: str = "", key_post: str = "", as_of: dt.date | None = None, q: str = "",
) -> QuerySet[Spell]:
    require(actor, "roster.view")
    qs = scoped(Spell.objects.select_related("person", "unit"), actor)
    if unit:
        qs = qs.filter(unit_id=unit)
    if situation:
        qs = qs.filter(situation=situation)
    if post_class:
        qs = qs.filter(post_class=post_class)
    if work_type:
        qs = qs.filter(work_type=work_type)
    if funding_source:
        qs = qs.filter(funding_source=funding_source)
    if key_post == "any":
        qs = qs.exclude(key_post="")
    elif key_post:
        qs = qs.filter(key_post=key_post)
    if as_of is not None:
        qs = counting_on(qs, as_of)
    if q:
        qs = qs.filter(Q(person__name__contains=q) | Q(post_name__contains=q))
    return qs


def get_spell(*, actor: Any, pk: Any) -> Spell:
    require(actor, "roster.view")
    return get_scoped_or_404(Spell.objects.select_related("person", "unit"), actor, pk=pk)


def baselines_in_scope(*, actor: Any) -> QuerySet[Baseline]:
    """Baselines of my jurisdiction and below, and those of the jurisdictions above me, which
    cover my units (their counts are read through the scoped BaselineCount rows)."""
    from bianzhi.common.scoping import scope_of

    require(actor, "baseline.view")
    path = scope_of(actor).path
    parts = [p for p in path.split("/") if p]
    ancestors = ["/".join(parts[:i]) + "/" for i in range(1, len(parts))]
    return Baseline.objects.select_related("jurisdiction", "taken_by").filter(
        Q(jurisdiction_path__startswith=path) | Q(jurisdiction_path__in=ancestors)
    )

def get_baseline(*, actor: Any, pk: Any) -> Baseline:
    try:
        return baselines_in_scope(actor=actor).get(pk=pk)
    except (Baseline.DoesNotExist, ValueError, TypeError) as exc:
        from django.http import Http404

        raise Http404 from exc
