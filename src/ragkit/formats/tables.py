"""Markdown tables written row by row: cells made one-line and pipe-safe, dates and numbers as a reader writes them.

>>> import datetime
>>> markdown_row(["价格", 12.0, None, datetime.date(2024, 5, 1), "a|b\\nc"])
'| 价格 | 12 |  | 2024-05-01 | a\\\\|b c |'
>>> rule(2)
'| --- | --- |'
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any


def cell_text(value: Any) -> str:
    """One cell as text: None is empty, 12.0 is 12, dates in ISO form, whitespace collapsed, ``|`` escaped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        text = str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    elif isinstance(value, datetime.datetime):
        text = value.date().isoformat() if value.time() == datetime.time() else value.isoformat(sep=" ")
    elif isinstance(value, datetime.date | datetime.time):
        text = value.isoformat()
    else:
        text = str(value)
    return " ".join(text.split()).replace("|", "\\|")


def markdown_row(cells: Iterable[Any]) -> str:
    return "| " + " | ".join(cell_text(c) for c in cells) + " |"


def rule(width: int) -> str:
    return "|" + " --- |" * width


def trim_row(row: Iterable[Any]) -> list[Any]:
    """The row without trailing empty cells (sheets often report formatted but empty columns)."""
    cells = list(row)
    while cells and cell_text(cells[-1]) == "":
        cells.pop()
    return cells
