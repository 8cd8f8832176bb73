"""编外人员: rule tables, employment spells, baselines, caps, hire authorisations, bulk
operations and the coordinator pool.

Dates follow one convention everywhere: a spell counts on day d when
``hire_date <= d`` and (``leave_date`` is empty or ``leave_date > d``); ``leave_date`` is the
first day the person is no longer in post. Rule-table rows and pool assignments use
``valid_from``/``valid_to`` the same way.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from .choices import AuthorisationStatus, BulkKind, BulkStatus, ClassPolicy, RuleTable, SpellSource


class RuleItem(models.Model):
    """One row of a rule table: province default (``jurisdiction`` empty) or a local addition
    of a city or district, valid over ``[valid_from, valid_to)``, citing its source document."""

    table = models.CharField(max_length=32, choices=RuleTable.choices, verbose_name=_("rule table"))
    code = models.CharField(max_length=64, verbose_name=_("code"))
    name = models.CharField(max_length=100, verbose_name=_("name"))
    parent_code = models.CharField(max_length=64, blank=True, verbose_name=_("belongs to"))
    policy = models.CharField(max_length=32, choices=ClassPolicy.choices, blank=True, verbose_name=_("policy"))
    value = models.CharField(max_length=100, blank=True, verbose_name=_("value"))
    sort = models.PositiveSmallIntegerField(default=0, verbose_name=_("order"))
    jurisdiction = models.ForeignKey(
        "divisions.Division", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("jurisdiction"),
    )
    jurisdiction_path = models.CharField(max_length=200, blank=True, db_index=True, verbose_name=_("path"))
    valid_from = models.DateField(verbose_name=_("valid from"))
    valid_to = models.DateField(null=True, blank=True, verbose_name=_("valid to"))
    source_document = models.CharField(max_length=200, blank=True, verbose_name=_("source document"))

    class Meta:
        ordering = ["table", "jurisdiction_path", "sort", "code"]
        verbose_name = _("rule table row")
        verbose_name_plural = _("rule table rows")
        constraints = [
            models.UniqueConstraint(
                fields=["table", "code", "jurisdiction_path", "valid_from"], name="rule_item_unique_version"
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=F("valid_from")), name="rule_item_dates"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_table_display()}: {self.name}"


class HireAuthorisation(models.Model):
    """An approved hire authorisation (用人审批): N hires of one post class (and situation) for
    one unit; register-mode roster rows consume it through 审批编号."""

    SCOPE_PATH_FIELD = "unit__jurisdiction_path"
    SCOPE_UNIT_FIELD = "unit"

    number = models.CharField(max_length=64, unique=True, verbose_name=_("authorisation number"))
    unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="hire_authorisations",
                             verbose_name=_("unit"))
    post_class = models.CharField(max_length=64, verbose_name=_("post class"))
    situation = models.CharField(max_length=64, blank=True, verbose_name=_("situation"))
    quantity = models.PositiveIntegerField(verbose_name=_("quantity"))
    used = models.PositiveIntegerField(default=0, verbose_name=_("used"))
    valid_from = models.DateField(verbose_name=_("valid from"))
    valid_to = models.DateField(null=True, blank=True, verbose_name=_("valid to"))
    status = models.CharField(max_length=16, choices=AuthorisationStatus.choices,
                              default=AuthorisationStatus.APPROVED, verbose_name=_("status"))
    document_ref = models.CharField(max_length=100, blank=True, verbose_name=_("document reference"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        ordering = ["-valid_from", "number"]
        verbose_name = _("hire authorisation")
        verbose_name_plural = _("hire authorisations")
        constraints = [
            models.CheckConstraint(condition=Q(used__lte=F("quantity")), name="authorisation_not_overused"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def remaining(self) -> int:
        return self.quantity - self.used


class BulkOperation(models.Model):
    """A recorded bulk exit: downsizing a unit or moving a whole group out (S10)."""

    SCOPE_PATH_FIELD = "jurisdiction_path"
    SCOPE_UNIT_FIELD = "unit"

    kind = models.CharField(max_length=32, choices=BulkKind.choices, verbose_name=_("operation"))
    status = models.CharField(max_length=16, choices=BulkStatus.choices, default=BulkStatus.PREVIEWED,
                              verbose_name=_("status"))
    unit = models.ForeignKey("orgs.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("unit"))
    jurisdiction_path = models.CharField(max_length=200, db_index=True, verbose_name=_("path"))
    criteria = models.JSONField(default=dict, verbose_name=_("selection"))
    leave_date = models.DateField(verbose_name=_("leave date"))
    exit_reason = models.CharField(max_length=64, verbose_name=_("exit reason"))
    receiver = models.CharField(max_length=200, blank=True, verbose_name=_("receiving organisation"))
    document_ref = models.CharField(max_length=100, blank=True, verbose_name=_("document reference"))
    count = models.PositiveIntegerField(default=0, verbose_name=_("people"))
    selection_digest = models.CharField(max_length=64, blank=True, verbose_name=_("selection digest"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("created by"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    applied_at = models.DateTimeField(null=True, blank=True, verbose_name=_("applied at"))

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("bulk operation")
        verbose_name_plural = _("bulk operations")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class Spell(models.Model):
    """An employment spell (编外人员记录) of one person in one unit."""

    SCOPE_PATH_FIELD = "jurisdiction_path"
    SCOPE_UNIT_FIELD = "unit"

    person = models.ForeignKey("orgs.Person", on_delete=models.PROTECT, related_name="spells",
                               verbose_name=_("person"))
    unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="spells", verbose_name=_("unit"))
    jurisdiction_path = models.CharField(max_length=200, db_index=True, verbose_name=_("path"))
    situation = models.CharField(max_length=64, verbose_name=_("situation"))
    post_class = models.CharField(max_length=64, verbose_name=_("post class"))
    work_type = models.CharField(max_length=64, verbose_name=_("work type"))
    post_name = models.CharField(max_length=50, verbose_name=_("post name"))
    key_post = models.CharField(max_length=64, blank=True, verbose_name=_("key post"))
    funding_source = models.CharField(max_length=64, verbose_name=_("funding source"))
    hire_date = models.DateField(verbose_name=_("hire date"))
    leave_date = models.DateField(null=True, blank=True, verbose_name=_("leave date"))
    exit_reason = models.CharField(max_length=64, blank=True, verbose_name=_("exit reason"))
    contract_end = models.DateField(null=True, blank=True, verbose_name=_("contract end"))
    education = models.CharField(max_length=64, blank=True, verbose_name=_("education"))
    monthly_cost = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True,
                                       verbose_name=_("monthly cost per person"))
    authorisation = models.ForeignKey(HireAuthorisation, null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="spells", verbose_name=_("hire authorisation"))
    operation = models.ForeignKey(BulkOperation, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="spells", verbose_name=_("bulk operation"))
    source = models.CharField(max_length=16, choices=SpellSource.choices, verbose_name=_("source"))

    class Meta:
        ordering = ["unit_id", "hire_date", "id"]
        verbose_name = _("non-establishment record")
        verbose_name_plural = _("non-establishment records")
        indexes = [
            models.Index(fields=["hire_date", "leave_date"]),
            models.Index(fields=["unit", "hire_date"]),
            models.Index(fields=["person", "hire_date"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["person", "unit", "hire_date"], name="spell_key"),
            models.CheckConstraint(
                condition=Q(leave_date__isnull=True) | Q(leave_date__gt=F("hire_date")), name="spell_dates"
            ),
            models.CheckConstraint(
                condition=Q(leave_date__isnull=True) | ~Q(exit_reason=""), name="spell_exit_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person_id}@{self.unit_id} {self.hire_date}–{self.leave_date or ''}"


class Baseline(models.Model):
    """A frozen stock baseline (存量基数) of a jurisdiction as of a date; re-taking supersedes."""

    SCOPE_PATH_FIELD = "jurisdiction_path"

    jurisdiction = models.ForeignKey("divisions.Division", on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("jurisdiction"))
    jurisdiction_path = models.CharField(max_length=200, db_index=True, verbose_name=_("path"))
    as_of = models.DateField(verbose_name=_("baseline date"))
    is_current = models.BooleanField(default=True, verbose_name=_("current"))
    total = models.PositiveIntegerField(default=0, verbose_name=_("total"))
    taken_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                 verbose_name=_("taken by"))
    taken_at = models.DateTimeField(auto_now_add=True, verbose_name=_("taken at"))
    note = models.CharField(max_length=200, blank=True, verbose_name=_("note"))

    class Meta:
        ordering = ["-taken_at"]
        verbose_name = _("stock baseline")
        verbose_name_plural = _("stock baselines")

    def __str__(self) -> str:
        return f"{self.jurisdiction_id} {self.as_of}"


class BaselineCount(models.Model):
    """Frozen count of one unit × situation × post class in a baseline."""

    SCOPE_PATH_FIELD = "unit__jurisdiction_path"
    SCOPE_UNIT_FIELD = "unit"

    baseline = models.ForeignKey(Baseline, on_delete=models.CASCADE, related_name="counts",
                                 verbose_name=_("baseline"))
    unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="baseline_counts",
                             verbose_name=_("unit"))
    situation = models.CharField(max_length=64, verbose_name=_("situation"))
    post_class = models.CharField(max_length=64, verbose_name=_("post class"))
    count = models.PositiveIntegerField(verbose_name=_("count"))

    class Meta:
        verbose_name = _("baseline count")
        verbose_name_plural = _("baseline counts")
        constraints = [
            models.UniqueConstraint(fields=["baseline", "unit", "situation", "post_class"], name="baseline_cell"),
        ]

    def __str__(self) -> str:
        return f"{self.unit_id} {self.situation}/{self.post_class}: {self.count}"


class CapChange(models.Model):
    """An approved change of a unit's total cap (``post_class`` empty) or class cap, from a date.
    Until one exists, caps equal the unit's current baseline counts."""

    SCOPE_PATH_FIELD = "unit__jurisdiction_path"
    SCOPE_UNIT_FIELD = "unit"

    unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="cap_changes",
                             verbose_name=_("unit"))
    post_class = models.CharField(max_length=64, blank=True, verbose_name=_("post class"))
    cap = models.PositiveIntegerField(verbose_name=_("cap"))
    valid_from = models.DateField(verbose_name=_("valid from"))
    document_ref = models.CharField(max_length=100, blank=True, verbose_name=_("document reference"))
    is_exception = models.BooleanField(default=False, verbose_name=_("approved exception"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        ordering = ["unit_id", "post_class", "-valid_from"]
        verbose_name = _("cap change")
        verbose_name_plural = _("cap changes")

    def __str__(self) -> str:
        return f"{self.unit_id} {self.post_class or 'total'} → {self.cap}"


class PoolAssignment(models.Model):
    """A coordinator's assignment in the city pool (S9): town/street, department or task,
    valid over ``[valid_from, valid_to)``; re-allocation closes one and opens the next."""

    SCOPE_PATH_FIELD = "spell__jurisdiction_path"
    SCOPE_UNIT_FIELD = "spell__unit"

    spell = models.ForeignKey(Spell, on_delete=models.PROTECT, related_name="assignments",
                              verbose_name=_("coordinator"))
    city = models.ForeignKey("divisions.Division", on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("city"))
    town = models.ForeignKey("divisions.Division", on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("town / street"))
    department = models.ForeignKey("orgs.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("department"))
    task = models.CharField(max_length=100, blank=True, verbose_name=_("task"))
    valid_from = models.DateField(verbose_name=_("valid from"))
    valid_to = models.DateField(null=True, blank=True, verbose_name=_("valid to"))
    document_ref = models.CharField(max_length=100, blank=True, verbose_name=_("document reference"))

    class Meta:
        ordering = ["spell_id", "valid_from"]
        verbose_name = _("pool assignment")
        verbose_name_plural = _("pool assignments")
        constraints = [
            models.UniqueConstraint(fields=["spell"], condition=Q(valid_to__isnull=True), name="one_open_assignment"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=F("valid_from")), name="assignment_dates"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.spell_id} → {self.town_id}"


class PolicyFlag(models.Model):
    """A policy breach found in the data (an inventory import accepts breaches and flags them;
    the dynamic-supervision alerts build on these rows)."""

    SCOPE_PATH_FIELD = "jurisdiction_path"
    SCOPE_UNIT_FIELD = "unit"

    spell = models.ForeignKey(Spell, null=True, blank=True, on_delete=models.CASCADE, related_name="flags",
                              verbose_name=_("record"))
    unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="+", verbose_name=_("unit"))
    jurisdiction_path = models.CharField(max_length=200, db_index=True, verbose_name=_("path"))
    code = models.CharField(max_length=64, db_index=True, verbose_name=_("breach"))
    params = models.JSONField(default=dict, blank=True, verbose_name=_("details"))
    raised_on = models.DateField(verbose_name=_("raised on"))
    resolved_on = models.DateField(null=True, blank=True, verbose_name=_("resolved on"))

    class Meta:
        ordering = ["-raised_on", "id"]
        verbose_name = _("policy flag")
        verbose_name_plural = _("policy flags")

    def __str__(self) -> str:
        return f"{self.code} {self.unit_id}"
