"""Forms of the approval pages: the two applications, a decision, a withdrawal, a process
version. They parse input only; the services decide (their errors come back next to the
field they name)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from bianzhi.orgs.forms import StyledForm
from bianzhi.staffing.choices import RuleTable
from bianzhi.staffing.forms import RuleForm, UnitField

from .choices import CaseStatus


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class AttachmentsField(forms.FileField):
    """Zero or more files (checked by the services: type and size)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        if isinstance(data, (list, tuple)):
            return [f for f in data if f]
        return [data] if data else []


class HireApplicationForm(RuleForm):
    rule_fields = {"situation": RuleTable.SITUATION, "post_class": RuleTable.POST_CLASS,
                   "work_type": RuleTable.WORK_TYPE, "funding_source": RuleTable.FUNDING_SOURCE}

    unit = UnitField(label=_("Unit"), required=False)
    situation = forms.ChoiceField(label=_("Situation"))
    post_class = forms.ChoiceField(label=_("Post class"))
    work_type = forms.ChoiceField(label=_("Work type"))
    quantity = forms.IntegerField(label=_("Hires applied for"), min_value=1, max_value=10000)
    post_names = forms.CharField(label=_("Post names"), widget=forms.Textarea(attrs={"rows": 3}),
                                 help_text=_("One post name per line, at most one per hire."))
    funding_source = forms.ChoiceField(label=_("Funding source"))
    monthly_cost = forms.DecimalField(label=_("Estimated monthly cost per person (yuan)"), required=False,
                                      min_value=0, max_digits=12, decimal_places=2)
    reason = forms.CharField(label=_("Reason"), max_length=1000, widget=forms.Textarea(attrs={"rows": 4}))
    attachments = AttachmentsField(label=_("Attachments"))

    def __init__(self, *args: Any, units: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if units is None:
            del self.fields["unit"]
        else:
            field = self.fields["unit"]
            assert isinstance(field, UnitField)
            field.required = True
            field.set_units(units)

    def data_for_service(self) -> dict[str, Any]:
        d = self.cleaned_data
        out = {k: d[k] for k in ("situation", "post_class", "work_type", "quantity", "funding_source", "reason")}
        out["post_names"] = d["post_names"].splitlines()
        out["monthly_cost"] = "" if d["monthly_cost"] is None else str(d["monthly_cost"])
        if d.get("unit") is not None:
            out["unit"] = d["unit"].pk
        return out


class CapChangeApplicationForm(RuleForm):
    rule_fields = {"post_class": RuleTable.POST_CLASS}
    blank_label = _("Total cap of the unit")

    unit = UnitField(label=_("Unit"), required=False)
    post_class = forms.ChoiceField(label=_("Cap of"), required=False)
    cap = forms.IntegerField(label=_("New cap"), min_value=0)
    reason = forms.CharField(label=_("Reason"), max_length=1000, widget=forms.Textarea(attrs={"rows": 4}))
    attachments = AttachmentsField(label=_("Attachments"))

    def __init__(self, *args: Any, units: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if units is None:
            del self.fields["unit"]
        else:
            field = self.fields["unit"]
            assert isinstance(field, UnitField)
            field.required = True
            field.set_units(units)

    def data_for_service(self) -> dict[str, Any]:
        d = self.cleaned_data
        out = {"post_class": d["post_class"], "cap": d["cap"], "reason": d["reason"]}
        if d.get("unit") is not None:
            out["unit"] = d["unit"].pk
        return out


class DecisionForm(StyledForm):
    step = forms.CharField(widget=forms.HiddenInput)
    action = forms.ChoiceField(label=_("Decision"), widget=forms.RadioSelect)
    return_to = forms.ChoiceField(label=_("Return to"), required=False)
    opinion = forms.CharField(label=_("Opinion"), required=False, max_length=2000,
                              widget=forms.Textarea(attrs={"rows": 3}))
    attachments = AttachmentsField(label=_("Attachments"))

    def __init__(self, *args: Any, actions: list[tuple[str, Any]], targets: list[tuple[str, str]],
                 extra_fields: list[tuple[str, Any, Any]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = actions  # type: ignore[attr-defined]
        self.fields["return_to"].choices = targets  # type: ignore[attr-defined]
        # what the case's kind asks of this step beyond the opinion: (name, label, help), checked by the service
        extra_fields = extra_fields or []
        self.extra_names = [name for name, _label, _help in extra_fields]
        for name, label, help_text in extra_fields:
            self.fields[name] = forms.CharField(label=label, help_text=help_text, required=False, max_length=2000,
                                                widget=forms.Textarea(attrs={"rows": 3}))
        self.order_fields(["step", "action", "return_to", *self.extra_names, "opinion", "attachments"])


class WithdrawForm(StyledForm):
    reason = forms.CharField(label=_("Reason for withdrawal"), required=False, max_length=2000)


class ResubmitNoteForm(StyledForm):
    note = forms.CharField(label=_("What was revised"), required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 2}))


class CaseFilterForm(StyledForm):
    small = True
    status = forms.ChoiceField(label=_("Status"), required=False,
                               choices=[("", _("All statuses")), *CaseStatus.choices])
    kind = forms.ChoiceField(label=_("Kind"), required=False)
    q = forms.CharField(label=_("Number or title"), required=False, max_length=100)

    def __init__(self, *args: Any, kinds: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", _("All kinds")), *kinds]  # type: ignore[attr-defined]


class ProcessForm(StyledForm):
    name = forms.CharField(label=_("Name"), max_length=100)
    definition = forms.CharField(label=_("Stages and steps (YAML)"), widget=forms.Textarea(attrs={"rows": 24,
                                                                                                 "class": "font-monospace"}))
    source_document = forms.CharField(label=_("Source document"), max_length=200)
