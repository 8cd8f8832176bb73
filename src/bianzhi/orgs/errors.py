from django.utils.translation import gettext_lazy as _

from bianzhi.common.errors import define

UNIT_NOT_FOUND = define("unit_not_found", _("Unknown unit, or a unit outside your jurisdiction."))
PARENT_NOT_FOUND = define(
    "parent_not_found", _("The parent unit does not exist or is outside your jurisdiction.")
)
PARENT_IS_SELF = define("parent_cycle", _("A unit cannot be its own parent or the parent of its parent."))
UNIT_NAME_TAKEN = define(
    "unit_name_taken", _("An active unit with this name already exists in this jurisdiction.")
)
UNIT_CODE_TAKEN = define("unit_code_taken", _("A unit with this unified social credit code already exists."))
UNIT_NOT_ACTIVE = define("unit_not_active", _("The unit has been merged or abolished."))
UNIT_HAS_CHILDREN = define(
    "unit_has_children", _("The unit still has active sub-units: move or abolish them first.")
)
DATE_NOT_AFTER_PREVIOUS = define(
    "date_not_after_previous", _("The change date must be after the date of the current state (%(previous)s).")
)
MERGE_NEEDS_SOURCES = define("merge_needs_sources", _("Choose at least one other unit to merge."))
NAME_REQUIRED = define("name_required", _("Enter a name of 1 to 100 characters."))
REVEAL_PURPOSE_REQUIRED = define(
    "reveal_purpose_required", _("Say why you need the full ID number (1 to 200 characters): it is recorded.")
)
PERSON_EXISTS = define("person_exists", _("A person with this citizen ID number is already registered."))
QUOTA_NEGATIVE = define("quota_invalid", _("Establishment numbers are whole numbers from 0 to 1,000,000."))
ID_BIRTH_MISMATCH = define("id_birth_mismatch", _("The birth date does not match the citizen ID number."))
ID_SEX_MISMATCH = define("id_sex_mismatch", _("The sex does not match the citizen ID number."))
