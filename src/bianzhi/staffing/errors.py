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

# Bulk operations (S10) and the coordinator pool (S9).
BULK_DOCUMENT_REQUIRED = define(
    "bulk_document_required", _("Applying a bulk operation needs the reference of the approving document.")
)
BULK_NOT_PENDING = define(
    "bulk_not_pending", _("This bulk operation has already been applied or cancelled.")
)
BULK_SELECTION_CHANGED = define(
    "bulk_selection_changed",
    _("The selection has changed since the preview (%(previewed)s then, %(now)s now): preview it again."),
)
BULK_SELECTION_EMPTY = define("bulk_selection_empty", _("No record in your jurisdiction matches this selection."))
BULK_CRITERIA_UNKNOWN = define(
    "bulk_criteria_unknown", _("Unknown selection field %(name)s: use %(allowed)s.")
)
BULK_CRITERIA_REQUIRED = define(
    "bulk_criteria_required",
    _("Choose a unit or at least one selection field: a whole jurisdiction cannot be moved at once."),
)
BULK_DATE_TOO_FAR = define("bulk_date_too_far", _("The leave date may be at most one year ahead."))
POOL_NOT_COORDINATOR = define(
    "pool_not_coordinator",
    _("Only coordinators and auxiliary staff of units within a city belong to the city's coordinator pool."),
)
POOL_NOT_ACTIVE = define("pool_not_active", _("The coordinator is not in post on this date."))

# Records, exits, hire authorisations and local rule rows (spells.py).
SPELL_NOT_FOUND = define("spell_not_found", _("Unknown record, or a record outside your jurisdiction."))
SPELL_ALREADY_EXITED = define("spell_already_exited", _("This record already has a leave date."))
# Same code as SPELL_OVERLAP, for an overlapping record the user may not see: no unit, no dates.
SPELL_OVERLAP_HIDDEN_MESSAGE = _("This person already counts in another record on some of these days.")
QUANTITY_INVALID = define("quantity_invalid", _("The quantity is a whole number from 1 to 1,000,000."))
VALID_TO_NOT_AFTER_FROM = define("valid_to_not_after_from", _("The end date must be after the start date."))
AUTHORISATION_NUMBER_TAKEN = define(
    "authorisation_number_taken", _("A hire authorisation with this number already exists.")
)
RULE_NOT_STRICTER = define(
    "rule_not_stricter",
    _("A local rule may only add a key post or move a post class to a stricter policy "
      "(hold the total < strictly control increases < optimise the stock < actively reduce)."),
)
RULE_SOURCE_REQUIRED = define("rule_source_required", _("Cite the policy document this rule comes from."))
RULE_NAME_TAKEN = define("rule_name_taken", _("This table already has a row with this name."))
RULE_NOT_OWN_JURISDICTION = define(
    "rule_not_own_jurisdiction", _("Local rules are added by an administrator of that jurisdiction itself.")
)
RULE_NOT_FOUND = define("rule_not_found", _("Unknown rule row, or not a local row of your jurisdiction."))
RULE_ALREADY_CLOSED = define("rule_already_closed", _("This rule row already has an end date."))
