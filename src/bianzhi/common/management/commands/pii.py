"""`bianzhi pii new-key | status | rotate`: the SM4 key of stored personal data."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bianzhi.common import pii


class Command(BaseCommand):
    help = (
        "Keys of the stored personal data (SM4, HMAC-SM3 blind index). new-key prints a fresh key; "
        "status counts the stored values per key id; rotate re-encrypts and re-indexes every value "
        "under the current BIANZHI_PII_KEY (the previous key must be listed in BIANZHI_PII_OLD_KEYS)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["new-key", "status", "rotate"])
        parser.add_argument("--batch-size", type=int, default=2000)

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "new-key":
            self.stdout.write(pii.new_key())
            return
        try:
            ring = pii.keyring()
        except Exception as exc:  # ImproperlyConfigured: say it plainly, exit 1
            raise CommandError(str(exc)) from None
        if action == "status":
            self.stdout.write(f"current key id: {ring.current.kid}")
            self.stdout.write("old key ids: " + (", ".join(k.kid for k in ring.old) or "-"))
            for label, counts in pii.key_census().items():
                shown = ", ".join(f"{kid}: {n}" for kid, n in sorted(counts.items())) or "-"
                self.stdout.write(f"{label}: {shown}")
            return
        try:
            done = pii.rotate(batch_size=max(1, options["batch_size"]))
        except pii.PiiError as exc:
            raise CommandError(
                f"{exc}: list the previous key in BIANZHI_PII_OLD_KEYS and run the rotation again"
            ) from None
        for label, count in done.items():
            self.stdout.write(f"{label}: {count} value(s) re-encrypted under key {ring.current.kid}")
