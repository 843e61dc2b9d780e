"""A real ``ragkit serve`` process on 127.0.0.1 for tests (network blocked apart from loopback).

>>> with ragkit_server(data_dir, env={"RAGKIT_EMBEDDER": "fake:32"}) as server:  # doctest: +SKIP
...     httpx.get(server.url + "/healthz")

Ready when ``GET /healthz`` answers; stopped with SIGTERM, then SIGKILL. Only the process this helper started is
ever signalled. Its output goes to ``server.log`` (``Server.log()`` reads it).
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import NONET
from tests.support.chroma_server import HOST, free_port


@dataclass
class Server:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        """SIGKILL: the server gets no chance to clean up."""
        self.process.kill()
        self.process.wait(30)


def healthy(port: int) -> bool:
    conn = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def start(data_dir: Path, *, env: dict[str, str] | None = None, args: tuple[str, ...] = (),
          log_path: Path | None = None, timeout: float = 120) -> Server:
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RAGKIT_") and not k.upper().endswith("_PROXY")}
    full_env["PYTHONPATH"] = os.pathsep.join([str(NONET), full_env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    full_env.update({"RAGKIT_DATA_DIR": str(data_dir), **(env or {})})
    log_path = log_path or data_dir.parent / f"server-{port}.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "ragkit", "serve", "--host", HOST, "--port", str(port), *args],
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=full_env,
                                   cwd=data_dir.parent)
    server = Server(f"http://{HOST}:{port}", port, process, log_path)
    deadline = time.monotonic() + timeout
    while not healthy(port):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(server)
            raise RuntimeError(f"ragkit serve did not start (status {process.poll()}):\n{server.log()[-3000:]}")
        time.sleep(0.1)
    return server


def stop(server: Server, timeout: float = 20) -> None:
    if server.process.poll() is not None:
        return
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(timeout)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout)


@contextmanager
def ragkit_server(data_dir: Path, **kwargs: object) -> Iterator[Server]:
    server = start(data_dir, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        stop(server)
