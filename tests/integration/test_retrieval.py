"""Search within some files: exact search over their stored vectors, the same answer Chroma's filter gives."""

from __future__ import annotations

import pytest

from ragkit import build
from ragkit.config import Settings
from ragkit.ingest import ingest
from tests.conftest import CORPUS

QUERIES = ["ChatGLM 在多大显存的条件下可以进行微调？", "What is RLHF?", "LangChain 的作者是谁？", "通义千问什么时候发布"]
SOURCE_SETS = [["llm-and-langchain-basics.md"], ["llm-tracking.md", "awesome-llm-zh.md"]]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("retrieval"))  # the default embedder
    kb = build.open_kb(settings)
    ingest(kb, [CORPUS], split=build.split_options(settings))
    return settings, kb


@pytest.mark.parametrize("sources", SOURCE_SETS)
@pytest.mark.parametrize("query", QUERIES)
def test_exact_search_in_files_matches_chromas_filtered_search(corpus, query, sources):
    _, kb = corpus
    store = kb.store()
    vector = store.embeddings.embed_query(query)
    exact = store.lexical.nearest(vector, k=10, sources=sources)
    chroma = store.chroma.similarity_search_by_vector_with_relevance_scores(
        vector, k=10, filter={"source": {"$in": sources}})
    assert [h.chunk_id for h in exact] == [d.id for d, _ in chroma]
    assert [h.score for h in exact] == pytest.approx([1 - dist for _, dist in chroma], abs=1e-4)
    assert all(h.metadata["source"] in sources for h in exact)


def test_the_retriever_searches_only_the_given_files_either_way(corpus, monkeypatch):
    settings, kb = corpus
    retriever = build.make_retriever(settings, kb, mode="dense")
    sources = ["llm-tracking.md"]
    exact = retriever.invoke("ChatGLM 显存", sources=sources)
    assert exact and {d.metadata["source"] for d in exact} == set(sources)

    # too many chunks in those files for an exact search: Chroma's filter answers, with the same result
    nearest = type(kb.lexical).nearest
    monkeypatch.setattr(type(kb.lexical), "nearest", lambda self, *a, **kw: nearest(self, *a, **kw, limit=1))
    assert kb.lexical.nearest([0.0] * 512, k=3, sources=sources) is None
    assert [d.id for d in retriever.invoke("ChatGLM 显存", sources=sources)] == [d.id for d in exact]


def test_no_exact_search_when_a_chunk_has_no_stored_vector(corpus, tmp_path):
    settings = Settings(data_dir=tmp_path, embedder="fake:16")
    kb = build.open_kb(settings)
    kb.lexical.upsert([("c1", "没有向量的片段", {"source": "a.md"})])  # e.g. written by an older version
    assert kb.lexical.nearest([1.0] * 16, k=3, sources=["a.md"]) is None
    assert kb.lexical.nearest([1.0] * 16, k=3, sources=["b.md"]) == []


@pytest.mark.parametrize("sources", SOURCE_SETS)
@pytest.mark.parametrize("query", QUERIES)
def test_bm25_in_files_ranks_as_the_whole_index_does(corpus, query, sources):
    _, kb = corpus
    within = kb.lexical.search(query, k=20, sources=sources)
    everywhere = [h for h in kb.lexical.search(query, k=10_000) if h.metadata["source"] in sources][:20]
    assert within and [h.chunk_id for h in within] == [h.chunk_id for h in everywhere]
    assert [h.score for h in within] == pytest.approx([h.score for h in everywhere])
