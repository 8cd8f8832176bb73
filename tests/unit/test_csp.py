"""The Content-Security-Policy: every page carries it (and the Permissions-Policy), and no
template served to a browser has what the policy refuses: inline scripts, style attributes,
<style> elements, event-handler attributes, javascript: links. (The browser side is
tests/e2e/test_csp.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

import bianzhi
from bianzhi.common.middleware import CONTENT_SECURITY_POLICY, SecurityHeadersMiddleware

PACKAGE = Path(bianzhi.__file__).resolve().parent
# Rendered to PDF by WeasyPrint, never shown to a browser as HTML.
PDF_ONLY = {"documents/official_document.html", "workflow/approval_form_pdf.html",
            "stats/analysis/annual_analysis_pdf.html"}
FORBIDDEN = [
    (re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I), "inline script"),
    (re.compile(r"<style\b", re.I), "<style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "event-handler attribute"),
    (re.compile(r"\shx-on[:-]", re.I), "hx-on attribute (evaluated script)"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


def _browser_templates() -> list[tuple[str, Path]]:
    found = []
    for path in PACKAGE.rglob("templates/**/*.html"):
        name = path.as_posix().split("/templates/", 1)[1]
        if name not in PDF_ONLY:
            found.append((name, path))
    return found


def test_the_templates_have_nothing_the_policy_refuses():
    templates = _browser_templates()
    assert len(templates) > 50
    problems = []
    for name, path in templates:
        text = re.sub(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}|{#.*?#}", "", path.read_text(), flags=re.S)
        for pattern, what in FORBIDDEN:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                problems.append(f"{name}:{line}: {what}: {match.group(0).strip()}")
    assert problems == []


@pytest.mark.django_db
def test_pages_carry_the_policy(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    for directive in ("default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'",
                      "form-action 'self'", "base-uri 'self'"):
        assert directive in response["Content-Security-Policy"]
    assert "unsafe" not in response["Content-Security-Policy"]
    assert "camera=()" in response["Permissions-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_pdf_files_and_own_policies_are_left_alone():
    request = RequestFactory().get("/")
    pdf = SecurityHeadersMiddleware(lambda r: HttpResponse(b"%PDF-", content_type="application/pdf"))(request)
    assert "Content-Security-Policy" not in pdf and "Permissions-Policy" in pdf

    def own(_request):
        response = HttpResponse("x")
        response["Content-Security-Policy"] = "default-src 'none'"
        return response

    assert SecurityHeadersMiddleware(own)(request)["Content-Security-Policy"] == "default-src 'none'"
