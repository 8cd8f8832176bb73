from django.utils.translation import gettext_lazy as _

from bianzhi.common.errors import define

UNKNOWN_SITUATION = define("unknown_situation", _("Unknown situation: use one of %(allowed)s."))
UNKNOWN_POST_CLASS = define("unknown_post_class", _("Unknown post class: use one of %(allowed)s."))
UNKNOWN_WORK_TYPE = define("unknown_work_type", _("Unknown work type."))
WORK_TYPE_OTHER_CLASS = define(
    "work_type_other_class", _("The work type %(work_type)s belongs to the post class %(post_class)s.")
)
UNKNOWN_KEY_POST = define("unknown_key_post", _("Key post must be empty, 无, or one of %(allowed)s."))
UNKNOWN_FUNDING_SOURCE = define("unknown_funding_source", _("Unknown funding source: use one of %(allowed)s."))
UNKNOWN_EXIT_REASON = define("unknown_exit_reason", _("Unknown exit reason: use one of %(allowed)s."))
UNKNOWN_EDUCATION = define("unknown_education", _("Unknown education level: use one of %(allowed)s."))
LEAVE_NOT_AFTER_HIRE = define("leave_not_after_hire", _("The leave date must be after the hire date."))
HIRE_IN_FUTURE = define("hire_in_future", _("The hire date may not be in the future."))
EXIT_WITHOUT_REASON = define("exit_without_reason", _("A leave date needs an exit reason."))
REASON_WITHOUT_EXIT = define("reason_without_exit", _("An exit reason needs a leave date."))
SPELL_OVERLAP = define(
    "spell_overlap",
    _("This person already counts in another record on some of these days (%(unit)s, from %(hire_date)s)."),
)
KEY_POST_BANNED = define(
    "key_post_banned", _("Non-establishment staff may not hold personnel, finance or classified posts.")
)
SITUATION_FROZEN = define(
    "situation_frozen", _("The unit had no staff of this situation at its baseline: no new categories.")
)
POST_CLASS_FROZEN = define(
    "post_class_frozen", _("The unit had no staff of this post class at its baseline: no new categories.")
)
CAP_EXCEEDED = define("cap_exceeded", _("The unit's total cap (%(cap)s) would be exceeded."))
CLASS_CAP_EXCEEDED = define(
    "class_cap_exceeded", _("The cap of this post class (%(cap)s) would be exceeded.")
)
CLASS_MUST_REDUCE = define(
    "class_must_reduce", _("This post class must fall: a new hire may only replace someone who left this year.")
)
NO_BASELINE = define("no_baseline", _("No stock baseline has been taken for this unit's jurisdiction."))
HIRE_AUTHORISATION_REQUIRED = define(
    "hire_authorisation_required",
    _("A new hire must cite an approved, unused hire authorisation of this unit and post class."),
)
HIRE_AUTHORISATION_INVALID = define(
    "hire_authorisation_invalid",
    _("The hire authorisation is unknown, used up, expired, or for another unit or post class."),
)
PERSON_NAME_MISMATCH = define(
    "person_name_mismatch", _("This ID number is registered under another name (%(name)s).")
)
POST_NAME_REQUIRED = define("post_name_required", _("Enter a post name of 1 to 50 characters."))
COST_INVALID = define("cost_invalid", _("Monthly cost is an amount in yuan of 0 or more."))
