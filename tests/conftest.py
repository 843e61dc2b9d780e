"""Shared fixtures. Every test runs with sockets blocked (pytest-socket, see pyproject) and with the
environment cleaned of ragkit and provider settings, in its own working directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpora" / "llm"
NONET = Path(__file__).parent / "support" / "nonet"
_PROVIDER_VARS = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ZHIPUAI_API_KEY", "DASHSCOPE_API_KEY", "OLLAMA_HOST")


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No RAGKIT_* or provider variables leak in; the working directory is a fresh folder."""
    for name in list(os.environ):
        if name.startswith("RAGKIT_") or name in _PROVIDER_VARS:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A writable copy of the LLM corpus."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


def run_ragkit(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
               timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m ragkit ARGS`` in a separate process with the network blocked."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RAGKIT_")}
    full_env["PYTHONPATH"] = os.pathsep.join([str(NONET), full_env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "ragkit", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=timeout)
