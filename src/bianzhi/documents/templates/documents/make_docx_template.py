"""Make ``official_document.docx``, the Word template of an official document (公文) in the
GB/T 9704-2012 layout, filled by ``bianzhi.documents.render.document_docx`` (docxtpl).

Run once after changing this script (the .docx is committed)::

    uv run python src/bianzhi/documents/templates/documents/make_docx_template.py

An office may instead open the .docx in Word or WPS and change fonts, colours, spacing or the
head, keeping the ``{{ … }}`` / ``{%p … %}`` / ``{%tr … %}`` tags: docxtpl fills them.

Layout: A4; margins top 37 mm, bottom 35 mm, left 28 mm, right 26 mm (版心 156 × 225 mm);
a document grid of 22 lines × 28 characters for 3号 (16 pt) 仿宋_GB2312. The paragraph styles
"公文-…" carry the parts: the red issuing-authority mark (方正小标宋简体), the document number
with the red line 4 mm below it, the title (2号 方正小标宋简体), the addressees, body paragraphs
indented two characters (character styles for level-1 headings in 黑体 and level-2 ones in
楷体_GB2312), attachments, the signature and the date of writing, and the end notes (版记) as a
table floating at the foot of the page where the text ends: 抄送 and 印发机关/印发日期 in 4号,
between a thick (0.35 mm), a thin (0.25 mm) and a thick line. Page numbers "— N —" in 4号 宋体,
odd pages right and even pages left, one character in. A void document gets a red 作废
watermark and a note in the header.

The East Asian font names (w:eastAsia) are the standard's; Word and WPS substitute an
installed face for a missing one (e.g. 仿宋 for 仿宋_GB2312).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Mm, Pt, RGBColor

OUTPUT = Path(__file__).resolve().parent / "official_document.docx"

RED = "D40000"
FONTS = {"body": "仿宋_GB2312", "title": "方正小标宋简体", "heading": "黑体", "kai": "楷体_GB2312",
         "page_number": "宋体", "latin": "Times New Roman"}
LINE_PITCH = 579  # twips: 225 mm / 22 lines
CHAR_SPACE = -849  # 1/4096 pt added to the 16 pt pitch: 156 mm / 28 characters = 15.79 pt
TEXT_WIDTH = 8844  # twips: 156 mm
END_NOTES_PT = 14  # 4号
ONE_CHAR_14 = END_NOTES_PT * 20  # one character of 4号, in twips

# Child order of w:pPr (ECMA-376, CT_PPr), to insert elements where Word expects them.
PPR_ORDER = ("pStyle", "keepNext", "keepLines", "pageBreakBefore", "framePr", "widowControl", "numPr",
             "suppressLineNumbers", "pBdr", "shd", "tabs", "suppressAutoHyphens", "kinsoku", "wordWrap",
             "overflowPunct", "topLinePunct", "autoSpaceDE", "autoSpaceDN", "bidi", "adjustRightInd",
             "snapToGrid", "spacing", "ind", "contextualSpacing", "mirrorIndents", "suppressOverlap", "jc",
             "textDirection", "textAlignment", "textboxTightWrap", "outlineLvl", "divId", "cnfStyle", "rPr",
             "sectPr", "pPrChange")
RPR_ORDER = ("rStyle", "rFonts", "b", "bCs", "i", "iCs", "caps", "smallCaps", "strike", "dstrike", "outline",
             "shadow", "emboss", "imprint", "noProof", "snapToGrid", "vanish", "webHidden", "color", "spacing",
             "w", "kern", "position", "sz", "szCs", "highlight", "u", "effect", "bdr", "shd", "fitText",
             "vertAlign", "rtl", "cs", "em", "lang", "eastAsianLayout", "specVanish", "oMath")


def _put(parent: Any, child: Any, order: tuple[str, ...]) -> Any:
    """Insert ``child`` into ``parent`` in schema order, replacing one of the same tag."""
    tag = child.tag.split("}")[1]
    old = parent.find(qn(f"w:{tag}"))
    if old is not None:
        parent.replace(old, child)
        return child
    later = order[order.index(tag) + 1:]
    for existing in parent:
        name = existing.tag.split("}")[1] if "}" in existing.tag else existing.tag
        if name in later:
            existing.addprevious(child)
            return child
    parent.append(child)
    return child


def _el(tag: str, **attrs: str) -> Any:
    element = OxmlElement(f"w:{tag}")
    for key, value in attrs.items():
        element.set(qn(f"w:{key}"), value)
    return element


def _xml(xml: str) -> Any:
    """An element from WordprocessingML text whose first tag gets the namespace declaration."""
    head, rest = xml.split(">", 1) if not xml.split(">", 1)[0].endswith("/") else (xml[:-2], "/>")
    if rest == "/>":
        return parse_xml(f'{head} {nsdecls("w")}/>')
    return parse_xml(f'{head} {nsdecls("w")}>{rest}')


def set_fonts(rpr: Any, east_asia: str, latin: str | None = None) -> None:
    latin = latin or FONTS["latin"]
    _put(rpr, _el("rFonts", ascii=latin, hAnsi=latin, eastAsia=east_asia, cs=latin, hint="eastAsia"), RPR_ORDER)


def run_props(style: Any) -> Any:
    return style.element.get_or_add_rPr()


def para_props(style: Any) -> Any:
    return style.element.get_or_add_pPr()


def no_grid(ppr: Any) -> None:
    """Off the document grid: sizes other than 3号 keep their own pitch."""
    _put(ppr, _el("snapToGrid", val="0"), PPR_ORDER)


def exact_lines(ppr: Any, twips: int, before: int = 0, after: int = 0) -> None:
    _put(ppr, _el("spacing", before=str(before), after=str(after), line=str(twips), lineRule="exact"), PPR_ORDER)


def paragraph_style(doc: Any, style_id: str, name: str, *, base: str = "Normal") -> Any:
    style = doc.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    style.style_id = style_id
    style.base_style = doc.styles[base]
    style.quick_style = True
    return style


def character_style(doc: Any, style_id: str, name: str) -> Any:
    style = doc.styles.add_style(name, WD_STYLE_TYPE.CHARACTER)
    style.style_id = style_id
    style.quick_style = True
    return style


def make_styles(doc: Any) -> None:
    normal = doc.styles["Normal"]
    normal.font.size = Pt(16)
    normal.font.color.rgb = RGBColor(0, 0, 0)
    set_fonts(run_props(normal), FONTS["body"])
    _put(run_props(normal), _el("lang", val="en-US", eastAsia="zh-CN"), RPR_ORDER)
    ppr = para_props(normal)
    _put(ppr, _el("widowControl", val="0"), PPR_ORDER)
    exact_lines(ppr, LINE_PITCH)
    _put(ppr, _el("jc", val="both"), PPR_ORDER)

    mark = paragraph_style(doc, "BzMark", "公文-发文机关标志")
    ppr = para_props(mark)
    no_grid(ppr)
    # the top of the mark about 35 mm below the top of the text block (the space before, less
    # the room a single-spaced line leaves above the characters)
    _put(ppr, _el("spacing", before="1870", after="0", line="240", lineRule="auto"), PPR_ORDER)
    _put(ppr, _el("jc", val="center"), PPR_ORDER)
    mark_char = character_style(doc, "BzMarkChar", "公文-发文机关标志字符")
    rpr = run_props(mark_char)
    set_fonts(rpr, FONTS["title"], FONTS["title"])
    _put(rpr, _el("color", val=RED), RPR_ORDER)
    _put(rpr, _el("sz", val="66"), RPR_ORDER)
    _put(rpr, _el("szCs", val="66"), RPR_ORDER)

    number = paragraph_style(doc, "BzNumber", "公文-发文字号")
    ppr = para_props(number)
    _put(ppr, _el("jc", val="center"), PPR_ORDER)
    border = _el("pBdr")
    border.append(_el("bottom", val="single", sz="12", space="6", color=RED))
    _put(ppr, border, PPR_ORDER)

    title = paragraph_style(doc, "BzTitle", "公文-标题")
    ppr = para_props(title)
    no_grid(ppr)
    _put(ppr, _el("jc", val="center"), PPR_ORDER)
    rpr = run_props(title)
    set_fonts(rpr, FONTS["title"], FONTS["title"])
    title.font.size = Pt(22)

    addressees = paragraph_style(doc, "BzAddressees", "公文-主送机关")
    _put(para_props(addressees), _el("jc", val="left"), PPR_ORDER)

    body = paragraph_style(doc, "BzBody", "公文-正文")
    _put(para_props(body), _el("ind", firstLineChars="200", firstLine="632"), PPR_ORDER)

    heading1 = character_style(doc, "BzHeading1", "公文-一级标题")
    set_fonts(run_props(heading1), FONTS["heading"], FONTS["heading"])
    heading2 = character_style(doc, "BzHeading2", "公文-二级标题")
    set_fonts(run_props(heading2), FONTS["kai"], FONTS["kai"])

    attachment = paragraph_style(doc, "BzAttachment", "公文-附件说明")
    _put(para_props(attachment), _el("ind", leftChars="500", left="1580", hangingChars="300", hanging="948"),
         PPR_ORDER)

    signature = paragraph_style(doc, "BzSignature", "公文-署名和成文日期")
    _put(para_props(signature), _el("jc", val="left"), PPR_ORDER)

    end_notes = paragraph_style(doc, "BzEndNotes", "公文-版记")
    ppr = para_props(end_notes)
    no_grid(ppr)
    exact_lines(ppr, int(LINE_PITCH * 0.8))
    _put(ppr, _el("jc", val="left"), PPR_ORDER)
    end_notes.font.size = Pt(END_NOTES_PT)

    page_number = paragraph_style(doc, "BzPageNumber", "公文-页码")
    ppr = para_props(page_number)
    no_grid(ppr)
    _put(ppr, _el("spacing", before="0", after="0", line="240", lineRule="auto"), PPR_ORDER)
    rpr = run_props(page_number)
    set_fonts(rpr, FONTS["page_number"], FONTS["page_number"])
    page_number.font.size = Pt(END_NOTES_PT)


def section_setup(doc: Any) -> None:
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.header_distance, section.footer_distance = Mm(15), Mm(25)
    grid = section._sectPr.find(qn("w:docGrid"))
    # A line grid only (22 lines a page): a character grid ("linesAndChars") is laid out
    # differently by Word, WPS and LibreOffice (LibreOffice spreads the characters over two cells),
    # so the 28 characters a line come from the 16 pt body in the 156 mm text block instead.
    grid.set(qn("w:type"), "lines")
    grid.set(qn("w:linePitch"), str(LINE_PITCH))
    doc.settings.odd_and_even_pages_header_footer = True


def add(doc: Any, text: str = "", style: str | None = None) -> Any:
    paragraph = doc.add_paragraph(style=doc.styles[style] if style else None)
    if text:
        paragraph.add_run(text)
    return paragraph


def styled_run(paragraph: Any, text: str, style_id: str) -> Any:
    run = paragraph.add_run(text)
    rpr = run._r.get_or_add_rPr()
    _put(rpr, _el("rStyle", val=style_id), RPR_ORDER)
    return run


def make_body(doc: Any) -> None:
    add(doc, "{{r mark }}", "公文-发文机关标志")
    add(doc)
    add(doc)
    add(doc, "{{ number }}", "公文-发文字号")
    add(doc)
    add(doc, "{{ title_text }}", "公文-标题")
    add(doc)
    add(doc, "{%p if addressees_line %}")
    add(doc, "{{ addressees_line }}", "公文-主送机关")
    add(doc, "{%p endif %}")
    add(doc, "{%p for p in paragraphs %}")
    add(doc, "{%p if p.level == 1 %}")
    paragraph = add(doc, style="公文-正文")
    styled_run(paragraph, "{{ p.lead }}", "BzHeading1")
    paragraph.add_run("{{ p.rest }}")
    add(doc, "{%p elif p.level == 2 %}")
    paragraph = add(doc, style="公文-正文")
    styled_run(paragraph, "{{ p.lead }}", "BzHeading2")
    paragraph.add_run("{{ p.rest }}")
    add(doc, "{%p else %}")
    add(doc, "{{ p.text }}", "公文-正文")
    add(doc, "{%p endif %}")
    add(doc, "{%p endfor %}")
    add(doc, "{%p if attachments %}")
    add(doc)
    add(doc, "{%p for a in attachments %}")
    add(doc, "{% if loop.first %}附件：{% else %}\u3000\u3000\u3000{% endif %}{{ a }}", "公文-附件说明")
    add(doc, "{%p endfor %}")
    add(doc, "{%p endif %}")
    add(doc)
    add(doc, "{{ issuer_line }}", "公文-署名和成文日期")
    add(doc, "{{ date_line }}", "公文-署名和成文日期")
    end_notes(doc)
    add(doc)


def _cell_paragraph(cell: Any, text: str, style: str, doc: Any) -> Any:
    paragraph = cell.paragraphs[0]
    paragraph.style = doc.styles[style]
    paragraph.add_run(text)
    return paragraph


def end_notes(doc: Any) -> None:
    """版记: a one-column table floating at the foot of the page where the text ends."""
    table = doc.add_table(rows=4, cols=1)
    tbl = table._tbl
    tbl_pr = tbl.tblPr
    for child in list(tbl_pr):
        if child.tag in (qn("w:tblStyle"), qn("w:tblW"), qn("w:tblLook")):
            tbl_pr.remove(child)
    tbl_pr.insert(0, parse_xml(
        f'<w:tblpPr {nsdecls("w")} w:leftFromText="0" w:rightFromText="0" w:topFromText="0" '
        'w:bottomFromText="0" w:vertAnchor="margin" w:horzAnchor="margin" w:tblpXSpec="center" '
        'w:tblpYSpec="bottom"/>'))
    for xml in (
        '<w:tblOverlap w:val="never"/>',
        f'<w:tblW w:w="{TEXT_WIDTH}" w:type="dxa"/>',
        '<w:jc w:val="center"/>',
        '<w:tblBorders><w:top w:val="single" w:sz="8" w:space="0" w:color="000000"/>'
        '<w:left w:val="nil"/><w:bottom w:val="single" w:sz="8" w:space="0" w:color="000000"/>'
        '<w:right w:val="nil"/><w:insideH w:val="single" w:sz="6" w:space="0" w:color="000000"/>'
        '<w:insideV w:val="nil"/></w:tblBorders>',
        '<w:tblLayout w:type="fixed"/>',
        '<w:tblCellMar><w:left w:w="0" w:type="dxa"/><w:right w:w="0" w:type="dxa"/></w:tblCellMar>',
    ):
        tbl_pr.append(_xml(xml))
    grid_col = tbl.tblGrid.find(qn("w:gridCol"))
    grid_col.set(qn("w:w"), str(TEXT_WIDTH))
    rows = table.rows
    for row in rows:
        row.cells[0].width = Mm(156)
    _cell_paragraph(rows[0].cells[0], "{%tr if cc_line %}", "公文-版记", doc)
    cc = _cell_paragraph(rows[1].cells[0], "抄送：{{ cc_line }}", "公文-版记", doc)
    _put(cc._p.get_or_add_pPr(), _el("ind", left=str(4 * ONE_CHAR_14), right=str(ONE_CHAR_14),
                                     hanging=str(3 * ONE_CHAR_14)), PPR_ORDER)
    _cell_paragraph(rows[2].cells[0], "{%tr endif %}", "公文-版记", doc)
    printed = _cell_paragraph(rows[3].cells[0], "{{ printing_office }}\t{{ printed_text }}", "公文-版记", doc)
    ppr = printed._p.get_or_add_pPr()
    tabs = _el("tabs")
    tabs.append(_el("tab", val="right", pos=str(TEXT_WIDTH - ONE_CHAR_14)))
    _put(ppr, tabs, PPR_ORDER)
    _put(ppr, _el("ind", left=str(ONE_CHAR_14), right="0"), PPR_ORDER)


VML_NAMESPACES = " ".join([
    nsdecls("w"), 'xmlns:v="urn:schemas-microsoft-com:vml"', 'xmlns:o="urn:schemas-microsoft-com:office:office"',
    'xmlns:w10="urn:schemas-microsoft-com:office:word"'])
WATERMARK = (
    '<w:r {ns}><w:rPr><w:noProof/></w:rPr><w:pict>'
    '<v:shapetype id="_x0000_t136" coordsize="21600,21600" o:spt="136" adj="10800" '
    'path="m@7,l@8,m@5,21600l@6,21600e"><v:formulas><v:f eqn="sum #0 0 10800"/><v:f eqn="prod #0 2 1"/>'
    '<v:f eqn="sum 21600 0 @1"/><v:f eqn="sum 0 0 @2"/><v:f eqn="sum 21600 0 @3"/><v:f eqn="if @0 @3 0"/>'
    '<v:f eqn="if @0 21600 @1"/><v:f eqn="if @0 0 @2"/><v:f eqn="if @0 @4 21600"/><v:f eqn="mid @5 @6"/>'
    '<v:f eqn="mid @8 @5"/><v:f eqn="mid @7 @8"/><v:f eqn="mid @6 @7"/><v:f eqn="sum @6 0 @5"/></v:formulas>'
    '<v:path textpathok="t" o:connecttype="custom" o:connectlocs="@9,0;@10,10800;@11,21600;@12,10800" '
    'o:connectangles="270,180,90,0"/><v:textpath on="t" fitshape="t"/>'
    '<v:handles><v:h position="#0,bottomRight" xrange="6629,14971"/></v:handles>'
    '<o:lock v:ext="edit" text="t" shapetype="t"/></v:shapetype>'
    '<v:shape id="BianzhiVoidWatermark" o:spid="_x0000_s2049" type="#_x0000_t136" '
    'style="position:absolute;margin-left:0;margin-top:0;width:360pt;height:180pt;rotation:315;'
    'z-index:-251657216;mso-position-horizontal:center;mso-position-horizontal-relative:margin;'
    'mso-position-vertical:center;mso-position-vertical-relative:margin" o:allowincell="f" '
    'fillcolor="#D40000" stroked="f"><v:fill opacity=".25"/>'
    '<v:textpath style="font-family:&quot;黑体&quot;;font-size:1pt" string="作废"/>'
    '<w10:wrap anchorx="margin" anchory="margin"/></v:shape></w:pict></w:r>'
)


def headers_and_footers(doc: Any) -> None:
    section = doc.sections[0]
    for header in (section.header, section.even_page_header):
        header.is_linked_to_previous = False
        first = header.paragraphs[0]
        first.add_run("{%p if void %}")
        note = header.add_paragraph()
        note.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = note.add_run("{{ void_note }}")
        run.font.size = Pt(10.5)
        run.font.color.rgb = RGBColor.from_string(RED)
        note._p.append(parse_xml(WATERMARK.format(ns=VML_NAMESPACES)))
        header.add_paragraph().add_run("{%p endif %}")
        header.add_paragraph()
    for footer, align, indent in ((section.footer, "right", "right"), (section.even_page_footer, "left", "left")):
        footer.is_linked_to_previous = False
        paragraph = footer.paragraphs[0]
        paragraph.style = doc.styles["公文-页码"]
        ppr = paragraph._p.get_or_add_pPr()
        _put(ppr, _el("ind", **{indent: str(ONE_CHAR_14)}), PPR_ORDER)
        _put(ppr, _el("jc", val=align), PPR_ORDER)
        paragraph.add_run("— ")
        paragraph._p.append(parse_xml(f'<w:fldSimple {nsdecls("w")} w:instr=" PAGE "><w:r><w:t>1</w:t></w:r>'
                                      '</w:fldSimple>'))
        paragraph.add_run(" —")


def make_template(path: Path = OUTPUT) -> Path:
    doc = Document()
    make_styles(doc)
    section_setup(doc)
    make_body(doc)
    headers_and_footers(doc)
    props = doc.core_properties
    props.title = "公文（GB/T 9704-2012）模板"
    props.author = "bianzhi"
    # (docxtpl renders the properties too: no template tags in them)
    props.comments = "Filled by bianzhi.documents.render.document_docx (docxtpl): keep the template tags."
    doc.save(str(path))
    return path


if __name__ == "__main__":
    print(make_template())
