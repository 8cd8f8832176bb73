"""Process definitions (data), cases, steps, the trail of events, attachments, notifications.

A :class:`ProcessDefinition` is one *version* of a process for a jurisdiction (province
default when ``jurisdiction`` is empty). A :class:`Case` keeps the version it started with,
so a district may change its process while cases run. Only :mod:`bianzhi.workflow.services`
writes these tables.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from .choices import CaseStatus, EventKind, NotificationKind, StepStatus


class ProcessDefinition(models.Model):
    """One version of a process: ordered stages, each one step or parallel countersign steps.

    ``definition`` is ``{"stages": [{"name": ..., "steps": [{"code", "name", "role",
    "department", "days", "actions", "opinion_required", "return_to"}]}]}`` — validated by
    :func:`bianzhi.workflow.rules.check_definition` before it is stored."""

    SCOPE_PATH_FIELD = "jurisdiction_path"

    code = models.CharField(max_length=64, verbose_name=_("process"))
    name = models.CharField(max_length=100, verbose_name=_("name"))
    jurisdiction = models.ForeignKey("divisions.Division", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+", verbose_name=_("jurisdiction"))
    jurisdiction_path = models.CharField(max_length=200, blank=True, db_index=True, verbose_name=_("path"))
    version = models.PositiveIntegerField(verbose_name=_("version"))
    definition = models.JSONField(verbose_name=_("definition"))
    is_current = models.BooleanField(default=True, verbose_name=_("current"))
    source_document = models.CharField(max_length=200, blank=True, verbose_name=_("source document"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("created by"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        ordering = ["code", "jurisdiction_path", "-version"]
        verbose_name = _("process definition")
        verbose_name_plural = _("process definitions")
        constraints = [
            models.UniqueConstraint(fields=["code", "jurisdiction_path", "version"], name="process_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def stages(self) -> list[dict[str, Any]]:
        return list(self.definition.get("stages", []))


class Case(models.Model):
    """One application (用人申请, 规模上限调整申请, …) moving through its process."""

    SCOPE_PATH_FIELD = "jurisdiction_path"
    SCOPE_UNIT_FIELD = "unit"

    number = models.CharField(max_length=40, unique=True, verbose_name=_("case number"))
    process = models.ForeignKey(ProcessDefinition, on_delete=models.PROTECT, related_name="cases",
                                verbose_name=_("process"))
    kind = models.CharField(max_length=64, db_index=True, verbose_name=_("kind"))
    title = models.CharField(max_length=200, verbose_name=_("title"))
    unit = models.ForeignKey("orgs.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="cases",
                             verbose_name=_("unit"))
    jurisdiction = models.ForeignKey("divisions.Division", on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("jurisdiction"))
    jurisdiction_path = models.CharField(max_length=200, db_index=True, verbose_name=_("path"))
    applicant = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="cases",
                                  verbose_name=_("applicant"))
    status = FSMField(default=CaseStatus.IN_REVIEW, choices=CaseStatus.choices, verbose_name=_("status"))
    payload = models.JSONField(default=dict, verbose_name=_("application"))
    round = models.PositiveIntegerField(default=1, verbose_name=_("round"))
    stage_index = models.PositiveIntegerField(default=0, verbose_name=_("current stage"))
    result_ref = models.CharField(max_length=100, blank=True, verbose_name=_("result"))
    submitted_at = models.DateTimeField(verbose_name=_("submitted at"))
    decided_at = models.DateTimeField(null=True, blank=True, verbose_name=_("decided at"))

    class Meta:
        ordering = ["-submitted_at", "-id"]
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        indexes = [models.Index(fields=["status", "jurisdiction"])]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status in (CaseStatus.IN_REVIEW, CaseStatus.RETURNED)

    # The life cycle (django-fsm-2). Only the workflow services call these.
    @transition(field=status, source=CaseStatus.IN_REVIEW, target=CaseStatus.RETURNED)
    def return_to_applicant(self) -> None:
        pass

    @transition(field=status, source=CaseStatus.RETURNED, target=CaseStatus.IN_REVIEW)
    def resubmit(self) -> None:
        self.round += 1
        self.stage_index = 0

    @transition(field=status, source=CaseStatus.IN_REVIEW, target=CaseStatus.APPROVED)
    def approve(self) -> None:
        pass

    @transition(field=status, source=CaseStatus.IN_REVIEW, target=CaseStatus.REJECTED)
    def reject(self) -> None:
        pass

    @transition(field=status, source=[CaseStatus.IN_REVIEW, CaseStatus.RETURNED], target=CaseStatus.WITHDRAWN)
    def withdraw(self) -> None:
        pass


class Step(models.Model):
    """One step of one round of a case, created when its stage becomes current."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="steps", verbose_name=_("case"))
    round = models.PositiveIntegerField(verbose_name=_("round"))
    stage_index = models.PositiveIntegerField(verbose_name=_("stage"))
    code = models.CharField(max_length=64, verbose_name=_("step"))
    name = models.CharField(max_length=100, verbose_name=_("step"))
    role = models.CharField(max_length=32, verbose_name=_("role"))
    department = models.CharField(max_length=100, verbose_name=_("department"))
    status = models.CharField(max_length=16, choices=StepStatus.choices, default=StepStatus.ACTIVE,
                              verbose_name=_("status"))
    activated_at = models.DateTimeField(verbose_name=_("activated at"))
    due_on = models.DateField(verbose_name=_("due on"))
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+", verbose_name=_("acted by"))
    acted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("acted at"))
    opinion = models.TextField(blank=True, verbose_name=_("opinion"))
    return_to = models.CharField(max_length=64, blank=True, verbose_name=_("returned to"))

    class Meta:
        ordering = ["case_id", "round", "stage_index", "id"]
        verbose_name = _("step")
        verbose_name_plural = _("steps")
        indexes = [models.Index(fields=["status", "role"])]
        constraints = [
            # At most one open row per step of a case: acting twice can never create two.
            models.UniqueConstraint(fields=["case", "code"], condition=models.Q(status="active"),
                                    name="one_active_row_per_step"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id}/{self.round}/{self.code}"


class CaseEvent(models.Model):
    """The trail: who did what, when, in which order (``seq`` per case)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events", verbose_name=_("case"))
    seq = models.PositiveIntegerField(verbose_name=_("order"))
    kind = models.CharField(max_length=16, choices=EventKind.choices, verbose_name=_("event"))
    step = models.ForeignKey(Step, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                             verbose_name=_("step"))
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+", verbose_name=_("acted by"))
    opinion = models.TextField(blank=True, verbose_name=_("opinion"))
    params = models.JSONField(default=dict, blank=True, verbose_name=_("details"))
    at = models.DateTimeField(verbose_name=_("time"))

    class Meta:
        ordering = ["case_id", "seq"]
        verbose_name = _("case event")
        verbose_name_plural = _("case events")
        constraints = [models.UniqueConstraint(fields=["case", "seq"], name="case_event_seq_unique")]

    def __str__(self) -> str:
        return f"{self.case_id}#{self.seq} {self.kind}"


class Attachment(models.Model):
    """A file attached to a submission or a decision; stored under DATA_DIR by content hash."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("case"))
    event = models.ForeignKey(CaseEvent, on_delete=models.CASCADE, related_name="attachments",
                              verbose_name=_("event"))
    filename = models.CharField(max_length=200, verbose_name=_("file name"))
    sha256 = models.CharField(max_length=64, verbose_name=_("SHA-256"))
    size = models.PositiveIntegerField(verbose_name=_("size"))
    content_type = models.CharField(max_length=100, blank=True, verbose_name=_("type"))

    class Meta:
        ordering = ["id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.filename


class Notification(models.Model):
    """An in-app notice: a step assigned to the recipient, a return, a decision."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications",
                                  verbose_name=_("recipient"))
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="notifications", verbose_name=_("case"))
    kind = models.CharField(max_length=16, choices=NotificationKind.choices, verbose_name=_("notice"))
    step_name = models.CharField(max_length=100, blank=True, verbose_name=_("step"))
    created_at = models.DateTimeField(verbose_name=_("time"))
    read_at = models.DateTimeField(null=True, blank=True, verbose_name=_("read at"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [models.Index(fields=["recipient", "read_at"])]

    def __str__(self) -> str:
        return f"{self.recipient_id} {self.kind} {self.case_id}"


class CalendarDay(models.Model):
    """A day that differs from the Monday–Friday week: a public holiday, or a weekend day
    worked in exchange (调休上班). Loaded from data/calendar.yaml; deadlines count working days."""

    day = models.DateField(unique=True, verbose_name=_("date"))
    is_workday = models.BooleanField(verbose_name=_("working day"))
    name = models.CharField(max_length=50, blank=True, verbose_name=_("name"))
    source_document = models.CharField(max_length=200, blank=True, verbose_name=_("source document"))

    class Meta:
        ordering = ["day"]
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")

    def __str__(self) -> str:
        return f"{self.day} {self.name}"
