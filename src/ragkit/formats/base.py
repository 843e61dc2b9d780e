"""What every format loader returns, and helpers they share."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_MD_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


@dataclass(frozen=True)
class LoadedFile:
    """A file's text (Markdown unless ``markdown`` is False) and what is known about it."""

    text: str
    title: str
    markdown: bool = True
    encoding: str | None = None
    pages: tuple[int, ...] = field(default=())  # PDF: offset in ``text`` where each page starts
    ocr_pages: tuple[int, ...] = field(default=())  # 1-based pages whose text OCR read
    uncertain: tuple[tuple[int, int], ...] = field(default=())  # (start, end) of text OCR read with low confidence

    def page_at(self, offset: int) -> int | None:
        """1-based page holding ``offset`` (None when the file has no pages)."""
        if not self.pages:
            return None
        return sum(1 for start in self.pages if start <= offset) or 1

    def uncertain_in(self, start: int, end: int) -> list[str]:
        """The low-confidence OCR text between ``start`` and ``end``.

        >>> LoadedFile("清晰的字 模糊的字", "t", uncertain=((5, 9),)).uncertain_in(0, 9)
        ['模糊的字']
        """
        return [self.text[max(s, start):min(e, end)] for s, e in self.uncertain if s < end and e > start]


def first_heading(markdown: str, fallback: str) -> str:
    """The first level-1 Markdown heading's text, else ``fallback``.

    >>> first_heading("intro\\n# 标题\\n", "x")
    '标题'
    """
    match = _MD_HEADING.search(markdown)
    return match.group(1).strip() if match else fallback
