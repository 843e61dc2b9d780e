"""Answer quality of the default offline setup (extractive model) on the development set, through `ragkit eval`.

    python benchmarks/answers.py [--llm extractive] [--before OLD/results.json] [--write]

Per group (Chinese and English single questions, paraphrases, table cells, follow-up turns, unanswerable
questions): retrieval hit@5 and MRR@10 of the chain's own retrieval, answer accuracy (every keyword in the
answer), the share answered, abstention on unanswerable questions and citation precision; latency of the chain
(warm, in the `ragkit eval` process) and of a whole `ragkit ask` process. ``--before`` adds the same figures from
an earlier run's results.json (e.g. the previous code's) side by side.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEV, ROOT, table, write_section  # noqa: E402

from _eval import group_metrics, ragkit, run_eval  # noqa: E402

from ragkit.evaluation import load_questions  # noqa: E402

CORPUS = ROOT / "corpora" / "llm"
COLUMNS = ["hit@5", "mrr@10", "accuracy", "answered", "abstained", "citation precision", "p95 ms"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--llm", default="extractive")
    parser.add_argument("--before", type=Path, help="results.json of an earlier run, shown beside")
    parser.add_argument("--keep", type=Path, help="also copy this run's results.json here")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    questions, problems = load_questions(DEV)
    assert not problems, problems
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        done = ragkit("ingest", str(CORPUS), data_dir=data)
        assert done.returncode == 0, done.stderr
        results = run_eval(DEV, data, Path(tmp) / "out", RAGKIT_LLM=args.llm)
        if args.keep:
            args.keep.write_text(json.dumps(results, ensure_ascii=False), encoding="utf-8")
        process = []
        for q in [q for q in questions if q.kind == "single"][:5]:
            start = time.perf_counter()
            asked = ragkit("ask", q.question, "--json", data_dir=data, RAGKIT_LLM=args.llm)
            assert asked.returncode == 0, asked.stderr
            process.append(time.perf_counter() - start)
    after = group_metrics(results["outcomes"])
    before = group_metrics(json.loads(args.before.read_text(encoding="utf-8"))["outcomes"]) if args.before else {}
    rows = []
    for group, row in after.items():
        cells = []
        for column in COLUMNS:
            now = row.get(column)
            was = before.get(group, {}).get(column)
            if now is None:
                cells.append("")
            elif was is None or not args.before:
                cells.append(round(now, 3) if isinstance(now, float) else now)
            else:
                cells.append(f"{was:.3f} → {now:.3f}" if column != "p95 ms" else f"{was:.0f} → {now:.0f}")
        rows.append([group, row["n"], *cells])
    outcomes = results["outcomes"]
    answerable = [o for o in outcomes if o["kind"] != "unanswerable"]
    totals = sorted(o["timings"]["total_ms"] for o in outcomes)
    lengths = [len(o["answer"]) for o in answerable if not o["abstained"]]
    wrong = [f"- {o['id']} {o['question']} -> {' '.join(o['answer'].split())[:110]}"
             for o in outcomes if (o["kind"] != "unanswerable" and not o["correct"])
             or (o["kind"] == "unanswerable" and not o["abstained"])]
    body = (
        f"`ragkit eval benchmarks/dev.jsonl` ({len(questions)} questions) with LLM `{args.llm}` and the default "
        "embedder and retrieval; every question in its own session, a multi-turn conversation's turns in one "
        "session. Groups: `single zh`/`single en` are all single questions of that language (paraphrases and "
        "table cells included); `paraphrase` is dev_zhp*; `table` is the questions whose evidence is a table row."
        + (f" Cells read before → after: before = `{args.before.name}` of the previous code on the same questions."
           if args.before else "") + "\n\n"
        + table(["group", "n", *COLUMNS], rows)
        + f"\n\nAnswerable questions answered: {sum(not o['abstained'] for o in answerable) / len(answerable):.3f}; "
        f"answer length median {statistics.median(lengths):.0f} characters. Chain latency in the warm `ragkit eval` "
        f"process: median {statistics.median(totals):.1f} ms, p95 {totals[int(0.95 * (len(totals) - 1))]:.1f} ms. "
        f"A whole `ragkit ask --json` process (interpreter, imports, model loads): median "
        f"{statistics.median(process):.2f} s.\n\n"
        "Wrong answers and missed abstentions:\n" + ("\n".join(wrong) or "- none")
        + "\n\nTargets: retrieval hit@5 zh >= 0.97, en >= 0.95, MRR@10 zh >= 0.90; accuracy zh >= 0.90, en >= 0.85, "
        "table >= 0.85; abstention >= 0.90 while answering >= 0.95 of the answerable; follow-up accuracy >= 0.85; "
        "citation precision >= 0.90; warm chain p95 < 150 ms."
    )
    print(body)
    if args.write:
        write_section("answers" if args.llm == "extractive" else f"answers-{args.llm.split(':')[0]}", body)


if __name__ == "__main__":
    main()
