"""The database refuses overlapping records of one person even when the services are bypassed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, InternalError, transaction

from bianzhi.common.codes import make_resident_id
from bianzhi.orgs.models import Person, sealed_id_number
from bianzhi.staffing.models import Spell

D = dt.date


def _spell(person, unit, hire, leave=None):
    return Spell(person=person, unit=unit, jurisdiction_path=unit.jurisdiction_path, situation="labour_contract",
                 post_class="general_auxiliary", work_type="clerical", post_name="文员", funding_source="fiscal",
                 hire_date=hire, leave_date=leave, exit_reason="resigned" if leave else "", source="form")


@pytest.fixture
def person(world):
    return Person.objects.create(**sealed_id_number(make_resident_id("440106", D(1990, 1, 1), 11)), name="测示人", sex="M",
                                 birth_date=D(1990, 1, 1), jurisdiction=world.tianhe_unit.jurisdiction,
                                 jurisdiction_path=world.tianhe_unit.jurisdiction_path)


@pytest.mark.parametrize(("first", "second", "refused"), [
    ((D(2020, 1, 1), D(2021, 1, 1)), (D(2021, 1, 1), None), False),  # leave date = next hire date: no overlap
    ((D(2020, 1, 1), D(2021, 1, 1)), (D(2020, 12, 31), None), True),
    ((D(2020, 1, 1), None), (D(2025, 1, 1), None), True),
    ((D(2020, 1, 1), None), (D(2019, 1, 1), D(2020, 1, 1)), False),
    ((D(2020, 1, 1), None), (D(2019, 1, 1), D(2020, 1, 2)), True),
])
def test_overlap_guard(world, person, first, second, refused):
    _spell(person, world.tianhe_unit, *first).save()
    other = _spell(person, world.yuexiu_unit, *second)
    if refused:
        with pytest.raises((IntegrityError, InternalError)), transaction.atomic():
            other.save()
        assert Spell.objects.count() == 1
    else:
        other.save()
        assert Spell.objects.count() == 2


def test_update_into_overlap_is_refused(world, person):
    _spell(person, world.tianhe_unit, D(2020, 1, 1), D(2021, 1, 1)).save()
    later = _spell(person, world.yuexiu_unit, D(2021, 1, 1))
    later.save()
    later.hire_date = D(2020, 6, 1)
    with pytest.raises((IntegrityError, InternalError)), transaction.atomic():
        later.save()
