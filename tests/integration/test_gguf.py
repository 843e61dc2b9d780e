"""``gguf:`` with a real instruct model, offline: Qwen2.5-Coder-0.5B-Instruct (Q4_K_M) through llama.cpp.

The model is assembled from its part packages (see tests/support/models.py). It answers Chinese questions from
context, writes its tool calls as JSON in fenced blocks (which the provider turns into real tool calls, and the
agent runs), and takes LangChain's standard chat model suites, tool calling and structured output included.
"""

from __future__ import annotations

import time

import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage, SystemMessage
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests

from ragkit import build
from ragkit.chains import rag_chain
from ragkit.config import Settings
from ragkit.errors import ConfigError, ProviderError
from ragkit.ingest import ingest
from ragkit.providers import ProviderOptions, make_chat_model
from ragkit.providers.gguf import GGUFChatModel
from tests.support.models import qwen_gguf

MODEL = qwen_gguf()
DOC = ("# ChatGLM\n\nChatGLM-6B 是清华大学 KEG 实验室和智谱 AI 发布的开源对话模型。"
       "在 INT4 量化下，ChatGLM-6B 可以在 7G 显存的条件下进行微调。\n")


class _Qwen:
    @property
    def chat_model_class(self) -> type[GGUFChatModel]:
        return GGUFChatModel

    @property
    def chat_model_params(self) -> dict:
        return {"model": str(MODEL), "n_ctx": 4096, "temperature": 0.0}

    @property
    def model_override_value(self) -> str:
        return str(MODEL)


class TestGGUFChatModelUnit(_Qwen, ChatModelUnitTests):
    pass


class TestGGUFChatModelIntegration(_Qwen, ChatModelIntegrationTests):
    pass


def test_the_registry_builds_a_gguf_model_that_answers_in_chinese():
    model = make_chat_model(f"gguf:{MODEL}", ProviderOptions(), temperature=0.0)
    assert isinstance(model, GGUFChatModel)
    reply = model.invoke([SystemMessage("你是一个助手，用中文简短回答。"), HumanMessage("中国的首都是哪座城市？")])
    assert "北京" in reply.text
    assert reply.usage_metadata["input_tokens"] > 10 and reply.usage_metadata["output_tokens"] > 0
    assert reply.response_metadata["model_name"] == str(MODEL.resolve())


def test_the_same_prompt_gives_the_same_answer_at_temperature_zero():
    model = GGUFChatModel(model=str(MODEL), max_tokens=32, temperature=0.0)
    first = model.invoke("用一句话介绍大语言模型。").text
    model.invoke("用一句话介绍一下向量数据库。")  # shares a prefix with the first prompt
    assert model.invoke("用一句话介绍大语言模型。").text == first


def test_a_call_can_name_another_gguf_file(tmp_path):
    other = tmp_path / "other.gguf"
    other.symlink_to(MODEL)
    model = GGUFChatModel(model=str(MODEL), max_tokens=4)
    assert model.invoke("你好", model=str(other)).response_metadata["model_name"] == str(other)
    assert model.invoke("你好").response_metadata["model_name"] == str(MODEL)


def test_a_missing_or_unreadable_gguf_file_is_named_in_one_line(tmp_path):
    with pytest.raises(ConfigError, match="no GGUF file at '/nowhere/q.gguf'"):
        make_chat_model("gguf:/nowhere/q.gguf", ProviderOptions())
    fake = tmp_path / "notes.gguf"
    fake.write_text("not a model", encoding="utf-8")
    with pytest.raises(ConfigError, match="notes.gguf is not a GGUF model file llama.cpp can load"):
        make_chat_model(f"gguf:{fake}", ProviderOptions()).invoke("你好")


def test_a_prompt_longer_than_the_context_fails_with_a_clear_message():
    model = GGUFChatModel(model=str(MODEL), n_ctx=512, max_tokens=8)
    with pytest.raises(ProviderError, match="exceeds the available context size"):
        model.invoke("大语言模型" * 400)
    with pytest.raises(ProviderError, match="exceeds the available context size"):
        list(model.stream("大语言模型" * 400))


def test_streaming_yields_tokens_that_add_up_to_the_answer():
    model = GGUFChatModel(model=str(MODEL), max_tokens=32, temperature=0.0)
    prompt = [HumanMessage("用中文从一数到五。")]
    chunks = list(model.stream(prompt))
    assert len([c for c in chunks if c.text]) > 3  # token by token, not one block
    whole = sum(chunks[1:], chunks[0])
    assert isinstance(whole, AIMessageChunk)
    answer = model.invoke(prompt)
    assert whole.text == answer.text  # greedy: the same text either way
    assert whole.usage_metadata == answer.usage_metadata


def test_a_stream_closed_early_stops_the_generation():
    model = GGUFChatModel(model=str(MODEL), max_tokens=400, temperature=0.0)
    stream = model.stream("写一篇关于长城的长文章。")
    next(stream), next(stream)
    start = time.perf_counter()
    stream.close()  # llama.cpp stops at its next token
    assert time.perf_counter() - start < 5
    assert model.invoke("你好", max_tokens=4).text  # the engine is free for the next request


def test_a_gguf_model_answers_a_chinese_question_through_the_rag_chain(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", embedder="fake:64", llm=f"gguf:{MODEL}", temperature=0.0)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "chatglm.md").write_text(DOC, encoding="utf-8")
    kb = build.open_kb(settings)
    ingest(kb, [docs], split=build.split_options(settings))
    result = rag_chain(build.make_retriever(settings, kb), build.llm(settings, kb)).invoke(
        {"question": "ChatGLM-6B 在多大显存的条件下可以进行微调？", "history": []})
    assert "7G" in result["answer"] and not result["abstained"]
    assert result["docs"][0].metadata["source"] == "chatglm.md"


def test_the_agent_runs_the_tool_call_the_model_writes_as_json(tmp_path):
    """The model writes its call in a fenced JSON block; the provider makes it a tool call and the agent runs
    it. (With the agent's Chinese prompt this small model mostly answers without searching: benchmarks/agent.py.)"""
    settings = Settings(data_dir=tmp_path / "data", embedder="fake:64", llm=f"gguf:{MODEL}", temperature=0.0,
                        agent_max_steps=2)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "chatglm.md").write_text(DOC, encoding="utf-8")
    kb = build.open_kb(settings)
    ingest(kb, [docs], split=build.split_options(settings))
    model = GGUFChatModel(model=str(MODEL), temperature=0.0, max_tokens=64)  # one call is about 30 tokens
    result = build.agent(settings, kb, model=model).invoke({"question": "Search the knowledge base for ChatGLM-6B.",
                                                            "session_id": "gguf-agent"})
    calls = [s for s in result["steps"] if s.kind == "call"]
    assert calls[0].tool == "search_knowledge_base" and "ChatGLM-6B" in calls[0].args["query"]
    assert any(s.kind == "result" and s.tool == "search_knowledge_base" and not s.error for s in result["steps"])
