"""``ollama:<model>``: embeddings and chat from an Ollama server (``RAGKIT_OLLAMA_BASE_URL`` / ``OLLAMA_HOST``).

With ``RAGKIT_TEXT_TOOL_CALLS=true``, tool calls a small model writes as JSON in its reply text become real ones
(:mod:`ragkit.providers.toolcalls`)."""

from __future__ import annotations

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel

from ragkit.providers import ProviderOptions
from ragkit.providers.toolcalls import with_text_tool_calls


def embeddings(model: str, options: ProviderOptions) -> Embeddings:
    from langchain_ollama import OllamaEmbeddings

    if not model:
        raise ValueError("ollama needs a model: ollama:<name>, e.g. ollama:bge-m3")
    return OllamaEmbeddings(model=model, base_url=options.ollama_base_url)


def chat_model(model: str, options: ProviderOptions, *, embeddings: Embeddings | None = None,
               temperature: float | None = None) -> BaseChatModel:
    from langchain_ollama import ChatOllama

    if not model:
        raise ValueError("ollama needs a model: ollama:<name>, e.g. ollama:qwen2.5")
    cls = with_text_tool_calls(ChatOllama) if options.text_tool_calls else ChatOllama
    return cls(model=model, base_url=options.ollama_base_url, temperature=temperature)
