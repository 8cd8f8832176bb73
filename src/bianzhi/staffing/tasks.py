"""The roster import as a background task (django-tasks), with its progress visible to the page.

Small files are checked and imported inside the web request. A file of more than
:data:`BACKGROUND_ROWS` data rows is handed to :func:`run_roster_import` instead: the page
stores the upload under ``DATA_DIR/uploads/roster-import/`` (as the unit import does), writes
a *job file* next to it and enqueues the task; the progress page then polls a small status
view (htmx, every second) that reads the job file. The task's progress callback rewrites the
job file (atomically, at most a few times a second); when the task ends it stores the report
(counts, the first errors and changes) there too, and the full error report as a workbook
beside it. The job file is the one source of truth the pages read, so the page works the same
with every task backend (the database backend and its worker in production, the immediate
backend in tests); the task result is consulted only to notice a worker that died mid-run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import re
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks import TaskResultStatus, task

from bianzhi.common.context import request_context
from bianzhi.common.errors import BianzhiError
from bianzhi.common.exports import Column, workbook_bytes
from bianzhi.common.tabular import ImportResult, sha256_hex
from bianzhi.common.uploads import UploadStore, write_atomic

#: Above this many data rows an upload is checked and imported in the background.
BACKGROUND_ROWS = 2000
#: The report kept in the job file: this many errors and changes (the workbook has every error).
KEEP_ERRORS = 500
KEEP_PREVIEW = 200

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")

# The columns of the roster template (TEMPLATES.md, 编外人员花名册): header, kind, required.
HEADER_UNIT = "统一社会信用代码"
HEADER_SITUATION = "情形"
HEADER_POST_CLASS = "岗位类别"
HEADER_WORK_TYPE = "工作内容"
HEADER_KEY_POST = "关键岗位"
HEADER_FUNDING = "经费来源"
HEADER_EXIT_REASON = "离职原因"
HEADER_EDUCATION = "学历"
_TEMPLATE_KINDS = {
    HEADER_UNIT: "unit",
    "姓名": "text",
    "公民身份号码": "id",
    HEADER_SITUATION: "list",
    HEADER_POST_CLASS: "list",
    HEADER_WORK_TYPE: "list",
    "岗位名称": "text",
    HEADER_KEY_POST: "list",
    "审批编号": "text",
    HEADER_FUNDING: "list",
    "入职日期": "date",
    "离职日期": "date",
    HEADER_EXIT_REASON: "list",
    "合同到期日": "date",
    HEADER_EDUCATION: "list",
    "月人均成本": "money",
}
_REQUIRED = {
    HEADER_UNIT,
    "姓名",
    "公民身份号码",
    HEADER_SITUATION,
    HEADER_POST_CLASS,
    HEADER_WORK_TYPE,
    "岗位名称",
    HEADER_FUNDING,
    "入职日期",
}


def template_columns() -> list[tuple[str, str, bool]]:
    """``(header, kind, required)`` of the roster template, in the import's own column order
    when the import module defines one."""
    try:
        from .importing import TEMPLATE
    except ImportError:  # pragma: no cover - the import module is part of the app
        return [(h, k, h in _REQUIRED) for h, k in _TEMPLATE_KINDS.items()]
    return [(c.header, _TEMPLATE_KINDS.get(c.header, "text"), bool(c.required)) for c in TEMPLATE.columns]


# --------------------------------------------------------------------------- files


ROSTER_UPLOADS = UploadStore("roster-import")


def _folder() -> Path:
    return ROSTER_UPLOADS.folder()


def upload_path(user_id: int, sha256: str) -> Path:
    # Built from the user's id and the content hash only: nothing the user typed.
    return ROSTER_UPLOADS.path(user_id, sha256)


def store_upload(user_id: int, sha256: str, data: bytes) -> Path:
    """Keep the uploaded bytes until the user confirms (or for a day); older files are removed."""
    return ROSTER_UPLOADS.store(user_id, sha256, data)


def job_path(job: str) -> Path:
    if not _JOB_ID.match(job or ""):
        raise ValueError(job)
    return _folder() / f"{job}.job.json"


def report_path(job: str) -> Path:
    return job_path(job).with_name(f"{job}.report.xlsx")


def job_load(job: str) -> dict[str, Any] | None:
    try:
        return dict(json.loads(job_path(job).read_text(encoding="utf-8")))
    except (ValueError, OSError):
        return None


def job_update(job: str, /, **changes: Any) -> dict[str, Any]:
    state = job_load(job) or {}
    state.update(changes)
    state["updated_at"] = timezone.now().isoformat()
    write_atomic(job_path(job), json.dumps(state, ensure_ascii=False, default=str).encode("utf-8"))
    return state


def progress_view(state: dict[str, Any]) -> dict[str, Any]:
    """What the progress bar shows: the percentage and the phase with its row counts.

    The import reports ``progress(phase, done, total)`` with the phases ``read``,
    ``validate`` and ``write``; they fill 0–10 %, 10–70 % and 70–100 % of the bar (a dry
    run, which writes nothing, checks up to 100 %)."""
    phase = str(state.get("phase") or "")
    done, total = int(state.get("done") or 0), int(state.get("total") or 0)
    share = min(done / total, 1.0) if total > 0 else 0.0
    spans = {"read": (0, 10), "validate": (10, 100 if state.get("dry_run") else 70), "write": (70, 100)}
    low, high = spans.get(phase, (0, 0))
    percent = 100 if state.get("state") == DONE else int(low + (high - low) * share)
    stage = "queued" if state.get("state") == QUEUED or phase not in spans else phase
    return {"percent": percent, "stage": stage, "done": done, "rows": total}


# --------------------------------------------------------------------------- sizing


_DIMENSION = re.compile(rb'<dimension ref="[A-Z]+\d+:[A-Z]+(\d+)"')


def estimate_rows(data: bytes, filename: str) -> int:
    """Data rows of an upload, cheaply: CSV lines, or the used range an .xlsx records for its
    first sheet (when it records none, about 60 bytes per compressed row)."""
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as book:
                sheets = sorted(n for n in book.namelist() if re.match(r"xl/worksheets/sheet\d+\.xml$", n))
                if sheets:
                    with book.open(sheets[0]) as fh:
                        head = fh.read(4096)
                    match = _DIMENSION.search(head)
                    if match:
                        return max(int(match.group(1)) - 1, 0)
        except (zipfile.BadZipFile, OSError, KeyError):
            return 0
        return len(data) // 60
    return max(data.count(b"\n") - 1, 0)


# --------------------------------------------------------------------------- running an import


def run_import(
    actor: Any, data: bytes, filename: str, mode: str, *, dry_run: bool, progress: Any = None
) -> ImportResult:
    """The roster import; a refusal of the whole file (unreadable, empty) becomes the result's errors."""
    from .importing import import_roster

    try:
        return import_roster(
            actor=actor, data=data, filename=filename, mode=mode, dry_run=dry_run, progress=progress
        )
    except BianzhiError as exc:
        return ImportResult(
            kind="roster", filename=filename, sha256=sha256_hex(data), dry_run=dry_run, errors=exc.errors
        )


def cell_text(value: Any) -> str:
    """A cell value as the user typed it: ``12.0`` (how a workbook stores 12) shows as ``12``."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return str(value)


def error_row(error: Any) -> dict[str, Any]:
    return {
        "row": error.row,
        "column": error.field or "",
        "value": cell_text(error.value),
        "code": error.code,
        "message": error.message,
    }


def result_report(result: ImportResult, mode: str) -> dict[str, Any]:
    """What the report and result pages show, as plain JSON-able values."""
    return {
        "filename": result.filename,
        "mode": mode,
        "dry_run": result.dry_run,
        "committed": result.committed,
        "unreadable": result.unreadable,
        **result.counts(),
        "errors": [error_row(e) for e in result.errors[:KEEP_ERRORS]],
        "error_count": len(result.errors),
        "preview": [c.as_dict() for c in result.preview[:KEEP_PREVIEW]],
        "preview_count": len(result.preview),
    }


def report_workbook(result: ImportResult) -> bytes:
    columns = [
        Column(_("Row"), 8, "int"),
        Column(_("Column"), 18),
        Column(_("Value"), 28),
        Column(_("Error code"), 24),
        Column(_("Reason"), 60),
    ]
    rows = ([e.row, e.field or "", cell_text(e.value), e.code, e.message] for e in result.errors)
    return workbook_bytes(
        _("Import check report"), columns, rows, subtitle=_("File “%(file)s”.") % {"file": result.filename}
    )


def start_job(request: HttpRequest, *, sha256: str, filename: str, mode: str, dry_run: bool) -> str:
    """Write the job file of a stored upload and enqueue the import; returns the job id."""
    from bianzhi.common.context import client_ip_var, request_id_var

    user: Any = request.user
    job = uuid.uuid4().hex
    job_update(
        job,
        job=job,
        user=user.pk,
        sha256=sha256,
        filename=filename,
        mode=mode,
        dry_run=dry_run,
        state=QUEUED,
        phase="",
        done=0,
        total=0,
        created_at=timezone.now().isoformat(),
        request_id=request_id_var.get(),
        ip=client_ip_var.get(),
    )
    result = run_roster_import.enqueue(job)
    # A file of its own: the worker may be rewriting the job file already.
    write_atomic(_task_id_path(job), result.id.encode("utf-8"))
    return job


def _task_id_path(job: str) -> Path:
    return job_path(job).with_name(f"{job}.task")


def refresh_state(state: dict[str, Any]) -> dict[str, Any]:
    """The job file's state, marked failed when the task backend knows the task died."""
    if state.get("state") not in (QUEUED, RUNNING):
        return state
    try:
        task_id = _task_id_path(state["job"]).read_text(encoding="utf-8").strip()
        outcome = run_roster_import.get_result(task_id)
    except Exception:
        return state
    if outcome.status == TaskResultStatus.FAILED:
        return {**state, "state": FAILED}
    return state


@task()
def run_roster_import(job: str) -> dict[str, Any]:
    """Run one roster import job (see the module docstring); returns its counts."""
    from bianzhi.accounts.models import User

    state = job_load(job)
    if state is None:
        raise ValueError(f"unknown import job {job}")
    last = [0.0]

    def progress(phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] < 0.3 and done not in (0, total):
            return
        last[0] = now
        job_update(job, state=RUNNING, phase=phase, done=done, total=total)

    job_update(job, state=RUNNING, started_at=timezone.now().isoformat())
    try:
        actor = User.objects.get(pk=state["user"])
        data = upload_path(state["user"], state["sha256"]).read_bytes()
        with request_context(state.get("request_id") or None, state.get("ip")):
            result = run_import(
                actor, data, state["filename"], state["mode"], dry_run=state["dry_run"], progress=progress
            )
        if result.errors:
            write_atomic(report_path(job), report_workbook(result))
        report = result_report(result, state["mode"])
        if result.committed:
            with contextlib.suppress(OSError):
                upload_path(state["user"], state["sha256"]).unlink()
        job_update(job, state=DONE, report=report, finished_at=timezone.now().isoformat())
    except Exception as exc:
        job_update(job, state=FAILED, error=exc.__class__.__name__, finished_at=timezone.now().isoformat())
        raise
    return {k: report[k] for k in ("rows", "created", "updated", "unchanged", "error_count", "committed")}
