"""API keys (hashed, scoped, revocable), feedback and its export in the eval question format, and the
``ragkit keys`` / ``ragkit feedback export`` commands."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from ragkit import build
from ragkit.cli import cli
from ragkit.config import Settings
from ragkit.errors import RagkitError
from ragkit.evaluation import parse_questions
from ragkit.feedback import Feedback, export_questions
from ragkit.server.keys import ApiKeys, digest

CITATION = {"n": 1, "source": "glm.md", "heading": "GLM", "chunk_id": "c1", "quote": "ChatGLM 能在 7G 显存下微调。"}


def test_keys_are_stored_hashed_and_scoped():
    conn = sqlite3.connect(":memory:")
    keys = ApiKeys(conn)
    assert not keys.active()
    token, key = keys.create("bot", scope="write", kbs=["docs"])
    stored = conn.execute("SELECT hash, prefix FROM api_keys").fetchone()
    assert stored == (digest(token), token[:7]) and token not in " ".join(map(str, conn.execute(
        "SELECT * FROM api_keys").fetchone()))
    assert keys.active() and keys.verify(token).id == key.id
    found = keys.verify(token)
    assert found.allows("read") and found.allows("write") and not found.allows("admin")
    assert found.can_see("docs") and not found.can_see("default")
    assert keys.verify(token + "x") is None and keys.verify("") is None
    assert [k.id for k in keys.revoke("bot")] == [key.id]
    assert keys.verify(token) is None and not keys.active()


def test_feedback_replaces_a_second_rating_and_exports_every_kind():
    fb = Feedback(sqlite3.connect(":memory:"))
    fb.remember("r1", kb="default", question="ChatGLM 需要多少显存？", answer="7G。[1]", citations=[CITATION])
    fb.rate_response("r1", rating="down")
    fb.rate_response("r1", rating="up", comment="其实对")
    fb.remember("r2", kb="default", question="GPT-5 何时发布？", answer="在资料中没有找到相关内容。", citations=[],
                abstained=True)
    fb.rate_response("r2", rating=1)
    fb.remember("r3", kb="default", question="它的作者是谁？", answer="Harrison Chase。[1]", citations=[CITATION],
                history=["LangChain 是什么？"])
    fb.rate_response("r3", rating=-1, comment="答非所问")
    lines = export_questions(fb.rated())
    assert [line["kind"] for line in lines] == ["single", "unanswerable", "multiturn"]
    assert lines[0]["rating"] == 1 and lines[0]["comment"] == "其实对" and lines[0]["evidence"] == CITATION["quote"]
    assert lines[2]["turns"][0]["question"] == "LangChain 是什么？" and lines[2]["turns"][1]["needs_review"]
    questions, problems = parse_questions(json.dumps(line, ensure_ascii=False) for line in lines)
    assert problems == [] and [q.question for q in questions] == [
        "ChatGLM 需要多少显存？", "GPT-5 何时发布？", "LangChain 是什么？", "它的作者是谁？"]
    assert questions[0].evidence == (CITATION["quote"],) and questions[1].kind == "unanswerable"


def test_unknown_response_and_bad_rating_are_clear_errors():
    fb = Feedback(sqlite3.connect(":memory:"))
    with pytest.raises(RagkitError, match="no answer 'nope'"):
        fb.rate_response("nope", rating=1)
    fb.remember("r1", kb="kb", question="q", answer="a", citations=[])
    with pytest.raises(RagkitError, match="rating 5"):
        fb.rate_response("r1", rating=5)


def test_keys_and_feedback_commands(tmp_path):
    runner = CliRunner()
    data = str(tmp_path / "data")
    made = runner.invoke(cli, ["--lang", "en", "keys", "create", "--name", "ci", "--scope", "write", "--kb", "docs",
                               "--data-dir", data])
    assert made.exit_code == 0, made.output
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("rk-") and "shown this once" in made.stderr
    listed = runner.invoke(cli, ["keys", "list", "--data-dir", data, "--json"])
    assert json.loads(listed.stdout)[0]["scope"] == "write" and token not in listed.output
    key_id = json.loads(listed.stdout)[0]["id"]
    assert runner.invoke(cli, ["keys", "revoke", key_id, "--data-dir", data]).exit_code == 0
    assert runner.invoke(cli, ["keys", "revoke", key_id, "--data-dir", data]).exit_code == 1
    fb = Feedback(build.sqlite(Settings(data_dir=tmp_path / "data")))
    fb.remember("r1", kb="default", question="ChatGLM 需要多少显存？", answer="7G。[1]", citations=[CITATION])
    fb.rate_response("r1", rating=1)
    out = tmp_path / "rated.jsonl"
    exported = runner.invoke(cli, ["--lang", "en", "feedback", "export", "--out", str(out), "--data-dir", data])
    assert exported.exit_code == 0 and "1 rated questions" in exported.output
    assert json.loads(out.read_text(encoding="utf-8"))["evidence"] == CITATION["quote"]


def test_serve_without_the_extra_names_it(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "fastapi" else real(name, *a))
    result = CliRunner().invoke(cli, ["--lang", "en", "serve"])
    assert result.exit_code == 2 and "pip install 'ragkit[serve]'" in result.output
