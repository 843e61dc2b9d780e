"""``openai:<model>``: any OpenAI-compatible endpoint, for embeddings and chat.

Base URL and key come from settings (``RAGKIT_OPENAI_BASE_URL``, ``RAGKIT_OPENAI_API_KEY`` or
``OPENAI_API_KEY``). A local server (vLLM, llama.cpp, Ollama) needs no key.

>>> emb = embeddings("bge-m3", ProviderOptions(openai_base_url="http://127.0.0.1:8000/v1"))
>>> emb.model
'bge-m3'
"""

from __future__ import annotations

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel

from ragkit.providers import ProviderOptions, require_key
from ragkit.providers.toolcalls import with_text_tool_calls


def api_key(options: ProviderOptions) -> str:
    """The key to send; a custom base URL without a key gets a placeholder (local servers)."""
    if options.openai_base_url and options.openai_api_key is None:
        return "not-needed"
    return require_key(options.openai_api_key, "RAGKIT_OPENAI_API_KEY or OPENAI_API_KEY", "openai")


def compatible_embeddings(model: str, *, base_url: str | None, key: str, options: ProviderOptions) -> Embeddings:
    """OpenAIEmbeddings set up for any compatible server (no tiktoken, no OpenAI-only checks)."""
    from langchain_openai import OpenAIEmbeddings

    return OpenAIEmbeddings(
        model=model, base_url=base_url, api_key=key, timeout=options.timeout, max_retries=options.max_retries,
        chunk_size=options.batch_size,
        # tiktoken would download its BPE files, and other servers' models are not OpenAI's.
        check_embedding_ctx_length=False,
    )


def embeddings(model: str, options: ProviderOptions) -> Embeddings:
    return compatible_embeddings(model or "text-embedding-3-small", base_url=options.openai_base_url,
                                 key=api_key(options), options=options)


def compatible_chat(model: str, *, base_url: str | None, key: str, options: ProviderOptions,
                    temperature: float | None) -> BaseChatModel:
    """ChatOpenAI for any compatible server, streaming, with the settings' timeout and retries (the OpenAI
    SDK retries connection errors, 408/409/429 and 5xx with exponential backoff; 401 is not retried). With
    ``text_tool_calls`` on, tool calls written as JSON in the reply text become real ones."""
    from langchain_openai import ChatOpenAI

    cls = with_text_tool_calls(ChatOpenAI) if options.text_tool_calls else ChatOpenAI
    return cls(model=model, base_url=base_url, api_key=key, timeout=options.timeout,
                      max_retries=options.max_retries, temperature=temperature, streaming=True,
                      stream_usage=True)


def chat_model(model: str, options: ProviderOptions, *, embeddings: Embeddings | None = None,
               temperature: float | None = None) -> BaseChatModel:
    return compatible_chat(model or "gpt-4o-mini", base_url=options.openai_base_url, key=api_key(options),
                           options=options, temperature=temperature)
