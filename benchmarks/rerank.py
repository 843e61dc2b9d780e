"""What a reranking stage changes, through `ragkit eval --compare reranker=...` (the command users run).

    pip install -e '.[bench]'
    python benchmarks/rerank.py [--sample N] [--candidates 10] [--write]

Retrieval only, on `benchmarks/dev.jsonl` (`--sample N`: the first N questions of each kind and language): the
fused order (`reranker=none`) against listwise reranking by the small local model (`reranker=llm` with `gguf:`
Qwen2.5-Coder-0.5B-Instruct Q4_K_M, temperature 0), which orders the best `--candidates` fused passages. No
package on the index ships reranker weights that work offline for Chinese, so the cross-encoder (`st:`) and
HTTP (`http:`, `tei:`, `dashscope:`) rerankers cannot be measured here; their tests run a tiny local
CrossEncoder and a real server on loopback. Per group: hit@1/3/5, MRR@10 and retrieval latency.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import DEV, ROOT, table, write_section  # noqa: E402

from _eval import ragkit, run_eval  # noqa: E402
from generative import sample  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sample", type=int, help="the first N questions of each kind and language")
    parser.add_argument("--candidates", type=int, default=10, help="fused passages the reranker orders")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    from tests.support.models import qwen_gguf

    configs = ["reranker=none", f"reranker=llm,rerank_candidates={args.candidates}"]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        done = ragkit("ingest", str(ROOT / "corpora" / "llm"), data_dir=data)
        assert done.returncode == 0, done.stderr
        questions = sample(DEV, args.sample, Path(tmp) / "sample.jsonl")
        extra = [a for c in configs for a in ("--compare", c)]
        results = run_eval(questions, data, Path(tmp) / "out", "--retrieval-only", *extra,
                           RAGKIT_LLM=f"gguf:{qwen_gguf()}", RAGKIT_TEMPERATURE="0")
    rows = [[r["config"], r["group"], r["n"], r["hit@1"], r["hit@3"], r["hit@5"], r["mrr@10"],
             r.get("retrieve_p50_ms", ""), r.get("retrieve_p95_ms", "")]
            for r in results["summary"] if "hit@1" in r]
    by_config: dict[str, dict[str, int | None]] = {}
    for o in results["outcomes"]:
        if o["kind"] != "unanswerable":
            by_config.setdefault(o["config"], {})[o["id"]] = o["rank"]
    before, after = (by_config.get(c, {}) for c in list(by_config)[:2]) if len(by_config) > 1 else ({}, {})
    worse = sorted(k for k in before if (after.get(k) or 99) > (before[k] or 99))
    better = sorted(k for k in before if (after.get(k) or 99) < (before[k] or 99))
    n = len({o["id"] for o in results["outcomes"]})
    body = (
        f"`ragkit eval --retrieval-only` on {'the first ' + str(args.sample) + ' questions of each kind and language of ' if args.sample else ''}"
        f"`benchmarks/dev.jsonl` ({n} questions), default embedder and hybrid retrieval; `llm` = listwise reranking "
        f"of the best {args.candidates} fused passages by `gguf:` Qwen2.5-Coder-0.5B-Instruct, temperature 0. "
        f"Retrieval latency in ms; load average at the end {os.getloadavg()[0]:.1f} on the machine's "
        f"{os.cpu_count()} cores.\n\n"
        + table(["configuration", "questions", "n", "hit@1", "hit@3", "hit@5", "MRR@10", "retrieve p50 ms",
                 "retrieve p95 ms"], rows)
        + f"\n\nReranked against fused order, rank of the evidence: better for {len(better)} "
        f"({', '.join(better[:10]) or 'none'}), worse for {len(worse)} ({', '.join(worse[:10]) or 'none'})."
    )
    print(body)
    if args.write:
        write_section("rerank", body)


if __name__ == "__main__":
    main()
