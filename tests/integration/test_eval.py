"""`ragkit eval`: metrics on hand-made outcomes, the command, its files, bad lines, question drafting."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ragkit.cli import cli
from ragkit.eval_runner import Outcome, misses, parse_config, summarize
from ragkit.errors import ConfigError
from tests.conftest import CORPUS, ROOT
from tests.support.fake_api import FakeAPI

DEV = ROOT / "benchmarks" / "dev.jsonl"


def test_summary_on_hand_made_outcomes():
    outcomes = [
        Outcome("c", "1", "single", "zh", "q1", ["e"], rank=1, answer="a", abstained=False, correct=True, cited=2,
                cited_with_evidence=1, timings={"total_ms": 10.0}),
        Outcome("c", "2", "single", "zh", "q2", ["e"], rank=4, answer="b", abstained=False, correct=False, cited=1,
                cited_with_evidence=1, timings={"total_ms": 30.0}),
        Outcome("c", "3", "single", "zh", "q3", ["e"], rank=None, answer="x", abstained=True, correct=False,
                timings={"total_ms": 20.0}),
        Outcome("c", "4", "unanswerable", "zh", "q4", [], answer="没有", abstained=True, timings={"total_ms": 5.0}),
        Outcome("c", "5", "unanswerable", "zh", "q5", [], answer="编的", abstained=False, timings={"total_ms": 7.0}),
    ]
    outcomes[1].tags.append("table")
    single, unanswerable, table = summarize(outcomes)
    assert table["group"] == "tag:table" and table["n"] == 1 and table["accuracy"] == 0.0
    assert single["hit@1"] == pytest.approx(1 / 3) and single["hit@5"] == pytest.approx(2 / 3)
    assert single["mrr@10"] == pytest.approx((1 + 1 / 4) / 3)
    assert single["accuracy"] == pytest.approx(1 / 3) and single["answered"] == pytest.approx(2 / 3)
    assert single["citation_precision"] == pytest.approx(2 / 3)
    assert single["total_p50_ms"] == 20.0 and single["total_p95_ms"] == 30.0
    assert unanswerable["abstained"] == 0.5 and "hit@1" not in unanswerable
    assert [o.id for o in misses(outcomes)] == ["2", "3"]


def test_compare_specs():
    assert parse_config("mode=dense").overrides == {"retrieval_mode": "dense"}
    with pytest.raises(ConfigError, match="unknown setting"):
        parse_config("colour=blue")
    with pytest.raises(ConfigError, match="key=value"):
        parse_config("bm25")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("eval")
    done = CliRunner().invoke(cli, ["ingest", str(CORPUS)], env={"RAGKIT_DATA_DIR": str(path), "RAGKIT_EMBEDDER": "fake:32"})
    assert done.exit_code == 0
    return path


def test_eval_compares_configurations_and_writes_its_files(data, tmp_path):
    questions = tmp_path / "questions.jsonl"
    lines = DEV.read_text(encoding="utf-8").splitlines()[:6]
    questions.write_text("\n".join(lines[:3] + ["{not json", '{"kind": "single"}'] + lines[3:]) + "\n",
                         encoding="utf-8")
    out = tmp_path / "out"
    done = CliRunner().invoke(cli, ["eval", str(questions), "--compare", "retrieval_mode=bm25", "--compare",
                                    "chunk_size=200,chunk_overlap=20", "--out", str(out)],
                              env={"RAGKIT_DATA_DIR": str(data), "RAGKIT_EMBEDDER": "fake:32"})
    assert done.exit_code == 1  # the two bad lines
    assert "line 4:" in done.stderr and "line 5: missing field 'question'" in done.stderr
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert {r["config"] for r in results["summary"]} == {"retrieval_mode=bm25", "chunk_size=200,chunk_overlap=20"}
    assert len(results["outcomes"]) == 2 * 6 and results["problems"][0].startswith("line 4")
    assert all(o["answer"] for o in results["outcomes"])
    for name in ("hit_at_k.png", "latency.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "hit@5" in done.stdout and "single zh" in done.stdout


def test_retrieval_only(data, tmp_path):
    out = tmp_path / "out"
    done = CliRunner().invoke(cli, ["--lang", "en", "eval", str(DEV), "--retrieval-only", "--out", str(out)],
                              env={"RAGKIT_DATA_DIR": str(data), "RAGKIT_EMBEDDER": "fake:32"})
    assert done.exit_code == 0, done.output
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert all(o["answer"] is None for o in results["outcomes"])
    zh = next(r for r in results["summary"] if r["group"] == "single zh")
    assert zh["hit@10"] > 0.9 and "accuracy" not in zh
    assert "misses and wrong answers" in done.stdout and "retrieved instead:" in done.stdout


def test_generate_refuses_without_a_generative_llm(data):
    done = CliRunner().invoke(cli, ["eval", "--generate", "3"], env={"RAGKIT_DATA_DIR": str(data),
                                                                     "RAGKIT_EMBEDDER": "fake:32"})
    assert done.exit_code == 1 and "RAGKIT_LLM" in done.stderr


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_generate_drafts_questions_with_evidence_from_the_documents(data, tmp_path):
    import re

    api = FakeAPI().start()

    def reply(body):
        passage = body["messages"][-1]["content"].split("资料：\n", 1)[1]
        sentence = re.split(r"[。\n]", passage.strip())[0][:30]
        if len(api.chat_requests()) % 3 == 0:
            return '{"question": "编造", "evidence": "资料里没有的句子", "answer_keywords": []}'  # dropped
        return json.dumps({"question": f"关于「{sentence[:8]}」的问题？", "evidence": sentence,
                           "answer_keywords": [sentence[:2]]}, ensure_ascii=False)

    api.reply_with = reply
    try:
        out = tmp_path / "gen"
        done = CliRunner().invoke(cli, ["eval", "--generate", "3", "--out", str(out)], env={
            "RAGKIT_DATA_DIR": str(data), "RAGKIT_EMBEDDER": "fake:32", "RAGKIT_LLM": "openai:test-model",
            "RAGKIT_OPENAI_BASE_URL": api.base_url + "/v1"})
        assert done.exit_code == 0, done.output
        drafted = [json.loads(line) for line in (out / "generated.jsonl").read_text(encoding="utf-8").splitlines()]
        assert len(drafted) == 3 and all(q["kind"] == "single" and q["source"].endswith(".md") for q in drafted)
        texts = {p.name: p.read_text(encoding="utf-8") for p in CORPUS.glob("*.md")}
        for q in drafted:
            assert q["evidence"].replace(" ", "") in texts[q["source"]].replace(" ", "")
    finally:
        api.stop()


def test_evidence_alternatives_and_a_malformed_field_through_the_command(data, tmp_path):
    """A list of evidence alternatives runs (it stopped with "内部错误：TypeError: normalize() argument 2 must be
    str, not list"); a malformed field is named by line and field, and the rest runs."""
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join([
        json.dumps({"id": "alt", "question": "LangChain 的作者是谁？", "source": ["x.md", "llm-and-langchain-basics.md"],
                    "evidence": ["不存在的句子", "Harrison Chase"], "answer_keywords": ["Harrison Chase"]},
                   ensure_ascii=False),
        json.dumps({"id": "bad", "question": "Q", "answer_keywords": "not a list of strings", "evidence": 5}),
    ]) + "\n", encoding="utf-8")
    done = CliRunner().invoke(cli, ["--lang", "en", "eval", str(questions), "--retrieval-only", "--out",
                                    str(tmp_path / "out")], env={"RAGKIT_DATA_DIR": str(data),
                                                                 "RAGKIT_EMBEDDER": "fake:32"})
    assert done.exit_code == 1 and "Traceback" not in done.output and "internal error" not in done.output
    assert "line 2: field 'evidence' must be a non-empty string or a list of non-empty strings" in done.stderr
    result = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    assert [o["id"] for o in result["outcomes"]] == ["alt"] and result["outcomes"][0]["rank"] is not None
