"""Forms of the statistics pages. The scope and date parameters are passed to
:func:`bianzhi.stats.selectors.resolve` as typed: the selector checks them (scope, dates,
period, year) and its errors are put back next to the fields, like any service's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from bianzhi.orgs.forms import DATE_FORMAT, StyledForm, division_choices

PARAM_FIELDS = ("scope", "unit", "own_level", "subunits", "as_of", "from", "to", "year")


def _date_input() -> forms.DateInput:
    return forms.DateInput(format=DATE_FORMAT, attrs={"type": "date", "placeholder": "YYYY-MM-DD"})


class IndicatorParamsForm(StyledForm):
    """Scope (a jurisdiction of the user's scope, or one unit by its code; 本级; with sub-units)
    and dates (as of a day, a period, a year). ``only`` keeps some of the fields."""

    small = True

    scope = forms.CharField(label=_("Jurisdiction"), required=False, widget=forms.Select)
    unit = forms.CharField(label=_("Unit (unified social credit code)"), required=False, max_length=40,
                           widget=forms.TextInput(attrs={"placeholder": _("All units of the jurisdiction")}))
    own_level = forms.BooleanField(label=_("Own level only"), required=False,
                                   help_text=_("Only the units of the jurisdiction itself (本级), not of those below it."))
    subunits = forms.BooleanField(label=_("With sub-units"), required=False,
                                  help_text=_("With a unit: the unit and the units below it."))
    as_of = forms.CharField(label=_("As of"), required=False, widget=_date_input())
    year = forms.CharField(label=_("Year"), required=False, max_length=4,
                           widget=forms.NumberInput(attrs={"min": 1900, "max": 2200, "step": 1}))

    def __init__(self, *args: Any, divisions: Any = (), base_depth: int = 0,
                 only: Sequence[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["from"] = forms.CharField(label=_("Period from"), required=False, widget=_date_input())
        self.fields["to"] = forms.CharField(label=_("Period to"), required=False, widget=_date_input())
        for name in ("from", "to"):
            self.fields[name].widget.attrs["class"] = "form-control-sm"
        self.order_fields(PARAM_FIELDS)
        self.fields["scope"].widget.choices = division_choices(divisions, base_depth=base_depth)
        for name in list(self.fields):
            if only is not None and name not in only:
                del self.fields[name]

    def params(self) -> dict[str, Any]:
        """Keyword arguments of :func:`bianzhi.stats.selectors.resolve` (empty when unbound)."""
        if not self.is_bound or not self.is_valid():
            return {}
        d = self.cleaned_data
        out: dict[str, Any] = {
            "scope": d.get("scope") or "", "unit": (d.get("unit") or "").strip(),
            "own_level": bool(d.get("own_level")), "subunits": bool(d.get("subunits")),
            "as_of": d.get("as_of") or None, "start": d.get("from") or None, "end": d.get("to") or None,
            "year": d.get("year") or None,
        }
        return {k: v for k, v in out.items() if k in self._names()}

    def _names(self) -> set[str]:
        rename = {"from": "start", "to": "end"}
        return {rename.get(name, name) for name in self.fields}


class IndicatorAddForm(StyledForm):
    """A jurisdiction's own indicator (services.indicator_add)."""

    code = forms.CharField(label=_("Code"), max_length=16,
                           help_text=_("Letters, digits and underscores, e.g. TH01; not I01 … I23."))
    name = forms.CharField(label=_("Indicator name"), max_length=100)
    expression = forms.CharField(label=_("Expression"), max_length=200,
                                 help_text=_("Indicator codes (I01 … I23, not the splits I08, I09, I13), numbers, "
                                             "+ − × ÷ and parentheses, e.g. (I01 − I03) ÷ I03 × 100."))
    definition = forms.CharField(label=_("Definition"), required=False, max_length=2000,
                                 widget=forms.Textarea(attrs={"rows": 2}))
    source_document = forms.CharField(label=_("Source document"), required=False, max_length=200)
