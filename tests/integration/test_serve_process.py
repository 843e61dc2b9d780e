"""A real ``ragkit serve`` process on 127.0.0.1: the official ``openai`` client (streaming included), ragkit's own
``openai:`` provider using the server as its LLM and embedder, MCP over streamable HTTP and stdio through the
SDK's client, a server killed during an ingest, and keys that never reach the logs."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import time
from pathlib import Path

import httpx
import pytest

from ragkit import build
from ragkit.config import Settings
from ragkit.ingest import ingest
from ragkit.server.keys import ApiKeys
from ragkit.workspace import Workspace
from tests.conftest import CORPUS, NONET, run_ragkit
from tests.support.ragkit_server import ragkit_server, start, stop

pytestmark = [pytest.mark.server, pytest.mark.allow_hosts(["127.0.0.1"])]
QUESTION = "ChatGLM 在多大显存的条件下可以进行微调？"
ENV = {"RAGKIT_EMBEDDER": "fake:32"}


@pytest.fixture(scope="module")
def corpus_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("serve") / "data"
    ingest(build.open_kb(Settings(data_dir=data, embedder="fake:32")), [CORPUS])
    return data


@pytest.fixture(scope="module")
def keyed_server(corpus_data: Path, tmp_path_factory: pytest.TempPathFactory):
    """A server with keys (a read key and an admin key), shared by the tests of this module that only read."""
    data = tmp_path_factory.mktemp("keyed") / "data"
    shutil.copytree(corpus_data, data)
    keys = ApiKeys(build.sqlite(Settings(data_dir=data)))
    tokens = {"read": keys.create("reader", scope="read")[0], "admin": keys.create("admin", scope="admin")[0]}
    with ragkit_server(data, env=ENV) as server:
        yield server, tokens


def test_openai_client_non_streaming_and_streaming(keyed_server):
    from openai import OpenAI

    server, tokens = keyed_server
    client = OpenAI(base_url=server.url + "/v1", api_key=tokens["read"], max_retries=0)
    assert "ragkit/default" in [m.id for m in client.models.list()]
    completion = client.chat.completions.create(model="ragkit/default", messages=[{"role": "user", "content": QUESTION}])
    answer = completion.choices[0].message.content
    assert "7G 显存" in answer and "[" in answer
    citations = completion.model_extra["citations"]
    assert citations and citations[0]["source"] == "llm-and-langchain-basics.md" and citations[0]["quote"]

    pieces, last = [], None
    for chunk in client.chat.completions.create(model="ragkit/default", stream=True,
                                                messages=[{"role": "user", "content": QUESTION}]):
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        last = chunk
    assert "".join(pieces) == answer
    assert last.choices[0].finish_reason == "stop"
    assert last.model_extra["citations"] == citations

    vectors = client.embeddings.create(model="fake:32", input=["大语言模型", "LangChain"])
    expected = build.embeddings(Settings(embedder="fake:32")).embed_documents(["大语言模型", "LangChain"])
    assert [round(v, 5) for v in vectors.data[1].embedding] == [round(v, 5) for v in expected[1]]


def test_openai_client_errors(keyed_server):
    import openai

    server, tokens = keyed_server
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server.url + "/v1", api_key="rk-wrong", max_retries=0).models.list()
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=tokens["read"], max_retries=0)
    with pytest.raises(openai.NotFoundError, match="ragkit/default"):
        client.chat.completions.create(model="ragkit/nope", messages=[{"role": "user", "content": "x"}])


def test_ragkit_uses_a_ragkit_server_as_its_llm_and_embedder(keyed_server, tmp_path):
    """A second ragkit, configured with its openai: provider pointed at the server, chats over the server's
    knowledge base (its plain-chat mode sends the history and the question; the server answers with citations)."""
    server, tokens = keyed_server
    remote = dict(llm="openai:ragkit/default", openai_base_url=server.url + "/v1", openai_api_key=tokens["read"],
                  max_retries=0)
    llm = build.llm(Settings(data_dir=tmp_path / "client", embedder="fake:32", **remote))
    reply = llm.invoke(QUESTION)
    assert "7G 显存" in reply.content
    assert "".join(c.content for c in llm.stream(QUESTION)) == reply.content

    ws = Workspace(Settings(data_dir=tmp_path / "client", embedder="openai:fake:32", **remote))
    first = "".join(c.get("answer", "") for c in ws.answer("LLaMA 系列模型的参数规模范围是多少？", "c1", mode="chat"))
    follow = "".join(c.get("answer", "") for c in ws.answer("它用的是什么激活函数？", "c1", mode="chat"))
    assert first and "SwiGLU" in follow  # the client's history reached the server as messages
    assert ws.kb.embeddings.embed_query("大语言模型") == pytest.approx(
        build.embeddings(Settings(embedder="fake:32")).embed_query("大语言模型"), abs=1e-5)


def test_mcp_over_streamable_http_behind_the_keys(keyed_server):
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    server, tokens = keyed_server

    async def session(token: str | None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        http = create_mcp_http_client(headers=headers)
        return Client(streamable_http_client(server.url + "/mcp", http_client=http))

    async def scenario() -> None:
        async with await session(tokens["read"]) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert {"search", "ask", "list_documents", "read_section"} <= names
            found = await client.call_tool("search", {"query": "ChatGLM 显存", "k": 3})
            assert not found.is_error and found.structured_content["results"][0]["source"]
            answer = await client.call_tool("ask", {"question": QUESTION})
            assert "7G 显存" in answer.structured_content["answer"] and answer.structured_content["citations"]
            docs = await client.call_tool("list_documents", {})
            assert len(docs.structured_content["documents"]) == 5
            section = await client.call_tool("read_section", {"source": "llm-and-langchain-basics.md",
                                                              "heading": "2. GLM 系列"})
            assert "7G 显存" in section.structured_content["text"]
            missing = await client.call_tool("search", {"query": "x", "kb": "nope"})
            assert missing.is_error
        with pytest.raises(Exception):  # noqa: B017 - the SDK wraps the 401 in its own error types
            async with await session(None) as client:
                await client.list_tools()

    asyncio.run(scenario())
    unauthorized = httpx.post(server.url + "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert unauthorized.status_code == 401


def test_mcp_over_stdio(corpus_data, tmp_path):
    from mcp import Client, StdioServerParameters

    data = tmp_path / "data"
    shutil.copytree(corpus_data, data)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGKIT_")}
    env.update(ENV, RAGKIT_DATA_DIR=str(data),
               PYTHONPATH=os.pathsep.join([str(NONET), env.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    params = StdioServerParameters(command=sys.executable, args=["-m", "ragkit", "mcp"], env=env, cwd=str(tmp_path))

    async def scenario() -> None:
        async with Client(params, read_timeout_seconds=120) as client:
            result = await client.call_tool("ask", {"question": QUESTION})
            assert "7G 显存" in result.structured_content["answer"]
            kbs = await client.call_tool("list_knowledge_bases", {})
            assert kbs.structured_content["knowledge_bases"] == ["default"]

    asyncio.run(scenario())


def test_keys_never_reach_the_server_log(keyed_server):
    server, tokens = keyed_server
    for token in tokens.values():
        httpx.get(server.url + "/v1/models", headers={"Authorization": f"Bearer {token}"})
        httpx.get(server.url + "/v1/models", headers={"Authorization": f"Bearer {token}zz"})
    log = server.log()
    assert "GET /v1/models" in log  # the access log is there, without the keys
    for token in tokens.values():
        assert token not in log and token[3:20] not in log


def test_no_keys_means_loopback_only(corpus_data, tmp_path):
    refused = run_ragkit("serve", "--host", "0.0.0.0", "--port", "1", env={"RAGKIT_DATA_DIR": str(corpus_data)})
    assert refused.returncode == 2 and "--allow-remote-without-keys" in refused.stderr
    data = tmp_path / "data"
    shutil.copytree(corpus_data, data)
    with ragkit_server(data, env=ENV) as server:
        assert "本机" in server.log() or "this machine" in server.log()
        assert httpx.get(server.url + "/v1/models").status_code == 200


@pytest.mark.slow
def test_killed_during_an_ingest_the_job_fails_and_the_store_recovers(corpus_data, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(corpus_data, data)
    files = []
    for n in range(40):  # enough work that the kill lands in the middle
        for path in sorted(CORPUS.glob("*.md")):
            files.append(("files", (f"{n:02d}-{path.name}", path.read_bytes() + f"\n\n副本 {n}".encode())))
    server = start(data, env=ENV)
    try:
        job = httpx.post(server.url + "/api/kbs/default/documents", files=files, timeout=120).json()["job"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            state = httpx.get(f"{server.url}/api/jobs/{job['id']}").json()
            if state["status"] == "running" and state["progress"]["done"] >= 3:
                break
            time.sleep(0.02)
        hits = httpx.post(server.url + "/api/kbs/default/search", json={"query": "ChatGLM 显存"}).json()
        assert hits["results"], "searches go on during the ingest"
        server.kill()
    finally:
        stop(server)
    assert state["status"] == "running" and state["progress"]["done"] < len(files)
    server = start(data, env=ENV)
    try:
        after = httpx.get(f"{server.url}/api/jobs/{job['id']}").json()
        assert after["status"] == "failed" and after["error"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the repair job the restart queued
            jobs = httpx.get(server.url + "/api/jobs").json()["jobs"]
            if all(j["status"] in ("done", "failed") for j in jobs):
                break
            time.sleep(0.1)
    finally:
        stop(server)
    info = json.loads(run_ragkit("info", "--json", env={"RAGKIT_DATA_DIR": str(data), **ENV}).stdout)
    assert info["consistent"] is True and info["pending_files"] == 0
    assert info["documents"] >= 5 + state["progress"]["done"]
