"""`bianzhi audit verify [FILE]` / `export --from D --to D FILE` / `prune --before D [--archive FILE]`.

Exit codes: 0 done (or intact); 1 broken or refused; 2 usage error or unreadable file.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bianzhi.common import audit
from bianzhi.common.audit import verify_chain
from bianzhi.common.audit_checks import retention_days
from bianzhi.common.audit_export import PruneRefused, export_to_file, prune, verify_export


def _date(value: str) -> dt.date:
    return dt.date.fromisoformat(value)


class Command(BaseCommand):
    help = ("Audit trail tools: `verify` re-walks the hash chain (or checks an export FILE offline), "
            "`export` writes a verifiable range as JSON Lines, `prune` deletes events older than the "
            "retention period.")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        verify = sub.add_parser("verify", help="re-walk the audit hash chain, or check an export file")
        verify.add_argument("file", nargs="?", default=None, help="an export of `bianzhi audit export`")
        export = sub.add_parser("export", help="export the events of a date range as JSON Lines")
        export.add_argument("--from", dest="date_from", type=_date, default=None,
                            help="first day, YYYY-MM-DD (default: 1 January of the year)")
        export.add_argument("--to", dest="date_to", type=_date, default=None,
                            help="last day, YYYY-MM-DD (default: 31 December of the year)")
        export.add_argument("file")
        prune_parser = sub.add_parser("prune", help="delete events before a day older than the retention period")
        prune_parser.add_argument("--before", type=_date, required=True, help="delete events before this day")
        prune_parser.add_argument("--archive", default=None, help="export the pruned events to this file first")
        prune_parser.add_argument("--dry-run", action="store_true", help="say what would be deleted, delete nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "verify":
            if options["file"]:
                self._verify_file(Path(options["file"]))
            else:
                self._verify_database()
        elif action == "export":
            self._export(options)
        else:
            self._prune(options)

    # -------------------------------------------------------------------------------------------

    def _reason(self, reason: str) -> str:
        reasons = {
            "hash": _("its content does not match its hash"),
            "prev_hash": _("its link to the previous event is broken"),
            "missing": _("the event is missing"),
            "head": _("the chain head does not match the last event"),
            "header": _("the file's header does not match its events"),
        }
        return reasons.get(reason, reason)

    def _verify_database(self) -> None:
        result = verify_chain()
        if result.ok:
            self.stdout.write(_("Audit chain intact: %(n)d events verified.") % {"n": result.checked})
            if result.checkpoint_seq is not None:
                self.stdout.write(
                    _("Events before #%(first)s were pruned; the walk started from the hash recorded by "
                      "prune event #%(checkpoint)s.") % {"first": result.first_seq, "checkpoint": result.checkpoint_seq}
                )
            return
        self.stderr.write(
            _("Audit chain broken at event #%(seq)s (%(reason)s); %(n)d events before it verified.")
            % {"seq": result.broken_seq, "reason": self._reason(result.reason), "n": result.checked}
        )
        sys.exit(1)

    def _verify_file(self, path: Path) -> None:
        try:
            with path.open(encoding="utf-8") as lines:
                result = verify_export(lines)
        except (OSError, UnicodeDecodeError) as exc:
            self.stderr.write(_("Cannot read %(file)s: %(error)s") % {"file": path, "error": exc})
            sys.exit(2)
        if not result.ok:
            if result.reason.startswith("format"):
                self.stderr.write(_("%(file)s is not an audit export of bianzhi (%(reason)s).")
                                  % {"file": path, "reason": result.reason})
            else:
                self.stderr.write(
                    _("Audit export broken at event #%(seq)s (%(reason)s); %(n)d events before it verified.")
                    % {"seq": result.broken_seq, "reason": self._reason(result.reason), "n": result.checked}
                )
            sys.exit(1)
        if not result.checked:
            self.stdout.write(_("Audit export intact: no events."))
            return
        self.stdout.write(
            _("Audit export intact: %(n)d events #%(first)s–#%(last)s verified.")
            % {"n": result.checked, "first": result.first_seq, "last": result.last_seq}
        )
        self.stdout.write(_("Links to the event before it by: %(prev)s") % {"prev": result.prev_hash})
        self.stdout.write(_("Hash of its last event: %(hash)s") % {"hash": result.last_hash})

    def _export(self, options: dict[str, Any]) -> None:
        from bianzhi.accounts.services import system_user

        date_from, date_to, path = options["date_from"], options["date_to"], Path(options["file"])
        # Like every --from/--to of bianzhi: a missing end is that of the year of the other one
        # (of the current year when both are missing).
        year = (date_from or date_to or timezone.localdate()).year
        date_from = date_from or dt.date((date_to or dt.date(year, 1, 1)).year, 1, 1)
        date_to = date_to or dt.date(date_from.year, 12, 31)
        if date_from and date_to and date_from > date_to:
            self.stderr.write(_("--from must not be later than --to."))
            sys.exit(2)
        if not path.parent.is_dir():
            self.stderr.write(_("Cannot write %(file)s: no such directory.") % {"file": path})
            sys.exit(2)
        result = export_to_file(path, date_from=date_from, date_to=date_to)
        actor = system_user()
        with transaction.atomic():
            audit.record(actor, audit.Entry(
                action="audit.export", scope_path=actor.jurisdiction_path, object_type="common.auditevent",
                object_repr=f"#{result.first_seq}–#{result.last_seq}" if result.count else "",
                after={"from": date_from, "to": date_to, "first_seq": result.first_seq, "last_seq": result.last_seq,
                       "count": result.count, "sha256": result.sha256, "file": path.name},
            ))
        if result.count:
            self.stdout.write(
                _("Exported %(n)d events #%(first)s–#%(last)s to %(file)s (SHA-256 %(sha)s).")
                % {"n": result.count, "first": result.first_seq, "last": result.last_seq, "file": path,
                   "sha": result.sha256}
            )
        else:
            self.stdout.write(_("No events in that range; %(file)s holds the header only.") % {"file": path})

    def _prune(self, options: dict[str, Any]) -> None:
        from bianzhi.accounts.services import system_user

        archive = Path(options["archive"]) if options["archive"] else None
        if archive is not None and not archive.parent.is_dir():
            self.stderr.write(_("Cannot write %(file)s: no such directory.") % {"file": archive})
            sys.exit(2)
        try:
            result = prune(actor=system_user(), before=options["before"], archive=archive,
                           dry_run=options["dry_run"])
        except PruneRefused as exc:
            if exc.reason == "young":
                self.stderr.write(
                    _("Refused: events are kept %(days)d days (BIANZHI_AUDIT_RETENTION_DAYS); --before may be "
                      "%(limit)s at the latest. Nothing was deleted.") % exc.params
                )
            else:
                self.stderr.write(
                    _("Refused: the audit chain does not verify (event #%(seq)s); nothing was deleted.") % exc.params
                )
            sys.exit(1)
        if not result.count:
            self.stdout.write(_("No events before %(day)s; nothing to prune.") % {"day": options["before"]})
            return
        if options["dry_run"]:
            self.stdout.write(_("Would delete %(n)d events #%(first)s–#%(through)s (dry run: nothing deleted).")
                              % {"n": result.count, "first": result.first_seq, "through": result.through_seq})
            return
        self.stdout.write(
            _("Deleted %(n)d events #%(first)s–#%(through)s; prune event #%(checkpoint)s records the hash of "
              "#%(through)s, from which `audit verify` starts.")
            % {"n": result.count, "first": result.first_seq, "through": result.through_seq,
               "checkpoint": result.checkpoint_seq}
        )
        if result.archive is not None:
            self.stdout.write(_("Archive %(file)s (SHA-256 %(sha)s).") % {"file": archive, "sha": result.archive.sha256})
        self.stdout.write(_("Retention: %(days)d days.") % {"days": retention_days()})
