"""PDF read page by page with PDFium (``pypdfium2``): no layout model, nothing to download."""

from __future__ import annotations

import re
from pathlib import Path

from ragkit.errors import LoadError
from ragkit.formats.base import LoadedFile
from ragkit.formats.limits import Limits, check_pages

_CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")


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


def load_pdf(path: Path, data: bytes, limits: Limits = Limits()) -> LoadedFile:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise LoadError.of("bad_pdf", detail=str(exc)) from exc
    texts: list[str] = []
    try:
        check_pages(len(document), limits)
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


