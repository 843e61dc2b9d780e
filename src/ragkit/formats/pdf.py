"""PDF read page by page with PDFium (``pypdfium2``): text layer, tables as Markdown, OCR where text is missing.

* Text comes from each page's text layer, Chinese line wrapping undone.
* Tables: a page that draws ruling lines is handed to ``pdfplumber`` (pure Python over ``pdfminer.six``), whose
  line-based table finder gives the cells; each table becomes a Markdown table (header row first) in its place
  between the text above and below it, so the splitter keeps rows whole and repeats the header.
* OCR (:mod:`ragkit.formats.ocr`): with ``mode="auto"`` a page without a usable text layer (fewer than
  ``_MIN_CHARS`` readable characters) is rendered at ``dpi`` and OCR'd; ``always`` OCRs every page, ``never``
  none. Page numbers are kept either way; an encrypted PDF is refused with a request for the password.

>>> from ragkit.formats.ocr import OcrOptions
>>> markdown_table([["型号", "显存"], ["ChatGLM-6B", "13 GB"], [None, "7\\nGB"]])
'| 型号 | 显存 |\\n| --- | --- |\\n| ChatGLM-6B | 13 GB |\\n|  | 7 GB |'
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragkit.errors import LoadError
from ragkit.formats.base import LoadedFile
from ragkit.formats.limits import Limits, check_pages, check_pixels
from ragkit.formats.ocr import OcrOptions, OcrText, ocr_image

_CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")
_READABLE = re.compile(r"[\w\u3000-\u9fff\uff00-\uffef]")
_MIN_CHARS = 10  # a page with fewer readable characters has no usable text layer
_MIN_RULES = 3  # path objects a page must draw before it is searched for tables
_PASSWORD_ERROR = 4  # FPDF_ERR_PASSWORD


@dataclass(frozen=True)
class Page:
    text: str
    ocr: OcrText | None = None
    markdown: bool = False  # holds a Markdown table


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


def _cell(value: str | None) -> str:
    """A table cell on one line: wrapped Chinese joined without a space, pipes escaped."""
    if not value:
        return ""
    parts = [part.strip() for part in value.splitlines() if part.strip()]
    text = ""
    for part in parts:
        glue = "" if not text or _CJK.match(text[-1]) or _CJK.match(part[0]) else " "
        text += glue + part
    return text.replace("|", "\\|")


def markdown_table(rows: Sequence[Sequence[str | None]]) -> str:
    """Rows of cells (the first is the header) as a Markdown table; empty rows dropped, short rows padded."""
    cells = [[_cell(value) for value in row] for row in rows if any(value and value.strip() for value in row)]
    if not cells:
        return ""
    width = max(len(row) for row in cells)
    cells = [row + [""] * (width - len(row)) for row in cells]
    lines = ["| " + " | ".join(row) + " |" for row in cells]
    lines.insert(1, "| " + " | ".join(["---"] * width) + " |")
    return "\n".join(lines)


def _open(data: bytes) -> Any:
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) == _PASSWORD_ERROR or "password" in str(exc).lower():
            raise LoadError.of("pdf_password") from exc
        raise LoadError.of("bad_pdf", detail=str(exc)) from exc


def _text_layer(page: Any) -> str:
    textpage = page.get_textpage()
    try:
        raw = textpage.get_text_bounded().replace("\r\n", "\n").replace("\r", "\n")
    finally:
        textpage.close()
    return _join_wrapped_lines(raw).strip()


def _usable(text: str) -> bool:
    return len(_READABLE.findall(text)) >= _MIN_CHARS


def _draws_rules(page: Any) -> bool:
    """Whether the page draws enough paths (lines, rectangles) to hold a ruled table."""
    import pypdfium2.raw as pdfium_c

    paths = 0
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH], max_depth=2):
        paths += 1
        if paths >= _MIN_RULES:
            return True
    return False


def _bounded(textpage: Any, height: float, box: tuple[float, float, float, float]) -> str:
    """Text inside ``box`` = (x0, top, x1, bottom), measured from the page's top left (pdfplumber's frame)."""
    x0, top, x1, bottom = box
    raw = textpage.get_text_bounded(left=x0, bottom=height - bottom, right=x1, top=height - top)
    return raw.replace("\r\n", "\n").replace("\r", "\n").strip()


def _with_tables(page: Any, plumber_page: Any) -> Page | None:
    """The page's text with each ruled table as a Markdown table in its place (None: no table found).

    pdfplumber finds the tables and their cells; the text comes from PDFium, like the rest of the page (it keeps
    the spaces the PDF's producer put between words). A box with one column (a framed code sample) is no table.
    """
    tables = [t for t in plumber_page.find_tables() if len(t.rows) >= 2 and max(len(r.cells) for r in t.rows) >= 2]
    if not tables:
        return None
    height, width = page.get_height(), page.get_width()
    textpage = page.get_textpage()
    try:
        parts, top = [], 0.0
        for table in sorted(tables, key=lambda t: t.bbox[1]):
            rows = [[_bounded(textpage, height, cell) if cell else None for cell in row.cells] for row in table.rows]
            parts += [_join_wrapped_lines(_bounded(textpage, height, (0, top, width, table.bbox[1]))),
                      markdown_table(rows)]
            top = max(top, table.bbox[3])
        parts.append(_join_wrapped_lines(_bounded(textpage, height, (0, top, width, height))))
    finally:
        textpage.close()
    return Page("\n\n".join(part for part in parts if part), markdown=True)


def _text_pages(document: Any, data: bytes) -> list[Page]:
    """Every page from its text layer, tables as Markdown."""
    pages, plumber = [], None
    try:
        for number in range(len(document)):
            page = document[number]
            try:
                found = None
                if _draws_rules(page):
                    if plumber is None:
                        import pdfplumber

                        plumber = pdfplumber.open(io.BytesIO(data))
                    found = _with_tables(page, plumber.pages[number])
                pages.append(found or Page(_text_layer(page)))
            finally:
                page.close()
    finally:
        if plumber is not None:
            plumber.close()
    return pages


def _ocr_page(page: Any, ocr: OcrOptions) -> OcrText:
    scale = ocr.dpi / 72
    check_pixels(round(page.get_width() * scale), round(page.get_height() * scale), ocr.max_pixels)
    bitmap = page.render(scale=scale, grayscale=True)
    try:
        return ocr_image(bitmap.to_pil())
    finally:
        bitmap.close()


def _ocr_pages(document: Any, pages: list[Page], ocr: OcrOptions) -> list[Page]:
    """``pages`` with the ones that need OCR (by ``ocr.mode``) replaced by what OCR reads."""
    if ocr.mode == "never":
        return pages
    todo = [n for n, page in enumerate(pages) if ocr.mode == "always" or not _usable(page.text)]
    if len(todo) > ocr.max_pages:
        raise LoadError.of("ocr_pages", n=len(todo), limit=ocr.max_pages)
    started = time.monotonic()
    out = list(pages)
    for done, number in enumerate(todo):
        if time.monotonic() - started > ocr.timeout_s:
            raise LoadError.of("ocr_timeout", limit=f"{ocr.timeout_s:g}", page=number + 1, n=len(pages))
        page = document[number]
        try:
            read = _ocr_page(page, ocr)
        finally:
            page.close()
        out[number] = Page(read.text, ocr=read)
        if ocr.progress:
            ocr.progress(done + 1, len(todo))
    return out


def load_pdf(path: Path, data: bytes, *, ocr: OcrOptions = OcrOptions(), limits: Limits = Limits()) -> LoadedFile:
    """A PDF's pages as text (see the module docstring); raises :class:`LoadError` with the reason (also for more
    pages than ``limits.max_pages``)."""
    document = _open(data)
    try:
        check_pages(len(document), limits)
        pages = _ocr_pages(document, _text_pages(document, data), ocr)
    finally:
        document.close()
    if not any(page.text for page in pages):
        raise LoadError.of("pdf_no_text" if ocr.mode == "never" else "ocr_no_text")
    return assemble(path.stem, pages, min_confidence=ocr.min_confidence)


def assemble(title: str, pages: Sequence[Page], *, min_confidence: float) -> LoadedFile:
    """Pages joined by blank lines into one :class:`LoadedFile`: each page's start, the pages read by OCR and
    the spans OCR read with a confidence below ``min_confidence`` are kept."""
    starts, parts, uncertain, ocr_pages, offset = [], [], [], [], 0
    for number, page in enumerate(pages, start=1):
        starts.append(offset)
        parts.append(page.text)
        if page.ocr is not None:
            ocr_pages.append(number)
            uncertain += [(offset + start, offset + end) for start, end, conf in page.ocr.spans if conf < min_confidence]
        offset += len(page.text) + 2
    return LoadedFile("\n\n".join(parts), title, markdown=any(page.markdown for page in pages), pages=tuple(starts),
                      ocr_pages=tuple(ocr_pages), uncertain=tuple(uncertain))
