import sqlite3

from ragkit.lexical import LexicalIndex


def test_a_query_of_only_common_words_still_finds_them():
    """Terms in more than half of the chunks are dropped for speed only when a rarer term is left: a query made
    only of common words used to return nothing (``ragkit search "模型" --mode bm25``)."""
    index = LexicalIndex(sqlite3.connect(":memory:"), kb="t")
    index.upsert([(f"c{n}", f"第 {n} 个大模型：模型 {name} 的介绍", {"source": "a.md"})
                  for n, name in enumerate(["GLM", "LLaMA", "Qwen"])])
    assert {hit.chunk_id for hit in index.search("模型", k=5)} == {"c0", "c1", "c2"}
    assert [hit.chunk_id for hit in index.search("模型 LLaMA", k=5)][0] == "c1"
    assert index.search("不存在的词汇", k=5) == []
