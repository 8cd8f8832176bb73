from django.db import models
from django.utils.translation import gettext_lazy as _


class IndicatorKind(models.TextChoices):
    AS_OF = "as_of", _("As of a day")
    BASELINE = "baseline", _("Baseline")
    PERIOD = "period", _("Over a period")
    YEAR = "year", _("For a year")


class IndicatorUnit(models.TextChoices):
    COUNT = "count", _("people / units")
    RATE = "rate", _("rate")
    MONEY = "money", _("yuan")


class AlertStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    RESOLVED = "resolved", _("Resolved")
