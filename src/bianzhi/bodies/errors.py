from django.utils.translation import gettext_lazy as _

from bianzhi.common.errors import define

BODY_NOT_FOUND = define("body_not_found", _("Unknown body, or a body outside your jurisdiction."))
BODY_CODE_INVALID = define("body_code_invalid", _("Not a valid body code (18 characters, check character wrong)."))
BODY_NAME_TAKEN = define("body_name_taken", _("An active body of this jurisdiction already has this name."))
BODY_NOT_ACTIVE = define("body_not_active", _("This body is no longer active (%(status)s)."))
GROUND_REQUIRED = define("ground_required", _("Cite a positive-list ground: %(allowed)s."))
PARENT_BODY_REQUIRED = define(
    "parent_body_required", _("A body set up to mirror the level above must name that body (its code)."))
NEGATIVE_ANSWER_REQUIRED = define(
    "negative_answer_required", _("Answer the negative-list question: %(item)s."))
MEMBER_CAP_EXCEEDED = define(
    "member_cap_exceeded",
    _("%(count)s member units exceed the cap of %(cap)s: state the reason for the exception."))
NAME_REQUIRED = define("body_name_required", _("Enter the body's name (1 to 100 characters)."))
DUTIES_REQUIRED = define("duties_required", _("Describe the body's duties."))
UNKNOWN_BODY_KIND = define("unknown_body_kind", _("Unknown kind of body: use one of %(allowed)s."))
CHANGE_OUTSIDE_PROCEDURE = define(
    "change_outside_procedure",
    _("The registry changes only when the document of an approved change is issued."))
SIMILARITY_REASON_REQUIRED = define(
    "similarity_reason_required",
    _("Similar bodies exist (best match %(score)s): record why they do not bar the set-up."))
MERGE_NEEDS_TWO = define("merge_needs_two", _("A merger needs at least one other active body of the jurisdiction."))
NOTHING_CHANGES = define("nothing_changes", _("The application changes nothing."))
TASK_GROUP_NOT_FOUND = define("task_group_not_found", _("The body has no current task group of this name."))
TASK_GROUP_TAKEN = define("task_group_taken", _("The body already has a current task group of this name."))
BODY_CODE_TAKEN = define(
    "body_code_taken", _("This body code belongs to another body (of another jurisdiction, or outside yours)."))
BODY_DIVISION_LEVEL = define(
    "body_division_level",
    _("Coordinating bodies are set up at the province, city or county level (a 6-digit division code)."))
PLANNED_END_BEFORE_SET_UP = define(
    "planned_end_before_set_up", _("The planned end date may not be before the set-up date."))
