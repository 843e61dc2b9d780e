"""A real HTTP server on 127.0.0.1 that speaks the OpenAI (embeddings, chat completions with streaming) and
Ollama embedding APIs, for tests.

Embeddings are deterministic (hashed character bigrams). Chat replies come from ``replies`` (cycled), or
``reply_with`` (a function of the request body). ``script`` is a queue of behaviours consumed one per chat
request: ``"429"``/``"500"``/``"401"`` (that status), ``"sleep:S"`` (answer after S seconds),
``"malformed"`` (a stream whose events are not JSON), ``"slow"`` (stream one piece every 0.2 s).
A reply of the form ``TOOL:name:{json args}`` is sent as a tool call instead of text.
``require_key`` makes it answer 401 without that bearer token; every request is recorded in ``requests``.
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
import zlib
from collections.abc import Callable
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
    replies: list[str] = field(default_factory=lambda: ["ChatGLM 可以在 7G 显存下微调。[1]"])
    reply_with: Callable[[dict[str, Any]], str] | None = None
    script: list[str] = field(default_factory=list)

    def chat_requests(self) -> list[dict[str, Any]]:
        return [body for path, body in self.requests if path.endswith("/chat/completions")]

    def _reply(self, body: dict[str, Any]) -> str:
        if self.reply_with is not None:
            return self.reply_with(body)
        return self.replies[(len(self.chat_requests()) - 1) % len(self.replies)]

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
                if self.path.endswith("/chat/completions"):
                    self._chat(body)
                elif self.path.endswith("/embeddings"):
                    data = [{"object": "embedding", "index": i, "embedding": vector(t)} for i, t in enumerate(texts)]
                    self._send(200, {"object": "list", "data": data, "model": body.get("model"),
                                     "usage": {"prompt_tokens": 1, "total_tokens": 1}})
                elif self.path == "/api/embed":
                    self._send(200, {"model": body.get("model"), "embeddings": [vector(t) for t in texts]})
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

            def _chat(self, body: dict[str, Any]) -> None:
                behaviour = api.script.pop(0) if api.script else "ok"
                if behaviour.isdigit():
                    self._send(int(behaviour), {"error": {"message": f"scripted {behaviour}", "type": "error"}})
                    return
                if behaviour.startswith("sleep:"):
                    time.sleep(float(behaviour.split(":")[1]))
                text = api._reply(body)
                model = body.get("model", "fake")
                if not body.get("stream"):
                    self._send(200, {"id": "c1", "object": "chat.completion", "created": 0, "model": model,
                                     "choices": [{"index": 0, "finish_reason": "stop",
                                                  "message": {"role": "assistant", "content": text}}],
                                     "usage": {"prompt_tokens": 10, "completion_tokens": len(text), "total_tokens": 10 + len(text)}})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                if behaviour == "malformed":
                    self.wfile.write(b"data: {this is not json\n\n")
                    self.wfile.flush()
                    return
                if text.startswith("TOOL:"):
                    _, name, arguments = text.split(":", 2)
                    call = {"index": 0, "id": f"call_{len(api.chat_requests())}", "type": "function",
                            "function": {"name": name, "arguments": arguments}}
                    events = [{"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": model,
                               "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [call]},
                                            "finish_reason": None}]},
                              {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": model,
                               "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}]
                    for event in events:
                        self.wfile.write(f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode())
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                    return
                pieces = [text[i : i + 4] for i in range(0, len(text), 4)]
                for piece in pieces:
                    event = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": model,
                             "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode())
                    self.wfile.flush()
                    if behaviour == "slow":
                        time.sleep(0.2)
                final = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": model,
                         "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                         "usage": {"prompt_tokens": 10, "completion_tokens": len(text), "total_tokens": 10 + len(text)}}
                self.wfile.write(f"data: {json.dumps(final)}\n\ndata: [DONE]\n\n".encode())
                self.wfile.flush()

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                    super().handle_error(request, client_address)  # a client that hung up is expected

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
