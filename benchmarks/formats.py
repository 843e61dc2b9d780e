"""Peak memory of a 1,000,000-row CSV (issue #14): loading, loading + splitting, and a whole ``ragkit ingest``.

    python benchmarks/formats.py [--rows 1000000] [--full] [--write]

Writes a CSV of ``--rows`` rows (5 columns: id, a Chinese part name, quantity, price, date; 40 MB for a
million rows) and measures, each in a fresh process (peak resident set size, ``ru_maxrss``):

* the imports alone (what every ragkit process pays);
* ``load_bytes``: the file read, decoded and written as a Markdown table;
* ``load_bytes`` + ``iter_file_documents``: the chunks ingest would write, made one at a time as ingest reads them;
* with ``--full``: ``ragkit ingest FILE`` with the fake embedder (``fake:32``: no model in memory, so the
  figure is what loading, splitting, Chroma and the BM25 index cost, not an embedding model).

``--write`` replaces the ``formats`` part of the "Formats and watch (#14)" section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, table, write_section  # noqa: E402

PROBE = """
import json, resource, sys, time
from pathlib import Path
started = time.perf_counter()
from ragkit.formats import load_bytes
from ragkit.ingest import SplitOptions, iter_file_documents
path, step = Path(sys.argv[1]), sys.argv[2]
out = {}
if step != "imports":
    loaded = load_bytes(path, path.read_bytes())
    out["chars"] = len(loaded.text)
    if step == "split":
        out["chunks"] = sum(1 for _ in iter_file_documents(loaded, source=path.name, file_hash="x",
                                                           split=SplitOptions()))
out["seconds"] = time.perf_counter() - started
out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""

RUN_INGEST = """
import resource, runpy, sys
sys.argv = ["ragkit", "--lang", "en", "ingest", sys.argv[1]]
try:
    runpy.run_module("ragkit", run_name="__main__")
finally:
    print("peak_mb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, file=sys.stderr)
"""


def write_csv(path: Path, rows: int) -> None:
    start = datetime.date(2020, 1, 1)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["编号", "名称", "数量", "单价", "日期"])
        for i in range(rows):
            writer.writerow([f"R{i:07d}", f"零件{i % 997}", i % 500, f"{(i * 37) % 10000 / 100:.2f}",
                             (start + datetime.timedelta(days=i % 1500)).isoformat()])


def probe(path: Path, step: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-c", PROBE, str(path), step], capture_output=True, text=True, env=env,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def full_ingest(path: Path, data: Path) -> tuple[float, float, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGKIT_")}
    env.update(RAGKIT_EMBEDDER="fake:32", RAGKIT_DATA_DIR=str(data), RAGKIT_MAX_FILE_MB="200",
               PYTHONPATH=str(ROOT / "src"))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", RUN_INGEST, str(path)], capture_output=True, text=True, env=env,
                          check=False)
    seconds = time.perf_counter() - started
    peak = float(done.stderr.strip().splitlines()[-1].split()[-1])
    return seconds, peak, done.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--full", action="store_true", help="also run a whole ragkit ingest (fake:32 embedder)")
    parser.add_argument("--write", action="store_true", help="replace the 'formats' part of RESULTS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ragkit-formats-") as tmp:
        path = Path(tmp) / "rows.csv"
        write_csv(path, args.rows)
        size = path.stat().st_size / 1e6
        steps = {step: probe(path, step) for step in ("imports", "load", "split")}
        full = full_ingest(path, Path(tmp) / "data") if args.full else None
    load = os.getloadavg()
    rows = [
        ["imports only", f"{steps['imports']['peak_mb']:.0f}", "", f"{steps['imports']['seconds']:.1f}"],
        ["load (CSV -> Markdown table)", f"{steps['load']['peak_mb']:.0f}", f"{steps['load']['chars']:,} chars",
         f"{steps['load']['seconds']:.1f}"],
        ["load + split (chunks streamed, as ingest reads them)", f"{steps['split']['peak_mb']:.0f}", f"{steps['split']['chunks']:,} chunks",
         f"{steps['split']['seconds']:.1f}"],
    ]
    if full:
        rows.append(["`ragkit ingest` (fake:32, Chroma, BM25)", f"{full[1]:.0f}", full[2], f"{full[0]:.0f}"])
    body = (
        f"**A {args.rows:,}-row CSV** (`python benchmarks/formats.py{' --full' if full else ''}`): {size:.1f} MB, "
        "5 columns. Peak resident memory of a fresh process per step (the embedder is `fake:32` where one is "
        "needed, so no model is in memory: the figures are loading, splitting and storage). Load average at the "
        f"end {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} on 2 cores (above 1, other work shared them and the "
        "times are longer than alone).\n\n"
        + table(["step", "peak MB", "output", "seconds"], rows)
    )
    print(body)
    if args.write:
        write_section("formats", body)


if __name__ == "__main__":
    main()
