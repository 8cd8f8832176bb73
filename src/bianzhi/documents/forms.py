"""Forms of the document pages: the list filter and the void form. They parse input only."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from bianzhi.orgs.forms import StyledForm

from .choices import DocumentStatus


class DocumentFilterForm(StyledForm):
    small = True
    year = forms.TypedChoiceField(label=_("Year"), required=False, coerce=int, empty_value=None)
    office = forms.TypedChoiceField(label=_("Issuing office"), required=False, coerce=int, empty_value=None)
    status = forms.ChoiceField(label=_("Status"), required=False,
                               choices=[("", _("All statuses")), *DocumentStatus.choices])
    q = forms.CharField(label=_("Number, title or case"), required=False, max_length=100)

    def __init__(self, *args: Any, years: list[int], offices: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["year"].choices = [("", _("All years")), *((y, str(y)) for y in years)]  # type: ignore[attr-defined]
        self.fields["office"].choices = [("", _("All offices")), *offices]  # type: ignore[attr-defined]


class VoidForm(StyledForm):
    reason = forms.CharField(label=_("Reason for voiding"), max_length=1000,
                             widget=forms.Textarea(attrs={"rows": 2}))
