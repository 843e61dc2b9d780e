"""``zhipu:<model>``: Zhipu AI (GLM) embeddings and GLM chat through its OpenAI-compatible API; key ``ZHIPUAI_API_KEY``.

(langchain-community's Zhipu wrapper needs the zhipuai SDK and the package is being sunset; Zhipu's
``/api/paas/v4`` endpoint speaks the OpenAI protocol, so this is a preset of ``openai:``.)
"""

from __future__ import annotations

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel

from ragkit.providers import ProviderOptions, require_key
from ragkit.providers.openai import compatible_chat, compatible_embeddings


def embeddings(model: str, options: ProviderOptions) -> Embeddings:
    key = require_key(options.zhipuai_api_key, "ZHIPUAI_API_KEY", "zhipu")
    return compatible_embeddings(model or "embedding-3", base_url=options.zhipuai_base_url, key=key, options=options)


def chat_model(model: str, options: ProviderOptions, *, embeddings: Embeddings | None = None,
               temperature: float | None = None) -> BaseChatModel:
    key = require_key(options.zhipuai_api_key, "ZHIPUAI_API_KEY", "zhipu")
    return compatible_chat(model or "glm-4-flash", base_url=options.zhipuai_base_url, key=key, options=options,
                           temperature=temperature)
