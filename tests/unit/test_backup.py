"""`bianzhi backup` / `bianzhi restore`: round trips prove equal data; damaged files are refused."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.utils import translation

from bianzhi.common import backup

DATABASE_URL = os.environ.get("DATABASE_URL", "")
ON_POSTGRES = DATABASE_URL.startswith(("postgres://", "postgresql://"))


# --------------------------------------------------------------------------- helpers


def sqlite_rows(path: Path) -> dict[str, Any]:
    """Schema and every row of every table, ordered, as Python values (bytes stay bytes)."""
    conn = sqlite3.connect(path)
    try:
        dump: dict[str, Any] = {
            "schema": conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall()
        }
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall():
            ncols = len(conn.execute(f'PRAGMA table_info("{table}")').fetchall())
            order = ", ".join(str(i + 1) for i in range(ncols))
            dump[table] = conn.execute(f'SELECT * FROM "{table}" ORDER BY {order}').fetchall()
        return dump
    finally:
        conn.close()


def file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_db(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, price REAL, data BLOB, note TEXT)")
    conn.executemany(
        "INSERT INTO item (name, price, data, note) VALUES (?, ?, ?, ?)",
        [(f"编制{i}", i / 3, bytes(range(i % 256)) * 3, None if i % 2 else "x") for i in range(500)],
    )
    conn.commit()
    conn.close()


def payload_offset(path: Path) -> tuple[int, int]:
    with tarfile.open(path) as tar:
        member = tar.getmember(backup.PAYLOAD_NAMES["sqlite"])
        return member.offset_data, member.size


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".") or "pre-restore" in p.name)


# --------------------------------------------------------------------------- SQLite, explicit paths


def test_sqlite_round_trip_is_equal_and_consistent_while_written(tmp_path: Path) -> None:
    db = tmp_path / "live.sqlite3"
    make_db(db)
    before = sqlite_rows(db)
    # A writer with an uncommitted transaction while the backup runs: not in the copy.
    writer = sqlite3.connect(db)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO item (name) VALUES ('uncommitted')")
    try:
        manifest = backup.sqlite_backup(db, tmp_path / "out" / "b.bzb")
    finally:
        writer.rollback()
        writer.close()
    assert manifest["engine"] == "sqlite" and manifest["format"] == backup.FORMAT
    assert len(manifest["payload"]["sha256"]) == 64

    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM item WHERE id % 3 = 0")
    conn.execute("UPDATE item SET name = 'changed' WHERE id = 1")
    conn.execute("CREATE TABLE extra (x)")
    conn.commit()
    conn.close()
    assert sqlite_rows(db) != before

    restored = backup.sqlite_restore(tmp_path / "out" / "b.bzb", db)
    assert sqlite_rows(db) == before
    assert restored.previous is not None and restored.previous.exists()
    restored.previous.unlink()
    assert leftovers(tmp_path) == []


def test_corrupted_payload_is_refused_and_database_unchanged(tmp_path: Path) -> None:
    db = tmp_path / "live.sqlite3"
    make_db(db)
    file = tmp_path / "b.bzb"
    backup.sqlite_backup(db, file)
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM item WHERE id > 10")
    conn.commit()
    conn.close()
    rows, sha = sqlite_rows(db), file_sha(db)

    data = bytearray(file.read_bytes())
    offset, size = payload_offset(file)
    data[offset + size // 2] ^= 0x01
    file.write_bytes(bytes(data))
    with translation.override("en"), pytest.raises(backup.BackupError, match="checksum"):
        backup.sqlite_restore(file, db)
    assert file_sha(db) == sha and sqlite_rows(db) == rows
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("where", ["empty", "manifest", "payload_start", "payload_middle", "last_byte"])
def test_truncated_file_is_refused(tmp_path: Path, where: str) -> None:
    db = tmp_path / "live.sqlite3"
    make_db(db)
    file = tmp_path / "b.bzb"
    backup.sqlite_backup(db, file)
    offset, size = payload_offset(file)
    data = file.read_bytes()
    cut = {"empty": 0, "manifest": 700, "payload_start": offset + 10, "payload_middle": offset + size // 2,
           "last_byte": offset + size - 1}[where]
    file.write_bytes(data[:cut])
    sha = file_sha(db)
    with translation.override("en"), pytest.raises(backup.BackupError, match="refused"):
        backup.sqlite_restore(file, db)
    assert file_sha(db) == sha
    assert leftovers(tmp_path) == []


def test_backup_of_the_other_engine_or_another_file_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "live.sqlite3"
    make_db(db)
    sha = file_sha(db)
    dump = tmp_path / "x.pgdump"
    dump.write_bytes(b"PGDMP fake")
    pg_file = tmp_path / "pg.bzb"
    backup.write_container(pg_file, "postgresql", dump, {"migrations": {}, "audit_head": {"seq": 0, "hash": None}})
    with translation.override("en"), pytest.raises(backup.BackupError, match="postgresql"):
        backup.sqlite_restore(pg_file, db)
    with translation.override("en"), pytest.raises(backup.BackupError, match="refused"):
        backup.sqlite_restore(db, db)  # a bare database file is not a backup
    with translation.override("en"), pytest.raises(backup.BackupError, match="does not exist"):
        backup.sqlite_restore(tmp_path / "missing.bzb", db)
    assert file_sha(db) == sha
    assert leftovers(tmp_path) == []


# --------------------------------------------------------------------------- end to end through the CLI


def bianzhi(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bianzhi", *args], env=env, input=stdin, capture_output=True, text=True,
        timeout=600, check=False,
    )


SEED = """
from django.db import transaction
from bianzhi.common import audit
with transaction.atomic():
    audit.record_many(None, [audit.Entry(action="test.seed", scope_path="440000/", after={"n": n, "名": "值"})
                             for n in range(%d)])
"""


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env["DJANGO_SETTINGS_MODULE"] = "bianzhi.settings.base"
    env.update(extra)
    return env


def test_cli_round_trip_on_sqlite_verifies_the_audit_chain(tmp_path: Path) -> None:
    env = cli_env(BIANZHI_DATA_DIR=str(tmp_path / "data"))
    db = tmp_path / "data" / "bianzhi.sqlite3"
    assert bianzhi(env, "migrate", "-v0").returncode == 0
    assert bianzhi(env, "shell", "-c", SEED % 3).returncode == 0
    good = tmp_path / "good.bzb"
    result = bianzhi(env, "backup", str(good))
    assert result.returncode == 0, result.stderr
    rows = sqlite_rows(db)

    # Changed after the backup (more audit events), then restored: equal to the backup.
    assert bianzhi(env, "shell", "-c", SEED % 2).returncode == 0
    assert sqlite_rows(db) != rows
    result = bianzhi(env, "restore", str(good))
    assert result.returncode == 0, result.stderr
    assert sqlite_rows(db) == rows
    assert "3" in result.stdout  # "Audit chain intact: 3 events verified." (translated)

    # A backup whose checksum holds but whose audit chain was tampered with is refused after the
    # restore, and the previous database is put back.
    copy = tmp_path / "copy.sqlite3"
    backup.sqlite_snapshot(db, copy)
    conn = sqlite3.connect(copy)
    conn.execute("UPDATE common_auditevent SET actor_username = 'mallory' WHERE seq = 2")
    conn.commit()
    conn.close()
    tampered = tmp_path / "tampered.bzb"
    backup.sqlite_backup(copy, tampered)
    result = bianzhi(env, "restore", str(tampered))
    assert result.returncode == 1, result.stdout
    assert "第2号" in result.stderr  # the first broken event, named (zh-hans)
    assert sqlite_rows(db) == rows

    # A corrupted file: exit 1, nothing changed.
    data = bytearray(good.read_bytes())
    offset, size = payload_offset(good)
    data[offset + size // 3] ^= 0xFF
    corrupted = tmp_path / "corrupted.bzb"
    corrupted.write_bytes(bytes(data))
    result = bianzhi(env, "restore", str(corrupted))
    assert result.returncode == 1
    assert "CommandError" in result.stderr
    assert sqlite_rows(db) == rows
    assert [p.name for p in db.parent.iterdir() if "pre-restore" in p.name or p.name.startswith(".")] == []


# --------------------------------------------------------------------------- PostgreSQL


def pg_rows(url: str) -> dict[str, list[str]]:
    import psycopg

    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
            "AND table_type = 'BASE TABLE' ORDER BY table_name"
        )
        tables = [row[0] for row in cur.fetchall()]
        dump: dict[str, list[str]] = {}
        for table in tables:
            cur.execute(f'SELECT t::text FROM "{table}" t ORDER BY 1')
            dump[table] = [row[0] for row in cur.fetchall()]
        return dump


@pytest.mark.skipif(not ON_POSTGRES, reason="DATABASE_URL is not PostgreSQL")
def test_postgresql_round_trip(tmp_path: Path) -> None:
    import psycopg

    assert shutil.which("pg_dump") and shutil.which("pg_restore"), "PostgreSQL client tools are required"
    name = f"bianzhi_backup_{uuid.uuid4().hex[:12]}"
    parts = urlsplit(DATABASE_URL)
    url = urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(DATABASE_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        env = cli_env(DATABASE_URL=url, BIANZHI_DATA_DIR=str(tmp_path / "data"))
        result = bianzhi(env, "migrate", "-v0")
        assert result.returncode == 0, result.stderr
        assert bianzhi(env, "shell", "-c", SEED % 3).returncode == 0
        file = tmp_path / "pg.bzb"
        result = bianzhi(env, "backup", str(file))
        assert result.returncode == 0, result.stderr
        rows = pg_rows(url)

        assert bianzhi(env, "shell", "-c", SEED % 2).returncode == 0
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("UPDATE django_content_type SET model = model || '_x' WHERE id = (SELECT min(id) FROM django_content_type)")
        assert pg_rows(url) != rows

        result = bianzhi(env, "restore", str(file))
        assert result.returncode == 0, result.stderr
        assert pg_rows(url) == rows
        assert bianzhi(env, "audit", "verify").returncode == 0

        # A corrupted file is refused and nothing changes; so is a SQLite backup.
        data = bytearray(file.read_bytes())
        with tarfile.open(file) as tar:
            member = tar.getmember(backup.PAYLOAD_NAMES["postgresql"])
        data[member.offset_data + member.size // 2] ^= 0x01
        corrupted = tmp_path / "corrupted.bzb"
        corrupted.write_bytes(bytes(data))
        assert bianzhi(env, "shell", "-c", SEED % 1).returncode == 0
        changed = pg_rows(url)
        assert bianzhi(env, "restore", str(corrupted)).returncode == 1
        sqlite_db = tmp_path / "s.sqlite3"
        make_db(sqlite_db)
        backup.sqlite_backup(sqlite_db, tmp_path / "sqlite.bzb")
        assert bianzhi(env, "restore", str(tmp_path / "sqlite.bzb")).returncode == 1
        assert pg_rows(url) == changed
    finally:
        with psycopg.connect(DATABASE_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
