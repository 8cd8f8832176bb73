"""`bianzhi backup FILE`: a consistent, checksummed copy of the configured database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from bianzhi.common import backup


class Command(BaseCommand):
    help = (
        "Write a consistent backup of the configured database (SQLite online backup or pg_dump) "
        "with a checksummed manifest to FILE; safe while the application runs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the backup file to write (replaced if it exists)")

    def handle(self, *args: Any, **options: Any) -> None:
        dest = Path(options["file"])
        try:
            engine, db = backup.configured()
            if engine == "sqlite":
                manifest = backup.sqlite_backup(Path(db["NAME"]), dest)
            else:
                manifest = backup.pg_backup(db, dest)
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from None
        head = manifest["audit_head"]
        self.stdout.write(
            _("Backup written to %(file)s (%(engine)s, %(size)d bytes, SHA-256 %(sha)s; audit chain head #%(seq)s).")
            % {
                "file": dest, "engine": engine, "size": manifest["payload"]["size"],
                "sha": manifest["payload"]["sha256"], "seq": head["seq"],
            }
        )
