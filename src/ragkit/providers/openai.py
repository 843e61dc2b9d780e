"""``openai:<model>``: any OpenAI-compatible embeddings endpoint.

Base URL and key come from settings (``RAGKIT_OPENAI_BASE_URL``, ``RAGKIT_OPENAI_API_KEY`` or
``OPENAI_API_KEY``). A local server (vLLM, llama.cpp, Ollama) needs no key.

>>> emb = embeddings("bge-m3", ProviderOptions(openai_base_url="http://127.0.0.1:8000/v1"))
>>> emb.model
'bge-m3'
"""

from __future__ import annotations

from langchain_core.embeddings import Embeddings

from ragkit.providers import ProviderOptions, require_key


def api_key(options: ProviderOptions) -> str:
    """The key to send; a custom base URL without a key gets a placeholder (local servers)."""
    if options.openai_base_url and options.openai_api_key is None:
        return "not-needed"
    return require_key(options.openai_api_key, "RAGKIT_OPENAI_API_KEY or OPENAI_API_KEY", "openai")


def embeddings(model: str, options: ProviderOptions) -> Embeddings:
    from langchain_openai import OpenAIEmbeddings

    return OpenAIEmbeddings(
        model=model or "text-embedding-3-small",
        base_url=options.openai_base_url,
        api_key=api_key(options),
        timeout=options.timeout,
        max_retries=options.max_retries,
        chunk_size=options.batch_size,
        # tiktoken would download its BPE files, and other servers' models are not OpenAI's.
        check_embedding_ctx_length=False,
    )
