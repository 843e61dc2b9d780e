"""The RAG chain and conversation memory, with scripted models standing in for remote LLMs."""

from __future__ import annotations

import re

import pytest
from langchain_core.messages import HumanMessage

from ragkit import build
from ragkit.chains import Conversation, expand_query, rag_chain
from ragkit.config import Settings
from ragkit.ingest import ingest
from ragkit.memory import Conversations
from ragkit.prompts import NOT_FOUND
from ragkit.providers.extractive import ExtractiveChatModel
from ragkit.providers.fake import ScriptedChatModel
from tests.conftest import CORPUS


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("chains"), embedder="fake:64")
    knowledge = build.open_kb(settings)
    ingest(knowledge, [CORPUS], split=build.split_options(settings))
    return settings, knowledge


def human_prompts(model: ScriptedChatModel) -> list[str]:
    return [m.text for prompt in model.prompts for m in prompt if isinstance(m, HumanMessage)]


def test_citations_map_to_the_retrieved_chunks(kb):
    settings, knowledge = kb
    model = ScriptedChatModel(responses=["第一句来自第二段。[2] 第二句来自第一段。[1][2] 无效编号。[9]"])
    result = rag_chain(build.retriever(settings, knowledge), model).invoke(
        {"question": "ChatGLM 在多大显存的条件下可以进行微调？", "history": []})
    docs = result["docs"]
    assert [c.n for c in result["citations"]] == [2, 1]  # in order of first use; [9] does not exist
    for citation in result["citations"]:
        doc = docs[citation.n - 1]
        assert (citation.chunk_id, citation.source, citation.heading) == (doc.id, doc.metadata["source"],
                                                                           doc.metadata["heading"])
        assert citation.quote[:8] in re.sub(r"[*`]", "", doc.page_content)  # a sentence of that passage
    prompt = human_prompts(model)[-1]
    assert "[1] (" in prompt and "ChatGLM 在多大显存的条件下可以进行微调？" in prompt
    assert set(result["timings"]) == {"rewrite_ms", "retrieve_ms", "first_token_ms", "answer_ms", "total_ms"}


def test_streaming_yields_pieces_then_the_structured_result(kb):
    settings, knowledge = kb
    chain = rag_chain(build.retriever(settings, knowledge), ScriptedChatModel(responses=["七 G 显存即可。[1]"]))
    chunks = list(chain.stream({"question": "ChatGLM 微调要多少显存？", "history": []}))
    pieces = [c["answer"] for c in chunks if "answer" in c]
    assert len(pieces) > 3 and "".join(pieces) == "七 G 显存即可。[1]"
    assert "citations" in chunks[-1] and "answer" not in chunks[-1]


def test_abstention_cites_nothing(kb):
    settings, knowledge = kb
    model = ScriptedChatModel(responses=[NOT_FOUND["zh"]])
    result = rag_chain(build.retriever(settings, knowledge), model).invoke({"question": "ChatGLM 的作者喜欢什么颜色？",
                                                                            "history": []})
    assert result["abstained"] and result["citations"] == []


def test_a_name_no_passage_contains_abstains_without_calling_the_model(kb):
    settings, knowledge = kb
    model = ScriptedChatModel(responses=["编造的答案。[1]"])
    result = rag_chain(build.retriever(settings, knowledge), model).invoke({"question": "GPT-5 是哪一天发布的？",
                                                                            "history": []})
    assert result["abstained"] and result["answer"] == NOT_FOUND["zh"] and model.prompts == []


def test_english_question_gets_the_english_prompt_and_abstention(kb):
    settings, knowledge = kb
    model = ScriptedChatModel(responses=[NOT_FOUND["en"]])
    result = rag_chain(build.retriever(settings, knowledge), model).invoke(
        {"question": "Who is the author of LangChain?", "history": []})
    assert "Question:" in human_prompts(model)[-1] and result["abstained"]


def test_memory_across_turns_sends_each_question_once(kb, tmp_path):
    settings, knowledge = kb
    model = ScriptedChatModel(responses=["7G。[1]", "ChatGLM-6B 的标准化问题。", "ChatGLM 有 62 亿参数。[1]"])
    conversation = Conversation(rag_chain(build.retriever(settings, knowledge), model),
                                Conversations(knowledge.conn), kb=knowledge.name)
    conversation.invoke("ChatGLM 在多大显存的条件下可以进行微调？", "mem-1")
    result = conversation.invoke("它的参数量是多少？", "mem-1")
    # the generative model rewrote the follow-up first, then answered it
    assert result["rewritten_query"] == "ChatGLM-6B 的标准化问题。"
    answer_prompt = model.prompts[-1]
    texts = [m.text for m in answer_prompt]
    assert sum("它的参数量是多少？" in t for t in texts) == 1  # the current question, once
    assert any("ChatGLM 在多大显存的条件下可以进行微调？" == t for t in texts)  # the earlier turn, from memory
    stored = Conversations(knowledge.conn).history("mem-1").messages
    assert [m.type for m in stored] == ["human", "ai", "human", "ai"]
    assert stored[-1].additional_kwargs["rewritten_query"] == "ChatGLM-6B 的标准化问题。"


def test_memory_survives_a_process_restart(kb, tmp_path):
    """A new connection to the same SQLite file (what a new process sees) continues the session."""
    settings, _ = kb
    first = build.open_kb(settings)
    build.conversation(settings, first).invoke("通义千问是哪家公司研发的？", "restart-1")
    again = build.open_kb(settings)
    conversation = build.conversation(settings, again)
    result = conversation.invoke("它是什么时候正式发布的？", "restart-1")
    assert result["rewritten_query"] and "通义千问" in result["rewritten_query"]
    assert "2023 年 4 月" in result["answer"]


def test_history_budget_limits_what_is_sent(kb):
    settings, knowledge = kb
    model = ScriptedChatModel(responses=["ChatGLM 改写。", "回答。[1]"])
    conversation = Conversation(rag_chain(build.retriever(settings, knowledge), model),
                                Conversations(knowledge.conn), kb=knowledge.name, max_turns=1)
    for n in range(3):
        conversation.invoke(f"第{n}个关于 ChatGLM 的问题？", "budget")
    sent = [m.text for m in model.prompts[-1]]
    assert any("第1个关于 ChatGLM 的问题？" == t for t in sent)
    assert not any("第0个" in t for t in sent)


def test_extractive_follow_ups_are_expanded_with_the_earlier_names(kb):
    settings, knowledge = kb
    conversation = Conversation(rag_chain(build.retriever(settings, knowledge), ExtractiveChatModel()),
                                Conversations(knowledge.conn), kb=knowledge.name)
    conversation.invoke("LLaMA 系列模型的参数规模范围是多少？", "llama")
    result = conversation.invoke("它用的是什么激活函数？", "llama")
    assert result["rewritten_query"] == "LLaMA 它用的是什么激活函数？"
    assert "SwiGLU" in result["answer"] and result["extractive"]


def test_expand_query_leaves_self_contained_questions_alone():
    history = [HumanMessage("PaLM 的初始版本是什么时候发布的？")]
    assert expand_query("ChatGLM 的参数量是多少？", history) == "ChatGLM 的参数量是多少？"
    assert expand_query("它的升级版训练语料覆盖了多少种语言？", history).startswith("PaLM ")
