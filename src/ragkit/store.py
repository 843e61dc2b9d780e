"""The knowledge base: one Chroma collection + a BM25 index + LangChain's record manager + a file journal.

:class:`HybridStore` is the LangChain ``VectorStore`` that ``langchain_core.indexing.index`` writes to: it
embeds each chunk with its heading path in front (``"A > B\\n<text>"``; measured better for both BM25 and
vectors), writes the vector to Chroma and the tokens to the BM25 index, and keeps ``page_content`` as the
chunk's own text. Chroma's default embedding function is never used: vectors always come from ragkit.

The collection's metadata records the embedder spec and dimension it was built with; opening it with
another embedder raises :class:`~ragkit.errors.StoreError` saying how to rebuild.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from langchain_chroma import Chroma
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from ragkit.errors import StoreError
from ragkit.lexical import LexicalIndex
from ragkit.records import SQLiteRecordManager

META_KB, META_EMBEDDER, META_DIM = "ragkit_kb", "ragkit_embedder", "ragkit_dim"
_COLLECTION_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,50}[a-zA-Z0-9]$")


def contextual_text(doc: Document) -> str:
    """What gets embedded and BM25-indexed: the heading path, then the chunk text."""
    heading = doc.metadata.get("heading")
    return f"{heading}\n{doc.page_content}" if heading else doc.page_content


def collection_name(kb: str) -> str:
    """Chroma collection for a knowledge base name (any text, Chinese included).

    >>> collection_name("docs"), collection_name("资料库")[:7]
    ('ragkit-docs', 'ragkit-')
    """
    name = f"ragkit-{kb}"
    if _COLLECTION_NAME.match(name) and ".." not in name:
        return name
    return "ragkit-" + hashlib.sha1(kb.encode("utf-8")).hexdigest()[:16]


def chroma_client(*, persist_dir: Path | None = None, url: str | None = None) -> Any:
    """A Chroma client: HTTP when ``url`` is given, else persistent in ``persist_dir``, else in memory."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = ChromaSettings(anonymized_telemetry=False)  # a fresh object: clients mutate it
    if url:
        parsed = urlparse(url if "//" in url else f"http://{url}")
        if not parsed.hostname:
            raise StoreError(f"RAGKIT_CHROMA_URL {url!r} is not a URL like http://127.0.0.1:8000")
        port = parsed.port or (443 if parsed.scheme == "https" else 8000)
        try:
            return chromadb.HttpClient(host=parsed.hostname, port=port, ssl=parsed.scheme == "https",
                                       settings=settings)
        except Exception as exc:  # chromadb raises ValueError/ConnectionError variants
            raise StoreError.of("chroma_unreachable", url=url, detail=str(exc)) from exc
    if persist_dir is None:
        return chromadb.EphemeralClient(settings=settings)
    persist_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(persist_dir), settings=settings)


class HybridStore(VectorStore):
    """Chroma vectors + BM25 tokens, written together; searches go to Chroma.

    >>> import sqlite3
    >>> from ragkit.providers import make_embeddings
    >>> store = HybridStore.in_memory(make_embeddings("fake:32"))
    >>> store.add_documents([Document("ChatGLM 可以在 7G 显存下微调", metadata={"source": "a.md"})], ids=["c1"])
    ['c1']
    >>> store.similarity_search("ChatGLM 显存", k=1)[0].id, store.lexical.count()
    ('c1', 1)
    """

    def __init__(self, chroma: Chroma, lexical: LexicalIndex, embeddings: Embeddings) -> None:
        self.chroma = chroma
        self.lexical = lexical
        self._embeddings = embeddings

    @classmethod
    def in_memory(cls, embeddings: Embeddings, *, kb: str = "default") -> HybridStore:
        """A throwaway store (in-memory Chroma and SQLite)."""
        chroma = Chroma(collection_name=f"mem-{uuid.uuid4().hex[:12]}", client=chroma_client(),
                        embedding_function=embeddings, collection_metadata={"hnsw:space": "cosine"})
        conn = sqlite3.connect(":memory:", check_same_thread=False)
        return cls(chroma, LexicalIndex(conn, kb=kb), embeddings)

    @property
    def embeddings(self) -> Embeddings:
        return self._embeddings

    def add_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        ids = kwargs.get("ids") or [None] * len(documents)
        ids = [i or d.id or str(uuid.uuid4()) for i, d in zip(ids, documents, strict=True)]
        if not documents:
            return []
        contexts = [contextual_text(d) for d in documents]
        vectors = self._embeddings.embed_documents(contexts)
        texts = [d.page_content for d in documents]
        metas = [dict(d.metadata) or None for d in documents]
        collection = self.chroma._collection
        with_meta = [n for n, m in enumerate(metas) if m]
        without = [n for n, m in enumerate(metas) if not m]
        for group, use_meta in ((with_meta, True), (without, False)):
            if group:
                collection.upsert(
                    ids=[ids[n] for n in group], embeddings=[vectors[n] for n in group],
                    documents=[texts[n] for n in group],
                    **({"metadatas": [metas[n] for n in group]} if use_meta else {}),
                )
        self.lexical.upsert(
            [(ids[n], texts[n], documents[n].metadata) for n in range(len(documents))], tokens=contexts
        )
        return ids

    def add_texts(
        self, texts: Iterable[str], metadatas: list[dict] | None = None, *, ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        texts = list(texts)
        metadatas = metadatas or [{} for _ in texts]
        docs = [Document(t, metadata=m) for t, m in zip(texts, metadatas, strict=True)]
        return self.add_documents(docs, ids=ids)

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        if ids:
            self.chroma.delete(ids=list(ids))  # vectors first: a crash leaves only BM25 rows to clean
            self.lexical.delete(ids)
        return True

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        return self.chroma.get_by_ids(ids)

    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        return self.chroma.similarity_search(query, k=k, **kwargs)

    def similarity_search_with_score(self, query: str, k: int = 4, **kwargs: Any) -> list[tuple[Document, float]]:
        return self.chroma.similarity_search_with_score(query, k=k, **kwargs)

    def similarity_search_by_vector(self, embedding: list[float], k: int = 4, **kwargs: Any) -> list[Document]:
        return self.chroma.similarity_search_by_vector(embedding, k=k, **kwargs)

    def _select_relevance_score_fn(self):  # noqa: ANN202 - LangChain's hook
        return self.chroma._select_relevance_score_fn()

    @classmethod
    def from_texts(
        cls, texts: list[str], embedding: Embeddings, metadatas: list[dict] | None = None, **kwargs: Any
    ) -> HybridStore:
        store = cls.in_memory(embedding)
        store.add_texts(texts, metadatas, ids=kwargs.get("ids"))
        return store


@dataclass(frozen=True)
class FileRecord:
    """One ingested file, as the journal knows it."""

    source: str
    path: str
    hash: str | None  # committed content hash (None: never completed)
    pending: str | None  # hash being written, or "DELETE"; set while an ingest is in flight
    chunks: int
    title: str
    size: int


class FileJournal:
    """Which file version each source holds; a pending mark makes an interrupted write recoverable."""

    DELETE = "DELETE"

    def __init__(self, conn: sqlite3.Connection, *, kb: str) -> None:
        self._conn, self.kb = conn, kb
        with conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS files (kb TEXT NOT NULL, source TEXT NOT NULL, path TEXT NOT NULL,"
                " hash TEXT, pending TEXT, chunks INTEGER NOT NULL DEFAULT 0, title TEXT NOT NULL DEFAULT '',"
                " size INTEGER NOT NULL DEFAULT 0, updated_at REAL NOT NULL DEFAULT (julianday('now')),"
                " PRIMARY KEY (kb, source))"
            )

    def get(self, source: str) -> FileRecord | None:
        row = self._conn.execute(
            "SELECT source, path, hash, pending, chunks, title, size FROM files WHERE kb = ? AND source = ?",
            (self.kb, source),
        ).fetchone()
        return FileRecord(*row) if row else None

    def all(self) -> list[FileRecord]:
        rows = self._conn.execute(
            "SELECT source, path, hash, pending, chunks, title, size FROM files WHERE kb = ? ORDER BY source",
            (self.kb,),
        )
        return [FileRecord(*r) for r in rows]

    def begin(self, source: str, path: str, pending: str) -> None:
        with self._conn:
            self._conn.execute(
                "INSERT INTO files(kb, source, path, pending) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(kb, source) DO UPDATE SET pending = excluded.pending, path = excluded.path",
                (self.kb, source, path, pending),
            )

    def commit(self, source: str, *, path: str, hash: str, chunks: int, title: str, size: int) -> None:
        with self._conn:
            self._conn.execute(
                "INSERT INTO files(kb, source, path, hash, pending, chunks, title, size) "
                "VALUES (?, ?, ?, ?, NULL, ?, ?, ?) ON CONFLICT(kb, source) DO UPDATE SET path = excluded.path,"
                " hash = excluded.hash, pending = NULL, chunks = excluded.chunks, title = excluded.title,"
                " size = excluded.size, updated_at = julianday('now')",
                (self.kb, source, path, hash, chunks, title, size),
            )

    def touch_path(self, source: str, path: str) -> None:
        with self._conn:
            self._conn.execute("UPDATE files SET path = ? WHERE kb = ? AND source = ?", (path, self.kb, source))

    def remove(self, source: str) -> None:
        with self._conn:
            self._conn.execute("DELETE FROM files WHERE kb = ? AND source = ?", (self.kb, source))

    def drop(self) -> None:
        with self._conn:
            self._conn.execute("DELETE FROM files WHERE kb = ?", (self.kb,))


@dataclass(frozen=True)
class Counts:
    """Chunk counts as each part of the store sees them; equal when the store is consistent."""

    vectors: int
    bm25: int
    records: int
    journal: int
    files: int
    pending: int

    @property
    def consistent(self) -> bool:
        return self.pending == 0 and self.vectors == self.bm25 == self.records == self.journal


class KnowledgeBase:
    """Everything one knowledge base is made of, opened on a data directory (and maybe a Chroma server)."""

    def __init__(
        self, *, name: str, embedder: str, embeddings: Embeddings, client: Callable[[], Any],
        conn: sqlite3.Connection, lexical: LexicalIndex, lock_path: Path | None = None,
    ) -> None:
        """``client`` makes the Chroma client on first use (files that did not change never need it)."""
        self.name, self.embedder, self.embeddings = name, embedder, embeddings
        self._connect, self.conn, self._lock_path = client, conn, lock_path
        self._chroma_client: Any = None
        self.lexical = lexical
        self.records = SQLiteRecordManager(conn, namespace=name)
        self.journal = FileJournal(conn, kb=name)
        self._store: HybridStore | None = None

    @property
    def _client(self) -> Any:
        if self._chroma_client is None:
            self._chroma_client = self._connect()
        return self._chroma_client

    @property
    def collection_name(self) -> str:
        return collection_name(self.name)

    def _collection_or_none(self) -> Any:
        try:
            return self._client.get_collection(self.collection_name, embedding_function=None)
        except Exception:  # chromadb raises NotFoundError/ValueError depending on client and version
            return None

    def exists(self) -> bool:
        return self._collection_or_none() is not None

    def built_with(self) -> tuple[str | None, int | None]:
        """(embedder spec, dimension) recorded on the collection, or (None, None) if it does not exist."""
        collection = self._collection_or_none()
        meta = (collection.metadata or {}) if collection is not None else {}
        return meta.get(META_EMBEDDER), meta.get(META_DIM)

    def check_embedder(self) -> None:
        """Fail with a re-index hint when the collection was built with another embedder."""
        spec, dim = self.built_with()
        if spec is not None and spec != self.embedder:
            raise StoreError.of("embedder_mismatch", kb=self.name, built=spec, dim=dim, wanted=self.embedder)

    def store(self, *, create: bool = False) -> HybridStore | None:
        """The hybrid store; with ``create`` the collection is made (recording embedder and dimension)."""
        if self._store is not None:
            return self._store
        self.check_embedder()
        collection = self._collection_or_none()
        if collection is None and not create:
            return None
        metadata = None
        if collection is None:
            dim = len(self.embeddings.embed_query("ragkit"))
            metadata = {META_KB: self.name, META_EMBEDDER: self.embedder, META_DIM: dim, "hnsw:space": "cosine"}
        chroma = Chroma(collection_name=self.collection_name, client=self._client,
                        embedding_function=self.embeddings, collection_metadata=metadata)
        self._store = HybridStore(chroma, self.lexical, self.embeddings)
        return self._store

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """Hold the data directory's writer lock; a second writer fails at once with a clear message."""
        if self._lock_path is None:
            yield
            return
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise StoreError.of("busy", path=str(self._lock_path.parent)) from exc
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def counts(self) -> Counts:
        """Counts from every part (works even when the configured embedder does not match)."""
        collection = self._collection_or_none()
        files = self.journal.all()
        return Counts(
            vectors=collection.count() if collection is not None else 0,
            bm25=self.lexical.count(),
            records=sum(self.records.groups().values()),
            journal=sum(f.chunks for f in files if f.hash is not None),
            files=sum(1 for f in files if f.hash is not None),
            pending=sum(1 for f in files if f.pending is not None),
        )

    def drop(self) -> None:
        """Delete the whole knowledge base: collection, BM25 index, records and journal."""
        if self.exists():
            self._client.delete_collection(self.collection_name)
        self._store = None
        self.lexical.clear()
        self.records.delete_keys(self.records.list_keys())
        self.journal.drop()


def connect_sqlite(path: Path) -> sqlite3.Connection:
    """ragkit's SQLite file (WAL, usable from worker threads)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn
