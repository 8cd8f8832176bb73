"""Forms of the coordinating bodies' pages: the registry's filter bar, the set-up application,
the five change applications and the similar-bodies check.

Forms only parse input. Every rule (codes and their check character, names taken, the
positive and negative lists, the member cap) lives in the kinds' ``clean`` and the services;
their violations come back next to the field they name. The application forms are run by
the approvals' generic apply view (:func:`bianzhi.workflow.views._apply`), which passes
``rules`` (the rule tables of the user's jurisdiction) and ``units`` (the active units of the
user's scope; ``None`` for a unit operator and when a returned application is revised).
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from bianzhi.orgs.forms import StyledForm, date_field, division_choices, with_blank
from bianzhi.orgs.models import Unit
from bianzhi.staffing.choices import RuleTable
from bianzhi.staffing.forms import UNIT_SELECT_MAX, RuleForm, UnitField, rule_choices
from bianzhi.workflow.forms import AttachmentsField

from .models import BodyStatus

CODE_MAX = 18


def _lines(value: Any) -> list[str]:
    """Codes typed one a line (commas and semicolons also separate them)."""
    text = str(value or "")
    for sep in (",", "，", ";", "；", "、"):
        text = text.replace(sep, "\n")
    return [line.strip() for line in text.splitlines() if line.strip()]


def _credit_codes(pks: Any) -> str:
    """The credit codes of units named by id in an application being revised, one a line."""
    ids = [p for p in (pks if isinstance(pks, (list, tuple)) else [pks]) if p not in (None, "")]
    if not ids:
        return ""
    codes = dict(Unit.objects.filter(pk__in=ids).values_list("pk", "uscc"))
    return "\n".join(codes.get(int(p), str(p)) if str(p).isdigit() else str(p) for p in ids)


def _code_field(label: Any, *, required: bool = True, help_text: Any = "") -> forms.CharField:
    return forms.CharField(
        label=label, required=required, max_length=CODE_MAX + 2, help_text=help_text,
        widget=forms.TextInput(attrs={"class": "font-monospace", "autocomplete": "off",
                                      "placeholder": "YX…", "spellcheck": "false"}))


def _textarea(rows: int = 3) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows})


# ---------------------------------------------------------------- the registry's filter bar


class BodyFilterForm(RuleForm):
    small = True
    blank_label = _("All")
    rule_fields = {"kind": RuleTable.BODY_KIND}

    q = forms.CharField(label=_("Keyword"), required=False, max_length=100,
                        widget=forms.TextInput(attrs={"placeholder": _("Name or body code")}))
    jurisdiction = forms.ChoiceField(label=_("Jurisdiction"), required=False)
    kind = forms.ChoiceField(label=_("Kind"), required=False)
    lead_unit = UnitField(label=_("Lead unit"), required=False, allow_name=True)
    member_unit = UnitField(label=_("Member unit"), required=False, allow_name=True)
    status = forms.ChoiceField(label=_("Status"), required=False, choices=with_blank(BodyStatus.choices))

    def __init__(self, *args: Any, divisions: Any = (), base_depth: int = 0, units: QuerySet[Unit] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["jurisdiction"]).choices = with_blank(
            division_choices(divisions, base_depth=base_depth))
        for name in ("lead_unit", "member_unit"):
            if units is None:
                del self.fields[name]
            else:
                cast(UnitField, self.fields[name]).set_units(units, _("All"))

    @property
    def failed(self) -> bool:
        """A filter naming something outside the scope (or malformed) matches nothing, never everything."""
        return self.is_bound and not self.is_valid()

    def selector_params(self) -> dict[str, Any]:
        """The arguments of ``selectors.bodies_in_scope``."""
        params: dict[str, Any] = {}
        for name in ("q", "jurisdiction", "kind", "status"):
            params[name] = self.value_of(name)
        for name in ("lead_unit", "member_unit"):
            unit = self.value_of(name, None)
            params[name] = unit.pk if unit is not None else None
        return params


# ---------------------------------------------------------------- members: a multi-select and/or codes


class _MembersMixin(forms.Form):
    """Member units: a multi-select of the units of the user's scope (when there are not too
    many of them) and a text box for credit codes, one a line. Both go to the service, which
    checks every unit (unknown or out of scope: ``unit_not_found``)."""

    members_help = _("Choose the member units in the list (Ctrl-click for several) or type their unified social "
                     "credit codes below, one a line.")

    def _set_up_members(self, units: QuerySet[Unit] | None) -> None:
        options = (list(units.order_by("name", "pk").values_list("pk", "name")[: UNIT_SELECT_MAX + 1])
                   if units is not None else [])
        if units is None or len(options) > UNIT_SELECT_MAX:
            del self.fields["members"]
            field = self.fields["member_codes"]
            field.label = _("Member units (credit codes)")
            field.help_text = _("The unified social credit codes of the member units, one a line.")
            initial = self.initial.get("members")
            if initial and "member_codes" not in self.initial:
                self.initial["member_codes"] = _credit_codes(initial)
        else:
            members = cast(forms.MultipleChoiceField, self.fields["members"])
            initial = self.initial.get("members")
            chosen = {str(p) for p in initial} if isinstance(initial, (list, tuple)) else set()
            if chosen:
                self.initial["members"] = sorted(chosen)
            # the current members first, so that a change of members starts from what is in force
            members.choices = sorted(((str(pk), name) for pk, name in options), key=lambda o: o[0] not in chosen)
            members.widget.attrs["size"] = str(min(12, max(4, len(options))))
            members.help_text = self.members_help

    def members_for_service(self) -> list[Any]:
        d = self.cleaned_data
        picked: list[Any] = [int(p) for p in d.get("members") or []]
        for code in _lines(d.get("member_codes")):
            picked.append(int(code) if code.isdigit() and len(code) <= 10 else code.upper())
        return picked


# ---------------------------------------------------------------- set-up


class BodySetupForm(_MembersMixin, RuleForm):
    """设立申请: the lead unit (fixed for a unit operator), the registry's fields, the positive-list
    ground and one answer per negative-list question of the rule table."""

    apply_template = "bodies/apply.html"
    rule_fields = {"kind": RuleTable.BODY_KIND, "ground": RuleTable.POSITIVE_GROUND}
    blank_label = "---------"

    name = forms.CharField(label=_("Body name"), max_length=100)
    kind = forms.ChoiceField(label=_("Kind"))
    lead_unit = UnitField(label=_("Lead unit"), required=False)
    office_unit = UnitField(label=_("Office seat"), required=False,
                            help_text=_("The unit the body's office is set up in (办公室设在)."))
    leader_posts = forms.CharField(label=_("Leader posts"), required=False, max_length=500, widget=_textarea(2),
                                   help_text=_("By post title, e.g. 组长：区长；副组长：分管副区长."))
    members = forms.MultipleChoiceField(label=_("Member units"), required=False)
    member_codes = forms.CharField(label=_("More member units (credit codes)"), required=False,
                                   widget=_textarea(3), help_text=_("Unified social credit codes, one a line."))
    duties = forms.CharField(label=_("Duties"), max_length=5000, widget=_textarea(4))
    ground = forms.ChoiceField(label=_("Positive-list ground"))
    parent_body = _code_field(_("Body above it mirrors (code)"), required=False,
                              help_text=_("Only for the ground 对应上级设立: the code of the body of the level above."))
    basis = forms.CharField(label=_("Legal or policy basis"), required=False, max_length=300)
    planned_end = date_field(_("Planned end"), required=False,
                             help_text=_("For a body set up for a limited time (YYYY-MM-DD)."))
    over_cap_reason = forms.CharField(
        label=_("Reason for exceeding the member cap"), required=False, max_length=500, widget=_textarea(2),
        help_text=_("Only when the member units exceed the cap of the rule table."))
    attachments = AttachmentsField(label=_("Attachments"))

    def __init__(self, *args: Any, rules: Any, units: QuerySet[Unit] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, rules=rules, **kwargs)
        initial = self.initial
        # the negative list: one question per row of the rule table, answered in a text area
        given = initial.get("negative")
        answers: dict[str, Any] = given if isinstance(given, dict) else {}
        self.negative_names: list[str] = []
        for code, name in rule_choices(rules, RuleTable.NEGATIVE_ITEM):
            field_name = f"negative_{code}"
            self.fields[field_name] = forms.CharField(
                label=_("Negative list: %(item)s?") % {"item": name}, max_length=1000, widget=_textarea(2),
                help_text=_("Explain why this item of the negative list does not apply."))
            self.negative_names.append(field_name)
            if code in answers:
                initial.setdefault(field_name, answers[code])
        self.fixed_lead = initial.get("lead_unit") if units is None else None
        if units is None:
            # a unit operator applies for its own unit; an application being revised keeps its lead unit
            del self.fields["lead_unit"]
            office = forms.CharField(label=_("Office seat (credit code)"), required=False, max_length=20,
                                     help_text=self.fields["office_unit"].help_text)
            self.fields["office_unit"] = office
            if initial.get("office_unit") not in (None, ""):
                initial["office_unit"] = _credit_codes([initial["office_unit"]])
        else:
            lead = cast(UnitField, self.fields["lead_unit"])
            lead.required = True
            lead.set_units(units)
            cast(UnitField, self.fields["office_unit"]).set_units(units, _("— none —"))
        self._set_up_members(units)

    @property
    def sections(self) -> list[tuple[Any, list[Any]]]:
        """The form in parts, as (legend, bound fields)."""
        parts = [
            (_("The body"), ["name", "kind", "lead_unit", "office_unit", "leader_posts", "duties"]),
            (_("Member units"), ["members", "member_codes", "over_cap_reason"]),
            (_("Positive list"), ["ground", "parent_body", "basis"]),
            (_("Negative list"), self.negative_names),
            (_("Term and attachments"), ["planned_end", "attachments"]),
        ]
        return [(legend, [self[n] for n in names if n in self.fields]) for legend, names in parts]

    @property
    def similar_fields(self) -> str:
        """The fields the similar-bodies check sends (CSS selectors for ``hx-include``)."""
        names = ["name", "duties", *(["lead_unit"] if "lead_unit" in self.fields else [])]
        return ", ".join(f"[name={n}]" for n in names)

    def data_for_service(self) -> dict[str, Any]:
        d = self.cleaned_data
        out: dict[str, Any] = {k: d.get(k) or "" for k in ("name", "kind", "leader_posts", "duties", "ground",
                                                          "parent_body", "basis", "over_cap_reason")}
        out["parent_body"] = out["parent_body"].strip().upper()
        out["planned_end"] = d["planned_end"].isoformat() if d.get("planned_end") else ""
        lead = d.get("lead_unit")
        if lead is not None:
            out["lead_unit"] = lead.pk
        elif self.fixed_lead:
            out["lead_unit"] = self.fixed_lead
        office = d.get("office_unit")
        out["office_unit"] = office.pk if isinstance(office, Unit) else (str(office or "").strip().upper() or None)
        out["members"] = self.members_for_service()
        out["negative"] = {name.removeprefix("negative_"): d.get(name, "") for name in self.negative_names}
        return out


# ---------------------------------------------------------------- the five changes


class BodyChangeForm(_MembersMixin, RuleForm):
    """更名 / 合并 / 撤销 / 职责调整 / 成员调整: the body by its code (prefilled from the body's
    page, validated with its check character by the service) and the reason; each kind adds its
    own fields."""

    apply_template = "bodies/apply.html"
    kind = ""
    own_fields: tuple[str, ...] = ()
    rule_fields = {"situation": RuleTable.REVOCATION_SITUATION}
    blank_label = "---------"

    body = _code_field(_("Body code"), help_text=_("18 characters; the last one is a check character."))
    name = forms.CharField(label=_("New name"), max_length=100)
    others = forms.CharField(label=_("Bodies merged into it (codes)"), widget=_textarea(3),
                             help_text=_("The codes of the active bodies that merge into this one, one a line. "
                                         "Their member units and task groups are carried over."))
    situation = forms.ChoiceField(label=_("Revocation situation"))
    duties = forms.CharField(label=_("New duties"), max_length=5000, widget=_textarea(5))
    members = forms.MultipleChoiceField(label=_("Member units after the change"), required=False)
    member_codes = forms.CharField(label=_("More member units (credit codes)"), required=False,
                                   widget=_textarea(3), help_text=_("Unified social credit codes, one a line."))
    over_cap_reason = forms.CharField(
        label=_("Reason for exceeding the member cap"), required=False, max_length=500, widget=_textarea(2),
        help_text=_("Only when the member units exceed the cap of the rule table."))
    reason = forms.CharField(label=_("Reason"), max_length=1000, widget=_textarea(4))
    attachments = AttachmentsField(label=_("Attachments"))

    ALL_OWN = ("name", "others", "situation", "duties", "members", "member_codes", "over_cap_reason")

    def __init__(self, *args: Any, rules: Any, units: QuerySet[Unit] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, rules=rules, **kwargs)
        for name in self.ALL_OWN:
            if name not in self.own_fields:
                del self.fields[name]
        if isinstance(self.initial.get("others"), (list, tuple)):
            self.initial["others"] = "\n".join(self.initial["others"])
        if "members" in self.own_fields:
            self._set_up_members(units)

    @property
    def sections(self) -> list[tuple[Any, list[Any]]]:
        return [("", [f for f in self.visible_fields()])]

    def data_for_service(self) -> dict[str, Any]:
        d = self.cleaned_data
        out: dict[str, Any] = {"body": d["body"].strip().upper(), "reason": d["reason"]}
        for name in ("name", "situation", "duties", "over_cap_reason"):
            if name in self.fields:
                out[name] = d.get(name) or ""
        if "others" in self.fields:
            out["others"] = [code.upper() for code in _lines(d.get("others"))]
        if "members" in self.own_fields:
            out["members"] = self.members_for_service()
        return out


class BodyRenameForm(BodyChangeForm):
    kind = "body_rename"
    own_fields = ("name",)


class BodyMergeForm(BodyChangeForm):
    kind = "body_merge"
    own_fields = ("others", "name")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        name = self.fields["name"]
        name.required = False
        name.label = _("Name after the merger")
        name.help_text = _("Leave empty to keep the surviving body's name.")


class BodyRevokeForm(BodyChangeForm):
    kind = "body_revoke"
    own_fields = ("situation",)


class BodyDutiesForm(BodyChangeForm):
    kind = "body_duties"
    own_fields = ("duties",)


class BodyMembersForm(BodyChangeForm):
    kind = "body_members"
    own_fields = ("members", "member_codes", "over_cap_reason")


class BodyTaskGroupForm(BodyChangeForm):
    """设立 / 撤销专项小组 (B2) through the procedure."""

    kind = "body_task_group"
    own_fields = ("members", "member_codes")
    task_group = forms.CharField(label=_("Task group"), max_length=100)
    end = forms.BooleanField(label=_("End this task group"), required=False)
    lead_unit = forms.CharField(label=_("Lead unit of the task group (credit code)"), required=False, max_length=18)
    group_duties = forms.CharField(label=_("Duties of the task group"), required=False, max_length=2000,
                                   widget=_textarea(3))

    def data_for_service(self) -> dict[str, Any]:
        out = super().data_for_service()
        d = self.cleaned_data
        out.update(task_group=d["task_group"], end=d.get("end", False), lead_unit=(d.get("lead_unit") or "").strip(),
                   duties=d.get("group_duties") or "")
        return out


CHANGE_FORMS: dict[str, type[BodyChangeForm]] = {
    form.kind: form for form in (BodyRenameForm, BodyMergeForm, BodyRevokeForm, BodyDutiesForm, BodyMembersForm,
                                 BodyTaskGroupForm)
}
#: every application form of the bodies, by kind (the approvals' revise page uses it too)
APPLICATION_FORMS: dict[str, type[forms.Form]] = {"body_setup": BodySetupForm, **CHANGE_FORMS}


# ---------------------------------------------------------------- similar bodies (htmx)


class SimilarForm(StyledForm):
    name = forms.CharField(required=False, max_length=100)
    duties = forms.CharField(required=False, max_length=5000)
    lead_unit = forms.CharField(required=False, max_length=20)
