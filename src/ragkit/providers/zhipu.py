"""``zhipu:<model>``: Zhipu AI (GLM) embeddings through its OpenAI-compatible API; key ``ZHIPUAI_API_KEY``.

(langchain-community's Zhipu wrapper needs the zhipuai SDK and the package is being sunset; Zhipu's
``/api/paas/v4`` endpoint speaks the OpenAI protocol, so this is a preset of ``openai:``.)
"""

from __future__ import annotations

from langchain_core.embeddings import Embeddings

from ragkit.providers import ProviderOptions, require_key
from ragkit.providers.openai import compatible_embeddings


def embeddings(model: str, options: ProviderOptions) -> Embeddings:
    key = require_key(options.zhipuai_api_key, "ZHIPUAI_API_KEY", "zhipu")
    return compatible_embeddings(model or "embedding-3", base_url=options.zhipuai_base_url, key=key, options=options)
