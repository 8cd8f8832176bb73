"""`bianzhi user create USERNAME --role ROLE --jurisdiction CODE [--unit USCC] --password-stdin`,
`bianzhi user totp-reset USERNAME`, `bianzhi user totp-rekey`.

Exit codes: 0 done; 1 refused; 2 unknown user.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from bianzhi.accounts.choices import Role
from bianzhi.accounts.models import SYSTEM_USERNAME, User
from bianzhi.accounts.services import system_user, totp_rekey, totp_reset, user_create
from bianzhi.common.errors import BianzhiError


class Command(BaseCommand):
    help = ("Manage users: `create` a user bound to a jurisdiction (and unit); `totp-reset` removes a "
            "user's second factor (lost phone); `totp-rekey` re-encrypts the second-factor secrets under "
            "the current key.")

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
        reset = sub.add_parser("totp-reset", help="remove a user's second factor; the user enrols again")
        reset.add_argument("username")
        sub.add_parser("totp-rekey", help="re-encrypt every second-factor secret under the current key")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "totp-reset":
            self._totp_reset(options["username"])
            return
        if options["action"] == "totp-rekey":
            done, unreadable = totp_rekey(actor=system_user())
            self.stdout.write(_("Second-factor secrets re-encrypted: %(done)d; unreadable: %(bad)d.")
                              % {"done": done, "bad": unreadable})
            if unreadable:
                sys.exit(1)
            return
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

    def _totp_reset(self, username: str) -> None:
        user = User.objects.exclude(username=SYSTEM_USERNAME).filter(username=username).first()
        if user is None:
            self.stderr.write(_("Unknown user: %(username)s") % {"username": username})
            sys.exit(2)
        try:
            totp_reset(actor=system_user(), user_id=user.pk)
        except BianzhiError as exc:
            for error in exc.errors:
                self.stderr.write(f"{error.code}: {error.message}")
            sys.exit(1)
        self.stdout.write(_("Second factor of %(username)s reset; the user enrols again at the next log-in.")
                          % {"username": user.username})
