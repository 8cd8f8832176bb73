"""`bianzhi import KIND FILE [--mode register|inventory] [--dry-run] [--as USER] [--json]`.

Exit codes (docs: INTERFACES.md): **0** every row valid and committed (dry run: valid,
nothing committed); **1** rejected, nothing written, every error listed; **2** usage
error, unknown user, a kind that is not available yet, or a file that cannot be read at
all (missing, not a workbook, truncated, not UTF-8). A file that is readable but has the
wrong columns or no data rows is a rejection (1), like any other template error.

Each kind maps to an importer
``(*, actor, data, filename, dry_run, progress, [mode]) -> ImportResult``
(:class:`bianzhi.common.tabular.ImportResult`; ``progress(phase, done, total)`` may be
ignored); later issues register theirs in :data:`IMPORTERS`. ``--mode`` is passed on only
to kinds registered with ``takes_mode`` (the roster); the others accept and ignore it.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandParser
from django.utils import translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from bianzhi.common.errors import ErrorDetail
from bianzhi.common.tabular import ImportResult


@dataclass(frozen=True)
class ImporterSpec:
    """Where an import kind lives: ``path`` is the dotted path of its function (``None``
    while the kind is not implemented); ``takes_mode`` passes ``--mode`` on (roster)."""

    path: str | None
    takes_mode: bool = False


IMPORTERS: dict[str, ImporterSpec] = {
    "units": ImporterSpec("bianzhi.orgs.importing.import_units"),
    "roster": ImporterSpec("bianzhi.staffing.importing.import_roster", takes_mode=True),
    "funding": ImporterSpec("bianzhi.funds.importing.import_funding"),
    "purchases": ImporterSpec("bianzhi.funds.importing.import_purchases"),
    "bodies": ImporterSpec("bianzhi.bodies.importing.import_bodies"),
}

EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2


class Command(BaseCommand):
    help = "Import an exchange template (.xlsx or UTF-8 CSV): validate every row, then commit all or nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=sorted(IMPORTERS), help="what the file holds")
        parser.add_argument("file", help="the .xlsx workbook or UTF-8 CSV file")
        parser.add_argument("--mode", choices=["register", "inventory"], default="register",
                            help="roster only: register (报送, default) or inventory (摸底)")
        parser.add_argument("--dry-run", action="store_true", help="validate and preview, write nothing")
        parser.add_argument("--as", dest="as_user", default=None,
                            help="username to import as (default: the built-in system administrator)")
        parser.add_argument("--json", action="store_true", help="machine-readable report on standard output")

    def handle(self, *args: Any, **options: Any) -> None:
        with translation.override(settings.LANGUAGE_CODE):
            code = self._run(options)
        if code:
            sys.exit(code)

    # ------------------------------------------------------------------ helpers

    def _fail(self, options: dict[str, Any], message: str, code: int = EXIT_USAGE) -> int:
        if options["json"]:
            self.stdout.write(json.dumps({"errors": [{"row": None, "column": None, "value": None,
                                                      "code": "usage", "message": message}]},
                                         ensure_ascii=False))
        else:
            self.stderr.write(message)
        return code

    def _run(self, options: dict[str, Any]) -> int:
        from bianzhi.accounts.models import User
        from bianzhi.accounts.services import system_user

        kind = options["kind"]
        spec = IMPORTERS[kind]
        if spec.path is None:
            return self._fail(options, _("Importing “%(kind)s” is not available yet.") % {"kind": kind})
        path = Path(options["file"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            return self._fail(options, _("Cannot read %(file)s: %(reason)s") % {
                "file": path, "reason": exc.strerror or exc})
        if options["as_user"]:
            actor = User.objects.filter(username=options["as_user"]).select_related("jurisdiction").first()
            if actor is None or not actor.is_active:
                message = _("Unknown or inactive user “%(user)s”.") % {"user": options["as_user"]}
                return self._fail(options, message)
        else:
            actor = system_user()
        importer = import_string(spec.path)
        extra = {"mode": options["mode"]} if spec.takes_mode else {}
        progress = _Progress(self, enabled=not options["json"])
        try:
            result: ImportResult = importer(actor=actor, data=data, filename=path.name,
                                            dry_run=options["dry_run"], progress=progress, **extra)
        except PermissionDenied:
            return self._fail(options, _("User “%(user)s” may not import “%(kind)s” files.") % {
                "user": actor.username, "kind": kind})
        finally:
            progress.stop()
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False))
        else:
            self._report(result)
        if result.unreadable:
            return EXIT_USAGE
        return EXIT_OK if result.ok else EXIT_REJECTED

    def _report(self, result: ImportResult) -> None:
        params = {"file": result.filename, "created": result.created, "updated": result.updated,
                  "unchanged": result.unchanged, "rows": result.rows}
        if result.errors:
            for error in result.errors:
                self.stdout.write(_describe(error))
            self.stdout.write(_("Rejected %(file)s: %(count)d errors; nothing was written.") % {
                "file": result.filename, "count": len(result.errors)})
        elif result.dry_run:
            self.stdout.write(_(
                "Dry run of %(file)s: %(rows)d rows valid; %(created)d would be created, "
                "%(updated)d updated, %(unchanged)d unchanged. Nothing was written."
            ) % params)
        else:
            self.stdout.write(_(
                "Imported %(file)s: %(rows)d rows; %(created)d created, %(updated)d updated, "
                "%(unchanged)d unchanged."
            ) % params)
            self.stdout.write(f"SHA-256 {result.sha256}")


def _describe(error: ErrorDetail) -> str:
    parts = []
    if error.row is not None:
        parts.append(_("Row %(row)s") % {"row": error.row})
    if error.field:
        parts.append(f"[{error.field}]")
    value = error.value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if value not in (None, ""):
        parts.append(f"“{value}”")
    parts.append(f"{error.message} ({error.code})")
    return " ".join(parts)


class _Progress:
    """A one-line status on standard error (rich), shown only on a terminal."""

    _PHASES = {
        "read": gettext_noop("Reading the file"),
        "validate": gettext_noop("Checking every row"),
        "write": gettext_noop("Writing"),
    }

    def __init__(self, command: BaseCommand, *, enabled: bool) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self.enabled = enabled and self.console.is_terminal
        self.status: Any = None

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        text = _(self._PHASES.get(phase, phase)) + (f" {done}/{total}" if total > 1 else "") + " …"
        if self.status is None:
            self.status = self.console.status(text)
            self.status.start()
        else:
            self.status.update(text)

    def stop(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None
