"""``dashscope:<model>``: Alibaba DashScope (Qwen) embeddings via langchain-community; key ``DASHSCOPE_API_KEY``."""

from __future__ import annotations

from langchain_core.embeddings import Embeddings

from ragkit.providers import ProviderOptions, require_key


def embeddings(model: str, options: ProviderOptions) -> Embeddings:
    from langchain_community.embeddings import DashScopeEmbeddings

    key = require_key(options.dashscope_api_key, "DASHSCOPE_API_KEY", "dashscope")
    return DashScopeEmbeddings(model=model or "text-embedding-v3", dashscope_api_key=key)
