"""``zhipu:<model>``: Zhipu AI (GLM) embeddings through langchain-community; key ``ZHIPUAI_API_KEY``."""

from __future__ import annotations

from langchain_core.embeddings import Embeddings

from ragkit.providers import ProviderOptions, require_key


def embeddings(model: str, options: ProviderOptions) -> Embeddings:
    from langchain_community.embeddings import ZhipuAIEmbeddings

    key = require_key(options.zhipuai_api_key, "ZHIPUAI_API_KEY", "zhipu")
    return ZhipuAIEmbeddings(model=model or "embedding-3", api_key=key)
