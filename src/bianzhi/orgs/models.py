"""Units (单位), their effective-dated history, establishment quotas (编制) and people.

Current state lives on :class:`Unit` for fast lists; every state it has ever had lives in
:class:`UnitVersion` with ``valid_from``/``valid_to`` (``valid_to`` is the first day the
version no longer holds), so "as of d" is one filter: ``valid_from <= d < valid_to``.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from .choices import (
    Education,
    EstablishmentKind,
    FundingForm,
    Sex,
    UnitCategory,
    UnitChange,
    UnitStatus,
)


class Unit(models.Model):
    SCOPE_PATH_FIELD = "jurisdiction_path"
    SCOPE_UNIT_FIELD = "pk"

    uscc = models.CharField(max_length=18, unique=True, verbose_name=_("unified social credit code"))
    name = models.CharField(max_length=100, verbose_name=_("unit name"))
    category = models.CharField(max_length=32, choices=UnitCategory.choices, verbose_name=_("unit category"))
    funding_form = models.CharField(max_length=16, choices=FundingForm.choices, verbose_name=_("funding form"))
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children",
        verbose_name=_("parent unit"),
    )
    jurisdiction = models.ForeignKey(
        "divisions.Division", on_delete=models.PROTECT, related_name="units", verbose_name=_("jurisdiction")
    )
    jurisdiction_path = models.CharField(max_length=200, db_index=True, verbose_name=_("path"))
    status = models.CharField(
        max_length=16, choices=UnitStatus.choices, default=UnitStatus.ACTIVE, verbose_name=_("status")
    )
    set_up_on = models.DateField(verbose_name=_("set-up date"))
    ended_on = models.DateField(null=True, blank=True, verbose_name=_("end date"))
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_units",
        verbose_name=_("merged into"),
    )

    class Meta:
        ordering = ["jurisdiction_path", "name"]
        verbose_name = _("unit")
        verbose_name_plural = _("units")
        constraints = [
            models.UniqueConstraint(
                fields=["jurisdiction", "name"], condition=Q(status="active"), name="unit_name_unique_active",
                violation_error_message=_("An active unit with this name already exists in this jurisdiction."),
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gt=F("set_up_on")),
                name="unit_ends_after_set_up",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class UnitVersion(models.Model):
    """One state of a unit, valid over ``[valid_from, valid_to)``."""

    SCOPE_PATH_FIELD = "jurisdiction_path"
    SCOPE_UNIT_FIELD = "unit"

    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="versions", verbose_name=_("unit"))
    valid_from = models.DateField(verbose_name=_("valid from"))
    valid_to = models.DateField(null=True, blank=True, verbose_name=_("valid to"))
    change = models.CharField(max_length=16, choices=UnitChange.choices, verbose_name=_("change"))
    name = models.CharField(max_length=100, verbose_name=_("unit name"))
    category = models.CharField(max_length=32, choices=UnitCategory.choices, verbose_name=_("unit category"))
    funding_form = models.CharField(max_length=16, choices=FundingForm.choices, verbose_name=_("funding form"))
    parent = models.ForeignKey(
        Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("parent unit")
    )
    jurisdiction = models.ForeignKey(
        "divisions.Division", on_delete=models.PROTECT, related_name="+", verbose_name=_("jurisdiction")
    )
    jurisdiction_path = models.CharField(max_length=200, db_index=True, verbose_name=_("path"))
    document_ref = models.CharField(max_length=100, blank=True, verbose_name=_("document reference"))

    class Meta:
        ordering = ["unit_id", "valid_from", "id"]
        verbose_name = _("unit version")
        verbose_name_plural = _("unit versions")
        indexes = [models.Index(fields=["valid_from", "valid_to"])]
        constraints = [
            models.UniqueConstraint(fields=["unit"], condition=Q(valid_to__isnull=True), name="one_open_unit_version"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=F("valid_from")),
                name="unit_version_dates",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} [{self.valid_from}, {self.valid_to or '…'})"


class EstablishmentQuota(models.Model):
    """Approved number (核定数) and actual headcount (实有数) of one unit and kind, effective-dated."""

    SCOPE_PATH_FIELD = "unit__jurisdiction_path"
    SCOPE_UNIT_FIELD = "unit"

    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="quotas", verbose_name=_("unit"))
    kind = models.CharField(max_length=32, choices=EstablishmentKind.choices, verbose_name=_("establishment kind"))
    approved = models.PositiveIntegerField(verbose_name=_("approved number"))
    actual = models.PositiveIntegerField(default=0, verbose_name=_("actual headcount"))
    valid_from = models.DateField(verbose_name=_("valid from"))
    valid_to = models.DateField(null=True, blank=True, verbose_name=_("valid to"))
    document_ref = models.CharField(max_length=100, blank=True, verbose_name=_("document reference"))

    class Meta:
        ordering = ["unit_id", "kind", "valid_from"]
        verbose_name = _("establishment quota")
        verbose_name_plural = _("establishment quotas")
        constraints = [
            models.UniqueConstraint(
                fields=["unit", "kind"], condition=Q(valid_to__isnull=True), name="one_open_quota_per_kind"
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=F("valid_from")), name="quota_dates"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.unit_id} {self.kind} {self.approved}/{self.actual}"

    @property
    def vacancies(self) -> int:
        return max(self.approved - self.actual, 0)

    @property
    def over(self) -> int:
        return max(self.actual - self.approved, 0)


class PersonQuerySet(models.QuerySet["Person"]):
    def by_id_number(self, number: str) -> PersonQuerySet:
        """People with this ID number, found through the blind index under every configured key."""
        from bianzhi.common import pii

        return self.filter(id_number_index__in=pii.lookup_indexes(number))

    def by_id_numbers(self, numbers: list[str]) -> tuple[PersonQuerySet, dict[str, str]]:
        """People with any of these numbers, and the map from blind index back to number."""
        from bianzhi.common import pii

        index_to_number = {index: pii.normalise(n) for n in numbers for index in pii.lookup_indexes(n)}
        return self.filter(id_number_index__in=list(index_to_number)), index_to_number


class Person(models.Model):
    """A real-name person (公民身份号码, GB 11643). Sex and birth date are derived from the ID."""

    SCOPE_PATH_FIELD = "jurisdiction_path"
    SCOPE_UNIT_FIELD = "unit"

    # The ID number is stored SM4-encrypted, found by its blind index and shown masked
    # (bianzhi.common.pii); only orgs.services.person_reveal_id decrypts it, and audits that.
    id_number_enc = models.CharField(max_length=128, editable=False, verbose_name=_("citizen ID number (encrypted)"))
    id_number_index = models.CharField(
        max_length=64, unique=True, editable=False, verbose_name=_("citizen ID number (blind index)")
    )
    id_number_masked = models.CharField(max_length=18, editable=False, verbose_name=_("citizen ID number (masked)"))
    name = models.CharField(max_length=50, verbose_name=_("name"))
    sex = models.CharField(max_length=1, choices=Sex.choices, verbose_name=_("sex"))
    birth_date = models.DateField(verbose_name=_("birth date"))
    education = models.CharField(
        max_length=16, choices=Education.choices, blank=True, verbose_name=_("education")
    )
    jurisdiction = models.ForeignKey(
        "divisions.Division", on_delete=models.PROTECT, related_name="people", verbose_name=_("jurisdiction")
    )
    jurisdiction_path = models.CharField(max_length=200, db_index=True, verbose_name=_("path"))
    unit = models.ForeignKey(
        Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="people", verbose_name=_("unit")
    )

    objects = PersonQuerySet.as_manager()

    class Meta:
        ordering = ["jurisdiction_path", "name"]
        verbose_name = _("person")
        verbose_name_plural = _("people")

    def __str__(self) -> str:
        return self.name

    @property
    def masked_id(self) -> str:
        return self.id_number_masked

    def set_id_number(self, number: str) -> None:
        for field, value in sealed_id_number(number).items():
            setattr(self, field, value)


ID_NUMBER_FIELD = "orgs.person.id_number"  # bound into the ciphertext as associated data


def sealed_id_number(number: str) -> dict[str, str]:
    """The stored columns of an ID number: ciphertext, blind index, masked form."""
    from bianzhi.common import pii
    from bianzhi.common.codes import mask_resident_id

    number = pii.normalise(number)
    return {
        "id_number_enc": pii.encrypt(number, field=ID_NUMBER_FIELD),
        "id_number_index": pii.blind_index(number),
        "id_number_masked": mask_resident_id(number),
    }
