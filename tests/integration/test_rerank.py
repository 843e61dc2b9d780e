"""The reranking stage: every reranker provider on a real model or a real server, the retriever stage over the
LLM corpus (with LangChain's standard retriever suite), the composition root and ``ragkit eval --compare``."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_tests.integration_tests import RetrieversIntegrationTests
from pydantic import SecretStr

from ragkit import build
from ragkit.config import Settings
from ragkit.errors import ConfigError, ProviderError
from ragkit.ingest import ingest
from ragkit.providers import ProviderOptions, make_chat_model, make_reranker
from ragkit.providers.fake import ScriptedChatModel
from ragkit.providers.http import APIReranker
from ragkit.reranking import RerankingRetriever
from ragkit.retrieval import HybridRetriever
from tests.conftest import CORPUS, run_ragkit
from tests.support.kb import open_kb
from tests.support.rerankers import DASHSCOPE_PATH, RerankServer, tiny_cross_encoder

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

QUERY = "ChatGLM 微调需要多少显存？"
PASSAGES = ["LLaMA 使用 RMSNorm 归一化。", "ChatGLM 能在 7G 显存下微调。", "GPT-4 支持 128k 上下文。",
            "Claude 3 系列有 Haiku、Sonnet 和 Opus。", "通义千问是阿里云研发的大模型。"]


@pytest.fixture(scope="module")
def cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_cross_encoder(tmp_path_factory.mktemp("tiny-cross-encoder"))


@pytest.fixture(scope="module")
def predict(cross_encoder: Path) -> Callable[[str, list[str]], list[float]]:
    """The CrossEncoder's own scores, computed outside ragkit: what every path must reproduce."""
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(str(cross_encoder), device="cpu", local_files_only=True)
    return lambda query, texts: [float(s) for s in model.predict([(query, t) for t in texts])]


@pytest.fixture
def server(predict) -> Iterator[RerankServer]:
    api = RerankServer(score=predict).start()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The LLM corpus ingested once (fake embeddings), as a data directory."""
    data = tmp_path_factory.mktemp("rerank-corpus") / "data"
    kb = open_kb(data, embedder="fake:64")
    assert ingest(kb, [CORPUS]).ok
    kb.conn.close()
    yield data


def _docs() -> list[Document]:
    return [Document(text, id=f"c{i}", metadata={"source": f"{i}.md", "score": 1 - i / 10})
            for i, text in enumerate(PASSAGES)]


def _expected(predict, query: str = QUERY) -> list[str]:
    scores = predict(query, PASSAGES)
    return [PASSAGES[i] for i in sorted(range(len(PASSAGES)), key=lambda i: -scores[i])]


def test_st_reranks_by_the_cross_encoder_scores(cross_encoder, predict):
    reranker = make_reranker(f"st:{cross_encoder}")
    docs = reranker.compress_documents(_docs(), QUERY)
    assert [d.page_content for d in docs] == _expected(predict)
    scores = predict(QUERY, PASSAGES)
    for doc in docs:  # the passage keeps its id and metadata and gains its score
        i = PASSAGES.index(doc.page_content)
        assert doc.id == f"c{i}" and doc.metadata["source"] == f"{i}.md"
        assert doc.metadata["rerank_score"] == pytest.approx(scores[i], abs=1e-5)
    assert [d.page_content for d in reranker.rerank(_docs(), QUERY, top_n=2)] == _expected(predict)[:2]


async def test_st_reranks_asynchronously_too(cross_encoder, predict):
    docs = await make_reranker(f"st:{cross_encoder}").acompress_documents(_docs(), QUERY)
    assert [d.page_content for d in docs] == _expected(predict)


def test_st_needs_a_local_cross_encoder_directory(tmp_path):
    with pytest.raises(ConfigError, match="no CrossEncoder directory at '/nowhere/ce'"):
        make_reranker("st:/nowhere/ce")


@pytest.mark.parametrize("spec, path, field", [("http:{url}/v1/rerank#tiny-reranker", "/v1/rerank", "documents"),
                                               ("tei:{url}/rerank", "/rerank", "texts")])
def test_http_apis_rerank_like_the_model_they_serve(server, predict, spec, path, field):
    options = ProviderOptions(rerank_api_key=SecretStr("rk-test"))
    reranker = make_reranker(spec.format(url=server.base_url), options)
    assert [d.page_content for d in reranker.compress_documents(_docs(), QUERY)] == _expected(predict)
    sent_path, body, headers = server.requests[-1]
    assert sent_path == path and body["query"] == QUERY and body[field] == PASSAGES
    assert headers["Authorization"] == "Bearer rk-test"
    if field == "documents":  # the Jina / Cohere shape names the model (from the URL fragment) and top_n
        assert body["model"] == "tiny-reranker" and body["top_n"] == len(PASSAGES)


def test_dashscope_reranks_through_its_native_api_on_the_configured_host(server, predict):
    server.require_key = "ds-key"
    options = ProviderOptions(dashscope_api_key=SecretStr("ds-key"),
                              dashscope_base_url=server.base_url + "/compatible-mode/v1")
    docs = make_reranker("dashscope:gte-rerank-v2", options).compress_documents(_docs(), QUERY)
    assert [d.page_content for d in docs] == _expected(predict)
    path, body, _ = server.requests[-1]
    assert path == DASHSCOPE_PATH and body["model"] == "gte-rerank-v2"
    assert body["input"] == {"query": QUERY, "documents": PASSAGES}
    with pytest.raises(ConfigError, match="DASHSCOPE_API_KEY"):
        make_reranker("dashscope:gte-rerank-v2", ProviderOptions())


def test_passages_a_service_leaves_out_come_last_in_their_order(server, predict):
    server.script = ["top1"]
    docs = make_reranker(f"http:{server.base_url}/v1/rerank").compress_documents(_docs(), QUERY)
    best = _expected(predict)[0]
    assert [d.page_content for d in docs] == [best] + [p for p in PASSAGES if p != best]


def test_a_failing_service_is_retried_then_named_in_one_line(server, predict):
    reranker = make_reranker(f"http:{server.base_url}/v1/rerank", ProviderOptions(max_retries=1))
    server.script = ["500"]
    assert [d.page_content for d in reranker.compress_documents(_docs(), QUERY)] == _expected(predict)
    server.script = ["500", "500"]
    with pytest.raises(ProviderError, match=r"the reranker http \(http://127.0.0.1:\d+/v1/rerank\) failed: HTTP 500"):
        reranker.compress_documents(_docs(), QUERY)
    server.script = ["401"]
    with pytest.raises(ProviderError, match="HTTP 401"):
        reranker.compress_documents(_docs(), QUERY)
    assert len(server.requests) == 5  # 401 is not retried
    server.script = ["malformed"]
    with pytest.raises(ProviderError, match="not JSON"):
        reranker.compress_documents(_docs(), QUERY)


def test_an_unreachable_service_is_named_after_the_retries():
    reranker = make_reranker("http:http://127.0.0.1:9/v1/rerank", ProviderOptions(max_retries=1, timeout=2))
    with pytest.raises(ProviderError, match="ConnectError, still after 1 retries"):
        reranker.compress_documents(_docs(), QUERY)
    with pytest.raises(ConfigError, match="is not an http"):
        make_reranker("tei:127.0.0.1:8080/rerank")


def test_the_llm_reranker_follows_the_models_ranking():
    llm = ScriptedChatModel(responses=["2, 5"])
    docs = make_reranker("llm", llm=llm).compress_documents(_docs(), QUERY)
    assert [d.page_content for d in docs] == [PASSAGES[i] for i in (1, 4, 0, 2, 3)]
    prompt = llm.prompts[0][-1].content
    assert QUERY in prompt and "[5] 通义千问是阿里云研发的大模型。" in prompt


@pytest.mark.parametrize("reply", ["我不知道。", "", "ChatGLM 需要 7G 显存。", "0, 99"])
def test_a_reply_without_a_usable_ranking_keeps_the_fused_order(reply):
    docs = make_reranker("llm", llm=ScriptedChatModel(responses=[reply])).compress_documents(_docs(), QUERY)
    assert [d.page_content for d in docs] == PASSAGES


def test_the_llm_reranker_needs_a_generative_model():
    with pytest.raises(ConfigError, match="needs a generative LLM"):
        make_reranker("llm", llm=make_chat_model("extractive"))
    with pytest.raises(ConfigError, match="needs a generative LLM"):
        make_reranker("llm")


def test_unknown_reranker_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="unknown reranker provider 'cohere'.*st, http, tei, dashscope, llm"):
        make_reranker("cohere:rerank-v3.5")


def test_the_composition_root_wires_the_reranker_after_fusion(corpus, cross_encoder, predict):
    settings = Settings(data_dir=corpus, embedder="fake:64", top_k=3, rerank_candidates=8)
    kb = build.open_kb(settings)
    assert isinstance(build.make_retriever(settings, kb), HybridRetriever)  # off by default
    fused = build.make_retriever(settings, kb, k=8).invoke(QUERY)
    retriever = build.make_retriever(settings.model_copy(update={"reranker": f"st:{cross_encoder}"}), kb)
    assert isinstance(retriever, RerankingRetriever)
    docs = retriever.invoke(QUERY)
    scores = predict(QUERY, [d.page_content for d in fused])
    best = sorted(range(len(fused)), key=lambda i: -scores[i])[:3]
    assert [d.id for d in docs] == [fused[i].id for i in best]  # the 3 best of the 8 fused, by the model
    assert all("rerank_score" in d.metadata and "bm25_rank" in d.metadata for d in docs)
    within = retriever.invoke(QUERY, k=2, sources=["llm-tracking.md"])  # per-call k and sources go through
    assert len(within) == 2 and {d.metadata["source"] for d in within} == {"llm-tracking.md"}
    assert Settings(reranker="none").reranker is None and Settings(reranker=" ").reranker is None


class TestRerankingRetriever(RetrieversIntegrationTests):
    store: Any = None
    reranker: Any = None

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def _stage(cls, corpus: Path, cross_encoder: Path) -> None:
        with pytest.MonkeyPatch.context() as mp:
            for name in list(os.environ):
                if name.startswith("RAGKIT_"):
                    mp.delenv(name)
            cls.store = build.open_kb(Settings(data_dir=corpus, embedder="fake:64")).store()
        cls.reranker = make_reranker(f"st:{cross_encoder}")

    @property
    def retriever_constructor(self) -> type[RerankingRetriever]:
        return RerankingRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"retriever": HybridRetriever(store=self.store), "reranker": self.reranker, "k": 4, "candidates": 10}

    @property
    def retriever_query_example(self) -> str:
        return QUERY


def test_eval_compares_with_and_without_a_reranker(corpus, cross_encoder, tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in [
        {"kind": "single", "lang": "zh", "question": "ChatGLM 在多大显存的条件下可以进行微调？",
         "evidence": "7G 显存", "answer_keywords": ["7G"]},
        {"kind": "single", "lang": "zh", "question": "LangChain 的作者是谁？", "evidence": "Harrison Chase",
         "answer_keywords": ["Harrison Chase"]},
    ]) + "\n", encoding="utf-8")
    done = run_ragkit("eval", str(questions), "--retrieval-only", "--compare", "reranker=none",
                      "--compare", f"reranker=st:{cross_encoder},rerank_candidates=10", "--out", str(tmp_path / "out"),
                      env={"RAGKIT_DATA_DIR": str(corpus), "RAGKIT_EMBEDDER": "fake:64"})
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))["summary"]
    assert {row["config"] for row in summary} == {"reranker=none", f"reranker=st:{cross_encoder},rerank_candidates=10"}


def test_a_reranker_without_its_model_is_one_line_from_the_cli(corpus):
    done = run_ragkit("search", "ChatGLM", env={"RAGKIT_DATA_DIR": str(corpus), "RAGKIT_EMBEDDER": "fake:64",
                                                 "RAGKIT_RERANKER": "st:/nowhere/ce"})
    assert done.returncode == 2 and "no CrossEncoder directory at '/nowhere/ce'" in done.stderr
    assert "Traceback" not in done.stderr
