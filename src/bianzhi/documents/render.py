"""An official document as PDF (WeasyPrint) and as DOCX (docxtpl), in the GB/T 9704-2012 layout.

PDF
===

``templates/documents/official_document.html`` through :func:`bianzhi.documents.pdf.layout_html`
(embedded CJK fonts, no network). The end notes (版记) lie at the foot of the last page and,
as the standard asks, on an even page (the back of a sheet printed on both sides): the
document is laid out once; when the end notes land on an odd page they are moved to the next
page — after a blank page when the body already ended on an even page, and then neither page
is numbered (7.5).

DOCX
====

``templates/documents/official_document.docx``, made by ``make_docx_template.py`` next to it;
an office may edit it in Word or WPS (fonts, spacing, the head) as long as the ``{{ … }}`` and
``{%p … %}`` tags stay. The end notes are a table floating at the foot of the page where the
text ends (Word cannot ask for an even page); the signature is placed with ideographic spaces on
the 28-character grid.

Fonts
=====

Each font role lists the standard's faces by name first, then the open fallback of
:mod:`bianzhi.documents.pdf` (``BIANZHI_PDF_FONTS`` may name licensed fonts too). A face that is
not installed is skipped, so on a machine without them the PDF is set in Noto Serif / Sans CJK
SC; see ``docs/documents.md``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from . import rules
from .models import OfficialDocument
from .pdf import layout_html

HTML_TEMPLATE = "documents/official_document.html"
DOCX_TEMPLATE = Path(__file__).resolve().parent / "templates" / "documents" / "official_document.docx"

# The faces GB/T 9704-2012 names, by the names Windows, WPS and the Founder (方正) packages
# install them under; then the role of bianzhi.documents.pdf that stands in for them.
STANDARD_FONTS: dict[str, tuple[tuple[str, ...], str]] = {
    "body": (("仿宋_GB2312", "仿宋", "FangSong_GB2312", "FangSong", "STFangsong"), "body"),
    "title": (("方正小标宋简体", "方正小标宋_GBK", "FZXiaoBiaoSong-B05S", "FZXBSJW--GB1-0"), "title"),
    "heading": (("黑体", "SimHei", "STHeiti"), "heading"),
    "kai": (("楷体_GB2312", "楷体", "KaiTi_GB2312", "KaiTi", "STKaiti"), "body"),
    "page_number": (("宋体", "SimSun", "STSong"), "body"),
}

VOID_WATERMARK = "作废"


def _css_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def font_stacks() -> dict[str, SafeString]:
    """CSS ``font-family`` values per font role: the standard's faces, then the fallback."""
    return {key: mark_safe(", ".join([*(_css_string(n) for n in names), f"var(--bianzhi-font-{role})"]))
            for key, (names, role) in STANDARD_FONTS.items()}


def grid() -> dict[str, float]:
    """The measures of the layout (mm unless the key says pt)."""
    line = rules.LINE_PITCH_MM
    char = rules.CHAR_PITCH_MM
    return {
        "line": round(line, 3), "two_lines": round(2 * line, 3),
        # a hair under the pitch, so that rounding never pushes the 28th character to the next line
        "letter_spacing": round(char - rules.BODY_PT * rules.PT_MM - 0.01, 3),
        "two_chars": round(2 * char, 3), "three_chars": round(3 * char, 3), "five_chars": round(5 * char, 3),
        "body_pt": rules.BODY_PT, "title_pt": rules.TITLE_PT, "end_notes_pt": rules.END_NOTES_PT,
        "end_notes_line": round(line * 0.8, 3),
        "mark_top": 35.0,
        "mark_box": round(5 * line - 35.0, 3),
        "red_line_width": 0.5,
        # 4 mm below the foot of the number's characters, which stand centred in their line
        "red_line_gap": round(4.0 - (line - rules.BODY_PT * rules.PT_MM) / 2, 3),
        "red_line_back": round(4.0 - (line - rules.BODY_PT * rules.PT_MM) / 2 + 0.5, 3),
        "title_top": round(2 * line, 3),
    }


def document_context(doc: OfficialDocument) -> dict[str, Any]:
    """What both templates show, computed once."""
    date_text = rules.cn_date(doc.written_on)
    sign = rules.signature(doc.issuer, date_text)
    void_note = ""
    if doc.is_void:
        void_note = f"本文件已作废：{doc.void_reason}" if doc.void_reason else "本文件已作废"
    return {
        "number": doc.number, "mark": doc.mark, "mark_size": rules.mark_size_pt(doc.mark), "title": doc.title,
        "title_lines": rules.title_lines(doc.title),
        "addressees_line": rules.addressees_line(doc.addressees),
        "paragraphs": [p.as_dict() for p in rules.paragraphs(doc.body)],
        "attachments": rules.attachment_lines(doc.attachments_note),
        "issuer": doc.issuer, "written_on": doc.written_on, "date_text": date_text,
        "issuer_line": "\u3000" * sign.issuer_start + doc.issuer, "date_line": "\u3000" * sign.date_start + date_text,
        "cc_line": rules.cc_line(doc.cc), "printing_office": doc.printing_office, "printed_on": doc.printed_on,
        "printed_text": f"{rules.cn_date(doc.printed_on)}印发",
        "void": doc.is_void, "void_note": void_note, "watermark": VOID_WATERMARK,
    }


# --- PDF --------------------------------------------------------------------------------------


def _page_of(pages: list[Any], anchor: str) -> int:
    """The 1-based number of the page holding the element with id ``anchor`` (0 if none)."""
    return next((i for i, page in enumerate(pages, 1) if anchor in page.anchors), 0)


def _layout(d: dict[str, Any], end_notes_break: str = "") -> Any:
    html = render_to_string(HTML_TEMPLATE, {"d": {**d, "end_notes_break": end_notes_break}, "g": grid(),
                                            "fonts": font_stacks()})
    return layout_html(html)


def document_pdf(doc: OfficialDocument) -> bytes:
    """The document as PDF bytes, fonts embedded."""
    d = document_context(doc)
    laid_out = _layout(d)
    end_notes = _page_of(laid_out.pages, "end-notes")
    if end_notes % 2 == 1:
        if _page_of(laid_out.pages, "signature") == end_notes:
            # The text ends on an odd page: the end notes go alone on the (numbered) next page.
            laid_out = _layout(d, "page")
        else:
            # The text filled an even page: a blank page, then the end notes; neither numbered.
            laid_out = _layout(d, "left")
    pdf: bytes = laid_out.write_pdf()
    return pdf


# --- DOCX -------------------------------------------------------------------------------------


def docx_context(doc: OfficialDocument) -> dict[str, Any]:
    """The context of the Word template: the mark as rich text (its size fitted to its length,
    its font and colour from the template's character style), the title in its lines."""
    from docxtpl import RichText

    d = document_context(doc)
    mark = RichText()
    mark.add(doc.mark, style="BzMarkChar", size=round(d["mark_size"] * 2))
    return {**d, "mark": mark, "title_text": "\n".join(d["title_lines"])}


def document_docx(doc: OfficialDocument) -> bytes:
    """The document as DOCX bytes, from the Word template an office may edit."""
    from docxtpl import DocxTemplate

    template = DocxTemplate(str(DOCX_TEMPLATE))
    template.render(docx_context(doc), autoescape=True)
    buffer = io.BytesIO()
    template.save(buffer)
    return buffer.getvalue()
