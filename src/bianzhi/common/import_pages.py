"""The import pages every exchange template shares (S13 / X4): template → upload → dry-run
report (downloadable as Excel) → confirm → result with counts.

An :class:`ImportKind` says where an import lives (its importer, template workbook, permission,
URL names, labels); :func:`import_page`, :func:`import_report` and :func:`import_template` are
the three views, rendered with ``common/import.html`` and ``common/import_report.html``. The
uploaded file waits between the dry run and the confirmation in an :class:`UploadStore`, keyed by
the user and the file's SHA-256 (held in the session).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bianzhi.accounts.permissions import require
from bianzhi.orgs.forms import StyledForm

from .errors import BianzhiError
from .exports import XLSX_MIME, Column, xlsx_response
from .exports import exported_on as _exported_on
from .tabular import ImportResult, sha256_hex
from .uploads import UploadStore

IMPORT_MAX_BYTES = 50 * 1024 * 1024
PREVIEW_ROWS = 200
REPORT_ROWS = 500


class ImportUploadForm(StyledForm):
    file = forms.FileField(
        label=gettext_lazy("File"),
        help_text=gettext_lazy("The template filled in, as .xlsx or .csv (UTF-8)."),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv"}),
    )

    ALLOWED = (".xlsx", ".csv")

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(self.ALLOWED):
            raise forms.ValidationError(_("Only .xlsx and .csv files can be imported."))
        return upload


class ImportConfirmForm(forms.Form):
    sha256 = forms.RegexField(regex=r"^[0-9a-f]{64}$", widget=forms.HiddenInput)


@dataclass(frozen=True)
class ImportKind:
    """One import: ``run`` is the dotted path of the importer
    ``(*, actor, data, filename, dry_run) -> ImportResult``; ``template`` of the function that
    builds the template workbook ``(actor) -> bytes``."""

    kind: str
    permission: str
    run: str
    template: str
    title: Any
    page: str
    template_url: str
    report_url: str
    list_url: str
    list_title: Any
    intro: Any
    section: Any  # the menu section, first breadcrumb
    key_label: Any = None  # the report's key column ("Key" when not given)
    name_label: Any = None

    @property
    def session_key(self) -> str:
        return f"import.{self.kind}"

    @property
    def done_key(self) -> str:
        return f"import.{self.kind}.done"

    @property
    def store(self) -> UploadStore:
        return UploadStore(f"{self.kind}-import")

    def crumbs(self, *items: tuple[str, str | None]) -> list[tuple[str, str | None]]:
        return [(str(self.section), None), (str(self.list_title), reverse(self.list_url)), *items]


def run_import(imp: ImportKind, actor: Any, data: bytes, filename: str, *, dry_run: bool) -> ImportResult:
    run: Callable[..., ImportResult] = import_string(imp.run)
    try:
        return run(actor=actor, data=data, filename=filename, dry_run=dry_run)
    except BianzhiError as exc:
        return ImportResult(kind=imp.kind, filename=filename, sha256=sha256_hex(data), dry_run=dry_run,
                            errors=exc.errors)


def _user_id(request: HttpRequest) -> int:
    return int(cast(Any, request.user).pk)


def _store_upload(request: HttpRequest, imp: ImportKind, data: bytes, filename: str) -> str:
    sha256 = sha256_hex(data)
    imp.store.store(_user_id(request), sha256, data)
    request.session[imp.session_key] = {"sha256": sha256, "filename": filename}
    return sha256


def _load_upload(request: HttpRequest, imp: ImportKind, sha256: str) -> tuple[bytes, str] | None:
    info = request.session.get(imp.session_key) or {}
    if not sha256 or info.get("sha256") != sha256:
        return None
    try:
        data = imp.store.path(_user_id(request), sha256).read_bytes()
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != sha256:
        return None
    return data, str(info.get("filename") or "upload.xlsx")


def _discard_upload(request: HttpRequest, imp: ImportKind, sha256: str) -> None:
    request.session.pop(imp.session_key, None)
    with contextlib.suppress(OSError):
        imp.store.path(_user_id(request), sha256).unlink()


def cell_text(value: Any) -> str:
    """A cell as the report shows it (whole floats without ``.0``, datetimes with a space)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return str(value)


def _report_page(request: HttpRequest, imp: ImportKind, result: ImportResult, sha256: str) -> HttpResponse:
    errors = [{"row": e.row, "column": e.field or "", "value": cell_text(e.value), "code": e.code,
               "message": e.message} for e in result.errors[:REPORT_ROWS]]
    return render(request, "common/import_report.html", {
        "imp": imp, "result": result, "sha256": sha256, "errors": errors,
        "more_errors": max(len(result.errors) - REPORT_ROWS, 0),
        "preview": result.preview[:PREVIEW_ROWS],
        "more_preview": max(len(result.preview) - PREVIEW_ROWS, 0),
        "confirm_form": ImportConfirmForm(initial={"sha256": sha256}),
        "breadcrumbs": imp.crumbs((str(imp.title), reverse(imp.page)), (_("Check report"), None)),
    })


def import_page(request: HttpRequest, imp: ImportKind) -> HttpResponse:
    """Template → upload → dry-run report → confirm → result."""
    actor: Any = request.user
    require(actor, imp.permission)
    if request.method == "POST" and request.POST.get("action") == "confirm":
        return _import_confirm(request, imp)
    posted = request.method == "POST"
    form = ImportUploadForm(request.POST if posted else None, request.FILES if posted else None)
    if posted and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > IMPORT_MAX_BYTES:
            form.add_error("file", _("The file is larger than %(size)s MB.") % {"size": IMPORT_MAX_BYTES >> 20})
        else:
            data = upload.read()
            filename = os.path.basename(upload.name)[:200]
            sha256 = _store_upload(request, imp, data, filename)
            return _report_page(request, imp, run_import(imp, actor, data, filename, dry_run=True), sha256)
    return render(request, "common/import.html", {
        "imp": imp, "form": form, "done": request.session.pop(imp.done_key, None),
        "breadcrumbs": imp.crumbs((str(imp.title), None)),
    })


def _import_confirm(request: HttpRequest, imp: ImportKind) -> HttpResponse:
    form = ImportConfirmForm(request.POST)
    sha256 = form.cleaned_data["sha256"] if form.is_valid() else ""
    stored = _load_upload(request, imp, sha256)
    if stored is None:
        messages.error(request, _("The uploaded file is no longer available: upload it again."))
        return redirect(imp.page)
    data, filename = stored
    result = run_import(imp, request.user, data, filename, dry_run=False)
    if not result.committed:
        return _report_page(request, imp, result, sha256)
    _discard_upload(request, imp, sha256)
    request.session[imp.done_key] = {"filename": filename, **result.counts()}
    messages.success(request, _("The import of “%(file)s” is complete.") % {"file": filename})
    return redirect(imp.page)


def import_report(request: HttpRequest, imp: ImportKind) -> HttpResponse:
    """The dry-run report of the pending upload as a workbook (row, column, value, reason)."""
    actor: Any = request.user
    require(actor, imp.permission)
    stored = _load_upload(request, imp, request.GET.get("sha256", ""))
    if stored is None:
        messages.error(request, _("The uploaded file is no longer available: upload it again."))
        return redirect(imp.page)
    data, filename = stored
    result = run_import(imp, actor, data, filename, dry_run=True)
    columns = [Column(_("Row"), 8, "int"), Column(_("Column"), 18), Column(_("Value"), 28),
               Column(_("Error code"), 24), Column(_("Reason"), 60)]
    rows = ([e.row, e.field or "", cell_text(e.value), e.code, e.message] for e in result.errors)
    return xlsx_response(_("Import check report"), _("Import check report"), columns, rows,
                         subtitle=_("File “%(file)s”.") % {"file": filename} + " " + _exported_on(actor))


def import_template(request: HttpRequest, imp: ImportKind, filename: str) -> HttpResponse:
    actor: Any = request.user
    require(actor, imp.permission)
    build: Callable[[Any], bytes] = import_string(imp.template)
    response = HttpResponse(build(actor), content_type=XLSX_MIME)
    response["Content-Disposition"] = (
        f"attachment; filename=\"{imp.kind}-template.xlsx\"; filename*=UTF-8''{quote(filename + '.xlsx')}")
    return response
