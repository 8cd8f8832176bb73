"""PDF output: fonts embedded, Chinese text extractable, pages numbered, no network, headers.

Text is read back with poppler's ``pdftotext``; without it the checks that need it skip,
except under CI=true, where a missing poppler-utils is a failure.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import socket
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest
from django.template import engines
from django.test import override_settings
from django.utils.translation import gettext

from bianzhi.documents import pdf as pdf_module
from bianzhi.documents.pdf import (
    FACES,
    LocalURLFetcher,
    allowed_roots,
    find_font_file,
    font_dirs,
    font_stylesheet,
    pdf_response,
    render_pdf,
    render_pdf_from_html,
)
from bianzhi.documents.templatetags.documents import cn_date

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TEMPLATE = "workflow/approval_form_pdf.html"
TITLE = "编外人员用人申请审批表"
OPINION = "同意报分管领导审定"


def poppler(tool: str) -> str:
    exe = shutil.which(tool)
    if exe is None:
        message = f"{tool} (poppler-utils) is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return exe


def pdftotext(pdf: bytes, *options: str) -> str:
    """The text of a PDF; pages end with a form feed. ``-raw`` keeps the content order."""
    result = subprocess.run([poppler("pdftotext"), *options, "-", "-"], input=pdf, capture_output=True, check=True)
    return result.stdout.decode("utf-8")


def page_count(text: str) -> int:
    return text.count("\f")


def squeezed(text: str) -> str:
    """Text without white space: a wrapped table cell reads as one string again."""
    return re.sub(r"\s+", "", text)


def inflated(pdf: bytes) -> bytes:
    """Every Flate stream of the PDF decompressed: fonts programs, content, ToUnicode maps."""
    chunks = []
    for match in re.finditer(rb"stream\r?\n", pdf):
        end = pdf.find(b"endstream", match.end())
        try:
            chunks.append(zlib.decompressobj().decompress(pdf[match.end():end]))
        except zlib.error:
            continue
    return b"\n".join(chunks)


def make_form(steps: int = 3, **changes: Any) -> dict[str, Any]:
    kinds = [
        ("申请", "提交申请", "天河区测试局", "提交", "因业务量增加，申请新增编外人员2名。", "张三", ["用人需求说明.pdf"]),
        ("初审", "部门审核", "区委编办综合科", "同意", f"经核，未超过控制数，{OPINION}。", "李四", []),
        ("审定", "领导审批", "区委编办", "批准", "同意。", "王五", []),
    ]
    form: dict[str, Any] = {
        "title": TITLE,
        "number": "SP-440106-2026-00001",
        "jurisdiction": "广州市天河区",
        "status_label": "已批准",
        "facts": [("申请单位", "广州市天河区测试局"), ("申请事项", "新增编外人员\n窗口服务岗2名"), ("单位类型", "直属事业单位"),
                  ("备注", "<b>不加粗</b>")],
        "steps": [
            {
                "stage": f"{stage}{i + 1}", "name": name, "department": department, "action_label": action,
                "opinion": opinion, "actor": actor, "acted_on": dt.date(2026, 11, 1 + i % 25),
                "attachments": attachments,
            }
            for i in range(steps)
            for stage, name, department, action, opinion, actor, attachments in [kinds[i % len(kinds)]]
        ],
        "result": "批准新增编外人员2名。",
        "printed_on": dt.date(2026, 11, 26),
    }
    form.update(changes)
    return form


@pytest.fixture(scope="module")
def short_pdf() -> bytes:
    return render_pdf(TEMPLATE, {"form": make_form()})


@pytest.fixture(scope="module")
def long_pdf() -> bytes:
    return render_pdf(TEMPLATE, {"form": make_form(steps=30)})


# --- the approval form --------------------------------------------------------------------


def test_short_form_is_one_pdf_page_with_chinese_text(short_pdf):
    assert short_pdf.startswith(b"%PDF-")
    text = pdftotext(short_pdf)
    assert page_count(text) == 1
    flat = squeezed(text)
    assert TITLE in flat
    assert OPINION in flat
    assert "SP-440106-2026-00001" in flat
    assert "2026年11月26日" in flat  # printed on
    assert "2026年11月1日" in flat  # first step, no leading zero
    assert "用人需求说明.pdf" in flat  # attachment names
    assert "<b>不加粗</b>" in flat  # values are escaped, never markup
    assert "— 1 —" in pdftotext(short_pdf, "-raw")


def test_short_form_embeds_noto_cjk_subsets(short_pdf):
    streams = inflated(short_pdf)
    assert b"NotoSerifCJK" in streams  # body and title
    assert b"NotoSansCJK" in streams  # column headings
    assert b"/FontFile3" in short_pdf or b"FontFile3" in streams  # embedded programs
    assert len(short_pdf) < 1_000_000  # subsets, not the 20-27 MB collections


def test_short_form_draws_simplified_chinese_glyphs(short_pdf):
    """The Noto collections share one file for JP/KR/SC/TC: lang="zh-Hans" must pick SC."""
    fontTools = pytest.importorskip("fontTools.ttLib")
    path = find_font_file(FACES[0][2], font_dirs())
    if path is None or path.suffix != ".ttc":
        pytest.skip("the body font is not a Noto CJK collection here")
    collection = fontTools.TTCollection(str(path), lazy=True)
    # 直 (U+76F4), printed in a fact value, has different glyphs in the JP and SC faces.
    glyph_ids = {face["name"].getDebugName(6): face.getGlyphID(face.getBestCmap()[0x76F4]) for face in collection}
    sc = next(gid for name, gid in glyph_ids.items() if name.endswith("sc-Regular"))
    jp = next(gid for name, gid in glyph_ids.items() if name.endswith("jp-Regular"))
    assert sc != jp
    to_unicode = inflated(short_pdf).lower()
    assert f"<{sc:04x}> <76f4>".encode() in to_unicode
    assert f"<{jp:04x}> <76f4>".encode() not in to_unicode


def test_long_form_runs_over_pages_with_numbers_and_repeated_headings(long_pdf):
    text = pdftotext(long_pdf)
    assert page_count(text) > 1
    raw = pdftotext(long_pdf, "-raw")
    assert "— 1 —" in raw
    assert "— 2 —" in raw
    pages = [squeezed(page) for page in text.split("\f") if page.strip()]
    heading = squeezed(gettext("Opinion"))
    assert all(heading in page for page in pages)  # the column headings repeat on every page
    assert all("SP-440106-2026-00001" in page for page in pages)  # the number, in the header after page 1
    assert "审定30" in squeezed(text)  # the last step
    assert "批准新增编外人员2名。" in pages[-1]  # then the result


def test_sample_page_rendered_for_the_eye(short_pdf, tmp_path):
    """DOCUMENTS.md: keep one rendered page per document kind among the tests' artefacts."""
    source = tmp_path / "approval_form.pdf"
    source.write_bytes(short_pdf)
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "pdf-approval-form"
    subprocess.run([poppler("pdftoppm"), "-png", "-r", "80", "-singlefile", str(source), str(target)], check=True)
    png = target.with_suffix(".png")
    assert png.read_bytes().startswith(b"\x89PNG")


# --- no network -------------------------------------------------------------------------


def test_remote_and_outside_urls_are_refused_and_the_pdf_still_renders(monkeypatch):
    fetched: list[tuple[str, str]] = []
    original_fetch = LocalURLFetcher.fetch

    def spy(self, url, headers=None):
        try:
            response = original_fetch(self, url, headers)
        except ValueError:
            fetched.append((url, "refused"))
            raise
        fetched.append((url, "served"))
        return response

    connections: list[Any] = []
    monkeypatch.setattr(LocalURLFetcher, "fetch", spy)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: connections.append(a))
    monkeypatch.setattr(socket.socket, "connect", lambda self, *a: connections.append(a))

    html = """<html lang="zh-Hans"><head>
      <link rel="stylesheet" href="https://example.com/style.css">
      <style>p { background: url("http://example.com/bg.png"); font-family: var(--bianzhi-font-body); }</style>
      </head><body><p>远程图片不取</p>
      <img src="http://example.com/x.png"><img src="%s"><img src="data:image/png;base64,AA==">
      </body></html>""" % ("../" * 40 + "etc/passwd")  # reaches / from any checkout depth
    pdf = render_pdf_from_html(html)

    assert pdf.startswith(b"%PDF-")
    assert "远程图片不取" in squeezed(pdftotext(pdf))
    assert connections == []
    outcomes = dict(fetched)
    assert outcomes["http://example.com/x.png"] == "refused"
    assert outcomes["http://example.com/bg.png"] == "refused"
    assert outcomes["https://example.com/style.css"] == "refused"
    assert outcomes["file:///etc/passwd"] == "refused"  # ../ cannot climb out of static/
    assert any(url.startswith("data:") and outcome == "refused" for url, outcome in fetched)


def test_fetcher_serves_files_under_its_roots_only(tmp_path):
    fonts = tmp_path / "fonts"
    fonts.mkdir()
    (fonts / "office.ttf").write_bytes(b"font bytes")
    (fonts / "escape.ttf").symlink_to("/etc/hostname")
    fetcher = LocalURLFetcher([fonts])

    response = fetcher.fetch((fonts / "office.ttf").as_uri())
    assert response.read() == b"font bytes"
    for url in [
        "http://127.0.0.1/x.png",
        "ftp://example.com/x.ttf",
        "data:text/plain,hello",
        "file:///etc/hostname",
        (fonts / "escape.ttf").as_uri(),  # a symlink out of the directory
        (fonts / "missing.ttf").as_uri(),
        "file://example.com" + str(fonts / "office.ttf"),  # a remote host in a file URL
    ]:
        with pytest.raises(ValueError):
            fetcher.fetch(url)


def test_fetcher_roots_are_static_and_font_dirs(tmp_path):
    with override_settings(BIANZHI_FONT_DIRS=[str(tmp_path)]):
        assert allowed_roots() == [pdf_module.STATIC_DIR.resolve(), tmp_path.resolve()]


# --- fonts from settings ------------------------------------------------------------------


def test_default_fonts_are_the_noto_cjk_fallbacks():
    css = font_stylesheet()
    assert css.count("@font-face") == len(FACES)
    assert "NotoSerifCJK" in css
    assert "NotoSansCJK" in css
    assert '--bianzhi-font-body: "Bianzhi Body", "Noto Serif CJK SC", serif;' in css
    assert '--bianzhi-font-heading: "Bianzhi Heading", "Noto Sans CJK SC", sans-serif;' in css
    assert "local(" not in css


def test_office_fonts_come_first_by_name_and_local():
    office = {"body": "仿宋_GB2312", "title": ["方正小标宋简体", "FZXBSJW--GB1-0"]}
    with override_settings(BIANZHI_PDF_FONTS=office):
        css = font_stylesheet()
        assert 'src: local("仿宋_GB2312"), url("file://' in css
        assert 'src: local("方正小标宋简体"), local("FZXBSJW--GB1-0"), url("file://' in css
        assert '--bianzhi-font-body: "仿宋_GB2312", "Bianzhi Body", "Noto Serif CJK SC", serif;' in css
        assert '--bianzhi-font-title: "方正小标宋简体", "FZXBSJW--GB1-0", "Bianzhi Title"' in css
        # Not installed here: the form still renders in the Noto fallback.
        pdf = render_pdf_from_html('<html lang="zh-Hans"><body style="font-family: var(--bianzhi-font-body)">仿宋</body></html>')
        assert b"NotoSerifCJK" in inflated(pdf)


def test_font_names_cannot_break_out_of_the_css_string():
    with override_settings(BIANZHI_PDF_FONTS={"heading": 'Evil"; } body { color: red'}):
        css = font_stylesheet()
    assert 'local("Evil\\"; } body { color: red")' in css


def test_unknown_font_role_is_an_error():
    with override_settings(BIANZHI_PDF_FONTS={"footnote": "楷体"}), pytest.raises(ValueError, match="footnote"):
        font_stylesheet()


def test_font_dirs_without_fonts_leave_the_installed_families():
    with override_settings(BIANZHI_FONT_DIRS=["/nonexistent/fonts"]):
        css = font_stylesheet()
    assert "@font-face" not in css
    assert '"Noto Serif CJK SC", serif' in css


# --- the date filter and the response -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(dt.date(2026, 1, 5), "2026年1月5日"), (dt.date(2026, 11, 26), "2026年11月26日"), (None, "")],
)
def test_cn_date(value, expected):
    assert cn_date(value) == expected


def test_cn_date_in_a_template():
    template = engines["django"].from_string("{% load documents %}[{{ d|cn_date }}][{{ none|cn_date }}]")
    assert template.render({"d": dt.date(2026, 1, 5), "none": None}) == "[2026年1月5日][]"


def test_pdf_response_with_a_chinese_filename():
    response = pdf_response(b"%PDF-1.7 test", "审批表.pdf")
    assert response["Content-Type"] == "application/pdf"
    assert response.content == b"%PDF-1.7 test"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("inline;")
    assert "filename*=UTF-8''%E5%AE%A1%E6%89%B9%E8%A1%A8.pdf" in disposition
    assert 'filename="document.pdf"' in disposition  # ASCII fallback for old clients


def test_pdf_response_keeps_ascii_parts_and_drops_unsafe_characters():
    response = pdf_response(b"%PDF", '审批表 SP-440106-2026-00001 "a"/b\r\n.pdf')
    disposition = response["Content-Disposition"]
    assert 'filename="SP-440106-2026-00001 a_b.pdf"' in disposition
    assert "\r" not in disposition and "\n" not in disposition
    assert "%22a%22_b%20.pdf" in disposition
