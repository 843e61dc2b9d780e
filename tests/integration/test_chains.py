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
    result = rag_chain(build.make_retriever(settings, knowledge), model).invoke(
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
    chain = rag_chain(build.make_retriever(settings, knowledge), ScriptedChatModel(responses=["七 G 显存即可。[1]"]))
    chunks = list(chain.stream({"question": "ChatGLM 微调要多少显存？", "history": []}))
    pieces = [c["answer"] for c in chunks if "answer" in c]
    assert len(pieces) > 3 and "".join(pieces) == "七 G 显存即可。[1]"
    assert "citations" in chunks[-1] and "answer" not in chunks[-1]


def test_abstention_cites_nothing(kb):
    settings, knowledge = kb
    model = ScriptedChatModel(responses=[NOT_FOUND["zh"]])
    result = rag_chain(build.make_retriever(settings, knowledge), model).invoke({"question": "ChatGLM 的作者喜欢什么颜色？",
                                                                            "history": []})
    assert result["abstained"] and result["citations"] == []


def test_a_name_no_passage_contains_abstains_without_calling_the_model(kb):
    settings, knowledge = kb
    model = ScriptedChatModel(responses=["编造的答案。[1]"])
    result = rag_chain(build.make_retriever(settings, knowledge), model).invoke({"question": "GPT-5 是哪一天发布的？",
                                                                            "history": []})
    assert result["abstained"] and result["answer"] == NOT_FOUND["zh"] and model.prompts == []


def test_english_question_gets_the_english_prompt_and_abstention(kb):
    settings, knowledge = kb
    model = ScriptedChatModel(responses=[NOT_FOUND["en"]])
    result = rag_chain(build.make_retriever(settings, knowledge), model).invoke(
        {"question": "What is the favourite colour of LangChain's author?", "history": []})
    assert "Question:" in human_prompts(model)[-1] and result["abstained"]


def test_a_generative_abstention_gives_way_to_a_sure_extractive_answer(kb):
    """Small local models abstain on passages that hold the answer; when the extractive answerer is sure, its
    quote answers instead, labelled extractive."""
    settings, knowledge = kb
    model = ScriptedChatModel(responses=[NOT_FOUND["zh"]])
    result = rag_chain(build.make_retriever(settings, knowledge), model).invoke("LangChain 的作者是谁？")
    assert "Harrison Chase" in result["answer"] and result["extractive"] and not result["abstained"]
    assert result["citations"] and "Harrison Chase" in result["citations"][0].quote


def test_an_answer_in_the_other_language_is_asked_again_with_a_reminder(kb):
    settings, knowledge = kb
    model = ScriptedChatModel(responses=["ChatGLM needs about 7 GB of GPU memory for fine tuning. [1]",
                                         "ChatGLM 微调需要 7G 显存。[1]"])
    result = rag_chain(build.make_retriever(settings, knowledge), model).invoke("ChatGLM 微调要多少显存？")
    assert result["answer"] == "ChatGLM 微调需要 7G 显存。[1]"
    assert human_prompts(model)[-1].endswith("请只用中文回答。") and len(model.prompts) == 2


@pytest.mark.parametrize("reply", ["[1] [2][3]", "ChatGLM 在多大显存的条件下可以进行微调。[1]"])
def test_an_answer_that_says_nothing_is_no_answer(kb, reply):
    """Markers only, or the question restated: the sure extractive answer replaces it, else the chain abstains."""
    settings, knowledge = kb
    retriever = build.make_retriever(settings, knowledge)
    result = rag_chain(retriever, ScriptedChatModel(responses=[reply])).invoke(
        "ChatGLM 在多大显存的条件下可以进行微调？")
    assert reply not in result["answer"] and "7G" in result["answer"] and result["extractive"]
    restated = "ChatGLM 的作者喜欢什么颜色。" if reply.startswith("ChatGLM") else reply
    unsure = rag_chain(retriever, ScriptedChatModel(responses=[restated])).invoke("ChatGLM 的作者喜欢什么颜色？")
    assert unsure["answer"] == NOT_FOUND["zh"] and unsure["abstained"] and unsure["citations"] == []


def test_a_restating_opening_is_held_then_streams_once_it_says_something(kb):
    settings, knowledge = kb
    answer = "ChatGLM 在 7G 显存的条件下可以进行微调。[1]"
    chain = rag_chain(build.make_retriever(settings, knowledge), ScriptedChatModel(responses=[answer]))
    pieces = [c["answer"] for c in chain.stream("ChatGLM 在多大显存的条件下可以进行微调？") if "answer" in c]
    assert "".join(pieces) == answer and pieces[0].startswith("ChatGLM 在 7") and len(pieces) > 3
    yes = rag_chain(build.make_retriever(settings, knowledge), ScriptedChatModel(responses=["ChatGLM 能在 7G 显存下微调。"]))
    assert yes.invoke("ChatGLM 能在 7G 显存下微调吗？")["answer"] == "ChatGLM 能在 7G 显存下微调。"  # a yes/no answer


def test_citations_are_recovered_when_a_model_writes_no_markers(kb):
    settings, knowledge = kb
    model = ScriptedChatModel(responses=["ChatGLM 能够在 7G 显存的条件下进行微调。"])
    result = rag_chain(build.make_retriever(settings, knowledge), model).invoke("ChatGLM 微调要多少显存？")
    assert result["citations"] and "7G 显存" in result["citations"][0].passage


def test_memory_across_turns_sends_each_question_once(kb, tmp_path):
    settings, knowledge = kb
    model = ScriptedChatModel(responses=["7G。[1]", "ChatGLM-6B 的标准化问题。", "ChatGLM 有 62 亿参数。[1]"])
    conversation = Conversation(rag_chain(build.make_retriever(settings, knowledge), model),
                                Conversations(knowledge.conn), kb=knowledge.name)
    conversation.invoke({"question": "ChatGLM 在多大显存的条件下可以进行微调？", "session_id": "mem-1"})
    result = conversation.invoke({"question": "它的参数量是多少？", "session_id": "mem-1"})
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
    build.conversation(settings, first).invoke({"question": "通义千问是哪家公司研发的？", "session_id": "restart-1"})
    again = build.open_kb(settings)
    conversation = build.conversation(settings, again)
    result = conversation.invoke({"question": "它是什么时候正式发布的？", "session_id": "restart-1"})
    assert result["rewritten_query"] and "通义千问" in result["rewritten_query"]
    assert "2023 年 4 月" in result["answer"]


def test_history_budget_limits_what_is_sent(kb):
    settings, knowledge = kb
    model = ScriptedChatModel(responses=["ChatGLM 改写。", "回答。[1]"])
    conversation = Conversation(rag_chain(build.make_retriever(settings, knowledge), model),
                                Conversations(knowledge.conn), kb=knowledge.name, max_turns=1)
    for n in range(3):
        conversation.invoke({"question": f"第{n}个关于 ChatGLM 的问题？", "session_id": "budget"})
    sent = [m.text for m in model.prompts[-1]]
    assert any("第1个关于 ChatGLM 的问题？" == t for t in sent)
    assert not any("第0个" in t for t in sent)


def test_extractive_follow_ups_are_expanded_with_the_earlier_names(kb):
    settings, knowledge = kb
    conversation = Conversation(rag_chain(build.make_retriever(settings, knowledge), ExtractiveChatModel()),
                                Conversations(knowledge.conn), kb=knowledge.name)
    conversation.invoke({"question": "LLaMA 系列模型的参数规模范围是多少？", "session_id": "llama"})
    result = conversation.invoke({"question": "它用的是什么激活函数？", "session_id": "llama"})
    assert result["rewritten_query"] == "LLaMA 它用的是什么激活函数？"
    assert "SwiGLU" in result["answer"] and result["extractive"]


def test_expand_query_leaves_self_contained_questions_alone():
    history = [HumanMessage("PaLM 的初始版本是什么时候发布的？")]
    assert expand_query("ChatGLM 的参数量是多少？", history) == "ChatGLM 的参数量是多少？"
    assert expand_query("它的升级版训练语料覆盖了多少种语言？", history).startswith("PaLM ")


def test_a_follow_up_opening_with_a_subject_the_knowledge_base_hardly_knows_stands_alone(kb):
    """"星尘模型的参数量是多少？" after a ChatGLM question is about 星尘 (in no chunk), while "模型的参数量是多少？"
    (a topic word in many chunks) and "参数量是多少？" (no subject) are follow-ups."""
    from ragkit.terms import Vocabulary

    vocabulary = Vocabulary(kb[1].lexical)
    history = [HumanMessage("ChatGLM 在多大显存的条件下可以进行微调？")]
    assert expand_query("星尘模型的参数量是多少？", history, vocabulary) == "星尘模型的参数量是多少？"
    assert expand_query("模型的参数量是多少？", history, vocabulary).startswith("ChatGLM ")
    assert expand_query("参数量是多少？", history, vocabulary).startswith("ChatGLM ")
    assert expand_query("该模型的参数量是多少？", history, vocabulary).startswith("ChatGLM ")


def test_rag_chain_accepts_a_plain_question_and_names_the_expected_shape(kb):
    settings, knowledge = kb
    chain = rag_chain(build.make_retriever(settings, knowledge), ScriptedChatModel(responses=["7G。[1]"]))
    assert chain.invoke("ChatGLM 微调要多少显存？")["answer"] == "7G。[1]"
    for wrong in ({"query": "ChatGLM？"}, 42, {"question": "x", "history": "not a list"}):
        with pytest.raises(TypeError, match=r"expects a question string or \{'question': str"):
            chain.invoke(wrong)


async def test_rag_chain_streams_asynchronously_with_events(kb):
    """astream and astream_events work (they raised "Cannot stream from a generator function asynchronously")."""
    settings, knowledge = kb
    chain = rag_chain(build.make_retriever(settings, knowledge), ScriptedChatModel(responses=["七 G 显存即可。[1]"]))
    chunks = [c async for c in chain.astream({"question": "ChatGLM 微调要多少显存？", "history": []})]
    assert "".join(c.get("answer", "") for c in chunks) == "七 G 显存即可。[1]"
    assert chunks[-1]["citations"][0].n == 1
    events = [e async for e in chain.astream_events("ChatGLM 微调要多少显存？", version="v2")]
    kinds = {e["event"] for e in events}
    assert {"on_retriever_end", "on_chat_model_stream", "on_chain_stream"} <= kinds
    streamed = "".join(e["data"]["chunk"].text for e in events if e["event"] == "on_chat_model_stream")
    assert streamed == "七 G 显存即可。[1]"


async def test_conversation_is_a_runnable_with_sessions_in_input_or_config(kb):
    settings, knowledge = kb
    model = ScriptedChatModel(responses=["回答一。[1]", "ChatGLM 改写。", "回答二。[1]"])
    conversation = Conversation(rag_chain(build.make_retriever(settings, knowledge), model),
                                Conversations(knowledge.conn), kb=knowledge.name)
    first = await conversation.ainvoke({"question": "ChatGLM 的参数量是多少？", "session_id": "runnable-1"})
    second = await conversation.ainvoke({"question": "它能在多大显存下微调？"},
                                        config={"configurable": {"session_id": "runnable-1"}})
    assert first["answer"] == "回答一。[1]" and second["rewritten_query"] == "ChatGLM 改写。"
    assert second["answer"] == "回答二。[1]"
    assert len(Conversations(knowledge.conn).history("runnable-1").messages) == 4
    pieces = [c["answer"] async for c in conversation.astream({"question": "ChatGLM 是什么？", "session_id": "runnable-2"})
              if "answer" in c]
    assert len(pieces) > 1
    # a stateless client sends its own history: the follow-up is rewritten, nothing is stored
    stateless = conversation.invoke({"question": "它能在多大显存下微调？",
                                     "history": [HumanMessage("ChatGLM 的参数量是多少？")]})
    assert stateless["rewritten_query"] and Conversations(knowledge.conn).history("").messages == []
    batch = conversation.batch(["ChatGLM 的参数量是多少？", "LLaMA 用了什么归一化？"])
    assert len(batch) == 2 and all(r["answer"] for r in batch)
    with pytest.raises(TypeError, match="Conversation expects"):
        conversation.invoke({"session_id": "s"})


def test_an_extractive_follow_up_is_answered_against_the_standalone_question(kb):
    """The answer step scores the same standalone question that retrieval used (it scored the bare follow-up
    and answered "它的参数规模是多少？" with a generic sentence about parameter scale)."""
    settings, knowledge = kb
    conversation = build.conversation(settings, knowledge)
    conversation.invoke({"question": "LLaMA 使用了什么归一化方法？", "session_id": "standalone"})
    result = conversation.invoke({"question": "它的参数规模是多少？", "session_id": "standalone"})
    assert result["rewritten_query"].startswith("LLaMA")
    assert "7B" in result["answer"] and ("65B" in result["answer"] or "70B" in result["answer"])


@pytest.mark.parametrize("kind", ["md", "html", "docx"])
def test_a_table_cell_is_answered_from_markdown_html_and_word_alike(tmp_path, kind):
    from tests.support.files import make_docx

    rows = [("模型", "参数量"), ("GPT-3", "175B"), ("LLaMA", "65B")]
    path = tmp_path / f"models.{kind}"
    if kind == "md":
        path.write_text("# 大模型手册\n\n| 模型 | 参数量 |\n| --- | --- |\n| GPT-3 | 175B |\n| LLaMA | 65B |\n", encoding="utf-8")
    elif kind == "html":
        cells = "".join(f"<tr><td>{a}</td><td>{b}</td></tr>" for a, b in rows)
        path.write_text(f"<html><body><h1>大模型手册</h1><table>{cells}</table></body></html>", encoding="utf-8")
    else:
        make_docx(path)
    settings = Settings(data_dir=tmp_path / "data", embedder="fake:32")
    knowledge = build.open_kb(settings)
    assert ingest(knowledge, [path], split=build.split_options(settings)).ok
    result = build.conversation(settings, knowledge).invoke("LLaMA 的参数量是多少？")
    assert result["answer"].startswith("LLaMA 的参数量：65B") and result["citations"][0].source == path.name
