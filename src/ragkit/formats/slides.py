"""PowerPoint ``.pptx`` with python-pptx: a slide is a section and a page.

Each slide becomes ``# title`` (the title placeholder; ``# <file> (n)`` when it has none), its text frames in
reading order (top to bottom, then left to right; indented paragraphs as nested list items), its tables as
Markdown tables and its speaker notes under ``## 备注 (notes)``. The slide number is the chunk's ``page``.

``unstructured``'s ``partition_pptx`` guesses a category for every paragraph from its wording (a short body
line becomes a Title, a heading) and flattens tables it cannot map, so python-pptx is read directly.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ragkit.errors import LoadError
from ragkit.formats.base import LoadedFile
from ragkit.formats.containers import require_zip
from ragkit.formats.tables import markdown_row, rule, trim_row

NOTES_HEADING = "## 备注 (notes)"


def _shapes(shapes: Any) -> Iterator[Any]:
    """Shapes in reading order, group shapes opened."""
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    def key(shape: Any) -> tuple[int, int]:
        return (shape.top or 0, shape.left or 0)

    for shape in sorted(shapes, key=key):
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            yield from _shapes(shape.shapes)
        else:
            yield shape


def _text_frame(frame: Any) -> list[str]:
    lines = []
    for paragraph in frame.paragraphs:
        text = " ".join(paragraph.text.split())
        if text:
            lines.append("  " * paragraph.level + "- " + text if paragraph.level else text)
    return lines


def _table(table: Any) -> str:
    rows = [trim_row(cell.text for cell in row.cells) for row in table.rows]
    rows = [r for r in rows if r]
    if not rows:
        return ""
    width = max(len(r) for r in rows)
    lines = [markdown_row(r + [""] * (width - len(r))) for r in rows]
    lines.insert(1, rule(width))
    return "\n".join(lines)


def _slide_blocks(slide: Any, fallback_title: str) -> list[str]:
    title_shape = slide.shapes.title
    title = " ".join(title_shape.text.split()) if title_shape is not None and title_shape.has_text_frame else ""
    blocks = [f"# {title or fallback_title}"]
    for shape in _shapes(slide.shapes):
        if title_shape is not None and shape.shape_id == title_shape.shape_id:
            continue
        if getattr(shape, "has_table", False) and shape.has_table:
            blocks.append(_table(shape.table))
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            blocks.append("\n".join(_text_frame(shape.text_frame)))
    if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
        notes = _text_frame(slide.notes_slide.notes_text_frame)
        if notes:
            blocks.append(NOTES_HEADING + "\n\n" + "\n\n".join(notes))
    return [b for b in blocks if b.strip()]


def load_pptx(path: Path, data: bytes) -> LoadedFile:
    require_zip(data, "PowerPoint .pptx")
    from pptx import Presentation
    from pptx.exc import PackageNotFoundError

    try:
        deck = Presentation(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile, OSError) as exc:
        raise LoadError.of("bad_pptx", detail=f"{type(exc).__name__}: {exc}") from exc
    parts: list[str] = []
    pages: list[int] = []
    offset = 0
    for number, slide in enumerate(deck.slides, start=1):
        text = "\n\n".join(_slide_blocks(slide, f"{path.stem} ({number})"))
        pages.append(offset)
        parts.append(text)
        offset += len(text) + 2
    if not any(len(p.split("\n", 1)) > 1 for p in parts):
        raise LoadError.of("no_text")
    title = " ".join((deck.core_properties.title or "").split()) or path.stem
    return LoadedFile("\n\n".join(parts), title, pages=tuple(pages))
