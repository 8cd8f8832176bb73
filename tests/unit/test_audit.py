"""The SM3 audit chain: written in the service's transaction, verified, tampering named."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from bianzhi.common import audit
from bianzhi.common.models import AuditChainHead, AuditEvent
from bianzhi.orgs import services


def _events(world):
    admin = world.users.province_admin
    services.unit_rename(actor=admin, unit_id=world.tianhe_unit.pk, name="天河区改名测试局", on=dt.date(2021, 1, 1))
    services.quota_set(actor=admin, unit_id=world.tianhe_unit.pk, kind="administrative", approved=5, actual=3,
                       on=dt.date(2021, 1, 1))
    services.unit_rename(actor=admin, unit_id=world.yuexiu_unit.pk, name="越秀区改名测试局", on=dt.date(2021, 1, 1))


def test_sm3_known_answer():
    # GB/T 32905-2016 example: SM3("abc")
    assert audit.sm3_hex(b"abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


def test_chain_verifies_and_links(world):
    _events(world)
    events = list(AuditEvent.objects.order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].prev_hash == audit.GENESIS_HASH
    for previous, event in itertools.pairwise(events):
        assert event.prev_hash == previous.hash
    head = AuditChainHead.objects.get(pk=1)
    assert (head.seq, head.hash) == (events[-1].seq, events[-1].hash)
    result = audit.verify_chain()
    assert result.ok and result.checked == len(events)


def test_altered_row_is_named(world, capsys):
    _events(world)
    target = AuditEvent.objects.get(action="establishment.set")
    AuditEvent.objects.filter(seq=target.seq).update(after={"approved": 500, "actual": 3})
    result = audit.verify_chain()
    assert not result.ok and result.broken_seq == target.seq and result.reason == "hash"
    with pytest.raises(SystemExit) as exc:
        call_command("audit", "verify")
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert f"第{target.seq}号" in err or f"#{target.seq}" in err


def test_rehashed_row_breaks_the_next_link(world):
    _events(world)
    target = AuditEvent.objects.get(action="establishment.set")
    target.after = {"approved": 500}
    target.hash = audit.chain_hash(target.prev_hash, target)
    AuditEvent.objects.filter(seq=target.seq).update(after=target.after, hash=target.hash)
    result = audit.verify_chain()
    assert not result.ok and result.broken_seq == target.seq + 1 and result.reason == "prev_hash"


def test_deleted_row_is_named(world):
    _events(world)
    victim = AuditEvent.objects.order_by("seq")[1]
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM common_auditevent WHERE seq = %s", [victim.seq])
    result = audit.verify_chain()
    assert not result.ok and result.broken_seq == victim.seq and result.reason == "missing"


def test_verify_command_passes(world, capsys):
    _events(world)
    call_command("audit", "verify")
    assert str(AuditEvent.objects.count()) in capsys.readouterr().out


def test_record_outside_a_transaction_is_refused(transactional_db):
    with pytest.raises(RuntimeError):
        audit.record(None, audit.Entry(action="x", scope_path="440000/"))


def test_rolled_back_service_leaves_no_audit_row(world):
    before = AuditEvent.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.unit_rename(actor=world.users.province_admin, unit_id=world.tianhe_unit.pk, name="回滚测试",
                             on=dt.date(2021, 1, 1))
        raise RuntimeError("roll back")
    assert AuditEvent.objects.count() == before
    assert audit.verify_chain().ok
