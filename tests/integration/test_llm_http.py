"""The `openai:` provider end to end over real HTTP against an OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ragkit import build
from ragkit.config import Settings
from ragkit.errors import ProviderError
from ragkit.providers import ProviderOptions, explain_failure, make_chat_model
from tests.conftest import CORPUS, NONET, run_ragkit
from tests.support.fake_api import FakeAPI

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])


@pytest.fixture
def api():
    server = FakeAPI().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("llm-http")
    done = run_ragkit("ingest", str(CORPUS), env={"RAGKIT_DATA_DIR": str(path), "RAGKIT_EMBEDDER": "fake:32"})
    assert done.returncode == 0, done.stderr
    return path


def _env(api: FakeAPI, data, **extra: str) -> dict[str, str]:
    return {"RAGKIT_DATA_DIR": str(data), "RAGKIT_EMBEDDER": "fake:32", "RAGKIT_LLM": "openai:test-model",
            "RAGKIT_OPENAI_BASE_URL": api.base_url + "/v1", "RAGKIT_OPENAI_API_KEY": "sk-test",
            "RAGKIT_MAX_RETRIES": "1", **extra}


def _options(api: FakeAPI, **extra: object) -> ProviderOptions:
    from pydantic import SecretStr

    values = {"openai_base_url": api.base_url + "/v1", "openai_api_key": SecretStr("sk-test"), "max_retries": 1}
    values.update(extra)
    return ProviderOptions(**values)


def test_streaming_chat_over_http(api):
    api.replies = ["ChatGLM 可以在 7G 显存下微调。[1]"]
    model = make_chat_model("openai:test-model", _options(api), temperature=0)
    pieces = [chunk.content for chunk in model.stream("你好")]
    assert len(pieces) > 3 and "".join(pieces) == api.replies[0]
    body = api.chat_requests()[-1]
    assert body["stream"] is True and body["model"] == "test-model" and body["temperature"] == 0


def test_ask_end_to_end_with_rewrite_and_citations(api, data):
    def reply(body):
        system = body["messages"][0]["content"]
        if "改写" in system:  # the condense prompt
            return "ChatGLM 的参数量是多少？"
        return "ChatGLM 具有 62 亿参数量。[1]"

    api.reply_with = reply
    first = run_ragkit("ask", "ChatGLM 在多大显存的条件下可以进行微调？", "--session", "http-1", "--json",
                       env=_env(api, data))
    assert first.returncode == 0, first.stderr
    second = run_ragkit("ask", "它的参数量是多少？", "--session", "http-1", "--json", env=_env(api, data))
    payload = json.loads(second.stdout)
    assert payload["answer"] == "ChatGLM 具有 62 亿参数量。[1]" and not payload["abstained"]
    assert payload["rewritten_query"] == "ChatGLM 的参数量是多少？" and not payload["extractive"]
    assert payload["citations"][0]["n"] == 1 and payload["citations"][0]["source"].endswith(".md")
    assert set(payload["citations"][0]) == {"n", "source", "heading", "chunk_id", "quote"}
    answer_request = api.chat_requests()[-1]
    contents = [m["content"] for m in answer_request["messages"]]
    assert "ChatGLM 在多大显存的条件下可以进行微调？" in contents  # memory across processes
    assert sum("它的参数量是多少？" in c for c in contents) == 1


def test_401_is_reported_at_once(api, data):
    api.require_key = "the-right-key"
    done = run_ragkit("ask", "ChatGLM 显存？", env=_env(api, data, RAGKIT_LANG="en"))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: openai rejected the API key (HTTP 401): check RAGKIT_OPENAI_API_KEY / OPENAI_API_KEY"]
    assert len(api.chat_requests()) == 1  # not retried


def test_429_then_success_is_retried(api, data):
    api.script = ["429"]
    api.replies = ["重试之后成功。[1]"]
    done = run_ragkit("ask", "ChatGLM 显存？", "--json", env=_env(api, data))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["answer"] == "重试之后成功。[1]"
    assert len(api.chat_requests()) == 2


def test_429_every_time_gives_one_line_after_the_retries(api, data):
    api.script = ["429", "429", "429"]
    done = run_ragkit("ask", "ChatGLM 显存？", env=_env(api, data, RAGKIT_LANG="en"))
    assert done.returncode == 1 and "HTTP 429" in done.stderr and "1 retries" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and len(api.chat_requests()) == 2


def test_timeout(api, data):
    api.script = ["sleep:3", "sleep:3"]
    done = run_ragkit("ask", "ChatGLM 显存？", env=_env(api, data, RAGKIT_LANG="en", RAGKIT_REQUEST_TIMEOUT="1"))
    assert done.returncode == 1
    assert done.stderr.strip() == "error: openai did not answer within 1.0 s (1 retries; RAGKIT_REQUEST_TIMEOUT)"


def test_malformed_stream(api):
    api.script = ["malformed"]
    model = make_chat_model("openai:test-model", _options(api, max_retries=0))
    with pytest.raises(Exception) as info:
        list(model.stream("你好"))
    failure = explain_failure(info.value, "openai:test-model", _options(api))
    assert isinstance(failure, ProviderError) and "cannot be read" in str(failure)


def test_unreachable_endpoint(data):
    from tests.support.chroma_server import free_port

    env = {"RAGKIT_DATA_DIR": str(data), "RAGKIT_EMBEDDER": "fake:32", "RAGKIT_LLM": "openai:m",
           "RAGKIT_OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1", "RAGKIT_MAX_RETRIES": "1",
           "RAGKIT_LANG": "en"}
    done = run_ragkit("ask", "ChatGLM 显存？", env=env)
    assert done.returncode == 1 and "cannot reach openai at http://127.0.0.1:" in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_key_names_the_variable(data):
    done = run_ragkit("ask", "ChatGLM 显存？", env={"RAGKIT_DATA_DIR": str(data), "RAGKIT_EMBEDDER": "fake:32",
                                                     "RAGKIT_LLM": "openai:gpt-4o-mini", "RAGKIT_LANG": "en"})
    assert done.returncode == 2 and "OPENAI_API_KEY" in done.stderr


def test_chat_survives_ctrl_c_during_an_answer(api, data, tmp_path):
    """A slow streamed answer is interrupted with SIGINT; the session goes on and answers the next question."""
    api.script = ["slow"]
    api.replies = ["这是一段很慢很慢很慢很慢很慢很慢很慢很慢很慢很慢的回答。[1]", "第二个回答。[1]"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGKIT_")}
    env.update(_env(api, data, RAGKIT_LANG="en"), PYTHONPATH=str(NONET))
    process = subprocess.Popen([sys.executable, "-m", "ragkit", "chat", "--session", "ctrl-c"], env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdin.write("ChatGLM 显存？\n")
    process.stdin.flush()
    deadline = time.monotonic() + 30
    while len(api.chat_requests()) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.6)  # a few pieces are out
    process.send_signal(signal.SIGINT)
    time.sleep(0.5)
    out, err = process.communicate("ChatGLM 显存？\n/sources\n/exit\n", timeout=60)
    assert process.returncode == 0, err
    assert "(answer interrupted)" in out
    assert "第二个回答。[1]" in out and "Sources:" in out
    assert "Traceback" not in err


def test_chat_commands(data):
    env = {"RAGKIT_DATA_DIR": str(data), "RAGKIT_EMBEDDER": "fake:32"}
    done = subprocess.run([sys.executable, "-m", "ragkit", "--lang", "en", "chat", "--session", "cmds"],
                          input="LangChain 的作者是谁？\n/sources\n它是什么时候开源的？\n/reset\n/exit\n",
                          capture_output=True, text=True, env={**os.environ, **env, "PYTHONPATH": str(NONET)},
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Harrison Chase" in done.stdout and "[extractive answer" in done.stdout
    assert "Sources:" in done.stdout and "“" in done.stdout
    assert "2022 年 10 月" in done.stdout  # the follow-up, answered from memory
    assert "This session's memory is cleared." in done.stdout
    settings = Settings(data_dir=data, embedder="fake:32")
    assert build.conversations(build.open_kb(settings)).history("cmds").messages == []


def test_agent_with_a_tool_calling_model_over_http(api, data):
    """ChatOpenAI's real tool-calling path: the server asks for a search, then answers citing what it got."""
    def reply(body):
        tool_results = [m for m in body["messages"] if m["role"] == "tool"]
        if not tool_results:
            assert {t["function"]["name"] for t in body.get("tools", [])} == {
                "search_knowledge_base", "list_documents", "read_section", "calculator", "current_date"}
            return 'TOOL:search_knowledge_base:{"query": "LangChain 作者", "k": 3}'
        assert "[1] (" in tool_results[-1]["content"]
        return "LangChain 的作者是 Harrison Chase [1]。"

    api.reply_with = reply
    done = run_ragkit("agent", "LangChain 的作者是谁？", "--json", env=_env(api, data))
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert [s["tool"] for s in payload["steps"]] == ["search_knowledge_base", "search_knowledge_base"]
    assert payload["steps"][0]["args"] == {"query": "LangChain 作者", "k": 3}
    assert payload["answer"] == "LangChain 的作者是 Harrison Chase [1]。" and payload["notice"] is None
    assert payload["citations"][0]["n"] == 1 and payload["citations"][0]["source"].endswith(".md")


def _writes_its_call_as_text(body):
    """A small model behind an OpenAI-compatible server: the tool call comes back as JSON in the content."""
    if not [m for m in body["messages"] if m["role"] == "tool"]:
        return '```json\n{"name": "search_knowledge_base", "arguments": {"query": "LangChain 作者"}}\n```'
    return "LangChain 的作者是 Harrison Chase [1]。"


def test_agent_runs_tool_calls_written_as_text_when_the_setting_says_so(api, data):
    api.reply_with = _writes_its_call_as_text
    done = run_ragkit("agent", "LangChain 的作者是谁？", "--json", env=_env(api, data, RAGKIT_TEXT_TOOL_CALLS="true"))
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert [s["tool"] for s in payload["steps"]] == ["search_knowledge_base", "search_knowledge_base"]
    assert payload["steps"][0]["args"] == {"query": "LangChain 作者"}
    assert payload["answer"] == "LangChain 的作者是 Harrison Chase [1]。"
    assert payload["citations"][0]["source"].endswith(".md")


def test_without_the_setting_a_call_written_as_text_stays_text(api, data):
    api.reply_with = _writes_its_call_as_text
    done = run_ragkit("agent", "LangChain 的作者是谁？", "--json", env=_env(api, data))
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["steps"] == [] and '"name": "search_knowledge_base"' in payload["answer"]
