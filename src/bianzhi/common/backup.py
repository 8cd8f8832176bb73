"""`bianzhi backup` / `bianzhi restore`: a consistent database copy in a checksummed container.

The backup FILE is an uncompressed tar holding two members:

* ``manifest.json`` — format and version, database engine, creation time, the payload's
  name, size and SHA-256, a summary of the applied migrations and the audit chain head
  (sequence number and hash) *as of the copied snapshot*;
* the payload — ``database.sqlite3`` (a SQLite online-backup copy) or ``database.pgdump``
  (``pg_dump --format=custom``).

Restore reads the manifest, streams the payload to a temporary file while hashing it and
refuses the file (nothing changed) when anything does not match: unreadable or truncated
container, unknown format, the other engine, wrong size or checksum.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections
from django.utils.translation import gettext as _

from .models import AuditChainHead

FORMAT = "bianzhi-backup"
VERSION = 1
MANIFEST_NAME = "manifest.json"
PAYLOAD_NAMES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
_CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup could not be written, or a backup file was refused; the message is for people."""


# --------------------------------------------------------------------------- container


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    with suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_container(dest: Path, engine: str, payload: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """Package ``payload`` with its manifest into ``dest`` (written to a temp file, then renamed)."""
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "engine": engine,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "payload": {"name": PAYLOAD_NAMES[engine], "size": payload.stat().st_size, "sha256": _sha256_file(payload)},
        **summary,
    }
    data = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8")
    dest = dest.resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            info = tarfile.TarInfo(MANIFEST_NAME)
            info.size, info.mtime, info.mode = len(data), int(dt.datetime.now().timestamp()), 0o600
            tar.addfile(info, io.BytesIO(data))
            info = tar.gettarinfo(str(payload), arcname=manifest["payload"]["name"])
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            with payload.open("rb") as fh:
                tar.addfile(info, fh)
            tar.close()
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return manifest


def _refused(reason: str) -> BackupError:
    return BackupError(_("The backup file is refused: %(reason)s. Nothing was changed.") % {"reason": reason})


@contextmanager
def open_backup(path: Path, workdir: Path, expected_engine: str) -> Iterator[tuple[dict[str, Any], Path]]:
    """Check the container and yield ``(manifest, payload path)``; the payload is a temporary
    file in ``workdir`` whose size and SHA-256 matched the manifest. Raises :class:`BackupError`."""
    workdir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".bianzhi-restore-", suffix=".tmp", dir=workdir)
    payload = Path(tmp_name)
    try:
        try:
            with os.fdopen(fd, "wb") as out, tarfile.open(path, mode="r:") as tar:
                first = tar.next()
                if first is None or first.name != MANIFEST_NAME or not first.isfile() or first.size > 1024 * 1024:
                    raise _refused(_("it is not a bianzhi backup"))
                manifest_fh = tar.extractfile(first)
                assert manifest_fh is not None
                raw_manifest = manifest_fh.read()
                if len(raw_manifest) != first.size:
                    raise _refused(_("the file is truncated"))
                try:
                    manifest = json.loads(raw_manifest)
                except ValueError:
                    raise _refused(_("its manifest is damaged")) from None
                if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                    raise _refused(_("it is not a bianzhi backup"))
                if manifest.get("version") != VERSION:
                    raise _refused(_("format version %(version)s is not supported") % {"version": manifest.get("version")})
                engine = manifest.get("engine")
                if engine != expected_engine:
                    raise _refused(
                        _("it is a %(engine)s backup, but the configured database is %(configured)s")
                        % {"engine": engine, "configured": expected_engine}
                    )
                expected = manifest.get("payload") or {}
                member = tar.next()
                if member is None or member.name != PAYLOAD_NAMES[engine] or not member.isfile():
                    raise _refused(_("the file is truncated"))
                source = tar.extractfile(member)
                assert source is not None
                digest, size = hashlib.sha256(), 0
                while chunk := source.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
        except (tarfile.TarError, EOFError, OSError) as exc:
            if isinstance(exc, FileNotFoundError):
                raise BackupError(_("The backup file %(path)s does not exist.") % {"path": path}) from None
            raise _refused(_("the file is truncated or damaged (%(error)s)") % {"error": exc}) from None
        if size != expected.get("size") or member.size != expected.get("size"):
            raise _refused(_("the file is truncated"))
        if digest.hexdigest() != expected.get("sha256"):
            raise _refused(_("the checksum does not match, the file is corrupted"))
        yield manifest, payload
    finally:
        payload.unlink(missing_ok=True)


# --------------------------------------------------------------------------- SQLite


def _sqlite_summary(conn: sqlite3.Connection) -> dict[str, Any]:
    """Migration state and audit chain head read from one SQLite connection (one snapshot)."""
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    migrations: dict[str, Any] = {"applied": 0, "latest": {}}
    if "django_migrations" in tables:
        rows = conn.execute("SELECT app, name FROM django_migrations ORDER BY id").fetchall()
        migrations = {"applied": len(rows), "latest": {app: name for app, name in rows}}
    audit: dict[str, Any] = {"seq": 0, "hash": None}
    head_table = AuditChainHead._meta.db_table
    if head_table in tables:
        row = conn.execute(f'SELECT seq, hash FROM "{head_table}" WHERE id = 1').fetchone()
        if row is not None:
            audit = {"seq": row[0], "hash": row[1]}
    return {"migrations": migrations, "audit_head": audit}


def sqlite_backup(db_path: Path, dest: Path) -> dict[str, Any]:
    """Copy a (possibly running) SQLite database with the online backup API into ``dest``."""
    if not db_path.exists():
        raise BackupError(_("The database file %(path)s does not exist.") % {"path": db_path})
    dest = dest.resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".bianzhi-backup-", dir=dest.parent) as tmp_dir:
        copy = Path(tmp_dir) / PAYLOAD_NAMES["sqlite"]
        summary = sqlite_snapshot(db_path, copy)
        return write_container(dest, "sqlite", copy, summary)


def sqlite_snapshot(db_path: Path, copy: Path) -> dict[str, Any]:
    """Copy one consistent snapshot of ``db_path`` (online backup API) into a new, self-contained
    file (rollback journal, no WAL); returns the manifest summary read from the copy."""
    source = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    target = sqlite3.connect(copy)
    try:
        source.backup(target)
        target.execute("PRAGMA journal_mode=DELETE")
        return _sqlite_summary(target)
    finally:
        target.close()
        source.close()


def _sqlite_check(path: Path) -> None:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA quick_check").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise _refused(_("the payload is not a SQLite database (%(error)s)") % {"error": exc}) from None
    if not result or result[0] != "ok":
        raise _refused(_("the SQLite integrity check failed"))


def sqlite_copy_into(source_path: Path, db_path: Path) -> None:
    """Replace the content of ``db_path`` with ``source_path`` in one SQLite transaction.

    The online backup API writes through SQLite's own locking, so the replacement is atomic
    (readers see the old or the new database), the write-ahead log stays consistent, and
    processes that still hold connections see the new content rather than an unlinked file."""
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    target = sqlite3.connect(db_path, timeout=30)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


@dataclass
class Restored:
    manifest: dict[str, Any]
    previous: Path | None


def sqlite_restore(backup: Path, db_path: Path) -> Restored:
    """Check ``backup`` and put it in place of ``db_path``. The previous database is kept as a
    copy next to it (``Restored.previous``) until the caller has verified the result."""
    db_path = db_path.resolve()
    with open_backup(backup, db_path.parent, "sqlite") as (manifest, payload):
        _sqlite_check(payload)
        previous = None
        if db_path.exists():
            previous = db_path.with_name(f"{db_path.name}.pre-restore-{dt.datetime.now():%Y%m%dT%H%M%S%f}")
            sqlite_snapshot(db_path, previous)
        try:
            sqlite_copy_into(payload, db_path)
        except sqlite3.Error as exc:
            if previous is not None:
                previous.unlink(missing_ok=True)
            raise BackupError(_("The database could not be replaced: %(error)s") % {"error": exc}) from None
    return Restored(manifest, previous)


# --------------------------------------------------------------------------- PostgreSQL


def _pg_env(db: dict[str, Any]) -> dict[str, str]:
    env = dict(os.environ)
    for key, var in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER"), ("PASSWORD", "PGPASSWORD")):
        if db.get(key):
            env[var] = str(db[key])
    sslmode = (db.get("OPTIONS") or {}).get("sslmode")
    if sslmode:
        env["PGSSLMODE"] = str(sslmode)
    return env


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(_("%(tool)s is not installed; install the PostgreSQL client tools.") % {"tool": name})
    return path


def _run(args: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(
            _("%(tool)s failed (exit code %(code)d): %(error)s")
            % {"tool": Path(args[0]).name, "code": result.returncode, "error": result.stderr.strip()}
        )


def pg_dump_to(db: dict[str, Any], payload: Path) -> dict[str, Any]:
    """``pg_dump --format=custom`` of the configured database; the manifest summary is read in
    the same exported snapshot, so it describes exactly the dumped data."""
    import psycopg

    tool = _pg_tool("pg_dump")
    env = _pg_env(db)
    conn = psycopg.connect(
        dbname=db["NAME"], host=db.get("HOST") or None, port=db.get("PORT") or None,
        user=db.get("USER") or None, password=db.get("PASSWORD") or None,
    )
    try:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.cursor() as cur:
            cur.execute("SELECT pg_export_snapshot()")
            row = cur.fetchone()
            assert row is not None
            snapshot = row[0]
            summary: dict[str, Any] = {"migrations": {"applied": 0, "latest": {}}, "audit_head": {"seq": 0, "hash": None}}
            cur.execute("SELECT to_regclass('django_migrations') IS NOT NULL, to_regclass(%s) IS NOT NULL",
                        [AuditChainHead._meta.db_table])
            has_migrations, has_head = cur.fetchone() or (False, False)
            if has_migrations:
                cur.execute("SELECT app, name FROM django_migrations ORDER BY id")
                rows = cur.fetchall()
                summary["migrations"] = {"applied": len(rows), "latest": {app: name for app, name in rows}}
            if has_head:
                cur.execute(f'SELECT seq, hash FROM "{AuditChainHead._meta.db_table}" WHERE id = 1')
                head = cur.fetchone()
                if head is not None:
                    summary["audit_head"] = {"seq": head[0], "hash": head[1]}
        _run([tool, "--format=custom", f"--snapshot={snapshot}", f"--file={payload}", f"--dbname={db['NAME']}"], env)
        conn.rollback()
    finally:
        conn.close()
    return summary


def pg_backup(db: dict[str, Any], dest: Path) -> dict[str, Any]:
    dest = dest.resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".bianzhi-backup-", dir=dest.parent) as tmp_dir:
        payload = Path(tmp_dir) / PAYLOAD_NAMES["postgresql"]
        summary = pg_dump_to(db, payload)
        return write_container(dest, "postgresql", payload, summary)


def pg_restore_from(db: dict[str, Any], payload: Path) -> None:
    """``pg_restore --clean --if-exists --no-owner`` in one transaction: all or nothing."""
    tool = _pg_tool("pg_restore")
    _run(
        [tool, "--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error",
         f"--dbname={db['NAME']}", str(payload)],
        _pg_env(db),
    )


def pg_restore(backup: Path, db: dict[str, Any], workdir: Path) -> Restored:
    """Check ``backup``, dump the current database aside (``Restored.previous``), then restore."""
    with open_backup(backup, workdir, "postgresql") as (manifest, payload):
        fd, name = tempfile.mkstemp(prefix=".bianzhi-pre-restore-", suffix=".pgdump", dir=workdir)
        os.close(fd)
        previous = Path(name)
        try:
            pg_dump_to(db, previous)
            pg_restore_from(db, payload)
        except BaseException:
            previous.unlink(missing_ok=True)
            raise
    return Restored(manifest, previous)


# --------------------------------------------------------------------------- configured database


def configured() -> tuple[str, dict[str, Any]]:
    """``(engine, settings)`` of the default database: ``sqlite`` or ``postgresql``."""
    db = settings.DATABASES["default"]
    vendor = connections["default"].vendor
    if vendor not in PAYLOAD_NAMES:
        raise BackupError(_("Backups of %(vendor)s databases are not supported.") % {"vendor": vendor})
    if vendor == "sqlite" and (str(db["NAME"]) in ("", ":memory:") or "mode=memory" in str(db["NAME"])):
        raise BackupError(_("The configured SQLite database is in memory; there is no file to back up."))
    return vendor, db
