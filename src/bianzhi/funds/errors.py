"""Error codes of 编外人员经费 and purchased services."""

from django.utils.translation import gettext_lazy as _

from bianzhi.common.errors import define

MONEY_INVALID = define("money_invalid", _("An amount in yuan of 0 or more, with at most two decimals."))
YEAR_INVALID = define("year_invalid", _("A year from 2000 to next year."))
BUDGET_OVER_CAP = define(
    "budget_over_cap",
    _("The budget is above the unit's funding cap (%(cap)s yuan: its spending in the baseline year, or "
      "its control plan when lower)."))
FUNDING_CAP_UNKNOWN = define(
    "funding_cap_unknown",
    _("The unit's funding cap is not known: record its spending in %(year)s (the baseline year) or "
      "approve a control plan first."))
FUNDING_EMPTY = define("funding_empty", _("Give a budget, a spending figure, or both."))
CONTRACT_NUMBER_TAKEN = define("contract_number_taken", _("This contract number is already registered."))
CONTRACT_NUMBER_REQUIRED = define("contract_number_required", _("Enter the contract number (1 to 64 characters)."))
CONTRACT_END_BEFORE_START = define("contract_end_before_start", _("The end date is before the start date."))
UNKNOWN_SERVICE_ITEM = define("unknown_service_item", _("Not an item of the service catalogue: use one of %(allowed)s."))
CONTRACT_NOT_FOUND = define("contract_not_found", _("Unknown contract, or a contract outside your jurisdiction."))
CONTRACT_OTHER_UNIT = define("contract_other_unit", _("The contract is another unit's."))
CONTRACT_NOT_REPLACING = define(
    "contract_not_replacing", _("The contract's service (%(item)s) does not replace this record's work type."))
CONTRACT_NOT_IN_FORCE = define(
    "contract_not_in_force", _("The contract is not in force on the leave date (%(start)s to %(end)s)."))
PLAN_TARGETS_REQUIRED = define("plan_targets_required", _("Give at least one year with its target amount."))
PLAN_YEAR_TWICE = define("plan_year_twice", _("The year %(year)s is given twice."))
