"""Answer quality of the default offline setup (extractive model) on the development set.

    python benchmarks/answers.py [--llm extractive] [--write]

Single questions: accuracy (the answer contains every keyword) and answer length; unanswerable questions:
abstention; answerable ones: how many are answered; multi-turn conversations: each turn asked after the
earlier ones in the same session, scored like a single question, plus hit@5 of the chain's retrieval;
latency of the chain (warm) and of a whole `ragkit ask` process.
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEV, ROOT, table, write_section  # noqa: E402

from ragkit import build  # noqa: E402
from ragkit.config import Settings  # noqa: E402
from ragkit.evaluation import first_hit_rank, hit_at, load_questions, normalize  # noqa: E402
from ragkit.ingest import ingest  # noqa: E402

CORPUS = ROOT / "corpora" / "llm"


def correct(answer: str, keywords: tuple[str, ...]) -> bool:
    return all(normalize(k) in normalize(answer) for k in keywords)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--llm", default="extractive")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    questions, problems = load_questions(DEV)
    assert not problems, problems
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", llm=args.llm)
        kb = build.open_kb(settings)
        ingest(kb, [CORPUS], split=build.split_options(settings))
        conversation = build.conversation(settings, kb)
        conversation.invoke("预热", "warm-up")
        rows: dict[str, list] = {}
        lengths, latencies, misses = [], [], []
        for q in questions:
            session = q.conversation or q.id
            start = time.perf_counter()
            result = conversation.invoke(q.question, f"bench-{session}")
            latencies.append((time.perf_counter() - start) * 1000)
            group = "unanswerable" if q.kind == "unanswerable" else f"{q.kind} {q.lang}"
            entry = {"abstained": result["abstained"], "answer": result["answer"]}
            if q.kind != "unanswerable":
                entry["correct"] = correct(result["answer"], q.answer_keywords)
                entry["rank"] = first_hit_rank([d.page_content for d in result["docs"]], q.evidence)
                if not result["abstained"]:
                    lengths.append(len(result["answer"]))
                if not entry["correct"]:
                    misses.append(f"- {q.id} {q.question} -> {result['answer'][:120]}")
            rows.setdefault(group, []).append(entry)
            if args.verbose:
                print(q.id, entry, flush=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAGKIT_")}
        env.update(RAGKIT_DATA_DIR=str(Path(tmp) / "data"), RAGKIT_LLM=args.llm)
        process = []
        for q in [q for q in questions if q.kind == "single"][:5]:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "ragkit", "ask", q.question, "--json"], env=env, check=True,
                           capture_output=True)
            process.append(time.perf_counter() - start)
    table_rows = []
    for group, entries in rows.items():
        n = len(entries)
        if group == "unanswerable":
            table_rows.append([group, n, "", sum(e["abstained"] for e in entries) / n, "", ""])
            continue
        accuracy = sum(e["correct"] for e in entries) / n
        answered = sum(not e["abstained"] for e in entries) / n
        hit5 = hit_at([e["rank"] for e in entries], 5)
        table_rows.append([group, n, accuracy, "", answered, hit5])
    answerable = [e for g, es in rows.items() if g != "unanswerable" for e in es]
    singles = [e for g, es in rows.items() if g.startswith("single") for e in es]
    body = (
        f"LLM `{args.llm}`, embedder `{settings.embedder}`, default retrieval; every question in its own session, "
        "multi-turn conversations in one session per conversation.\n\n"
        + table(["questions", "n", "accuracy (all keywords)", "abstained", "answered", "retrieval hit@5"], table_rows)
        + f"\n\nAll single questions: accuracy {sum(e['correct'] for e in singles) / len(singles):.3f}; "
        f"answerable questions answered: {sum(not e['abstained'] for e in answerable) / len(answerable):.3f}; "
        f"answer length median {statistics.median(lengths):.0f} characters (max {max(lengths)}).\n\n"
        f"Latency of the chain in a warm process: median {statistics.median(latencies):.1f} ms, "
        f"p95 {sorted(latencies)[int(0.95 * (len(latencies) - 1))]:.1f} ms. A whole `ragkit ask --json` process "
        f"(interpreter start, imports, model load): median {statistics.median(process):.2f} s.\n\n"
        "Wrong answers:\n" + ("\n".join(misses) or "- none")
        + "\n\nTargets: accuracy >= 0.85 on single questions with a median answer under 150 characters; "
        "abstention >= 0.9 on unanswerable questions while answering >= 0.9 of the answerable ones; multi-turn "
        "follow-up hit@5 >= 0.9."
    )
    print(body)
    if args.write:
        write_section("answers", body)


if __name__ == "__main__":
    main()
