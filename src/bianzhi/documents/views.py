"""Document pages: the scoped list (filters, Excel export), a document's page, its PDF and
DOCX, and voiding it. Views parse, call one service or selector, render."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bianzhi.accounts.permissions import can
from bianzhi.common.errors import BianzhiError
from bianzhi.common.exports import Column, exported_on, xlsx_response
from bianzhi.common.forms import add_service_errors
from bianzhi.common.listing import Listing

from . import rules, selectors, services
from .choices import DocumentStatus
from .forms import DocumentFilterForm, VoidForm
from .models import OfficialDocument
from .pdf import pdf_response

DOCUMENT_SORTS = {"number": "number", "year": "year", "written": "written_on", "office": "office__division__path",
                  "status": "status"}
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _crumbs(*items: tuple[str, str | None]) -> list[tuple[str, str | None]]:
    return [(_("Documents"), reverse("documents:document_list")), *items]


@login_required
def document_list(request: HttpRequest) -> HttpResponse:
    """The documents of my jurisdiction and below, filtered, exportable."""
    actor: Any = request.user
    offices = [(o.pk, o.mark) for o in selectors.offices_in_scope(actor=actor).filter(documents__isnull=False)
               .distinct()]
    form = DocumentFilterForm(request.GET, years=selectors.years_in_scope(actor=actor), offices=offices)
    qs = selectors.documents_in_scope(actor=actor, year=form.value_of("year", None),
                                      office=form.value_of("office", None), status=form.value_of("status"),
                                      q=form.value_of("q"))
    listing = Listing(request, qs, sortable=DOCUMENT_SORTS, default_sort="-written")
    if listing.wants_export:
        columns = [Column(_("Document number"), 24), Column(_("Title"), 50), Column(_("Issuing office"), 30),
                   Column(_("Addressees"), 30), Column(_("Date of writing"), 14, "date"),
                   Column(_("Printed on"), 14, "date"), Column(_("Status"), 10), Column(_("Reason for voiding"), 30),
                   Column(_("Case number"), 22)]
        rows = ([d.number, d.title, d.office.mark, d.addressees, d.written_on, d.printed_on,
                 str(DocumentStatus(d.status).label), d.void_reason, d.case_number]
                for d in listing.queryset.iterator(chunk_size=2000))
        return xlsx_response(_("Official documents"), _("Official documents"), columns, rows,
                             subtitle=exported_on(actor))
    return render(request, "documents/document_list.html", {
        "form": form, "listing": listing, "breadcrumbs": _crumbs((_("All documents"), None)),
    })


def _detail_context(request: HttpRequest, document: OfficialDocument, void_form: VoidForm | None = None
                    ) -> dict[str, Any]:
    actor: Any = request.user
    can_void = can(actor, "document.void") and not document.is_void
    return {
        "document": document, "paragraphs": rules.paragraphs(document.body),
        "addressees_line": rules.addressees_line(document.addressees), "cc_line": rules.cc_line(document.cc),
        "attachments": rules.attachment_lines(document.attachments_note),
        "can_void": can_void, "void_form": void_form or (VoidForm() if can_void else None),
        "breadcrumbs": _crumbs((document.number, None)),
    }


@login_required
def document_detail(request: HttpRequest, pk: int) -> HttpResponse:
    document = selectors.get_document(actor=request.user, pk=pk)
    return render(request, "documents/document_detail.html", _detail_context(request, document))


def _filename(document: OfficialDocument, suffix: str) -> str:
    return f"{document.number} {document.title}"[:120] + suffix


@login_required
def document_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The document as PDF (GB/T 9704-2012 layout, fonts embedded)."""
    from .render import document_pdf as render_pdf

    document = selectors.get_document(actor=request.user, pk=pk)
    return pdf_response(render_pdf(document), _filename(document, ".pdf"))


@login_required
def document_docx(request: HttpRequest, pk: int) -> HttpResponse:
    """The document as DOCX, from the Word template an office may edit."""
    from .render import document_docx as render_docx

    document = selectors.get_document(actor=request.user, pk=pk)
    name = _filename(document, ".docx")
    response = HttpResponse(render_docx(document), content_type=DOCX_MIME)
    stamp = timezone.localdate().strftime("%Y%m%d")
    response["Content-Disposition"] = (
        f"attachment; filename=\"document-{document.pk}-{stamp}.docx\"; filename*=UTF-8''{quote(name, safe='')}")
    return response


@login_required
@require_POST
def document_void(request: HttpRequest, pk: int) -> HttpResponse:
    """Void a document (it keeps its number), with the reason."""
    actor: Any = request.user
    document = selectors.get_document(actor=actor, pk=pk)
    form = VoidForm(request.POST)
    if form.is_valid():
        try:
            services.document_void(actor=actor, document_id=document.pk, reason=form.cleaned_data["reason"])
        except BianzhiError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Document %(number)s is void; its number is not used again.")
                             % {"number": document.number})
            return redirect("documents:document_detail", pk=document.pk)
    document.refresh_from_db()
    context = _detail_context(request, document, form)
    context["void_form"] = form
    return render(request, "documents/document_detail.html", context, status=422)
