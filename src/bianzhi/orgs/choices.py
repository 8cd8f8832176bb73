"""Fixed enumerations of the real-name base. Labels are the exact words of the templates."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class UnitCategory(models.TextChoices):
    PARTY_GOVERNMENT = "party_government", _("Party and government organ")
    PUBLIC_INSTITUTION = "public_institution", _("Public institution")
    MASS_ORGANISATION = "mass_organisation", _("Mass organisation")
    OTHER = "other", _("Other")


class FundingForm(models.TextChoices):
    FULL = "full", _("Fully funded by the budget")
    PARTIAL = "partial", _("Partially funded by the budget")
    SELF = "self", _("Self-financed")


class UnitStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    MERGED = "merged", _("Merged")
    ABOLISHED = "abolished", _("Abolished")


class UnitChange(models.TextChoices):
    SET_UP = "set_up", _("Set up")
    RENAME = "rename", _("Renamed")
    UPDATE = "update", _("Updated")
    MERGE = "merge", _("Merged")
    ABOLISH = "abolish", _("Abolished")
    IMPORT = "import", _("Imported")


class EstablishmentKind(models.TextChoices):
    ADMINISTRATIVE = "administrative", _("Administrative establishment")
    PUBLIC_INSTITUTION = "public_institution", _("Public-institution establishment")
    POLITICAL_LEGAL = "political_legal", _("Political-legal special establishment")


class Sex(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")


class Education(models.TextChoices):
    POSTGRADUATE = "postgraduate", _("Postgraduate")
    BACHELOR = "bachelor", _("Bachelor's degree")
    COLLEGE = "college", _("College diploma")
    HIGH_SCHOOL = "high_school", _("High school or below")
