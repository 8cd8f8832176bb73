"""`bianzhi token create USERNAME [--days N] [--name NAME]` / `bianzhi token revoke ID`.

``create`` prints only the token on standard output (it is shown once; only its digest is
stored). Exit codes: 0 done; 1 refused; 2 usage error or unknown user / token.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext as _

from bianzhi.accounts.models import SYSTEM_USERNAME, User
from bianzhi.accounts.services import system_user, token_create, token_revoke
from bianzhi.common.errors import NOT_FOUND, BianzhiError


class Command(BaseCommand):
    help = "Personal API tokens: `create` one for a user (printed once), `revoke` one by id."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a token and print it")
        create.add_argument("username")
        create.add_argument("--days", type=int, default=None, help="valid for N days (default: never expires)")
        create.add_argument("--name", default="", help="what the token is for")
        revoke = sub.add_parser("revoke", help="revoke a token")
        revoke.add_argument("id", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        actor = system_user()
        try:
            if options["action"] == "create":
                user = User.objects.exclude(username=SYSTEM_USERNAME).filter(username=options["username"]).first()
                if user is None:
                    self.stderr.write(_("Unknown user: %(username)s") % {"username": options["username"]})
                    sys.exit(2)
                _token, plaintext = token_create(actor=actor, user=user, name=options["name"], days=options["days"])
                self.stdout.write(plaintext)
            else:
                token = token_revoke(actor=actor, token_id=options["id"])
                self.stdout.write(_("Revoked token %(prefix)s of %(username)s.") % {
                    "prefix": token.prefix, "username": token.user.username})
        except BianzhiError as exc:
            for error in exc.errors:
                self.stderr.write(f"{error.code}: {error.message}")
            sys.exit(2 if any(e.code == NOT_FOUND for e in exc.errors) else 1)
