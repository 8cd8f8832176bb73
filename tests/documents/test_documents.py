"""Official documents (公文): issuing offices, numbers (sequential per office and year, never
reused, safe under concurrency), voiding, the GB/T 9704-2012 PDF and the DOCX, the pages.

PDF text is read back with poppler's ``pdftotext``; one rendered page per kind is kept in
``test-artifacts/`` to be looked at (DOCUMENTS.md). The DOCX is rendered to an image only
where LibreOffice is installed.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import re
import shutil
import subprocess
import threading
import zipfile
from pathlib import Path

import pytest
import yaml
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.test import Client

from bianzhi.accounts.choices import Role
from bianzhi.common.errors import BianzhiError
from bianzhi.common.models import AuditEvent
from bianzhi.divisions.services import DATA_FILE, read_division_file
from bianzhi.documents import render, rules
from bianzhi.documents.models import IssuingOffice, OfficialDocument
from bianzhi.documents.services import OFFICES_FILE, document_issue, document_void, offices_load

from ..factories import make_user
from .test_pdf import ARTIFACTS, page_count, pdftotext, poppler, squeezed

WRITTEN = dt.date(2026, 11, 26)
BODY = """根据《广东省机构编制管理规定》和市委机构编制委员会有关工作部署，经研究，现就有关事项通知如下。

一、总体要求
坚持以习近平新时代中国特色社会主义思想为指导，严格控制议事协调机构设置，切实精简规范议事协调机构。
（一）严格设立条件。凡是可以由现有机构承担职责的，不再另设议事协调机构。
（二）规范成员单位。成员单位一般不超过20个，确需超出的，应当说明理由。
二、工作要求
1.各单位要高度重视，认真组织实施。
2.执行中遇到的问题，请及时向市委编办反映。"""


@pytest.fixture
def offices(divisions):
    offices_load()
    return IssuingOffice.objects.select_related("division")


@pytest.fixture
def people(offices):
    from types import SimpleNamespace

    return SimpleNamespace(
        sz_office=make_user("sz_office", Role.ISSUING_OFFICE, "440300"),
        gz_office=make_user("gz_office", Role.ISSUING_OFFICE, "440100"),
        province_admin=make_user("gd_admin", Role.ADMINISTRATOR, "440000"),
        sz_supervisor=make_user("sz_supervisor", Role.SUPERVISOR, "440300"),
        sz_reviewer=make_user("sz_reviewer", Role.ESTABLISHMENT_REVIEWER, "440300"),
    )


def issue(actor, division="440300", **changes):
    values = {"title": "关于进一步规范议事协调机构设置和管理工作的通知",
              "addressees": "各区机构编制委员会办公室，市直各单位", "body": BODY,
              "cc": "市委办公厅，市政府办公厅", "written_on": WRITTEN, "printed_on": WRITTEN}
    values.update(changes)
    return document_issue(actor=actor, division=division, **values)


# --- the offices ------------------------------------------------------------------------------


def test_offices_file_covers_every_division_with_a_unique_prefix():
    with open(OFFICES_FILE, encoding="utf-8") as fh:
        rows = yaml.safe_load(fh)["offices"]
    by_code = {str(r["division"]): r for r in rows}
    assert set(by_code) == {str(d["code"]) for d in read_division_file(DATA_FILE)}
    prefixes = [r["prefix"] for r in rows]
    assert len(prefixes) == len(set(prefixes))
    assert all(p.endswith("编办发") for p in prefixes)
    assert by_code["440000"] == {"division": "440000", "mark": "中共广东省委机构编制委员会办公室", "prefix": "粤编办发"}
    assert (by_code["440100"]["prefix"], by_code["440300"]["prefix"], by_code["440400"]["prefix"]) == (
        "穗编办发", "深编办发", "珠编办发")
    assert by_code["440300"]["mark"] == "深圳市机构编制委员会办公室"
    assert by_code["440106"] == {"division": "440106", "mark": "天河区机构编制委员会办公室", "prefix": "天编办发"}
    assert by_code["440305"]["prefix"] == "南山编办发"  # 南 is shared by five county-level divisions


@pytest.mark.django_db
def test_offices_load_is_idempotent_and_keeps_an_office_edited_locally(divisions):
    first = offices_load()
    assert first["created"] == IssuingOffice.objects.count() == 144
    assert offices_load() == {"created": 0, "updated": 0, "skipped": 0, "total": 144}
    shenzhen = IssuingOffice.objects.get(division__code="440300")
    assert (shenzhen.prefix, shenzhen.printing_office) == ("深编办发", "深圳市机构编制委员会办公室")
    IssuingOffice.objects.filter(division__code="440300").update(
        mark="中共深圳市委机构编制委员会办公室", source_document="深编委〔2026〕1号")
    IssuingOffice.objects.filter(division__code="440100").update(mark="改错了")
    again = offices_load()
    assert again["updated"] == 1
    assert IssuingOffice.objects.get(division__code="440300").mark == "中共深圳市委机构编制委员会办公室"
    assert IssuingOffice.objects.get(division__code="440100").mark == "广州市机构编制委员会办公室"
    assert AuditEvent.objects.filter(action="documents.offices_load").count() == 2


def test_offices_loader_is_registered():
    from bianzhi.common.rules_loader import LOADERS

    names = [name for name, _ in LOADERS]
    assert ("documents", "bianzhi.documents.services.offices_load") in LOADERS
    assert names.index("documents") > names.index("divisions")


# --- numbers ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_numbers_are_sequential_per_office_and_year(people):
    first = issue(people.sz_office)
    second = issue(people.sz_office)
    assert (first.number, second.number) == ("深编办发〔2026〕1号", "深编办发〔2026〕2号")
    assert (first.year, first.serial, second.serial) == (2026, 1, 2)
    next_year = issue(people.sz_office, written_on=dt.date(2027, 1, 4))
    assert next_year.number == "深编办发〔2027〕1号"
    guangzhou = issue(people.gz_office, division="440100")
    assert guangzhou.number == "穗编办发〔2026〕1号"
    third = issue(people.province_admin)  # an administrator above issues for the city office
    assert third.number == "深编办发〔2026〕3号"
    assert first.mark == first.issuer == first.printing_office == "深圳市机构编制委员会办公室"
    assert first.jurisdiction_path == "440000/440300/"
    events = AuditEvent.objects.filter(action="document.issue").order_by("seq")
    assert [e.after["number"] for e in events] == [
        "深编办发〔2026〕1号", "深编办发〔2026〕2号", "深编办发〔2027〕1号", "穗编办发〔2026〕1号", "深编办发〔2026〕3号"]


@pytest.mark.django_db
def test_issue_takes_the_division_as_object_code_or_id_and_links_the_object(people, offices):
    shenzhen = offices.get(division__code="440300").division
    by_object = issue(people.sz_office, division=shenzhen, object_type="bodies.body", object_id=7,
                      case_number="SP-440300-2026-00001")
    by_id = issue(people.sz_office, division=shenzhen.pk)
    assert [by_object.serial, by_id.serial] == [1, 2]
    assert (by_object.object_type, by_object.object_id, by_object.case_number) == (
        "bodies.body", "7", "SP-440300-2026-00001")
    from bianzhi.documents.selectors import documents_for

    assert list(documents_for(actor=people.sz_reviewer, object_type="bodies.body", object_id=7)) == [by_object]
    assert list(documents_for(actor=people.gz_office, object_type="bodies.body", object_id=7)) == []


@pytest.mark.django_db
def test_a_rolled_back_issue_gives_its_number_back(people):
    """The approvals engine issues inside the deciding transaction: when that transaction fails,
    the number is not lost."""
    with pytest.raises(RuntimeError), transaction.atomic():
        assert issue(people.sz_office).number == "深编办发〔2026〕1号"
        raise RuntimeError("the decision failed after the document was issued")
    assert OfficialDocument.objects.count() == 0
    assert issue(people.sz_office).number == "深编办发〔2026〕1号"


@pytest.mark.django_db
@pytest.mark.parametrize(("who", "division", "changes", "codes"), [
    ("sz_office", "440100", {}, ["office_not_found"]),  # outside the actor's jurisdiction
    ("sz_office", "440399", {}, ["office_not_found"]),  # no such division
    ("sz_office", "440300", {"title": " ", "body": "\n \n"}, ["title_required", "body_required"]),
    ("sz_office", "440300", {"title": "长" * 201}, ["too_long"]),
])
def test_issue_errors_write_nothing(people, who, division, changes, codes):
    with pytest.raises(BianzhiError) as caught:
        issue(getattr(people, who), division=division, **changes)
    assert caught.value.codes == codes
    assert OfficialDocument.objects.count() == 0
    assert not AuditEvent.objects.filter(action="document.issue").exists()


@pytest.mark.django_db
def test_only_the_issuing_office_and_administrators_issue_and_void(people):
    with pytest.raises(PermissionDenied):
        issue(people.sz_reviewer)
    document = issue(people.sz_office)
    with pytest.raises(PermissionDenied):
        document_void(actor=people.sz_supervisor, document_id=document.pk, reason="错")


# --- voiding ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_void_document_keeps_its_number_and_the_number_is_not_reused(people):
    document = issue(people.sz_office)
    voided = document_void(actor=people.sz_office, document_id=document.pk, reason="  发文机关名称有误  ")
    voided.refresh_from_db()
    assert (voided.status, voided.number, voided.void_reason) == ("void", "深编办发〔2026〕1号", "发文机关名称有误")
    assert voided.voided_by == people.sz_office and voided.voided_at is not None
    event = AuditEvent.objects.get(action="document.void")
    assert (event.before, event.after["status"], event.after["number"]) == (
        {"status": "issued"}, "void", "深编办发〔2026〕1号")
    assert issue(people.sz_office).number == "深编办发〔2026〕2号"
    with pytest.raises(BianzhiError) as caught:
        document_void(actor=people.sz_office, document_id=document.pk, reason="")
    assert caught.value.codes == ["document_already_void", "void_reason_required"]


@pytest.mark.django_db
def test_void_errors(people):
    document = issue(people.sz_office)
    for actor, document_id, reason, code in [
        (people.sz_office, document.pk, " ", "void_reason_required"),
        (people.gz_office, document.pk, "错", "document_not_found"),  # outside Guangzhou
        (people.sz_office, 999999, "错", "document_not_found"),
        (people.sz_office, "x", "错", "document_not_found"),
    ]:
        with pytest.raises(BianzhiError) as caught:
            document_void(actor=actor, document_id=document_id, reason=reason)
        assert caught.value.codes == [code]
    document.refresh_from_db()
    assert document.status == "issued"


# --- concurrency ------------------------------------------------------------------------------


def race(calls):
    """Run the calls at the same moment, each in a thread with its own connection."""
    barrier = threading.Barrier(len(calls))
    results, crashes = [], []

    def run(call):
        try:
            barrier.wait()
            results.append(call())
        except Exception as exc:
            crashes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert crashes == []
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_issues_get_numbers_without_gap_or_duplicate(divisions):
    offices_load()
    office = make_user("sz_office", Role.ISSUING_OFFICE, "440300")
    other = make_user("gz_office", Role.ISSUING_OFFICE, "440100")
    calls = [lambda i=i: issue(office, title=f"关于第{i}号测试事项的通知") for i in range(20)]
    calls += [lambda: issue(other, division="440100") for _ in range(5)]
    results = race(calls)
    shenzhen = sorted(d.serial for d in results if d.office.prefix == "深编办发")
    assert shenzhen == list(range(1, 21))
    assert sorted(d.serial for d in results if d.office.prefix == "穗编办发") == [1, 2, 3, 4, 5]
    numbers = set(OfficialDocument.objects.values_list("number", flat=True))
    assert numbers == {f"深编办发〔2026〕{n}号" for n in range(1, 21)} | {f"穗编办发〔2026〕{n}号" for n in range(1, 6)}
    assert AuditEvent.objects.filter(action="document.issue").count() == 25
    from bianzhi.common.audit import verify_chain

    assert verify_chain().ok


# --- pure rules -------------------------------------------------------------------------------


def test_document_number_has_no_leading_zeros_and_no_di():
    assert rules.document_number("深编办发", 2026, 12) == "深编办发〔2026〕12号"
    assert rules.document_number("粤编办发", 2026, 1) == "粤编办发〔2026〕1号"
    with pytest.raises(ValueError):
        rules.document_number("粤编办发", 2026, 0)


def test_paragraphs_and_heading_levels():
    paragraphs = rules.paragraphs(BODY + "\n（1）小项。\n\n   \u3000\u3000缩进的段落。")
    assert [(p.level, p.lead, p.rest[:6]) for p in paragraphs] == [
        (0, "", "根据《广东省"), (1, "一、总体要求", ""), (0, "", "坚持以习近平"),
        (2, "（一）严格设立条件。", "凡是可以由现"), (2, "（二）规范成员单位。", "成员单位一般"), (1, "二、工作要求", ""),
        (3, "", "1.各单位要"), (3, "", "2.执行中遇"), (4, "", "（1）小项。"), (0, "", "缩进的段落。"),
    ]
    assert rules.heading_level("2026年") == 0


def test_addressees_cc_and_attachments_lines():
    assert rules.addressees_line("各区编办\n市直各单位：") == "各区编办，市直各单位："
    assert rules.addressees_line("  ") == ""
    assert rules.cc_line("市委办公厅\n市政府办公厅。") == "市委办公厅，市政府办公厅。"
    assert rules.cc_line("") == ""
    assert rules.attachment_lines("清单\n名册") == ["1．清单", "2．名册"]
    assert rules.attachment_lines("1.清单\n2.名册") == ["1.清单", "2.名册"]
    assert rules.attachment_lines("清单") == ["清单"]


def test_signature_places_the_date_two_characters_right_of_the_authority():
    sign = rules.signature("深圳市机构编制委员会办公室", "2026年11月26日")
    assert (sign.issuer_start, sign.date_start) == (13, 15)  # authority ends 2 characters from the right
    short = rules.signature("市编办", "2026年11月26日")  # the date is longer: it ends 2 from the right
    assert (short.issuer_start, short.date_start) == (17, 19)


def test_titles_wrap_keeping_words_whole_in_an_inverted_trapezoid():
    assert rules.title_lines("关于设立深圳市安全生产委员会的通知") == ["关于设立深圳市安全生产委员会的通知"]
    lines = rules.title_lines("关于进一步规范议事协调机构设置和管理工作的通知")
    assert lines == ["关于进一步规范议事协调机构", "设置和管理工作的通知"]
    long = "关于深圳市第三次全国国土调查领导小组更名为深圳市国土调查和自然资源统计工作领导小组的通知"
    lines = rules.title_lines(long)
    assert "".join(lines) == long and len(lines) == 3
    assert all(len(line) <= rules.TITLE_CHARS_PER_LINE for line in lines)
    assert not any(a.endswith("领导") or b.startswith("小组") for a, b in itertools.pairwise(lines))


def test_mark_size_fits_the_text_block():
    assert rules.mark_size_pt("深圳市机构编制委员会办公室") == pytest.approx(33.1, abs=0.2)
    assert rules.mark_size_pt("市编办") == 42.0
    size = rules.mark_size_pt("中共广东省委机构编制委员会办公室")
    assert 16 * size * rules.PT_MM <= rules.TEXT_WIDTH_MM


# --- the PDF ----------------------------------------------------------------------------------


def _png(pdf: bytes, name: str, tmp_path: Path, page: int = 1) -> Path:
    source = tmp_path / f"{name}.pdf"
    source.write_bytes(pdf)
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / name
    subprocess.run([poppler("pdftoppm"), "-png", "-r", "80", "-f", str(page), "-l", str(page), "-singlefile",
                    str(source), str(target)], check=True)
    png = target.with_suffix(".png")
    assert png.read_bytes().startswith(b"\x89PNG")
    return png


def _pages(pdf: bytes) -> list[str]:
    return pdftotext(pdf, "-raw").split("\f")[:-1]


@pytest.mark.django_db
def test_pdf_shows_every_part_of_the_layout(people, tmp_path):
    document = issue(people.sz_office, attachments_note="议事协调机构设置情况表\n成员单位名单")
    pdf = render.document_pdf(document)
    assert pdf.startswith(b"%PDF-")
    pages = _pages(pdf)
    first = pages[0]
    lines = [line.strip() for line in first.splitlines() if line.strip()]
    assert lines[:3] == ["深圳市机构编制委员会办公室", "深编办发〔2026〕1号", "关于进一步规范议事协调机构"]
    assert lines[3] == "设置和管理工作的通知"
    assert lines[4] == "各区机构编制委员会办公室，市直各单位："  # flush left, full-width colon
    flat = squeezed("".join(pages))
    for text in ("根据《广东省机构编制管理规定》", "一、总体要求", "（一）严格设立条件。", "2.执行中遇到的问题",
                 "附件：1．议事协调机构设置情况表", "2．成员单位名单", "深圳市机构编制委员会办公室2026年11月26日",
                 "抄送：市委办公厅，市政府办公厅。", "深圳市机构编制委员会办公室2026年11月26日印发"):
        assert text in flat, text
    assert "— 1 —" in first
    assert len(pages) % 2 == 0 and "抄送" in pages[-1]  # the end notes: at the foot of an even page
    assert f"— {len(pages)} —" in pages[-1]
    assert "作废" not in flat
    _png(pdf, "document-pdf", tmp_path)
    _png(pdf, "document-pdf-last-page", tmp_path, page=len(pages))


@pytest.mark.django_db
def test_a_long_pdf_numbers_its_pages_on_the_outer_side(people):
    document = issue(people.sz_office, body="\n".join([BODY] * 4))
    pdf = render.document_pdf(document)
    pages = _pages(pdf)
    assert len(pages) >= 3
    assert "— 2 —" in pages[1] and "— 3 —" in pages[2]
    laid_out = render._layout(render.document_context(document))
    for number, page in enumerate(laid_out.pages, 1):
        sides = [box.at_keyword for box in page._page_box.children
                 if getattr(box, "at_keyword", "").startswith("@bottom") and box.children]
        assert sides == ["@bottom-right" if number % 2 else "@bottom-left"], number


def _text_lines(count: int) -> str:
    return "\n".join(f"第{n}段，一行文字。" for n in range(1, count + 1))


@pytest.mark.django_db
def test_end_notes_that_do_not_fit_an_even_page_go_after_a_blank_page_without_numbers(people):
    """When the text fills page 2, the end notes go to page 4; page 3 stays blank and neither
    page is numbered (GB/T 9704-2012, 7.5)."""
    found = None
    for count in range(20, 40):
        document = issue(people.sz_office, body=_text_lines(count))
        d = render.document_context(document)
        laid_out = render._layout(d)
        signature, end_notes = (render._page_of(laid_out.pages, a) for a in ("signature", "end-notes"))
        if signature == 2 and end_notes == 3:
            found = document
            break
    assert found is not None
    pages = _pages(render.document_pdf(found))
    assert len(pages) == 4
    assert pages[2].strip() == ""
    assert "抄送" in pages[3] and "—" not in pages[3]
    assert "— 2 —" in pages[1]


@pytest.mark.django_db
def test_end_notes_after_text_ending_on_an_odd_page_go_alone_on_the_next_numbered_page(people):
    found = None
    for count in range(1, 12):
        document = issue(people.sz_office, title="关于测试的通知", body=_text_lines(count))
        laid_out = render._layout(render.document_context(document))
        if render._page_of(laid_out.pages, "end-notes") == 1:
            found = document
            break
    assert found is not None
    pages = _pages(render.document_pdf(found))
    assert len(pages) == 2
    assert "抄送" not in pages[0] and "抄送" in pages[1] and "— 2 —" in pages[1]


@pytest.mark.django_db
def test_a_void_pdf_carries_the_watermark_and_the_reason(people, tmp_path):
    document = issue(people.sz_office)
    document = document_void(actor=people.sz_office, document_id=document.pk, reason="主送机关有误")
    pdf = render.document_pdf(document)
    flat = squeezed(pdftotext(pdf))
    assert "深编办发〔2026〕1号" in flat  # it keeps its number
    assert "本文件已作废：主送机关有误" in flat
    rest = flat.replace("本文件已作废", "")
    assert "作" in rest and "废" in rest  # the watermark (its rotated characters come out one by one)
    _png(pdf, "document-pdf-void", tmp_path)


@pytest.mark.django_db
def test_pdf_embeds_its_fonts(people):
    from .test_pdf import inflated

    pdf = render.document_pdf(issue(people.sz_office))
    streams = inflated(pdf)
    assert b"NotoSerifCJK" in streams and b"NotoSansCJK" in streams  # 仿宋 / 小标宋 / 黑体 fallbacks
    assert len(pdf) < 1_500_000


def test_font_stacks_name_the_standards_faces_first():
    stacks = render.font_stacks()
    assert stacks["body"].startswith('"仿宋_GB2312", "仿宋"') and stacks["body"].endswith("var(--bianzhi-font-body)")
    assert stacks["title"].startswith('"方正小标宋简体"') and stacks["title"].endswith("var(--bianzhi-font-title)")
    assert stacks["heading"].startswith('"黑体"') and stacks["kai"].startswith('"楷体_GB2312"')


# --- the DOCX ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_docx_opens_and_holds_the_document(people, tmp_path):
    import docx

    document = issue(people.sz_office, attachments_note="议事协调机构设置情况表")
    data = render.document_docx(document)
    word = docx.Document(io.BytesIO(data))
    texts = [p.text for p in word.paragraphs]
    styles = {p.text: p.style.name for p in word.paragraphs if p.text}
    assert "深圳市机构编制委员会办公室" in texts and "深编办发〔2026〕1号" in texts
    assert "关于进一步规范议事协调机构\n设置和管理工作的通知" in texts
    assert "各区机构编制委员会办公室，市直各单位：" in texts
    body = [t for t in texts if styles.get(t) == "公文-正文"]
    assert body[0].startswith("根据《广东省机构编制管理规定》") and body[1] == "一、总体要求"
    assert len(body) == len(rules.paragraphs(BODY))
    assert "附件：议事协调机构设置情况表" in texts
    assert "\u3000" * 13 + "深圳市机构编制委员会办公室" in texts
    assert "\u3000" * 15 + "2026年11月26日" in texts
    rows = [row.cells[0].text for row in word.tables[0].rows]
    assert rows == ["抄送：市委办公厅，市政府办公厅。", "深圳市机构编制委员会办公室\t2026年11月26日印发"]
    assert not any("{{" in t or "{%" in t for t in texts + rows)
    section = word.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    assert [round(m.mm) for m in (section.top_margin, section.bottom_margin, section.left_margin,
                                  section.right_margin)] == [37, 35, 28, 26]
    assert word.settings.odd_and_even_pages_header_footer
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read("word/document.xml").decode()
        styles_xml = archive.read("word/styles.xml").decode()
        footers = [archive.read(n).decode() for n in archive.namelist() if n.startswith("word/footer")]
        headers = [archive.read(n).decode() for n in archive.namelist() if n.startswith("word/header")]
    assert 'w:type="lines"' in xml and 'w:linePitch="579"' in xml
    assert 'w:eastAsia="仿宋_GB2312"' in styles_xml and 'w:eastAsia="方正小标宋简体"' in styles_xml
    assert 'w:eastAsia="黑体"' in styles_xml and 'w:eastAsia="楷体_GB2312"' in styles_xml
    assert 'w:color w:val="D40000"' in styles_xml  # the red mark and line
    assert 'w:rStyle w:val="BzHeading1"' in xml and 'w:rStyle w:val="BzHeading2"' in xml
    assert 'w:tblpYSpec="bottom"' in xml  # the end notes at the foot of the page
    assert all("PAGE" in f for f in footers) and any('w:jc w:val="right"' in f for f in footers) and any(
        'w:jc w:val="left"' in f for f in footers)
    assert not any("作废" in h for h in headers)
    path = tmp_path / "document.docx"
    path.write_bytes(data)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "document.docx").write_bytes(data)
    _docx_png(path, "document-docx", tmp_path)


@pytest.mark.django_db
def test_a_void_docx_carries_the_watermark_and_without_cc_drops_the_row(people, tmp_path):
    import docx

    document = issue(people.sz_office, cc="")
    document = document_void(actor=people.sz_office, document_id=document.pk, reason="主送机关有误")
    data = render.document_docx(document)
    word = docx.Document(io.BytesIO(data))
    assert [row.cells[0].text for row in word.tables[0].rows] == ["深圳市机构编制委员会办公室\t2026年11月26日印发"]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        headers = [archive.read(n).decode() for n in archive.namelist() if n.startswith("word/header")]
    assert all('string="作废"' in h and "本文件已作废：主送机关有误" in h for h in headers)


@pytest.mark.django_db
def test_docx_escapes_text(people):
    import docx

    document = issue(people.sz_office, title="关于<b>&测试</b>的通知", body="正文<w:p>不是标记</w:p>&。")
    word = docx.Document(io.BytesIO(render.document_docx(document)))
    texts = [p.text for p in word.paragraphs]
    assert "关于<b>&测试</b>的通知" in texts and "正文<w:p>不是标记</w:p>&。" in texts


def test_the_committed_docx_template_is_what_the_script_makes(tmp_path):
    """make_docx_template.py and official_document.docx agree (rerun the script after editing it)."""
    import importlib.util

    script = render.DOCX_TEMPLATE.with_name("make_docx_template.py")
    spec = importlib.util.spec_from_file_location("make_docx_template", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    made = module.make_template(tmp_path / "made.docx")

    def parts(path: Path) -> dict[str, bytes]:
        with zipfile.ZipFile(path) as archive:
            return {n: archive.read(n) for n in archive.namelist() if n.startswith("word/") and n.endswith(".xml")}

    made_parts, committed = parts(made), parts(render.DOCX_TEMPLATE)
    assert made_parts.keys() == committed.keys()
    for name in ("word/document.xml", "word/styles.xml", "word/footer1.xml", "word/header1.xml"):
        assert made_parts[name] == committed[name], name


def _docx_png(path: Path, name: str, tmp_path: Path) -> None:
    """The DOCX as an image, through LibreOffice where it is installed."""
    office = shutil.which("libreoffice") or shutil.which("soffice")
    if office is None:
        return
    subprocess.run([office, "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(path)],
                   check=True, capture_output=True, timeout=180)
    pdf = path.with_suffix(".pdf").read_bytes()
    assert page_count(pdftotext(pdf)) >= 1
    _png(pdf, name, tmp_path)


# --- pages ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_list_filters_and_exports_within_scope(people):
    issue(people.sz_office)
    void = issue(people.sz_office, written_on=dt.date(2025, 3, 1))
    document_void(actor=people.sz_office, document_id=void.pk, reason="错")
    issue(people.gz_office, division="440100", title="关于广州测试的通知")
    client = Client()
    client.force_login(people.sz_reviewer)
    page = client.get("/documents/").content.decode()
    assert "深编办发〔2026〕1号" in page and "深编办发〔2025〕1号" in page and "穗编办发" not in page
    assert "广州市机构编制委员会办公室" not in page  # not even among the filter's offices
    filtered = client.get("/documents/", {"year": 2025, "status": "void"}).content.decode()
    assert "深编办发〔2025〕1号" in filtered and "深编办发〔2026〕1号" not in filtered
    response = client.get("/documents/", {"q": "2026", "export": "xlsx"})
    assert response["Content-Type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_filelike(io.BytesIO(response.content))
    cells = [str(c) for row in book.get_sheet_by_name(book.sheet_names[0]).to_python() for c in row]
    assert "深编办发〔2026〕1号" in cells and "深编办发〔2025〕1号" not in cells
    province = Client()
    province.force_login(people.province_admin)
    assert "穗编办发〔2026〕1号" in province.get("/documents/").content.decode()


@pytest.mark.django_db
def test_detail_downloads_and_void_form(people):
    document = issue(people.sz_office)
    client = Client()
    client.force_login(people.sz_office)
    page = client.get(f"/documents/{document.pk}/").content.decode()
    assert "深编办发〔2026〕1号" in page and 'data-testid="void"' in page
    pdf = client.get(f"/documents/{document.pk}/document.pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    assert "filename*=UTF-8''" in pdf["Content-Disposition"]
    word = client.get(f"/documents/{document.pk}/document.docx")
    assert word["Content-Type"] == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert word.content.startswith(b"PK")
    blank = client.post(f"/documents/{document.pk}/void/", {"reason": " "})
    assert blank.status_code == 422
    document.refresh_from_db()
    assert document.status == "issued"
    done = client.post(f"/documents/{document.pk}/void/", {"reason": "内容有误"})
    assert done.status_code == 302
    document.refresh_from_db()
    assert (document.status, document.void_reason) == ("void", "内容有误")
    page = client.get(f"/documents/{document.pk}/").content.decode()
    assert 'data-testid="void-note"' in page and 'data-testid="void-submit"' not in page
    again = client.post(f"/documents/{document.pk}/void/", {"reason": "再次"})
    assert again.status_code == 422


@pytest.mark.django_db
def test_void_needs_the_permission_and_other_jurisdictions_see_nothing(people):
    document = issue(people.sz_office)
    supervisor = Client()
    supervisor.force_login(people.sz_supervisor)
    assert 'data-testid="void"' not in supervisor.get(f"/documents/{document.pk}/").content.decode()
    assert supervisor.post(f"/documents/{document.pk}/void/", {"reason": "错"}).status_code == 403
    guangzhou = Client()
    guangzhou.force_login(people.gz_office)
    for url in (f"/documents/{document.pk}/", f"/documents/{document.pk}/document.pdf",
                f"/documents/{document.pk}/document.docx"):
        assert guangzhou.get(url).status_code == 404
    assert guangzhou.post(f"/documents/{document.pk}/void/", {"reason": "错"}).status_code == 404
    document.refresh_from_db()
    assert document.status == "issued"


@pytest.mark.django_db
def test_menu_links_the_documents(people):
    client = Client()
    client.force_login(people.sz_supervisor)
    page = client.get("/documents/").content.decode()
    assert 'data-testid="menu-documents"' in page
    assert re.search(r'href="/documents/"', page)
