"""A real HTTP server on 127.0.0.1 that speaks the OpenAI and Ollama embedding APIs, for tests.

Embeddings are deterministic (hashed character bigrams), so tests can compare results. ``require_key``
makes it answer 401 without that bearer token; every request is recorded in ``requests``.
"""

from __future__ import annotations

import json
import math
import threading
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DIM = 32


def vector(text: str, dim: int = DIM) -> list[float]:
    vec = [0.0] * dim
    for i in range(max(1, len(text) - 1)):
        vec[zlib.crc32(text[i : i + 2].encode()) % dim] += 1.0
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]


@dataclass
class FakeAPI:
    require_key: str | None = None
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeAPI:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                api.requests.append((self.path, body))
                if api.require_key and self.headers.get("Authorization") != f"Bearer {api.require_key}":
                    self._send(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                                               "code": "invalid_api_key"}})
                    return
                inputs = body.get("input")
                texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
                if self.path.endswith("/embeddings"):
                    data = [{"object": "embedding", "index": i, "embedding": vector(t)} for i, t in enumerate(texts)]
                    self._send(200, {"object": "list", "data": data, "model": body.get("model"),
                                     "usage": {"prompt_tokens": 1, "total_tokens": 1}})
                elif self.path == "/api/embed":
                    self._send(200, {"model": body.get("model"), "embeddings": [vector(t) for t in texts]})
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
