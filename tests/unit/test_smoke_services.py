import datetime as dt

import pytest

from bianzhi.common.audit import verify_chain
from bianzhi.common.errors import BianzhiError
from bianzhi.common.models import AuditEvent
from bianzhi.orgs import selectors, services
from bianzhi.orgs.models import Unit

from ..factories import next_uscc


def test_set_up_rename_as_of(world):
    actor = world.users.tianhe_reviewer
    unit = services.unit_set_up(actor=actor, uscc=next_uscc(), name="天河区新设中心", category="public_institution",
                                funding_form="full", jurisdiction="440106", set_up_on=dt.date(2020, 1, 1))
    services.unit_rename(actor=actor, unit_id=unit.pk, name="天河区改名中心", on=dt.date(2022, 6, 1))
    names_2021 = {v.name for v in selectors.unit_versions_as_of(actor=actor, as_of=dt.date(2021, 1, 1))}
    names_2023 = {v.name for v in selectors.unit_versions_as_of(actor=actor, as_of=dt.date(2023, 1, 1))}
    assert "天河区新设中心" in names_2021 and "天河区改名中心" not in names_2021
    assert "天河区改名中心" in names_2023 and "天河区新设中心" not in names_2023
    assert list(AuditEvent.objects.exclude(action="divisions.load").order_by("seq").values_list("action", flat=True)) == ["unit.set_up", "unit.rename"]
    assert verify_chain().ok


def test_out_of_scope_division_is_refused_and_nothing_written(world):
    before = Unit.objects.count()
    with pytest.raises(BianzhiError) as exc:
        services.unit_set_up(actor=world.users.tianhe_reviewer, uscc=next_uscc("440104"), name="越界",
                             category="other", funding_form="full", jurisdiction="440104",
                             set_up_on=dt.date(2020, 1, 1))
    assert exc.value.codes == ["division_not_found"]
    assert Unit.objects.count() == before
    assert not AuditEvent.objects.exclude(action="divisions.load").exists()
