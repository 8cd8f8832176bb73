from django.utils.translation import gettext_lazy as _

from bianzhi.common.errors import define

USERNAME_TAKEN = define("username_taken", _("This user name is already taken."))
USERNAME_FORMAT = define(
    "username_format", _("User names are 3 to 150 letters, digits and @ . + - _ characters.")
)
ROLE_UNKNOWN = define("role_unknown", _("Unknown role."))
UNIT_REQUIRED = define("unit_required", _("A unit operator must be bound to a unit of its jurisdiction."))
PASSWORD_WEAK = define("password_weak", _("The password does not meet the password rules: %(reasons)s"))
TOKEN_DAYS = define("token_days", _("The number of days must be zero (never expires) or more."))
