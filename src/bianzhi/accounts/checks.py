"""System checks of the account settings (registered in AccountsConfig.ready)."""

from __future__ import annotations

from typing import Any

from django.core import checks

from .choices import Role


@checks.register(checks.Tags.security)
def totp_roles_known(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """A misspelt role in ``BIANZHI_TOTP_REQUIRED_ROLES`` would silently exempt that role."""
    from .totp import required_roles

    unknown = sorted(required_roles() - set(Role.values))
    if not unknown:
        return []
    return [checks.Error(
        f"BIANZHI_TOTP_REQUIRED_ROLES names unknown roles: {', '.join(unknown)}",
        hint=f"Use role codes: {', '.join(Role.values)}.", id="bianzhi.E002",
    )]


@checks.register(checks.Tags.security, deploy=True)
def totp_required_for_administrators(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """MLPS level 3: administrators authenticate with two factors."""
    from .totp import required_roles

    if Role.ADMINISTRATOR in required_roles():
        return []
    return [checks.Warning(
        "BIANZHI_TOTP_REQUIRED_ROLES does not include administrator: administrators can log in "
        "with a password alone.",
        hint="Leave BIANZHI_TOTP_REQUIRED_ROLES unset (decision_maker,administrator) in production.",
        id="bianzhi.W003",
    )]
