"""Conversation memory: chat history per session id, persisted in ragkit's SQLite file.

Each session has its own rows (no shared mutable default anywhere); what goes back into a prompt is
bounded by :func:`recent` (a turn budget and a character budget). Messages keep their metadata (an
answer's citations, for instance), so a conversation can be shown again after a restart.

>>> import sqlite3
>>> from langchain_core.messages import AIMessage, HumanMessage
>>> store = Conversations(sqlite3.connect(":memory:"))
>>> history = store.history("s1", kb="default")
>>> history.add_messages([HumanMessage("ChatGLM 有多少参数？"), AIMessage("62 亿。[1]")])
>>> [m.content for m in store.history("s1").messages], store.list()[0].title
(['ChatGLM 有多少参数？', '62 亿。[1]'], 'ChatGLM 有多少参数？')
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass

from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.messages import BaseMessage, HumanMessage, message_to_dict, messages_from_dict


@dataclass(frozen=True)
class Session:
    """A conversation as listed: its id, knowledge base, first question, size and last activity."""

    id: str
    kb: str
    title: str
    messages: int
    updated: float


def _schema(conn: sqlite3.Connection) -> None:
    with conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS chat_sessions (id TEXT PRIMARY KEY, kb TEXT NOT NULL DEFAULT '',"
            " title TEXT NOT NULL DEFAULT '', created REAL NOT NULL, updated REAL NOT NULL)"
        )
        conn.execute(
            "CREATE TABLE IF NOT EXISTS chat_messages (id INTEGER PRIMARY KEY, session TEXT NOT NULL,"
            " message TEXT NOT NULL, created REAL NOT NULL)"
        )
        conn.execute("CREATE INDEX IF NOT EXISTS chat_messages_session ON chat_messages(session, id)")


class SQLiteChatHistory(BaseChatMessageHistory):
    """One session's messages (a LangChain chat message history)."""

    def __init__(self, conn: sqlite3.Connection, session_id: str, *, kb: str = "") -> None:
        self._conn, self.session_id, self.kb = conn, session_id, kb

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        rows = self._conn.execute("SELECT message FROM chat_messages WHERE session = ? ORDER BY id",
                                  (self.session_id,))
        return messages_from_dict([json.loads(r[0]) for r in rows])

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        now = time.time()
        title = next((m.text for m in messages if isinstance(m, HumanMessage)), "")[:80]
        with self._conn:
            self._conn.execute(
                "INSERT INTO chat_sessions(id, kb, title, created, updated) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET updated = excluded.updated, "
                "title = CASE WHEN chat_sessions.title = '' THEN excluded.title ELSE chat_sessions.title END",
                (self.session_id, self.kb, title, now, now),
            )
            self._conn.executemany(
                "INSERT INTO chat_messages(session, message, created) VALUES (?, ?, ?)",
                [(self.session_id, json.dumps(message_to_dict(m), ensure_ascii=False), now) for m in messages],
            )

    def clear(self) -> None:
        with self._conn:
            self._conn.execute("DELETE FROM chat_messages WHERE session = ?", (self.session_id,))
            self._conn.execute("DELETE FROM chat_sessions WHERE id = ?", (self.session_id,))


def recent(messages: Sequence[BaseMessage], *, max_turns: int = 4, max_chars: int = 2000) -> list[BaseMessage]:
    """The latest whole turns (a question and what followed it) within both budgets, oldest first.

    >>> from langchain_core.messages import AIMessage
    >>> turns = [HumanMessage("问一"), AIMessage("答一"), HumanMessage("问二"), AIMessage("答二")]
    >>> [m.content for m in recent(turns, max_turns=1)]
    ['问二', '答二']
    """
    starts = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage)]
    kept: list[BaseMessage] = []
    used = turns = 0
    for start, end in reversed(list(zip(starts, [*starts[1:], len(messages)], strict=False))):
        turn = list(messages[start:end])
        size = sum(len(m.text) for m in turn)
        if turns >= max_turns or (kept and used + size > max_chars):
            break
        kept[:0] = turn
        used, turns = used + size, turns + 1
    return kept


class Conversations:
    """All sessions of a data directory."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        _schema(conn)

    def history(self, session_id: str, *, kb: str = "") -> SQLiteChatHistory:
        return SQLiteChatHistory(self._conn, session_id, kb=kb)

    def list(self, *, kb: str | None = None) -> list[Session]:
        """Sessions, most recently active first (optionally of one knowledge base)."""
        sql = ("SELECT s.id, s.kb, s.title, count(m.id), s.updated FROM chat_sessions s LEFT JOIN chat_messages m "
               "ON m.session = s.id")
        params: tuple[str, ...] = ()
        if kb is not None:
            sql, params = sql + " WHERE s.kb = ?", (kb,)
        sql += " GROUP BY s.id ORDER BY s.updated DESC"
        return [Session(*row) for row in self._conn.execute(sql, params)]

    def delete(self, session_id: str) -> None:
        self.history(session_id).clear()
