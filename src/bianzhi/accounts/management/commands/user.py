"""`bianzhi user create USERNAME --role ROLE --jurisdiction CODE [--unit USCC] --password-stdin`."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from bianzhi.accounts.choices import Role
from bianzhi.accounts.services import system_user, user_create
from bianzhi.common.errors import BianzhiError


class Command(BaseCommand):
    help = "Manage users: `create` a user bound to a jurisdiction (and unit)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a user")
        create.add_argument("username")
        create.add_argument("--role", required=True, choices=Role.values)
        create.add_argument("--jurisdiction", required=True, help="GB/T 2260 division code")
        create.add_argument("--unit", default=None, help="unified social credit code (unit operators)")
        create.add_argument("--display-name", default="")
        create.add_argument("--password-stdin", action="store_true", required=True,
                            help="read the password from standard input")

    def handle(self, *args: Any, **options: Any) -> None:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise CommandError(_("No password on standard input."))
        try:
            user = user_create(
                actor=system_user(), username=options["username"], role=options["role"],
                jurisdiction=options["jurisdiction"], unit=options["unit"], password=password,
                display_name=options["display_name"],
            )
        except BianzhiError as exc:
            for error in exc.errors:
                self.stderr.write(f"{error.code}: {error.message}")
            sys.exit(1)
        self.stdout.write(_("Created user %(username)s (%(role)s, %(jurisdiction)s).") % {
            "username": user.username, "role": user.role_label, "jurisdiction": user.jurisdiction.name if user.jurisdiction else "",
        })
