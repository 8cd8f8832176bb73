"""`bianzhi alerts evaluate [--scope CODE]`: re-evaluate the supervision alerts now (the web
server's worker also runs it every night at 02:00)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Re-evaluate the alerts of dynamic supervision (all units, or one jurisdiction)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["evaluate"])
        parser.add_argument("--scope", default="", help="division code (default: the whole province)")

    def handle(self, *args: Any, **options: Any) -> None:
        from bianzhi.accounts.services import system_user
        from bianzhi.divisions.models import Division
        from bianzhi.orgs.models import Unit

        from ...alerts import evaluate

        units = Unit.objects.all()
        if options["scope"]:
            division = Division.objects.filter(code=options["scope"]).first()
            if division is None:
                raise CommandError(f"division_not_found: {options['scope']}")
            units = units.filter(jurisdiction_path__startswith=division.path)
        result = evaluate(units=units, actor=system_user())
        self.stdout.write("，".join(f"{k} {v}" for k, v in result.items()))
