"""A SIGKILL in the middle of an ingest: the next `ragkit ingest` completes the store, `ragkit info` agrees."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CORPUS, NONET
from tests.integration.test_ingest import assert_consistent
from tests.support.kb import ids_everywhere, open_kb

COPIES = 4  # 20 files, about 1200 chunks: long enough to be killed in the middle


def _corpus(root: Path) -> Path:
    for n in range(COPIES):
        shutil.copytree(CORPUS, root / f"part{n}")
    return root


def _env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGKIT_")}
    env.update(RAGKIT_DATA_DIR=str(data), RAGKIT_EMBEDDER="fake:32", RAGKIT_LANG="en",
               PYTHONPATH=os.pathsep.join([str(NONET), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
               RAGKIT_EMBED_BATCH_SIZE="16")  # the source under test first (a worktree's src)
    return env


def _query(data: Path, sql: str) -> list[tuple]:
    try:
        with sqlite3.connect(data / "ragkit.sqlite", timeout=1) as conn:
            return conn.execute(sql).fetchall()
    except sqlite3.Error:  # not created yet
        return []


def _records(data: Path) -> int:
    rows = _query(data, "SELECT count(*) FROM records")
    return rows[0][0] if rows else 0


def _kill_when(root: Path, data: Path, ready: Callable[[], bool], *args: str) -> None:
    """Start an ingest and SIGKILL it as soon as ``ready()`` says so."""
    process = subprocess.Popen([sys.executable, "-m", "ragkit", "ingest", str(root), *args],
                               env=_env(data), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while process.poll() is None and not ready() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert process.poll() is None, "the ingest finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()


def _pending(data: Path) -> bool:
    return bool(_query(data, "SELECT 1 FROM files WHERE pending IS NOT NULL"))


def _kill_mid_file(root: Path, data: Path, records: int) -> None:
    """Kill an ingest while a file is half written (a kill can land just between two files: try again)."""
    for _ in range(3):
        _kill_when(root, data, lambda: _records(data) >= records and _pending(data))
        if _pending(data):
            return
    pytest.fail("could not kill an ingest in the middle of a file")


def _ragkit(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ragkit", *args], env=_env(data), capture_output=True,
                          text=True, timeout=600)


def test_killed_ingests_are_completed_by_the_next_one(tmp_path):
    root = _corpus(tmp_path / "docs")
    data = tmp_path / "data"
    reference = open_kb(tmp_path / "reference")
    from ragkit.ingest import ingest

    ingest(reference, [root])
    expected = ids_everywhere(reference)[0]

    _kill_mid_file(root, data, 150)  # in the first files
    _kill_mid_file(root, data, 700)  # the next run, further on
    info = json.loads(_ragkit(data, "info", "--json").stdout)
    assert info["pending_files"] >= 1 and not info["consistent"]

    done = _ragkit(data, "ingest", str(root))
    assert done.returncode == 0, done.stderr
    info = json.loads(_ragkit(data, "info", "--json").stdout)
    assert info["consistent"] and info["pending_files"] == 0
    assert info["chunks"] == info["bm25_chunks"] == info["records"] == len(expected)
    kb = open_kb(data)
    assert ids_everywhere(kb)[0] == expected  # no duplicate, no orphan, nothing missing
    assert_consistent(kb, len(expected))


def test_a_killed_update_then_a_deleted_file_leaves_no_orphans(tmp_path):
    root = _corpus(tmp_path / "docs")
    data = tmp_path / "data"
    assert _ragkit(data, "ingest", str(root)).returncode == 0
    for path in sorted(root.rglob("*.md")):
        path.write_text(path.read_text(encoding="utf-8") + "\n\n## 追加\n\n修改后的内容。\n", encoding="utf-8")
    committed = dict(_query(data, "SELECT source, hash FROM files"))

    def half_updated() -> bool:
        rows = _query(data, "SELECT source, hash, pending FROM files")
        changed = sum(1 for source, hash_, _ in rows if hash_ != committed[source])
        return changed >= 6 and any(pending for _, _, pending in rows)

    _kill_when(root, data, half_updated)
    victim = sorted(root.rglob("*.md"))[0]
    victim.unlink()
    done = _ragkit(data, "ingest", str(root), "--prune")
    assert done.returncode == 0, done.stderr
    kb = open_kb(data)
    assert_consistent(kb)
    sources = {r.source for r in kb.journal.all()}
    assert victim.relative_to(root).as_posix() not in sources and len(sources) == 5 * COPIES - 1
    for _, meta in kb.lexical.get(sorted(kb.lexical.ids())).values():
        assert kb.journal.get(meta["source"]).hash == meta["file_hash"]  # only the committed versions


def test_a_damaged_vector_index_is_rebuilt_from_stored_vectors(tmp_path, corpus_copy):
    data = tmp_path / "data"
    kb = open_kb(data)
    from ragkit.ingest import ingest

    ingest(kb, [corpus_copy])
    expected = ids_everywhere(kb)[0]
    chroma_dir = kb.chroma_dir
    del kb
    shutil.rmtree(chroma_dir)  # what a crash in Chroma's files amounts to: the vectors cannot be read
    with sqlite3.connect(data / "ragkit.sqlite") as conn:  # ...after an ingest that was interrupted
        conn.execute("UPDATE files SET pending = hash WHERE source = 'llm-tracking.md'")
    again = open_kb(data)
    report = ingest(again, [corpus_copy])
    assert report.ok and report.recovered == 1
    assert again.embeddings.documents == 0  # rebuilt without one model call
    assert ids_everywhere(again)[0] == expected
    assert_consistent(again, len(expected))
