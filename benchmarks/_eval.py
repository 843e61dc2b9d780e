"""Run `ragkit eval` (the command users run) for the benchmark scripts and read its results.json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from _common import ROOT


def ragkit(*args: str, data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RAGKIT_")}
    environment.update(RAGKIT_DATA_DIR=str(data_dir), **env)
    return subprocess.run([sys.executable, "-m", "ragkit", *args], env=environment, capture_output=True, text=True,
                          cwd=ROOT, check=False)


def run_eval(questions: Path, data_dir: Path, out: Path, *extra: str, **env: str) -> dict[str, Any]:
    done = ragkit("eval", str(questions), "--out", str(out), *extra, data_dir=data_dir, **env)
    if done.returncode not in (0, 1) or not (out / "results.json").exists():
        raise RuntimeError(f"ragkit eval failed:\n{done.stderr[-3000:]}")
    return json.loads((out / "results.json").read_text(encoding="utf-8"))
