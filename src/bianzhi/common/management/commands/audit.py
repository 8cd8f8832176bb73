"""`bianzhi audit verify`: re-walk the SM3 hash chain."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext as _

from bianzhi.common.audit import verify_chain


class Command(BaseCommand):
    help = "Audit trail tools: `verify` re-walks the hash chain and names the first broken event."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("verify", help="re-walk the audit hash chain")

    def handle(self, *args: Any, **options: Any) -> None:
        result = verify_chain()
        if result.ok:
            self.stdout.write(_("Audit chain intact: %(n)d events verified.") % {"n": result.checked})
            return
        reasons = {
            "hash": _("its content does not match its hash"),
            "prev_hash": _("its link to the previous event is broken"),
            "missing": _("the event is missing"),
            "head": _("the chain head does not match the last event"),
        }
        self.stderr.write(
            _("Audit chain broken at event #%(seq)s (%(reason)s); %(n)d events before it verified.")
            % {"seq": result.broken_seq, "reason": reasons.get(result.reason, result.reason), "n": result.checked}
        )
        sys.exit(1)
