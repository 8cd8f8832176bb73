from django.utils.translation import gettext_lazy as _

from bianzhi.common.errors import define

DIVISION_NOT_FOUND = define(
    "division_not_found", _("Unknown division code, or a division outside your jurisdiction.")
)
DIVISION_CODE_FORMAT = define(
    "division_code_format",
    _("A town or street code is the 6-digit county code followed by 3 digits."),
)
DIVISION_EXISTS = define("division_exists", _("A division with this code already exists."))
DIVISION_PARENT_LEVEL = define(
    "division_parent_level", _("Towns and streets can only be added under a county-level division.")
)
