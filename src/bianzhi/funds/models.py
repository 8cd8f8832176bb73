"""编外人员经费 (budget and spending per unit and year), funding control plans, purchase
contracts of catalogue services, and the records of work moved to purchased services
(requirements S7, S8). Only :mod:`bianzhi.funds.services` writes these tables."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class UnitFunding(models.Model):
    """One unit's 编外人员经费 for one year: the declared budget and the actual spending (either
    may be unknown). The funding template's key is the unit's credit code + the year."""

    SCOPE_PATH_FIELD = "jurisdiction_path"
    SCOPE_UNIT_FIELD = "unit"

    unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="fundings", verbose_name=_("unit"))
    jurisdiction_path = models.CharField(max_length=200, db_index=True, verbose_name=_("path"))
    year = models.PositiveSmallIntegerField(verbose_name=_("year"))
    budget = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True,
                                 verbose_name=_("budget (yuan)"))
    spending = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True,
                                   verbose_name=_("spending (yuan)"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        ordering = ["unit_id", "year"]
        verbose_name = _("non-establishment staff funding")
        verbose_name_plural = _("non-establishment staff funding")
        constraints = [
            models.UniqueConstraint(fields=["unit", "year"], name="funding_unit_year_unique"),
            models.CheckConstraint(condition=Q(budget__isnull=True) | Q(budget__gte=0), name="funding_budget_gte_0"),
            models.CheckConstraint(condition=Q(spending__isnull=True) | Q(spending__gte=0),
                                   name="funding_spending_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.unit_id} {self.year}"


class ControlPlan(models.Model):
    """An approved funding control plan (经费控制方案) target for one year: of a unit, or of a
    whole jurisdiction (``unit`` empty). Written by the approvals engine's decision."""

    SCOPE_PATH_FIELD = "jurisdiction_path"
    SCOPE_UNIT_FIELD = "unit"

    unit = models.ForeignKey("orgs.Unit", null=True, blank=True, on_delete=models.PROTECT,
                             related_name="control_plans", verbose_name=_("unit"))
    jurisdiction = models.ForeignKey("divisions.Division", on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("jurisdiction"))
    jurisdiction_path = models.CharField(max_length=200, db_index=True, verbose_name=_("path"))
    year = models.PositiveSmallIntegerField(verbose_name=_("year"))
    amount = models.DecimalField(max_digits=16, decimal_places=2, verbose_name=_("target (yuan)"))
    case_number = models.CharField(max_length=40, verbose_name=_("approval"))
    approved_on = models.DateField(verbose_name=_("approved on"))
    is_current = models.BooleanField(default=True, verbose_name=_("current"))

    class Meta:
        ordering = ["jurisdiction_path", "unit_id", "year", "-approved_on"]
        verbose_name = _("funding control plan")
        verbose_name_plural = _("funding control plans")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="plan_amount_gte_0"),
            models.UniqueConstraint(fields=["unit", "year"], condition=Q(is_current=True, unit__isnull=False),
                                    name="one_current_plan_per_unit_year"),
            models.UniqueConstraint(fields=["jurisdiction", "year"], condition=Q(is_current=True, unit__isnull=True),
                                    name="one_current_plan_per_jurisdiction_year"),
        ]

    def __str__(self) -> str:
        return f"{self.unit_id or self.jurisdiction_id} {self.year} {self.amount}"


class PurchaseContract(models.Model):
    """A purchase of a catalogue service (购买服务合同), in force on every day of
    ``[start, end]`` (both days included)."""

    SCOPE_PATH_FIELD = "jurisdiction_path"
    SCOPE_UNIT_FIELD = "unit"

    number = models.CharField(max_length=64, unique=True, verbose_name=_("contract number"))
    unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="purchases", verbose_name=_("unit"))
    jurisdiction_path = models.CharField(max_length=200, db_index=True, verbose_name=_("path"))
    item = models.CharField(max_length=64, verbose_name=_("service item"))
    start = models.DateField(verbose_name=_("start date"))
    end = models.DateField(verbose_name=_("end date"))
    amount = models.DecimalField(max_digits=14, decimal_places=2, verbose_name=_("amount (yuan)"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("created by"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        ordering = ["-start", "number"]
        verbose_name = _("purchase contract")
        verbose_name_plural = _("purchase contracts")
        constraints = [
            models.CheckConstraint(condition=Q(end__gte=F("start")), name="contract_end_not_before_start"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="contract_amount_gte_0"),
        ]
        indexes = [models.Index(fields=["unit", "start", "end"])]

    def __str__(self) -> str:
        return self.number


class ServiceConversion(models.Model):
    """A post moved to a purchased service: the exit (reason 转为购买服务) of one record,
    citing the contract that takes the work over."""

    SCOPE_PATH_FIELD = "jurisdiction_path"
    SCOPE_UNIT_FIELD = "unit"

    spell = models.OneToOneField("staffing.Spell", on_delete=models.PROTECT, related_name="conversion",
                                 verbose_name=_("record"))
    contract = models.ForeignKey(PurchaseContract, on_delete=models.PROTECT, related_name="conversions",
                                 verbose_name=_("contract"))
    unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="+", verbose_name=_("unit"))
    jurisdiction_path = models.CharField(max_length=200, db_index=True, verbose_name=_("path"))
    converted_on = models.DateField(verbose_name=_("converted on"))

    class Meta:
        ordering = ["-converted_on", "id"]
        verbose_name = _("post moved to purchased services")
        verbose_name_plural = _("posts moved to purchased services")

    def __str__(self) -> str:
        return f"{self.spell_id} → {self.contract_id}"
