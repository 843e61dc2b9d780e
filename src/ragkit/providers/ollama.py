"""``ollama:<model>``: embeddings and chat from an Ollama server (``RAGKIT_OLLAMA_BASE_URL`` / ``OLLAMA_HOST``)."""

from __future__ import annotations

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel

from ragkit.providers import ProviderOptions


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
    return ChatOllama(model=model, base_url=options.ollama_base_url, temperature=temperature)
