"""Knowledge bases for tests, with embeddings that count their calls."""

from __future__ import annotations

from pathlib import Path

from langchain_core.embeddings import Embeddings

from ragkit import build
from ragkit.config import Settings
from ragkit.providers import make_embeddings
from ragkit.store import KnowledgeBase


class CountingEmbeddings(Embeddings):
    """Wraps real embeddings and counts the texts it was asked to embed."""

    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner
        self.documents = 0
        self.queries = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.documents += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        self.queries += 1
        return self.inner.embed_query(text)


def open_kb(data_dir: Path, *, embedder: str = "fake:32", kb: str = "default",
            embeddings: Embeddings | None = None, **settings: object) -> KnowledgeBase:
    cfg = Settings(data_dir=data_dir, embedder=embedder, kb=kb, **settings)
    return build.open_kb(cfg, embeddings=embeddings or CountingEmbeddings(make_embeddings(embedder)))


def ids_everywhere(kb: KnowledgeBase) -> tuple[set[str], set[str], set[str]]:
    """Chunk ids in Chroma, in the BM25 index and in the record manager."""
    store = kb.store()
    vectors = set(store.chroma.get(include=[])["ids"]) if store is not None else set()
    return vectors, kb.lexical.ids(), set(kb.records.list_keys())
