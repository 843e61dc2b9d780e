"""A real Chroma server (``chroma run``, the CLI shipped in the chromadb wheel) on 127.0.0.1, for tests.

>>> with chroma_server(tmp_path) as url:  # doctest: +SKIP
...     chromadb.HttpClient(host="127.0.0.1", port=int(url.rsplit(":", 1)[1]))

The server is judged ready by ``GET /api/v2/heartbeat`` (``chroma run`` exits with status 0 when its port
is taken, so the exit status alone says nothing), and stopped with SIGTERM, then SIGKILL if it lingers.
Only the process this helper started is ever signalled.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HOST = "127.0.0.1"


def chroma_executable() -> str:
    """The ``chroma`` CLI of this interpreter's environment (next to ``sys.executable``), else from PATH."""
    beside = Path(sys.executable).parent / "chroma"
    if beside.exists():
        return str(beside)
    found = shutil.which("chroma")
    if found is None:
        raise FileNotFoundError(f"no chroma executable beside {sys.executable} or on PATH (pip install chromadb)")
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 with nothing listening on it (right now)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]
    finally:
        sock.close()


def listening(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((HOST, port)) == 0


def heartbeat(port: int, *, timeout: float = 1.0) -> bool:
    """Whether a Chroma server answers ``GET /api/v2/heartbeat`` on 127.0.0.1:``port``."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", "/api/v2/heartbeat")
        response = conn.getresponse()
        body = response.read()
        return response.status == 200 and b"heartbeat" in body
    except OSError:
        return False
    finally:
        conn.close()


def _stop(process: subprocess.Popen[bytes], timeout: float) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)


@contextmanager
def chroma_server(path: Path | str | None = None, *, port: int | None = None, start_timeout: float = 60.0,
                  stop_timeout: float = 10.0) -> Iterator[str]:
    """Run ``chroma run --host 127.0.0.1 --port PORT --path PATH``; yield ``http://127.0.0.1:PORT``.

    ``path`` is where the server keeps its data (a temporary folder, removed afterwards, when None).
    The server's output goes to ``chroma.log`` beside the data and is shown if it fails to start.
    """
    port = port or free_port()
    if listening(port):  # its heartbeat would pass for ours (and chroma run exits 0 on a taken port)
        raise RuntimeError(f"port {port} on {HOST} is already in use")
    executable = chroma_executable()
    own_dir = path is None
    root = Path(tempfile.mkdtemp(prefix="ragkit-chroma-")) if own_dir else Path(path)
    root.mkdir(parents=True, exist_ok=True)
    log_path = root / "chroma.log"
    env = {k: v for k, v in os.environ.items() if not k.upper().endswith("_PROXY")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    process: subprocess.Popen[bytes] | None = None
    try:
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [executable, "run", "--host", HOST, "--port", str(port), "--path", str(root / "data")],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root,
            )
        deadline = time.monotonic() + start_timeout
        while not heartbeat(port):
            if process.poll() is not None or time.monotonic() > deadline:
                output = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
                state = f"exited with status {process.returncode}" if process.poll() is not None else "timed out"
                raise RuntimeError(f"chroma run on port {port} {state} before answering the heartbeat:\n{output}")
            time.sleep(0.05)
        if process.poll() is not None:  # someone else answers on that port
            raise RuntimeError(f"port {port} answered, but our chroma run exited ({process.returncode})")
        yield f"http://{HOST}:{port}"
    finally:
        if process is not None:
            _stop(process, stop_timeout)
        if own_dir:
            shutil.rmtree(root, ignore_errors=True)
