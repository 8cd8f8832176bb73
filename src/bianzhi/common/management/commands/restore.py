"""`bianzhi restore FILE`: check a backup's checksum, replace the database, verify the audit chain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor
from django.utils.translation import gettext as _

from bianzhi.common import backup
from bianzhi.common.audit import verify_chain


class Command(BaseCommand):
    help = (
        "Restore the configured database from a backup FILE written by `bianzhi backup`. A corrupted or "
        "truncated file, or a backup of the other engine, is refused without changing anything; the restored "
        "audit chain must verify, otherwise the previous database is put back."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the backup file to restore")

    def handle(self, *args: Any, **options: Any) -> None:
        source = Path(options["file"])
        try:
            engine, db = backup.configured()
            connections.close_all()
            if engine == "sqlite":
                restored = backup.sqlite_restore(source, Path(db["NAME"]))
            else:
                workdir = Path(getattr(settings, "DATA_DIR", Path.cwd()))
                restored = backup.pg_restore(source, db, workdir)
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from None

        try:
            self._verify(restored.manifest)
        except CommandError:
            self._put_back(engine, db, restored.previous)
            raise
        if restored.previous is not None:
            restored.previous.unlink(missing_ok=True)
        self.stdout.write(
            _("Restored %(file)s (%(engine)s backup of %(created)s).")
            % {"file": source, "engine": engine, "created": restored.manifest.get("created_at")}
        )
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            self.stdout.write(_("The backup predates some migrations of this version; run `bianzhi migrate`."))

    def _verify(self, manifest: dict[str, Any]) -> None:
        result = verify_chain()
        if not result.ok:
            raise CommandError(
                _("The restored audit chain does not verify (broken at event #%(seq)s, %(reason)s); "
                  "the previous database was put back.") % {"seq": result.broken_seq, "reason": result.reason}
            )
        head = manifest.get("audit_head") or {}
        if result.last_seq != (head.get("seq") or 0):  # the last event, not the count: pruning removes the first
            raise CommandError(
                _("The restored audit chain has %(n)d events but the backup recorded %(expected)s; "
                  "the previous database was put back.") % {"n": result.last_seq, "expected": head.get("seq")}
            )
        self.stdout.write(_("Audit chain intact: %(n)d events verified.") % {"n": result.checked})

    def _put_back(self, engine: str, db: dict[str, Any], previous: Path | None) -> None:
        connections.close_all()
        if previous is None:
            return
        try:
            if engine == "sqlite":
                backup.sqlite_copy_into(previous, Path(db["NAME"]))
            else:
                backup.pg_restore_from(db, previous)
        except Exception as exc:
            raise CommandError(
                _("The restored audit chain does not verify and putting back the previous database failed "
                  "(%(error)s); it is kept in %(path)s.") % {"error": exc, "path": previous}
            ) from None
        previous.unlink(missing_ok=True)
