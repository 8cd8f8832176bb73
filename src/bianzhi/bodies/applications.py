"""The applications of the one procedure for every change of a coordinating body (B3, B5):
set-up, rename, merge, revoke, change of duties, change of members. They run on the approvals
engine with the process ``body_change`` (编办审核 → 编委领导审定 → 办公厅发文); nothing in the
registry changes until the general office's step issues the document, and the change takes
effect in that transaction (:mod:`bianzhi.bodies.services`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import gettext as _

from bianzhi.common.errors import INVALID_DATE, TOO_LONG, Collector
from bianzhi.common.scoping import scoped
from bianzhi.orgs.choices import UnitStatus
from bianzhi.orgs.errors import UNIT_NOT_FOUND
from bianzhi.orgs.models import Unit
from bianzhi.staffing import selectors as staffing_selectors
from bianzhi.staffing.choices import RuleTable

from . import errors, selectors
from .models import Body, BodyStatus

CHANGE_KINDS = ("body_setup", "body_rename", "body_merge", "body_revoke", "body_duties", "body_members",
                "body_task_group")


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _unit(actor: Any, value: Any, field: str, c: Collector, *, required: bool = True,
          within: str | None = None) -> Unit | None:
    """An active unit in the actor's scope — or, for member units and the office seat, any active
    unit of the body's jurisdiction (``within``): a unit operator's scope is its own unit, yet it
    names the other departments that join the body."""
    if value in (None, ""):
        if required:
            c.add(UNIT_NOT_FOUND, field=field, value=value)
        return None
    active = Unit.objects.filter(status=UnitStatus.ACTIVE)
    pool = active.filter(jurisdiction_path__startswith=within) if within else scoped(active, actor)
    try:
        unit = pool.filter(pk=value).first()
    except (TypeError, ValueError):
        unit = None
    if unit is None:
        unit = pool.filter(uscc=_text(value).upper()).first()
    if unit is None:
        c.add(UNIT_NOT_FOUND, field=field, value=value)
    return unit


def _members(actor: Any, values: Any, c: Collector, within: str | None = None) -> list[Unit]:
    if isinstance(values, str):
        values = [v for v in values.replace("；", ";").replace(",", ";").split(";") if v.strip()]
    out: list[Unit] = []
    for v in values or []:
        unit = _unit(actor, v, "members", c, within=within)
        if unit is not None and unit not in out:
            out.append(unit)
    return out


def _date(value: Any, field: str, c: Collector) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(_text(value))
    except ValueError:
        c.add(INVALID_DATE, field=field, value=value)
        return None


def _active_body(actor: Any, value: Any, c: Collector, field: str = "body") -> Body | None:
    code = _text(value).upper()
    from . import codes

    if not codes.is_valid(code):
        c.add(errors.BODY_CODE_INVALID, field=field, value=value)
        return None
    body = scoped(Body.objects.select_related("jurisdiction", "lead_unit"), actor).filter(code=code).first()
    if body is None:
        c.add(errors.BODY_NOT_FOUND, field=field, value=value)
    elif body.status != BodyStatus.ACTIVE:
        c.add(errors.BODY_NOT_ACTIVE, field=field, value=code, status=BodyStatus(body.status).label)
        return None
    return body


def _cap_check(path: str, today: dt.date, members: list[Unit], reason: str, c: Collector) -> None:
    cap = selectors.member_cap(path, today)
    if len(members) > cap and not reason:
        c.add(errors.MEMBER_CAP_EXCEEDED, field="members", value=len(members), count=len(members), cap=cap)


def _name_free(division_id: int, name: str, c: Collector, *, except_body: int | None = None,
               also_free: list[int] | None = None) -> None:
    taken = Body.objects.filter(jurisdiction_id=division_id, name=name, status=BodyStatus.ACTIVE)
    if except_body:
        taken = taken.exclude(pk=except_body)
    if also_free:  # bodies merged away in the same change give their names up
        taken = taken.exclude(pk__in=also_free)
    if taken.exists():
        c.add(errors.BODY_NAME_TAKEN, field="name", value=name)


def _name(value: Any, c: Collector, field: str = "name") -> str:
    name = _text(value)
    if not name or len(name) > 100:
        c.add(errors.NAME_REQUIRED, field=field, value=name or None)
    return name


class BodySetupApplication:
    """设立: the lead unit applies with a positive-list ground and answers the negative list."""

    code = "body_setup"
    process = "body_change"
    permission = "application.body"

    def label(self) -> str:
        return _("Set-up of a coordinating body")

    def clean(self, *, actor: Any, data: dict[str, Any], today: dt.date, case: Any = None,
              lock: bool = False) -> tuple[Any, dict[str, Any], str]:
        c = Collector()
        lead = _unit(actor, actor.unit_id if actor.is_unit_bound else data.get("lead_unit"), "lead_unit", c)
        if lead is not None and len(lead.jurisdiction.code) != 6:
            # bodies are set up at the province, city or county level, which their code encodes
            c.add(errors.BODY_DIVISION_LEVEL, field="lead_unit", value=lead.name)
            lead = None
        path = lead.jurisdiction_path if lead else selectors.scope_path(actor)
        rules = staffing_selectors.ruleset_for(path, today)
        name = _name(data.get("name"), c)
        kind = rules.lookup(RuleTable.BODY_KIND, _text(data.get("kind")))
        if kind is None:
            c.add(errors.UNKNOWN_BODY_KIND, field="kind", value=data.get("kind"),
                  allowed=" / ".join(rules.names(RuleTable.BODY_KIND)))
        office = _unit(actor, data.get("office_unit"), "office_unit", c, required=False, within=path)
        members = _members(actor, data.get("members"), c, within=path)
        duties = _text(data.get("duties"))
        if not duties:
            c.add(errors.DUTIES_REQUIRED, field="duties")
        ground = rules.lookup(RuleTable.POSITIVE_GROUND, _text(data.get("ground")))
        if ground is None:
            c.add(errors.GROUND_REQUIRED, field="ground", value=data.get("ground") or None,
                  allowed=" / ".join(rules.names(RuleTable.POSITIVE_GROUND)))
        parent = None
        if ground == "mirrors_upper":
            from . import codes

            typed = _text(data.get("parent_body")).upper()
            parent = selectors.body_by_code(typed, path=path)
            if typed and not codes.is_valid(typed):
                c.add(errors.BODY_CODE_INVALID, field="parent_body", value=typed)
                parent = None
            elif parent is None or parent.jurisdiction_path == path or not path.startswith(parent.jurisdiction_path):
                c.add(errors.PARENT_BODY_REQUIRED, field="parent_body", value=typed or None)
                parent = None
        raw_answers = data.get("negative")
        answers: dict[str, Any] = raw_answers if isinstance(raw_answers, dict) else {}
        negative = {}
        for item in rules.table(RuleTable.NEGATIVE_ITEM).values():
            answer = _text(answers.get(item.code))
            if not answer:
                c.add(errors.NEGATIVE_ANSWER_REQUIRED, field=f"negative_{item.code}", item=item.name)
            negative[item.code] = answer[:1000]
        reason = _text(data.get("over_cap_reason"))[:500]
        _cap_check(path, today, members, reason, c)
        planned_end = _date(data.get("planned_end"), "planned_end", c)
        leader_posts = _text(data.get("leader_posts"))
        if len(leader_posts) > 500:
            c.add(TOO_LONG, field="leader_posts", value=leader_posts[:20], max=500)
        if lead is not None and name:
            _name_free(lead.jurisdiction_id, name, c)
        c.raise_if_any()
        assert lead is not None and kind is not None and ground is not None
        payload = {
            "name": name, "kind": kind, "lead_unit": lead.pk, "office_unit": office.pk if office else None,
            "members": [m.pk for m in members], "duties": duties, "ground": ground,
            "parent_body": parent.code if parent else "", "negative": negative, "over_cap_reason": reason,
            "planned_end": planned_end.isoformat() if planned_end else "", "leader_posts": leader_posts,
            "basis": _text(data.get("basis"))[:300],
        }
        return lead, payload, _("Set up %(name)s") % {"name": name}

    def facts(self, case: Any) -> list[tuple[str, str]]:
        p = case.payload
        rules = staffing_selectors.ruleset_for(case.jurisdiction_path, case.submitted_at.date())
        units = dict(Unit.objects.filter(pk__in=[p["lead_unit"], p.get("office_unit"), *p["members"]])
                     .values_list("pk", "name"))
        rows = [
            (_("Body name"), p["name"]), (_("Kind"), rules.name_of(RuleTable.BODY_KIND, p["kind"])),
            (_("Lead unit"), units.get(p["lead_unit"], "")),
            (_("Office seat"), units.get(p.get("office_unit"), "—")),
            (_("Leader posts"), p.get("leader_posts") or "—"),
            (_("Member units (%(n)s)") % {"n": len(p["members"])}, "、".join(units.get(m, "") for m in p["members"])),
            (_("Duties"), p["duties"]),
            (_("Positive-list ground"), rules.name_of(RuleTable.POSITIVE_GROUND, p["ground"])
             + (f"（{p['parent_body']}）" if p.get("parent_body") else "")),
        ]
        rows += [(_("Negative list: %(item)s") % {"item": rules.name_of(RuleTable.NEGATIVE_ITEM, k)}, v)
                 for k, v in p["negative"].items()]
        if p.get("over_cap_reason"):
            rows.append((_("Member-cap exception"), p["over_cap_reason"]))
        if p.get("planned_end"):
            rows.append((_("Planned end"), p["planned_end"]))
        return rows

    def review(self, case: Any, today: dt.date) -> list[tuple[str, str, list[tuple[str, str]]]]:
        p = case.payload
        matches = selectors.similar_bodies(path=case.jurisdiction_path, name=p["name"], duties=p["duties"])
        rows = [(f"{m.candidate.name}（{m.candidate.code}，{m.candidate.jurisdiction}）",
                 _("similarity %(score)s (name %(name)s, duties %(duties)s)") % {
                     "score": f"{m.score:.2f}", "name": f"{m.name_score:.2f}", "duties": f"{m.duties_score:.2f}"})
                for m in matches] or [(_("Similar bodies"), _("none found"))]
        flags = []
        if len(p["members"]) <= 1:
            flags.append((_("Within one department's duties?"),
                          _("flagged: a single member unit (negative list item 1)")))
        cap = selectors.member_cap(case.jurisdiction_path, today)
        if len(p["members"]) > cap:
            flags.append((_("Member units above the cap"), f"{len(p['members'])} > {cap}"))
        return [(_("Similar existing bodies (this level and the level above)"), "establishment_reviewer", rows),
                (_("Negative-list checks"), "establishment_reviewer", flags or [(_("Flags"), _("none"))])]

    def decision_fields(self, *, case: Any, step: str) -> list[tuple[str, str, str]]:
        """What a decision at ``step`` asks for beyond the opinion: ``(name, label, help)``; the
        values reach :meth:`decision_errors` as ``extras`` and are recorded with the decision."""
        if step != "establishment":
            return []
        return [("similarity_reason", _("Why the similar bodies do not bar the set-up"),
                 _("Required to approve when an existing body is as similar as the threshold of the rule table."))]

    def decision_errors(self, *, case: Any, step: str, action: str, extras: dict[str, str]) -> list[Any]:
        """At the establishment office's approval, a close match needs a recorded reason."""
        if step != "establishment" or action != "approve":
            return []
        p = case.payload
        matches = selectors.similar_bodies(path=case.jurisdiction_path, name=p["name"], duties=p["duties"], limit=1)
        threshold = selectors.similarity_threshold(case.jurisdiction_path, dt.date.today())
        if matches and matches[0].score >= threshold and not extras.get("similarity_reason"):
            return [(errors.SIMILARITY_REASON_REQUIRED, "similarity_reason", {"score": f"{matches[0].score:.2f}"})]
        return []

    def effect(self, *, case: Any, actor: Any, today: dt.date) -> str:
        from .services import apply_change

        return apply_change(case=case, actor=actor, today=today)


class BodyChangeApplication:
    """更名 / 合并 / 撤销 / 职责调整 / 成员调整 of an active body (``data["body"]`` = its code)."""

    process = "body_change"
    permission = "application.body"
    LABELS = {"body_rename": "Rename of a coordinating body", "body_merge": "Merger of coordinating bodies",
              "body_revoke": "Revocation of a coordinating body", "body_duties": "Change of a body's duties",
              "body_members": "Change of a body's member units",
              "body_task_group": "Set-up or end of a task group"}

    def __init__(self, code: str) -> None:
        self.code = code

    def label(self) -> str:
        return _(self.LABELS[self.code])

    def clean(self, *, actor: Any, data: dict[str, Any], today: dt.date, case: Any = None,
              lock: bool = False) -> tuple[Any, dict[str, Any], str]:
        c = Collector()
        body = _active_body(actor, data.get("body"), c)
        reason = _text(data.get("reason"))
        if not reason:
            from bianzhi.staffing.applications import REASON_REQUIRED

            c.add(REASON_REQUIRED, field="reason")
        payload: dict[str, Any] = {"body": body.code if body else "", "reason": reason[:1000]}
        title = ""
        if body is not None:
            path = body.jurisdiction_path
            if self.code == "body_rename":
                name = _name(data.get("name"), c)
                if name == body.name:
                    c.add(errors.NOTHING_CHANGES, field="name", value=name)
                elif name:
                    _name_free(body.jurisdiction_id, name, c, except_body=body.pk)
                payload["name"] = name
                title = _("Rename %(old)s to %(new)s") % {"old": body.name, "new": name}
            elif self.code == "body_duties":
                duties = _text(data.get("duties"))
                if not duties:
                    c.add(errors.DUTIES_REQUIRED, field="duties")
                elif duties == body.duties:
                    c.add(errors.NOTHING_CHANGES, field="duties")
                payload["duties"] = duties
                title = _("Change the duties of %(name)s") % {"name": body.name}
            elif self.code == "body_members":
                members = _members(actor, data.get("members"), c, within=path)
                current = set(body.members.filter(valid_to__isnull=True).values_list("unit_id", flat=True))
                if {m.pk for m in members} == current:
                    c.add(errors.NOTHING_CHANGES, field="members")
                over = _text(data.get("over_cap_reason"))[:500]
                _cap_check(path, today, members, over, c)
                payload.update(members=[m.pk for m in members], over_cap_reason=over)
                title = _("Change the member units of %(name)s") % {"name": body.name}
            elif self.code == "body_revoke":
                rules = staffing_selectors.ruleset_for(path, today)
                situation = rules.lookup(RuleTable.REVOCATION_SITUATION, _text(data.get("situation")))
                if situation is None:
                    from bianzhi.common.errors import INVALID_CHOICE

                    c.add(INVALID_CHOICE, field="situation", value=data.get("situation"),
                          allowed=" / ".join(rules.names(RuleTable.REVOCATION_SITUATION)))
                payload["situation"] = situation or ""
                title = _("Revoke %(name)s") % {"name": body.name}
            elif self.code == "body_task_group":
                # a special task group (专项小组, B2) inside the body: set up (name, lead, members,
                # duties) or ended (its name) through the same procedure
                group = _text(data.get("task_group"))
                open_groups = dict(body.task_groups.filter(valid_to__isnull=True).values_list("name", "pk"))
                if not group or len(group) > 100:
                    c.add(errors.NAME_REQUIRED, field="task_group", value=group or None)
                if data.get("end"):
                    if group and group not in open_groups:
                        c.add(errors.TASK_GROUP_NOT_FOUND, field="task_group", value=group)
                    payload.update(task_group=group, end=True)
                    title = _("End the task group %(group)s of %(name)s") % {"group": group, "name": body.name}
                else:
                    if group in open_groups:
                        c.add(errors.TASK_GROUP_TAKEN, field="task_group", value=group)
                    lead = _unit(actor, data.get("lead_unit"), "lead_unit", c, within=path)
                    members = _members(actor, data.get("members"), c, within=path)
                    payload.update(task_group=group, end=False, lead_unit=lead.pk if lead else None,
                                   members=[m.pk for m in members], duties=_text(data.get("duties"))[:2000])
                    title = _("Set up the task group %(group)s of %(name)s") % {"group": group, "name": body.name}
            elif self.code == "body_merge":
                others = []
                raw = data.get("others") or []
                if isinstance(raw, str):
                    raw = [v for v in raw.replace("；", ";").replace(",", ";").split(";") if v.strip()]
                for value in raw:
                    other = _active_body(actor, value, c, field="others")
                    if other is not None and other.pk != body.pk and other.jurisdiction_id == body.jurisdiction_id:
                        others.append(other)
                    elif other is not None:
                        c.add(errors.MERGE_NEEDS_TWO, field="others", value=value)
                if not others and not c:
                    c.add(errors.MERGE_NEEDS_TWO, field="others")
                name = _text(data.get("name")) or body.name
                if name != body.name:
                    _name_free(body.jurisdiction_id, name, c, except_body=body.pk, also_free=[o.pk for o in others])
                payload.update(others=[o.code for o in others], name=name)
                title = _("Merge %(others)s into %(name)s") % {"others": "、".join(o.name for o in others),
                                                               "name": name}
        c.raise_if_any()
        assert body is not None
        return body.lead_unit, payload, title

    def facts(self, case: Any) -> list[tuple[str, str]]:
        p = case.payload
        body = Body.objects.filter(code=p["body"]).first()
        rows = [(_("Body"), f"{body.name if body else ''}（{p['body']}）")]
        labels = {"name": _("New name"), "duties": _("New duties"), "situation": _("Revocation situation"),
                  "others": _("Bodies merged into it"), "over_cap_reason": _("Member-cap exception")}
        for key, label in labels.items():
            if p.get(key):
                rows.append((label, "、".join(p[key]) if isinstance(p[key], list) else str(p[key])))
        if "members" in p:
            names = dict(Unit.objects.filter(pk__in=p["members"]).values_list("pk", "name"))
            rows.append((_("Member units (%(n)s)") % {"n": len(p["members"])},
                         "、".join(names.get(m, "") for m in p["members"])))
        rows.append((_("Reason"), p["reason"]))
        return rows

    def review(self, case: Any, today: dt.date) -> list[tuple[str, str, list[tuple[str, str]]]]:
        body = Body.objects.filter(code=case.payload["body"]).first()
        if body is None:
            return []
        members = body.members.filter(valid_to__isnull=True).count()
        return [(_("The body now"), "establishment_reviewer", [
            (_("Body name"), body.name), (_("Status"), str(BodyStatus(body.status).label)),
            (_("Member units"), str(members)), (_("Set up on"), body.set_up_on.isoformat()),
            (_("Set-up document"), body.set_up_document)])]

    def effect(self, *, case: Any, actor: Any, today: dt.date) -> str:
        from .services import apply_change

        return apply_change(case=case, actor=actor, today=today)


def _change(code: str) -> type:
    return type(f"Body{code.split('_')[1].title()}Application", (BodyChangeApplication,),
                {"__init__": lambda self: BodyChangeApplication.__init__(self, code)})


BodyRenameApplication = _change("body_rename")
BodyMergeApplication = _change("body_merge")
BodyRevokeApplication = _change("body_revoke")
BodyDutiesApplication = _change("body_duties")
BodyMembersApplication = _change("body_members")
BodyTaskGroupApplication = type("BodyTaskGroupApplication", (BodyChangeApplication,),
                                {"__init__": lambda self: BodyChangeApplication.__init__(self, "body_task_group")})
