"""Fixtures for the coordinating bodies: rules and processes loaded, the departments of 天河区,
and units to lead and join bodies."""

from __future__ import annotations

import pytest

from bianzhi.accounts.choices import Role
from tests.factories import make_unit, make_user


@pytest.fixture
def bodies_world(world):
    from bianzhi.common.rules_loader import load_all_rules

    load_all_rules()
    w = world
    w.units = [make_unit("440106", f"天河区成员单位{i}") for i in range(1, 24)]
    u = w.users
    u.reviewer2 = make_user("th_reviewer2", Role.ESTABLISHMENT_REVIEWER, "440106")
    u.leader = make_user("th_leader", Role.DECISION_MAKER, "440106")
    u.office = make_user("th_office", Role.ISSUING_OFFICE, "440106")
    return w


SETUP = {
    "name": "天河区安全生产委员会", "kind": "委员会", "leader_posts": "主任：区长；副主任：分管副区长",
    "duties": "统筹协调全区安全生产工作，研究解决安全生产重大问题，督促检查安全生产责任落实。",
    "ground": "法律法规明确规定", "basis": "《中华人民共和国安全生产法》",
    "negative": {"within_department": "涉及应急、住建、交通等十余个部门，超出单一部门职责。",
                 "inter_department": "需区政府主要负责同志统筹，部门间协调机制难以推动。",
                 "same_as_existing": "区内尚无同类机构。"},
}
