"""A persistent BM25 index: jieba tokens searched by tantivy, chunk rows kept in SQLite.

Texts are tokenized by :class:`ragkit.tokenize.Tokenizer` (jieba) and handed to tantivy (the Rust search
engine) as space-joined tokens under its ``whitespace`` tokenizer; tantivy's BM25 (k1=1.2, b=0.75) with
block-max WAND does the scoring, so a query's time grows far slower than the corpus (SQLite FTS5, used before,
measured p95 75 ms at 100k chunks and 390 ms at 1M: see benchmarks/RESULTS.md, "One million chunks").
Each knowledge base has its own tantivy index (``lexical/<key>/`` beside the SQLite file; in memory for an
in-memory connection), so term statistics never mix.

Each chunk's text, metadata and (when given) embedding vector are kept in SQLite beside it: BM25 results
need no second lookup, a text that is already embedded is never embedded again, and the vector index
can be rebuilt from here without a model call. SQLite is the truth: every write first records the affected
rows as *pending* in the same SQLite transaction, then updates tantivy, then clears the marks; a crash in
between is repaired by replaying the marks (:meth:`LexicalIndex.sync`), so the file journal's all-or-nothing
per file holds for BM25 too. A data directory from before (FTS5) is moved over on first open
(:meth:`LexicalIndex.migrate`, tokens copied: nothing is tokenized or embedded again).

>>> import sqlite3
>>> index = LexicalIndex(sqlite3.connect(":memory:"), kb="demo")
>>> index.upsert([("c1", "ChatGLM 可以在 7G 显存下微调", {"source": "a.md"}),
...               ("c2", "LLaMA 使用 RMSNorm 归一化", {"source": "b.md"})])
2
>>> [hit.chunk_id for hit in index.search("ChatGLM 微调需要多少显存", k=2)]
['c1']
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tantivy

from ragkit.tokenize import Tokenizer

Row = tuple[str, str, dict[str, Any]]  # (chunk_id, text, metadata)
StoredChunk = tuple[str, str, dict[str, Any], bytes | None]  # (chunk_id, text, metadata, float32 vector)


def text_key(text: str) -> str:
    """The key under which a text's vector is kept."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LexicalHit:
    chunk_id: str
    score: float  # BM25 score, or cosine similarity from :meth:`LexicalIndex.nearest`; larger is better
    text: str
    metadata: dict[str, Any]


def _table_key(kb: str) -> str:
    return hashlib.sha1(kb.encode("utf-8")).hexdigest()[:16]


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("rowid", stored=True, indexed=True, fast=True)  # the SQLite row
    builder.add_text_field("tokens", stored=True, tokenizer_name="whitespace", index_option="position")
    builder.add_text_field("source", stored=False, tokenizer_name="raw", index_option="basic")
    return builder.build()


def index_dir(conn: sqlite3.Connection, kb: str) -> Path | None:
    """Where the tantivy index of ``kb`` lives: ``lexical/<key>`` beside the SQLite file (None: in memory)."""
    file = next((row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main"), "")
    return Path(file).parent / "lexical" / _table_key(kb) if file else None


def bm25(tokens: Sequence[str], idf: dict[str, float], avgdl: float, k1: float = 1.2, b: float = 0.75) -> float:
    """Okapi BM25 of one chunk's tokens for query terms with these IDFs, as SQLite FTS5 computes it (the ranking
    the development set was tuned on). tantivy's own scores differ by a few percent: it keeps chunk lengths in
    one byte, which reordered near ties and cost 4 points of BM25 hit@5; so its best candidates are scored again.

    >>> round(bm25(["a", "b", "a"], {"a": 1.0, "c": 2.0}, avgdl=3.0), 4)
    1.375
    """
    counts: dict[str, int] = {}
    for token in tokens:
        if token in idf:
            counts[token] = counts.get(token, 0) + 1
    norm = k1 * (1 - b + b * len(tokens) / avgdl) if avgdl else k1
    return sum(idf[t] * f * (k1 + 1) / (f + norm) for t, f in counts.items())


def _idf_ratio(n: int, df: int) -> float:
    """The boost that turns tantivy's IDF, ln(1 + (N - n + .5) / (n + .5)), into the one ragkit's ranking was
    tuned with (SQLite FTS5's: ln((N - n + .5) / (n + .5)), at least 1e-6): with Lucene's "+1" a word in half
    of the chunks still weighs a third of a rare one, and the development set lost 4 points of BM25 hit@5."""
    lucene = math.log(1 + (n - df + 0.5) / (df + 0.5))
    return max(math.log((n - df + 0.5) / (df + 0.5)), 1e-6) / lucene if lucene > 0 else 1.0


class LexicalIndex:
    """BM25 over one knowledge base: chunk rows in the given SQLite connection, postings in tantivy."""

    WRITER_HEAP = 64_000_000  # bytes tantivy buffers before it writes a segment
    COMMIT_EVERY = 20_000  # rows changed before a commit inside :meth:`writing`
    CANDIDATES = 20  # tantivy's best k + this many are scored again exactly

    def __init__(self, conn: sqlite3.Connection, *, kb: str, tokenizer: Callable[[str], list[str]] | None = None,
                 path: Path | None = None):
        self._conn = conn
        self.kb = kb
        self._tokenize = tokenizer or Tokenizer()
        key = _table_key(kb)
        self._rows, self._pending = f"lex_rows_{key}", f"lex_pending_{key}"
        self._tokens = f"{self._rows}#tokens"  # lex_counts: tokens of all rows (BM25's average length)
        self._legacy = (f"lex_fts_{key}", f"lex_vocab_{key}")  # SQLite FTS5 tables of ragkit before tantivy
        self.path = path or index_dir(conn, kb)
        self._schema = _schema()
        self._writer: Any = None
        self._unflushed: list[int] = []  # rowids written to tantivy but not committed yet
        self._synced = False  # whether the open writer has replayed the marks it found
        self._create()

    def _create(self) -> None:
        conn = self._conn
        with conn:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {self._rows} (rowid INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE NOT NULL,"
                " source TEXT NOT NULL, text TEXT NOT NULL, metadata TEXT NOT NULL, key TEXT NOT NULL, vector BLOB)"
            )
            if "length" not in {r[1] for r in conn.execute(f"PRAGMA table_info({self._rows})")}:  # tokens of the row
                conn.execute(f"ALTER TABLE {self._rows} ADD COLUMN length INTEGER NOT NULL DEFAULT 0")
            conn.execute(f"CREATE INDEX IF NOT EXISTS {self._rows}_source ON {self._rows}(source)")
            conn.execute(f"CREATE INDEX IF NOT EXISTS {self._rows}_key ON {self._rows}(key)")
            conn.execute(f"CREATE TABLE IF NOT EXISTS {self._pending} (rowid INTEGER PRIMARY KEY)")
            conn.execute("CREATE TABLE IF NOT EXISTS lex_counts (name TEXT PRIMARY KEY, n INTEGER NOT NULL)")
            conn.execute("INSERT OR IGNORE INTO lex_counts(name, n) VALUES (?, 0)", (self._rows,))
            conn.execute("INSERT OR IGNORE INTO lex_counts(name, n) VALUES (?, 0)", (self._tokens,))
            conn.execute("CREATE TABLE IF NOT EXISTS lex_tokenizers (name TEXT PRIMARY KEY, signature TEXT NOT NULL)")
            if not conn.execute(f"SELECT 1 FROM {self._rows} LIMIT 1").fetchone():  # empty: today's rules apply
                conn.execute("INSERT OR REPLACE INTO lex_tokenizers VALUES (?, ?)", (self._rows, self._signature()))
        if self.path is None:
            self._index = tantivy.Index(self._schema)
        else:
            self.path.mkdir(parents=True, exist_ok=True)
            self._index = tantivy.Index(self._schema, path=str(self.path), reuse=True)

    def _signature(self) -> str:
        return str(getattr(self._tokenize, "signature", "custom"))

    # -- writing to tantivy ---------------------------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Keep one tantivy writer open for many writes (an ingest); without it each write opens its own.
        Only one process can hold a writer: a second one waits up to 60 s (ragkit's write lock comes first)."""
        if self._writer is not None:
            yield
            return
        deadline = time.monotonic() + 60
        while True:
            try:
                self._writer = self._index.writer(heap_size=self.WRITER_HEAP, num_threads=1)
                self._synced = False  # another process may have left marks before this writer
                break
            except ValueError:  # "Failed to acquire Lockfile": another process's writer
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        try:
            yield
            self.flush()
        finally:
            writer, self._writer = self._writer, None
            self._unflushed = []
            writer.wait_merging_threads()  # finishes merges and releases the lock

    def _apply(self, rowids: Sequence[int], docs: Sequence[tuple[int, str, str]], *, everything: bool = False) -> None:
        """Remove ``rowids`` (or ``everything``), add ``docs`` (rowid, space-joined tokens, source); commit,
        then clear those rows' pending marks. Inside :meth:`writing` the commit waits for ``COMMIT_EVERY``
        rows, the end of the block or the next search (the marks make the wait crash-safe): committing each
        small file would cost more than writing it."""
        with self.writing():
            writer = self._writer
            if everything:
                writer.delete_all_documents()
            for rowid in rowids:
                writer.delete_documents_by_term("rowid", int(rowid))
            for rowid, body, source in docs:
                writer.add_document(tantivy.Document(rowid=int(rowid), tokens=body, source=source))
            self._unflushed.extend(rowids)
            if everything:
                self._unflushed.append(-1)
            if len(self._unflushed) >= self.COMMIT_EVERY:
                self.flush()

    def flush(self) -> None:
        """Commit what the writer holds and clear those rows' pending marks."""
        if self._writer is None or not self._unflushed:
            return
        self._writer.commit()
        self._index.reload()
        done, self._unflushed = self._unflushed, []
        with self._conn:
            if -1 in done:
                self._conn.execute(f"DELETE FROM {self._pending}")
            for start in range(0, len(done), 500):
                batch = done[start : start + 500]
                self._conn.execute(f"DELETE FROM {self._pending} WHERE rowid IN ({','.join('?' * len(batch))})",
                                   batch)

    def _mark(self, rowids: Iterable[int]) -> None:
        """Inside the caller's SQLite transaction: these rows' postings are about to change."""
        self._conn.executemany(f"INSERT OR IGNORE INTO {self._pending}(rowid) VALUES (?)", [(r,) for r in rowids])

    def _indexed_text(self, text: str, meta: str, key: str) -> str:
        heading = json.loads(meta).get("heading")
        return f"{heading}\n{text}" if heading and text_key(f"{heading}\n{text}") == key else text

    def sync(self) -> int:
        """Replay the writes a crash interrupted between SQLite and tantivy (pending rows are indexed again
        from their stored texts, or removed when their row is gone); returns the number of rows replayed."""
        if self._writer is not None and self._synced:  # once per writer: later marks are this writer's own
            return 0
        if not self.has_pending():
            self._synced = self._writer is not None
            return 0
        with self.writing():
            pending = [r[0] for r in self._conn.execute(f"SELECT rowid FROM {self._pending} ORDER BY rowid")]
            for start in range(0, len(pending), 2000):
                batch = pending[start : start + 2000]
                rows = self._conn.execute(
                    f"SELECT rowid, text, metadata, key, source FROM {self._rows} WHERE rowid IN "
                    f"({','.join('?' * len(batch))})", batch).fetchall()
                docs = [(rowid, " ".join(self._tokenize(self._indexed_text(text, meta, key))), source)
                        for rowid, text, meta, key, source in rows]
                self._set_lengths([(d[0], d[1]) for d in docs])
                self._apply(batch, docs)
            self._synced = True
        return len(pending)

    def _set_lengths(self, bodies: Sequence[tuple[int, str]], *, total: bool = True) -> None:
        """Record the token counts of re-indexed rows (and, with ``total``, move the sum by the difference)."""
        with self._conn:
            for rowid, body in bodies:
                n = len(body.split())
                if total:
                    self._conn.execute(
                        f"UPDATE lex_counts SET n = n + ? - coalesce((SELECT length FROM {self._rows} WHERE rowid = ?), 0)"
                        " WHERE name = ?", (n, rowid, self._tokens))
                self._conn.execute(f"UPDATE {self._rows} SET length = ? WHERE rowid = ?", (n, rowid))

    def _recount_tokens(self) -> None:
        total = self._conn.execute(f"SELECT coalesce(sum(length), 0) FROM {self._rows}").fetchone()[0]
        self._conn.execute("INSERT OR REPLACE INTO lex_counts(name, n) VALUES (?, ?)", (self._tokens, total))

    def has_pending(self) -> bool:
        """Whether a crash left writes for :meth:`sync` to replay."""
        return self._conn.execute(f"SELECT 1 FROM {self._pending} LIMIT 1").fetchone() is not None

    def _searcher(self) -> Any:
        self.flush()  # a search sees this process's own writes
        return self._index.searcher()

    def indexed(self) -> int:
        """Chunks tantivy holds (equal to :meth:`count` when the two agree)."""
        self.flush()
        self._index.reload()
        return self._index.searcher().num_docs

    # -- moving and re-making the index ---------------------------------------------------------------------

    def needs_migration(self) -> bool:
        """Whether this knowledge base's BM25 index is still in the SQLite FTS5 tables of an older ragkit."""
        return self._conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (self._legacy[0],)).fetchone() is not None

    def migrate(self, batch: int = 5000) -> int:
        """Move the FTS5 index of an older ragkit into tantivy: its tokens are copied (nothing is tokenized or
        embedded again), then the FTS5 tables are dropped. A crash before the drop just runs it again."""
        if not self.needs_migration():
            return 0
        fts = self._legacy[0]
        done = 0
        with self.writing():
            self._writer.delete_all_documents()
            for rows in self._pages(
                    f"SELECT f.rowid, f.tokens, r.source FROM {fts} f JOIN {self._rows} r ON r.rowid = f.rowid "
                    "WHERE f.rowid > ? ORDER BY f.rowid LIMIT ?", batch):
                for rowid, body, source in rows:
                    self._writer.add_document(tantivy.Document(rowid=rowid, tokens=body, source=source))
                self._set_lengths([(r[0], r[1]) for r in rows], total=False)
                done += len(rows)
            self._writer.commit()
        self._index.reload()
        with self._conn:
            self._recount_tokens()
            for table in reversed(self._legacy):
                self._conn.execute(f"DROP TABLE IF EXISTS {table}")
            self._conn.execute(f"DELETE FROM {self._pending}")
        return done

    def stale(self) -> bool:
        """Whether the stored tokens were made by other tokenizer rules than this index's (an older ragkit, another
        user dictionary), or tantivy lost chunks SQLite holds (its folder deleted): then :meth:`retokenize` brings
        them up to date."""
        row = self._conn.execute("SELECT signature FROM lex_tokenizers WHERE name = ?", (self._rows,)).fetchone()
        if (row[0] if row else None) != self._signature():
            return True
        return not self.needs_migration() and not self.has_pending() and self.indexed() != self.count()

    def retokenize(self, batch: int = 2000) -> int:
        """Tokenize every stored chunk again with this index's tokenizer (texts are kept: no re-embedding);
        one tantivy commit, so a crash leaves the old tokens."""
        done = 0
        with self.writing():
            self._writer.delete_all_documents()
            for rows in self._pages(
                    f"SELECT rowid, text, metadata, key, source FROM {self._rows} WHERE rowid > ? ORDER BY rowid "
                    "LIMIT ?", batch):
                bodies = []
                for rowid, text, meta, key, source in rows:
                    body = " ".join(self._tokenize(self._indexed_text(text, meta, key)))
                    self._writer.add_document(tantivy.Document(rowid=rowid, tokens=body, source=source))
                    bodies.append((rowid, body))
                self._set_lengths(bodies, total=False)
                done += len(rows)
            self._writer.commit()
        self._index.reload()
        with self._conn:
            self._recount_tokens()
            for table in reversed(self._legacy):
                self._conn.execute(f"DROP TABLE IF EXISTS {table}")
            self._conn.execute(f"DELETE FROM {self._pending}")
            self._conn.execute("INSERT OR REPLACE INTO lex_tokenizers VALUES (?, ?)", (self._rows, self._signature()))
        return done

    # -- rows -----------------------------------------------------------------------------------------------

    def upsert(
        self, rows: Iterable[Row], *, tokens: Sequence[str] | None = None,
        vectors: Sequence[Sequence[float]] | None = None,
    ) -> int:
        """Insert or replace chunks. ``tokens[i]`` is the text to index for row i (default: its text; the
        vector, if given, is kept under that text's key)."""
        rows = list(rows)
        self.sync()
        docs: list[tuple[int, str, str]] = []
        with self._conn:
            old = self._remove_rows([r[0] for r in rows])
            for n, (chunk_id, text, metadata) in enumerate(rows):
                indexed = tokens[n] if tokens is not None else text
                blob = np.asarray(vectors[n], dtype=np.float32).tobytes() if vectors is not None else None
                source = str(metadata.get("source", ""))
                words = self._tokenize(indexed)
                cur = self._conn.execute(
                    f"INSERT INTO {self._rows}(chunk_id, source, text, metadata, key, vector, length) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (chunk_id, source, text, json.dumps(metadata, ensure_ascii=False), text_key(indexed), blob,
                     len(words)),
                )
                docs.append((cur.lastrowid, " ".join(words), source))
            self._conn.execute("UPDATE lex_counts SET n = n + ? WHERE name = ?",
                               (sum(len(d[1].split()) for d in docs), self._tokens))
            self._mark([*old, *(d[0] for d in docs)])
            self._conn.execute("UPDATE lex_counts SET n = n + ? WHERE name = ?", (len(rows), self._rows))
        self._apply([*old, *(d[0] for d in docs)], docs)
        return len(rows)

    def delete(self, chunk_ids: Iterable[str]) -> int:
        self.sync()
        with self._conn:
            old = self._remove_rows(list(chunk_ids))
            self._mark(old)
        if old:
            self._apply(old, [])
        return len(old)

    def _remove_rows(self, chunk_ids: list[str]) -> list[int]:
        """Inside the caller's transaction: delete these chunks' rows; returns their rowids."""
        removed: list[int] = []
        for start in range(0, len(chunk_ids), 500):
            batch = chunk_ids[start : start + 500]
            marks = ",".join("?" * len(batch))
            found = self._conn.execute(
                f"SELECT rowid, length FROM {self._rows} WHERE chunk_id IN ({marks})", batch).fetchall()
            rowids = [r[0] for r in found]
            if rowids:
                self._conn.execute("UPDATE lex_counts SET n = n - ? WHERE name = ?",
                                   (sum(r[1] for r in found), self._tokens))
                self._conn.execute(f"DELETE FROM {self._rows} WHERE rowid IN ({','.join('?' * len(rowids))})", rowids)
                self._conn.execute("UPDATE lex_counts SET n = n - ? WHERE name = ?", (len(rowids), self._rows))
                removed += rowids
        return removed

    def clear(self) -> None:
        """Empty this knowledge base's index."""
        with self._conn:
            for table in (*reversed(self._legacy), self._rows, self._pending):
                self._conn.execute(f"DROP TABLE IF EXISTS {table}")
            self._conn.execute("DELETE FROM lex_counts WHERE name IN (?, ?)", (self._rows, self._tokens))
            self._conn.execute("DELETE FROM lex_tokenizers WHERE name = ?", (self._rows,))
        self._create()
        self._apply([], [], everything=True)

    @property
    def conn(self) -> sqlite3.Connection:
        return self._conn

    def tokenize(self, text: str) -> list[str]:
        """The tokens this index makes of a text."""
        return self._tokenize(text)

    def document_frequencies(self, tokens: Sequence[str]) -> dict[str, int]:
        """How many chunks hold each token (0 for a token the index never saw)."""
        searcher = self._searcher()
        return {t: searcher.doc_freq("tokens", t) for t in dict.fromkeys(tokens)}

    def phrase_frequencies(self, texts: Sequence[str]) -> dict[str, int]:
        """For each text, how many chunks hold its tokens in a row (one token: its document frequency)."""
        out: dict[str, int] = {}
        searcher = self._searcher()
        for text in dict.fromkeys(texts):
            tokens = self._tokenize(text)
            if len(tokens) <= 1:
                out[text] = searcher.doc_freq("tokens", tokens[0]) if tokens else 0
                continue
            query = tantivy.Query.phrase_query(self._schema, "tokens", tokens)
            out[text] = searcher.search(query, 1, count=True).count
        return out

    def count(self) -> int:
        """Chunks in the index (kept in a counter: no table scan)."""
        row = self._conn.execute("SELECT n FROM lex_counts WHERE name = ?", (self._rows,)).fetchone()
        return row[0] if row else 0

    def ids(self, source: str | None = None) -> set[str]:
        """Chunk ids, optionally of one source."""
        if source is None:
            return {r[0] for r in self._conn.execute(f"SELECT chunk_id FROM {self._rows}")}
        sql = f"SELECT chunk_id FROM {self._rows} WHERE source = ?"
        return {r[0] for r in self._conn.execute(sql, (source,))}

    def vectors_by_key(self, keys: Sequence[str]) -> dict[str, list[float]]:
        """Stored vectors of the texts with these keys (see :func:`text_key`)."""
        out: dict[str, list[float]] = {}
        for start in range(0, len(keys), 500):
            batch = list(keys[start : start + 500])
            sql = (f"SELECT key, vector FROM {self._rows} WHERE vector IS NOT NULL AND key IN "
                   f"({','.join('?' * len(batch))})")
            for key, blob in self._conn.execute(sql, batch):
                out[key] = np.frombuffer(blob, dtype=np.float32).tolist()
        return out

    def _pages(self, sql: str, batch: int) -> Iterator[list[tuple[Any, ...]]]:
        """The rows of ``sql`` (parameters: the last rowid seen, the batch size; rowid first) in batches."""
        last = 0
        while rows := self._conn.execute(sql, (last, batch)).fetchall():
            last = rows[-1][0]
            yield rows

    def iter_chunks(self, batch: int = 500) -> Iterator[list[StoredChunk]]:
        """Every stored chunk, in batches (to rebuild a vector index)."""
        for rows in self._pages(
                f"SELECT rowid, chunk_id, text, metadata, vector FROM {self._rows} WHERE rowid > ? ORDER BY rowid "
                "LIMIT ?", batch):
            yield [(cid, text, json.loads(meta), vec) for _, cid, text, meta, vec in rows]

    def total_chars(self) -> int:
        """Characters of all chunk texts."""
        return self._conn.execute(f"SELECT coalesce(sum(length(text)), 0) FROM {self._rows}").fetchone()[0]

    def sample_texts(self, n: int) -> list[str]:
        """Up to ``n`` chunk texts (the oldest), e.g. to see which script the documents are written in."""
        return [r[0] for r in self._conn.execute(f"SELECT text FROM {self._rows} ORDER BY rowid LIMIT ?", (n,))]

    def get(self, chunk_ids: Sequence[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """Text and metadata of the given chunks (missing ids are left out)."""
        out: dict[str, tuple[str, dict[str, Any]]] = {}
        for start in range(0, len(chunk_ids), 500):
            batch = list(chunk_ids[start : start + 500])
            marks = ",".join("?" * len(batch))
            sql = f"SELECT chunk_id, text, metadata FROM {self._rows} WHERE chunk_id IN ({marks})"
            for chunk_id, text, meta in self._conn.execute(sql, batch):
                out[chunk_id] = (text, json.loads(meta))
        return out

    def search(self, query: str, *, k: int = 10, sources: Sequence[str] | None = None) -> list[LexicalHit]:
        """The ``k`` best chunks by BM25 for ``query`` (optionally only from ``sources``).

        Terms found in more than half of the chunks are left out of the query when a rarer term is there
        (as with FTS5 before: their IDF is close to zero, so they change little, and the ranking stays the one
        measured on the development set). A query made only of such common words still searches with them.
        """
        searcher = self._searcher()
        terms = list(dict.fromkeys(self._tokenize(query)))
        df = {t: searcher.doc_freq("tokens", t) for t in terms}
        present, useful = self._useful_terms(terms, df, searcher.num_docs)
        if not present or k <= 0:
            return []
        ranked = self._ranked(searcher, useful, df, k, sources)
        hits = self._hits(ranked) if ranked else []
        if not hits and useful != present:  # document frequencies count deleted chunks until a merge
            ranked = self._ranked(searcher, present, df, k, sources)
            hits = self._hits(ranked) if ranked else []
        return hits

    def _ranked(self, searcher: Any, terms: list[str], df: dict[str, int], k: int,
                sources: Sequence[str] | None) -> list[tuple[int, float]]:
        """tantivy's top candidates, scored again exactly (see :func:`bm25`)."""
        Query, Occur = tantivy.Query, tantivy.Occur  # noqa: N806
        n = searcher.num_docs
        match = Query.boolean_query([
            (Occur.Should, Query.boost_query(Query.term_query(self._schema, "tokens", t), _idf_ratio(n, df[t])))
            for t in terms])
        if sources:  # a filter that adds nothing to the score
            only = Query.const_score_query(Query.term_set_query(self._schema, "source", list(sources)), 0.0)
            match = Query.boolean_query([(Occur.Must, only), (Occur.Must, match)])
        hits = searcher.search(match, k + self.CANDIDATES).hits
        count = self.count()
        avgdl = self._conn.execute("SELECT n FROM lex_counts WHERE name = ?", (self._tokens,)).fetchone()[0] / max(count, 1)
        total = max(count, n)  # another process may have committed rows to one side first
        idf = {t: max(math.log(max(total - df[t] + 0.5, 1e-9) / (df[t] + 0.5)), 1e-6) for t in terms}
        scored = []
        for _, address in hits:
            doc = searcher.doc(address)
            scored.append((doc["rowid"][0], bm25(doc["tokens"][0].split(), idf, avgdl)))
        scored.sort(key=lambda rs: (-rs[1], rs[0]))
        return scored[:k]

    def nearest(self, vector: Sequence[float], *, k: int, sources: Sequence[str],
                limit: int = 20_000) -> list[LexicalHit] | None:
        """The ``k`` chunks of ``sources`` whose stored vectors are closest to ``vector`` (exact cosine;
        ``score`` is the similarity), or ``None`` when those sources hold more than ``limit`` chunks or a
        chunk without a vector (then a vector index is the better tool).

        Within a few files this is faster than a vector index's filtered search, which has to pick the
        matching ids out of the whole collection first.
        """
        marks = ",".join("?" * len(sources))
        total, with_vector = self._conn.execute(
            f"SELECT COUNT(*), COUNT(vector) FROM {self._rows} WHERE source IN ({marks})", list(sources)).fetchone()
        if total > limit or with_vector < total:
            return None
        if total == 0 or k <= 0:
            return []
        rows = self._conn.execute(
            f"SELECT rowid, vector FROM {self._rows} WHERE source IN ({marks})", list(sources)).fetchall()
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
        query = np.asarray(vector, dtype=np.float32)
        sims = matrix @ query / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(query) + 1e-12)
        top = np.argsort(-sims, kind="stable")[:k]
        return self._hits([(rows[i][0], float(sims[i])) for i in top])

    def _hits(self, ranked: list[tuple[int, float]]) -> list[LexicalHit]:
        """The stored chunks for (rowid, score) pairs, in their order."""
        found = {
            rowid: (cid, text, meta) for rowid, cid, text, meta in self._conn.execute(
                f"SELECT rowid, chunk_id, text, metadata FROM {self._rows} WHERE rowid IN "
                f"({','.join('?' * len(ranked))})", [r[0] for r in ranked])
        }
        return [LexicalHit(found[r][0], float(score), found[r][1], json.loads(found[r][2]))
                for r, score in ranked if r in found]

    @staticmethod
    def _useful_terms(terms: list[str], df: dict[str, int], n: int) -> tuple[list[str], list[str]]:
        """(terms present in the index, those of them in at most half of its chunks, or all present when none
        is): dropping terms is a speed trick and must never turn a match into no result."""
        half = n / 2
        present = [t for t in terms if df[t] > 0]
        return present, [t for t in present if df[t] <= half] or present
