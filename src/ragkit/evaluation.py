"""Retrieval metrics with the definitions of the evaluation README.

Text is compared after Unicode NFKC, lower-casing and removing all whitespace. A chunk *hits* when
it contains the evidence, or (when a chunk boundary cut it) at least 80% of it as one contiguous
piece.

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

_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """NFKC, lower case, no whitespace."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", text).lower())


def contains_evidence(chunk: str, evidence: str, *, min_fraction: float = 0.8) -> bool:
    """Whether ``chunk`` holds ``evidence`` whole, or ``min_fraction`` of it as one contiguous piece."""
    chunk_n, ev_n = normalize(chunk), normalize(evidence)
    if not ev_n:
        return False
    if ev_n in chunk_n:
        return True
    match = SequenceMatcher(None, ev_n, chunk_n, autojunk=False).find_longest_match(0, len(ev_n), 0, len(chunk_n))
    return match.size >= min_fraction * len(ev_n)


def first_hit_rank(chunks: Sequence[str], evidence: str, *, min_fraction: float = 0.8) -> int | None:
    """1-based rank of the first chunk that contains the evidence, or None."""
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


@dataclass(frozen=True)
class Question:
    """One question to ask; a multi-turn conversation becomes several, sharing ``conversation``."""

    id: str
    kind: str  # single, multiturn, unanswerable
    lang: str
    question: str
    source: str | None = None
    evidence: str | None = None
    answer_keywords: tuple[str, ...] = ()
    conversation: str | None = None
    turn: int = 0
    history: tuple[str, ...] = field(default=())


def _question(data: dict[str, Any], *, kind: str, lang: str, qid: str, **extra: Any) -> Question:
    return Question(
        id=qid, kind=kind, lang=data.get("lang", lang), question=data["question"], source=data.get("source"),
        evidence=data.get("evidence"), answer_keywords=tuple(data.get("answer_keywords", ())), **extra,
    )


def parse_questions(lines: Iterable[str]) -> tuple[list[Question], list[str]]:
    """Questions from JSONL lines, and one message per malformed line (``line N: reason``)."""
    questions: list[Question] = []
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            kind, lang, qid = data.get("kind", "single"), data.get("lang", "zh"), str(data.get("id", number))
            if kind == "multiturn":
                history: list[str] = []
                for turn, item in enumerate(data["turns"]):
                    questions.append(_question(item, kind=kind, lang=lang, qid=f"{qid}#{turn + 1}",
                                               conversation=qid, turn=turn, history=tuple(history)))
                    history.append(item["question"])
            elif kind in ("single", "unanswerable"):
                questions.append(_question(data, kind=kind, lang=lang, qid=qid))
            else:
                raise ValueError(f"unknown kind {kind!r}")
        except (ValueError, KeyError, TypeError) as exc:
            reason = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc).split("\n")[0]
            problems.append(f"line {number}: {reason}")
    return questions, problems


def load_questions(path: Path) -> tuple[list[Question], list[str]]:
    """:func:`parse_questions` over a file."""
    return parse_questions(path.read_text(encoding="utf-8").splitlines())
