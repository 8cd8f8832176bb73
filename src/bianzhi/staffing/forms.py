"""Forms of the 编外人员 pages: filter bars and the forms whose POST calls one service.

Forms only parse input; every rule lives in the services, whose :class:`BianzhiError` is
put back next to the field it names (:func:`bianzhi.common.forms.add_service_errors`).
The values users choose from (situations, post classes, work types, …) come from the rule
tables in force for the user's jurisdiction (:class:`~bianzhi.staffing.rules.RuleSet`),
shown by their Chinese names and submitted as their codes.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from bianzhi.common.errors import message_for
from bianzhi.orgs.errors import UNIT_NOT_FOUND
from bianzhi.orgs.forms import StyledForm, date_field, division_choices, with_blank
from bianzhi.orgs.models import Unit

from .choices import BulkKind, ClassPolicy, RuleTable
from .rules import RuleSet

#: Up to this many units a unit field is a drop-down; above it, a text box for the credit code.
UNIT_SELECT_MAX = 300
BLANK = "---------"


def rule_choices(rules: RuleSet, table: str) -> list[tuple[str, str]]:
    """``(code, name)`` of a rule table in its own order."""
    rows = sorted(rules.table(table).values(), key=lambda r: (r.sort, r.code))
    return [(row.code, row.name) for row in rows]


def work_type_choices(rules: RuleSet) -> list[tuple[str, Any]]:
    """Work types grouped under their post class (``<optgroup>``)."""
    groups: list[tuple[str, Any]] = []
    work_types = rule_choices(rules, RuleTable.WORK_TYPE)
    for code, name in rule_choices(rules, RuleTable.POST_CLASS):
        members = [(w, n) for w, n in work_types if rules.class_of(w) == code]
        if members:
            groups.append((name, members))
    return groups


class UnitField(forms.Field):
    """A unit of the user's scope: a drop-down for a few hundred units, otherwise a text box
    taking the unified social credit code. A unit's id (``?unit=12`` from a link) is accepted
    in both forms; anything outside ``units`` is refused like a missing unit."""

    def __init__(self, *, allow_name: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units: QuerySet[Unit] = Unit.objects.none()
        self.allow_name = allow_name

    def set_units(self, units: QuerySet[Unit], blank_label: Any = BLANK) -> None:
        self.units = units
        small = "-sm" in self.widget.attrs.get("class", "")  # a filter bar's small controls
        options = list(units.order_by("name", "pk").values_list("pk", "name")[: UNIT_SELECT_MAX + 1])
        if len(options) <= UNIT_SELECT_MAX:
            widget: forms.Widget = forms.Select(
                choices=[("", blank_label), *((str(pk), n) for pk, n in options)]
            )
            css = "form-select-sm"
        else:
            widget = forms.TextInput(attrs={"placeholder": _("Unified social credit code")})
            self.help_text = self.help_text or _("Enter the unit's unified social credit code.")
            css = "form-control-sm"
        if small:
            widget.attrs["class"] = css
        widget.is_required = self.required
        self.widget = widget

    def to_python(self, value: Any) -> Unit | None:
        text = "".join(str(value or "").split())
        if not text:
            return None
        unit = None
        if text.isdigit() and len(text) <= 10:
            unit = self.units.filter(pk=int(text)).first()
        if unit is None:
            unit = self.units.filter(uscc=text.upper()).first()
        if unit is None and self.allow_name:
            found = list(self.units.filter(name__contains=text)[:2])
            unit = found[0] if len(found) == 1 else None
        if unit is None:
            raise forms.ValidationError(message_for(UNIT_NOT_FOUND), code=UNIT_NOT_FOUND)
        return unit

    def prepare_value(self, value: Any) -> Any:
        return value.pk if isinstance(value, Unit) else value


class RuleForm(StyledForm):
    """A form whose choice fields take their options from the rule tables."""

    #: field name -> rule table; the field gets the table's (code, name) choices.
    rule_fields: dict[str, str] = {}
    blank_label: Any = BLANK

    def __init__(self, *args: Any, rules: RuleSet, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rules = rules
        for name, table in self.rule_fields.items():
            if name not in self.fields:
                continue
            field = cast(forms.ChoiceField, self.fields[name])
            options: list[tuple[str, Any]] = (
                work_type_choices(rules) if table == RuleTable.WORK_TYPE else rule_choices(rules, table)
            )
            field.choices = with_blank(options, self.blank_label)


# ---------------------------------------------------------------- roster


class RosterFilterForm(RuleForm):
    small = True
    blank_label = _("All")
    KEY_ANY, KEY_NONE = "any", "none"
    rule_fields = {
        "situation": RuleTable.SITUATION,
        "post_class": RuleTable.POST_CLASS,
        "work_type": RuleTable.WORK_TYPE,
        "funding_source": RuleTable.FUNDING_SOURCE,
    }

    q = forms.CharField(
        label=_("Keyword"),
        required=False,
        max_length=50,
        widget=forms.TextInput(attrs={"placeholder": _("Name or post name")}),
    )
    unit = UnitField(label=_("Unit"), required=False, allow_name=True)
    situation = forms.ChoiceField(label=_("Situation"), required=False)
    post_class = forms.ChoiceField(label=_("Post class"), required=False)
    work_type = forms.ChoiceField(label=_("Work type"), required=False)
    funding_source = forms.ChoiceField(label=_("Funding source"), required=False)
    key_post = forms.ChoiceField(label=_("Key post"), required=False)
    as_of = date_field(
        _("In post on"),
        required=False,
        help_text=_("Leave empty to list every record, including those who have left."),
    )

    def __init__(self, *args: Any, units: QuerySet[Unit] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if units is None:
            del self.fields["unit"]
        else:
            cast(UnitField, self.fields["unit"]).set_units(units, _("All"))
        cast(forms.ChoiceField, self.fields["key_post"]).choices = [
            ("", _("All")),
            (self.KEY_ANY, _("Any key post")),
            (self.KEY_NONE, _("No key post")),
            *rule_choices(self.rules, RuleTable.KEY_POST),
        ]


class SpellForm(RuleForm):
    """A new record (register mode: the policy checks and the hire authorisation apply)."""

    rule_fields = {
        "situation": RuleTable.SITUATION,
        "post_class": RuleTable.POST_CLASS,
        "work_type": RuleTable.WORK_TYPE,
        "funding_source": RuleTable.FUNDING_SOURCE,
        "key_post": RuleTable.KEY_POST,
        "education": RuleTable.EDUCATION,
    }

    unit = UnitField(label=_("Unit"))
    id_number = forms.CharField(
        label=_("Citizen ID number"),
        max_length=30,
        help_text=_("18 characters, GB 11643-1999; the check digit is verified."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    name = forms.CharField(label=_("Name"), max_length=50)
    situation = forms.ChoiceField(label=_("Situation"))
    post_class = forms.ChoiceField(label=_("Post class"))
    work_type = forms.ChoiceField(label=_("Work type"), help_text=_("A work type of the chosen post class."))
    post_name = forms.CharField(label=_("Post name"), max_length=50)
    key_post = forms.ChoiceField(
        label=_("Key post"),
        required=False,
        help_text=_("Non-establishment staff may not hold personnel, finance or classified posts."),
    )
    funding_source = forms.ChoiceField(label=_("Funding source"))
    hire_date = date_field(_("Hire date"))
    contract_end = date_field(_("Contract end"), required=False)
    education = forms.ChoiceField(label=_("Education"), required=False)
    monthly_cost = forms.DecimalField(
        label=_("Monthly cost per person (yuan)"),
        required=False,
        min_value=0,
        max_digits=12,
        decimal_places=2,
    )
    authorisation_number = forms.CharField(
        label=_("Hire authorisation number"),
        required=False,
        max_length=64,
        help_text=_(
            "A new hire must cite an approved, unused hire authorisation of this unit and post class."
        ),
    )

    def __init__(self, *args: Any, units: QuerySet[Unit] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if units is None:
            del self.fields["unit"]
        else:
            cast(UnitField, self.fields["unit"]).set_units(units)
        cast(forms.ChoiceField, self.fields["key_post"]).choices = [
            ("", _("None")),
            *rule_choices(self.rules, RuleTable.KEY_POST),
        ]


class ExitForm(RuleForm):
    rule_fields = {"exit_reason": RuleTable.EXIT_REASON}

    leave_date = date_field(_("Leave date"), help_text=_("The first day the person is no longer in post."))
    exit_reason = forms.ChoiceField(label=_("Exit reason"))


# ---------------------------------------------------------------- baselines and caps


class BaselineTakeForm(StyledForm):
    scope = forms.ChoiceField(label=_("Jurisdiction"))
    as_of = date_field(
        _("Baseline date"), help_text=_("The counts of the records in post on this day are frozen.")
    )
    retake = forms.BooleanField(
        label=_("Re-take: replace the current baseline of this jurisdiction"),
        required=False,
        help_text=_("Caps derive from the baseline; re-taking it is recorded in the audit trail."),
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=200)

    def __init__(self, *args: Any, divisions: Any = (), base_depth: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["scope"]).choices = division_choices(
            divisions, base_depth=base_depth
        )


class BaselineCountFilterForm(RuleForm):
    small = True
    blank_label = _("All")
    rule_fields = {"situation": RuleTable.SITUATION, "post_class": RuleTable.POST_CLASS}

    unit = UnitField(label=_("Unit"), required=False, allow_name=True)
    situation = forms.ChoiceField(label=_("Situation"), required=False)
    post_class = forms.ChoiceField(label=_("Post class"), required=False)

    def __init__(self, *args: Any, units: QuerySet[Unit], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(UnitField, self.fields["unit"]).set_units(units, _("All"))


class CapFilterForm(StyledForm):
    small = True
    BY_UNIT, BY_CLASS = "unit", "class"

    as_of = date_field(_("As of"), required=False)
    q = forms.CharField(
        label=_("Keyword"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": _("Name or credit code")}),
    )
    by = forms.ChoiceField(
        label=_("Rows"),
        required=False,
        choices=[(BY_UNIT, _("Per unit")), (BY_CLASS, _("Per unit and post class"))],
    )
    over = forms.BooleanField(label=_("Over cap only"), required=False)


class CapForm(RuleForm):
    rule_fields = {"post_class": RuleTable.POST_CLASS}

    unit = UnitField(label=_("Unit"))
    post_class = forms.ChoiceField(
        label=_("Post class"), required=False, help_text=_("Leave empty to change the unit's total cap.")
    )
    cap = forms.IntegerField(label=_("Cap"), min_value=0, max_value=10_000_000)
    valid_from = date_field(_("Valid from"))
    document_ref = forms.CharField(
        label=_("Document reference"),
        max_length=100,
        help_text=_("The approving document, e.g. 穗编字〔2024〕12号."),
    )
    is_exception = forms.BooleanField(label=_("Approved exception"), required=False)

    def __init__(self, *args: Any, units: QuerySet[Unit], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(UnitField, self.fields["unit"]).set_units(units)
        cast(forms.ChoiceField, self.fields["post_class"]).choices = [
            ("", _("Total cap")),
            *rule_choices(self.rules, RuleTable.POST_CLASS),
        ]


# ---------------------------------------------------------------- hire authorisations


class AuthorisationFilterForm(RuleForm):
    small = True
    blank_label = _("All")
    rule_fields = {"post_class": RuleTable.POST_CLASS}

    unit = UnitField(label=_("Unit"), required=False, allow_name=True)
    post_class = forms.ChoiceField(label=_("Post class"), required=False)
    open_only = forms.BooleanField(label=_("With places left only"), required=False)

    def __init__(self, *args: Any, units: QuerySet[Unit] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if units is None:
            del self.fields["unit"]
        else:
            cast(UnitField, self.fields["unit"]).set_units(units, _("All"))


class AuthorisationForm(RuleForm):
    rule_fields = {"post_class": RuleTable.POST_CLASS, "situation": RuleTable.SITUATION}

    unit = UnitField(label=_("Unit"))
    post_class = forms.ChoiceField(label=_("Post class"))
    situation = forms.ChoiceField(
        label=_("Situation"),
        required=False,
        help_text=_("Leave empty when the authorisation is for any situation."),
    )
    quantity = forms.IntegerField(label=_("Number of hires"), min_value=1, max_value=100_000)
    valid_from = date_field(_("Valid from"))
    valid_to = date_field(
        _("Valid to"), required=False, help_text=_("The first day it may no longer be used.")
    )
    document_ref = forms.CharField(label=_("Document reference"), max_length=100,
                                   help_text=_("The approving document, e.g. 穗编字〔2024〕12号."))
    number = forms.CharField(
        label=_("Authorisation number"),
        required=False,
        max_length=64,
        help_text=_("Leave empty to have a number assigned."),
    )

    def __init__(self, *args: Any, units: QuerySet[Unit], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(UnitField, self.fields["unit"]).set_units(units)


# ---------------------------------------------------------------- coordinator pool


class PoolFilterForm(StyledForm):
    small = True

    city = forms.ChoiceField(label=_("City"))
    as_of = date_field(_("As of"), required=False)

    def __init__(self, *args: Any, cities: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["city"]).choices = [(c.code, c.name) for c in cities]


class PoolAssignForm(StyledForm):
    town = forms.ChoiceField(label=_("Town / street"))
    department = UnitField(label=_("Department"), required=False)
    task = forms.CharField(label=_("Task"), required=False, max_length=100)
    valid_from = date_field(_("Valid from"), help_text=_("The first day of the new assignment."))
    document_ref = forms.CharField(label=_("Document reference"), required=False, max_length=100)

    def __init__(self, *args: Any, towns: Any = (), units: QuerySet[Unit], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["town"]).choices = with_blank(
            [(t.code, f"{t.parent.name if t.parent_id else ''} {t.name}".strip()) for t in towns], BLANK
        )
        cast(UnitField, self.fields["department"]).set_units(units)


# ---------------------------------------------------------------- bulk operations


class BulkForm(RuleForm):
    rule_fields = {
        "situation": RuleTable.SITUATION,
        "post_class": RuleTable.POST_CLASS,
        "work_type": RuleTable.WORK_TYPE,
        "funding_source": RuleTable.FUNDING_SOURCE,
        "exit_reason": RuleTable.EXIT_REASON,
    }
    CRITERIA = ("situation", "post_class", "work_type", "funding_source")

    kind = forms.ChoiceField(label=_("Operation"), choices=BulkKind.choices)
    unit = UnitField(label=_("Unit"), required=False)
    situation = forms.ChoiceField(label=_("Situation"), required=False)
    post_class = forms.ChoiceField(label=_("Post class"), required=False)
    work_type = forms.ChoiceField(label=_("Work type"), required=False)
    funding_source = forms.ChoiceField(label=_("Funding source"), required=False)
    leave_date = date_field(
        _("Leave date"), help_text=_("The first day the selected people are no longer in post.")
    )
    exit_reason = forms.ChoiceField(
        label=_("Exit reason"),
        required=False,
        help_text=_("When empty: dismissal for a downsizing, whole-group transfer for a transfer."),
    )
    receiver = forms.CharField(
        label=_("Receiving organisation"),
        required=False,
        max_length=200,
        help_text=_("For a whole-group transfer: the enterprise or body taking the group over."),
    )
    document_ref = forms.CharField(label=_("Document reference"), required=False, max_length=100)

    def __init__(self, *args: Any, units: QuerySet[Unit], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(UnitField, self.fields["unit"]).set_units(units, _("All units of my jurisdiction"))

    def criteria(self) -> dict[str, str]:
        return {name: self.cleaned_data[name] for name in self.CRITERIA if self.cleaned_data.get(name)}


class BulkApplyForm(StyledForm):
    document_ref = forms.CharField(
        label=_("Document reference"),
        max_length=100,
        help_text=_("The approving document, e.g. 穗编字〔2024〕12号."),
    )


# ---------------------------------------------------------------- rule tables


class RuleFilterForm(StyledForm):
    small = True

    as_of = date_field(_("As of"), required=False)
    table = forms.ChoiceField(label=_("Rule table"), required=False, choices=with_blank(RuleTable.choices))


class RuleItemForm(StyledForm):
    """A stricter local row of a rule table (规定动作 + 自选动作)."""

    table = forms.ChoiceField(label=_("Rule table"), choices=with_blank(RuleTable.choices, BLANK))
    code = forms.CharField(
        label=_("Code"), max_length=64, help_text=_("A stable identifier, e.g. night_patrol.")
    )
    name = forms.CharField(label=_("Name"), max_length=100)
    parent_code = forms.CharField(
        label=_("Belongs to"),
        required=False,
        max_length=64,
        help_text=_("For a work type: the code of its post class."),
    )
    policy = forms.ChoiceField(
        label=_("Policy"),
        required=False,
        choices=with_blank(ClassPolicy.choices, BLANK),
        help_text=_("For a post class only."),
    )
    value = forms.CharField(label=_("Value"), required=False, max_length=100)
    valid_from = date_field(_("Valid from"))
    jurisdiction_code = forms.ChoiceField(label=_("Jurisdiction"))
    source_document = forms.CharField(label=_("Source document"), max_length=200)

    def __init__(self, *args: Any, divisions: Any = (), base_depth: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["jurisdiction_code"]).choices = division_choices(
            divisions, base_depth=base_depth
        )


class RuleCloseForm(StyledForm):
    valid_to = date_field(_("Valid to"), help_text=_("The first day the row no longer applies."))


# ---------------------------------------------------------------- roster import


class RosterImportUploadForm(StyledForm):
    file = forms.FileField(
        label=_("File"),
        help_text=_("The roster template filled in, as .xlsx or .csv (UTF-8)."),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv"}),
    )
    mode = forms.ChoiceField(label=_("Mode"), widget=forms.RadioSelect(attrs={"class": "form-check-input"}))

    ALLOWED = (".xlsx", ".csv")

    def __init__(self, *args: Any, inventory: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        modes = [("register", _("Register (报送): policy checks apply, new hires cite a hire authorisation"))]
        if inventory:
            modes.append(("inventory", _("Inventory (摸底): policy breaches are accepted and flagged")))
        field = cast(forms.ChoiceField, self.fields["mode"])
        field.choices = modes
        field.initial = "register"

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(self.ALLOWED):
            raise forms.ValidationError(_("Only .xlsx and .csv files can be imported."))
        return upload


class RosterImportConfirmForm(forms.Form):
    sha256 = forms.RegexField(regex=r"^[0-9a-f]{64}$", widget=forms.HiddenInput)
