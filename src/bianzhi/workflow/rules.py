"""Pure rules of the approvals engine: definition checks, working-day deadlines, stage
progress and who may act. Plain values in, all violations out; no ORM."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .choices import RETURN_TO_APPLICANT, Action

MAX_DEADLINE_DAYS = 120


def check_definition(definition: Any, roles: Iterable[str]) -> list[str]:
    """Everything wrong with a process definition, as readable reasons (empty = valid)."""
    roles = set(roles)
    out: list[str] = []
    if not isinstance(definition, Mapping) or not isinstance(definition.get("stages"), list):
        return ["stages: a list of stages is required"]
    stages = definition["stages"]
    if not stages:
        out.append("stages: at least one stage is required")
    seen: list[str] = []
    for i, stage in enumerate(stages, start=1):
        if not isinstance(stage, Mapping) or not str(stage.get("name") or "").strip():
            out.append(f"stage {i}: a name is required")
            continue
        steps = stage.get("steps")
        if not isinstance(steps, list) or not steps:
            out.append(f"stage {i}: at least one step is required")
            continue
        here: list[str] = []
        for j, step in enumerate(steps, start=1):
            where = f"stage {i} step {j}"
            if not isinstance(step, Mapping):
                out.append(f"{where}: not a mapping")
                continue
            code = str(step.get("code") or "").strip()
            if not code or not code.replace("_", "").isalnum() or not code.isascii():
                out.append(f"{where}: code must be letters, digits or _")
            elif code in seen or code in here or code == RETURN_TO_APPLICANT:
                out.append(f"{where}: code {code} is used twice")
            if not str(step.get("name") or "").strip():
                out.append(f"{where}: name is required")
            if not str(step.get("department") or "").strip():
                out.append(f"{where}: department is required")
            role = step.get("role")
            if not isinstance(role, str) or role not in roles:  # a list or mapping is not hashable
                out.append(f"{where}: role must be one of {', '.join(sorted(roles))}")
            days = step.get("days")
            if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_DEADLINE_DAYS:
                out.append(f"{where}: days must be a whole number from 1 to {MAX_DEADLINE_DAYS}")
            actions = step.get("actions")
            if not isinstance(actions, list) or Action.APPROVE not in actions or any(
                a not in Action.values for a in actions
            ):
                out.append(f"{where}: actions must include approve and use only approve, return, reject")
            targets = step.get("return_to", [RETURN_TO_APPLICANT])
            if not isinstance(targets, list) or any(
                t != RETURN_TO_APPLICANT and t not in seen for t in targets
            ):
                out.append(f"{where}: return_to may name the applicant or steps of earlier stages only")
            if "opinion_required" in step and not isinstance(step["opinion_required"], bool):
                out.append(f"{where}: opinion_required is true or false")
            here.append(code)
        seen.extend(here)
    return out


def is_workday(day: dt.date, overrides: Mapping[dt.date, bool]) -> bool:
    if day in overrides:
        return overrides[day]
    return day.weekday() < 5


def add_working_days(start: dt.date, days: int, overrides: Mapping[dt.date, bool]) -> dt.date:
    """The due date of a step activated on ``start`` with ``days`` working days: the
    ``days``-th working day after ``start`` (the day of activation does not count)."""
    day, left = start, days
    while left > 0:
        day += dt.timedelta(days=1)
        if is_workday(day, overrides):
            left -= 1
    return day


def stage_steps(definition: Mapping[str, Any], index: int) -> list[dict[str, Any]]:
    stages = definition.get("stages", [])
    return list(stages[index]["steps"]) if 0 <= index < len(stages) else []


def find_step(definition: Mapping[str, Any], code: str) -> tuple[int, dict[str, Any]] | None:
    for i, stage in enumerate(definition.get("stages", [])):
        for step in stage["steps"]:
            if step["code"] == code:
                return i, step
    return None


def stage_done(definition: Mapping[str, Any], index: int, latest: Mapping[str, str]) -> bool:
    """A stage is done when the latest row of each of its steps (this round) is approved."""
    return all(latest.get(s["code"]) == "approved" for s in stage_steps(definition, index))


def return_targets(step: Mapping[str, Any]) -> list[str]:
    return list(step.get("return_to", [RETURN_TO_APPLICANT]))


def opinion_needed(step: Mapping[str, Any], action: str) -> bool:
    """Returns and rejections always need an opinion; an approval when the step says so
    (the default)."""
    return action != Action.APPROVE or bool(step.get("opinion_required", True))


@dataclass(frozen=True)
class ActorFacts:
    user_id: int
    role: str
    jurisdiction_id: int | None


@dataclass(frozen=True)
class StepFacts:
    role: str
    department: str


def who_may_act(actor: ActorFacts, step: StepFacts, *, case_jurisdiction_id: int, applicant_id: int,
                departments_acted: Iterable[str]) -> list[tuple[str, dict[str, Any]]]:
    """Why ``actor`` may not act on ``step`` (empty = may act): role and department of the
    case's jurisdiction, not the applicant, not already acting for another department."""
    out: list[tuple[str, dict[str, Any]]] = []
    if actor.user_id == applicant_id:
        out.append(("applicant_cannot_decide", {}))
        return out
    if actor.role != step.role or actor.jurisdiction_id != case_jurisdiction_id:
        out.append(("step_not_yours", {}))
        return out
    other = sorted(d for d in set(departments_acted) if d != step.department)
    if other:
        out.append(("two_departments", {"department": other[0]}))
    return out
