"""Hostile files (issue #11): peak memory and time of `ragkit ingest` on a docx zip bomb, a big Markdown file and
a folder of many tiny files, each as a whole process with the fake embedder (the costs are ragkit's own).

    python benchmarks/hostile.py [--cases bomb,big,tiny] [--big-mb 45] [--tiny 20000] [--timeout 1800] [--write]

* bomb: the issue's reproduction, a .docx whose word/document.xml is 10 million repetitions of
  `<w:p><w:r><w:t>aaaaaaaa</w:t></w:r></w:p>` (400 MB at deflate level 9, about 1.4 MB on disk): it must be refused
  at once with one line, peak RSS bounded;
* big: one Markdown file of ``--big-mb`` MB (the demo corpus repeated, headings numbered);
* tiny: ``--tiny`` Markdown files of one short paragraph each, in one folder.

Peak RSS is the child's ``ru_maxrss``; a run over ``--timeout`` seconds is stopped and reported as such.
``--profile`` adds a cProfile of the big case (at a tenth of its size) naming where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, table, write_section  # noqa: E402

sys.path.insert(0, str(ROOT))
from tests.support.files import docx_bomb  # noqa: E402

def make_bomb(path: Path, repetitions: int = 10_000_000) -> Path:
    return docx_bomb(path, repetitions)


def make_big(path: Path, mb: float) -> Path:
    corpus = "".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "corpora" / "llm").glob("*.md")))
    with open(path, "w", encoding="utf-8") as out:
        n, size = 0, 0
        while size < mb * 1e6:
            part = corpus.replace("\n# ", f"\n# 第 {n} 部分 ")
            out.write(part)
            size += len(part.encode())
            n += 1
    return path


def make_tiny(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        (folder / f"note-{n:05d}.md").write_text(f"# 笔记 {n}\n\n第 {n} 条笔记：模型 M{n} 的参数量是 {n} 亿。\n",
                                                 encoding="utf-8")
    return folder


def run_ingest(target: Path, data: Path, timeout: float) -> dict[str, object]:
    """`ragkit ingest target` as a child process: seconds, its own peak RSS (MB, from wait4), exit status and
    its failure line or summary."""
    env = {**os.environ, "RAGKIT_DATA_DIR": str(data), "RAGKIT_EMBEDDER": "fake:32", "RAGKIT_LANG": "en"}
    log = data.parent / f"{data.name}.log"
    started = time.perf_counter()
    with open(log, "w", encoding="utf-8") as output:
        child = subprocess.Popen([sys.executable, "-m", "ragkit", "ingest", str(target)], env=env,
                                 stdout=output, stderr=subprocess.STDOUT)
    status: object = None
    while True:
        pid, code, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            status = os.waitstatus_to_exitcode(code)
            break
        if time.perf_counter() - started > timeout:
            child.kill()  # the child this script started
            _, _, usage = os.wait4(child.pid, 0)
            status = f"stopped after {timeout:.0f} s"
            break
        time.sleep(0.05)
    child.returncode = -1  # reaped above
    seconds = time.perf_counter() - started
    lines = [line for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
    failed = [line for line in lines if line.startswith("failed")]
    return {"seconds": seconds, "peak_mb": usage.ru_maxrss / 1024, "status": status,
            "summary": lines[-1] if lines else "", "failed": failed[:1]}


def profile_big(mb: float, work: Path) -> str:
    """The top of a cProfile of an in-process ingest of a ``mb`` MB Markdown file (cumulative time)."""
    from ragkit import Settings, build
    from ragkit.ingest import ingest

    path = make_big(work / "profiled.md", mb)
    kb = build.open_kb(Settings(data_dir=work / "profile-data", embedder="fake:32"))
    profile = cProfile.Profile()
    profile.enable()
    ingest(kb, [path])
    profile.disable()
    buffer = io.StringIO()
    pstats.Stats(profile, stream=buffer).sort_stats("cumulative").print_stats(r"ragkit|jieba|chromadb|langchain", 25)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="bomb,big,tiny")
    parser.add_argument("--big-mb", type=float, default=45.0)
    parser.add_argument("--tiny", type=int, default=20_000)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--write", action="store_true", help="Record the results in benchmarks/RESULTS.md.")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="ragkit-hostile-") as tmp:
        work = Path(tmp)
        for case in args.cases.split(","):
            started = time.perf_counter()
            if case == "bomb":
                target, what = make_bomb(work / "bomb.docx"), "docx zip bomb (400 MB of XML)"
            elif case == "big":
                target, what = make_big(work / "big.md", args.big_mb), f"{args.big_mb:g} MB Markdown"
            else:
                target, what = make_tiny(work / "tiny", args.tiny), f"{args.tiny} tiny Markdown files"
            made = time.perf_counter() - started
            size = sum(p.stat().st_size for p in ([target] if target.is_file() else target.iterdir()))
            result = run_ingest(target, work / f"data-{case}", args.timeout)
            print(what, f"{size / 1e6:.2f} MB", f"made in {made:.1f} s", result, flush=True)
            rows.append([what, f"{size / 1e6:.2f}", f"{result['seconds']:.1f}", f"{result['peak_mb']:.0f}",
                         result["status"], (result["failed"] or [result["summary"]])[0][:150]])
        profile = profile_big(args.big_mb / 10, work) if args.profile else ""
    body = table(["input", "MB on disk", "seconds", "peak RSS MB", "exit", "ragkit says"],
                 rows)
    print(body)
    if profile:
        print(profile)
    if args.write:
        write_section("hostile", "### Hostile files (#11)\n\n" + body)


if __name__ == "__main__":
    main()
