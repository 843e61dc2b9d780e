"""A workspace: everything an interactive front end needs, on top of the composition root.

It holds the settings of one user session (the Streamlit app keeps one per browser tab) and answers in terms a
UI can show directly: knowledge bases, documents, uploads with per-file errors, provider readiness, example
questions, conversations, and streamed answers. It contains no pipeline logic of its own.

>>> import tempfile
>>> ws = Workspace(Settings(data_dir=tempfile.mkdtemp(), embedder="fake:32"))
>>> ws.knowledge_bases(), ws.kb.exists()
(['default'], False)
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage

from ragkit import build
from ragkit.agent import supports_tools
from ragkit.chains import Conversation, chat_chain
from ragkit.config import Settings
from ragkit.errors import LoadError, RagkitError
from ragkit.formats.limits import Limits
from ragkit.feedback import Feedback, Rated
from ragkit.formats.ocr import OcrOptions
from ragkit.ingest import Event, Failure, IngestReport, SplitOptions, delete_source, ingest
from ragkit.memory import Session
from ragkit.providers import CHAT_PROVIDERS, EMBEDDING_PROVIDERS, Provider, is_generative, is_installed
from ragkit.store import FileRecord, KnowledgeBase, known_kbs

UPLOADS = build.UPLOADS_DIR
MAX_NAME_BYTES = 200  # stored upload names: under the usual 255-byte limit, with room for "-2"
_SAFE_NAME = re.compile(r"[^\w.\-\u4e00-\u9fff]+")
# a named subject: a Latin-script name with a capital (ChatGLM, GPT-4, LLaMA 系列), not a common word
_SUBJECT = re.compile(r"[A-Za-z]*[A-Z][A-Za-z0-9.\-]*(?:\s?[A-Za-z0-9.\-]+)?(?:\s?系列|\s?模型)?")


@dataclass(frozen=True)
class ProviderState:
    """A registry entry and whether it can be used now (installed, key present)."""

    kind: str  # "llm" or "embeddings"
    name: str
    example: str
    summary: str
    ready: bool
    reason: str


def provider_states(settings: Settings) -> list[ProviderState]:
    """Every provider of both registries with its readiness under ``settings``."""
    states = []
    for kind, table in (("llm", CHAT_PROVIDERS), ("embeddings", EMBEDDING_PROVIDERS)):
        for provider in table.values():
            ready, reason = _readiness(provider, settings)
            states.append(ProviderState(kind, provider.name, provider.example, provider.summary, ready, reason))
    return states


def _readiness(provider: Provider, settings: Settings) -> tuple[bool, str]:
    if not is_installed(provider):
        return False, f"pip install 'ragkit[{provider.extra}]'"
    if provider.key_setting is not None:
        has_key = getattr(settings, provider.key_setting) is not None
        local = provider.name == "openai" and settings.openai_base_url is not None
        if not has_key and not local:
            return False, f"{provider.key_setting.upper()} / RAGKIT_{provider.key_setting.upper()}"
    return True, ""


def safe_filename(name: str, max_bytes: int = MAX_NAME_BYTES) -> str:
    """A file name for an upload, without path parts or odd characters, at most ``max_bytes`` in UTF-8.

    A longer name keeps its extension and gets a short hash of the whole name, so two long names sharing a
    beginning stay apart.

    >>> safe_filename("../../etc/passwd"), safe_filename("我的 笔记.md"), safe_filename(r"..\\..\\x.md")
    ('passwd', '我的_笔记.md', 'x.md')
    >>> long = safe_filename("长" * 90 + ".md"); (len(long.encode()), long[-13:])
    (198, '长-ee0babf8.md')
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = _SAFE_NAME.sub("_", base).strip("._") or "upload"
    if len(base.encode("utf-8", "replace")) <= max_bytes:
        return base
    stem, dot, ext = base.rpartition(".")
    stem, ext = (stem, dot + ext) if stem and len(ext) <= 16 else (base, "")
    tail = f"-{hashlib.sha1(name.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}{ext}"
    room = max_bytes - len(tail.encode())
    return stem.encode("utf-8", "replace")[:room].decode("utf-8", "ignore") + tail


def _unique(stored: str, taken: set[str]) -> str:
    """``stored``, or ``stem-2.ext``, ``stem-3.ext``... when an earlier file of the batch has it."""
    stem, dot, ext = stored.rpartition(".")
    stem, ext = (stem, dot + ext) if stem else (stored, "")
    n = 1
    while stored in taken:
        n += 1
        stored = f"{stem}-{n}{ext}"
    return stored


def upload_folder(data_dir: str | Path, kb: KnowledgeBase) -> Path:
    """Where uploads to ``kb`` are kept (inside the data directory)."""
    return Path(data_dir) / UPLOADS / kb.collection_name


def _write(path: Path, data: bytes, private: bool) -> None:
    """Write ``data`` to ``path`` (0600 when ``private``), unless it already holds exactly that."""
    if path.exists() and path.read_bytes() == data:
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o666)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    if private:
        os.chmod(path, 0o600)


@dataclass(frozen=True)
class Saved:
    """An uploaded file as stored: its uploaded name, its path, and why it got another name (if it did)."""

    name: str
    path: Path
    note: RagkitError | None = None


def save_uploads(folder: Path, files: Sequence[tuple[str, bytes]], *,
                 private: bool = True) -> tuple[list[Saved], list[Failure]]:
    """Save uploaded files in ``folder`` under safe names; returns the files saved and the files refused.

    The one place uploads are written (the app and the server both use it). A name is reduced to a plain file
    name of at most 200 bytes (:func:`safe_filename`), so nothing lands outside ``folder`` and no name is too
    long for the file system. Two files of one upload never overwrite each other: the second one of a name is
    stored as ``name-2.ext`` and the rename is reported (:attr:`Saved.note`); a file that cannot be written
    fails alone. ``private`` makes the folder 0700 and the files 0600.

    >>> import tempfile
    >>> saved, failed = save_uploads(Path(tempfile.mkdtemp()), [("a.md", b"# A"), ("x/a.md", b"# B")])
    >>> [(s.name, s.path.name, str(s.note)) for s in saved]
    [('a.md', 'a.md', 'None'), ('x/a.md', 'a-2.md', 'stored as a-2.md: a.md of this upload has the same name')]
    """
    folder.mkdir(mode=0o700 if private else 0o777, parents=True, exist_ok=True)
    saved: list[Saved] = []
    failed: list[Failure] = []
    taken: dict[str, str] = {}
    for name, data in files:
        safe = safe_filename(name)
        stored = _unique(safe, set(taken))
        note = None
        if stored != safe:
            note = LoadError.of("renamed_taken", stored=stored, other=taken[safe])
        elif len(safe_filename(name, 1 << 30).encode("utf-8", "replace")) > MAX_NAME_BYTES:
            note = LoadError.of("renamed_long", stored=stored, limit=MAX_NAME_BYTES)
        try:
            _write(folder / stored, data, private)
        except OSError as exc:
            failed.append(Failure(name, LoadError.of("os_error", detail=exc.strerror or type(exc).__name__)))
            continue
        taken[stored] = name
        saved.append(Saved(name, folder / stored, note))
    return saved, failed


def ingest_uploads(kb: KnowledgeBase, files: Sequence[tuple[str, bytes]], *, data_dir: str | Path,
                   split: SplitOptions, max_bytes: int, progress: Callable[[Event], None] | None = None,
                   limits: Limits = Limits(), private: bool = True, ocr: OcrOptions = OcrOptions()) -> IngestReport:
    """Save uploaded files (:func:`save_uploads`) and ingest them; each refused or renamed file is reported
    under its uploaded name (``report.failed``, ``report.notices``)."""
    saved, refused = save_uploads(upload_folder(data_dir, kb), files, private=private)
    report = ingest(kb, [s.path for s in saved], split=split, max_bytes=max_bytes, progress=progress, limits=limits,
                    ocr=ocr)
    names = {key: s.name for s in saved for key in (s.path.name, str(s.path))}  # a bad argument is named by path
    report.failed = refused + [Failure(names.get(f.source, f.source), f.error) for f in report.failed]
    failed = {f.source for f in report.failed}
    report.notices += [Failure(s.name, s.note) for s in saved if s.note is not None and s.name not in failed]
    return report


class Workspace:
    """One user's view of a data directory: a current knowledge base, its conversations, its settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.kb: KnowledgeBase = build.open_kb(settings)

    def with_settings(self, **changes: Any) -> Workspace:
        """A workspace with some settings changed (takes effect at once, nothing restarts)."""
        return Workspace(self.settings.model_copy(update=changes))

    # knowledge bases and documents
    def knowledge_bases(self) -> list[str]:
        """Knowledge bases of the data directory (the current one included)."""
        return sorted({*known_kbs(self.kb.conn), self.kb.name})

    def documents(self) -> list[FileRecord]:
        return [r for r in self.kb.journal.all() if r.hash is not None]

    def delete(self, source: str) -> int:
        with self.kb.write_lock():
            return delete_source(self.kb, source)

    def ingest_paths(self, paths: Sequence[str | Path], progress: Callable[[Event], None] | None = None) -> IngestReport:
        return ingest(self.kb, paths, split=build.split_options(self.settings),
                      max_bytes=int(self.settings.max_file_mb * 1_000_000), progress=progress,
                      limits=build.limits(self.settings), ocr=build.ocr_options(self.settings))

    def upload(self, files: Sequence[tuple[str, bytes]],
               progress: Callable[[Event], None] | None = None) -> IngestReport:
        """Save uploaded files under the data directory and ingest them (unchanged files change nothing)."""
        return ingest_uploads(self.kb, files, data_dir=self.settings.data_dir, split=build.split_options(self.settings),
                              max_bytes=int(self.settings.max_file_mb * 1_000_000), progress=progress,
                              limits=build.limits(self.settings), private=self.settings.private_data,
                              ocr=build.ocr_options(self.settings))

    def example_questions(self, n: int = 4) -> list[str]:
        """Questions about named subjects the documents have sections on (e.g. "ChatGLM 是什么？")."""
        seen: dict[str, str] = {}  # name -> title as written
        for rows in self.kb.lexical.iter_chunks(batch=500):
            for _, _, meta, _ in rows:
                path = str(meta.get("heading", "")).split(" > ")
                title = re.sub(r"^[\d.、\s]+|^[一二三四五六七八九十]+[、.]\s*", "", path[-1]).strip()
                if len(path) >= 2 and _SUBJECT.fullmatch(title):
                    seen.setdefault(re.sub(r"\s|系列|模型", "", title), title)
            if len(seen) >= 4 * n:
                break
        names = list(seen)[:: max(1, len(seen) // n)][:n]
        if self.settings.lang == "zh":
            return [f"{seen[name]} 是什么？" for name in names]
        return [f"What is {name}?" for name in names]

    # conversations and answers
    def sessions(self) -> list[Session]:
        return build.conversations(self.kb).list(kb=self.kb.name)

    def messages(self, session_id: str) -> list[BaseMessage]:
        return build.conversations(self.kb).history(session_id).messages

    def rate_answer(self, session_id: str, index: int, rating: object, comment: str = "") -> Rated:
        """Rate the answer at ``index`` of a conversation's messages (👍 1 / 👎 -1, with a comment); rating it
        again replaces the rating. ``ragkit feedback export`` turns ratings into evaluation questions."""
        messages = self.messages(session_id)
        answer = messages[index]
        asked = [m.text for m in messages[:index] if m.type == "human"]
        return Feedback(self.kb.conn).rate(
            kb=self.kb.name, question=asked[-1] if asked else "", answer=answer.text,
            citations=answer.additional_kwargs.get("citations", []), rating=rating, comment=comment,
            abstained=bool(answer.additional_kwargs.get("abstained")), session=session_id, history=asked[:-1],
            response_id=f"app-{session_id}-{index}")

    @staticmethod
    def new_session() -> str:
        return uuid.uuid4().hex[:12]

    @property
    def generative(self) -> bool:
        return is_generative(self.settings.llm)

    @property
    def agent_ready(self) -> bool:
        """Whether the configured LLM can call tools (agent mode falls back to Q&A otherwise)."""
        return supports_tools(build.llm(self.settings, self.kb))

    def answer(self, question: str, session_id: str, *, mode: str = "kb") -> Iterator[dict[str, Any]]:
        """Stream an answer: RAG over the knowledge base (``mode="kb"``), the tool-using agent (``"agent"``) or
        plain chat with the LLM (``"chat"``)."""
        if mode == "agent":
            yield from build.agent(self.settings, self.kb).stream({"question": question, "session_id": session_id})
            return
        if mode == "chat":
            chain = chat_chain(build.llm(self.settings, self.kb))
            conversation = Conversation(chain, build.conversations(self.kb), kb=self.kb.name,
                                        max_turns=self.settings.history_turns, max_chars=self.settings.history_chars)
        else:
            conversation = build.conversation(self.settings, self.kb)
        yield from conversation.stream({"question": question, "session_id": session_id})
