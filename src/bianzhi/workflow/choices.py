"""Fixed enumerations the workflow engine branches on. The processes themselves (stages,
steps, roles, departments, deadlines) are data: data/processes.yaml."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class CaseStatus(models.TextChoices):
    IN_REVIEW = "in_review", _("In review")
    RETURNED = "returned", _("Returned for revision")
    APPROVED = "approved", pgettext_lazy("case", "Approved")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")




class StepStatus(models.TextChoices):
    ACTIVE = "active", _("Pending")
    APPROVED = "approved", pgettext_lazy("approval", "Approved")
    RETURNED = "returned", _("Returned")
    REJECTED = "rejected", _("Rejected")
    CANCELLED = "cancelled", _("Cancelled")


class Action(models.TextChoices):
    """What an assignee may do with a step (a process step lists the ones it allows)."""

    APPROVE = "approve", _("Approve")
    RETURN = "return", _("Return for revision")
    REJECT = "reject", _("Reject")


class EventKind(models.TextChoices):
    SUBMIT = "submit", _("Submitted")
    APPROVE = "approve", pgettext_lazy("approval", "Approved")
    RETURN = "return", _("Returned for revision")
    REJECT = "reject", _("Rejected")
    RESUBMIT = "resubmit", _("Revised and resubmitted")
    WITHDRAW = "withdraw", _("Withdrawn")
    DECIDE = "decide", _("Decision took effect")


class NotificationKind(models.TextChoices):
    ASSIGNED = "assigned", _("A step awaits you")
    RETURNED = "returned", _("Returned for revision")
    DECIDED = "decided", _("Decided")
    WITHDRAWN = "withdrawn", _("Withdrawn by the applicant")


RETURN_TO_APPLICANT = "applicant"
