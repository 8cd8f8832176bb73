"""`bianzhi assets`: install the pinned front-end files that are not on PyPI (ECharts) from
the npm registry, using the lock file in ``frontend/``. Run at install time, never at run
time: the app serves the files itself."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

VENDOR_FILES = {"echarts/dist/echarts.min.js": "echarts/echarts.min.js"}


def vendor_dir() -> Path:
    return Path(settings.PACKAGE_DIR) / "static" / "vendor"


def assets_present() -> bool:
    return all((vendor_dir() / target).exists() for target in VENDOR_FILES.values())


def frontend_dir() -> Path:
    return Path(settings.PACKAGE_DIR).parent.parent / "frontend"


def install_assets() -> None:
    source = frontend_dir()
    if not (source / "package-lock.json").exists():
        raise CommandError(_("frontend/package-lock.json not found: run this from a bianzhi checkout."))
    npm = shutil.which("npm")
    if npm is None:
        raise CommandError(_("npm (Node.js) is needed once at install time to fetch the pinned ECharts file."))
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("package.json", "package-lock.json"):
            shutil.copy(source / name, Path(tmp) / name)
        subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=tmp, check=True,
        )
        for src, target in VENDOR_FILES.items():
            destination = vendor_dir() / target
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(Path(tmp) / "node_modules" / src, destination)


class Command(BaseCommand):
    help = "Install the pinned front-end files (ECharts) from the npm registry, using frontend/package-lock.json."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--force", action="store_true", help="reinstall even when present")

    def handle(self, *args: Any, **options: Any) -> None:
        if assets_present() and not options["force"]:
            self.stdout.write(_("Front-end files already installed."))
            return
        install_assets()
        self.stdout.write(_("Front-end files installed in %(path)s.") % {"path": vendor_dir()})
