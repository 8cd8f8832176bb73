"""GB/T 2260 administrative divisions: the jurisdictions every user and unit belongs to."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .choices import Level


class Division(models.Model):
    """A node of the division tree.

    ``path`` is the materialised path of codes (``440000/440100/440106/``), so "this node
    and below" is one indexed prefix filter.
    """

    SCOPE_PATH_FIELD = "path"
    SCOPE_UNIT_FIELD = None  # divisions are not unit-bound: a unit operator sees its jurisdiction's tree

    code = models.CharField(max_length=12, unique=True, verbose_name=_("division code"))
    name = models.CharField(max_length=100, verbose_name=_("name"))
    level = models.CharField(max_length=16, choices=Level.choices, verbose_name=_("level"))
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children", verbose_name=_("parent")
    )
    path = models.CharField(max_length=200, unique=True, verbose_name=_("path"))
    depth = models.PositiveSmallIntegerField(verbose_name=_("depth"))
    valid_from = models.DateField(null=True, blank=True, verbose_name=_("valid from"))
    valid_to = models.DateField(null=True, blank=True, verbose_name=_("valid to"))

    class Meta:
        ordering = ["path"]
        verbose_name = _("division")
        verbose_name_plural = _("divisions")

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"

    def is_within(self, other: Division) -> bool:
        """True when this division is ``other`` or below it."""
        return self.path.startswith(other.path)
