"""Rerankers for tests: a tiny CrossEncoder built here (no package ships offline Chinese reranker weights), and a
real HTTP server on 127.0.0.1 that serves it in the rerank API shapes ragkit speaks.

The CrossEncoder is a 2-layer BERT with random (seeded) weights over a character vocabulary of the LLM corpus:
its scores mean nothing, but they are a real model's, deterministic, and what every path must reproduce.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.conftest import CORPUS

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
DASHSCOPE_PATH = "/api/v1/services/rerank/text-rerank/text-rerank"


def tiny_cross_encoder(path: Path) -> Path:
    """Save a tiny sentence-transformers CrossEncoder (BERT, 1 label) with its tokenizer in ``path``."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    chars = sorted({ch for f in CORPUS.glob("*.md") for ch in f.read_text(encoding="utf-8").lower() if not ch.isspace()})
    tokens = SPECIAL + chars + [f"##{ch}" for ch in chars if ch.isascii()]  # Latin words as characters
    path.mkdir(parents=True, exist_ok=True)
    vocab = {token: i for i, token in enumerate(tokens)}
    BertTokenizer(vocab=vocab, do_lower_case=True, tokenize_chinese_chars=True).save_pretrained(path)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokens), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=512, num_labels=1, initializer_range=0.5)
    BertForSequenceClassification(config).save_pretrained(path)
    return path


@dataclass
class RerankServer:
    """``score(query, texts) -> [float]`` served as TEI (``/rerank``), Jina/Cohere (``/v1/rerank``) and DashScope.

    ``script`` is a queue of behaviours, one per request: ``"500"``/``"401"`` (that status), ``"malformed"`` (a
    body that is not JSON), ``"top1"`` (only the best result, as a service applying its own top_n would).
    ``require_key``: answer 401 without that Bearer token. Every request is kept in ``requests``.
    """

    score: Callable[[str, list[str]], list[float]]
    require_key: str | None = None
    script: list[str] = field(default_factory=list)
    requests: list[tuple[str, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def _results(self, query: str, texts: list[str], top_n: int | None, key: str) -> list[dict[str, Any]]:
        scores = self.score(query, texts)
        ranked = sorted(range(len(texts)), key=lambda i: -scores[i])[: top_n or len(texts)]
        return [{"index": i, key: scores[i]} for i in ranked]

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        behaviour = self.script.pop(0) if self.script else ""
        if behaviour in ("500", "401"):
            return int(behaviour), {"error": f"scripted {behaviour}"}
        if behaviour == "malformed":
            return 200, "this is not json"
        top_n = 1 if behaviour == "top1" else None
        if path == "/rerank":  # TEI
            return 200, self._results(body["query"], body["texts"], top_n, "score")
        if path == DASHSCOPE_PATH:
            results = self._results(body["input"]["query"], body["input"]["documents"],
                                    top_n or body["parameters"].get("top_n"), "relevance_score")
            return 200, {"output": {"results": results}, "usage": {"total_tokens": 1}, "request_id": "r1"}
        if path == "/v1/rerank":  # Jina, Cohere, Xinference, SiliconFlow, vLLM, llama.cpp server
            results = self._results(body["query"], body["documents"], top_n or body.get("top_n"), "relevance_score")
            return 200, {"model": body.get("model"), "results": results}
        return 404, {"error": f"no route {path}"}

    def start(self) -> RerankServer:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                api.requests.append((self.path, body, dict(self.headers)))
                if api.require_key and self.headers.get("Authorization") != f"Bearer {api.require_key}":
                    status, payload = 401, {"error": "invalid api key"}
                else:
                    status, payload = api.answer(self.path, body)
                data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
