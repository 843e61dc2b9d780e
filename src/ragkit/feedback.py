"""Feedback on answers (👍/👎 and a comment), and its export as an evaluation question set.

Answers the server gives are remembered by response id (:meth:`Feedback.remember`), so a client can rate one
later by its id alone; the app rates an answer with its question and citations directly (:meth:`Feedback.rate`).
:func:`export_questions` turns rated answers into lines of the ``ragkit eval`` question format, so the questions
a team really asked become its regression set:

* 👍 on an answer: ``{"kind": "single", "question", "evidence": <the first cited sentence>, "source", ...}``;
* 👍 on an abstention: ``{"kind": "unanswerable", "question", ...}`` (nothing in the documents answers it);
* 👎: the same shape without ``evidence`` and with ``"needs_review": true``: the expected evidence is for a
  person to fill in (``ragkit eval`` still measures whether the answer is given and cited);
* a question asked after earlier turns: ``{"kind": "multiturn", "turns": [...]}``, the earlier questions first.

Every line also carries ``answer_given``, ``citations``, ``rating`` (1 or -1), ``comment`` and ``kb``.

>>> import sqlite3
>>> fb = Feedback(sqlite3.connect(":memory:"))
>>> fb.remember("r1", kb="default", question="ChatGLM 需要多少显存？", answer="7G 显存。[1]", citations=[
...     {"n": 1, "source": "glm.md", "heading": "GLM", "chunk_id": "c1", "quote": "ChatGLM 能在 7G 显存下微调。"}])
>>> fb.rate_response("r1", rating=1, comment="准确").rating
1
>>> line = export_questions(fb.rated())[0]
>>> line["kind"], line["evidence"], line["answer_given"]
('single', 'ChatGLM 能在 7G 显存下微调。', '7G 显存。[1]')
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ragkit.errors import RagkitError
from ragkit.prompts import lang_of

KEEP_RESPONSES = 20_000  # answers kept for rating by id; older ones are forgotten


@dataclass(frozen=True)
class Rated:
    """An answer with its rating."""

    id: int
    response_id: str | None
    kb: str
    session: str | None
    question: str
    history: tuple[str, ...]  # earlier questions of the conversation, oldest first
    answer: str
    citations: tuple[dict[str, Any], ...]
    abstained: bool
    rating: int  # 1 or -1
    comment: str
    created: float

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "response_id": self.response_id, "kb": self.kb, "session": self.session,
                "question": self.question, "history": list(self.history), "answer": self.answer,
                "citations": list(self.citations), "abstained": self.abstained, "rating": self.rating,
                "comment": self.comment, "created": self.created}


def parse_rating(value: object) -> int:
    """1 for a thumbs-up, -1 for a thumbs-down; accepts 1/-1, up/down, 👍/👎.

    >>> parse_rating("up"), parse_rating("👎"), parse_rating(-1)
    (1, -1, -1)
    """
    table = {"1": 1, "+1": 1, "up": 1, "👍": 1, "good": 1, "-1": -1, "down": -1, "👎": -1, "bad": -1}
    rating = table.get(str(value).strip().lower())
    if rating is None:
        raise RagkitError.of("feedback_rating", value=value)
    return rating


class Feedback:
    """Answers given (by response id) and their ratings, in ragkit's SQLite file."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        with conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS responses (id TEXT PRIMARY KEY, kb TEXT NOT NULL, session TEXT,"
                " question TEXT NOT NULL, history TEXT NOT NULL DEFAULT '[]', answer TEXT NOT NULL,"
                " citations TEXT NOT NULL, abstained INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL)"
            )
            conn.execute(
                "CREATE TABLE IF NOT EXISTS feedback (id INTEGER PRIMARY KEY, response_id TEXT, kb TEXT NOT NULL,"
                " session TEXT, question TEXT NOT NULL, history TEXT NOT NULL DEFAULT '[]', answer TEXT NOT NULL,"
                " citations TEXT NOT NULL, abstained INTEGER NOT NULL DEFAULT 0, rating INTEGER NOT NULL,"
                " comment TEXT NOT NULL DEFAULT '', created REAL NOT NULL)"
            )

    def remember(self, response_id: str, *, kb: str, question: str, answer: str,
                 citations: Sequence[dict[str, Any]], abstained: bool = False, session: str | None = None,
                 history: Sequence[str] = ()) -> None:
        """Keep an answer the server gave, so it can be rated by ``response_id``."""
        with self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO responses(id, kb, session, question, history, answer, citations, abstained,"
                " created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (response_id, kb, session, question, json.dumps(list(history), ensure_ascii=False), answer,
                 json.dumps(list(citations), ensure_ascii=False), int(abstained), time.time()),
            )
            if uuid.uuid4().int % 1000 == 0:  # now and then, forget the oldest
                self._conn.execute("DELETE FROM responses WHERE id NOT IN (SELECT id FROM responses ORDER BY"
                                   " created DESC LIMIT ?)", (KEEP_RESPONSES,))

    def response(self, response_id: str) -> dict[str, Any] | None:
        row = self._conn.execute(
            "SELECT kb, session, question, history, answer, citations, abstained FROM responses WHERE id = ?",
            (response_id,)).fetchone()
        if row is None:
            return None
        kb, session, question, history, answer, citations, abstained = row
        return {"kb": kb, "session": session, "question": question, "history": json.loads(history),
                "answer": answer, "citations": json.loads(citations), "abstained": bool(abstained)}

    def rate_response(self, response_id: str, *, rating: object, comment: str = "") -> Rated:
        """Rate an answer the server gave; an unknown id raises a RagkitError naming it."""
        given = self.response(response_id)
        if given is None:
            raise RagkitError.of("feedback_unknown", id=response_id)
        return self.rate(response_id=response_id, rating=rating, comment=comment, **given)

    def rate(self, *, kb: str, question: str, answer: str, citations: Sequence[dict[str, Any]], rating: object,
             comment: str = "", abstained: bool = False, session: str | None = None, history: Sequence[str] = (),
             response_id: str | None = None) -> Rated:
        """Record a rating (a second rating of the same response replaces the first)."""
        value = parse_rating(rating)
        with self._conn:
            if response_id is not None:
                self._conn.execute("DELETE FROM feedback WHERE response_id = ?", (response_id,))
            cursor = self._conn.execute(
                "INSERT INTO feedback(response_id, kb, session, question, history, answer, citations, abstained,"
                " rating, comment, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (response_id, kb, session, question, json.dumps(list(history), ensure_ascii=False), answer,
                 json.dumps([_short(c) for c in citations], ensure_ascii=False), int(abstained), value,
                 comment.strip(), time.time()),
            )
        return self.rated(ids=[int(cursor.lastrowid)])[0]

    def rated(self, *, kb: str | None = None, ids: Sequence[int] | None = None) -> list[Rated]:
        """Rated answers, oldest first."""
        sql = ("SELECT id, response_id, kb, session, question, history, answer, citations, abstained, rating,"
               " comment, created FROM feedback")
        where, params = [], []
        if kb is not None:
            where, params = ["kb = ?"], [kb]
        if ids is not None:
            where.append(f"id IN ({','.join('?' * len(ids))})")
            params.extend(ids)
        sql += (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
        return [Rated(r[0], r[1], r[2], r[3], r[4], tuple(json.loads(r[5])), r[6], tuple(json.loads(r[7])),
                      bool(r[8]), r[9], r[10], r[11]) for r in self._conn.execute(sql, params)]


def _short(citation: dict[str, Any]) -> dict[str, Any]:
    """The stable citation fields (n, source, heading, chunk_id, quote)."""
    return {k: citation.get(k) for k in ("n", "source", "heading", "chunk_id", "quote")}


def export_questions(rated: Sequence[Rated]) -> list[dict[str, Any]]:
    """Rated answers as ``ragkit eval`` questions (see the module docstring)."""
    lines = []
    for r in rated:
        item: dict[str, Any] = {"question": r.question, "lang": lang_of(r.question)}
        if r.rating > 0 and not r.abstained and r.citations:
            item["evidence"] = r.citations[0].get("quote") or ""
            item["source"] = r.citations[0].get("source")
        if r.rating < 0:
            item["needs_review"] = True
        extra = {"answer_given": r.answer, "citations": list(r.citations), "rating": r.rating, "comment": r.comment,
                 "kb": r.kb, "id": f"feedback-{r.id}"}
        if r.history:
            turns = [{"question": q, "lang": lang_of(q)} for q in r.history] + [item]
            lines.append({"kind": "multiturn", "lang": item["lang"], "turns": turns, **extra})
        else:
            kind = "unanswerable" if r.abstained and r.rating > 0 else "single"
            lines.append({"kind": kind, **item, **extra})
    return lines
