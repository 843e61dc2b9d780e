"""``http:<url>[#model]``: a reranking web API in the shape Jina, Cohere, Xinference, SiliconFlow, vLLM and
llama.cpp's server share: ``POST {"model", "query", "documents", "top_n"}`` -> ``{"results": [{"index",
"relevance_score"}]}``. The URL fragment names the model (fragments never reach the server); a Bearer key comes
from ``RAGKIT_RERANK_API_KEY``. :class:`APIReranker` also speaks TEI's shape (``tei:``) and DashScope's
(``dashscope:``).

Connection errors, timeouts, HTTP 429 and 5xx are retried ``max_retries`` times with backoff, then reported in
one line, like any other refusal.

>>> r = reranker("https://api.jina.ai/v1/rerank#jina-reranker-v2-base-multilingual", ProviderOptions())
>>> r.url, r.model, r.body("问题", ["甲", "乙"])
('https://api.jina.ai/v1/rerank', 'jina-reranker-v2-base-multilingual', {'query': '问题', 'documents': ['甲', '乙'], 'top_n': 2, 'model': 'jina-reranker-v2-base-multilingual'})
"""

from __future__ import annotations

import time
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from ragkit.errors import ConfigError, ProviderError
from ragkit.providers import ProviderOptions
from ragkit.reranking import Reranker

Shape = Literal["cohere", "tei", "dashscope"]
_RETRIED = {408, 409, 429}


def _items(data: Any) -> list[Any] | None:
    """The scored items of any of the three response shapes."""
    if isinstance(data, dict):
        data = data.get("results", (data.get("output") or {}).get("results") if isinstance(data.get("output"), dict)
                        else None)
    return data if isinstance(data, list) else None


def read_scores(data: Any, n: int) -> list[float] | None:
    """One score per passage from a rerank response (None when it is not one). Passages the service left out
    (e.g. it applied its own top_n) come after every scored one, in their order.

    >>> read_scores({"results": [{"index": 1, "relevance_score": 0.9}, {"index": 0, "relevance_score": 0.2}]}, 2)
    [0.2, 0.9]
    >>> read_scores([{"index": 0, "score": 3.5}], 2)
    [3.5, 2.0]
    """
    items = _items(data)
    if items is None:
        return None
    scored: dict[int, float] = {}
    for item in items:
        if not isinstance(item, dict):
            return None
        index, score = item.get("index"), item.get("relevance_score", item.get("score"))
        if isinstance(index, int) and 0 <= index < n and isinstance(score, (int, float)):
            scored[index] = float(score)
    if not scored:
        return None
    floor = min(scored.values()) - 1.0
    return [scored.get(i, floor - i / n) for i in range(n)]


class APIReranker(Reranker):
    """Scores from a rerank web API (see the module docstring)."""

    url: str
    model: str | None = None
    shape: Shape = "cohere"
    provider: str = "http"
    api_key: SecretStr | None = None
    timeout: float = 60.0
    max_retries: int = 2

    def body(self, query: str, texts: list[str]) -> dict[str, Any]:
        """The request for ``texts`` in this API's shape."""
        if self.shape == "tei":
            return {"query": query, "texts": texts, "raw_scores": False}
        if self.shape == "dashscope":
            return {"model": self.model, "input": {"query": query, "documents": texts},
                    "parameters": {"top_n": len(texts), "return_documents": False}}
        body: dict[str, Any] = {"query": query, "documents": texts, "top_n": len(texts)}
        if self.model:
            body["model"] = self.model
        return body

    def _failure(self, detail: str) -> ProviderError:
        return ProviderError.of("rerank_failed", provider=self.provider, url=self.url, detail=detail[:300])

    def _post(self, body: dict[str, Any]) -> Any:
        import httpx

        headers = {"Authorization": f"Bearer {self.api_key.get_secret_value()}"} if self.api_key else {}
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            try:
                response = httpx.post(self.url, json=body, headers=headers, timeout=self.timeout)
            except httpx.TransportError as exc:
                if last:
                    raise self._failure(f"{type(exc).__name__}, still after {self.max_retries} retries") from exc
            else:
                if response.status_code < 300:
                    try:
                        return response.json()
                    except ValueError as exc:
                        raise self._failure("the response is not JSON") from exc
                if last or not (response.status_code in _RETRIED or response.status_code >= 500):
                    detail = " ".join(response.text.split())[:200]
                    raise self._failure(f"HTTP {response.status_code}: {detail}")
            time.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")

    def scores(self, query: str, texts: list[str]) -> list[float]:
        scores = read_scores(self._post(self.body(query, texts)), len(texts))
        if scores is None:
            raise self._failure("the response holds no results with index and score")
        return scores


def api_reranker(url: str, options: ProviderOptions, *, provider: str, shape: Shape, model: str | None = None,
                 key: SecretStr | None = None) -> APIReranker:
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{provider} reranker: {url!r} is not an http(s) URL; e.g. {provider}:http://127.0.0.1:8080/rerank")
    return APIReranker(url=url, model=model, shape=shape, provider=provider, api_key=key,
                       timeout=options.timeout, max_retries=options.max_retries)


def reranker(model: str, options: ProviderOptions, *, llm: BaseChatModel | None = None) -> APIReranker:
    url, _, name = model.partition("#")
    return api_reranker(url, options, provider="http", shape="cohere", model=name or None,
                        key=options.rerank_api_key)
