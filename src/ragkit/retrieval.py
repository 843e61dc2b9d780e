"""Hybrid retrieval: BM25 over jieba tokens fused with vector search by weighted reciprocal rank fusion.

``score(d) = bm25_weight / (rrf_k + rank_bm25(d)) + dense_weight / (rrf_k + rank_dense(d))``

Defaults (BM25 3 : dense 1, ``rrf_k`` 10) were chosen on the development set: BM25 over jieba tokens is
the strongest single signal for Chinese questions over Chinese text. A question written in another script than
the documents (English over Chinese) also searches BM25 with the Chinese words the knowledge base has for its
English words (CC-CEDICT, see :mod:`ragkit.bilingual`), and the multilingual vectors carry the rest. Both
retrievers fetch ``fetch_k`` candidates.

>>> from ragkit.providers import make_embeddings
>>> from ragkit.store import HybridStore
>>> from langchain_core.documents import Document
>>> store = HybridStore.in_memory(make_embeddings("fake:64"))
>>> _ = store.add_documents([Document("ChatGLM 可以在 7G 显存下微调", metadata={"source": "a.md"}),
...                          Document("LLaMA 使用 RMSNorm 归一化", metadata={"source": "b.md"})])
>>> retriever = HybridRetriever(store=store, k=1)
>>> retriever.invoke("ChatGLM 微调要多少显存？")[0].metadata["source"]
'a.md'
"""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field, PrivateAttr

from ragkit.extractive.question import analyze, surface
from ragkit.store import HybridStore
from ragkit.terms import Vocabulary

Mode = Literal["hybrid", "bm25", "dense"]
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


def cjk_share(text: str) -> float:
    """Share of CJK characters among the letters of ``text`` (0.5 when it has none).

    >>> cjk_share("大语言模型 LLM"), cjk_share("What is RLHF?")
    (0.625, 0.0)
    """
    cjk, latin = len(_CJK.findall(text)), len(_LATIN.findall(text))
    return cjk / (cjk + latin) if cjk + latin else 0.5


class HybridRetriever(BaseRetriever):
    """BM25 + vectors over a :class:`~ragkit.store.HybridStore`; ``mode`` picks one or both.

    ``k`` and ``sources`` (a list of source names to search in) may also be given per call:
    ``retriever.invoke(query, k=3, sources=["a.md"])``; within sources, the vector side is an exact search
    over their stored vectors (up to 20,000 chunks; beyond, Chroma's filtered search). Returned documents carry ``score``, and the
    ``bm25_rank`` / ``dense_rank`` they had (0 when that retriever did not return them) in metadata.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: HybridStore | None
    k: int = Field(5, ge=1)
    mode: Mode = "hybrid"
    bm25_weight: float = Field(3.0, ge=0)
    dense_weight: float = Field(1.0, ge=0)
    names_weight: float = Field(1.0, ge=0)
    rrf_k: int = Field(10, ge=1)
    fetch_k: int = Field(30, ge=1)
    sources: list[str] | None = None

    _kb_share: float | None = PrivateAttr(default=None)
    _vocabulary: Vocabulary | None = PrivateAttr(default=None)
    _executor: ThreadPoolExecutor | None = PrivateAttr(default=None)

    def _documents_share(self) -> float | None:
        """Share of CJK letters in the documents (from a sample, read once)."""
        if self._kb_share is None and self.store is not None:
            sample = self.store.lexical.sample_texts(200)
            self._kb_share = cjk_share(" ".join(sample)) if sample else None
        return self._kb_share

    def _cross_script(self, query: str) -> bool:
        """Whether the query is written in another script than the documents (English over Chinese)."""
        share = self._documents_share()
        return share is not None and abs(cjk_share(query) - share) > 0.5

    def _translated(self, query: str) -> str:
        """An English query over Chinese documents also searches the Chinese words the knowledge base has for
        its English words, and a Chinese query over English documents the English words for its Chinese ones
        (CC-CEDICT, see :mod:`ragkit.bilingual`)."""
        if not self._cross_script(query):
            return query
        if self._vocabulary is None:
            self._vocabulary = Vocabulary(self.store.lexical)
        added = self._vocabulary.translate(query)
        return query + " " + " ".join(added) if added else query

    def _bm25(self, query: str, fetch: int, sources: list[str] | None, *, translate: bool = True) -> list[Document]:
        hits = self.store.lexical.search(self._translated(query) if translate else query, k=fetch, sources=sources)
        return [Document(h.text, metadata=dict(h.metadata, score=h.score), id=h.chunk_id) for h in hits]

    def _dense(self, query: str, fetch: int, sources: list[str] | None) -> list[Document]:
        vector = self.store.embeddings.embed_query(query)
        if sources:  # within a few files, exact search over their stored vectors beats Chroma's filter
            hits = self.store.lexical.nearest(vector, k=fetch, sources=sources)
            if hits is not None:
                return [Document(h.text, metadata=dict(h.metadata, score=round(h.score, 6)), id=h.chunk_id)
                        for h in hits]
        where = {"source": {"$in": sources}} if sources else None
        # despite its name this returns cosine distances for ragkit's collections: similarity = 1 - distance
        pairs = self.store.chroma.similarity_search_by_vector_with_relevance_scores(vector, k=fetch, filter=where)
        return [Document(d.page_content, metadata=dict(d.metadata, score=round(1.0 - float(dist), 6)), id=d.id)
                for d, dist in pairs]

    def search(self, query: str, *, k: int | None = None, sources: list[str] | None = None) -> list[Document]:
        """The top ``k`` documents for ``query`` (what ``invoke`` returns, without callbacks)."""
        k = k or self.k
        sources = sources if sources is not None else self.sources
        if self.store is None or not query.strip():
            return []
        fetch = max(self.fetch_k, k)
        if self.mode == "bm25":
            return _ranked(self._bm25(query, fetch, sources)[:k], "bm25_rank")
        if self.store.lexical.count() == 0:  # a counter, not a scan
            return []
        if self.mode == "dense":
            return _ranked(self._dense(query, fetch, sources)[:k], "dense_rank")
        # SQLite, numpy and Chroma release the GIL: both searches run at once on two cores
        dense = self._pool().submit(self._dense, query, fetch, sources)
        rankings = [("bm25_rank", self.bm25_weight, self._bm25(query, fetch, sources))]
        if self.names_weight and (names := self._names(query)):
            rankings.append(("names_rank", self.names_weight, self._bm25(names, fetch, sources, translate=False)))
        rankings.append(("dense_rank", self.dense_weight, dense.result()))
        return self._fuse(rankings)[:k]

    def _names(self, query: str) -> str:
        """The names of a query (identifiers, Latin-script names, the knowledge base's learned names), as a
        second BM25 query: a rare name should find its chunks whatever else the question says."""
        if self._vocabulary is None:
            self._vocabulary = Vocabulary(self.store.lexical)
        found = analyze(query, self._vocabulary.names())
        return " ".join(surface(query, key) for key in found.entities + found.names)

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ragkit-dense")
        return self._executor

    def _fuse(self, rankings: list[tuple[str, float, list[Document]]]) -> list[Document]:
        """Weighted reciprocal rank fusion of (name, weight, ranked documents) lists."""
        scores: dict[str, float] = {}
        docs: dict[str, Document] = {}
        ranks: dict[str, dict[str, int]] = {}
        for name, weight, hits in rankings:
            for rank, doc in enumerate(hits, start=1):
                scores[doc.id] = scores.get(doc.id, 0.0) + weight / (self.rrf_k + rank)
                docs.setdefault(doc.id, doc)
                ranks.setdefault(doc.id, {})[name] = rank
        order = sorted(scores, key=lambda i: -scores[i])
        return [
            Document(docs[i].page_content, id=i, metadata=dict(
                docs[i].metadata, score=round(scores[i], 6), bm25_rank=ranks[i].get("bm25_rank", 0),
                dense_rank=ranks[i].get("dense_rank", 0)))
            for i in order
        ]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None,
        sources: list[str] | None = None, **kwargs: Any,
    ) -> list[Document]:
        return self.search(query, k=k, sources=sources)

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, k: int | None = None,
        sources: list[str] | None = None, **kwargs: Any,
    ) -> list[Document]:
        return await asyncio.to_thread(self.search, query, k=k, sources=sources)


def _ranked(docs: list[Document], key: str) -> list[Document]:
    for rank, doc in enumerate(docs, start=1):
        doc.metadata[key] = rank
    return docs
