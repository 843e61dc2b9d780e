"""ragkit against a real Chroma server (``chroma run`` on 127.0.0.1, started once for the module).

* LangChain's VectorStoreIntegrationTests for HybridStore over ``chromadb.HttpClient``;
* the CLI end to end in a subprocess with the network blocked (loopback only): the vectors live on the
  server, nothing is written to a local Chroma folder;
* an unreachable server is one line on stderr naming the URL, exit status 1, no traceback.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from langchain_tests.integration_tests import VectorStoreIntegrationTests

from ragkit.store import HybridStore
from tests.conftest import CORPUS, run_ragkit
from tests.support.chroma_server import chroma_server, free_port
from tests.support.kb import open_kb

pytestmark = [pytest.mark.server, pytest.mark.allow_hosts(["127.0.0.1"])]

BASICS = "llm-and-langchain-basics.md"
NAMES = sorted(p.name for p in CORPUS.iterdir() if p.suffix == ".md")


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with chroma_server(tmp_path_factory.mktemp("chroma-server")) as url:
        yield url


def http_client(url: str):  # noqa: ANN201 - chromadb.api.ClientAPI
    import chromadb
    from chromadb.config import Settings

    parsed = urlparse(url)
    return chromadb.HttpClient(host=parsed.hostname, port=parsed.port,
                               settings=Settings(anonymized_telemetry=False))  # a fresh Settings per client


# --------------------------------------------------------------------------- standard suite over HTTP


class TestHttpKnowledgeBaseStore(VectorStoreIntegrationTests):
    """HybridStore as ``KnowledgeBase.store(create=True)`` builds it with ``chroma_url`` set."""

    @pytest.fixture
    def vectorstore(self, tmp_path: Path, chroma_url: str) -> Iterator[HybridStore]:  # type: ignore[override]
        name = f"std-{uuid.uuid4().hex[:12]}"  # the server is shared: one collection per test
        kb = open_kb(tmp_path / "data", embedder="fake:6", embeddings=self.get_embeddings(), kb=name,
                     chroma_url=chroma_url)
        store = kb.store(create=True)
        assert store is not None and kb.chroma_dir is None
        try:
            yield store
        finally:
            kb.drop()
            assert kb.collection_name not in {c.name for c in http_client(chroma_url).list_collections()}
            kb.conn.close()


# --------------------------------------------------------------------------- the CLI end to end


def _env(url: str, data: Path, nonet_log: Path, **more: str) -> dict[str, str]:
    return {"RAGKIT_CHROMA_URL": url, "RAGKIT_DATA_DIR": str(data), "RAGKIT_EMBEDDER": "fake:32",
            "RAGKIT_LANG": "en", "RAGKIT_NONET_LOG": str(nonet_log), **more}


def _ok(done) -> str:  # noqa: ANN001 - CompletedProcess
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def test_cli_end_to_end_keeps_the_vectors_on_the_server(tmp_path: Path, chroma_url: str) -> None:
    data, nonet_log = tmp_path / "data", tmp_path / "nonet.log"
    env = _env(chroma_url, data, nonet_log)
    client = http_client(chroma_url)
    try:
        out = _ok(run_ragkit("ingest", str(CORPUS), env=env))
        assert f"added {len(NAMES)}, updated 0, unchanged 0" in out and "failed 0" in out

        found = json.loads(_ok(run_ragkit("search", "ChatGLM 在多大显存下可以微调", "--json", env=env)))
        assert found["query"] == "ChatGLM 在多大显存下可以微调"
        assert 1 <= len(found["results"]) <= 5
        assert BASICS in [r["source"] for r in found["results"][:5]], found["results"]

        info = json.loads(_ok(run_ragkit("info", "--json", env=env)))
        assert info["chroma"] == chroma_url and info["consistent"] is True
        assert info["documents"] == len(NAMES) and info["embedder"] == "fake:32" and info["dimension"] == 32
        assert info["chunks"] == info["bm25_chunks"] == info["records"] > 250

        again = _ok(run_ragkit("ingest", str(CORPUS), env=env))
        assert f"added 0, updated 0, unchanged {len(NAMES)}, removed 0, failed 0; 0 chunks written" in again

        # the vectors live on the server, not in a local Chroma folder
        assert (data / "ragkit.sqlite").is_file()
        assert not (data / "chroma").exists(), sorted(p.name for p in data.iterdir())
        collection = client.get_collection("ragkit-default", embedding_function=None)
        assert collection.count() == info["chunks"]
        assert collection.metadata["ragkit_embedder"] == "fake:32" and collection.metadata["ragkit_dim"] == 32
        sources = {m["source"] for m in collection.get(include=["metadatas"])["metadatas"]}
        assert sources == set(NAMES)
        # and the CLI never tried to reach anything but loopback
        assert not nonet_log.exists() or nonet_log.read_text() == ""
    finally:
        if "ragkit-default" in {c.name for c in client.list_collections()}:
            client.delete_collection("ragkit-default")


# --------------------------------------------------------------------------- an unreachable server

def _assert_one_line_naming(done, url: str) -> None:  # noqa: ANN001 - CompletedProcess
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert len(lines) == 1 and url in lines[0], done.stderr
    assert "Traceback" not in done.stderr + done.stdout


@pytest.mark.parametrize("args", [
    pytest.param(("ingest", str(CORPUS)), id="ingest"),
    pytest.param(("search", "ChatGLM 显存"), id="search"),
    pytest.param(("info", "--json"), id="info"),
])
def test_unreachable_server_is_one_line_and_status_1(tmp_path: Path, args: tuple[str, ...]) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    data = tmp_path / "data"
    done = run_ragkit(*args, env={"RAGKIT_CHROMA_URL": url, "RAGKIT_DATA_DIR": str(data),
                                  "RAGKIT_EMBEDDER": "fake:32"})
    _assert_one_line_naming(done, url)
    assert not (data / "chroma").exists()


def test_delete_all_with_the_server_down_touches_nothing(tmp_path: Path, chroma_url: str) -> None:
    data, nonet_log = tmp_path / "data", tmp_path / "nonet.log"
    kb = f"down-{uuid.uuid4().hex[:8]}"
    client = http_client(chroma_url)
    try:
        _ok(run_ragkit("ingest", str(CORPUS), "--kb", kb, env=_env(chroma_url, data, nonet_log)))
        down = f"http://127.0.0.1:{free_port()}"
        done = run_ragkit("delete", "--all", "--kb", kb, env=_env(down, data, nonet_log))
        listed = json.loads(_ok(run_ragkit("list", "--json", "--kb", kb, env=_env(chroma_url, data, nonet_log))))
        assert len(listed["documents"]) == len(NAMES)  # the local half was left alone
        _assert_one_line_naming(done, down)
    finally:
        name = f"ragkit-{kb}"
        if name in {c.name for c in client.list_collections()}:
            client.delete_collection(name)
