"""Chinese-aware splitting of Markdown (or plain) text into chunks with offsets and heading paths.

Rules, in order: a chunk never crosses a heading; blocks (paragraphs, lists, code, tables) are
packed whole while they fit; a block that does not fit is cut at sentence ends
(``。！？；…`` and ``.!?;`` before a space) and then at line ends; only a sentence longer than the
hard limit is cut inside. A Markdown table is cut between rows, never inside one, and every piece
repeats the table's header rows. ``start``/``end`` are character offsets of the covered span in the
text; a table piece's ``text`` starts with the repeated header (which lies before ``start``).

>>> md = "# 模型\\n\\n## GLM\\n\\nChatGLM 是清华开源的模型。它可以在 7G 显存下微调。\\n"
>>> [(c.heading, c.text) for c in split_text(md, chunk_size=100)]
[('模型 > GLM', '## GLM\\n\\nChatGLM 是清华开源的模型。它可以在 7G 显存下微调。')]
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

HEADING_SEPARATOR = " > "
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_TABLE_ROW = re.compile(r"^\s*\|")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
# A sentence ends after CJK or Western terminal punctuation (plus closing quotes/brackets), or at a newline.
_SENTENCE_END = re.compile(r"(?:[。！？；!?;]|…+|(?<![\d\s])\.(?=\s))[”’」』）)\]\"']*\s*|\n+")
_PADDING = re.compile(r"\s{2,}|-{3,}")
_LINE_BREAK = re.compile(r"\r\n|[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")  # where str.splitlines breaks
_MARKUP = re.compile(r"\*\*|__|`|!\[[^\]]*\]\([^)]*\)|\[([^\]]*)\]\([^)]*\)|<br\s*/?>")


@dataclass(frozen=True)
class Chunk:
    """One piece of a document."""

    text: str
    start: int
    end: int
    heading: str
    index: int


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    kind: str  # "text", "code", "table", "heading"


@dataclass(frozen=True)
class _Section:
    heading: str
    blocks: tuple[_Span, ...]


def size_of(text: str) -> int:
    """Length as a reader sees it: runs of whitespace or dashes count once (tables are padded)."""
    return len(text) - sum(len(m.group()) - 1 for m in _PADDING.finditer(text))


def strip_markup(text: str) -> str:
    """Text without inline Markdown: emphasis, code ticks, images, ``<br>``; a link keeps its words.

    >>> strip_markup("**ChatGLM** 见[论文](https://x)![图](a.png)")
    'ChatGLM 见论文'
    """
    return _MARKUP.sub(lambda m: m.group(1) or "", text)


def clean_heading(raw: str) -> str:
    """Heading text without Markdown markup: ``**GLM** [系列](x)`` -> ``GLM 系列``."""
    return " ".join(strip_markup(raw).split())


def _lines(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int, str]]:
    """(start, end without newline, line) for every line of ``text[start:end]``, offsets in ``text``; lines
    break where :meth:`str.splitlines` breaks them, found one at a time (a million-row table is not listed)."""
    end = len(text) if end is None else end
    pos = start
    for m in _LINE_BREAK.finditer(text, start, end):
        body = text[pos : m.end()].rstrip("\r\n")
        yield pos, pos + len(body), body
        pos = m.end()
    if pos < end:
        body = text[pos:end].rstrip("\r\n")
        yield pos, pos + len(body), body


def _blocks(text: str, markdown: bool) -> Iterator[_Span | tuple[int, str, int, int]]:
    """Blocks of text as spans; headings as (level, title, start, end) tuples (Markdown only)."""
    current: list[int] = []  # [start, end, kind-index]
    kind = "text"
    fence: str | None = None

    def flush() -> Iterator[_Span]:
        if current:
            yield _Span(current[0], current[1], kind)
            current.clear()

    for start, end, line in _lines(text):
        if fence is not None:
            current[1] = end
            if line.strip().startswith(fence):
                fence = None
                yield from flush()
            continue
        if markdown and (m := _FENCE.match(line)):
            yield from flush()
            fence, kind = m.group(1), "code"
            current[:] = [start, end]
            continue
        if not line.strip():
            yield from flush()
            continue
        if markdown and (h := _HEADING.match(line)):
            yield from flush()
            yield (len(h.group(1)), clean_heading(h.group(2)), start, end)
            continue
        line_kind = "table" if markdown and _TABLE_ROW.match(line) else "text"
        if current and line_kind != kind:
            yield from flush()
        if not current:
            kind = line_kind
            current[:] = [start, end]
        current[1] = end
    yield from flush()


def _sections(text: str, markdown: bool) -> Iterator[tuple[str, Iterator[_Span]]]:
    """Blocks grouped under their heading path, as (heading, blocks) with the blocks read lazily (a section's
    blocks must be consumed before the next section is asked for); a heading line opens its section's first
    block."""
    source = _blocks(text, markdown)
    path: list[tuple[int, str]] = []
    heading_line: _Span | None = None
    item = next(source, None)
    while item is not None:
        if not isinstance(item, _Span):
            level, title, start, end = item
            path = [(lvl, t) for lvl, t in path if lvl < level] + [(level, title)]
            heading_line = _Span(start, end, "heading")
            item = next(source, None)
            continue
        first = [heading_line, item] if heading_line is not None else [item]  # the heading travels with it
        heading_line = None
        after: list[tuple[int, str, int, int]] = []  # the heading that ends this section, if any

        def blocks(first: list[_Span] = first, after: list[tuple[int, str, int, int]] = after) -> Iterator[_Span]:
            yield from first
            for block in source:
                if not isinstance(block, _Span):
                    after.append(block)
                    return
                yield block

        section = blocks()
        yield HEADING_SEPARATOR.join(t for _, t in path), section
        for _ in section:  # whatever the consumer left
            pass
        item = after[0] if after else None


def _sentences(text: str, span: _Span) -> Iterator[_Span]:
    """Cut a text span after each sentence end or newline."""
    pos = span.start
    for m in _SENTENCE_END.finditer(text, span.start, span.end):
        if m.end() > pos:
            yield _Span(pos, m.end(), "text")
            pos = m.end()
    if pos < span.end:
        yield _Span(pos, span.end, "text")


def _hard_cut(text: str, span: _Span, limit: int) -> Iterator[_Span]:
    """Cut a span with no usable boundary into pieces of at most ``limit`` characters."""
    for start in range(span.start, span.end, limit):
        yield _Span(start, min(start + limit, span.end), span.kind)


def _oversize(text: str, span: _Span, chunk_size: int) -> bool:
    """``size_of(span) > chunk_size``, deciding a huge span from a prefix (no copy of a whole sheet)."""
    if span.end - span.start <= chunk_size:
        return False
    prefix_end = min(span.end, span.start + 64 * chunk_size)
    if size_of(text[span.start : prefix_end]) > chunk_size:
        return True
    return prefix_end < span.end and size_of(text[span.start : span.end]) > chunk_size


def _table_rows(text: str, span: _Span) -> Iterator[_Span]:
    """A table's lines as units; a table with a header keeps its header, rule and first row together."""
    lines = (_Span(s, e, span.kind) for s, e, _ in _lines(text, span.start, span.end))
    if span.kind == "table" and _table_header(text, span):
        head = list(islice(lines, 3))
        yield _Span(head[0].start, head[-1].end, "table")
    yield from lines


def _units(text: str, span: _Span, chunk_size: int, hard_limit: int) -> Iterator[_Span]:
    """Break an oversize block into units that can be packed: rows, sentences, then hard cuts."""
    if span.kind == "heading" or not _oversize(text, span, chunk_size):
        yield span
        return
    if span.kind in ("table", "code"):
        pieces, limit = _table_rows(text, span), hard_limit
    else:
        pieces, limit = _sentences(text, span), chunk_size
    for piece in pieces:
        if piece.end - piece.start > limit:
            yield from _hard_cut(text, piece, limit)
        else:
            yield piece


def _table_header(text: str, block: _Span) -> str:
    """The header row and rule of a Markdown table block ('' if it has no rule line)."""
    lines = [line for _, _, line in islice(_lines(text, block.start, block.end), 2)]
    if len(lines) >= 2 and _TABLE_RULE.match(lines[1]):
        return lines[0] + "\n" + lines[1] + "\n"
    return ""


def split_text(
    text: str,
    *,
    chunk_size: int = 300,
    chunk_overlap: int = 0,
    markdown: bool = True,
    hard_limit: int | None = None,
) -> list[Chunk]:
    """Split ``text`` into :class:`Chunk` objects (see the module docstring for the rules).

    ``chunk_overlap`` repeats trailing sentences (up to that many characters) of a chunk at the
    start of the next one in the same section. ``hard_limit`` (default 8 x ``chunk_size``) bounds
    a single table row or code line. :func:`iter_chunks` gives the same chunks one at a time.
    """
    return list(iter_chunks(text, chunk_size=chunk_size, chunk_overlap=chunk_overlap, markdown=markdown,
                            hard_limit=hard_limit))


def iter_chunks(
    text: str,
    *,
    chunk_size: int = 300,
    chunk_overlap: int = 0,
    markdown: bool = True,
    hard_limit: int | None = None,
) -> Iterator[Chunk]:
    """:func:`split_text` as a stream: memory holds one section's pending units, not the file's chunks (a
    million-row sheet is one table).

    >>> rows = "| a | b |\\n|---|---|\\n" + "".join(f"| {n} | x |\\n" for n in range(1000))
    >>> chunks = iter_chunks(rows, chunk_size=100)
    >>> next(chunks).text.splitlines()[:3]
    ['| a | b |', '|---|---|', '| 0 | x |']
    >>> next(chunks).text.splitlines()[:3]  # the header is repeated
    ['| a | b |', '|---|---|', '| 8 | x |']
    """
    if chunk_size < 1 or chunk_overlap < 0 or chunk_overlap >= chunk_size:
        raise ValueError("need chunk_size >= 1 and 0 <= chunk_overlap < chunk_size")
    limit = hard_limit or 8 * chunk_size
    index = 0
    for heading, blocks in _sections(text, markdown):
        for start, end, header in _pack(text, blocks, chunk_size, chunk_overlap, limit):
            body = text[start:end].strip()
            if body:
                lead = len(text[start:end]) - len(text[start:end].lstrip())
                chunk_start = start + lead
                yield Chunk(header + body, chunk_start, chunk_start + len(body), heading, index)
                index += 1


def _section_units(text: str, blocks: Iterator[_Span], chunk_size: int, limit: int) -> Iterator[tuple[_Span, str]]:
    """(unit, table header to repeat if a chunk starts here) for a section's blocks."""
    for block in blocks:
        header = _table_header(text, block) if block.kind == "table" else ""
        for n, unit in enumerate(_units(text, block, chunk_size, limit)):
            yield unit, header if n >= 1 else ""


def _pack(
    text: str, blocks: Iterator[_Span], chunk_size: int, overlap: int, limit: int
) -> Iterator[tuple[int, int, str]]:
    """Greedy packing of a section's units into (start, end, repeated table header) spans, one unit ahead."""
    units = _section_units(text, blocks, chunk_size, limit)
    current = next(units, None)
    start = current[0].start if current else 0
    while current is not None:
        header = current[1] if start == current[0].start else ""
        last, nxt = current, next(units, None)
        while nxt is not None and size_of(header + text[start : nxt[0].end]) <= chunk_size:
            last, nxt = nxt, next(units, None)
        yield start, last[0].end, header
        if nxt is not None:
            start = _overlap_start(text, last[0], start, overlap) or nxt[0].start
            if size_of(nxt[1] + text[start : nxt[0].end]) > chunk_size:  # no room to repeat anything
                start = nxt[0].start
        current = nxt


def _overlap_start(text: str, last: _Span, chunk_start: int, overlap: int) -> int | None:
    """Where the next chunk starts to repeat the trailing sentences of ``last`` (None: no overlap)."""
    if not overlap or last.kind != "text":
        return None
    best = None
    for sentence in _sentences(text, _Span(max(last.start, chunk_start + 1), last.end, "text")):
        if size_of(text[sentence.start : last.end]) <= overlap and sentence.start > chunk_start:
            best = sentence.start if best is None else min(best, sentence.start)
    return best
