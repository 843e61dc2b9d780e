"""The RAG chain with a real small generative model against the extractive default, through `ragkit eval`.

    pip install -e '.[bench]'
    python benchmarks/generative.py [--sample N] [--write]

LLM `gguf:` Qwen2.5-Coder-0.5B-Instruct Q4_K_M (tests/support/models.py), temperature 0, beside `extractive`, on
the development set (`--sample N`: the first N questions of each kind and language, a multi-turn conversation counting as
one; every turn of it is asked). Per kind and language: answer accuracy (all keywords), abstention on
unanswerable questions, answered share of answerable ones, citation precision, first-token and total latency;
follow-ups are rewritten by the LLM. Then why the small model's answers fail: abstained although the passages
held the answer, no citation marker, answered in the other language, answered an unanswerable question.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import DEV, ROOT, table, write_section  # noqa: E402

from _eval import ragkit, run_eval  # noqa: E402

_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
_MARKER = re.compile(r"\[\d+\]")


def sample(path: Path, n: int | None, out: Path) -> Path:
    """The first ``n`` lines of each kind and language (all of them without ``n``)."""
    if n is None:
        return path
    taken: dict[str, int] = {}
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            kind = (item.get("kind", "single"), item.get("lang", "zh"))
            if taken.get(kind, 0) < n:
                taken[kind] = taken.get(kind, 0) + 1
                lines.append(line)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def language_ok(answer: str, lang: str) -> bool:
    cjk, latin = len(_CJK.findall(answer)), len(_LATIN.findall(answer))
    if cjk + latin == 0:
        return True
    return cjk / (cjk + latin) >= 0.3 if lang == "zh" else cjk / (cjk + latin) < 0.3


def failures(outcomes: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Why answers failed, one list of question ids per reason (a question may have several)."""
    reasons: dict[str, list[str]] = {"abstained, evidence retrieved in top 5": [], "no citation marker": [],
                                     "answer in the other language": [], "answered an unanswerable question": [],
                                     "wrong answer, evidence retrieved in top 5": [],
                                     "wrong answer, evidence not retrieved": []}
    for o in outcomes:
        answer = o["answer"] or ""
        if o["kind"] == "unanswerable":
            if not o["abstained"]:
                reasons["answered an unanswerable question"].append(o["id"])
            continue
        if not o["abstained"] and not _MARKER.search(answer):
            reasons["no citation marker"].append(o["id"])
        if not o["abstained"] and not language_ok(answer, o["lang"]):
            reasons["answer in the other language"].append(o["id"])
        if o["correct"]:
            continue
        retrieved = o["rank"] is not None and o["rank"] <= 5
        if o["abstained"] and retrieved:
            reasons["abstained, evidence retrieved in top 5"].append(o["id"])
        elif not o["abstained"]:
            key = "wrong answer, evidence retrieved in top 5" if retrieved else "wrong answer, evidence not retrieved"
            reasons[key].append(o["id"])
    return reasons


def rows_of(name: str, results: dict[str, Any]) -> list[list[object]]:
    rows = []
    for row in results["summary"]:
        group = row["group"]
        items = [o for o in results["outcomes"] if (group[4:] in o.get("tags", []) if group.startswith("tag:")
                                                    else f"{o['kind']} {o['lang']}" == group)]
        first = [o["timings"].get("first_token_ms", 0) for o in items if o.get("timings")]
        total = [o["timings"].get("total_ms", 0) for o in items if o.get("timings")]
        rows.append([name, row["group"], row["n"], row.get("accuracy", ""), row.get("abstained", ""),
                     row.get("answered", ""), row.get("citation_precision") if row.get("citation_precision")
                     is not None else "", f"{statistics.median(first):.0f}" if first else "",
                     f"{statistics.median(total):.0f}" if total else ""])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sample", type=int, help="the first N questions of each kind and language")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    from tests.support.models import qwen_gguf

    llms = {"extractive": "extractive", "gguf Qwen2.5-Coder-0.5B": f"gguf:{qwen_gguf()}"}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        done = ragkit("ingest", str(ROOT / "corpora" / "llm"), data_dir=data)
        assert done.returncode == 0, done.stderr
        questions = sample(DEV, args.sample, Path(tmp) / "sample.jsonl")
        results = {name: run_eval(questions, data, Path(tmp) / f"out-{i}", RAGKIT_LLM=spec, RAGKIT_TEMPERATURE="0")
                   for i, (name, spec) in enumerate(llms.items())}
    rows = [row for name, result in results.items() for row in rows_of(name, result)]
    small = results["gguf Qwen2.5-Coder-0.5B"]["outcomes"]
    why = failures(small)
    examples = [f"- {o['id']} ({o['lang']}) {o['question']} -> {(o['answer'] or '')[:100]!r}"
                for o in small if o["kind"] != "unanswerable" and not o["correct"]][:12]
    n = len({o["id"] for o in small})
    body = (
        f"`ragkit eval` on {'the first ' + str(args.sample) + ' questions of each kind and language of ' if args.sample else ''}"
        f"`benchmarks/dev.jsonl` ({n} questions asked), default embedder and retrieval, temperature 0; with the "
        "generative model a follow-up is rewritten by it. Latency in ms (median), first token and whole chain; "
        f"load average at the end {os.getloadavg()[0]:.1f} on the machine's {os.cpu_count()} cores.\n\n"
        + table(["LLM", "questions", "n", "accuracy", "abstained (unanswerable)", "answered (answerable)",
                 "citation precision", "first token ms", "total ms"], rows)
        + "\n\nWhy the small model's answers fail (question ids; one question may have several reasons):\n\n"
        + "\n".join(f"- {reason}: {len(ids)}" + (f" ({', '.join(ids[:8])})" if ids else "") for reason, ids in why.items())
        + "\n\nWrong answers of the small model (first 12):\n" + ("\n".join(examples) or "- none")
    )
    print(body)
    if args.write:
        write_section("generative", body)


if __name__ == "__main__":
    main()
