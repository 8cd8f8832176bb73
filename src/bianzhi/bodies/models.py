"""议事协调机构 (deliberative and coordinating bodies): the registry (B1), members (B4), task
groups (B2) and the effective-dated history of every change. Only bodies.services writes
these tables, and only from the deciding transaction of an approved change (B5)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class BodyStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    REVOKED = "revoked", _("Revoked")
    MERGED = "merged", _("Merged into another body")


class Body(models.Model):
    SCOPE_PATH_FIELD = "jurisdiction_path"
    SCOPE_UNIT_FIELD = None

    code = models.CharField(max_length=18, unique=True, verbose_name=_("body code"))
    name = models.CharField(max_length=100, verbose_name=_("name"))
    jurisdiction = models.ForeignKey("divisions.Division", on_delete=models.PROTECT, related_name="bodies",
                                     verbose_name=_("jurisdiction"))
    jurisdiction_path = models.CharField(max_length=200, db_index=True, verbose_name=_("path"))
    kind = models.CharField(max_length=32, verbose_name=_("kind"))
    lead_unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="led_bodies",
                                  verbose_name=_("lead unit"))
    office_unit = models.ForeignKey("orgs.Unit", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="hosted_bodies", verbose_name=_("office seat"))
    leader_posts = models.CharField(max_length=500, blank=True, verbose_name=_("leader posts"))
    duties = models.TextField(verbose_name=_("duties"))
    ground = models.CharField(max_length=32, verbose_name=_("positive-list ground"))
    basis = models.CharField(max_length=300, blank=True, verbose_name=_("legal or policy basis"))
    parent_body = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="mirrors", verbose_name=_("body above it mirrors"))
    set_up_document = models.CharField(max_length=100, verbose_name=_("set-up document"))
    set_up_on = models.DateField(verbose_name=_("set up on"))
    planned_end = models.DateField(null=True, blank=True, verbose_name=_("planned end"))
    status = models.CharField(max_length=16, choices=BodyStatus.choices, default=BodyStatus.ACTIVE,
                              verbose_name=_("status"))
    ended_on = models.DateField(null=True, blank=True, verbose_name=_("ended on"))
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="merged_bodies", verbose_name=_("merged into"))
    over_cap_reason = models.CharField(max_length=500, blank=True, verbose_name=_("member-cap exception"))

    class Meta:
        ordering = ["jurisdiction_path", "code"]
        verbose_name = _("coordinating body")
        verbose_name_plural = _("coordinating bodies")
        constraints = [
            models.UniqueConstraint(fields=["jurisdiction", "name"], condition=Q(status="active"),
                                    name="body_name_unique_among_active"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class BodyMember(models.Model):
    """A member unit (成员单位) of a body, over [valid_from, valid_to)."""

    body = models.ForeignKey(Body, on_delete=models.CASCADE, related_name="members", verbose_name=_("body"))
    unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="body_memberships",
                             verbose_name=_("member unit"))
    valid_from = models.DateField(verbose_name=_("valid from"))
    valid_to = models.DateField(null=True, blank=True, verbose_name=_("valid to"))

    class Meta:
        ordering = ["body_id", "valid_from", "id"]
        verbose_name = _("member unit")
        verbose_name_plural = _("member units")
        constraints = [models.UniqueConstraint(fields=["body", "unit"], condition=Q(valid_to__isnull=True),
                                               name="one_open_membership")]

    def __str__(self) -> str:
        return f"{self.body_id}:{self.unit_id}"


class TaskGroup(models.Model):
    """A special task group (专项小组) inside a body, with its own lead and members."""

    body = models.ForeignKey(Body, on_delete=models.CASCADE, related_name="task_groups", verbose_name=_("body"))
    name = models.CharField(max_length=100, verbose_name=_("name"))
    lead_unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("lead unit"))
    members = models.ManyToManyField("orgs.Unit", related_name="+", blank=True, verbose_name=_("members"))
    duties = models.TextField(blank=True, verbose_name=_("duties"))
    valid_from = models.DateField(verbose_name=_("valid from"))
    valid_to = models.DateField(null=True, blank=True, verbose_name=_("valid to"))

    class Meta:
        ordering = ["body_id", "name"]
        verbose_name = _("task group")
        verbose_name_plural = _("task groups")

    def __str__(self) -> str:
        return self.name


class BodyVersion(models.Model):
    """The state of a body from ``valid_from`` (effective-dated history of every change)."""

    body = models.ForeignKey(Body, on_delete=models.CASCADE, related_name="versions", verbose_name=_("body"))
    valid_from = models.DateField(verbose_name=_("valid from"))
    valid_to = models.DateField(null=True, blank=True, verbose_name=_("valid to"))
    change = models.CharField(max_length=32, verbose_name=_("change"))
    snapshot = models.JSONField(verbose_name=_("state"))
    document_number = models.CharField(max_length=100, blank=True, verbose_name=_("document number"))
    case_number = models.CharField(max_length=40, blank=True, verbose_name=_("approval"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("by"))

    class Meta:
        ordering = ["body_id", "valid_from", "id"]
        verbose_name = _("body version")
        verbose_name_plural = _("body versions")

    def __str__(self) -> str:
        return f"{self.body_id} {self.change} {self.valid_from}"
