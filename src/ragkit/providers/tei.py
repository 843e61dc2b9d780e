"""``tei:<url>``: Hugging Face text-embeddings-inference's ``/rerank`` (``{"query", "texts"}`` ->
``[{"index", "score"}]``), e.g. ``tei:http://127.0.0.1:8080/rerank`` for a server started with a reranker
model (``--model-id BAAI/bge-reranker-v2-m3``). A Bearer key, if it needs one, from ``RAGKIT_RERANK_API_KEY``."""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel

from ragkit.providers import ProviderOptions
from ragkit.providers.http import APIReranker, api_reranker


def reranker(model: str, options: ProviderOptions, *, llm: BaseChatModel | None = None) -> APIReranker:
    return api_reranker(model, options, provider="tei", shape="tei", key=options.rerank_api_key)
