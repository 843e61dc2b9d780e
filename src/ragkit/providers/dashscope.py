"""``dashscope:<model>``: Alibaba DashScope (Qwen) embeddings and Qwen chat, compatible mode; key ``DASHSCOPE_API_KEY``.

(A preset of ``openai:`` on DashScope's OpenAI-compatible endpoint, instead of langchain-community's
wrapper, which needs the dashscope SDK and whose package is being sunset.)
"""

from __future__ import annotations

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel

from ragkit.providers import ProviderOptions, require_key
from ragkit.providers.openai import compatible_chat, compatible_embeddings


def embeddings(model: str, options: ProviderOptions) -> Embeddings:
    key = require_key(options.dashscope_api_key, "DASHSCOPE_API_KEY", "dashscope")
    return compatible_embeddings(model or "text-embedding-v3", base_url=options.dashscope_base_url, key=key,
                                 options=options)


def chat_model(model: str, options: ProviderOptions, *, embeddings: Embeddings | None = None,
               temperature: float | None = None) -> BaseChatModel:
    key = require_key(options.dashscope_api_key, "DASHSCOPE_API_KEY", "dashscope")
    return compatible_chat(model or "qwen-plus", base_url=options.dashscope_base_url, key=key, options=options,
                           temperature=temperature)
