"""`bianzhi indicators --scope CODE [--unit USCC] [--as-of D] [--from A --to B] [--year Y] [--json] [--as USER]`.

Prints the 23 indicators (INTERFACES.md): with ``--json`` exactly the JSON of the API.
Exit 0; 1 when the scope or a value is refused (out of scope answers like missing); 2 on a
usage error or an unknown user.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils import translation

from bianzhi.common.errors import BianzhiError


class Command(BaseCommand):
    help = "The 23 indicators for a jurisdiction or a unit, as of a day, over a period, for a year."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scope", default="", help="division code of the jurisdiction (default: the user's)")
        parser.add_argument("--unit", default="", help="unified social credit code of one unit")
        parser.add_argument("--subunits", action="store_true", help="with --unit: the unit and the units below it")
        parser.add_argument("--own-level", action="store_true",
                            help="the units of the jurisdiction itself (本级), not of the jurisdictions below it")
        parser.add_argument("--as-of", dest="as_of", default=None, help="YYYY-MM-DD (default: today)")
        parser.add_argument("--from", dest="start", default=None, help="period start (default: 1 January)")
        parser.add_argument("--to", dest="end", default=None, help="period end (default: 31 December)")
        parser.add_argument("--year", default=None, help="default: the year of --as-of")
        parser.add_argument("--json", action="store_true", help="machine-readable JSON (INTERFACES.md)")
        parser.add_argument("--as", dest="as_user", default=None,
                            help="username (default: the built-in system administrator of the province)")

    def handle(self, *args: Any, **options: Any) -> None:
        with translation.override(settings.LANGUAGE_CODE):
            code = self._run(options)
        if code:
            sys.exit(code)

    def _run(self, options: dict[str, Any]) -> int:
        from bianzhi.accounts.models import User
        from bianzhi.accounts.services import system_user

        from ...selectors import indicators_for

        if options["as_user"]:
            actor = User.objects.filter(username=options["as_user"], is_active=True).first()
            if actor is None:
                self.stderr.write(f"unknown user: {options['as_user']}")
                return 2
        else:
            actor = system_user()
        try:
            data, _resolved, _figures = indicators_for(
                actor=actor, scope=options["scope"], unit=options["unit"], as_of=options["as_of"],
                start=options["start"], end=options["end"], year=options["year"], subunits=options["subunits"],
                own_level=options["own_level"])
        except BianzhiError as exc:
            if options["json"]:
                self.stdout.write(json.dumps(exc.as_dict(), ensure_ascii=False))
            for e in exc.errors:
                self.stderr.write(f"{e.code}: {e.message}")
            return 1
        if options["json"]:
            self.stdout.write(json.dumps(data, ensure_ascii=False))
            return 0
        from ...models import IndicatorDefinition

        names = dict(IndicatorDefinition.objects.filter(jurisdiction__isnull=True).values_list("code", "name"))
        self.stdout.write(f"{data['scope']} {data['unit'] or ''} as_of={data['as_of']} "
                          f"period={data['period'][0]}..{data['period'][1]} year={data['year']}")
        for code, value in data["indicators"].items():
            if isinstance(value, dict):
                value = "，".join(f"{k} {v}" for k, v in value.items())
            self.stdout.write(f"{code} {names.get(code, '')}: {'—' if value is None else value}")
        return 0
