"""Builds ``annual_analysis.docx``, the Word template of the annual analysis (年度分析).

The document is filled in by docxtpl (Jinja tags inside Word): ``{{ title }}`` prints a value,
a paragraph holding only ``{%p for … %}`` / ``{%p endfor %}`` repeats the paragraphs between them,
a table row holding ``{%tr for … %}`` / ``{%tr endfor %}`` repeats the rows between them. The
values (already worded and formatted) come from :func:`bianzhi.stats.analysis.annual_analysis`:
``title``, ``subtitle``, ``intro``, ``h.basic`` … (section headings), ``c.*`` (column headings),
``captions.*``, ``basic.paragraphs`` / ``basic.rows``, ``changes.paragraphs`` / ``changes.rows``,
``problems.paragraphs`` / ``problems.categories`` / ``problems.rows``, ``measures``,
``signature``, ``compiled_on``.

An office may open the .docx in Word or WPS and change fonts, sizes, margins or wording (replace
a tag with fixed text, or add paragraphs) — keep each tag inside one run (type it in one go) —
or change the constants below and run, from the repository root::

    uv run python src/bianzhi/stats/templates/stats/analysis/make_template.py

The layout follows GB/T 9704-2012 (DOCUMENTS.md): A4, top margin 37 mm, left 28 mm, text block
156 × 225 mm, 22 lines of 28 characters, body in 仿宋 size 3 (16 pt), level-1 headings 黑体,
level-2 楷体, title 小标宋 size 2 (22 pt), page numbers "— 1 —" in size 4 on the outer side.
"""

from __future__ import annotations

import sys
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.table import Table
from docx.text.paragraph import Paragraph

OUTPUT = Path(__file__).resolve().parent / "annual_analysis.docx"

# Fonts an office has (Word substitutes a missing one); Latin text and digits use LATIN.
BODY_FONT = "仿宋_GB2312"
HEADING_FONT = "黑体"
LEVEL2_FONT = "楷体_GB2312"
TITLE_FONT = "方正小标宋简体"
PAGE_NUMBER_FONT = "宋体"
LATIN = "Times New Roman"

BODY_SIZE = Pt(16)  # size 3 (三号)
TITLE_SIZE = Pt(22)  # size 2 (二号)
TABLE_SIZE = Pt(12)  # small 4 (小四)
PAGE_NUMBER_SIZE = Pt(14)  # size 4 (四号)
LINE = Pt(28.9)  # 225 mm / 22 lines


def set_font(target: object, east_asian: str, size: Pt | None = None, bold: bool | None = None) -> None:
    """Font of a style or a run, the East Asian face included (python-docx sets only the Latin one)."""
    font = target.font  # type: ignore[attr-defined]
    font.name = LATIN
    if size is not None:
        font.size = size
    if bold is not None:
        font.bold = bold
    r_pr = target.element.get_or_add_rPr()  # type: ignore[attr-defined]
    fonts = r_pr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        r_pr.insert(0, fonts)
    for attribute in ("w:ascii", "w:hAnsi"):
        fonts.set(qn(attribute), LATIN)
    fonts.set(qn("w:eastAsia"), east_asian)


def paragraph(document: object, text: str = "", *, style: str = "Normal",
              align: WD_ALIGN_PARAGRAPH | None = None, indent: bool = False) -> Paragraph:
    p: Paragraph = document.add_paragraph(style=style)  # type: ignore[attr-defined]
    if text:
        p.add_run(text)
    if align is not None:
        p.alignment = align
    if indent:
        p.paragraph_format.first_line_indent = Pt(32)  # two characters
    return p


def control(document: object, tag: str) -> None:
    """A paragraph holding only a docxtpl paragraph tag (removed when the document is rendered)."""
    paragraph(document, tag)


def level2_paragraph(document: object, heading: str, text: str) -> None:
    """（一）title。 in 楷体, then the text in 仿宋, in one indented paragraph."""
    p = paragraph(document, indent=True)
    run = p.add_run(heading)
    set_font(run, LEVEL2_FONT)
    p.add_run(text)


def caption(document: object, text: str) -> None:
    p = paragraph(document, style="BZ Caption", align=WD_ALIGN_PARAGRAPH.CENTER)
    p.add_run(text)


def table(document: object, columns: list[tuple[str, str, float, bool]], loop: str) -> Table:
    """A table with a heading row, the ``{%tr for %}`` row, the value row and ``{%tr endfor %}``.
    ``columns``: (heading tag, value tag, width in mm, right-aligned)."""
    t: Table = document.add_table(rows=4, cols=len(columns))  # type: ignore[attr-defined]
    t.style = "Table Grid"
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    t.autofit = False
    for i, (head, value, width, right) in enumerate(columns):
        for r in range(4):
            cell = t.cell(r, i)
            cell.width = Mm(width)
            p = cell.paragraphs[0]
            p.style = document.styles["BZ Table"]  # type: ignore[attr-defined]
            if r == 0:
                p.alignment = WD_ALIGN_PARAGRAPH.CENTER
                run = p.add_run(head)
                set_font(run, HEADING_FONT)
            elif r == 2:
                p.alignment = WD_ALIGN_PARAGRAPH.RIGHT if right else WD_ALIGN_PARAGRAPH.LEFT
                p.add_run(value)
    t.cell(1, 0).paragraphs[0].add_run(f"{{%tr for r in {loop} %}}")
    t.cell(3, 0).paragraphs[0].add_run("{%tr endfor %}")
    heading_row = t.rows[0]._tr
    tr_pr = heading_row.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")  # repeat the heading row on every page
    tr_pr.append(header)
    return t


def page_number(footer_paragraph: Paragraph, align: WD_ALIGN_PARAGRAPH) -> None:
    """— 1 — : the PAGE field between two dashes, size 4."""
    footer_paragraph.alignment = align
    for text in ("— ", None, " —"):
        run = footer_paragraph.add_run(text or "1")
        set_font(run, PAGE_NUMBER_FONT, PAGE_NUMBER_SIZE)
        if text is None:  # wrap the run in a PAGE field
            field = OxmlElement("w:fldSimple")
            field.set(qn("w:instr"), "PAGE")
            run._r.addprevious(field)
            field.append(run._r)


def build(output: Path = OUTPUT) -> Path:
    document = Document()
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.footer_distance = Mm(28)

    styles = document.styles
    normal = styles["Normal"]
    set_font(normal, BODY_FONT, BODY_SIZE)
    normal.paragraph_format.line_spacing = LINE
    normal.paragraph_format.space_before = Pt(0)
    normal.paragraph_format.space_after = Pt(0)
    normal.paragraph_format.widow_control = True
    title = styles.add_style("BZ Title", 1)
    title.base_style = normal
    set_font(title, TITLE_FONT, TITLE_SIZE, bold=False)
    title.paragraph_format.line_spacing = Pt(35)
    title.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    heading = styles.add_style("BZ Heading 1", 1)
    heading.base_style = normal
    set_font(heading, HEADING_FONT, BODY_SIZE, bold=False)
    heading.paragraph_format.first_line_indent = Pt(32)
    heading.paragraph_format.keep_with_next = True
    cap = styles.add_style("BZ Caption", 1)
    cap.base_style = normal
    set_font(cap, HEADING_FONT, Pt(14), bold=False)
    cap.paragraph_format.keep_with_next = True
    cap.paragraph_format.space_before = Pt(6)
    cell = styles.add_style("BZ Table", 1)
    cell.base_style = normal
    set_font(cell, BODY_FONT, TABLE_SIZE)
    cell.paragraph_format.line_spacing = 1.0
    cell.paragraph_format.first_line_indent = Pt(0)

    # Page numbers on the outer side: odd pages right, even pages left.
    document.settings.odd_and_even_pages_header_footer = True
    page_number(section.footer.paragraphs[0], WD_ALIGN_PARAGRAPH.RIGHT)
    page_number(section.even_page_footer.paragraphs[0], WD_ALIGN_PARAGRAPH.LEFT)

    paragraph(document, "{{ title }}", style="BZ Title")
    sub = paragraph(document, align=WD_ALIGN_PARAGRAPH.CENTER)
    set_font(sub.add_run("{{ subtitle }}"), LEVEL2_FONT)
    paragraph(document)
    paragraph(document, "{{ intro }}", indent=True)

    # 一、基本情况
    paragraph(document, "{{ h.basic }}", style="BZ Heading 1")
    control(document, "{%p for text in basic.paragraphs %}")
    paragraph(document, "{{ text }}", indent=True)
    control(document, "{%p endfor %}")
    caption(document, "{{ captions.figures }}")
    table(document, [("{{ c.code }}", "{{ r.code }}", 14, False), ("{{ c.indicator }}", "{{ r.name }}", 58, False),
                     ("{{ c.unit }}", "{{ r.unit }}", 16, False), ("{{ c.current }}", "{{ r.current }}", 24, True),
                     ("{{ c.previous }}", "{{ r.previous }}", 24, True), ("{{ c.change }}", "{{ r.change }}", 20, True)],
          "basic.rows")

    # 二、主要变化
    paragraph(document, "{{ h.changes }}", style="BZ Heading 1")
    control(document, "{%p for text in changes.paragraphs %}")
    paragraph(document, "{{ text }}", indent=True)
    control(document, "{%p endfor %}")
    caption(document, "{{ captions.trend }}")
    table(document, [("{{ c.year_end }}", "{{ r.date_text }}", 40, False), ("{{ c.i01 }}", "{{ r.i01_text }}", 28, True),
                     ("{{ c.vs_base }}", "{{ r.vs_base_text }}", 30, True), ("{{ c.rate }}", "{{ r.rate_text }}", 26, True),
                     ("{{ c.vs_prev }}", "{{ r.vs_prev_text }}", 32, True)],
          "changes.rows")

    # 三、存在的问题
    paragraph(document, "{{ h.problems }}", style="BZ Heading 1")
    control(document, "{%p for text in problems.paragraphs %}")
    paragraph(document, "{{ text }}", indent=True)
    control(document, "{%p endfor %}")
    control(document, "{%p for p in problems.categories %}")
    level2_paragraph(document, "{{ p.heading }}", "{{ p.text }}")
    control(document, "{%p endfor %}")
    control(document, "{%p if problems.rows %}")
    caption(document, "{{ captions.problems }}")
    table(document, [("{{ c.category }}", "{{ r.name }}", 56, False), ("{{ c.alerts }}", "{{ r.count }}", 25, True),
                     ("{{ c.units }}", "{{ r.units }}", 25, True), ("{{ c.resolved }}", "{{ r.resolved }}", 25, True),
                     ("{{ c.open }}", "{{ r.open }}", 25, True)],
          "problems.rows")
    control(document, "{%p endif %}")

    # 四、下一步措施
    paragraph(document, "{{ h.measures }}", style="BZ Heading 1")
    control(document, "{%p for m in measures %}")
    level2_paragraph(document, "{{ m.heading }}", "{{ m.text }}")
    control(document, "{%p endfor %}")

    paragraph(document)
    signature = paragraph(document, "{{ signature }}", align=WD_ALIGN_PARAGRAPH.RIGHT)
    signature.paragraph_format.right_indent = Pt(64)
    date = paragraph(document, "{{ compiled_on }}", align=WD_ALIGN_PARAGRAPH.RIGHT)
    date.paragraph_format.right_indent = Pt(64)

    document.core_properties.title = "Annual analysis (template)"
    document.core_properties.author = "bianzhi"
    document.save(str(output))
    return output


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT
    print(build(target))
