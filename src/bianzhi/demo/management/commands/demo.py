"""`bianzhi demo [--no-serve] [--port 8000]`: the demo province on the embedded SQLite database."""

from __future__ import annotations

import os
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from rich.console import Console
from rich.table import Table

from bianzhi.accounts.services import system_user
from bianzhi.common.rules_loader import load_all_rules
from bianzhi.demo.builder import DEMO_PASSWORD, build_demo, demo_accounts


def second_factor_note(*, serving: bool) -> str:
    """The demo server does not require a second factor, unless BIANZHI_TOTP_REQUIRED_ROLES is
    set explicitly: the printed accounts must work at once, with their password alone. The
    variable is set for the server process only (it inherits the environment); `bianzhi serve`
    on the same database requires it of decision makers and administrators like any deployment."""
    explicit = os.environ.get("BIANZHI_TOTP_REQUIRED_ROLES")
    if explicit is None and serving:
        os.environ["BIANZHI_TOTP_REQUIRED_ROLES"] = ""
        return _("Second factor: not required on this demo server (BIANZHI_TOTP_REQUIRED_ROLES is empty for "
                 "the demo only); any account may enrol an authenticator app on its Second factor page. A real "
                 "deployment requires it of decision makers and administrators.")
    if explicit is None:
        return _("Second factor: `bianzhi serve` on this database requires an authenticator app of decision "
                 "makers and administrators (they enrol at their first log-in); `bianzhi demo` serves without.")
    if explicit.strip():
        return _("Second factor (authenticator app) required for: %(roles)s (BIANZHI_TOTP_REQUIRED_ROLES); "
                 "those accounts enrol at their first log-in.") % {"roles": explicit.strip()}
    return _("Second factor: not required (BIANZHI_TOTP_REQUIRED_ROLES is empty).")


class Command(BaseCommand):
    help = "Set up and serve the demo province: migrate, load rule tables, build synthetic data, print accounts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-serve", action="store_true", help="set up only, do not serve")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, **options: Any) -> None:
        console = Console()
        if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
            raise CommandError(_("The demo runs on the embedded SQLite database: unset DATABASE_URL."))
        started = time.monotonic()
        call_command("migrate", interactive=False, verbosity=0)
        settings.STATIC_ROOT.mkdir(parents=True, exist_ok=True)
        from bianzhi.demo.management.commands.assets import assets_present, install_assets

        if not assets_present():
            try:
                install_assets()
            except (CommandError, OSError, Exception) as exc:
                console.print(_("Warning: front-end chart files not installed (%(error)s).") % {"error": exc})
        load_all_rules()
        result = build_demo(system_user())
        elapsed = time.monotonic() - started
        if result["built"]:
            console.print(_("Demo province built: %(units)d units, %(people)d people (%(s).1f s).") % {
                "units": result["units"], "people": result["people"], "s": elapsed})
            roster = result["roster"]
            console.print(_(
                "Non-establishment roster: %(spells)d records of %(people)d people; %(city)s city level "
                "%(change)+.1f%% from 2019-12-31 to 2021-12-31, %(cleared)d of %(organs)d party and "
                "government organs at zero.") % {
                "spells": roster["spells"], "people": roster["people"], "city": "广州市",
                "change": float(roster["gz_city_change"] or 0) * 100, "cleared": roster["gz_organs_cleared"],
                "organs": roster["gz_organs"]})
        else:
            console.print(_("Demo province already in place (%(s).1f s).") % {"s": elapsed})
        table = Table(title=_("Demo accounts (password: %(password)s)") % {"password": DEMO_PASSWORD})
        table.add_column(_("User name"))
        table.add_column(_("Role"))
        table.add_column(_("Jurisdiction"))
        table.add_column(_("Unit"))
        for account in demo_accounts():
            table.add_row(account.username, account.role, account.jurisdiction, account.unit)
        console.print(table)
        console.print(_("Database: %(db)s") % {"db": settings.DATABASES["default"]["NAME"]})
        console.print(second_factor_note(serving=not options["no_serve"]))
        if options["no_serve"]:
            return
        console.print(_("Serving on http://127.0.0.1:%(port)d/ — press Ctrl+C to stop.") % {"port": options["port"]})
        from bianzhi.demo.management.commands.serve import exec_gunicorn

        exec_gunicorn("127.0.0.1", options["port"])
