"""A persistent BM25 index in SQLite FTS5, updated chunk by chunk (never rebuilt per query).

Texts are tokenized by :class:`ragkit.tokenize.Tokenizer` (jieba) before they reach SQLite, so
FTS5 only sees space-separated tokens; its ``bm25()`` ranking (k1=1.2, b=0.75) does the scoring.
Each knowledge base has its own FTS table, so term statistics never mix.

Each chunk's text, metadata and (when given) embedding vector are kept beside its tokens: BM25 results
need no second lookup, a text that is already embedded is never embedded again, and the vector index
can be rebuilt from here without a model call.

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
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

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


class LexicalIndex:
    """BM25 over one knowledge base, stored in the given SQLite connection."""

    def __init__(self, conn: sqlite3.Connection, *, kb: str, tokenizer: Callable[[str], list[str]] | None = None):
        self._conn = conn
        self.kb = kb
        self._tokenize = tokenizer or Tokenizer()
        key = _table_key(kb)
        self._fts, self._rows, self._vocab = f"lex_fts_{key}", f"lex_rows_{key}", f"lex_vocab_{key}"
        self._create()

    def _create(self) -> None:
        conn = self._conn
        with conn:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {self._rows} (rowid INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE NOT NULL,"
                " source TEXT NOT NULL, text TEXT NOT NULL, metadata TEXT NOT NULL, key TEXT NOT NULL, vector BLOB)"
            )
            conn.execute(f"CREATE INDEX IF NOT EXISTS {self._rows}_source ON {self._rows}(source)")
            conn.execute(f"CREATE INDEX IF NOT EXISTS {self._rows}_key ON {self._rows}(key)")
            conn.execute(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS {self._fts} USING fts5(tokens, "
                "tokenize=\"unicode61 remove_diacritics 0 tokenchars '-_.+#&%/'\")"
            )
            conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {self._vocab} USING fts5vocab({self._fts}, 'row')")
            conn.execute("CREATE TABLE IF NOT EXISTS lex_counts (name TEXT PRIMARY KEY, n INTEGER NOT NULL)")
            conn.execute("INSERT OR IGNORE INTO lex_counts(name, n) VALUES (?, 0)", (self._rows,))
            conn.execute("CREATE TABLE IF NOT EXISTS lex_tokenizers (name TEXT PRIMARY KEY, signature TEXT NOT NULL)")
            if not conn.execute(f"SELECT 1 FROM {self._rows} LIMIT 1").fetchone():  # empty: today's rules apply
                conn.execute("INSERT OR REPLACE INTO lex_tokenizers VALUES (?, ?)", (self._rows, self._signature()))

    def _signature(self) -> str:
        return str(getattr(self._tokenize, "signature", "custom"))

    def stale(self) -> bool:
        """Whether the stored tokens were made by other tokenizer rules than this index's (an older ragkit, another
        user dictionary): then :meth:`retokenize` brings them up to date."""
        row = self._conn.execute("SELECT signature FROM lex_tokenizers WHERE name = ?", (self._rows,)).fetchone()
        return (row[0] if row else None) != self._signature()

    def retokenize(self, batch: int = 2000) -> int:
        """Tokenize every stored chunk again with this index's tokenizer (texts are kept: no re-embedding);
        one transaction, so a crash leaves the old tokens."""
        done = 0
        with self._conn:
            last = 0
            while True:
                rows = self._conn.execute(
                    f"SELECT rowid, text, metadata, key FROM {self._rows} WHERE rowid > ? ORDER BY rowid LIMIT ?",
                    (last, batch)).fetchall()
                if not rows:
                    break
                last = rows[-1][0]
                for rowid, text, meta, key in rows:
                    heading = json.loads(meta).get("heading")
                    indexed = f"{heading}\n{text}" if heading and text_key(f"{heading}\n{text}") == key else text
                    self._conn.execute(f"DELETE FROM {self._fts} WHERE rowid = ?", (rowid,))
                    self._conn.execute(f"INSERT INTO {self._fts}(rowid, tokens) VALUES (?, ?)",
                                       (rowid, " ".join(self._tokenize(indexed))))
                done += len(rows)
            self._conn.execute("INSERT OR REPLACE INTO lex_tokenizers VALUES (?, ?)", (self._rows, self._signature()))
        return done

    def upsert(
        self, rows: Iterable[Row], *, tokens: Sequence[str] | None = None,
        vectors: Sequence[Sequence[float]] | None = None,
    ) -> int:
        """Insert or replace chunks. ``tokens[i]`` is the text to index for row i (default: its text; the
        vector, if given, is kept under that text's key)."""
        rows = list(rows)
        with self._conn:
            self._delete_ids([r[0] for r in rows])
            for n, (chunk_id, text, metadata) in enumerate(rows):
                indexed = tokens[n] if tokens is not None else text
                blob = np.asarray(vectors[n], dtype=np.float32).tobytes() if vectors is not None else None
                cur = self._conn.execute(
                    f"INSERT INTO {self._rows}(chunk_id, source, text, metadata, key, vector) VALUES (?, ?, ?, ?, ?, ?)",
                    (chunk_id, str(metadata.get("source", "")), text, json.dumps(metadata, ensure_ascii=False),
                     text_key(indexed), blob),
                )
                body = " ".join(self._tokenize(indexed))
                self._conn.execute(f"INSERT INTO {self._fts}(rowid, tokens) VALUES (?, ?)", (cur.lastrowid, body))
            self._conn.execute("UPDATE lex_counts SET n = n + ? WHERE name = ?", (len(rows), self._rows))
        return len(rows)

    def delete(self, chunk_ids: Iterable[str]) -> int:
        with self._conn:
            return self._delete_ids(list(chunk_ids))

    def _delete_ids(self, chunk_ids: list[str]) -> int:
        removed = 0
        for start in range(0, len(chunk_ids), 500):
            batch = chunk_ids[start : start + 500]
            marks = ",".join("?" * len(batch))
            rowids = [r[0] for r in self._conn.execute(
                f"SELECT rowid FROM {self._rows} WHERE chunk_id IN ({marks})", batch)]
            if rowids:
                rmarks = ",".join("?" * len(rowids))
                self._conn.execute(f"DELETE FROM {self._fts} WHERE rowid IN ({rmarks})", rowids)
                self._conn.execute(f"DELETE FROM {self._rows} WHERE rowid IN ({rmarks})", rowids)
                self._conn.execute("UPDATE lex_counts SET n = n - ? WHERE name = ?", (len(rowids), self._rows))
                removed += len(rowids)
        return removed

    def clear(self) -> None:
        """Empty this knowledge base's index."""
        with self._conn:
            self._conn.execute(f"DROP TABLE IF EXISTS {self._vocab}")
            self._conn.execute(f"DROP TABLE IF EXISTS {self._fts}")
            self._conn.execute(f"DROP TABLE IF EXISTS {self._rows}")
            self._conn.execute("DELETE FROM lex_counts WHERE name = ?", (self._rows,))
            self._conn.execute("DELETE FROM lex_tokenizers WHERE name = ?", (self._rows,))
        self._create()

    @property
    def conn(self) -> sqlite3.Connection:
        return self._conn

    def tokenize(self, text: str) -> list[str]:
        """The tokens this index makes of a text."""
        return self._tokenize(text)

    def document_frequencies(self, tokens: Sequence[str]) -> dict[str, int]:
        """How many chunks hold each token (0 for a token the index never saw)."""
        tokens = list(dict.fromkeys(tokens))
        out = dict.fromkeys(tokens, 0)
        for start in range(0, len(tokens), 500):
            batch = tokens[start : start + 500]
            sql = f"SELECT term, doc FROM {self._vocab} WHERE term IN ({','.join('?' * len(batch))})"
            out.update(dict(self._conn.execute(sql, batch)))
        return out

    def phrase_frequencies(self, texts: Sequence[str]) -> dict[str, int]:
        """For each text, how many chunks hold its tokens in a row (one token: its document frequency)."""
        out: dict[str, int] = {}
        for text in dict.fromkeys(texts):
            tokens = self._tokenize(text)
            if len(tokens) <= 1:
                out[text] = self.document_frequencies(tokens).get(tokens[0], 0) if tokens else 0
                continue
            phrase = '"' + " ".join(t.replace('"', '""') for t in tokens) + '"'
            row = self._conn.execute(f"SELECT count(*) FROM {self._fts} WHERE {self._fts} MATCH ?", (phrase,)).fetchone()
            out[text] = row[0]
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

    def iter_chunks(self, batch: int = 500) -> Iterator[list[StoredChunk]]:
        """Every stored chunk, in batches (to rebuild a vector index)."""
        last = 0
        while True:
            rows = self._conn.execute(
                f"SELECT rowid, chunk_id, text, metadata, vector FROM {self._rows} WHERE rowid > ? ORDER BY rowid "
                "LIMIT ?", (last, batch)).fetchall()
            if not rows:
                return
            last = rows[-1][0]
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

        Terms found in more than half of the chunks are left out of the query when a rarer term is there:
        FTS5's BM25 gives them an IDF of (almost) zero, so they change little, but their long posting lists cost
        most of the time. A query made only of such common words still searches with them.
        """
        terms = self._useful_terms(list(dict.fromkeys(self._tokenize(query))))
        if not terms or k <= 0:
            return []
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        sql = f"SELECT rowid, -bm25({self._fts}) AS score FROM {self._fts} WHERE {self._fts} MATCH ?"
        params: list[Any] = [match]
        if sources:  # "+rowid": a plain rowid IN would make FTS5 run the whole query (and its BM25
            # statistics) once per rowid; this way it runs once and SQLite keeps the rows of those sources
            sql += f" AND +rowid IN (SELECT rowid FROM {self._rows} WHERE source IN ({','.join('?' * len(sources))}))"
            params.extend(sources)
        sql += " ORDER BY score DESC LIMIT ?"
        params.append(k)
        ranked = self._conn.execute(sql, params).fetchall()  # ids first: reading rows only for the top k
        return self._hits(ranked) if ranked else []

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

    def _useful_terms(self, terms: list[str]) -> list[str]:
        """Terms present in the index and in at most half of its chunks; only when there are none, every term
        present (dropping terms is a speed trick and must never turn a match into no result)."""
        if not terms:
            return []
        half = self.count() / 2
        marks = ",".join("?" * len(terms))
        df = dict(self._conn.execute(f"SELECT term, doc FROM {self._vocab} WHERE term IN ({marks})", terms))
        return [t for t in terms if 0 < df.get(t, 0) <= half] or [t for t in terms if df.get(t, 0) > 0]
