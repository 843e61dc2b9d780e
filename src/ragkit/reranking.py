"""Reranking: a second, finer ordering of the fused candidates, between retrieval and answering.

A :class:`Reranker` is a LangChain :class:`~langchain_core.documents.BaseDocumentCompressor` (so it also fits
LangChain's own ``ContextualCompressionRetriever``): it scores each (query, passage) pair and returns the
passages best first, each with its ``rerank_score`` in metadata; ties keep the order they came in.
:class:`RerankingRetriever` is the retriever stage: it asks its retriever for ``candidates`` passages and
returns the reranker's top ``k``. The providers (``st:``, ``http:``, ``tei:``, ``dashscope:``, ``llm``) are in
the registry (:func:`ragkit.providers.make_reranker`); off by default.

>>> from langchain_core.documents import Document
>>> class Shortest(Reranker):
...     def scores(self, query, texts):
...         return [-len(t) for t in texts]
>>> [d.page_content for d in Shortest(top_n=2).compress_documents(
...     [Document("a long passage"), Document("short"), Document("mid one")], "q")]
['short', 'mid one']
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun, Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field


class Reranker(BaseDocumentCompressor, ABC):
    """Orders passages by :meth:`scores` (higher is better); ``top_n`` keeps only the best (None: all)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    top_n: int | None = Field(None, ge=1)

    @abstractmethod
    def scores(self, query: str, texts: list[str]) -> list[float]:
        """One relevance score per text, higher is better."""

    def rerank(self, documents: Sequence[Document], query: str, *, top_n: int | None = None) -> list[Document]:
        """``documents`` best first, with ``rerank_score`` in metadata (``top_n`` overrides the field)."""
        docs = list(documents)
        limit = top_n or self.top_n or len(docs)
        if len(docs) < 2 or not query.strip():
            return docs[:limit]
        scores = self.scores(query, [d.page_content for d in docs])
        order = sorted(range(len(docs)), key=lambda i: -scores[i])  # sorted() is stable: ties keep fused order
        return [Document(docs[i].page_content, id=docs[i].id,
                         metadata={**docs[i].metadata, "rerank_score": round(float(scores[i]), 6)})
                for i in order[:limit]]

    def compress_documents(self, documents: Sequence[Document], query: str,
                           callbacks: Callbacks | None = None) -> Sequence[Document]:
        return self.rerank(documents, query)

    async def acompress_documents(self, documents: Sequence[Document], query: str,
                                  callbacks: Callbacks | None = None) -> Sequence[Document]:
        return await asyncio.to_thread(self.rerank, documents, query)


class RerankingRetriever(BaseRetriever):
    """``retriever``'s top ``candidates`` passages, reranked, cut to ``k``.

    ``k`` and the other keyword arguments of ``invoke`` (e.g. ``sources``) go on to ``retriever``, which must
    accept ``k`` per call (ragkit's :class:`~ragkit.retrieval.HybridRetriever` does).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: BaseRetriever
    reranker: Reranker
    k: int = Field(5, ge=1)
    candidates: int = Field(20, ge=1)

    def _fetch(self, k: int | None) -> tuple[int, int]:
        k = k or self.k
        return k, max(self.candidates, k)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                k: int | None = None, **kwargs: Any) -> list[Document]:
        k, fetch = self._fetch(k)
        docs = self.retriever.invoke(query, config={"callbacks": run_manager.get_child()}, k=fetch, **kwargs)
        return self.reranker.rerank(docs, query, top_n=k)

    async def _aget_relevant_documents(self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun,
                                       k: int | None = None, **kwargs: Any) -> list[Document]:
        k, fetch = self._fetch(k)
        docs = await self.retriever.ainvoke(query, config={"callbacks": run_manager.get_child()}, k=fetch, **kwargs)
        return await asyncio.to_thread(self.reranker.rerank, docs, query, top_n=k)
