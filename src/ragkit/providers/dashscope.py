"""``dashscope:<model>``: Alibaba DashScope (Qwen) embeddings, compatible mode; key ``DASHSCOPE_API_KEY``.

(A preset of ``openai:`` on DashScope's OpenAI-compatible endpoint, instead of langchain-community's
wrapper, which needs the dashscope SDK and whose package is being sunset.)
"""

from __future__ import annotations

from langchain_core.embeddings import Embeddings

from ragkit.providers import ProviderOptions, require_key
from ragkit.providers.openai import compatible_embeddings


def embeddings(model: str, options: ProviderOptions) -> Embeddings:
    key = require_key(options.dashscope_api_key, "DASHSCOPE_API_KEY", "dashscope")
    return compatible_embeddings(model or "text-embedding-v3", base_url=options.dashscope_base_url, key=key,
                                 options=options)
