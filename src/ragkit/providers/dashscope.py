"""``dashscope:<model>``: Alibaba DashScope (Qwen) embeddings and Qwen chat, compatible mode, and its text
reranking (``gte-rerank-v2``) through the native API on the same host; key ``DASHSCOPE_API_KEY``.

(A preset of ``openai:`` on DashScope's OpenAI-compatible endpoint, instead of langchain-community's
wrapper, which needs the dashscope SDK and whose package is being sunset.)
"""

from __future__ import annotations

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel

from ragkit.providers import ProviderOptions, require_key
from ragkit.providers.http import APIReranker, api_reranker
from ragkit.providers.openai import compatible_chat, compatible_embeddings

RERANK_PATH = "/api/v1/services/rerank/text-rerank/text-rerank"


def embeddings(model: str, options: ProviderOptions) -> Embeddings:
    key = require_key(options.dashscope_api_key, "DASHSCOPE_API_KEY", "dashscope")
    return compatible_embeddings(model or "text-embedding-v3", base_url=options.dashscope_base_url, key=key,
                                 options=options)


def chat_model(model: str, options: ProviderOptions, *, embeddings: Embeddings | None = None,
               temperature: float | None = None) -> BaseChatModel:
    key = require_key(options.dashscope_api_key, "DASHSCOPE_API_KEY", "dashscope")
    return compatible_chat(model or "qwen-plus", base_url=options.dashscope_base_url, key=key, options=options,
                           temperature=temperature)


def rerank_url(base_url: str) -> str:
    """DashScope's rerank endpoint on the host of the (compatible-mode) base URL.

    >>> rerank_url("https://dashscope.aliyuncs.com/compatible-mode/v1")
    'https://dashscope.aliyuncs.com/api/v1/services/rerank/text-rerank/text-rerank'
    """
    scheme, _, rest = base_url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}{RERANK_PATH}"


def reranker(model: str, options: ProviderOptions, *, llm: BaseChatModel | None = None) -> APIReranker:
    require_key(options.dashscope_api_key, "DASHSCOPE_API_KEY", "dashscope")
    return api_reranker(rerank_url(options.dashscope_base_url), options, provider="dashscope", shape="dashscope",
                        model=model or "gte-rerank-v2", key=options.dashscope_api_key)
