"""The annual analysis (年度分析): the same figures on the page, in the Word document (docxtpl, from
the committed template) and in the PDF (WeasyPrint): the year, the jurisdiction, I01 at the year
end against the previous year and the baseline, the alert categories with their counts and
examples, the measures of data/measures.yaml; a jurisdiction outside the caller's scope answers
404. One PDF page is kept among the tests' artefacts (DOCUMENTS.md).

Text is read back with python-docx and poppler's ``pdftotext``; without poppler the PDF text checks
skip, except under CI=true, where a missing poppler-utils is a failure.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bianzhi.orgs.models import Unit
from bianzhi.stats import alerts, analysis
from bianzhi.stats.models import Alert
from tests.factories import make_unit

from .test_indicators import AS_OF, data  # noqa: F401 - the fixture

D = dt.date
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def poppler(tool: str) -> str:
    exe = shutil.which(tool)
    if exe is None:
        message = f"{tool} (poppler-utils) is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return exe


def squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def docx_text(content: bytes) -> tuple[str, list[list[list[str]]]]:
    import docx

    document = docx.Document(io.BytesIO(content))
    paragraphs = "\n".join(p.text for p in document.paragraphs)
    tables = [[[cell.text for cell in row.cells] for row in table.rows] for table in document.tables]
    return paragraphs, tables


def first_measure() -> str:
    with open(analysis.MEASURES_FILE, encoding="utf-8") as fh:
        return yaml.safe_load(fh)["measures"][0]["title"]


@pytest.fixture
def analysed(data):  # noqa: F811
    """Alerts raised on the as-of day of 2024 (key post, post-class breach, double dipping) and one
    of 2023 that the 2024 analysis leaves out; a 越秀区 alert of 2024 no 天河区 analysis shows."""
    w = data
    alerts.evaluate(units=Unit.objects.filter(jurisdiction__code="440106"), today=AS_OF)
    Alert.objects.create(kind="roster_stale", key="roster_stale:old", unit=w.tianhe_child,
                         jurisdiction_path=w.tianhe_child.jurisdiction_path,
                         params={"last_change": "2022-01-01", "days": 400}, raised_on=D(2023, 3, 1))
    Alert.objects.create(kind="key_post", key="key_post:yx", unit=w.yuexiu_unit,
                         jurisdiction_path=w.yuexiu_unit.jurisdiction_path, params={"key_post": "finance"},
                         raised_on=D(2024, 5, 1))
    return w


# ---------------------------------------------------------------------------------- the figures


def test_the_figures_trend_and_problems(analysed):
    w = analysed
    a = analysis.annual_analysis(actor=w.users.tianhe_reviewer, year=2024, today=D(2025, 3, 1))
    assert (a["scope_name"], a["scope_code"], a["as_of"], a["base_year"]) == ("天河区", "440106", D(2024, 12, 31), 2019)
    rows = {r["code"]: r for r in a["basic"]["rows"] if r["code"]}
    assert len(rows) == 23
    # on 2024-12-31: a → the 2018 general, the as-of day starter, the key post; b → the mover, the cleaner
    assert (rows["I01"]["current"], rows["I01"]["previous"], rows["I01"]["change"]) == ("5", "7", "-2")
    assert (rows["I03"]["current"], rows["I05"]["current"]) == ("7", "-28.57%")
    assert (rows["I20"]["current"], rows["I21"]["current"]) == ("240,000.50", "-20.00%")
    subs = [r for r in a["basic"]["rows"] if r["sub"] and "劳动合同制聘用" in r["name"]]
    assert [(r["current"], r["previous"]) for r in subs] == [("3", "6")]
    trend = [(r["year"], r["i01"], r["vs_base"]) for r in a["changes"]["rows"]]
    assert trend == [(2019, 7, 0), (2020, 7, 0), (2021, 7, 0), (2022, 7, 0), (2023, 7, 0), (2024, 5, -2)]
    problems = {c["kind"]: c for c in a["problems"]["categories"]}
    assert set(problems) == {"key_post", "class_breach", "double_dipping"}  # 2024 only, 天河区 only
    assert [c["kind"] for c in a["problems"]["categories"]] == ["key_post", "class_breach", "double_dipping"]
    assert (problems["key_post"]["count"], problems["key_post"]["units"]) == (1, 1)
    assert problems["key_post"]["examples"][0]["unit"] == "天河区测试局"
    assert problems["double_dipping"]["examples"][0]["unit"] == "天河区测试局下属中心"
    assert a["problems"]["total"] == 3
    assert a["measures"][0]["title"] == first_measure()
    assert a["measures"][0]["heading"].startswith("（一）")


def test_the_current_year_is_as_of_today_and_examples_stop_at_three(analysed):
    w = analysed
    for i in range(4):
        unit = make_unit("440106", f"天河区示例单位{i}")
        Alert.objects.create(kind="over_cap", key=f"over_cap:{unit.pk}", unit=unit,
                             jurisdiction_path=unit.jurisdiction_path, params={"count": 5 + i, "cap": 4},
                             raised_on=D(2024, 8, 1 + i))
    a = analysis.annual_analysis(actor=w.users.tianhe_reviewer, year=2024, today=D(2024, 9, 30))
    assert (a["as_of"], a["partial"]) == (D(2024, 9, 30), True)
    over = next(c for c in a["problems"]["categories"] if c["kind"] == "over_cap")
    assert (over["count"], over["units"], len(over["examples"])) == (4, 4, 3)
    assert [e["unit"] for e in over["examples"]] == ["天河区示例单位3", "天河区示例单位2", "天河区示例单位1"]  # newest


def test_a_city_user_chooses_a_district_and_a_unit_operator_gets_its_unit(analysed):
    w = analysed
    city = analysis.annual_analysis(actor=w.users.city_reviewer, scope="440106", year=2024, today=D(2025, 1, 10))
    district = analysis.annual_analysis(actor=w.users.tianhe_reviewer, year=2024, today=D(2025, 1, 10))
    assert city["basic"]["rows"] == district["basic"]["rows"]
    whole = analysis.annual_analysis(actor=w.users.city_reviewer, year=2024, today=D(2025, 1, 10))
    assert whole["scope_name"] == "广州市"
    assert {c["kind"]: c["count"] for c in whole["problems"]["categories"]}["key_post"] == 2  # with 越秀区
    codes = [d.code for d in analysis.scope_choices(w.users.city_reviewer)]
    assert codes[0] == "440100" and "440106" in codes and "440104" in codes and "440000" not in codes
    own = analysis.annual_analysis(actor=w.users.tianhe_operator, scope="440104", year=2024, today=D(2025, 1, 10))
    assert own["scope_name"] == "天河区测试局"
    assert [c["kind"] for c in own["problems"]["categories"]] == ["key_post"]
    assert analysis.scope_choices(w.users.tianhe_operator) == []
    # a district without units, in the baseline year itself: every figure empty, the documents still build
    empty = analysis.annual_analysis(actor=w.users.city_reviewer, scope="440103", year=2019, today=D(2025, 1, 10))
    assert empty["problems"]["total"] == 0 and [r["i01"] for r in empty["changes"]["rows"]] == [0]
    assert analysis.docx_bytes(empty).startswith(b"PK") and analysis.pdf_bytes(empty).startswith(b"%PDF")


# ---------------------------------------------------------------------------------- page, DOCX, PDF


def test_the_page_shows_the_analysis_with_download_links(analysed):
    w = analysed
    client = client_for(w.users.tianhe_reviewer)
    response = client.get(reverse("stats:analysis"), {"year": 2024})
    assert response.status_code == 200
    page = response.content.decode()
    assert not re.search(r"\sstyle\s*=", page)
    assert reverse("stats:analysis_docx", args=[2024]) + "?scope=440106" in page
    assert reverse("stats:analysis_pdf", args=[2024]) + "?scope=440106" in page
    row = page.split('data-code="I01"', 1)[1].split("</tr>", 1)[0]
    assert re.findall(r'data-col="(?:current|previous|change)">([^<]*)<', row) == ["5", "7", "-2"]
    assert 'data-kind="key_post" data-count="1"' in page
    assert first_measure() in page and "天河区" in page
    assert "越秀" not in page


def test_docx_holds_the_figures(analysed):
    w = analysed
    response = client_for(w.users.tianhe_reviewer).get(reverse("stats:analysis_docx", args=[2024]))
    assert response.status_code == 200 and response["Content-Type"] == DOCX
    assert "filename*=UTF-8''" in response["Content-Disposition"]
    text, tables = docx_text(response.content)
    assert "2024" in text and "天河区" in text
    assert not re.search(r"\{\{|\{%", text + str(tables))  # every tag was filled in
    figures, trend, problems = tables
    i01 = next(r for r in figures if r[0] == "I01")
    assert i01[1] == "编外人员总数" and i01[3:] == ["5", "7", "-2"]
    assert ["2024年12月31日", "5", "-2", "-28.57%", "-2"] in trend
    names = alerts.rule_names()
    assert [names["key_post"], "1", "1", "0", "1"] in problems
    assert f"（一）{names['key_post']}。" in text
    assert first_measure() in text
    assert "越秀" not in text + str(tables)


def test_pdf_holds_the_same_figures(analysed):
    w = analysed
    response = client_for(w.users.tianhe_reviewer).get(reverse("stats:analysis_pdf", args=[2024]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    pdf = response.content
    assert pdf.startswith(b"%PDF")
    # -raw keeps the content order: a table row reads as one line
    result = subprocess.run([poppler("pdftotext"), "-raw", "-", "-"], input=pdf, capture_output=True, check=True)
    text = squeezed(result.stdout.decode("utf-8"))
    assert "天河区" in text and "2024" in text
    assert "I01编外人员总数" in text
    assert "2024年12月31日5-2-28.57%-2" in text  # the trend row of the year
    names = alerts.rule_names()
    assert f"{names['key_post']}1101" in text  # the problems table: 1 alert, 1 unit, 0 resolved, 1 open
    assert squeezed(first_measure()) in text
    assert "— 1 —".replace(" ", "") in text
    assert "越秀" not in text


def test_pdf_page_rendered_for_the_eye(analysed, tmp_path):
    """DOCUMENTS.md: keep one rendered page per document kind among the tests' artefacts."""
    w = analysed
    pdf = analysis.pdf_bytes(analysis.annual_analysis(actor=w.users.tianhe_reviewer, year=2024))
    source = tmp_path / "analysis.pdf"
    source.write_bytes(pdf)
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "pdf-annual-analysis"
    subprocess.run([poppler("pdftoppm"), "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(source),
                    str(target)], check=True)
    assert target.with_suffix(".png").read_bytes().startswith(b"\x89PNG")


def test_out_of_scope_and_bad_years_answer_404(analysed):
    w = analysed
    client = client_for(w.users.tianhe_reviewer)
    for url in (reverse("stats:analysis_docx", args=[2024]), reverse("stats:analysis_pdf", args=[2024]),
                reverse("stats:analysis")):
        for scope in ("440104", "440100", "999999"):
            response = client.get(url, {"scope": scope, "year": 2024})
            assert response.status_code == 404, (url, scope)
            assert "越秀" not in response.content.decode("utf-8", "replace")
    this_year = timezone.localdate().year
    for year in (2010, this_year + 1):
        assert client.get(reverse("stats:analysis_docx", args=[year])).status_code == 404
        assert client.get(reverse("stats:analysis_pdf", args=[year])).status_code == 404
    assert client.get(reverse("stats:analysis"), {"year": 2010}).status_code == 422
    # the city reviewer may choose 天河区
    city = client_for(w.users.city_reviewer).get(reverse("stats:analysis_docx", args=[2024]), {"scope": "440106"})
    assert city.status_code == 200


def test_the_committed_template_is_what_the_script_builds(tmp_path):
    """An office may regenerate the Word template: the script builds the same tags and layout."""
    import docx

    path = Path(analysis.TEMPLATE_DIR) / "make_template.py"
    spec = importlib.util.spec_from_file_location("make_template", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = module.build(tmp_path / "built.docx")

    def content(p):
        d = docx.Document(str(p))
        return ([(x.style.name, x.text) for x in d.paragraphs],
                [[[c.text for c in r.cells] for r in t.rows] for t in d.tables])

    assert content(built) == content(analysis.DOCX_TEMPLATE)
