"""Check the zh_Hans catalogue: every message translated, none fuzzy, the compiled .mo in step
with the .po, and — where GNU gettext is installed — no message in the code or templates missing
from the catalogue. Run: ``python -m bianzhi.common.i18n_check`` (exit 1 on any problem).

The compiled catalogue is committed, so installing and running bianzhi never needs gettext.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent
PO = PACKAGE / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


def _untranslated(path: Path) -> list[str]:
    from babel.messages.pofile import read_po

    with open(path, "rb") as fh:
        catalog = read_po(fh)
    problems = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
        if not all(strings):
            problems.append(f"untranslated: {message.id!r}")
        elif message.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
    return problems


def _mo_in_step() -> list[str]:
    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po

    if not MO.exists():
        return ["django.mo missing: run `bianzhi compilemessages`"]

    def norm(value: object) -> object:
        # Plural messages: read_po gives tuples, read_mo gives (unhashable) lists.
        return tuple(value) if isinstance(value, (list, tuple)) else value

    with open(PO, "rb") as fh:
        po = {(m.context, norm(m.id)): norm(m.string) for m in read_po(fh) if m.id and not m.fuzzy}
    with open(MO, "rb") as fh:
        # read_mo gives a message context as bytes
        mo = {(m.context.decode() if isinstance(m.context, bytes) else m.context, norm(m.id)): norm(m.string)
              for m in read_mo(fh) if m.id}
    return [] if po == mo else ["django.mo is out of date: run `bianzhi compilemessages`"]


def _missing_from_sources() -> list[str]:
    if shutil.which("xgettext") is None:
        print("(GNU gettext not installed: skipped the check for messages missing from the catalogue)")
        return []
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "bianzhi"
        shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("vendor", "__pycache__"))
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="bianzhi.settings.test")
        subprocess.run(
            [sys.executable, "-m", "django", "makemessages", "-l", "zh_Hans", "--no-obsolete", "--no-location",
             "-e", "html,txt,py"],
            cwd=copy, env=env, check=True, capture_output=True,
        )
        return [p.replace("untranslated", "not in the catalogue") for p in
                _untranslated(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po")]


def main() -> int:
    problems = _untranslated(PO) + _mo_in_step() + _missing_from_sources()
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} translation problem(s)")
        return 1
    print("zh_Hans catalogue complete")
    return 0


if __name__ == "__main__":
    sys.exit(main())
