"""`bianzhi baseline take --scope CODE [--date D] [--retake] [--as USER] [--note TEXT]`.

Freezes the stock baseline (存量基数, S5) of a jurisdiction: the count per unit × situation ×
post class as of the date (default: the baseline date of the rule tables in force there).
A jurisdiction that already has a current baseline is refused unless ``--retake`` is given.

Exit codes: **0** taken; **1** refused (baseline exists, division unknown or out of scope),
nothing written; **2** usage error (bad date, unknown user, a user who may not take baselines).
"""

from __future__ import annotations

import datetime as dt
import sys
from collections import Counter
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from bianzhi.common.errors import BianzhiError

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


class Command(BaseCommand):
    help = "Stock baselines: `take` freezes the counts of a jurisdiction as of the baseline date."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        take = sub.add_parser("take", help="take (or, with --retake, re-take) the baseline of a jurisdiction")
        take.add_argument("--scope", required=True, help="GB/T 2260 division code of the jurisdiction")
        take.add_argument("--date", default=None,
                          help="baseline date YYYY-MM-DD (default: the baseline date of the rule tables)")
        take.add_argument("--retake", action="store_true", help="replace the current baseline (audited)")
        take.add_argument("--as", dest="as_user", default=None,
                          help="username to act as (default: the built-in system administrator)")
        take.add_argument("--note", default="", help="a note kept with the baseline")

    def handle(self, *args: Any, **options: Any) -> None:
        with translation.override(settings.LANGUAGE_CODE):
            code = self._take(options)
        if code:
            sys.exit(code)

    def _take(self, options: dict[str, Any]) -> int:
        from bianzhi.accounts.models import User
        from bianzhi.accounts.services import system_user
        from bianzhi.divisions.models import Division
        from bianzhi.staffing.choices import RuleTable
        from bianzhi.staffing.models import BaselineCount
        from bianzhi.staffing.selectors import ruleset_for
        from bianzhi.staffing.services import baseline_take

        if options["as_user"]:
            actor = User.objects.filter(username=options["as_user"]).select_related("jurisdiction").first()
            if actor is None or not actor.is_active:
                self.stderr.write(_("Unknown or inactive user “%(user)s”.") % {"user": options["as_user"]})
                return EXIT_USAGE
        else:
            actor = system_user()
        scope = str(options["scope"]).strip()
        division = Division.objects.filter(code=scope).first()
        if options["date"]:
            try:
                as_of = dt.date.fromisoformat(options["date"])
            except ValueError:
                self.stderr.write(_("Not a valid date: “%(date)s” (use YYYY-MM-DD).") % {"date": options["date"]})
                return EXIT_USAGE
        else:
            path = division.path if division is not None else ""
            as_of = ruleset_for(path, timezone.localdate()).baseline_date
        try:
            baseline = baseline_take(actor=actor, scope=scope, as_of=as_of, retake=options["retake"],
                                     note=options["note"])
        except PermissionDenied:
            self.stderr.write(_("User “%(user)s” may not take baselines.") % {"user": actor.username})
            return EXIT_USAGE
        except BianzhiError as exc:
            for error in exc.errors:
                self.stderr.write(f"{error.code}: {error.message}")
            if "baseline_exists" in exc.codes:
                self.stderr.write(_("Nothing was changed. To replace the current baseline, run the command "
                                    "again with --retake (the re-take is audited)."))
            return EXIT_REFUSED

        rules = ruleset_for(baseline.jurisdiction_path, as_of)
        by_situation: Counter[str] = Counter()
        by_class: Counter[str] = Counter()
        units: set[int] = set()
        for unit_id, situation, post_class, count in BaselineCount.objects.filter(baseline=baseline).values_list(
            "unit_id", "situation", "post_class", "count"
        ):
            units.add(unit_id)
            by_situation[situation] += count
            by_class[post_class] += count
        self.stdout.write(_(
            "Baseline of %(division)s as of %(date)s taken: %(total)d people in %(units)d units."
        ) % {"division": baseline.jurisdiction, "date": as_of.isoformat(), "total": baseline.total,
             "units": len(units)})
        for label, table, counts in (
            (_("By situation"), RuleTable.SITUATION, by_situation),
            (_("By post class"), RuleTable.POST_CLASS, by_class),
        ):
            if counts:
                self.stdout.write(label + ": " + "; ".join(
                    f"{rules.name_of(table, code)} {n}" for code, n in sorted(counts.items())))
        return EXIT_OK
