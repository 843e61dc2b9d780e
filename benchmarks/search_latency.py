"""Search latency at 10k and 100k chunks, per retrieval mode, query embedding included.

    python benchmarks/search_latency.py [--sizes 10000,100000] [--rounds 3] [--data DIR] [--write]

With ``--data DIR`` the grown knowledge base is kept there (and reused by the next run).

The larger corpora are made from corpora/llm: every chunk is replicated with perturbed text (sentences
rotated, numbers changed, a few words from other chunks mixed in) and a perturbed copy of its vector, written
straight into the BM25 index and Chroma (embedding 100k chunks would only measure the model again).
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEV, ROOT, table, write_section  # noqa: E402

from langchain_core.documents import Document  # noqa: E402

from ragkit import build  # noqa: E402
from ragkit.config import Settings  # noqa: E402
from ragkit.evaluation import load_questions  # noqa: E402
from ragkit.ingest import ingest  # noqa: E402
from ragkit.store import contextual_text, upsert_chroma  # noqa: E402

CORPUS = ROOT / "corpora" / "llm"
_SENTENCE = re.compile(r"(?<=[。！？；.!?])")


def perturb(text: str, rng: random.Random, words: list[str]) -> str:
    parts = [p for p in _SENTENCE.split(text) if p]
    if len(parts) > 1:
        k = rng.randrange(len(parts))
        parts = parts[k:] + parts[:k]
    out = re.sub(r"\d+", lambda m: str(rng.randrange(1, 10 ** len(m.group()))), "".join(parts))
    return out + " " + " ".join(rng.sample(words, 3))


def grow(kb, base: list[tuple[str, str, dict, list[float]]], target: int, rng: random.Random) -> None:
    """Add perturbed replicas until the knowledge base holds ``target`` chunks."""
    words = sorted({w for _, text, _, _ in base for w in re.findall(r"[\u4e00-\u9fff]{2,4}|[A-Za-z]{3,}", text)})
    store = kb.store()
    have = kb.lexical.count()
    batch: list[tuple[str, str, dict, list[float]]] = []
    for n in range(have, target):
        cid, text, meta, vec = base[n % len(base)]
        noisy = np.asarray(vec) + np.random.default_rng(n).normal(0, 0.03, len(vec))
        new_meta = dict(meta, source=f"synthetic/{n // 100:05d}.md", chunk_index=n)
        batch.append((f"syn-{n}", perturb(text, rng, words), new_meta, (noisy / np.linalg.norm(noisy)).tolist()))
        if len(batch) == 1000 or n == target - 1:
            contexts = [contextual_text(Document(t, metadata=m)) for _, t, m, _ in batch]
            upsert_chroma(store.chroma._collection, [b[0] for b in batch], [b[3] for b in batch],
                          [b[1] for b in batch], [b[2] for b in batch])
            kb.lexical.upsert([(b[0], b[1], b[2]) for b in batch], tokens=contexts, vectors=[b[3] for b in batch])
            batch = []


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--data", type=Path, help="keep (and reuse) the grown knowledge base here")
    args = parser.parse_args()
    loaded = load_questions(DEV)[0]
    questions = [q.question for q in loaded]
    filtered = [(q.question, q.source) for q in loaded if q.source]  # searched within their expected file
    rng = random.Random(7)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=args.data or Path(tmp))
        kb = build.open_kb(settings)
        ingest(kb, [CORPUS], split=build.split_options(settings))
        base = [(cid, text, meta, np.frombuffer(vec, dtype=np.float32).tolist())
                for batch in kb.lexical.iter_chunks() for cid, text, meta, vec in batch if not cid.startswith("syn-")]
        for size in [int(s) for s in args.sizes.split(",")]:
            start = time.perf_counter()
            grow(kb, base, size, rng)
            built = time.perf_counter() - start
            for mode in ("bm25", "dense", "hybrid", "hybrid, one source"):
                retriever = build.make_retriever(settings, kb, mode=mode.split(",")[0])
                retriever.invoke("预热 warm up")
                latencies = []
                for _ in range(args.rounds):
                    for question, source in filtered if "source" in mode else [(q, None) for q in questions]:
                        t0 = time.perf_counter()
                        retriever.invoke(question, sources=[source] if source else None)
                        latencies.append((time.perf_counter() - t0) * 1000)
                rows.append([f"{kb.lexical.count():,}", mode, len(latencies), statistics.median(latencies),
                             percentile(latencies, 0.95), max(latencies)])
                print(rows[-1], f"(grown in {built:.0f} s)", flush=True)
    body = (
        f"{len(questions)} development questions x {args.rounds} rounds per mode, top-5, one process, model warm; "
        "times include embedding the query (dense, hybrid), BM25 over jieba tokens in SQLite FTS5, the Chroma "
        "query and the fusion. *One source*: each question with an expected file searched within that file "
        "(`ragkit search --source`).\n\n"
        + table(["chunks", "mode", "queries", "p50 ms", "p95 ms", "max ms"], rows)
        + "\n\nTarget: hybrid p95 <= 100 ms at 100k chunks."
    )
    print(body)
    if args.write:
        write_section("search_latency", body)


if __name__ == "__main__":
    main()
