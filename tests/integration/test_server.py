"""The server's routes in-process (FastAPI's TestClient runs the app with its lifespan; no socket): every
endpoint, the auth matrix, uploads (path traversal, 413, per-file errors), errors, feedback, and keys that
never leak."""

from __future__ import annotations

import base64
import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from ragkit import build
from ragkit.config import Settings
from ragkit.ingest import ingest
from ragkit.server import create_app
from ragkit.server.keys import ApiKeys
from tests.conftest import CORPUS

QUESTION = "ChatGLM 在多大显存的条件下可以进行微调？"


@pytest.fixture(scope="module")
def corpus_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with the LLM corpus in 'default' and one file in 'other' (fake embeddings)."""
    data = tmp_path_factory.mktemp("server") / "data"
    ingest(build.open_kb(Settings(data_dir=data, embedder="fake:32")), [CORPUS])
    other = tmp_path_factory.mktemp("other")
    (other / "secret.md").write_text("# 机密\n\n项目代号是青鸟，预算为 300 万元。", encoding="utf-8")
    ingest(build.open_kb(Settings(data_dir=data, embedder="fake:32", kb="other")), [other])
    return data


@pytest.fixture
def data(corpus_data: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(corpus_data, copy)
    return copy


def client_for(data: Path, **settings: Any) -> TestClient:
    app = create_app(Settings(data_dir=data, embedder="fake:32", **settings))
    return TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False)


@pytest.fixture
def client(data: Path):
    with client_for(data) as c:
        yield c


def wait_job(client: TestClient, job_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}", headers=headers).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def chat(client: TestClient, content: str, **extra: Any) -> Any:
    return client.post("/v1/chat/completions", json={"model": "ragkit/default",
                                                     "messages": [{"role": "user", "content": content}], **extra})


# health and docs
def test_health_ready_and_docs(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["knowledge_bases"] == 2
    assert "ragkit" in client.get("/docs").text
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/chat/completions", "/api/kbs/{kb}/documents", "/api/kbs/{kb}/search"} <= set(paths)


# OpenAI-compatible routes
def test_models_one_per_knowledge_base_plus_plain_chat(client):
    ids = [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert ids[:3] == ["ragkit/default", "ragkit/other", "ragkit-chat"] and "fake:32" in ids


def test_chat_completion_keeps_markers_and_carries_citations(client):
    body = chat(client, QUESTION).json()
    answer = body["choices"][0]["message"]["content"]
    assert "7G 显存" in answer and "[" in answer and body["object"] == "chat.completion"
    cited = {c["n"] for c in body["citations"]}
    assert cited and all(f"[{n}]" in answer for n in cited)
    assert set(body["citations"][0]) == {"n", "source", "heading", "chunk_id", "quote"}
    assert body["citations"][0]["source"] == "llm-and-langchain-basics.md"
    assert body["ragkit"]["extractive"] is True and body["ragkit"]["abstained"] is False


def test_stream_ends_with_citations_and_done(client):
    with client.stream("POST", "/v1/chat/completions", json={
            "model": "ragkit/default", "stream": True, "messages": [{"role": "user", "content": QUESTION}]}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert "7G 显存" in text
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and chunks[-1]["citations"]
    assert all("citations" not in c for c in chunks[:-1])


def test_stateless_follow_up_uses_the_messages_as_history(client):
    first = "LLaMA 系列模型的参数规模范围是多少？"
    earlier = chat(client, first).json()["choices"][0]["message"]["content"]
    body = client.post("/v1/chat/completions", json={"model": "ragkit/default", "messages": [
        {"role": "system", "content": "ignored"}, {"role": "user", "content": first},
        {"role": "assistant", "content": earlier}, {"role": "user", "content": "它用的是什么激活函数？"}]}).json()
    assert "SwiGLU" in body["choices"][0]["message"]["content"]
    assert body["ragkit"]["rewritten_query"] == "LLaMA 它用的是什么激活函数？"
    assert client.get("/api/sessions").json()["sessions"] == []  # stateless: nothing stored


def test_session_id_continues_a_stored_conversation(client):
    chat(client, "LLaMA 系列模型的参数规模范围是多少？", session_id="s1")
    body = chat(client, "它用的是什么激活函数？", session_id="s1").json()
    assert "SwiGLU" in body["choices"][0]["message"]["content"] and body["ragkit"]["session_id"] == "s1"
    stored = client.get("/api/sessions/s1").json()
    assert [m["role"] for m in stored["messages"]] == ["user", "assistant"] * 2
    assert stored["messages"][3]["citations"]


def test_abstention_is_an_ordinary_answer(client):
    body = chat(client, "GPT-5 是哪一天发布的？").json()
    assert body["choices"][0]["message"]["content"] == "在资料中没有找到相关内容。"
    assert body["citations"] == [] and body["ragkit"]["abstained"] is True


def test_plain_chat_model_uses_the_configured_llm(client):
    body = client.post("/v1/chat/completions", json={"model": "ragkit-chat", "messages": [
        {"role": "user", "content": "你好"}]}).json()
    assert "生成式大模型" in body["choices"][0]["message"]["content"]  # the extractive model says what it needs


def test_openai_style_errors(client):
    missing = client.post("/v1/chat/completions", json={
        "model": "ragkit/nope", "messages": [{"role": "user", "content": "x"}]})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"
    assert "ragkit/default" in missing.json()["error"]["message"]
    no_user = client.post("/v1/chat/completions", json={"model": "ragkit/default",
                                                        "messages": [{"role": "system", "content": "x"}]})
    assert no_user.status_code == 400 and no_user.json()["error"]["type"] == "invalid_request_error"
    invalid = client.post("/v1/chat/completions", json={"model": "ragkit/default"},
                          headers={"Accept-Language": "en"})
    assert invalid.status_code == 400 and "messages" in invalid.json()["error"]["message"]
    assert client.get("/v1/nothing").json()["error"]["code"] == "not_route"


def test_embeddings_with_the_configured_embedder(client):
    body = client.post("/v1/embeddings", json={"input": ["大语言模型", "LangChain"], "model": "fake:32"}).json()
    expected = build.embeddings(Settings(embedder="fake:32")).embed_documents(["大语言模型", "LangChain"])
    np.testing.assert_allclose([d["embedding"] for d in body["data"]], expected, atol=1e-6)
    packed = client.post("/v1/embeddings", json={"input": "大语言模型", "encoding_format": "base64"}).json()
    decoded = np.frombuffer(base64.b64decode(packed["data"][0]["embedding"]), dtype="<f4")
    np.testing.assert_allclose(decoded, expected[0], atol=1e-6)
    assert client.post("/v1/embeddings", json={"input": "x", "model": "other"}).status_code == 404


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_unreachable_llm_is_one_clear_502(data):
    with client_for(data, llm="openai:gpt-4o-mini", openai_base_url="http://127.0.0.1:9/v1", max_retries=0,
                    request_timeout=2) as c:
        started = time.monotonic()
        for stream in (False, True):
            response = chat(c, QUESTION, stream=stream)
            assert response.status_code == 502, response.text
            error = response.json()["error"]
            assert error["code"] == "llm_unreachable" and "127.0.0.1:9" in error["message"]
        assert time.monotonic() - started < 20


# REST
def test_search_has_the_cli_json_shape(client):
    body = client.post("/api/kbs/default/search", json={"query": "ChatGLM 显存 微调", "k": 3}).json()
    assert body["query"] == "ChatGLM 显存 微调" and len(body["results"]) == 3
    assert set(body["results"][0]) == {"rank", "score", "text", "source", "heading", "chunk_id"}
    only = client.post("/api/kbs/default/search", json={"query": "模型", "sources": ["llm-tracking.md"]}).json()
    assert {r["source"] for r in only["results"]} == {"llm-tracking.md"}


def test_ask_has_the_cli_json_shape_and_a_response_id(client):
    body = client.post("/api/kbs/default/ask", json={"question": "LangChain 的作者是谁？"}).json()
    assert set(body) == {"question", "answer", "abstained", "rewritten_query", "citations", "timings", "extractive",
                         "session", "response_id"}
    assert "Harrison Chase" in body["answer"] and body["citations"][0]["n"] == 1


def test_knowledge_bases_create_list_delete(client):
    assert [k["name"] for k in client.get("/api/kbs").json()["knowledge_bases"]] == ["default", "other"]
    made = client.post("/api/kbs", json={"name": "新库"})
    assert made.status_code == 201 and made.json()["documents"] == 0
    assert client.post("/api/kbs", json={"name": "新库"}).status_code == 409
    assert client.post("/api/kbs", json={"name": "a/b"}).status_code == 400
    assert "ragkit/新库" in [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert client.delete("/api/kbs/新库").json() == {"deleted": "新库"}
    assert "新库" not in [k["name"] for k in client.get("/api/kbs").json()["knowledge_bases"]]
    assert client.delete("/api/kbs/新库").status_code == 404


def test_upload_many_files_is_a_job_with_progress_and_per_file_errors(client, tmp_path):
    files = [("files", ("gpu.md", "# 显卡\n\n蓝鲸 9000 显卡有 96G 显存。".encode())),
             ("files", ("notes.txt", b"plain notes about the Bluewhale 9000 card")),
             ("files", ("empty.md", b"")),
             ("files", ("tool.exe", b"MZ\x90\x00binary"))]
    accepted = client.post("/api/kbs/default/documents", files=files)
    assert accepted.status_code == 202
    job = wait_job(client, accepted.json()["job"]["id"])
    assert job["status"] == "done" and job["progress"]["done"] == job["progress"]["total"] == 4
    assert sorted(job["summary"]["added"]) == ["gpu.md", "notes.txt"]
    failures = {f["source"]: f["reason"] for f in job["failures"]}
    assert set(failures) == {"empty.md", "tool.exe"} and "空文件" in failures["empty.md"]
    assert ".exe" in failures["tool.exe"]
    docs = {d["source"] for d in client.get("/api/kbs/default/documents").json()["documents"]}
    assert {"gpu.md", "notes.txt"} <= docs
    hits = client.post("/api/kbs/default/search", json={"query": "蓝鲸 9000 显存"}).json()["results"]
    assert hits[0]["source"] == "gpu.md"
    assert client.delete("/api/kbs/default/documents/gpu.md").json()["chunks"] == 1
    assert client.delete("/api/kbs/default/documents/gpu.md").status_code == 404


def upload_raw(client: TestClient, files: list[tuple[str, bytes]]) -> Any:
    """A multipart upload with the file names exactly as given (httpx would percent-encode a NUL)."""
    boundary = "ragkitboundary"
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n" for name, data in files
    ) + f"--{boundary}--\r\n".encode()
    return client.post("/api/kbs/default/documents", content=body,
                       headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})


@pytest.mark.parametrize("name", ["../../escape.md", "/etc/escape.md", "..\\..\\escape.md", "a\x00b.md",
                                  "docs/escape.md", "..", "．．／escape.md"])
def test_upload_names_cannot_escape(client, data, name):
    response = upload_raw(client, [(name, b"# x\n\nescape attempt"), ("fine.md", b"# ok\n\nfine file")])
    assert response.status_code == 202, response.text
    job = wait_job(client, response.json()["job"]["id"])
    assert [f["source"] for f in job["failures"]] == [name] and job["summary"]["added"] == ["fine.md"]
    root = data.parent
    assert not list(root.rglob("escape.md")) and not (Path("/etc/escape.md")).exists()
    only_bad = upload_raw(client, [(name, b"x")])
    assert only_bad.status_code == 400 and repr(name) in only_bad.json()["error"]["message"]


def test_upload_over_the_limit_is_413(data):
    with client_for(data, max_file_mb=0.01) as c:
        response = c.post("/api/kbs/default/documents", files=[("files", ("big.md", b"# big\n\n" + b"x" * 20_000))])
        assert response.status_code == 413 and "big.md" in response.json()["error"]["message"]
        assert "RAGKIT_MAX_FILE_MB" in response.json()["error"]["message"]


def test_upload_to_an_unknown_knowledge_base_is_404(client):
    response = client.post("/api/kbs/nope/documents", files=[("files", ("a.md", b"# a\n\ntext"))])
    assert response.status_code == 404


def test_sessions_list_messages_delete(client):
    client.post("/api/kbs/default/ask", json={"question": "LangChain 的作者是谁？", "session_id": "t1"})
    sessions = client.get("/api/sessions").json()["sessions"]
    assert [s["id"] for s in sessions] == ["t1"] and sessions[0]["kb"] == "default"
    assert client.get("/api/sessions/t1").json()["messages"][0]["content"] == "LangChain 的作者是谁？"
    assert client.delete("/api/sessions/t1").json() == {"deleted": "t1"}
    assert client.get("/api/sessions/t1").status_code == 404


def test_feedback_by_response_id_from_rest_and_openai_routes(client):
    asked = client.post("/api/kbs/default/ask", json={"question": "LangChain 的作者是谁？"}).json()
    rated = client.post("/api/feedback", json={"response_id": asked["response_id"], "rating": "up",
                                               "comment": "准确"}).json()
    assert rated["rating"] == 1 and rated["citations"][0]["quote"]
    completion = chat(client, QUESTION).json()
    down = client.post(f"/v1/chat/completions/{completion['id']}/feedback", json={"rating": -1, "comment": "太长"})
    assert down.json()["rating"] == -1
    assert client.post("/api/feedback", json={"response_id": "nope", "rating": 1}).status_code == 404
    assert client.post("/api/feedback", json={"response_id": asked["response_id"], "rating": 5}).status_code == 400
    questions = client.get("/api/feedback").json()["questions"]
    assert [q["rating"] for q in questions] == [1, -1]
    assert "Harrison Chase" in questions[0]["evidence"] and questions[1]["needs_review"] is True


# keys and permissions
@pytest.fixture
def keyed(data: Path):
    keys = ApiKeys(build.sqlite(Settings(data_dir=data)))
    tokens = {scope: keys.create(scope, scope=scope)[0] for scope in ("read", "write", "admin")}
    tokens["other_only"] = keys.create("other-only", scope="write", kbs=["other"])[0]
    with client_for(data) as c:
        yield c, tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


ROUTES = [  # (method, path, json, minimal scope)
    ("GET", "/v1/models", None, "read"),
    ("POST", "/v1/chat/completions", {"model": "ragkit/default", "messages": [{"role": "user", "content": QUESTION}]},
     "read"),
    ("POST", "/v1/embeddings", {"input": "x"}, "read"),
    ("GET", "/api/kbs", None, "read"),
    ("POST", "/api/kbs/default/search", {"query": "显存"}, "read"),
    ("POST", "/api/kbs/default/ask", {"question": QUESTION}, "read"),
    ("GET", "/api/kbs/default/documents", None, "read"),
    ("GET", "/api/sessions", None, "read"),
    ("GET", "/api/jobs", None, "read"),
    ("DELETE", "/api/kbs/default/documents/llm-tracking.md", None, "write"),
    ("POST", "/api/kbs", {"name": "fresh"}, "admin"),
    ("GET", "/api/keys", None, "admin"),
    ("GET", "/api/feedback", None, "admin"),
]


@pytest.mark.parametrize(("method", "path", "body", "scope"), ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_auth_matrix(keyed, method, path, body, scope):
    client, tokens = keyed
    send = lambda headers: client.request(method, path, json=body, headers=headers)  # noqa: E731
    assert send({}).status_code == 401
    assert send(bearer("rk-" + "x" * 43)).status_code == 401
    assert send({"Authorization": tokens["admin"]}).status_code == 401  # not a Bearer header
    order = ["read", "write", "admin"]
    for have in order:
        status = send(bearer(tokens[have])).status_code
        if order.index(have) < order.index(scope):
            assert status == 403, (have, status)
        elif have == scope:
            assert status < 400, (have, status)
        else:  # a wider scope passes too (the document may be gone by then: 404, not 401/403)
            assert status not in (401, 403), (have, status)


def test_open_routes_need_no_key(keyed):
    client, _ = keyed
    for path in ("/healthz", "/readyz", "/docs", "/openapi.json"):
        assert client.get(path).status_code == 200, path


def test_a_key_for_another_knowledge_base_cannot_see_this_one(keyed):
    client, tokens = keyed
    headers = bearer(tokens["other_only"])
    assert [m["id"] for m in client.get("/v1/models", headers=headers).json()["data"]][:2] == ["ragkit/other",
                                                                                              "ragkit-chat"]
    assert [k["name"] for k in client.get("/api/kbs", headers=headers).json()["knowledge_bases"]] == ["other"]
    for method, path, body in [
        ("POST", "/v1/chat/completions", {"model": "ragkit/default", "messages": [{"role": "user", "content": "x"}]}),
        ("POST", "/api/kbs/default/search", {"query": "显存"}), ("GET", "/api/kbs/default/documents", None),
        ("DELETE", "/api/kbs/default/documents/llm-tracking.md", None),
    ]:
        response = client.request(method, path, json=body, headers=headers)
        assert response.status_code == 404, (path, response.text)
    upload = client.post("/api/kbs/default/documents", files=[("files", ("a.md", b"# a\n\nx"))], headers=headers)
    assert upload.status_code == 404
    allowed = client.post("/api/kbs/other/search", json={"query": "项目代号"}, headers=headers).json()
    assert allowed["results"][0]["source"] == "secret.md"


def test_keys_never_appear_in_bodies_or_docs(keyed, caplog):
    client, tokens = keyed
    seen = [client.get("/openapi.json").text, client.get("/docs").text]
    for token in tokens.values():
        seen.append(client.get("/api/keys", headers=bearer(token)).text)
        seen.append(client.get("/v1/models", headers=bearer(token + "x")).text)
    made = client.post("/api/keys", json={"name": "new", "scope": "read"}, headers=bearer(tokens["admin"]))
    assert made.status_code == 201 and made.json()["key"].startswith("rk-")
    body = " ".join(seen) + caplog.text
    for token in [*tokens.values(), made.json()["key"]]:
        assert token not in body and token[3:] not in body
    listed = client.get("/api/keys", headers=bearer(tokens["admin"])).json()["keys"]
    assert {k["name"] for k in listed} >= {"read", "write", "admin", "new"} and all("key" not in k for k in listed)
    revoked = client.delete(f"/api/keys/{made.json()['id']}", headers=bearer(tokens["admin"]))
    assert revoked.status_code == 200
    assert client.get("/v1/models", headers=bearer(made.json()["key"])).status_code == 401


def test_without_keys_only_loopback_host_names_are_served(data):
    app = create_app(Settings(data_dir=data, embedder="fake:32"))
    with TestClient(app, base_url="http://192.168.1.20:8000") as remote:
        assert remote.get("/v1/models").status_code == 403
        assert remote.get("/healthz").status_code == 200
    with TestClient(create_app(Settings(data_dir=data, embedder="fake:32"), allow_remote_without_keys=True),
                    base_url="http://192.168.1.20:8000") as allowed:
        assert allowed.get("/v1/models").status_code == 200
    with TestClient(create_app(Settings(data_dir=data, embedder="fake:32")), base_url="http://localhost:8000") as local:
        assert local.get("/v1/models").status_code == 200


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_provider_secrets_never_reach_an_error_body(data):
    secret = "sk-test-SECRETVALUE-123456"
    with client_for(data, llm="openai:gpt-4o-mini", openai_base_url="http://127.0.0.1:9/v1", max_retries=0,
                    request_timeout=2, openai_api_key=secret) as c:
        response = chat(c, QUESTION)
        assert response.status_code == 502 and secret not in response.text
        assert secret not in c.get("/readyz").text + c.get("/openapi.json").text


def test_concurrent_first_requests_all_succeed(data):
    """Each worker thread opens its own handles on first use; many at once must not race (chromadb's client
    registry raised KeyError when filled from several threads)."""
    from concurrent.futures import ThreadPoolExecutor

    with client_for(data, server_threads=16) as c:
        def one(n: int) -> int:
            return c.post("/api/kbs/default/search", json={"query": f"ChatGLM 显存 {n}"}).status_code

        with ThreadPoolExecutor(32) as pool:
            statuses = list(pool.map(one, range(64)))
    assert statuses == [200] * 64


def test_module_app_is_built_lazily_from_the_settings(data, monkeypatch):
    """`uvicorn ragkit.server:app`: importing builds nothing; the first access builds from RAGKIT_* settings."""
    import ragkit.server as server

    monkeypatch.delattr(server, "app", raising=False)
    monkeypatch.setenv("RAGKIT_DATA_DIR", str(data))
    monkeypatch.setenv("RAGKIT_EMBEDDER", "fake:32")
    assert "app" not in vars(server)
    app = server.app
    assert server.app is app and app.state.settings.data_dir == data
    with TestClient(app, base_url="http://127.0.0.1") as c:
        assert [m["id"] for m in c.get("/v1/models").json()["data"]][0] == "ragkit/default"
    monkeypatch.delattr(server, "app")


def test_an_upload_waits_while_another_process_holds_the_write_lock(client, data):
    """`ragkit ingest` (or a second server worker) writing: the job waits for the lock instead of failing."""
    holder = build.open_kb(Settings(data_dir=data, embedder="fake:32"))
    with holder.write_lock():
        job = client.post("/api/kbs/default/documents", files=[("files", ("later.md", b"# later\n\nwritten later"))])
        job_id = job.json()["job"]["id"]
        deadline = time.monotonic() + 30
        while client.get(f"/api/jobs/{job_id}").json()["status"] != "waiting":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert client.post("/api/kbs/default/search", json={"query": "显存"}).status_code == 200  # reads go on
    assert wait_job(client, job_id)["summary"]["added"] == ["later.md"]


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_slow_answer_does_not_stall_other_requests(data):
    """An LLM that takes 3 s to answer holds one worker thread; searches and other answers go on meanwhile."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.support.fake_api import FakeAPI

    api = FakeAPI(script=["sleep:3"], replies=["ChatGLM 可以在 7G 显存下微调。[1]"]).start()
    try:
        with client_for(data, llm="openai:slow", openai_base_url=api.base_url + "/v1", max_retries=0) as c:
            with ThreadPoolExecutor(1) as pool:
                slow = pool.submit(lambda: chat(c, QUESTION, stream=True))
                while not api.chat_requests():  # the slow answer has reached the LLM
                    time.sleep(0.02)
                started = time.monotonic()
                assert c.post("/api/kbs/default/search", json={"query": "显存"}).status_code == 200
                assert c.get("/v1/models").status_code == 200
                quick = time.monotonic() - started
                assert slow.result().status_code == 200
            assert quick < 1.5, quick
            events = [json.loads(line[6:]) for line in slow.result().text.splitlines()
                      if line.startswith("data: {")]
            assert "7G 显存" in "".join(e["choices"][0]["delta"].get("content") or "" for e in events)
    finally:
        api.stop()
