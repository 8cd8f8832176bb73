"""PDF output: a Django template → HTML → WeasyPrint → PDF bytes, never touching the network.

Use::

    pdf = render_pdf("workflow/approval_form_pdf.html", {"form": form}, request=request)
    return pdf_response(pdf, "审批表.pdf")

Fonts
=====

Every PDF gets a small stylesheet (built by :func:`font_stylesheet`) that declares three
font roles. Templates name a role through its CSS custom property, e.g.
``font-family: var(--bianzhi-font-body)``:

========  ==========================  ===============  ===========================================
role      property                    GB/T 9704 face   open fallback (Debian ``fonts-noto-cjk``)
========  ==========================  ===============  ===========================================
body      ``--bianzhi-font-body``     仿宋             Noto Serif CJK SC, regular and bold
heading   ``--bianzhi-font-heading``  黑体             Noto Sans CJK SC, regular and bold
title     ``--bianzhi-font-title``    小标宋           Noto Serif CJK SC Bold (one weight: use it
                                                       with ``font-weight: normal``)
========  ==========================  ===============  ===========================================

Each role is an ``@font-face`` family ("Bianzhi Body", "Bianzhi Heading", "Bianzhi Title")
whose ``src`` lists

1. ``local(name)`` for every office font named for the role in the setting
   ``BIANZHI_PDF_FONTS`` (role → a name or a list of names), then
2. ``url(file://…)`` of the first fallback file found in the directories of the setting
   ``BIANZHI_FONT_DIRS`` (searched recursively; default ``/usr/share/fonts/opentype/noto``
   and ``/usr/share/fonts/truetype``). A single-language ``…SC….otf`` is preferred to the
   Debian collection ``…CJK-….ttc`` when both are present.

The property then lists: the configured names as plain families, the role family, the
installed Noto family and the generic family. An office with licensed fonts writes::

    BIANZHI_PDF_FONTS = {
        "body": "仿宋_GB2312",
        "heading": "黑体",
        "title": ["方正小标宋简体", "FZXBSJW--GB1-0"],
    }

Fontconfig finds a plain family by any of its names, Chinese ones included; ``local()``
matches a font's PostScript name (``fc-list : family postscriptname`` shows both). A font
file read through ``local()`` or ``url()`` must lie under ``BIANZHI_FONT_DIRS`` (the URL
fetcher refuses other files); a font found as a plain family is read by fontconfig itself.
WeasyPrint embeds the glyphs a document uses (a subset) in every case.

Templates must say ``<html lang="zh-Hans">``: a Noto CJK collection holds the Japanese,
Korean and Chinese faces under one file, and the language picks the face whose glyphs are
drawn (直, 骨, 角 differ between them).

Font files are looked up once per process (restart after installing fonts). Loading the
five Noto faces (collections of 20–27 MB each) costs about 0.4 s, so each thread keeps the
loaded set for its later renders: WeasyPrint's ``FontConfiguration``, which holds copies of
the files (about 115 MB) in a temporary directory under ``TMPDIR``.

Network
=======

:class:`LocalURLFetcher` serves ``file://`` URLs of files under this package's
``static/`` directory and the font directories and refuses everything else with
``ValueError``: no http(s), no ``data:``, no other files. WeasyPrint logs the refusal and
renders without the resource. Relative URLs resolve against ``static/``
(``<img src="documents/seal.png">`` is ``static/documents/seal.png``), and ``../`` cannot
climb out of it.
"""

from __future__ import annotations

import functools
import mimetypes
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit
from urllib.request import url2pathname

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

STATIC_DIR = Path(__file__).resolve().parent / "static"
DEFAULT_FONT_DIRS = ("/usr/share/fonts/opentype/noto", "/usr/share/fonts/truetype")

# role → (@font-face family, installed Noto family, generic family)
ROLES: dict[str, tuple[str, str, str]] = {
    "body": ("Bianzhi Body", "Noto Serif CJK SC", "serif"),
    "heading": ("Bianzhi Heading", "Noto Sans CJK SC", "sans-serif"),
    "title": ("Bianzhi Title", "Noto Serif CJK SC", "serif"),
}

# (role, weight, fallback file names in order of preference)
FACES: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("body", 400, ("NotoSerifCJKsc-Regular.otf", "NotoSerifSC-Regular.otf", "NotoSerifCJK-Regular.ttc")),
    ("body", 700, ("NotoSerifCJKsc-Bold.otf", "NotoSerifSC-Bold.otf", "NotoSerifCJK-Bold.ttc")),
    ("heading", 400, ("NotoSansCJKsc-Regular.otf", "NotoSansSC-Regular.otf", "NotoSansCJK-Regular.ttc")),
    ("heading", 700, ("NotoSansCJKsc-Bold.otf", "NotoSansSC-Bold.otf", "NotoSansCJK-Bold.ttc")),
    ("title", 400, ("NotoSerifCJKsc-Bold.otf", "NotoSerifSC-Bold.otf", "NotoSerifCJK-Bold.ttc")),
)


def font_dirs() -> list[Path]:
    """The directories of ``BIANZHI_FONT_DIRS`` (or the Debian defaults)."""
    return [Path(d) for d in getattr(settings, "BIANZHI_FONT_DIRS", DEFAULT_FONT_DIRS)]


def configured_fonts() -> dict[str, tuple[str, ...]]:
    """``BIANZHI_PDF_FONTS`` as role → names; unknown roles are an error, not a silent no-op."""
    raw: dict[str, str | Sequence[str]] = getattr(settings, "BIANZHI_PDF_FONTS", {}) or {}
    unknown = set(raw) - set(ROLES)
    if unknown:
        raise ValueError(f"BIANZHI_PDF_FONTS: unknown roles {sorted(unknown)}; known: {sorted(ROLES)}")
    return {role: (names,) if isinstance(names, str) else tuple(names) for role, names in raw.items()}


@functools.lru_cache(maxsize=8)
def _font_index(dirs: tuple[Path, ...]) -> dict[str, Path]:
    """File name → path of the first such file, directories in the given order."""
    index: dict[str, Path] = {}
    for directory in dirs:
        for root, _subdirs, files in os.walk(directory):
            for name in sorted(files):
                index.setdefault(name, Path(root) / name)
    return index


def find_font_file(names: Iterable[str], dirs: Sequence[Path]) -> Path | None:
    """The first of ``names`` (in their order of preference) found in ``dirs``."""
    index = _font_index(tuple(dirs))
    return next((index[name] for name in names if name in index), None)


def _css_string(value: str) -> str:
    cleaned = " ".join(value.split())
    return '"' + cleaned.replace("\\", "\\\\").replace('"', '\\"') + '"'


def font_stylesheet() -> str:
    """The ``@font-face`` rules and ``--bianzhi-font-*`` properties for the current settings."""
    dirs = font_dirs()
    configured = configured_fonts()
    rules: list[str] = []
    for role, weight, file_names in FACES:
        family = ROLES[role][0]
        sources = [f"local({_css_string(name)})" for name in configured.get(role, ())]
        found = find_font_file(file_names, dirs)
        if found is not None:
            sources.append(f"url({_css_string(found.resolve().as_uri())})")
        if sources:
            rules.append(
                f"@font-face {{ font-family: {_css_string(family)}; font-weight: {weight}; "
                f"src: {', '.join(sources)}; }}"
            )
    stacks = []
    for role, (family, noto_family, generic) in ROLES.items():
        stack = [_css_string(name) for name in configured.get(role, ())]
        stack += [_css_string(family), _css_string(noto_family), generic]
        stacks.append(f"  --bianzhi-font-{role}: {', '.join(stack)};")
    return "\n".join([*rules, ":root {", *stacks, "}", ""])


def allowed_roots() -> list[Path]:
    """The directories whose files the URL fetcher serves."""
    return [STATIC_DIR.resolve(), *(d.resolve() for d in font_dirs())]


class LocalURLFetcher(URLFetcher):
    """Serves ``file://`` URLs of files under ``roots``; raises ``ValueError`` for anything else."""

    def __init__(self, roots: Iterable[Path], **kwargs: Any) -> None:
        super().__init__(allowed_protocols=("file",), allow_redirects=False, **kwargs)
        self.roots = [Path(r).resolve() for r in roots]

    def local_path(self, url: str) -> Path:
        """The file a URL names, if it may be read; ``ValueError`` otherwise."""
        parts = urlsplit(url)
        if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost"):
            raise ValueError(f"PDF rendering fetches local files only, refused: {url[:200]!r}")
        path = Path(url2pathname(parts.path)).resolve()
        if not any(path.is_relative_to(root) for root in self.roots):
            raise ValueError(f"PDF rendering refused a file outside its static and font directories: {url!r}")
        if not path.is_file():
            raise ValueError(f"PDF rendering found no such file: {url!r}")
        return path

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        path = self.local_path(url)
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(path.as_uri(), path.read_bytes(), {"Content-Type": content_type})


_per_thread = threading.local()


def _font_setup(fetcher: LocalURLFetcher) -> tuple[Any, Any]:
    """The font stylesheet and its loaded ``FontConfiguration``, kept per thread and font set."""
    css_text = font_stylesheet()
    cache: dict[str, tuple[Any, Any]] = getattr(_per_thread, "fonts", None) or {}
    _per_thread.fonts = cache
    if css_text not in cache:
        if len(cache) >= 2:  # settings changed (tests): let the old sets and their files go
            cache.clear()
        font_config = FontConfiguration()
        stylesheet = CSS(string=css_text, base_url=_base_url(), url_fetcher=fetcher, font_config=font_config)
        cache[css_text] = (stylesheet, font_config)
    return cache[css_text]


def _base_url() -> str:
    return STATIC_DIR.resolve().as_uri() + "/"


def layout_html(html: str) -> Any:
    """The laid-out WeasyPrint ``Document`` of an HTML document (its ``pages`` tell where each
    element id landed, through ``page.anchors``), with the font stylesheet and no network
    access; ``.write_pdf()`` gives the bytes."""
    fetcher = LocalURLFetcher(allowed_roots())
    stylesheet, font_config = _font_setup(fetcher)
    document = HTML(string=html, base_url=_base_url(), url_fetcher=fetcher)
    return document.render(stylesheets=[stylesheet], font_config=font_config)


def render_pdf_from_html(html: str) -> bytes:
    """PDF bytes for an HTML document, with the font stylesheet and no network access."""
    pdf: bytes = layout_html(html).write_pdf()
    return pdf


def render_pdf(template_name: str, context: dict[str, Any], *, request: HttpRequest | None = None) -> bytes:
    """Render a Django template to HTML, then to PDF bytes."""
    return render_pdf_from_html(render_to_string(template_name, context, request=request))


def _ascii_fallback(filename: str) -> str:
    ascii_name = "".join(c for c in filename if 32 <= ord(c) < 127 and c not in '"\\').strip()
    stem, dot, suffix = ascii_name.rpartition(".")
    if not dot:
        stem, suffix = ascii_name, ""
    stem = stem.strip(" ._-") or "document"
    return f"{stem}.{suffix}" if suffix else stem


def pdf_response(pdf_bytes: bytes, filename: str) -> HttpResponse:
    """An inline PDF response; the file name may be Chinese (RFC 6266 / RFC 5987 ``filename*``)."""
    name = " ".join(filename.replace("/", "_").replace("\\", "_").split()) or "document.pdf"
    response = HttpResponse(pdf_bytes, content_type="application/pdf")
    response["Content-Disposition"] = (
        f"inline; filename=\"{_ascii_fallback(name)}\"; filename*=UTF-8''{quote(name, safe='')}"
    )
    return response
