"""Passages -> answer units: the smallest pieces of a passage that can hold an answer.

* a **sentence** of a paragraph (wrapped lines joined; also two adjacent sentences, see :func:`windows`);
* a **list item**;
* a **table row**, read against the table's header (Markdown tables; HTML, Word and PDF tables arrive as
  Markdown); a header row or a rule is never a unit of its own;
* a **code line** (commands, paths, configuration) of a fenced block.

Each unit keeps what it needs to be judged and shown: its passage number, the passage's heading, and its
context: for a sentence, its paragraph so far (so "它" can be read against the name it refers to); for a table
row or a code line, the paragraph just before the table or block (its caption or introduction).

>>> body = "## GLM 系列\\n\\nGLM 系列开源。\\n\\n| 模型 | 参数量 |\\n| --- | --- |\\n| GLM-130B | 130B |\\n\\n- 支持中英文\\n\\n```\\npip install zhipuai\\n```"
>>> [(u.kind, u.text) for u in units_of(1, "GLM", body)]
[('sentence', 'GLM 系列开源。'), ('row', 'GLM-130B | 130B'), ('item', '支持中英文'), ('code', 'pip install zhipuai')]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ragkit.splitting import strip_markup

SENTENCE = re.compile(r"[^。！？；!?\n]+(?:[。！？；!?]+[”’」』）)]*|\n|$)")
_ITEM = re.compile(r"^\s*(?:[-*+•]\s+|\d{1,3}[.)、]\s*|[（(]\d{1,3}[)）]\s*)")
_RULE = re.compile(r"^\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_PROMPT = re.compile(r"^\s*(?:[$#>]|PS>|C:\\>)\s+")
_EMOJI_CODE = re.compile(r":[a-z_]+:")


@dataclass(frozen=True)
class Unit:
    """One candidate answer. For a row, ``cells`` and ``header`` (same length when the table has a header)."""

    passage: int
    position: int
    kind: str  # sentence, item, row, code
    text: str
    heading: str
    block: int
    context: str = ""
    cells: tuple[str, ...] = field(default=())
    header: tuple[str, ...] = field(default=())


def clean(text: str) -> str:
    """Text as a reader sees it: no Markdown markup, emoji codes or list bullets."""
    text = _EMOJI_CODE.sub("", strip_markup(text))
    return re.sub(r"^\s*(?:#+\s*|[-*+•]\s+)", "", text).strip()


def cells_of(line: str) -> list[str]:
    """The cells of a Markdown table row (``\\|`` inside a cell is kept as ``|``)."""
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [clean(cell.replace("\\|", "|")) for cell in _CELL_SPLIT.split(inner)]


def _blocks(body: str) -> list[tuple[str, list[str]]]:
    """(kind, lines) blocks: table, code, list, text; headings and blank lines end a block."""
    blocks: list[tuple[str, list[str]]] = []
    fence: str | None = None
    for line in body.splitlines():
        stripped = line.strip()
        if fence is not None:
            if stripped.startswith(fence):
                fence = None
            else:
                blocks[-1][1].append(line)
            continue
        if match := _FENCE.match(line):
            fence = match.group(1)
            blocks.append(("code", []))
            continue
        if not stripped or re.match(r"^#{1,6}\s", stripped):  # headings are in the heading path already
            blocks.append(("text", []))
            continue
        kind = "table" if stripped.startswith("|") else "list" if _ITEM.match(line) else "text"
        if blocks and blocks[-1][0] == kind and kind != "list":
            blocks[-1][1].append(line)
        elif blocks and blocks[-1][0] == "list" and kind == "text" and line[:1].isspace():
            blocks[-1][1][-1] += " " + stripped  # an item's continuation line
        elif blocks and blocks[-1][0] == "text" and kind == "text" and blocks[-1][1]:
            blocks[-1][1].append(line)
        else:
            blocks.append((kind, [line]))
    return [(kind, lines) for kind, lines in blocks if lines]


def _sentences(lines: list[str]) -> list[str]:
    paragraph = ""
    for line in lines:  # wrapped lines continue the sentence before them
        paragraph += line.strip() if not paragraph or re.search(r"[\u3400-\u9fff]$", paragraph) else " " + line.strip()
    return [part.strip() for part in (m.group() for m in SENTENCE.finditer(paragraph)) if part.strip()]


def units_of(number: int, heading: str, body: str) -> list[Unit]:
    """The answer units of one passage, in order."""
    out: list[Unit] = []

    def add(kind: str, text: str, block: int, context: str = "", **extra: tuple[str, ...]) -> None:
        if len(text) >= 2:
            out.append(Unit(number, len(out), kind, text, heading, block, context, **extra))

    introduction = ""  # the text before a table or a code block: its caption
    for block, (kind, lines) in enumerate(_blocks(body)):
        if kind == "table":
            rows = [line for line in lines if not _RULE.match(line.strip())]
            has_header = len(lines) >= 2 and bool(_RULE.match(lines[1].strip()))
            header = tuple(cells_of(rows[0])) if has_header and rows else ()
            for row in rows[1:] if has_header else rows:
                cells = tuple(cells_of(row))
                if any(cells):
                    add("row", " | ".join(c for c in cells if c), block, introduction, cells=cells,
                        header=header if len(header) == len(cells) else ())
        elif kind == "code":
            for line in lines:
                add("code", _PROMPT.sub("", line).strip(), block, introduction)
        elif kind == "list":
            for line in lines:  # items read the sentence that introduces the list, like rows their caption
                add("item", clean(_ITEM.sub("", line, count=1)), block, introduction)
        else:
            seen = ""
            for sentence in _sentences(lines):
                text = clean(sentence)
                add("sentence", text, block, context=seen)
                seen += text
        introduction = "".join(clean(s) for s in _sentences(lines)) if kind == "text" else ""
    return out


def windows(units: list[Unit], max_chars: int) -> list[tuple[Unit, ...]]:
    """Candidates: every unit, and every two adjacent sentences of one paragraph that fit ``max_chars``."""
    out: list[tuple[Unit, ...]] = [(u,) for u in units]
    for a, b in zip(units, units[1:], strict=False):
        if (a.kind == b.kind == "sentence" and a.passage == b.passage and a.block == b.block
                and len(a.text) + len(b.text) <= max_chars):
            out.append((a, b))
    return out
