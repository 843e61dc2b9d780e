"""What the HTTP routes and the MCP tools call: the composition root's objects, safe to use from many threads.

A :class:`Service` holds the settings and one embedding model. Each worker thread gets its own SQLite connection
and its own :class:`~ragkit.store.KnowledgeBase` objects (SQLite connections are not shared between threads,
so a reader never sees another thread's half-done transaction; WAL lets readers go on while an ingest writes).
Writes (ingest, deleting documents or knowledge bases) go through :class:`~ragkit.server.jobs.Writer`, one at a
time. Nothing here imports FastAPI: ``ragkit mcp`` (stdio) uses it too.

>>> import tempfile
>>> from ragkit.config import Settings
>>> service = Service(Settings(data_dir=tempfile.mkdtemp(), embedder="fake:32"))
>>> service.knowledge_bases(None)
[]
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables.utils import AddableDict

from ragkit import build
from ragkit.chains import Conversation, chat_chain
from ragkit.config import Settings
from ragkit.errors import RagkitError
from ragkit.feedback import Feedback
from ragkit.memory import Conversations, Session
from ragkit.output import answer_json, search_json
from ragkit.providers import explain_failure
from ragkit.server.keys import ApiKey, ApiKeys
from ragkit.store import FileRecord, KnowledgeBase, known_kbs

CHAT_MODEL = "ragkit-chat"  # the model id of plain chat with the configured LLM (no retrieval)


class NotFound(RagkitError):
    """A knowledge base, document, session, job or response that does not exist (or that the key cannot see)."""


class Forbidden(RagkitError):
    """The key lacks the scope for this route."""


class Conflict(RagkitError):
    """The request conflicts with the state (e.g. a knowledge base that already exists)."""


def run_chain(conversation: Conversation, question: str, *, session_id: str | None = None,
              history: Sequence[BaseMessage] = ()) -> Iterator[AddableDict]:
    """Stream one answer: a stored conversation (``session_id``: its history is loaded and the turn stored), or
    a stateless one (``history`` given by the caller, nothing stored). The one place that knows how the chain
    is called."""
    if session_id is not None:
        yield from conversation.stream({"question": question, "session_id": session_id})
    else:
        yield from conversation.stream({"question": question, "history": list(history)})


def merge(chunks: Iterator[AddableDict]) -> dict[str, Any]:
    """Stream chunks merged into one result (answer pieces joined)."""
    result: dict[str, Any] = {}
    for chunk in chunks:
        for key, value in chunk.items():
            result[key] = result.get(key, "") + value if key == "answer" else value
    return result


class Service:
    """The server's view of one data directory (see the module docstring)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.embeddings = build.embeddings(settings)
        self._local = threading.local()
        self._opening = threading.Lock()
        self._generation = 0  # bumped when a knowledge base is made or dropped: threads reopen theirs

    # per-thread objects
    def _thread(self) -> dict[str, Any]:
        state = self._local.__dict__
        if state.get("generation") != self._generation:
            conn = state.get("conn") or build.sqlite(self.settings)
            state.clear()
            state.update(generation=self._generation, conn=conn, kbs={}, conversations={})
        return state

    @property
    def conn(self) -> Any:
        """This thread's connection to the data directory's SQLite file."""
        return self._thread()["conn"]

    def keys(self) -> ApiKeys:
        state = self._thread()
        if "keys" not in state:
            state["keys"] = ApiKeys(state["conn"])
        return state["keys"]

    def feedback(self) -> Feedback:
        state = self._thread()
        if "feedback" not in state:
            state["feedback"] = Feedback(state["conn"])
        return state["feedback"]

    def kb(self, name: str) -> KnowledgeBase:
        """This thread's handle on knowledge base ``name`` (whether or not it exists)."""
        kbs = self._thread()["kbs"]
        if name not in kbs:
            with self._opening:  # chromadb's shared client registry is not safe to fill from several threads
                kbs[name] = build.open_kb(self.settings, kb=name, embeddings=self.embeddings)
                kbs[name].exists()  # makes this thread's Chroma client now, under the lock
        return kbs[name]

    def changed(self) -> None:
        """A knowledge base was made or dropped: every thread opens fresh handles."""
        self._generation += 1

    def _conversation(self, kb: str | None) -> Conversation:
        cache = self._thread()["conversations"]
        if kb not in cache:
            if kb is None:  # plain chat with the configured LLM
                handle = self.kb(self.settings.kb)
                chain = chat_chain(build.llm(self.settings, handle))
                cache[kb] = Conversation(chain, build.conversations(handle), kb="",
                                         max_turns=self.settings.history_turns, max_chars=self.settings.history_chars)
            else:
                cache[kb] = build.conversation(self.settings, self.kb(kb))
        return cache[kb]

    # knowledge bases
    def knowledge_bases(self, key: ApiKey | None) -> list[str]:
        """The knowledge bases this key can see."""
        return [name for name in known_kbs(self.conn) if key is None or key.can_see(name)]

    def visible_kb(self, name: str, key: ApiKey | None) -> KnowledgeBase:
        """Knowledge base ``name`` if it exists and the key can see it; else NotFound (the same answer for
        both, so a key learns nothing about knowledge bases it cannot see)."""
        if (key is not None and not key.can_see(name)) or name not in known_kbs(self.conn):
            raise NotFound.of("kb_not_found", kb=name)
        return self.kb(name)

    def kb_info(self, name: str) -> dict[str, Any]:
        kb = self.kb(name)
        built, dim = kb.built_with()
        docs = [r for r in kb.journal.all() if r.hash is not None]
        return {"name": name, "embedder": built or self.settings.embedder, "dimension": dim,
                "documents": len(docs), "chunks": sum(r.chunks for r in docs)}

    # reading
    def search(self, kb: str, query: str, *, k: int | None = None, mode: str | None = None,
               sources: Sequence[str] = ()) -> dict[str, Any]:
        """``ragkit search --json``'s shape."""
        retriever = build.make_retriever(self.settings, self.kb(kb), k=k, mode=mode)
        return search_json(query, retriever.invoke(query, sources=list(sources) or None))

    def documents(self, kb: str) -> list[FileRecord]:
        return [r for r in self.kb(kb).journal.all() if r.hash is not None]

    def section(self, kb: str, source: str, heading: str) -> dict[str, Any]:
        from ragkit.tools import section_text

        doc = section_text(self.kb(kb), source, heading)
        return {"source": doc.metadata.get("source", source), "heading": doc.metadata.get("heading", heading),
                "text": doc.page_content}

    def stream_answer(self, kb: str | None, question: str, *, session_id: str | None = None,
                      history: Sequence[BaseMessage] = (), response_id: str | None = None) -> Iterator[AddableDict]:
        """Stream an answer over ``kb`` (``None``: plain chat with the LLM); the answer is remembered under
        ``response_id`` for feedback. Provider failures become one-line :class:`~ragkit.errors.ProviderError`."""
        conversation = self._conversation(kb)
        earlier = self._earlier_questions(session_id, history)
        result: dict[str, Any] = {}
        try:
            for chunk in run_chain(conversation, question, session_id=session_id, history=history):
                for key, value in chunk.items():
                    result[key] = result.get(key, "") + value if key == "answer" else value
                yield chunk
        except Exception as exc:
            failure = explain_failure(exc, self.settings.llm, build.provider_options(self.settings))
            if failure is None:
                raise
            raise failure from exc
        if response_id is not None:
            self.feedback().remember(
                response_id, kb=kb or "", question=question, answer=result.get("answer", ""),
                citations=[c.as_json() for c in result.get("citations", [])],
                abstained=bool(result.get("abstained")), session=session_id, history=earlier)

    def _earlier_questions(self, session_id: str | None, history: Sequence[BaseMessage]) -> list[str]:
        messages = list(history)
        if session_id is not None:
            messages = Conversations(self.conn).history(session_id).messages
        return [m.text for m in messages if isinstance(m, HumanMessage)]

    def ask(self, kb: str, question: str, *, session_id: str | None = None,
            history: Sequence[BaseMessage] = ()) -> dict[str, Any]:
        """``ragkit ask --json``'s shape, plus the ``response_id`` to rate it by."""
        response_id = new_response_id()
        result = merge(self.stream_answer(kb, question, session_id=session_id, history=history,
                                          response_id=response_id))
        return {**answer_json(question, result, session_id), "response_id": response_id}

    # conversations
    def sessions(self, kbs: Sequence[str]) -> list[Session]:
        return [s for s in Conversations(self.conn).list() if s.kb in kbs]

    def session(self, session_id: str, kbs: Sequence[str]) -> Session:
        found = next((s for s in Conversations(self.conn).list() if s.id == session_id and s.kb in kbs), None)
        if found is None:
            raise NotFound.of("session_not_found", id=session_id)
        return found

    def messages(self, session_id: str) -> list[dict[str, Any]]:
        out = []
        for m in Conversations(self.conn).history(session_id).messages:
            item: dict[str, Any] = {"role": "user" if isinstance(m, HumanMessage) else "assistant", "content": m.text}
            if isinstance(m, AIMessage):
                item["citations"] = [{k: c.get(k) for k in ("n", "source", "heading", "chunk_id", "quote")}
                                     for c in m.additional_kwargs.get("citations", [])]
            out.append(item)
        return out

    def delete_session(self, session_id: str) -> None:
        Conversations(self.conn).delete(session_id)


def new_response_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def session_json(s: Session) -> dict[str, Any]:
    return asdict(s)


def document_json(r: FileRecord) -> dict[str, Any]:
    return {"source": r.source, "chunks": r.chunks, "title": r.title, "bytes": r.size}
