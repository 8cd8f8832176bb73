from django.utils.translation import gettext_lazy as _

from bianzhi.common.errors import define

PERIOD_INVALID = define("period_invalid", _("The period's end is before its start."))
EXPRESSION_INVALID = define(
    "expression_invalid",
    _("Not a valid expression: use indicator codes (I01 … I23), numbers, + − × ÷ and parentheses."))
INDICATOR_CODE_TAKEN = define("indicator_code_taken", _("This code is already used by an indicator."))
ALERT_NOT_FOUND = define("alert_not_found", _("Unknown alert, or an alert outside your jurisdiction."))
ALERT_RESOLVED = define("alert_resolved", _("This alert is already resolved."))
NOTE_REQUIRED = define("note_required", _("Write a note on how the finding was resolved."))
