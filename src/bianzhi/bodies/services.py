"""The only writers of the coordinating bodies' registry. Every change comes from the deciding
transaction of an approved change (the general office's step of ``body_change``): the document
is issued and the registry changes in that one transaction (B5, B6). The first load of the
existing stock is the bodies import (importing.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.db import transaction

from bianzhi.common import audit
from bianzhi.common.errors import BianzhiError
from bianzhi.common.sequences import next_value
from bianzhi.orgs.models import Unit
from bianzhi.staffing import selectors as staffing_selectors
from bianzhi.staffing.choices import RuleTable

from . import codes, errors
from .models import Body, BodyMember, BodyStatus, BodyVersion, TaskGroup

RULES_FILE = Path(__file__).resolve().parent / "data" / "rules.yaml"


def rules_load(*, actor: Any = None) -> dict[str, int]:
    """Load the bodies' rule tables (kinds, lists, revocation situations, member cap)."""
    from bianzhi.staffing.services import rules_load as load

    return load(actor=actor, path=RULES_FILE)


def new_code(division_code: str, year: int) -> str:
    """The next code of a division and year: never reused (a gap-free counter in this transaction)."""
    return codes.make_code(division_code, year, next_value(f"body:{division_code}:{year}"))


def snapshot(body: Body) -> dict[str, Any]:
    members = list(body.members.filter(valid_to__isnull=True).values_list("unit__uscc", flat=True))
    return {"code": body.code, "name": body.name, "kind": body.kind, "status": body.status,
            "lead_unit": body.lead_unit.uscc, "office_unit": body.office_unit.uscc if body.office_unit else None,
            "leader_posts": body.leader_posts, "duties": body.duties, "ground": body.ground,
            "members": sorted(members), "task_groups": list(body.task_groups.filter(valid_to__isnull=True)
                                                             .values_list("name", flat=True)),
            "planned_end": body.planned_end.isoformat() if body.planned_end else None}


def _version(body: Body, change: str, day: dt.date, *, actor: Any, document: str = "", case: str = "") -> None:
    BodyVersion.objects.filter(body=body, valid_to__isnull=True).update(valid_to=day)
    BodyVersion.objects.create(body=body, valid_from=day, change=change, snapshot=snapshot(body),
                               document_number=document, case_number=case,
                               created_by=actor if getattr(actor, "pk", None) else None)


def _set_members(body: Body, unit_ids: list[int], day: dt.date) -> None:
    current = {m.unit_id: m for m in body.members.filter(valid_to__isnull=True)}
    for unit_id, member in current.items():
        if unit_id not in unit_ids:
            member.valid_to = day
            member.save(update_fields=["valid_to"])
    BodyMember.objects.bulk_create([BodyMember(body=body, unit_id=u, valid_from=day)
                                    for u in unit_ids if u not in current])


def _document(case: Any, actor: Any, body: Body, title: str, paragraphs: list[str], day: dt.date) -> Any:
    from bianzhi.documents.services import document_issue

    members = list(body.members.filter(valid_to__isnull=True).select_related("unit").values_list("unit__name",
                                                                                                  flat=True))
    return document_issue(
        actor=actor, division=body.jurisdiction, title=title,
        addressees="、".join([body.lead_unit.name, *[m for m in members if m != body.lead_unit.name]]) or "各有关单位",
        body="\n\n".join(paragraphs), cc=f"{body.jurisdiction.name}机构编制委员会办公室", written_on=day,
        object_type="bodies.body", object_id=str(body.pk), case_number=case.number)


def apply_change(*, case: Any, actor: Any, today: dt.date) -> str:
    """Make an approved change take effect and issue its document; returns the body code and
    the document number. Refused unless called from the deciding transaction of its case."""
    from bianzhi.workflow.choices import CaseStatus

    from .applications import CHANGE_KINDS

    if case is None or case.kind not in CHANGE_KINDS or case.status != CaseStatus.IN_REVIEW or not (
            transaction.get_connection().in_atomic_block):
        raise BianzhiError(errors.CHANGE_OUTSIDE_PROCEDURE, field="case", value=getattr(case, "number", None))
    p = case.payload
    rules = staffing_selectors.ruleset_for(case.jurisdiction_path, today)
    if case.kind == "body_setup":
        body = _set_up(case, actor, today)
        kind = rules.name_of(RuleTable.BODY_KIND, body.kind)
        text = [f"经研究，同意设立{body.name}（{kind}，机构编码{body.code}），牵头单位为{body.lead_unit.name}"
                + (f"，办公室设在{body.office_unit.name}" if body.office_unit else "") + "。",
                f"一、主要职责\n{body.duties}",
                "二、成员单位\n" + "、".join(Unit.objects.filter(pk__in=p["members"]).values_list("name", flat=True)),
                *( [f"三、工作期限\n至{body.planned_end.year}年{body.planned_end.month}月{body.planned_end.day}日"]
                   if body.planned_end else [])]
        title, change = f"关于设立{body.name}的通知", "set_up"
    else:
        body = Body.objects.select_for_update().select_related("jurisdiction", "lead_unit").get(code=p["body"])
        if body.status != BodyStatus.ACTIVE:
            raise BianzhiError(errors.BODY_NOT_ACTIVE, field="body", value=body.code,
                               params={"status": BodyStatus(body.status).label})
        old = body.name
        if case.kind == "body_rename":
            body.name = p["name"]
            title, change = f"关于{old}更名的通知", "rename"
            text = [f"经研究，同意{old}（机构编码{body.code}）更名为{body.name}，机构编码不变，职责和成员单位不变。"]
        elif case.kind == "body_duties":
            body.duties = p["duties"]
            title, change = f"关于调整{body.name}职责的通知", "duties"
            text = [f"经研究，{body.name}（机构编码{body.code}）的主要职责调整为：", body.duties]
        elif case.kind == "body_members":
            _set_members(body, list(p["members"]), today)
            body.over_cap_reason = p.get("over_cap_reason", "")
            title, change = f"关于调整{body.name}成员单位的通知", "members"
            text = [f"经研究，{body.name}（机构编码{body.code}）的成员单位调整为："
                    + "、".join(Unit.objects.filter(pk__in=p["members"]).values_list("name", flat=True)) + "。"]
        elif case.kind == "body_task_group":
            if p.get("end"):
                TaskGroup.objects.filter(body=body, name=p["task_group"], valid_to__isnull=True).update(valid_to=today)
                title, change = f"关于撤销{body.name}{p['task_group']}的通知", "task_group_end"
                text = [f"经研究，撤销{body.name}（机构编码{body.code}）下设的{p['task_group']}。"]
            else:
                group = TaskGroup.objects.create(body=body, name=p["task_group"], lead_unit_id=p["lead_unit"],
                                                 duties=p.get("duties", ""), valid_from=today)
                group.members.set(p.get("members", []))
                title, change = f"关于设立{body.name}{p['task_group']}的通知", "task_group"
                text = [f"经研究，在{body.name}（机构编码{body.code}）下设立{p['task_group']}，"
                        f"由{group.lead_unit.name}牵头。", *([f"主要职责：{group.duties}"] if group.duties else [])]
        elif case.kind == "body_revoke":
            body.status, body.ended_on = BodyStatus.REVOKED, today
            _set_members(body, [], today)
            TaskGroup.objects.filter(body=body, valid_to__isnull=True).update(valid_to=today)
            situation = rules.name_of(RuleTable.REVOCATION_SITUATION, p["situation"])
            title, change = f"关于撤销{body.name}的通知", "revoke"
            text = [f"鉴于{situation}，经研究，决定撤销{body.name}（机构编码{body.code}），其工作不再保留。"
                    "机构编码予以注销，不再使用。"]
        else:  # body_merge: N → 1, the survivor keeps its code; members and task groups carried over
            others = list(Body.objects.select_for_update().filter(code__in=p["others"], status=BodyStatus.ACTIVE))
            if len(others) != len(p["others"]):
                raise BianzhiError(errors.BODY_NOT_ACTIVE, field="others", value="、".join(p["others"]),
                                   params={"status": BodyStatus.MERGED.label})
            units = set(body.members.filter(valid_to__isnull=True).values_list("unit_id", flat=True))
            for other in others:
                units |= set(other.members.filter(valid_to__isnull=True).values_list("unit_id", flat=True))
                TaskGroup.objects.filter(body=other, valid_to__isnull=True).update(body=body)
                _set_members(other, [], today)
                other.status, other.ended_on, other.merged_into = BodyStatus.MERGED, today, body
                other.save()
                _version(other, "merged", today, actor=actor, case=case.number)
            _set_members(body, sorted(units), today)
            body.name = p["name"]
            title, change = f"关于{'、'.join(o.name for o in others)}并入{body.name}的通知", "merge"
            text = [f"经研究，决定将{'、'.join(o.name for o in others)}并入{body.name}（机构编码{body.code}，"
                    "机构编码不变）；被并入机构的成员单位和专项小组一并划入，其机构编码予以注销。"]
        body.save()
    text.append(f"请{body.lead_unit.name}认真履行牵头职责，各成员单位按照职责分工密切配合。")
    document = _document(case, actor, body, title, text, today)
    if change == "set_up":
        body.set_up_document = document.number
        body.save(update_fields=["set_up_document"])
    _version(body, change, today, actor=actor, document=document.number, case=case.number)
    audit.record(actor, audit.entry_for(f"body.{change}", body, scope_path=body.jurisdiction_path,
                                        after={**snapshot(body), "document": document.number, "case": case.number}))
    return f"{body.code} {document.number}"


def _set_up(case: Any, actor: Any, today: dt.date) -> Body:
    p = case.payload
    division = case.jurisdiction
    if Body.objects.filter(jurisdiction=division, name=p["name"], status=BodyStatus.ACTIVE).exists():
        raise BianzhiError(errors.BODY_NAME_TAKEN, field="name", value=p["name"])
    parent = Body.objects.filter(code=p["parent_body"]).first() if p.get("parent_body") else None
    body = Body.objects.create(
        code=new_code(division.code, today.year), name=p["name"], jurisdiction=division,
        jurisdiction_path=division.path, kind=p["kind"], lead_unit_id=p["lead_unit"], office_unit_id=p.get("office_unit"),
        leader_posts=p.get("leader_posts", ""), duties=p["duties"], ground=p["ground"], basis=p.get("basis", ""),
        parent_body=parent, set_up_document="", set_up_on=today,
        planned_end=dt.date.fromisoformat(p["planned_end"]) if p.get("planned_end") else None,
        over_cap_reason=p.get("over_cap_reason", ""))
    _set_members(body, list(p["members"]), today)
    return body
