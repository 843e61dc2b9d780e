"""``ragkit watch``: a real watcher process on a temporary folder (fake:32 embedder, real Chroma), changed by the
test the way editors and file managers change files, and checked with ``ragkit search`` / ``ragkit list``."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import NONET, run_ragkit

ENV = {"RAGKIT_EMBEDDER": "fake:32", "RAGKIT_LANG": "en"}


class Watcher:
    """``ragkit watch FOLDER`` in its own process; its output lines are collected as they come."""

    def __init__(self, folder: Path, data: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAGKIT_")}
        env["PYTHONPATH"] = os.pathsep.join([str(NONET), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        env.update(ENV)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ragkit", "--lang", "en", "watch", str(folder), "--data-dir", str(data)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, *texts: str, timeout: float = 90) -> None:
        """Until every text has appeared in some line (since the last call)."""
        missing = list(texts)
        deadline = time.monotonic() + timeout
        while missing:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"watcher never printed {missing}; it printed {self.seen}")
            self.seen.append(line)
            missing = [t for t in missing if t not in line]

    def quiet(self, seconds: float) -> list[str]:
        """Lines printed during the next ``seconds``."""
        out = []
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            try:
                out.append(self.lines.get(timeout=left))
            except queue.Empty:
                break
        self.seen.extend(out)
        return out

    def stop(self) -> int:
        self.process.terminate()
        return self.process.wait(timeout=60)


def _search(data: Path, query: str) -> list[dict]:
    done = run_ragkit("search", query, "--data-dir", str(data), "--json", "--mode", "bm25", env=ENV)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["results"]


def _sources(data: Path) -> set[str]:
    done = run_ragkit("list", "--data-dir", str(data), "--json", env=ENV)
    assert done.returncode == 0, done.stderr
    return {d["source"] for d in json.loads(done.stdout)["documents"]}


def test_created_changed_renamed_and_deleted_files_follow_the_folder(tmp_path):
    folder, data = tmp_path / "docs", tmp_path / "data"
    folder.mkdir()
    (folder / "apple.md").write_text("# 苹果\n\n苹果的价格是每斤五元。\n", encoding="utf-8")
    watcher = Watcher(folder, data)
    try:
        watcher.wait_for("added 1, updated 0", "caught up")
        (folder / "banana.md").write_text("# 香蕉\n\n香蕉的产地是海南。\n", encoding="utf-8")
        watcher.wait_for("added banana.md")
        assert _search(data, "香蕉 产地")[0]["source"] == "banana.md"

        (folder / "banana.md").write_text("# 香蕉\n\n香蕉的产地改为云南西双版纳。\n", encoding="utf-8")
        watcher.wait_for("updated banana.md")
        texts = [r["text"] for r in _search(data, "香蕉 产地")]
        assert any("西双版纳" in t for t in texts) and not any("海南" in t for t in texts)

        (folder / "fruit").mkdir()
        (folder / "banana.md").rename(folder / "fruit" / "yellow.md")
        watcher.wait_for("removed banana.md", "added fruit/yellow.md")

        (folder / "apple.md").unlink()
        watcher.wait_for("removed apple.md")

        for name in ("~$报告.docx", ".#yellow.md", "yellow.md.swp", "draft.tmp", "notes.md~"):
            (folder / name).write_text("# 临时\n\n编辑器的临时文件。\n", encoding="utf-8")
        import openpyxl

        book = openpyxl.Workbook()
        book.active.title = "价格"
        book.active.append(["水果", "单价"])
        book.active.append(["榴莲", "每斤四十元"])
        book.save(folder / "prices.xlsx")
        watcher.wait_for("added prices.xlsx")
        assert [line for line in watcher.quiet(2) if "added" in line or "updated" in line] == []
        assert _sources(data) == {"fruit/yellow.md", "prices.xlsx"}
        assert "| 榴莲 | 每斤四十元 |" in _search(data, "榴莲 单价")[0]["text"]

        import shutil

        shutil.rmtree(folder / "fruit")  # a whole folder goes
        watcher.wait_for("removed fruit/yellow.md")
        assert _search(data, "香蕉") == []
    finally:
        code = watcher.stop()
    assert code in (0, 143), watcher.seen
    assert not any("Traceback" in line for line in watcher.seen), watcher.seen


def test_a_restart_catches_up_with_what_changed_while_it_was_stopped(tmp_path):
    folder, data = tmp_path / "docs", tmp_path / "data"
    folder.mkdir()
    (folder / "keep.md").write_text("# 保留\n\n这个文件一直都在。\n", encoding="utf-8")
    (folder / "old.md").write_text("# 旧\n\n这个文件会在停止期间被删除。\n", encoding="utf-8")
    (folder / "edit.md").write_text("# 编辑\n\n版本一。\n", encoding="utf-8")
    watcher = Watcher(folder, data)
    try:
        watcher.wait_for("added 3", "caught up")
    finally:
        watcher.stop()
    (folder / "old.md").unlink()
    (folder / "edit.md").write_text("# 编辑\n\n版本二：停止期间修改。\n", encoding="utf-8")
    (folder / "new.md").write_text("# 新\n\n停止期间新建的文件。\n", encoding="utf-8")
    (folder / "broken.pptx").write_bytes(b"PK\x03\x04 not really a deck")
    watcher = Watcher(folder, data)
    try:
        watcher.wait_for("failed broken.pptx: not a readable PowerPoint .pptx file",
                         "added 1, updated 1, unchanged 1, removed 1, failed 1", "caught up")
        (folder / "broken.pptx").unlink()
        assert _sources(data) == {"keep.md", "edit.md", "new.md"}
        assert any("版本二" in r["text"] for r in _search(data, "版本"))
        assert not any("版本一" in r["text"] for r in _search(data, "版本"))
    finally:
        watcher.stop()


def test_another_writer_makes_the_watcher_wait_not_fail(tmp_path):
    folder, data = tmp_path / "docs", tmp_path / "data"
    folder.mkdir()
    (folder / "a.md").write_text("# A\n\n第一份文件。\n", encoding="utf-8")
    watcher = Watcher(folder, data)
    try:
        watcher.wait_for("caught up")
        import fcntl

        from ragkit.build import LOCK_FILE

        with open(data / LOCK_FILE, "a+") as handle:  # what another ragkit writer holds
            fcntl.flock(handle, fcntl.LOCK_EX)
            (folder / "b.md").write_text("# B\n\n第二份文件，写锁被占用时保存。\n", encoding="utf-8")
            watcher.wait_for("another ragkit process is writing to")
        watcher.wait_for("added b.md")
        assert _sources(data) == {"a.md", "b.md"}
    finally:
        watcher.stop()
