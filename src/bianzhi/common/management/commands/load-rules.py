"""`bianzhi load-rules`: load or refresh the default rule tables (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from bianzhi.common.rules_loader import load_all_rules


class Command(BaseCommand):
    help = "Load or refresh the default rule tables and the division tree (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        for name, counts in load_all_rules().items():
            self.stdout.write(_("%(name)s: %(counts)s") % {"name": name, "counts": counts})
