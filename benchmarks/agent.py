"""The agent (`create_agent` with ragkit's tools) driven by the small local model: how often it answers right,
how many steps it takes, and what goes wrong.

    pip install -e '.[bench]'
    python benchmarks/agent.py [--sample N] [--write]

LLM `gguf:` Qwen2.5-Coder-0.5B-Instruct Q4_K_M (tests/support/models.py), temperature 0, `agent_max_steps` 4, on
the single and unanswerable questions of `benchmarks/dev.jsonl` (`--sample N`: the first N of each kind and
language). Correct: every answer keyword in the answer (an unanswerable question: the answer abstains).
When the agent's run gives no answer (step limit, a tool call or a pasted tool result as the answer, nothing), the
RAG chain answers after a notice: the table counts those runs and why, and what the agent answered by itself.
A question whose run fails (a provider error, as `ragkit agent` would print it in one line) is counted, not fatal.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import DEV, ROOT, table, write_section  # noqa: E402

from ragkit import build  # noqa: E402
from ragkit.config import Settings  # noqa: E402
from ragkit.errors import RagkitError  # noqa: E402
from ragkit.evaluation import load_questions, normalize  # noqa: E402
from ragkit.prompts import NO_AGENT_ANSWER  # noqa: E402
from ragkit.ingest import ingest  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sample", type=int)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    from tests.support.models import qwen_gguf

    questions = [q for q in load_questions(DEV)[0] if q.kind in ("single", "unanswerable")]
    if args.sample:
        taken: dict[tuple[str, str], int] = {}
        chosen = []
        for q in questions:
            key = (q.kind, q.lang)
            if taken.get(key, 0) < args.sample:
                taken[key] = taken.get(key, 0) + 1
                chosen.append(q)
        questions = chosen
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", llm=f"gguf:{qwen_gguf()}", temperature=0.0,
                            agent_max_steps=4)
        kb = build.open_kb(settings)
        ingest(kb, [ROOT / "corpora" / "llm"], split=build.split_options(settings))
        agent = build.agent(settings, kb)
        for q in questions:
            start = time.perf_counter()
            try:
                result = agent.invoke({"question": q.question, "session_id": f"bench-{q.id}"})
            except RagkitError as exc:  # what a user would read in one line; counted, the run goes on
                result = {"answer": f"ERROR {exc}", "error": True}
            steps = result.get("steps") or []
            answer = result.get("answer", "")
            calls = [s for s in steps if s.kind == "call"]
            correct = bool(result.get("abstained")) if q.kind == "unanswerable" else all(
                normalize(k) in normalize(answer) for k in q.answer_keywords)
            notice = result.get("notice", "")
            why = next((k for k, v in NO_AGENT_ANSWER.items() if notice in v.values()), "")
            records.append({"id": q.id, "kind": q.kind, "lang": q.lang, "correct": correct, "fallback": why,
                            "calls": len(calls), "searched": any(s.tool == "search_knowledge_base" for s in calls),
                            "tool_errors": sum(1 for s in steps if s.kind == "result" and s.error),
                            "error": bool(result.get("error")), "stopped": bool(result.get("stopped")), "json_answer": answer.lstrip().startswith(("{", "```", "<tool_call>")),
                            "seconds": time.perf_counter() - start, "answer": answer[:100], "question": q.question,
                            "args": [dict(s.args) for s in calls[:2]]})
    groups = sorted({(r["kind"], r["lang"]) for r in records})
    rows = []
    for kind, lang in groups:
        items = [r for r in records if (r["kind"], r["lang"]) == (kind, lang)]
        rows.append([f"{kind} {lang}", len(items), sum(r["correct"] for r in items) / len(items),
                     sum(r["searched"] for r in items) / len(items),
                     f"{statistics.mean(r['calls'] for r in items):.1f}", sum(r["tool_errors"] for r in items),
                     sum(r["stopped"] for r in items), sum(r["json_answer"] for r in items),
                     sum(bool(r["fallback"]) for r in items),
                     sum(r["correct"] and not r["fallback"] for r in items) / len(items),
                     sum(r["error"] for r in items),
                     f"{statistics.median(r['seconds'] for r in items):.0f}"])
    lines = [f"- {r['id']} {r['question']} -> calls {r['args']} -> "
             f"{'(RAG chain: ' + r['fallback'] + ') ' if r['fallback'] else ''}{r['answer']!r}" for r in records]
    reasons = {k: sum(r["fallback"] == k for r in records) for k in NO_AGENT_ANSWER}
    body = (
        f"Agent with `gguf:` Qwen2.5-Coder-0.5B-Instruct, temperature 0, agent_max_steps 4, "
        f"{'first ' + str(args.sample) + ' questions of each kind and language of ' if args.sample else ''}"
        "`benchmarks/dev.jsonl` (single and unanswerable).\n\n"
        + table(["questions", "n", "correct", "searched the knowledge base", "tool calls per question",
                 "tool errors", "stopped by the step limit", "final answer is a raw tool call",
                 "answered by the RAG chain instead", "correct by the agent itself", "failed with an error",
                 "median s"], rows)
        + "\n\nRAG chain answered instead, why: " + ", ".join(f"{k} {v}" for k, v in reasons.items())
        + "\n\nEvery run (the first two calls' arguments, the answer):\n" + "\n".join(lines)
    )
    print(body)
    if args.write:
        write_section("agent", body)


if __name__ == "__main__":
    main()
