"""Retrieval metrics with the definitions of the evaluation README.

Text is compared after Unicode NFKC, lower-casing and removing all whitespace and table-cell separators
(``|``). A chunk *hits* when it contains the evidence (or one of its alternatives), or (when a chunk boundary
cut it) at least 80% of it as one contiguous piece.

>>> contains_evidence("LangChain 的作者是 Harrison  Chase。", "作者是 harrison chase")
True
>>> first_hit_rank(["无关", "……其初始版本于 2022 年"], "其初始版本于 2022 年 4 月发布", min_fraction=0.6)
2
>>> mrr_at([1, None, 4], 10)
0.4166666666666667
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

_SPACE = re.compile(r"[\s|]+")


def normalize(text: str) -> str:
    """NFKC, lower case, no whitespace and no table-cell separators (``|``), so a table row matches however its
    cells were joined.

    >>> normalize("| GPT-4 |  8k |")
    'gpt-48k'
    """
    return _SPACE.sub("", unicodedata.normalize("NFKC", text).lower())


Evidence = str | Sequence[str]


def _alternatives(evidence: Evidence) -> list[str]:
    return [evidence] if isinstance(evidence, str) else list(evidence)


def contains_evidence(chunk: str, evidence: Evidence, *, min_fraction: float = 0.8) -> bool:
    """Whether ``chunk`` holds ``evidence`` (or one of a list of alternatives) whole, or ``min_fraction`` of it
    as one contiguous piece."""
    chunk_n = normalize(chunk)
    for alternative in _alternatives(evidence):
        ev_n = normalize(alternative)
        if not ev_n:
            continue
        if ev_n in chunk_n:
            return True
        match = SequenceMatcher(None, ev_n, chunk_n, autojunk=False).find_longest_match(0, len(ev_n), 0, len(chunk_n))
        if match.size >= min_fraction * len(ev_n):
            return True
    return False


def first_hit_rank(chunks: Sequence[str], evidence: Evidence, *, min_fraction: float = 0.8) -> int | None:
    """1-based rank of the first chunk that contains the evidence (any alternative), or None."""
    for rank, chunk in enumerate(chunks, start=1):
        if contains_evidence(chunk, evidence, min_fraction=min_fraction):
            return rank
    return None


def hit_at(ranks: Sequence[int | None], k: int) -> float:
    """Share of questions whose first hit is within the top ``k``."""
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def mrr_at(ranks: Sequence[int | None], k: int = 10) -> float:
    """Mean reciprocal rank of the first hit, counting only hits within the top ``k``."""
    return sum(1 / r for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


KINDS = ("single", "multiturn", "unanswerable")


@dataclass(frozen=True)
class Question:
    """One question to ask; a multi-turn conversation becomes several, sharing ``conversation``.

    ``evidence`` and ``source`` hold the alternatives where the answer stands (one or more). ``tags`` group
    questions in reports; a question whose evidence is a table row is tagged ``table``.
    """

    id: str
    kind: str  # single, multiturn, unanswerable
    lang: str
    question: str
    source: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    answer_keywords: tuple[str, ...] = ()
    conversation: str | None = None
    turn: int = 0
    history: tuple[str, ...] = field(default=())
    tags: tuple[str, ...] = ()


class _Malformed(ValueError):
    """A field of a question line that is missing or has the wrong type."""


def _strings(data: dict[str, Any], name: str, *, required: bool = False) -> tuple[str, ...]:
    """A field that is a string or a list of strings, as a tuple."""
    if name not in data or data[name] is None:
        if required:
            raise _Malformed(f"missing field {name!r}")
        return ()
    value = data[name]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise _Malformed(f"field {name!r} must be a non-empty string or a list of non-empty strings")
    return tuple(value)


def _question(data: Any, *, kind: str, lang: str, qid: str, where: str = "", **extra: Any) -> Question:
    if not isinstance(data, dict):
        raise _Malformed(f"{where}must be a JSON object")
    try:
        question = _strings(data, "question", required=True)
        if len(question) != 1:
            raise _Malformed("field 'question' must be one string")
        source, evidence = _strings(data, "source"), _strings(data, "evidence")
        if source and evidence and len(source) not in (1, len(evidence)):
            raise _Malformed("fields 'source' and 'evidence' must be lists of the same length")
        keywords = _strings(data, "answer_keywords") if data.get("answer_keywords") != [] else ()
        tags = _strings(data, "tags")
        lang = data.get("lang", lang)
        if lang not in ("zh", "en"):
            raise _Malformed("field 'lang' must be \"zh\" or \"en\"")
    except _Malformed as exc:
        raise _Malformed(f"{where}{exc}") from None
    if any(e.count("|") >= 2 for e in evidence):  # the answer is a table row
        tags = (*tags, "table")
    return Question(id=qid, kind=kind, lang=lang, question=question[0], source=source, evidence=evidence,
                    answer_keywords=keywords, tags=tuple(dict.fromkeys(tags)), **extra)


def parse_questions(lines: Iterable[str]) -> tuple[list[Question], list[str]]:
    """Questions from JSONL lines, and one message per malformed line (``line N: reason``, naming the field).

    >>> qs, problems = parse_questions(['{"question": "Q", "evidence": ["甲", "乙"], "source": ["a.md", "b.md"]}',
    ...                                 '{"question": "Q", "evidence": 3}'])
    >>> qs[0].evidence, problems
    (('甲', '乙'), ["line 2: field 'evidence' must be a non-empty string or a list of non-empty strings"])
    """
    questions: list[Question] = []
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise _Malformed("a line must be a JSON object")
            kind, lang, qid = data.get("kind", "single"), data.get("lang", "zh"), str(data.get("id", number))
            if kind not in KINDS:
                raise _Malformed(f"field 'kind' must be one of {', '.join(KINDS)}, not {kind!r}")
            if kind == "multiturn":
                turns = data.get("turns")
                if not isinstance(turns, list) or not turns:
                    raise _Malformed("field 'turns' must be a non-empty list of questions")
                parsed: list[Question] = []
                for turn, item in enumerate(turns):
                    parsed.append(_question(item, kind=kind, lang=lang, qid=f"{qid}#{turn + 1}", where=f"turn {turn + 1}: ",
                                            conversation=qid, turn=turn, history=tuple(q.question for q in parsed)))
                questions.extend(parsed)
            else:
                questions.append(_question(data, kind=kind, lang=lang, qid=qid))
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not JSON ({exc.msg})")
        except _Malformed as exc:
            problems.append(f"line {number}: {exc}")
    return questions, problems


def load_questions(path: Path) -> tuple[list[Question], list[str]]:
    """:func:`parse_questions` over a file."""
    return parse_questions(path.read_text(encoding="utf-8").splitlines())
