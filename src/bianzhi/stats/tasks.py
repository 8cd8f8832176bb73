"""Background evaluation of the alerts: after an import or an approval (the units concerned),
and nightly (every unit; the task schedules its next run for 02:00 when the backend can defer)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_tasks import default_task_backend, task


@task()
def evaluate_units(unit_ids: list[int]) -> dict[str, int]:
    from bianzhi.orgs.models import Unit

    from .alerts import evaluate

    return evaluate(units=Unit.objects.filter(pk__in=unit_ids))


@task()
def evaluate_nightly() -> dict[str, int]:
    from .alerts import evaluate

    result = evaluate()
    schedule_nightly()
    return result


def schedule_nightly(now: dt.datetime | None = None) -> Any:
    """Enqueue the next nightly run at 02:00 local time (only where the backend can defer)."""
    if not getattr(default_task_backend, "supports_defer", False):
        return None
    now = timezone.localtime(now)
    run = now.replace(hour=2, minute=0, second=0, microsecond=0)
    if run <= now:
        run += dt.timedelta(days=1)
    return evaluate_nightly.using(run_after=run).enqueue()


def after_commit(unit_ids: list[int]) -> None:
    """Re-evaluate the alerts of these units once the current transaction commits."""
    ids = sorted({int(u) for u in unit_ids if u})
    if ids:
        transaction.on_commit(lambda: evaluate_units.enqueue(ids))
