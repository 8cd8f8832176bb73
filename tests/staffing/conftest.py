"""Fixtures for the 编外人员 tests: the default rule tables loaded into the database."""

from __future__ import annotations

import pytest


@pytest.fixture
def rules(db):
    """The province default rule tables (data/rules.yaml), as `bianzhi load-rules` loads them."""
    from bianzhi.staffing.services import rules_load

    return rules_load()
