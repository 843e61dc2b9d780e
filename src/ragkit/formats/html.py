"""HTML through ``unstructured``'s partitioner; heading levels only from ``<h1>``-``<h6>``."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from ragkit.formats.base import LoadedFile, first_heading
from ragkit.formats.elements import elements_markdown, offline_unstructured
from ragkit.formats.text import decode_text


def load_html(path: Path, data: bytes) -> LoadedFile:
    text, encoding = decode_text(data)
    offline_unstructured()
    from unstructured.partition.html import partition_html

    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)  # lxml refuses a str with an encoding declaration
    elements = partition_html(text=text)

    def level(element: Any) -> int | None:  # partition_html makes Titles only from <h1>-<h6>
        return (element.metadata.category_depth or 0) + 1 if element.category == "Title" else None

    markdown = elements_markdown(elements, level)
    found = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    title = html.unescape(" ".join(found.group(1).split())) if found else ""
    return LoadedFile(markdown, title or first_heading(markdown, path.stem), encoding=encoding)


