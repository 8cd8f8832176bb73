"""Forms of the funds pages: filter bars, the funding and contract forms, the move of a post to
a purchased service, the funding control plan application and the import uploads.

Forms only parse input; amounts, years and the catalogue are checked by the services (their
:class:`~bianzhi.common.errors.BianzhiError` comes back next to the field it names), so money
and years are text fields here and the services' error codes reach the user unchanged.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from bianzhi.orgs.forms import StyledForm, date_field, with_blank
from bianzhi.orgs.models import Unit
from bianzhi.staffing.forms import UnitField
from bianzhi.workflow.forms import AttachmentsField

PLAN_TARGET_ROWS = 5


def _money_input(placeholder: Any = "") -> forms.TextInput:
    return forms.TextInput(attrs={"inputmode": "decimal", "placeholder": placeholder or "0.00"})


def _year_input() -> forms.TextInput:
    return forms.TextInput(attrs={"inputmode": "numeric", "maxlength": "4", "placeholder": "2026"})


# ---------------------------------------------------------------- funding


class FundingFilterForm(StyledForm):
    small = True

    year = forms.IntegerField(label=_("Year"), required=False, min_value=2000, max_value=2100)
    unit = UnitField(label=_("Unit"), required=False, allow_name=True)
    over = forms.BooleanField(label=_("Over the funding cap only"), required=False)

    def __init__(self, *args: Any, units: QuerySet[Unit] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if units is None:
            del self.fields["unit"]
        else:
            cast(UnitField, self.fields["unit"]).set_units(units, _("All"))


class FundingForm(StyledForm):
    unit = UnitField(label=_("Unit"))
    year = forms.CharField(label=_("Year"), max_length=6, widget=_year_input())
    budget = forms.CharField(
        label=_("Budget (yuan)"), required=False, max_length=30, widget=_money_input(),
        help_text=_("The declared budget of 编外人员经费. Above the unit's funding cap it is refused. "
                    "Leave empty to keep the current figure."))
    spending = forms.CharField(
        label=_("Spending (yuan)"), required=False, max_length=30, widget=_money_input(),
        help_text=_("The actual spending of the year. Leave empty to keep the current figure."))

    def __init__(self, *args: Any, units: QuerySet[Unit], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(UnitField, self.fields["unit"]).set_units(units)

    def service_kwargs(self) -> dict[str, Any]:
        """The figures given (an empty box keeps the stored figure: it is not passed)."""
        d = self.cleaned_data
        out: dict[str, Any] = {"unit_id": d["unit"].pk, "year": d["year"]}
        for name in ("budget", "spending"):
            if d[name].strip():
                out[name] = d[name].strip()
        return out


# ---------------------------------------------------------------- control plans


class PlanFilterForm(StyledForm):
    small = True

    year = forms.IntegerField(label=_("Year"), required=False, min_value=2000, max_value=2100)
    history = forms.BooleanField(label=_("Include superseded plans"), required=False)


class TargetsWidget(forms.MultiWidget):
    """Up to five rows of (year, target amount)."""

    template_name = "funds/widgets/targets.html"

    def __init__(self, rows: int = PLAN_TARGET_ROWS, attrs: Any = None) -> None:
        widgets: list[forms.Widget] = []
        for _row in range(rows):
            widgets += [forms.TextInput(attrs={"inputmode": "numeric", "maxlength": "4"}),
                        _money_input(_("Target (yuan)"))]
        super().__init__(widgets, attrs)

    def decompress(self, value: Any) -> list[Any]:
        cells: list[Any] = []
        for row in value or []:
            if isinstance(row, dict):
                cells += [row.get("year", ""), row.get("amount", "")]
        size = len(self.widgets)
        return (cells + [""] * size)[:size]

    def get_context(self, name: str, value: Any, attrs: Any) -> dict[str, Any]:
        if isinstance(value, (list, tuple)) and any(isinstance(v, dict) for v in value):
            value = self.decompress(value)  # the targets of an application being revised
        context = super().get_context(name, value, attrs)
        subwidgets = context["widget"]["subwidgets"]
        context["widget"]["rows"] = [(subwidgets[i], subwidgets[i + 1]) for i in range(0, len(subwidgets), 2)]
        return context


class TargetsField(forms.MultiValueField):
    """The targets as ``[{"year", "amount"}]`` (rows left empty are dropped; the service checks
    the years and amounts, so its codes reach the user)."""

    widget = TargetsWidget

    def __init__(self, **kwargs: Any) -> None:
        fields = [forms.CharField(required=False, max_length=30) for _cell in range(PLAN_TARGET_ROWS * 2)]
        super().__init__(fields=fields, require_all_fields=False, required=False, **kwargs)

    def compress(self, data_list: list[Any]) -> list[dict[str, str]]:
        cells = list(data_list or [])
        out = []
        for i in range(0, len(cells), 2):
            year, amount = (str(cells[i] or "").strip(), str(cells[i + 1] or "").strip())
            if year or amount:
                out.append({"year": year, "amount": amount})
        return out


class FundingPlanApplicationForm(StyledForm):
    """经费控制方案: a unit's (chosen by reviewers, fixed for a unit operator) or a whole
    jurisdiction's target amounts by year. ``_apply`` of the approvals passes ``rules`` and
    ``units`` (``None`` for a unit operator and when revising: the subject stays as applied)."""

    unit = UnitField(label=_("Unit"), required=False,
                     help_text=_("Leave empty for a plan of a whole jurisdiction."))
    jurisdiction = forms.CharField(
        label=_("Jurisdiction (division code)"), required=False, max_length=12,
        help_text=_("For a plan of a whole jurisdiction: its division code (empty: your own jurisdiction)."))
    targets = TargetsField(label=_("Targets by year"),
                           help_text=_("Up to five years, each with its target amount in yuan."))
    reason = forms.CharField(label=_("Reason"), max_length=1000, widget=forms.Textarea(attrs={"rows": 4}))
    attachments = AttachmentsField(label=_("Attachments"))

    def __init__(self, *args: Any, rules: Any = None, units: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        initial = self.initial
        self.fixed_unit = initial.get("unit") if units is None else None
        if units is None:
            del self.fields["unit"]
            if self.fixed_unit or not initial.get("jurisdiction"):
                # A unit operator plans its own unit; a unit plan being revised stays the unit's.
                del self.fields["jurisdiction"]
        else:
            cast(UnitField, self.fields["unit"]).set_units(units, _("— a whole jurisdiction —"))

    def data_for_service(self) -> dict[str, Any]:
        d = self.cleaned_data
        out: dict[str, Any] = {"targets": d["targets"], "reason": d["reason"]}
        if d.get("unit") is not None:
            out["unit"] = d["unit"].pk
        elif self.fixed_unit:
            out["unit"] = self.fixed_unit
        elif (d.get("jurisdiction") or "").strip():
            out["jurisdiction"] = d["jurisdiction"].strip()
        return out


# ---------------------------------------------------------------- contracts


class ContractFilterForm(StyledForm):
    small = True

    q = forms.CharField(label=_("Keyword"), required=False, max_length=64,
                        widget=forms.TextInput(attrs={"placeholder": _("Contract number or unit name")}))
    unit = UnitField(label=_("Unit"), required=False, allow_name=True)
    item = forms.ChoiceField(label=_("Service item"), required=False)
    in_force_on = date_field(_("In force on"), required=False)

    def __init__(self, *args: Any, units: QuerySet[Unit] | None = None, items: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if units is None:
            del self.fields["unit"]
        else:
            cast(UnitField, self.fields["unit"]).set_units(units, _("All"))
        cast(forms.ChoiceField, self.fields["item"]).choices = with_blank(items)


class ContractForm(StyledForm):
    unit = UnitField(label=_("Unit"))
    number = forms.CharField(label=_("Contract number"), max_length=64)
    item = forms.ChoiceField(label=_("Service item"), help_text=_("An item of the service catalogue."))
    start = date_field(_("Start date"))
    end = date_field(_("End date"), help_text=_("The contract is in force on both the start and the end date."))
    amount = forms.CharField(label=_("Amount (yuan)"), max_length=30, widget=_money_input())

    def __init__(self, *args: Any, units: QuerySet[Unit], items: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(UnitField, self.fields["unit"]).set_units(units)
        cast(forms.ChoiceField, self.fields["item"]).choices = with_blank(items, "---------")


# ---------------------------------------------------------------- two-sided occupation, both fall


class DoubleDippingFilterForm(StyledForm):
    small = True

    a = date_field(_("From"), required=False)
    b = date_field(_("To"), required=False)
    unit = UnitField(label=_("Unit"), required=False, allow_name=True)

    def __init__(self, *args: Any, units: QuerySet[Unit] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if units is None:
            del self.fields["unit"]
        else:
            cast(UnitField, self.fields["unit"]).set_units(units, _("All"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        a, b = data.get("a"), data.get("b")
        if a is not None and b is not None and b < a:
            from bianzhi.common.errors import message_for
            from bianzhi.stats.errors import PERIOD_INVALID

            self.add_error("b", forms.ValidationError(message_for(PERIOD_INVALID), code=PERIOD_INVALID))
        return data


class BothFallFilterForm(StyledForm):
    small = True

    year = forms.IntegerField(label=_("Year"), required=False, min_value=2000, max_value=2100)


# ---------------------------------------------------------------- posts moved to purchased services


class ConversionFilterForm(StyledForm):
    small = True

    year = forms.IntegerField(label=_("Year"), required=False, min_value=2000, max_value=2100)
    unit = UnitField(label=_("Unit"), required=False, allow_name=True)

    def __init__(self, *args: Any, units: QuerySet[Unit] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if units is None:
            del self.fields["unit"]
        else:
            cast(UnitField, self.fields["unit"]).set_units(units, _("All"))


class ExitToServiceForm(StyledForm):
    leave_date = date_field(_("Leave date"), help_text=_("The first day the person is no longer in post."))
    contract = forms.ChoiceField(label=_("Contract taking over the work"))

    def __init__(self, *args: Any, contracts: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["contract"]).choices = with_blank(contracts, "---------")
