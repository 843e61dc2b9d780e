"""Answer quality of the default offline setup (extractive model) on the development set, through `ragkit eval`.

    python benchmarks/answers.py [--llm extractive] [--write]

Single questions: accuracy (the answer contains every keyword) and answer length; unanswerable questions:
abstention; answerable ones: how many are answered; multi-turn conversations: each turn asked after the
earlier ones in the same session, scored like a single question, plus hit@5 of the chain's retrieval;
latency of the chain (warm) and of a whole `ragkit ask` process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEV, ROOT, table, write_section  # noqa: E402

from _eval import ragkit, run_eval  # noqa: E402

from ragkit.evaluation import load_questions  # noqa: E402

CORPUS = ROOT / "corpora" / "llm"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--llm", default="extractive")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    questions, problems = load_questions(DEV)
    assert not problems, problems
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        done = ragkit("ingest", str(CORPUS), data_dir=data)
        assert done.returncode == 0, done.stderr
        results = run_eval(DEV, data, Path(tmp) / "out", RAGKIT_LLM=args.llm)
        process = []
        for q in [q for q in questions if q.kind == "single"][:5]:
            start = time.perf_counter()
            asked = ragkit("ask", q.question, "--json", data_dir=data, RAGKIT_LLM=args.llm)
            assert asked.returncode == 0, asked.stderr
            process.append(time.perf_counter() - start)
    outcomes = results["outcomes"]
    answerable = [o for o in outcomes if o["kind"] != "unanswerable"]
    singles = [o for o in outcomes if o["kind"] == "single"]
    lengths = [len(o["answer"]) for o in answerable if not o["abstained"]]
    totals = [o["timings"]["total_ms"] for o in outcomes]
    rows = [[r["group"], r["n"], r.get("accuracy", ""), r.get("abstained", ""), r.get("answered", ""),
             r.get("hit@5", ""), r.get("citation_precision", "")] for r in results["summary"]]
    wrong = [f"- {o['id']} {o['question']} -> {o['answer'][:120]}" for o in answerable if not o["correct"]]
    body = (
        f"`ragkit eval benchmarks/dev.jsonl` with LLM `{args.llm}` and the default embedder and retrieval; every "
        "question in its own session, a multi-turn conversation's turns in one session.\n\n"
        + table(["questions", "n", "accuracy (all keywords)", "abstained", "answered", "retrieval hit@5",
                 "citation precision"], rows)
        + f"\n\nAll single questions: accuracy {sum(o['correct'] for o in singles) / len(singles):.3f}; "
        f"answerable questions answered: {sum(not o['abstained'] for o in answerable) / len(answerable):.3f}; "
        f"answer length median {statistics.median(lengths):.0f} characters (max {max(lengths)}).\n\n"
        f"Latency of the chain in the warm `ragkit eval` process: median {statistics.median(totals):.1f} ms, p95 "
        f"{sorted(totals)[int(0.95 * (len(totals) - 1))]:.1f} ms (rewrite or expansion, retrieval and answer). A "
        f"whole `ragkit ask --json` process (interpreter start, imports, model loads): median "
        f"{statistics.median(process):.2f} s.\n\n"
        "Wrong answers:\n" + ("\n".join(wrong) or "- none")
        + "\n\nTargets: accuracy >= 0.85 on single questions with a median answer under 150 characters; "
        "abstention >= 0.9 on unanswerable questions while answering >= 0.9 of the answerable ones; multi-turn "
        "follow-up hit@5 >= 0.9."
    )
    print(body)
    if args.write:
        write_section("answers", body)


if __name__ == "__main__":
    main()
