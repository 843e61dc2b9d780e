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
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
from langchain_chroma import Chroma
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from ragkit.errors import StoreError
from ragkit.lexical import LexicalIndex, text_key
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


def upsert_chroma(collection: Any, ids: Sequence[str], vectors: Sequence[Sequence[float]], texts: Sequence[str],
                  metadatas: Sequence[dict[str, Any] | None]) -> None:
    """Upsert into a Chroma collection in batches it accepts (records without metadata go separately:
    Chroma refuses empty metadata dicts)."""
    limit = 1000
    for has_meta in (True, False):
        rows = [n for n, m in enumerate(metadatas) if bool(m) == has_meta]
        for start in range(0, len(rows), limit):
            part = rows[start : start + limit]
            extra = {"metadatas": [metadatas[n] for n in part]} if has_meta else {}
            collection.upsert(ids=[ids[n] for n in part], embeddings=[list(vectors[n]) for n in part],
                              documents=[texts[n] for n in part], **extra)


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
                        embedding_function=embeddings, collection_configuration={"hnsw": {"space": "cosine"}})
        conn = sqlite3.connect(":memory:", check_same_thread=False)
        return cls(chroma, LexicalIndex(conn, kb=kb), embeddings)

    @property
    def embeddings(self) -> Embeddings:
        return self._embeddings

    def add_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        """Embed (only texts not embedded before) and write to Chroma, then to the BM25 index."""
        ids = kwargs.get("ids") or [None] * len(documents)
        ids = [i or d.id or str(uuid.uuid4()) for i, d in zip(ids, documents, strict=True)]
        if not documents:
            return []
        contexts = [contextual_text(d) for d in documents]
        vectors = self._vectors(contexts)
        upsert_chroma(self.chroma._collection, ids, vectors, [d.page_content for d in documents],
                      [d.metadata for d in documents])
        self.lexical.upsert([(i, d.page_content, d.metadata) for i, d in zip(ids, documents, strict=True)],
                            tokens=contexts, vectors=vectors)
        return ids

    def _vectors(self, texts: list[str]) -> list[list[float]]:
        """Vectors for ``texts``: reused when the same text was embedded before, else from the model."""
        keys = [text_key(t) for t in texts]
        known = self.lexical.vectors_by_key(keys)
        todo = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in known}.items())
        if todo:
            fresh = self._embeddings.embed_documents([t for _, t in todo])
            known.update({k: list(v) for (k, _), v in zip(todo, fresh, strict=True)})
        return [known[k] for k in keys]

    def add_texts(
        self, texts: Iterable[str], metadatas: list[dict] | None = None, *, ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        texts = list(texts)
        metadatas = metadatas or [{} for _ in texts]
        docs = [Document(t, metadata=m) for t, m in zip(texts, metadatas, strict=True)]
        return self.add_documents(docs, ids=ids)

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Delete these chunks (vectors first: a crash leaves only BM25 rows to clean); ``None``: all of them."""
        if ids is None:
            ids = sorted(self.lexical.ids() | set(self.chroma._collection.get(include=[])["ids"]))
        if ids:
            self.chroma.delete(ids=list(ids))
            self.lexical.delete(ids)
        return True

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Documents for ``ids`` (missing ids are skipped); records stored without metadata get ``{}``."""
        if not ids:
            return []
        got = self.chroma._collection.get(ids=list(ids), include=["documents", "metadatas"])
        return [Document(page_content=text or "", metadata=meta or {}, id=cid)
                for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)]

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


_KB_TABLE = "CREATE TABLE IF NOT EXISTS knowledge_bases (name TEXT PRIMARY KEY, created REAL NOT NULL)"


def known_kbs(conn: sqlite3.Connection) -> list[str]:
    """Names of the knowledge bases of a data directory: made (even if still empty) or holding documents.

    >>> known_kbs(sqlite3.connect(":memory:"))
    []
    """
    FileJournal(conn, kb="")  # its table
    with conn:
        conn.execute(_KB_TABLE)
    rows = conn.execute("SELECT name FROM knowledge_bases UNION SELECT DISTINCT kb FROM files ORDER BY 1")
    return [r[0] for r in rows]


class KnowledgeBase:
    """Everything one knowledge base is made of: its Chroma collection (in its own folder under the data
    directory, or on a Chroma server), and its BM25 index, records and journal in ragkit's SQLite file."""

    def __init__(
        self, *, name: str, embedder: str, embeddings: Embeddings, conn: sqlite3.Connection,
        lexical: LexicalIndex, chroma_root: Path | None = None, chroma_url: str | None = None,
        lock_path: Path | None = None,
    ) -> None:
        """``chroma_root`` holds one folder per knowledge base (unless ``chroma_url`` names a server). The
        Chroma client is made on first use: files that did not change never need it."""
        self.name, self.embedder, self.embeddings = name, embedder, embeddings
        self.conn, self.lexical = conn, lexical
        self.chroma_root, self.chroma_url, self._lock_path = chroma_root, chroma_url, lock_path
        with conn:
            conn.execute("CREATE TABLE IF NOT EXISTS kb_state (kb TEXT PRIMARY KEY, chroma_generation INTEGER NOT NULL)")
            conn.execute(_KB_TABLE)
        self.records = SQLiteRecordManager(conn, namespace=name)
        self.journal = FileJournal(conn, kb=name)
        self._chroma_client: Any = None
        self._store: HybridStore | None = None

    @property
    def _generation(self) -> int:
        row = self.conn.execute("SELECT chroma_generation FROM kb_state WHERE kb = ?", (self.name,)).fetchone()
        return row[0] if row else 0

    @property
    def chroma_dir(self) -> Path | None:
        """This knowledge base's Chroma folder (a rebuild moves to a new one: never reuse a damaged path)."""
        if self.chroma_root is None or self.chroma_url is not None:
            return None
        generation = self._generation
        return self.chroma_root / (self.collection_name + (f".{generation}" if generation else ""))

    @property
    def _client(self) -> Any:
        if self._chroma_client is None:
            self._chroma_client = chroma_client(persist_dir=self.chroma_dir, url=self.chroma_url)
        return self._chroma_client

    @property
    def collection_name(self) -> str:
        return collection_name(self.name)

    def _collection_or_none(self) -> Any:
        if self.chroma_dir is not None and not self.chroma_dir.exists() and self._chroma_client is None:
            return None  # never written: do not create an empty Chroma folder just to look
        from chromadb.errors import NotFoundError

        client = self._client  # raises StoreError(chroma_unreachable): an unreachable server is not "no collection"
        try:
            return client.get_collection(self.collection_name, embedding_function=None)
        except (NotFoundError, ValueError):  # no such collection (ValueError in older chromadb)
            return None
        except Exception as exc:  # the server went away after connecting
            if self.chroma_url is None:
                raise
            raise StoreError.of("chroma_unreachable", url=self.chroma_url, detail=" ".join(str(exc).split())) from exc

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
        metadata, configuration = None, None
        if collection is None:
            dim = len(self.embeddings.embed_query("ragkit"))
            metadata = {META_KB: self.name, META_EMBEDDER: self.embedder, META_DIM: dim}
            configuration = {"hnsw": {"space": "cosine"}}
        chroma = Chroma(collection_name=self.collection_name, client=self._client, embedding_function=self.embeddings,
                        collection_metadata=metadata, collection_configuration=configuration)
        if create:
            with self.conn:
                self.conn.execute("INSERT OR IGNORE INTO knowledge_bases(name, created) VALUES (?, julianday('now'))",
                                  (self.name,))
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

    def vector_count(self) -> int | None:
        """Vectors in the collection, read in a separate process for a local folder; None when unreadable.

        A SIGKILL during a write can leave Chroma's vector index files damaged (we measured about one
        kill in sixteen on large collections), and reading them can crash the reading process.
        """
        if self.chroma_dir is None or self._chroma_client is not None:
            collection = self._collection_or_none()
            return collection.count() if collection is not None else 0
        if not self.chroma_dir.exists():
            return 0
        code = "import sys; from ragkit.store import probe; sys.exit(probe(sys.argv[1], sys.argv[2]))"
        try:
            done = subprocess.run([sys.executable, "-c", code, str(self.chroma_dir), self.collection_name],
                                  capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            return None
        return int(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip().isdigit() else None

    def rebuild_vectors(self) -> int:
        """Recreate the Chroma collection from the vectors kept in the BM25 index (no model call)."""
        old = self.chroma_dir
        if old is not None:  # a new folder: the damaged one may still be open in this process
            with self.conn:
                self.conn.execute(
                    "INSERT INTO kb_state(kb, chroma_generation) VALUES (?, 1) ON CONFLICT(kb) DO UPDATE SET "
                    "chroma_generation = chroma_generation + 1", (self.name,))
            shutil.rmtree(old, ignore_errors=True)
        elif self._collection_or_none() is not None:
            self._client.delete_collection(self.collection_name)
        self._chroma_client, self._store = None, None
        store = self.store(create=True)
        written = 0
        for batch in self.lexical.iter_chunks():
            missing = [row for row in batch if row[3] is None]
            if missing:  # chunks stored before vectors were kept: embed them again
                docs = [Document(text, metadata=meta, id=cid) for cid, text, meta, _ in missing]
                store.add_documents(docs, ids=[d.id for d in docs])
            rows = [row for row in batch if row[3] is not None]
            vectors = [np.frombuffer(row[3], dtype=np.float32).tolist() for row in rows]
            upsert_chroma(store.chroma._collection, [r[0] for r in rows], vectors, [r[1] for r in rows],
                          [r[2] for r in rows])
            written += len(batch)
        return written

    def counts(self) -> Counts:
        """Counts from every part (works even when the configured embedder does not match). When an
        interrupted write left the vector index unreadable, ``vectors`` is -1."""
        files = self.journal.all()
        pending = sum(1 for f in files if f.pending is not None)
        if pending:
            vectors = self.vector_count()
            vectors = -1 if vectors is None else vectors
        else:
            collection = self._collection_or_none()
            vectors = collection.count() if collection is not None else 0
        return Counts(
            vectors=vectors,
            bm25=self.lexical.count(),
            records=sum(self.records.groups().values()),
            journal=sum(f.chunks for f in files if f.hash is not None),
            files=sum(1 for f in files if f.hash is not None),
            pending=pending,
        )

    def drop(self) -> None:
        """Delete the whole knowledge base: collection, BM25 index, records and journal."""
        if self.exists():
            self._client.delete_collection(self.collection_name)
        self._store = None
        self.lexical.clear()
        self.records.delete_keys(self.records.list_keys())
        self.journal.drop()
        with self.conn:
            self.conn.execute("DELETE FROM knowledge_bases WHERE name = ?", (self.name,))


def probe(chroma_dir: str, name: str) -> int:
    """Open a Chroma folder, read a collection through, print its size; exit status 0 when that worked.

    Meant to run in a subprocess (see :meth:`KnowledgeBase.vector_count`).
    """
    client = chroma_client(persist_dir=Path(chroma_dir))
    try:
        collection = client.get_collection(name, embedding_function=None)
    except Exception:  # chromadb raises NotFoundError/ValueError: no collection
        print(0)
        return 0
    count = collection.count()
    ids = collection.get(include=[])["ids"]
    if count:
        first = collection.get(limit=1, include=["embeddings"])["embeddings"][0]
        collection.query(query_embeddings=[list(first)], n_results=1)
    print(count)
    return 0 if count == len(ids) else 1


def connect_sqlite(path: Path) -> sqlite3.Connection:
    """ragkit's SQLite file (WAL, usable from worker threads)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn
