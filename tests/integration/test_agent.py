"""The agent loop with scripted tool-calling models (they stand in for remote LLMs)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from ragkit import build
from ragkit.cli import cli
from ragkit.config import Settings
from ragkit.ingest import ingest
from ragkit.providers.fake import ScriptedToolChatModel
from ragkit.prompts import ANSWER_NOW, NO_AGENT_ANSWER
from ragkit.tools import PassageLedger, SearchArgs, calculate, knowledge_base_tools
from tests.conftest import CORPUS


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("agent"), embedder="fake:64", agent_max_steps=4)
    kb = build.open_kb(settings)
    ingest(kb, [CORPUS], split=build.split_options(settings))
    return settings, kb


def call(name: str, n: int, **args) -> AIMessage:
    return AIMessage("", tool_calls=[{"name": name, "args": args, "id": f"call-{name}-{n}"}])


def run(agent, question: str, thread: str) -> dict:
    result: dict = {"steps": []}
    for chunk in agent.stream({"question": question, "session_id": thread}):
        for key, value in chunk.items():
            result[key] = result.get(key, "") + value if key in ("answer", "steps") else value
    return result


def test_search_read_calculate_then_answer_with_citations(setup):
    settings, kb = setup
    model = ScriptedToolChatModel(messages=[
        call("search_knowledge_base", 1, query="GPT-4 参数 1.8 万亿", k=3),
        call("read_section", 2, source="llm-and-langchain-basics.md", heading="2. GLM 系列"),
        call("calculator", 3, expression="1.8万亿 / 1750亿"),
        AIMessage("据猜测 GPT-4 共有约 1.8 万亿参数 [1]，约为 GPT-3 的 10.3 倍。GLM 一节的内容见 [4]。"),
    ])
    agent = build.agent(settings, kb, model=model)
    result = run(agent, "GPT-4 比 GPT-3 大多少倍？", "multi-step")
    calls = [s for s in result["steps"] if s.kind == "call"]
    results = [s for s in result["steps"] if s.kind == "result"]
    assert [s.tool for s in calls] == ["search_knowledge_base", "read_section", "calculator"]
    assert results[0].content.startswith("[1] (") and "[3] (" in results[0].content  # numbered passages
    assert results[1].content.startswith("[4] (llm-and-langchain-basics.md › ") and "7G 显存" in results[1].content
    assert results[2].content == "10.2857" and not any(s.error for s in results)
    assert result["answer"].startswith("据猜测 GPT-4") and not result["stopped"]
    cited = {c.n: c for c in result["citations"]}
    assert set(cited) == {1, 4}
    assert cited[4].heading.endswith("2. GLM 系列") and cited[4].source == "llm-and-langchain-basics.md"
    assert cited[1].chunk_id and cited[1].chunk_id in kb.lexical.ids()
    # what the model saw in its last call: its own tool calls and every tool result
    seen = model.prompts[-1]
    assert [type(m).__name__ for m in seen[1:]] == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage",
                                                    "ToolMessage", "AIMessage", "ToolMessage"]


def test_a_tool_error_goes_back_to_the_model_which_recovers(setup):
    settings, kb = setup
    model = ScriptedToolChatModel(messages=[
        call("read_section", 1, source="no-such-file.md", heading="x"),
        call("calculator", 2, expression="__import__('os').system('echo hi')"),
        call("search_knowledge_base", 3, query="LangChain 作者"),
        AIMessage("LangChain 的作者是 Harrison Chase [1]。"),
    ])
    result = run(build.agent(settings, kb, model=model), "LangChain 的作者是谁？", "errors")
    errors = [s for s in result["steps"] if s.kind == "result" and s.error]
    assert len(errors) == 2 and "no document 'no-such-file.md'" in errors[0].content
    assert "only numbers" in errors[1].content  # never evaluated
    assert result["answer"] == "LangChain 的作者是 Harrison Chase [1]。"
    tool_messages = [m for m in model.prompts[-1] if isinstance(m, ToolMessage)]
    assert tool_messages[0].status == "error"


def test_the_step_limit_ends_the_run_and_the_rag_chain_answers(setup):
    settings, kb = setup
    model = ScriptedToolChatModel(messages=[*(call("calculator", n, expression=f"{n} + 1") for n in range(4)),
                                            AIMessage("LangChain 的作者是 Harrison Chase [1]。")])
    result = run(build.agent(settings, kb, model=model), "LangChain 的作者是谁？", "limit")
    assert result["stopped"] and result["notice"] == NO_AGENT_ANSWER["limit"]["zh"]
    assert len([s for s in result["steps"] if s.kind == "call"]) == settings.agent_max_steps
    assert result["answer"] == "LangChain 的作者是 Harrison Chase [1]。"  # the RAG chain's call (the fifth)
    assert len(model.prompts) == settings.agent_max_steps + 1 and result["citations"]
    remembered = build.conversations(kb).history("limit", kb=kb.name).messages[-1].additional_kwargs
    assert remembered["notice"] == NO_AGENT_ANSWER["limit"]["zh"] and remembered["stopped"]
    assert [s["tool"] for s in remembered["steps"] if s["kind"] == "call"] == ["calculator"] * 4


def test_a_repeated_call_is_not_run_again_the_model_answers_from_what_was_found(setup):
    settings, kb = setup
    search = {"query": "LangChain 作者", "k": 3}
    model = ScriptedToolChatModel(messages=[
        call("search_knowledge_base", 1, **search), call("search_knowledge_base", 2, **search, source=None),
        AIMessage("LangChain 的作者是 Harrison Chase [1]。")])
    result = run(build.agent(settings, kb, model=model), "LangChain 的作者是谁？", "repeat")
    assert [s.kind for s in result["steps"]] == ["call", "result"]  # the repeated call never ran
    assert result["answer"] == "LangChain 的作者是 Harrison Chase [1]。" and "notice" not in result
    assert not result["stopped"] and result["citations"][0].n == 1
    assert model.offered[1] and model.offered[2] == []  # asked again without tools...
    assert model.prompts[2][0].text.endswith(ANSWER_NOW["zh"])  # ...to answer now
    assert [type(m).__name__ for m in model.prompts[2][1:]] == ["HumanMessage", "AIMessage", "ToolMessage"]


def test_a_model_that_keeps_calling_gets_the_rag_chains_answer(setup):
    settings, kb = setup
    again = call("search_knowledge_base", 1, query="LangChain 作者")
    model = ScriptedToolChatModel(messages=[again, again, again, AIMessage("LangChain 的作者是 Harrison Chase [1]。")])
    result = run(build.agent(settings, kb, model=model), "LangChain 的作者是谁？", "keeps-calling")
    assert result["notice"] == NO_AGENT_ANSWER["empty"]["zh"] and not result["stopped"]
    assert result["answer"] == "LangChain 的作者是 Harrison Chase [1]。" and result["citations"]


def test_an_answer_that_pastes_a_tool_result_is_no_answer(setup):
    settings, kb = setup
    tools = {t.name: t for t in knowledge_base_tools(kb, build.make_retriever(settings, kb),
                                                     PassageLedger(kb.conn, "probe"))}
    pasted = tools["search_knowledge_base"].invoke({"query": "LangChain 作者", "k": 2})
    assert pasted.startswith("[1] (")
    model = ScriptedToolChatModel(messages=[call("search_knowledge_base", 1, query="LangChain 作者", k=2),
                                            AIMessage(pasted), AIMessage("LangChain 的作者是 Harrison Chase [1]。")])
    result = run(build.agent(settings, kb, model=model), "Who wrote LangChain?", "pasted")
    assert result["notice"] == NO_AGENT_ANSWER["copy"]["en"]
    assert result["answer"] == "LangChain 的作者是 Harrison Chase [1]。"
    own = run(build.agent(settings, kb, model=ScriptedToolChatModel(messages=[
        call("search_knowledge_base", 1, query="LangChain 作者", k=2),
        AIMessage(pasted.split("\n", 1)[1][:40] + " [1]")])), "Who wrote LangChain?", "quoted")
    assert "notice" not in own and own["citations"]  # quoting a passage's text with its marker is an answer


def test_a_source_that_names_no_document_does_not_filter_the_search(setup):
    settings, kb = setup
    search = knowledge_base_tools(kb, build.make_retriever(settings, kb), PassageLedger(kb.conn, "sources"))[0]
    unfiltered = search.invoke({"query": "LangChain 作者", "k": 2})
    assert search.invoke({"query": "LangChain 作者", "k": 2, "source": "null"}) == unfiltered
    named = search.invoke({"query": "LangChain 作者", "k": 2, "source": "LangChain"})
    assert named.startswith("No document is named 'LangChain'") and "[1] (" in named
    source = kb.journal.all()[0].source
    only = search.invoke({"query": "LangChain 作者", "k": 3, "source": source})
    assert only.startswith("[") and all(f"({source} ›" in line for line in only.splitlines() if line.startswith("["))


def test_an_answer_of_markers_only_is_no_answer(setup):
    settings, kb = setup
    model = ScriptedToolChatModel(messages=[call("search_knowledge_base", 1, query="LangChain 作者"), AIMessage("[1]"),
                                            AIMessage("LangChain 的作者是 Harrison Chase [1]。")])
    result = run(build.agent(settings, kb, model=model), "LangChain 的作者是谁？", "markers-only")
    assert result["notice"] == NO_AGENT_ANSWER["empty"]["zh"] and "Harrison Chase" in result["answer"]


def test_a_query_that_is_the_arguments_description_is_refused(setup):
    settings, kb = setup
    search = knowledge_base_tools(kb, build.make_retriever(settings, kb), PassageLedger(kb.conn, "desc"))[0]
    message = search.invoke({"query": SearchArgs.model_fields["query"].description})
    assert "put the words to look for there" in message


def test_a_search_with_the_description_as_its_query_searches_the_question(setup):
    settings, kb = setup
    placeholder = SearchArgs.model_fields["query"].description
    model = ScriptedToolChatModel(messages=[call("search_knowledge_base", 1, query=placeholder, k=3),
                                            call("search_knowledge_base", 2, query=" ", k=3),
                                            AIMessage("LangChain 的作者是 Harrison Chase [1]。")])
    result = run(build.agent(settings, kb, model=model), "LangChain 的作者是谁？", "placeholder")
    calls = [s for s in result["steps"] if s.kind == "call"]
    results = [s for s in result["steps"] if s.kind == "result"]
    assert [c.args["query"] for c in calls] == ["LangChain 的作者是谁？"]  # the blank repeat never ran
    assert not results[0].error and results[0].content.startswith("[1] (") and "Harrison Chase" in results[0].content
    assert result["answer"] == "LangChain 的作者是 Harrison Chase [1]。" and "notice" not in result


def test_prompts_stay_within_the_models_input_budget(setup):
    """A small local model's context (here a 1,500-token input budget, declared in the model's profile) never
    overflows as results pile up: older results are cleared, the latest is cut; citations keep their passages."""
    from ragkit.agent import prompt_tokens
    from ragkit.prompts import agent_system
    from ragkit.providers.fake import ScriptedToolChatModel as Scripted

    settings, kb = setup
    model = Scripted(messages=[
        call("search_knowledge_base", 1, query="GPT-4 参数", k=8),
        call("read_section", 2, source="llm-and-langchain-basics.md", heading="2. GLM 系列"),
        call("search_knowledge_base", 3, query="ChatGLM 显存 微调", k=8),
        AIMessage("据猜测 GPT-4 共有约 1.8 万亿参数 [1]。")], profile={"max_input_tokens": 1500})
    agent = build.agent(settings, kb, model=model)
    assert agent.context_tokens == 1500
    result = run(agent, "ChatGLM 需要多少显存才能微调？", "budget")
    results = [s for s in result["steps"] if s.kind == "result"]
    assert len(results) == 3 and len(results[1].content) > 1500  # what the tools returned, whole
    tools = knowledge_base_tools(kb, build.make_retriever(settings, kb), PassageLedger(kb.conn, "x"))
    for prompt in model.prompts:
        assert prompt_tokens(prompt[1:], agent_system("zh"), tools) <= 1500
    last = [m for m in model.prompts[-1] if isinstance(m, ToolMessage)]
    assert last[0].text == "[cleared]" and last[-1].text.startswith("[") and last[-1].text.endswith("已截断）")
    cited = result["citations"][0]  # passage 1 was cleared from the prompt, not from the thread's passages
    assert cited.n == 1 and cited.chunk_id and "GPT-4" in results[0].content.split("[2] (")[0]
    unbounded = build.agent(settings, kb, model=Scripted(messages=[AIMessage("x")]))
    assert unbounded.context_tokens is None  # a model that declares no budget is sent everything


def test_memory_across_turns_of_one_thread(setup):
    settings, kb = setup
    model = ScriptedToolChatModel(messages=[
        call("search_knowledge_base", 1, query="通义千问 研发"),
        AIMessage("通义千问由阿里巴巴研发 [1]。"),
        AIMessage("它于 2023 年 4 月正式发布 [1]。"),
    ])
    agent = build.agent(settings, kb, model=model)
    run(agent, "通义千问是哪家公司研发的？", "memory")
    second = run(build.agent(settings, kb, model=model), "它是什么时候发布的？", "memory")  # a new agent object
    history = model.prompts[-1]
    humans = [m.text for m in history if isinstance(m, HumanMessage)]
    assert humans == ["通义千问是哪家公司研发的？", "它是什么时候发布的？"]
    assert second["citations"][0].n == 1 and "通义千问" in second["citations"][0].passage
    other = run(build.agent(settings, kb, model=ScriptedToolChatModel(messages=[AIMessage("新线程。")])),
                "你好", "another-thread")
    assert other["answer"] == "新线程。"


def test_without_tool_calling_the_rag_chain_answers(setup):
    settings, kb = setup
    result = run(build.agent(settings, kb), "LangChain 的作者是谁？", "extractive")
    assert "RAGKIT_LLM" in result["notice"] and "Harrison Chase" in result["answer"]
    assert result["citations"] and result["extractive"]


def test_agent_command(setup):
    settings, _ = setup
    env = {"RAGKIT_DATA_DIR": str(settings.data_dir), "RAGKIT_EMBEDDER": "fake:64"}
    done = CliRunner().invoke(cli, ["agent", "LangChain 的作者是谁？", "--json"], env=env, catch_exceptions=False)
    payload = json.loads(done.stdout)
    assert done.exit_code == 0 and "RAGKIT_LLM" in payload["notice"] and "Harrison Chase" in payload["answer"]
    human = CliRunner().invoke(cli, ["--lang", "en", "agent", "LangChain 的作者是谁？"], env=env)
    assert "Agent mode needs a tool-calling LLM" in human.stderr and "Sources:" in human.stdout


@pytest.mark.parametrize("expression,value", [("1.8万亿 / 1750亿", 10.2857), ("340 - 175", 165), ("2 ** 10", 1024),
                                              ("-(3 + 4) * 2", -14), ("50%", 0.5), ("1,000 + 1", 1001)])
def test_calculator(expression, value):
    assert calculate(expression) == value


@pytest.mark.parametrize("expression", ["__import__('os')", "open('x')", "1 / 0", "9 ** 999999", "a + 1", "1 +"])
def test_calculator_refuses(expression):
    from langchain_core.tools import ToolException

    with pytest.raises(ToolException):
        calculate(expression)


async def test_the_agent_is_a_runnable_async_too(setup):
    settings, kb = setup
    model = ScriptedToolChatModel(messages=[call("search_knowledge_base", 1, query="LangChain 作者", k=2),
                                            AIMessage("LangChain 的作者是 Harrison Chase。[1]")])
    agent = build.agent(settings, kb, model=model)
    result = await agent.ainvoke({"question": "LangChain 的作者是谁？", "session_id": "async-agent"})
    assert result["answer"].startswith("LangChain 的作者") and result["citations"][0].n == 1
    assert [s.tool for s in result["steps"] if s.kind == "call"] == ["search_knowledge_base"]


def test_a_stock_create_agent_with_the_extractive_model_says_what_it_needs():
    from langchain.agents import create_agent

    from ragkit.providers.extractive import ExtractiveChatModel

    with pytest.raises(NotImplementedError, match="cannot call tools.*RAGKIT_LLM"):
        create_agent(ExtractiveChatModel(), [calculate_tool()]).invoke({"messages": [HumanMessage("1+1?")]})


def calculate_tool():
    from ragkit.tools import calculator_tool

    return calculator_tool()
