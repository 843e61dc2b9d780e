import shutil
import sqlite3
from pathlib import Path

import pytest

from ragkit.lexical import LexicalIndex
from ragkit.store import connect_sqlite


def test_a_query_of_only_common_words_still_finds_them():
    """Terms in more than half of the chunks are dropped for speed only when a rarer term is left: a query made
    only of common words used to return nothing (``ragkit search "模型" --mode bm25``)."""
    index = LexicalIndex(sqlite3.connect(":memory:"), kb="t")
    index.upsert([(f"c{n}", f"第 {n} 个大模型：模型 {name} 的介绍", {"source": "a.md"})
                  for n, name in enumerate(["GLM", "LLaMA", "Qwen"])])
    assert {hit.chunk_id for hit in index.search("模型", k=5)} == {"c0", "c1", "c2"}
    assert [hit.chunk_id for hit in index.search("模型 LLaMA", k=5)][0] == "c1"
    assert index.search("不存在的词汇", k=5) == []


ROWS = [("c1", "ChatGLM 可以在 7G 显存下微调", {"source": "a.md"}),
        ("c2", "LLaMA 使用 RMSNorm 归一化", {"source": "b.md"}),
        ("c3", "LLaMA 的 RMSNorm 与 ChatGLM 的 LayerNorm", {"source": "c.md"})]


def _file_index(tmp_path: Path) -> LexicalIndex:
    return LexicalIndex(connect_sqlite(tmp_path / "ragkit.sqlite"), kb="t")


def test_tantivy_index_lives_beside_the_sqlite_file_and_keeps_every_lookup(tmp_path):
    index = _file_index(tmp_path)
    assert index.upsert(ROWS) == 3
    assert index.path.parent == tmp_path / "lexical" and any(index.path.iterdir())
    assert [h.chunk_id for h in index.search("RMSNorm 归一化", k=3)][0] == "c2"
    assert {h.chunk_id for h in index.search("rmsnorm", k=3, sources=["c.md"])} == {"c3"}
    assert index.document_frequencies(["llama", "chatglm", "不存在"]) == {"llama": 2, "chatglm": 2, "不存在": 0}
    assert index.phrase_frequencies(["LLaMA 使用 RMSNorm", "RMSNorm 使用 LLaMA"]) == {
        "LLaMA 使用 RMSNorm": 1, "RMSNorm 使用 LLaMA": 0}
    assert index.upsert([("c2", "Qwen 使用 RoPE 位置编码", {"source": "b.md"})]) == 1  # replaced, not added
    assert index.count() == index.indexed() == 3
    assert [h.chunk_id for h in index.search("rmsnorm 归一化", k=3)] == ["c3"]
    assert index.delete(["c3", "missing"]) == 1 and index.search("rmsnorm", k=3) == []
    reopened = _file_index(tmp_path)  # another process sees the committed index
    assert reopened.count() == reopened.indexed() == 2 and not reopened.stale()
    assert [h.chunk_id for h in reopened.search("位置编码", k=3)] == ["c2"]
    reopened.clear()
    assert reopened.count() == reopened.indexed() == 0 and reopened.search("chatglm", k=3) == []


def test_a_crash_between_sqlite_and_tantivy_is_replayed(tmp_path, monkeypatch):
    """SQLite commits first, with pending marks; a write that dies before tantivy commits is redone from them."""
    index = _file_index(tmp_path)
    index.upsert(ROWS[:1])

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(LexicalIndex, "_apply", crash)
    with pytest.raises(KeyboardInterrupt):
        index.upsert(ROWS[1:])
    monkeypatch.undo()
    after = _file_index(tmp_path)
    assert after.has_pending() and after.count() == 3 and after.search("rmsnorm", k=3) == []
    assert after.sync() == 2 and not after.has_pending()
    assert {h.chunk_id for h in after.search("rmsnorm", k=5)} == {"c2", "c3"}

    monkeypatch.setattr(LexicalIndex, "_apply", crash)
    with pytest.raises(KeyboardInterrupt):
        after.delete(["c1"])
    monkeypatch.undo()
    last = _file_index(tmp_path)
    assert last.indexed() == 3 and last.count() == 2  # tantivy still holds c1: never returned, then replayed
    assert [h.chunk_id for h in last.search("显存 chatglm", k=5)] == ["c3"]
    assert last.sync() == 1 and last.indexed() == last.count() == 2


def test_a_lost_tantivy_folder_is_rebuilt_from_the_stored_texts(tmp_path):
    index = _file_index(tmp_path)
    index.upsert(ROWS)
    shutil.rmtree(index.path)
    again = _file_index(tmp_path)
    assert again.stale() and again.retokenize() == 3 and not again.stale()
    assert [h.chunk_id for h in again.search("显存", k=3)] == ["c1"]
