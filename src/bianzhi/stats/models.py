"""The indicator catalogue (data) and the alerts of dynamic supervision."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .choices import AlertStatus, IndicatorKind, IndicatorUnit


class IndicatorDefinition(models.Model):
    """One indicator of the catalogue: the 23 defaults (``jurisdiction`` empty, computed by
    :mod:`bianzhi.stats.compute`) or a jurisdiction's own, an ``expression`` over other codes."""

    SCOPE_PATH_FIELD = "jurisdiction_path"

    code = models.CharField(max_length=16, verbose_name=_("code"))
    name = models.CharField(max_length=100, verbose_name=_("name"))
    kind = models.CharField(max_length=16, choices=IndicatorKind.choices, verbose_name=_("kind"))
    unit = models.CharField(max_length=16, choices=IndicatorUnit.choices, default=IndicatorUnit.COUNT,
                            verbose_name=_("unit of measure"))
    split = models.CharField(max_length=32, blank=True, verbose_name=_("split by"))
    definition = models.TextField(verbose_name=_("definition"))
    expression = models.CharField(max_length=200, blank=True, verbose_name=_("expression"))
    sort = models.PositiveSmallIntegerField(default=0, verbose_name=_("order"))
    jurisdiction = models.ForeignKey("divisions.Division", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+", verbose_name=_("jurisdiction"))
    jurisdiction_path = models.CharField(max_length=200, blank=True, db_index=True, verbose_name=_("path"))
    source_document = models.CharField(max_length=200, blank=True, verbose_name=_("source document"))

    class Meta:
        ordering = ["sort", "code"]
        verbose_name = _("indicator")
        verbose_name_plural = _("indicators")
        constraints = [models.UniqueConstraint(fields=["code", "jurisdiction_path"], name="indicator_code_unique")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Alert(models.Model):
    """One finding of dynamic supervision (S12): raised by a rule, owned by a unit (and the
    reviewers of its jurisdiction), open → acknowledged → resolved with a note."""

    SCOPE_PATH_FIELD = "jurisdiction_path"
    SCOPE_UNIT_FIELD = "unit"

    kind = models.CharField(max_length=32, db_index=True, verbose_name=_("alert"))
    key = models.CharField(max_length=200, verbose_name=_("finding"))
    unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="alerts", verbose_name=_("unit"))
    jurisdiction_path = models.CharField(max_length=200, db_index=True, verbose_name=_("path"))
    status = models.CharField(max_length=16, choices=AlertStatus.choices, default=AlertStatus.OPEN,
                              verbose_name=_("status"))
    params = models.JSONField(default=dict, blank=True, verbose_name=_("details"))
    records = models.JSONField(default=list, blank=True, verbose_name=_("records"))
    raised_on = models.DateField(verbose_name=_("raised on"))
    resolved_on = models.DateField(null=True, blank=True, verbose_name=_("resolved on"))
    note = models.TextField(blank=True, verbose_name=_("note"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        ordering = ["-raised_on", "-id"]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        constraints = [
            # One unresolved alert per finding; a finding that comes back after resolution opens a new one.
            models.UniqueConstraint(fields=["kind", "key"], condition=~Q(status="resolved"),
                                    name="one_unresolved_alert_per_finding"),
        ]
        indexes = [models.Index(fields=["status", "kind"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"


class AlertEvent(models.Model):
    """The history of an alert: raised, acknowledged, resolved (by a user or because the
    condition is gone), re-opened."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events", verbose_name=_("alert"))
    action = models.CharField(max_length=16, verbose_name=_("action"))
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+", verbose_name=_("by"))
    note = models.TextField(blank=True, verbose_name=_("note"))
    at = models.DateTimeField(auto_now_add=True, verbose_name=_("time"))

    class Meta:
        ordering = ["alert_id", "at", "id"]
        verbose_name = _("alert event")
        verbose_name_plural = _("alert events")

    def __str__(self) -> str:
        return f"{self.alert_id} {self.action}"
