"""Error codes of the approvals engine (stable English codes, zh-hans messages)."""

from django.utils.translation import gettext_lazy as _

from bianzhi.common.errors import define

CASE_NOT_FOUND = define("case_not_found", _("Unknown case, or a case outside your jurisdiction."))
CASE_CLOSED = define("case_closed", _("This case is closed (%(status)s): nothing more can be done with it."))
CASE_NOT_RETURNED = define("case_not_returned", _("Only a case returned for revision can be revised and resubmitted."))
STEP_NOT_ACTIVE = define(
    "step_not_active", _("This step is not awaiting a decision now: the case is at another step."))
STEP_ALREADY_DECIDED = define("step_already_decided", _("This step has already been decided."))
STEP_NOT_YOURS = define(
    "step_not_yours", _("This step is for %(role)s of %(department)s in the case's jurisdiction, not for you."))
APPLICANT_CANNOT_DECIDE = define(
    "applicant_cannot_decide", _("The applicant cannot review or decide its own case."))
TWO_DEPARTMENTS = define(
    "two_departments",
    _("You already acted for %(department)s in this case: one person cannot act for two departments."))
ACTION_NOT_ALLOWED = define("action_not_allowed", _("This step allows only: %(allowed)s."))
OPINION_REQUIRED = define("opinion_required", _("Write an opinion (意见) for this decision."))
OPINION_TOO_LONG = define("opinion_too_long", _("An opinion is at most %(max)s characters."))
RETURN_TARGET_INVALID = define(
    "return_target_invalid", _("A return may go only to: %(allowed)s."))
NOT_APPLICANT = define("not_applicant", _("Only the applicant can do this."))
PROCESS_NOT_FOUND = define("process_not_found", _("No approval process is defined for %(kind)s."))
PROCESS_INVALID = define("process_invalid", _("The process definition is not valid: %(reason)s"))
ATTACHMENT_TOO_LARGE = define("attachment_too_large", _("An attachment is at most %(max)s MB."))
ATTACHMENT_TYPE = define("attachment_type", _("Attach PDF, Word, Excel, OFD or image files only."))
KIND_UNKNOWN = define("case_kind_unknown", _("Unknown kind of application."))
