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


def groups_of(outcome: dict[str, Any]) -> list[str]:
    """The report groups of one dev-set outcome: by language of the single questions (tables and paraphrases
    included), and by kind: paraphrase (ids dev_zhp*), table (evidence is a table row), multi-turn, unanswerable."""
    kind, lang = outcome["kind"], outcome["lang"]
    if kind == "unanswerable":
        return ["unanswerable"]
    if kind == "multiturn":
        return ["multi-turn", f"multi-turn {lang}"]
    out = [f"single {lang}"]
    if outcome["id"].startswith("dev_zhp"):
        out.append("paraphrase")
    evidence = outcome.get("evidence") or []
    evidence = [evidence] if isinstance(evidence, str) else evidence  # results.json of older ragkit: one string
    if "table" in outcome.get("tags", []) or any(e.count("|") >= 2 for e in evidence):
        out.append("table")
    return out


GROUP_ORDER = ["single zh", "single en", "paraphrase", "table", "multi-turn", "multi-turn zh", "multi-turn en",
               "unanswerable"]


def group_metrics(outcomes: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """hit@5, MRR@10, answer accuracy, answered, abstained, citation precision and total latency per group."""
    from ragkit.evaluation import hit_at, mrr_at

    grouped: dict[str, list[dict[str, Any]]] = {}
    for o in outcomes:
        for g in groups_of(o):
            grouped.setdefault(g, []).append(o)
    out = {}
    for g in [g for g in GROUP_ORDER if g in grouped]:
        items = grouped[g]
        row: dict[str, float] = {"n": len(items)}
        if g == "unanswerable":
            row["abstained"] = sum(bool(o["abstained"]) for o in items) / len(items)
        else:
            ranks = [o["rank"] for o in items]
            row.update({"hit@5": hit_at(ranks, 5), "mrr@10": mrr_at(ranks, 10)})
            if items[0].get("answer") is not None:
                row["accuracy"] = sum(bool(o["correct"]) for o in items) / len(items)
                row["answered"] = sum(not o["abstained"] for o in items) / len(items)
                cited = sum(o["cited"] for o in items)
                row["citation precision"] = sum(o["cited_with_evidence"] for o in items) / cited if cited else 0.0
        totals = sorted(o["timings"].get("total_ms", o["timings"].get("retrieve_ms", 0.0)) for o in items)
        row["p95 ms"] = totals[int(0.95 * (len(totals) - 1))]
        out[g] = row
    return out
