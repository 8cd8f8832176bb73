"""Gap-free counters: :func:`next_value` inside the caller's transaction."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F

from .models import Sequence


def next_value(key: str) -> int:
    """The next value of ``key`` (1 for a new key). Must run inside a transaction: the row
    stays locked until it commits, and a rollback returns the value."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("next_value() must run inside a transaction")
    if not Sequence.objects.filter(key=key).exists():
        try:
            with transaction.atomic():
                Sequence.objects.create(key=key, value=0)
        except IntegrityError:
            pass  # created by a concurrent transaction meanwhile
    Sequence.objects.filter(key=key).update(value=F("value") + 1)
    return Sequence.objects.get(key=key).value
