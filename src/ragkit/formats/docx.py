"""Word ``.docx`` through ``unstructured``; heading levels only from Word heading styles."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ragkit.errors import LoadError
from ragkit.formats.base import LoadedFile, first_heading
from ragkit.formats.elements import elements_markdown, offline_unstructured

_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*([1-9])$", re.IGNORECASE)


def _docx_level(element: Any, has_title: bool) -> int | None:
    """Heading level from the paragraph's Word style only (Heading N, 标题 N, Title)."""
    style = getattr(element.metadata, "style_name", None) or ""
    if style == "Title":
        return 1
    match = _HEADING_STYLE.match(style.strip())
    return int(match.group(1)) + (1 if has_title else 0) if match else None


def load_docx(path: Path, data: bytes) -> LoadedFile:
    import io
    import zipfile

    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise LoadError.of("bad_docx", detail="not a ZIP archive: truncated or renamed?")
    offline_unstructured()
    from unstructured.partition.docx import partition_docx

    try:
        elements = partition_docx(file=io.BytesIO(data), languages=[""])  # no language detection (unused)
    except (KeyError, ValueError, zipfile.BadZipFile, OSError) as exc:
        raise LoadError.of("bad_docx", detail=f"{type(exc).__name__}: {exc}") from exc
    has_title = any(getattr(e.metadata, "style_name", None) == "Title" for e in elements)
    markdown = elements_markdown(elements, lambda e: _docx_level(e, has_title))
    return LoadedFile(markdown, first_heading(markdown, path.stem))


