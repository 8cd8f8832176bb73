"""Audit retention: export a verifiable range, verify it offline, prune only old events and keep
the chain verifiable; the production check refuses a retention below 180 days."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from bianzhi.common import audit
from bianzhi.common.audit_checks import audit_retention
from bianzhi.common.audit_export import PruneRefused, prune, verify_export
from bianzhi.common.models import AuditChainHead, AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english_messages():
    """The commands' messages are asserted in their English source form (the UI default is
    zh-hans, whose wording may change)."""
    from django.utils import translation

    with translation.override("en"):
        yield

TODAY = timezone.localdate()


@pytest.fixture
def province(db, monkeypatch):
    """The division tree and the built-in system user, loaded (and audited) 500 days ago, so
    that the chain starts with old events like a deployment's does."""
    from bianzhi.accounts.services import system_user
    from bianzhi.divisions.services import divisions_load

    long_ago = timezone.now() - dt.timedelta(days=500)
    with monkeypatch.context() as m:
        m.setattr(audit.timezone, "now", lambda: long_ago)
        divisions_load()
        system_user()


@pytest.fixture
def record_at(province, monkeypatch):
    """Write ``n`` events as if it were ``days_ago`` days ago (the time is part of the hash)."""

    def write(days_ago: int, n: int = 3, action: str = "test.event") -> list[int]:
        when = timezone.make_aware(dt.datetime.combine(TODAY - dt.timedelta(days=days_ago), dt.time(10, 30)))
        with monkeypatch.context() as m:
            m.setattr(audit.timezone, "now", lambda: when)
            with transaction.atomic():
                audit.record_many(None, [
                    audit.Entry(action=action, scope_path="440000/440100/440106/", object_type="orgs.unit",
                                object_id=str(i), object_repr=f"测试单位{i}",
                                before={"名称": "旧", "n": i}, after={"名称": "新", "amount": "12.50", "n": i})
                    for i in range(n)
                ])
        return list(AuditEvent.objects.order_by("-seq").values_list("seq", flat=True)[:n])[::-1]

    return write


def day(days_ago: int) -> str:
    return (TODAY - dt.timedelta(days=days_ago)).isoformat()


def independent_check(path: Path) -> tuple[int, str | None, str | None]:
    """The check docs/cli.md describes, written from the description alone (json + SM3)."""

    def sm3(data: bytes) -> str:
        digest = hashes.Hash(hashes.SM3())
        digest.update(data)
        return digest.finalize().hex()

    fields = ("seq", "at", "actor_id", "actor_username", "action", "object_type", "object_id", "object_repr",
              "scope_path", "before", "after", "request_id", "ip")
    lines = path.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    prev = header["prev_hash"]
    count = 0
    for line in lines[1:]:
        row = json.loads(line)
        body = json.dumps({k: row[k] for k in fields}, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode("utf-8")
        assert row["prev_hash"] == prev
        assert sm3(row["prev_hash"].encode("ascii") + body) == row["hash"], row["seq"]
        prev = row["hash"]
        count += 1
    assert count == header["count"]
    return count, header["prev_hash"], prev if count else None


# ---------------------------------------------------------------------------------------------
# Export


def test_an_exported_range_verifies_offline_and_joins_the_next(record_at, tmp_path, capsys):
    first_day = record_at(300)
    second_day = record_at(200, n=4)
    record_at(10)
    early, middle = tmp_path / "early.jsonl", tmp_path / "middle.jsonl"
    call_command("audit", "export", "--from", day(310), "--to", day(250), str(early))
    call_command("audit", "export", "--from", day(200), "--to", day(200), str(middle))
    assert str(len(second_day)) in capsys.readouterr().out

    header = json.loads(middle.read_text(encoding="utf-8").splitlines()[0])
    assert (header["first_seq"], header["last_seq"], header["count"]) == (second_day[0], second_day[-1], 4)
    assert header["head_seq"] >= second_day[-1]
    count, prev_hash, last_hash = independent_check(middle)
    assert count == 4
    assert prev_hash == AuditEvent.objects.get(seq=first_day[-1]).hash  # links to the event before the range
    assert last_hash == AuditEvent.objects.get(seq=second_day[-1]).hash
    # Consecutive exports join: one's last hash is the next one's link.
    assert independent_check(early)[2] == prev_hash

    call_command("audit", "verify", str(middle))
    out = capsys.readouterr().out
    assert f"#{second_day[0]}" in out and f"#{second_day[-1]}" in out and last_hash in out
    # The export is itself audited.
    event = AuditEvent.objects.filter(action="audit.export").order_by("-seq").first()
    assert event.after["count"] == 4 and event.after["first_seq"] == second_day[0]
    assert len(event.after["sha256"]) == 64


def test_a_changed_or_missing_line_of_an_export_is_named(record_at, tmp_path, capsys):
    seqs = record_at(5, n=5)
    path = tmp_path / "audit.jsonl"
    call_command("audit", "export", "--from", day(5), "--to", day(5), str(path))
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)

    changed = list(lines)
    row = json.loads(changed[3])
    row["after"]["amount"] = "99999.00"
    changed[3] = json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n"
    (tmp_path / "changed.jsonl").write_text("".join(changed), encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        call_command("audit", "verify", str(tmp_path / "changed.jsonl"))
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert f"#{seqs[2]}" in err or f"第{seqs[2]}号" in err

    with (tmp_path / "changed.jsonl").open(encoding="utf-8") as fh:
        result = verify_export(fh)
    assert (result.ok, result.broken_seq, result.reason) == (False, seqs[2], "hash")

    missing = lines[:3] + lines[4:]
    (tmp_path / "missing.jsonl").write_text("".join(missing), encoding="utf-8")
    with (tmp_path / "missing.jsonl").open(encoding="utf-8") as fh:
        result = verify_export(fh)
    assert (result.ok, result.broken_seq, result.reason) == (False, seqs[2], "missing")

    truncated = lines[:-1]
    (tmp_path / "truncated.jsonl").write_text("".join(truncated), encoding="utf-8")
    with (tmp_path / "truncated.jsonl").open(encoding="utf-8") as fh:
        result = verify_export(fh)
    assert not result.ok and result.reason == "missing"

    (tmp_path / "other.jsonl").write_text('{"format": "something else"}\n', encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        call_command("audit", "verify", str(tmp_path / "other.jsonl"))
    assert exc.value.code == 1
    with pytest.raises(SystemExit) as exc:
        call_command("audit", "verify", str(tmp_path / "absent.jsonl"))
    assert exc.value.code == 2


def test_an_empty_range_exports_a_header_only(record_at, tmp_path):
    record_at(5)
    path = tmp_path / "empty.jsonl"
    call_command("audit", "export", "--from", day(100), "--to", day(90), str(path))
    header = json.loads(path.read_text(encoding="utf-8"))
    assert header["count"] == 0 and header["first_seq"] is None
    with path.open(encoding="utf-8") as fh:
        assert verify_export(fh).ok


# ---------------------------------------------------------------------------------------------
# Prune


def test_prune_refuses_anything_younger_than_the_retention_period(record_at, tmp_path, capsys, settings):
    assert settings.BIANZHI_AUDIT_RETENTION_DAYS == 180
    kept = record_at(179) + record_at(1)
    count = AuditEvent.objects.count()
    head = AuditChainHead.objects.get(pk=1).seq
    for before in (day(179), day(0), day(-30)):  # would delete events younger than 180 days
        with pytest.raises(SystemExit) as exc:
            call_command("audit", "prune", "--before", before, "--archive", str(tmp_path / "a.jsonl"))
        assert exc.value.code == 1
    err = capsys.readouterr().err
    assert day(180) in err
    assert AuditEvent.objects.count() == count and AuditChainHead.objects.get(pk=1).seq == head
    assert not (tmp_path / "a.jsonl").exists()
    # The latest day allowed deletes the set-up of 500 days ago, and nothing younger than 180 days.
    call_command("audit", "prune", "--before", day(180))
    assert AuditEvent.objects.filter(seq__in=kept).count() == len(kept)
    assert AuditEvent.objects.order_by("seq").values_list("seq", flat=True).first() == kept[0]
    assert AuditEvent.objects.filter(at__lt=timezone.now() - dt.timedelta(days=180)).count() == 0
    assert audit.verify_chain().ok
    with pytest.raises(PruneRefused) as refused:
        prune(actor=None, before=TODAY - dt.timedelta(days=100))
    assert refused.value.reason == "young"


def test_prune_keeps_the_chain_verifiable_from_its_checkpoint(record_at, tmp_path, capsys):
    oldest = record_at(400)
    old = record_at(300, n=4)
    young = record_at(100)
    recent = record_at(0)
    archive = tmp_path / "archive-1.jsonl"

    call_command("audit", "prune", "--before", day(350), "--archive", str(archive))
    assert not AuditEvent.objects.filter(seq__lte=oldest[-1]).exists()
    checkpoint = AuditEvent.objects.filter(action=audit.PRUNE_ACTION).get()
    assert checkpoint.after["through_seq"] == oldest[-1] and checkpoint.after["from_seq"] == 1
    assert checkpoint.after["count"] == oldest[-1] and checkpoint.after["retention_days"] == 180
    assert checkpoint.scope_path == "440000/"  # the province: its administrators see it
    result = audit.verify_chain()
    assert result.ok and result.first_seq == old[0] and result.checkpoint_seq == checkpoint.seq
    assert result.last_seq == AuditChainHead.objects.get(pk=1).seq
    # The archive verifies offline and ends with the hash the checkpoint recorded.
    assert independent_check(archive) == (oldest[-1], audit.GENESIS_HASH, checkpoint.after["through_hash"])
    assert checkpoint.after["archive_sha256"] == __import__("hashlib").sha256(archive.read_bytes()).hexdigest()

    call_command("audit", "prune", "--before", day(200))  # a second cut, from the first checkpoint on
    assert not AuditEvent.objects.filter(seq__lte=old[-1]).exists()
    assert AuditEvent.objects.filter(seq__in=young + recent).count() == len(young + recent)
    result = audit.verify_chain()
    assert result.ok and result.first_seq == young[0]
    capsys.readouterr()
    call_command("audit", "verify")
    assert f"#{young[0]}" in capsys.readouterr().out


def test_tampering_after_a_prune_is_still_found(record_at):
    record_at(400)
    young = record_at(10)
    prune(actor=None, before=TODAY - dt.timedelta(days=300))
    # The first remaining event deleted as well: the checkpoint names another one.
    AuditEvent.objects.filter(seq=young[0]).delete()
    result = audit.verify_chain()
    assert (result.ok, result.broken_seq, result.reason) == (False, young[0], "missing")


def test_a_forged_checkpoint_is_found(record_at):
    record_at(400)
    young = record_at(10)
    prune(actor=None, before=TODAY - dt.timedelta(days=300))
    checkpoint = AuditEvent.objects.get(action=audit.PRUNE_ACTION)
    AuditEvent.objects.filter(seq=checkpoint.seq).update(after={**checkpoint.after, "through_hash": "f" * 64})
    result = audit.verify_chain()
    assert not result.ok and result.broken_seq == young[0] and result.reason == "prev_hash"


def test_prune_refuses_a_broken_chain_and_a_dry_run_changes_nothing(record_at, capsys):
    old = record_at(400)
    record_at(10)
    count = AuditEvent.objects.count()
    call_command("audit", "prune", "--before", day(300), "--dry-run")
    assert f"#{old[-1]}" in capsys.readouterr().out and AuditEvent.objects.count() == count

    AuditEvent.objects.filter(seq=old[1]).update(object_repr="改过")
    with pytest.raises(SystemExit) as exc:
        call_command("audit", "prune", "--before", day(300))
    assert exc.value.code == 1
    assert AuditEvent.objects.count() == count


# ---------------------------------------------------------------------------------------------
# Retention setting


def test_the_retention_check(settings):
    settings.BIANZHI_AUDIT_RETENTION_DAYS = 90
    assert [m.id for m in audit_retention()] == ["bianzhi.E001"]
    settings.BIANZHI_AUDIT_RETENTION_DAYS = 180
    assert audit_retention() == []
    settings.BIANZHI_AUDIT_RETENTION_DAYS = 365
    assert audit_retention() == []


def _production_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BIANZHI_", "DJANGO_", "DATABASE_URL"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "bianzhi.settings.production",
        "BIANZHI_SECRET_KEY": secrets.token_urlsafe(50),
        "BIANZHI_ALLOWED_HOSTS": "bianzhi.example.gov.cn",
        "BIANZHI_CSRF_TRUSTED_ORIGINS": "https://bianzhi.example.gov.cn",
        "BIANZHI_PII_KEY": secrets.token_hex(32),
        "DATABASE_URL": "postgresql://bianzhi:s3cret-Passw0rd@127.0.0.1:5432/bianzhi",
    })
    env.update(values)
    return env


def _check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bianzhi", "check", "--deploy", "--fail-level", "WARNING"],
                          env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.django_db(False)
def test_production_refuses_a_retention_below_180_days_and_a_password_only_administrator():
    result = _check_deploy(_production_env(BIANZHI_AUDIT_RETENTION_DAYS="90"))
    assert result.returncode != 0 and "bianzhi.E001" in result.stdout + result.stderr
    result = _check_deploy(_production_env(BIANZHI_TOTP_REQUIRED_ROLES=""))
    assert result.returncode != 0 and "bianzhi.W003" in result.stdout + result.stderr
    result = _check_deploy(_production_env(BIANZHI_AUDIT_RETENTION_DAYS="365"))
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------------------------------------
# Backup and restore after a prune (through the CLI, on a file database)

SEED = """
import datetime as dt
from django.db import transaction
from django.utils import timezone
from bianzhi.common import audit
from bianzhi.accounts.services import system_user
from bianzhi.divisions.services import divisions_load
for days in (400, 0):
    when = timezone.now() - dt.timedelta(days=days)
    timezone.now, real = (lambda: when), timezone.now
    try:
        if days:
            divisions_load()
            system_user()
        with transaction.atomic():
            audit.record_many(None, [audit.Entry(action="test.seed", scope_path="440000/", after={"n": n})
                                     for n in range(3)])
    finally:
        timezone.now = real
from django.core.management import call_command
call_command("audit", "prune", "--before", (timezone.localdate() - dt.timedelta(days=200)).isoformat())
call_command("audit", "verify")
call_command("backup", BACKUP)
"""


@pytest.mark.django_db(False)
def test_backup_and_restore_after_a_prune(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env.update({"DJANGO_SETTINGS_MODULE": "bianzhi.settings.base", "BIANZHI_DATA_DIR": str(tmp_path / "data")})

    def bianzhi(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bianzhi", *args], env=env, capture_output=True, text=True,
                              timeout=600)

    assert bianzhi("migrate", "-v0").returncode == 0
    backup_file = tmp_path / "after-prune.bzb"
    seeded = bianzhi("shell", "-c", f"BACKUP = {str(backup_file)!r}\n" + SEED)  # seed, prune, verify, back up
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    assert "#" in seeded.stdout and backup_file.exists()
    restored = bianzhi("restore", str(backup_file))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    conn = sqlite3.connect(tmp_path / "data" / "bianzhi.sqlite3")
    try:
        actions = [a for (a,) in conn.execute("SELECT action FROM common_auditevent ORDER BY seq")]
    finally:
        conn.close()
    assert "audit.prune" in actions and actions.count("test.seed") == 3


def test_export_dates_default_to_the_year(record_at, tmp_path):
    record_at(0)
    path = tmp_path / "year.jsonl"
    call_command("audit", "export", str(path))
    header = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert (header["from"], header["to"]) == (f"{TODAY.year}-01-01", f"{TODAY.year}-12-31")
    assert header["count"] >= 3
    call_command("audit", "export", "--to", f"{TODAY.year - 1}-06-30", str(path))
    header = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert (header["from"], header["to"]) == (f"{TODAY.year - 1}-01-01", f"{TODAY.year - 1}-06-30")
