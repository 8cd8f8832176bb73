"""`bianzhi serve [--port N]`: serve the configured database with gunicorn."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


def start_task_worker() -> subprocess.Popen[bytes]:
    """The background-task worker (large imports) runs beside the web server; it stops with it."""
    # Same process group as the server: Ctrl+C in the terminal stops both.
    return subprocess.Popen([sys.executable, "-m", "bianzhi", "db_worker", "--interval", "1"])


def schedule_nightly_alerts() -> None:
    """The nightly re-evaluation of the supervision alerts, unless one is already waiting."""
    from django_tasks_db.models import DBTaskResult

    from bianzhi.stats.tasks import evaluate_nightly, schedule_nightly

    waiting = DBTaskResult.objects.filter(task_path=evaluate_nightly.module_path, status="READY").exists()
    if not waiting:
        schedule_nightly()


def exec_gunicorn(host: str, port: int, workers: int = 2) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bianzhi.settings.base")
    schedule_nightly_alerts()
    start_task_worker()
    argv = [
        sys.executable, "-m", "gunicorn", "bianzhi.wsgi:application", "--bind", f"{host}:{port}",
        "--workers", str(workers), "--threads", "4", "--access-logfile", "-", "--timeout", "120",
    ]
    sys.stdout.flush()
    os.execv(sys.executable, argv)


class Command(BaseCommand):
    help = "Serve bianzhi on the configured database (gunicorn)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--workers", type=int, default=2)

    def handle(self, *args: Any, **options: Any) -> None:
        exec_gunicorn(options["host"], options["port"], options["workers"])
