"""The `bianzhi` console script: Django's management commands plus ours."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bianzhi.settings.base")
    from django.core.management import execute_from_command_line

    args = list(sys.argv if argv is None else argv)
    args[0] = "bianzhi"
    execute_from_command_line(args)


if __name__ == "__main__":
    main()
