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
ACCOUNT_LOCKED = define(
    "account_locked", _("Too many failed log-ins: this account is locked. Try again in %(minutes)d min.")
)
TOTP_INVALID = define("totp_invalid", _("Wrong verification code. Enter the 6-digit code your authenticator app "
                                        "shows now."))
TOTP_REPLAYED = define("totp_replayed", _("This verification code has already been used. Wait for the next code "
                                          "of your authenticator app."))
TOTP_ALREADY_ENROLLED = define("totp_already_enrolled", _("This user already has a second factor."))
TOTP_NOT_ENROLLED = define("totp_not_enrolled", _("This user has no second factor."))
TOTP_NOT_STARTED = define("totp_not_started", _("Start the enrolment first: the secret to add to the "
                                                "authenticator app has not been created."))
TOTP_UNREADABLE = define("totp_unreadable", _("The stored second factor cannot be decrypted with the configured "
                                              "key; an administrator must reset it."))
TOTP_REQUIRED = define("totp_required", _("Your role requires a second factor: enrol an authenticator app "
                                          "before using the system."))
