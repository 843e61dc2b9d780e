"""A data directory made by a ragkit with BM25 in SQLite FTS5 moves to tantivy on first open (#15)."""

from __future__ import annotations

import logging
import shutil
import sqlite3

from ragkit.ingest import ingest
from ragkit.lexical import _table_key
from tests.support.kb import ids_everywhere, open_kb

QUERIES = ["ChatGLM 微调需要多少显存", "LLaMA", "检索增强生成", "LangChain 的 Agent"]


def _make_legacy(data, kb: str = "default") -> None:
    """Turn a data directory into what ragkit wrote before tantivy: the tokens in an FTS5 table (and its
    fts5vocab view) beside the rows, no lexical/ folder."""
    key = _table_key(kb)
    shutil.rmtree(data / "lexical" / key)
    from ragkit.tokenize import Tokenizer
    from ragkit.lexical import LexicalIndex, text_key

    tok = Tokenizer()
    with sqlite3.connect(data / "ragkit.sqlite") as conn:
        conn.execute(f"CREATE VIRTUAL TABLE lex_fts_{key} USING fts5(tokens, "
                     "tokenize=\"unicode61 remove_diacritics 0 tokenchars '-_.+#&%/'\")")
        conn.execute(f"CREATE VIRTUAL TABLE lex_vocab_{key} USING fts5vocab(lex_fts_{key}, 'row')")
        conn.execute(f"DROP TABLE lex_pending_{key}")
        rows = conn.execute(f"SELECT rowid, text, metadata, key FROM lex_rows_{key}").fetchall()
        for rowid, text, meta, k in rows:
            body = LexicalIndex._indexed_text(None, text, meta, k)
            assert text_key(body) == k
            conn.execute(f"INSERT INTO lex_fts_{key}(rowid, tokens) VALUES (?, ?)", (rowid, " ".join(tok(body))))


def test_an_fts5_data_directory_moves_to_tantivy_on_first_open(tmp_path, corpus_copy, caplog):
    data = tmp_path / "data"
    kb = open_kb(data)
    ingest(kb, [corpus_copy])
    before = {q: [h.chunk_id for h in kb.lexical.search(q, k=5)] for q in QUERIES}
    expected = ids_everywhere(kb)[0]
    del kb
    _make_legacy(data)

    with caplog.at_level(logging.WARNING, logger="ragkit"):
        again = open_kb(data, lang="en")
    assert "moving its" in caplog.text and "nothing is embedded again" in caplog.text
    assert not again.lexical.needs_migration()
    assert again.lexical.indexed() == again.lexical.count() == len(expected)
    assert {q: [h.chunk_id for h in again.lexical.search(q, k=5)] for q in QUERIES} == before
    tables = {r[0] for r in again.conn.execute("SELECT name FROM sqlite_master")}
    assert not any(name.startswith(("lex_fts_", "lex_vocab_")) for name in tables)
    assert again.embeddings.documents == 0  # no chunk embedded again
    report = ingest(again, [corpus_copy])
    assert report.ok and report.chunks_written == 0 and again.embeddings.documents == 0
    assert ids_everywhere(again)[0] == expected

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="ragkit"):
        open_kb(data, lang="en")
    assert "moving" not in caplog.text  # once
