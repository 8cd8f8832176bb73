"""Forms of the orgs pages: filter bars and the forms whose POST calls one service.

Forms only parse input; every rule lives in the services, whose :class:`BianzhiError`
is put back on the form next to the field it names (:func:`add_service_errors`).
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from bianzhi.common.errors import message_for

from .choices import Education, EstablishmentKind, FundingForm, UnitCategory, UnitStatus
from .errors import UNIT_NOT_FOUND
from .models import Unit

DATE_FORMAT = "%Y-%m-%d"


def date_field(label: Any, *, required: bool = True, help_text: Any = "") -> forms.DateField:
    """A date as ``YYYY-MM-DD`` with the browser's date picker."""
    return forms.DateField(
        label=label,
        required=required,
        help_text=help_text,
        input_formats=[DATE_FORMAT],
        widget=forms.DateInput(format=DATE_FORMAT, attrs={"type": "date"}),
        error_messages={"invalid": _("Enter a date as YYYY-MM-DD.")},
    )


def with_blank(choices: Any, label: Any = None) -> list[tuple[str, Any]]:
    return [("", label if label is not None else _("All")), *list(choices)]


def division_choices(divisions: Any, *, base_depth: int = 0) -> list[tuple[str, str]]:
    """``(code, name)`` pairs, indented by depth below the user's jurisdiction."""
    return [(d.code, "\u3000" * max(d.depth - base_depth, 0) + d.name) for d in divisions]


class StyledForm(forms.Form):
    """Forms rendered with ``common/_field.html`` (the ``bz_widget`` filter adds the Bootstrap
    classes); filter bars use the small control sizes."""

    small = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.small:
            for field in self.fields.values():
                widget = field.widget
                if isinstance(widget, (forms.Select, forms.SelectMultiple)):
                    css = "form-select-sm"
                elif isinstance(widget, (forms.HiddenInput, forms.CheckboxInput)):
                    continue
                else:
                    css = "form-control-sm"
                widget.attrs["class"] = (widget.attrs.get("class", "") + " " + css).strip()

    def value_of(self, name: str, default: Any = "") -> Any:
        """The cleaned value of a filter field, or ``default`` when it is missing or invalid."""
        if not self.is_bound:
            return default
        self.is_valid()
        value = self.cleaned_data.get(name) if hasattr(self, "cleaned_data") else None
        return default if value in (None, "") else value


# ---------------------------------------------------------------- filter bars


class UnitFilterForm(StyledForm):
    small = True
    STATUS_ALL = "all"

    q = forms.CharField(
        label=_("Keyword"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": _("Name or credit code")}),
    )
    division = forms.ChoiceField(label=_("Division"), required=False)
    category = forms.ChoiceField(
        label=_("Unit category"), required=False, choices=with_blank(UnitCategory.choices)
    )
    funding_form = forms.ChoiceField(
        label=_("Funding form"), required=False, choices=with_blank(FundingForm.choices)
    )
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[*UnitStatus.choices, (STATUS_ALL, _("All"))]
    )

    def __init__(self, *args: Any, divisions: Any = (), base_depth: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["division"]).choices = with_blank(
            division_choices(divisions, base_depth=base_depth)
        )

    def selector_params(self) -> dict[str, str]:
        status = self.value_of("status", UnitStatus.ACTIVE)
        return {
            "q": self.value_of("q").strip(),
            "division": self.value_of("division"),
            "category": self.value_of("category"),
            "funding_form": self.value_of("funding_form"),
            "status": "" if status == self.STATUS_ALL else status,
        }


class UnitTreeFilterForm(StyledForm):
    small = True

    as_of = date_field(_("As of"), required=False)
    division = forms.ChoiceField(label=_("Division"), required=False)

    def __init__(self, *args: Any, divisions: Any = (), base_depth: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["division"]).choices = with_blank(
            division_choices(divisions, base_depth=base_depth)
        )


class EstablishmentFilterForm(StyledForm):
    small = True
    PROBLEMS = [("", _("All")), ("over", _("Only over-establishment")), ("vacant", _("Only vacancies"))]

    as_of = date_field(_("As of"), required=False)
    q = forms.CharField(
        label=_("Keyword"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": _("Name or credit code")}),
    )
    division = forms.ChoiceField(label=_("Division"), required=False)
    kind = forms.ChoiceField(
        label=_("Establishment kind"), required=False, choices=with_blank(EstablishmentKind.choices)
    )
    problem = forms.ChoiceField(label=_("Show"), required=False, choices=PROBLEMS)

    def __init__(self, *args: Any, divisions: Any = (), base_depth: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["division"]).choices = with_blank(
            division_choices(divisions, base_depth=base_depth)
        )


class PersonFilterForm(StyledForm):
    small = True

    q = forms.CharField(label=_("Name"), required=False, max_length=50)
    unit = forms.IntegerField(required=False, widget=forms.HiddenInput)


# ---------------------------------------------------------------- unit forms


class UnitSetUpForm(StyledForm):
    uscc = forms.CharField(
        label=_("Unified social credit code"),
        max_length=30,
        help_text=_("18 characters, GB 32100-2015; the check character is verified."),
    )
    name = forms.CharField(label=_("Unit name"), max_length=100)
    category = forms.ChoiceField(
        label=_("Unit category"), choices=with_blank(UnitCategory.choices, "---------")
    )
    funding_form = forms.ChoiceField(
        label=_("Funding form"), choices=with_blank(FundingForm.choices, "---------")
    )
    jurisdiction = forms.ChoiceField(label=_("Division"))
    parent = forms.CharField(
        label=_("Parent unit code"),
        required=False,
        max_length=30,
        help_text=_("The unified social credit code of the parent unit; leave empty if none."),
    )
    set_up_on = date_field(_("Set-up date"))
    document_ref = forms.CharField(
        label=_("Document reference"),
        required=False,
        max_length=100,
        help_text=_("The approving document, e.g. 穗编字〔2024〕12号."),
    )

    def __init__(self, *args: Any, divisions: Any = (), base_depth: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["jurisdiction"]).choices = division_choices(
            divisions, base_depth=base_depth
        )


class UnitRenameForm(StyledForm):
    name = forms.CharField(label=_("New name"), max_length=100)
    on = date_field(_("Effective date"), help_text=_("The first day of the new name."))
    document_ref = forms.CharField(label=_("Document reference"), required=False, max_length=100)


class UnitsField(forms.ModelMultipleChoiceField):
    """Units shown as ``name（code）``."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name}（{obj.uscc}）"


class UnitMergeForm(StyledForm):
    sources = UnitsField(
        label=_("Units merged into this unit"),
        queryset=Unit.objects.none(),
        widget=forms.SelectMultiple(attrs={"size": 10}),
        help_text=_("Hold Ctrl to choose several. Their active sub-units move under this unit."),
    )
    on = date_field(_("Effective date"), help_text=_("The first day the merged units no longer exist."))
    document_ref = forms.CharField(label=_("Document reference"), required=False, max_length=100)

    def __init__(self, *args: Any, candidates: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if candidates is not None:
            cast(UnitsField, self.fields["sources"]).queryset = candidates


class UnitAbolishForm(StyledForm):
    on = date_field(_("Effective date"), help_text=_("The first day the unit no longer exists."))
    document_ref = forms.CharField(label=_("Document reference"), required=False, max_length=100)


class QuotaForm(StyledForm):
    kind = forms.ChoiceField(label=_("Establishment kind"), choices=EstablishmentKind.choices)
    approved = forms.IntegerField(label=_("Approved number"), min_value=0, max_value=10_000_000)
    actual = forms.IntegerField(label=_("Actual headcount"), min_value=0, max_value=10_000_000)
    on = date_field(_("Effective date"), help_text=_("The first day the new numbers hold."))
    document_ref = forms.CharField(label=_("Document reference"), required=False, max_length=100)


# ---------------------------------------------------------------- people


class PersonForm(StyledForm):
    id_number = forms.CharField(
        label=_("Citizen ID number"),
        max_length=30,
        help_text=_("18 characters, GB 11643-1999; sex and birth date are taken from it."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    name = forms.CharField(label=_("Name"), max_length=50)
    education = forms.ChoiceField(
        label=_("Education"), required=False, choices=with_blank(Education.choices, "---------")
    )
    unit = forms.CharField(
        label=_("Unit code"),
        required=False,
        max_length=30,
        help_text=_("The unified social credit code of the person's unit."),
    )
    jurisdiction = forms.ChoiceField(
        label=_("Division"), required=False, help_text=_("Used when no unit is given.")
    )

    def __init__(
        self,
        *args: Any,
        divisions: Any = (),
        base_depth: int = 0,
        units: Any = None,
        unit_bound: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.units = units if units is not None else Unit.objects.none()
        if unit_bound:
            del self.fields["unit"]
            del self.fields["jurisdiction"]
        else:
            cast(forms.ChoiceField, self.fields["jurisdiction"]).choices = with_blank(
                division_choices(divisions, base_depth=base_depth), "---------"
            )

    def clean_unit(self) -> Unit | None:
        """The unit code, looked up among the units the user may see (``units``)."""
        code = "".join((self.cleaned_data.get("unit") or "").split()).upper()
        if not code:
            return None
        unit = self.units.filter(uscc=code).first()
        if unit is None:
            raise forms.ValidationError(message_for(UNIT_NOT_FOUND), code=UNIT_NOT_FOUND)
        return unit
