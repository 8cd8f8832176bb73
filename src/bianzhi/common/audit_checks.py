"""System checks of the audit settings (registered in CommonConfig.ready)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

MINIMUM_RETENTION_DAYS = 180


def retention_days() -> int:
    return int(getattr(settings, "BIANZHI_AUDIT_RETENTION_DAYS", MINIMUM_RETENTION_DAYS))


@checks.register(checks.Tags.security, deploy=True)
def audit_retention(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """MLPS: audit records are kept six months or more."""
    days = retention_days()
    if days >= MINIMUM_RETENTION_DAYS:
        return []
    return [checks.Error(
        f"BIANZHI_AUDIT_RETENTION_DAYS is {days}: audit events must be kept at least "
        f"{MINIMUM_RETENTION_DAYS} days.",
        hint=f"Set BIANZHI_AUDIT_RETENTION_DAYS to {MINIMUM_RETENTION_DAYS} or more (or leave it unset).",
        id="bianzhi.E001",
    )]
