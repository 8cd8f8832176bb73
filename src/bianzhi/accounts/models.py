"""Users: one role, one jurisdiction, and for unit operators one unit (requirement X2)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .choices import Role

SYSTEM_USERNAME = "system"


class User(AbstractUser):
    SCOPE_PATH_FIELD = "jurisdiction_path"
    SCOPE_UNIT_FIELD = "unit"

    display_name = models.CharField(max_length=50, blank=True, verbose_name=_("display name"))
    role = models.CharField(max_length=32, choices=Role.choices, verbose_name=_("role"))
    jurisdiction = models.ForeignKey(
        "divisions.Division", null=True, blank=True, on_delete=models.PROTECT, related_name="users",
        verbose_name=_("jurisdiction"),
    )
    jurisdiction_path = models.CharField(max_length=200, blank=True, db_index=True, verbose_name=_("path"))
    unit = models.ForeignKey(
        "orgs.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="operators",
        verbose_name=_("unit"),
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(
                condition=~Q(role="unit_operator") | Q(unit__isnull=False),
                name="unit_operator_has_unit",
                violation_error_message=_("A unit operator must be bound to a unit."),
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def is_unit_bound(self) -> bool:
        return self.role == Role.UNIT_OPERATOR

    @property
    def role_label(self) -> str:
        return str(Role(self.role).label) if self.role else ""
