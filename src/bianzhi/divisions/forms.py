"""Forms of the division pages: they parse input; divisions.services decides."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .choices import Level


class DivisionFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=50, label=_("Name or code"))
    depth = forms.ChoiceField(required=False, label=_("Show down to"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["depth"].choices = [  # type: ignore[attr-defined]
            ("", _("Default")),
            ("1", Level.CITY.label),
            ("2", Level.COUNTY.label),
            ("3", Level.TOWN.label),
        ]


class TownAddForm(forms.Form):
    code = forms.CharField(
        max_length=9,
        min_length=9,
        label=_("Division code"),
        help_text=_("The 6-digit county code followed by 3 digits, e.g. 440106001."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    name = forms.CharField(max_length=100, label=_("Division name"), help_text=_("e.g. Wushan Subdistrict"))

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()
