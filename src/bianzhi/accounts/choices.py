from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    UNIT_OPERATOR = "unit_operator", _("unit operator")
    ESTABLISHMENT_REVIEWER = "establishment_reviewer", _("establishment reviewer")
    FINANCE_REVIEWER = "finance_reviewer", _("finance reviewer")
    HR_REVIEWER = "hr_reviewer", _("HR reviewer")
    DECISION_MAKER = "decision_maker", _("decision maker")
    ISSUING_OFFICE = "issuing_office", _("issuing office")
    SUPERVISOR = "supervisor", _("supervisor")
    ADMINISTRATOR = "administrator", _("administrator")
