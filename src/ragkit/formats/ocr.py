"""Offline OCR: a page image -> text lines with boxes and confidences -> paragraphs in reading order.

The engine is ``rapidocr-onnxruntime`` 1.4.4, whose wheel carries the PP-OCRv4 Chinese/English detection and
recognition models (and a direction classifier, left off: on upright pages it flipped whole table rows into
gibberish, see benchmarks/RESULTS.md), run by onnxruntime on the CPU: nothing is downloaded. It is built on first
use and kept for the process (:func:`engine`); importing this module loads nothing. Pages must be upright.

Reading order: lines are grouped into rows, a page whose lines leave an empty vertical gutter is read column by
column (a line crossing the gutter, such as a title, closes the columns above it), and a column's lines are
joined into paragraphs: a new paragraph starts after a vertical gap, an indented first line, or a line that
stops well short of the column's right edge. Chinese runs are joined without spaces, Latin words with one.

>>> lines = [OcrLine("第一栏第一行。", (0, 0, 90, 10), 0.99), OcrLine("第二栏。", (110, 0, 200, 10), 0.99),
...          OcrLine("第一栏第二行。", (0, 14, 90, 24), 0.99), OcrLine("Two words", (110, 14, 200, 24), 0.5)]
>>> print(paragraphs(lines).text)
第一栏第一行。第一栏第二行。
<BLANKLINE>
第二栏。Two words
>>> paragraphs(lines).spans[-1]  # (start, end, confidence) of each line in the text
(20, 29, 0.5)
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from ragkit.errors import LoadError

if TYPE_CHECKING:
    from PIL import Image

OcrMode = Literal["auto", "always", "never"]
PageProgress = Callable[[int, int], None]  # (pages OCR'd so far, pages to OCR)

_WIDE = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]")


@dataclass(frozen=True)
class OcrOptions:
    """When to OCR and how much a file may cost (built from settings by the composition root).

    ``mode``: ``auto`` OCRs PDF pages without a usable text layer (and every image), ``always`` every PDF page,
    ``never`` nothing (a scanned PDF or an image is then refused). ``max_pages`` and ``timeout_s`` bound one
    file; ``max_pixels`` bounds one image before it is decoded. Lines read with a confidence below
    ``min_confidence`` are marked in the chunks' metadata.
    """

    mode: OcrMode = "auto"
    dpi: int = 200
    max_pages: int = 500
    timeout_s: float = 1800.0
    max_pixels: int = 50_000_000
    min_confidence: float = 0.8
    progress: PageProgress | None = field(default=None, compare=False)


@dataclass(frozen=True)
class OcrLine:
    """One recognised line: its text, box ``(x0, y0, x1, y1)`` in pixels (y downwards) and confidence."""

    text: str
    box: tuple[float, float, float, float]
    confidence: float

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def middle(self) -> float:
        return (self.box[1] + self.box[3]) / 2


@dataclass(frozen=True)
class OcrText:
    """Text of one page in reading order, and ``(start, end, confidence)`` of every line in it."""

    text: str
    spans: tuple[tuple[int, int, float], ...] = ()


@cache
def engine() -> Any:
    """The process's OCR engine (built on first call: about a second to load the models)."""
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise LoadError.of("ocr_missing", detail=str(exc)) from exc
    return RapidOCR(use_cls=False)  # the 180-degree classifier turned upright table rows into gibberish


def read_lines(image: Image.Image) -> list[OcrLine]:
    """The text lines the engine finds in ``image``, in no particular order."""
    import numpy as np

    result, _ = engine()(np.asarray(image.convert("L")))
    lines = []
    for points, text, score in result or ():
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        if text.strip():
            lines.append(OcrLine(text.strip(), (min(xs), min(ys), max(xs), max(ys)), float(score)))
    return lines


def ocr_image(image: Image.Image) -> OcrText:
    """OCR one page image into paragraphs in reading order."""
    return paragraphs(read_lines(image))


def _rows(lines: Sequence[OcrLine]) -> list[list[OcrLine]]:
    """Lines sharing a row (vertical overlap over half the smaller height), each row left to right."""
    rows: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda item: item.middle):
        row = rows[-1] if rows else None
        if row and abs(line.middle - row[-1].middle) < 0.5 * min(line.height, row[-1].height):
            row.append(line)
        else:
            rows.append([line])
    return [sorted(row, key=lambda item: item.box[0]) for row in rows]


def _gutters(lines: Sequence[OcrLine]) -> list[float]:
    """x positions of empty vertical gutters between columns of text (none for a one-column page)."""
    if len(lines) < 4:
        return []
    left, right = min(ln.box[0] for ln in lines), max(ln.box[2] for ln in lines)
    width = right - left
    narrow = [ln for ln in lines if ln.box[2] - ln.box[0] < 0.6 * width]  # titles may span columns
    bins = 200
    covered = [0] * bins
    for ln in narrow:
        for b in range(int((ln.box[0] - left) / width * bins), min(bins, int((ln.box[2] - left) / width * bins) + 1)):
            covered[b] += 1
    gutters, start = [], None
    for b in range(bins + 1):
        empty = b < bins and covered[b] == 0
        if empty and start is None:
            start = b
        elif not empty and start is not None:
            x = left + (start + b) / 2 / bins * width
            both = sum(ln.box[2] < x for ln in narrow) >= 2 and sum(ln.box[0] > x for ln in narrow) >= 2
            if start > 0 and b < bins and b - start >= 3 and both:  # at least 1.5% of the width
                gutters.append(x)
            start = None
    return gutters


def _blocks(lines: Sequence[OcrLine]) -> list[list[OcrLine]]:
    """Lines in reading order, as column runs: each list is read top to bottom."""
    gutters = _gutters(lines)
    if not gutters:
        return [list(lines)]
    blocks: list[list[OcrLine]] = []
    columns: list[list[OcrLine]] = [[] for _ in range(len(gutters) + 1)]
    for row in _rows(lines):
        for line in row:
            if any(line.box[0] < x < line.box[2] for x in gutters):  # spans columns: closes them
                blocks.extend(col for col in columns if col)
                columns = [[] for _ in range(len(gutters) + 1)]
                blocks.append([line])
            else:
                columns[sum(x < line.box[0] for x in gutters)].append(line)
    blocks.extend(col for col in columns if col)
    return blocks


def _joiner(before: str, after: str) -> str:
    """'' between Chinese characters (or next to one), ' ' between Latin words."""
    if not before or not after or _WIDE.match(before[-1]) or _WIDE.match(after[0]):
        return ""
    return " "


def _box(row: Sequence[OcrLine]) -> tuple[float, float, float, float]:
    return (min(ln.box[0] for ln in row), min(ln.box[1] for ln in row),
            max(ln.box[2] for ln in row), max(ln.box[3] for ln in row))


def _column_paragraphs(lines: Sequence[OcrLine]) -> list[list[list[OcrLine]]]:
    """A column's rows cut into paragraphs (a paragraph is a list of rows, a row a list of lines)."""
    rows = _rows(lines)
    height = statistics.median(ln.height for ln in lines)
    left = min(ln.box[0] for ln in lines)
    right = max(ln.box[2] for ln in lines)
    paras: list[list[list[OcrLine]]] = []
    for row in rows:
        box = _box(row)
        prev = _box(paras[-1][-1]) if paras else None
        new = (
            prev is None
            or box[1] - prev[3] > 0.9 * height  # a blank line's worth of space
            or box[0] - left > 1.2 * height  # an indented first line
            or right - prev[2] > 2.5 * height  # the previous line stopped short
        )
        if new:
            paras.append([row])
        else:
            paras[-1].append(row)
    return paras


def paragraphs(lines: Sequence[OcrLine]) -> OcrText:
    """Join OCR lines into paragraphs in reading order (see the module docstring)."""
    if not lines:
        return OcrText("")
    parts: list[str] = []
    spans: list[tuple[int, int, float]] = []
    offset = 0
    for block in _blocks(lines):
        for para in _column_paragraphs(block):
            if parts:
                parts.append("\n\n")
                offset += 2
            text = ""
            for line in (ln for row in para for ln in row):
                glue = _joiner(text, line.text)
                start = offset + len(text) + len(glue)
                text += glue + line.text
                spans.append((start, start + len(line.text), line.confidence))
            parts.append(text)
            offset += len(text)
    return OcrText("".join(parts), tuple(spans))
