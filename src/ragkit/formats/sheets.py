"""Spreadsheets: ``.xlsx`` (openpyxl, read-only), ``.xls`` (xlrd), ``.csv``/``.tsv`` (the csv module).

A sheet is a section (``# sheet name``); its first non-empty row is the header and the other rows become a
Markdown table, which the splitter cuts between rows, repeating the header in every chunk. Rows are streamed
(openpyxl's read-only mode, a csv reader) into one text buffer, never held as a list of rows, so a
1,000,000-row sheet costs its text and not a table of Python objects (see benchmarks/formats.py).

``unstructured``'s ``partition_xlsx``/``partition_csv`` read the whole sheet into a pandas DataFrame and
emit it as one HTML table, so they are not used.

>>> from pathlib import Path
>>> print(load_csv(Path("价格.csv"), "型号,价格\\nA1,12\\n\\nB2,15.5\\n".encode()).text)
# 价格
<BLANKLINE>
| 型号 | 价格 |
| --- | --- |
| A1 | 12 |
| B2 | 15.5 |
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ragkit.errors import LoadError
from ragkit.formats.base import LoadedFile
from ragkit.formats.containers import require_zip
from ragkit.formats.tables import markdown_row, rule, trim_row
from ragkit.formats.text import decode_text


def write_sheet(out: io.StringIO, name: str, rows: Iterable[Sequence[Any]]) -> int:
    """Write one sheet as ``# name`` and a Markdown table to ``out``; returns the number of data rows."""
    width = 0
    count = 0
    for raw in rows:
        cells = trim_row(raw)
        if not cells:
            continue
        if not width:  # the header row
            width = len(cells)
            out.write(f"# {' '.join(name.split()) or '-'}\n\n{markdown_row(cells)}\n{rule(width)}\n")
            continue
        if len(cells) > width:  # a row wider than the header: its extra cells keep their place
            cells = cells[:width - 1] + [" ".join(str(c) for c in cells[width - 1:] if c is not None)]
        out.write(markdown_row(cells + [None] * (width - len(cells))) + "\n")
        count += 1
    if width:
        out.write("\n")
    return count


def _finish(out: io.StringIO, path: Path, encoding: str | None = None) -> LoadedFile:
    text = out.getvalue().rstrip("\n")
    if not text:
        raise LoadError.of("no_text")
    return LoadedFile(text, path.stem, encoding=encoding)


def _lines(text: str) -> Iterator[str]:
    """Lines of ``text`` with their endings, one at a time (``io.StringIO(text)`` would copy it four bytes a
    character, ``splitlines`` would hold a million small strings).

    >>> list(_lines("a\\r\\nb\\nc"))
    ['a\\r\\n', 'b\\n', 'c']
    """
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end


def _delimiter(header: str) -> str:
    """The separator of a CSV header line: the most frequent of ``,`` ``;`` tab ``|`` (``,`` on a tie).

    >>> _delimiter("城市;人口（万）;备注"), _delimiter("a,b"), _delimiter("单列")
    (';', ',', ',')
    """
    counts = {d: header.count(d) for d in ",;\t|"}
    return max(counts, key=lambda d: (counts[d], d == ","))


def load_csv(path: Path, data: bytes) -> LoadedFile:
    text, encoding = decode_text(data)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else _delimiter(text[:4096].partition("\n")[0])
    out = io.StringIO()
    try:
        write_sheet(out, path.stem, csv.reader(_lines(text), delimiter=delimiter))
    except csv.Error as exc:
        raise LoadError.of("bad_sheet", kind="CSV", detail=str(exc)) from exc
    del text
    return _finish(out, path, encoding)


def load_xlsx(path: Path, data: bytes) -> LoadedFile:
    require_zip(data, "Excel .xlsx")
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (KeyError, ValueError, OSError, zipfile.BadZipFile, TypeError) as exc:
        raise LoadError.of("bad_sheet", kind="Excel .xlsx", detail=f"{type(exc).__name__}: {exc}") from exc
    out = io.StringIO()
    try:
        for sheet in book.worksheets:  # chart sheets are not worksheets
            write_sheet(out, sheet.title, sheet.iter_rows(values_only=True))
    finally:
        book.close()
    return _finish(out, path)


def load_xls(path: Path, data: bytes) -> LoadedFile:
    import xlrd

    try:
        book = xlrd.open_workbook(file_contents=data, on_demand=True)
    except (xlrd.XLRDError, ValueError, OSError, AssertionError, IndexError) as exc:
        raise LoadError.of("bad_sheet", kind="Excel .xls", detail=f"{type(exc).__name__}: {exc}") from exc

    def values(sheet: Any) -> Iterable[list[Any]]:
        for row in sheet.get_rows():
            yield [xlrd.xldate_as_datetime(c.value, book.datemode) if c.ctype == xlrd.XL_CELL_DATE else
                   None if c.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK) else c.value for c in row]

    out = io.StringIO()
    try:
        for index in range(book.nsheets):
            sheet = book.sheet_by_index(index)
            write_sheet(out, sheet.name, values(sheet))
            book.unload_sheet(index)
    finally:
        book.release_resources()
    return _finish(out, path)
