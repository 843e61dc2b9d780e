"""Tool calls written as text (the forms small local models use) become real tool calls, only for bound tools."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.tools import tool

from ragkit.providers.toolcalls import parse_tool_calls, recover_tool_calls, tool_names, with_text_tool_calls

NAMES = {"search_knowledge_base", "calculator", "current_date"}
SEARCH = {"name": "search_knowledge_base", "arguments": {"query": "ChatGLM 显存", "k": 3}}


@pytest.mark.parametrize("text", [
    "<tool_call>\n" + json.dumps(SEARCH, ensure_ascii=False) + "\n</tool_call>",  # Qwen's template
    "```json\n" + json.dumps(SEARCH, ensure_ascii=False, indent=2) + "\n```",  # what Qwen2.5-Coder 0.5B writes
    json.dumps(SEARCH, ensure_ascii=False),
    json.dumps({"name": "search_knowledge_base", "parameters": {"query": "ChatGLM 显存", "k": 3}}, ensure_ascii=False),
    json.dumps({"function": {"name": "search_knowledge_base",  # OpenAI's form: arguments as a JSON string
                             "arguments": json.dumps({"query": "ChatGLM 显存", "k": 3}, ensure_ascii=False)}}),
    "{'name': 'search_knowledge_base', 'arguments': {'query': 'ChatGLM 显存', 'k': 3}}",  # Python-style quotes
    "<tool_call>\n" + json.dumps(SEARCH, ensure_ascii=False),  # cut off before the closing tag
])
def test_each_written_form_becomes_one_call(text):
    rest, calls = parse_tool_calls(text, NAMES)
    assert rest == ""
    assert [(c["name"], c["args"]) for c in calls] == [("search_knowledge_base", {"query": "ChatGLM 显存", "k": 3})]
    assert calls[0]["id"].startswith("call_")


def test_prose_around_a_call_stays_and_a_list_gives_several_calls():
    rest, calls = parse_tool_calls('我先搜索。\n```json\n[{"name": "calculator", "arguments": {"expression": "2*3"}}, '
                                   '{"name": "current_date", "arguments": {}}]\n```', NAMES)
    assert rest == "我先搜索。"
    assert [c["name"] for c in calls] == ["calculator", "current_date"]
    assert len({c["id"] for c in calls}) == 2


@pytest.mark.parametrize("text", [
    'LangChain 的作者是 Harrison Chase [1]。',
    '结果是 {"name": "Harrison Chase", "role": "author"}',  # JSON, but no bound tool's name
    '{"name": "delete_everything", "arguments": {}}',  # a tool that was not bound
    '{"name": "calculator", "arguments": [1, 2]}',  # arguments that are not an object
    '{"name": "calculator", "arguments": {"expression": ',  # cut off
])
def test_text_that_is_not_a_call_of_a_bound_tool_is_left_alone(text):
    assert parse_tool_calls(text, NAMES) == (text, [])


def test_nothing_is_recovered_without_bound_tools_or_when_native_calls_exist():
    text = json.dumps(SEARCH)
    assert parse_tool_calls(text, set()) == (text, [])
    native = AIMessage("", tool_calls=[{"name": "current_date", "args": {}, "id": "n1"}])
    assert recover_tool_calls(native, NAMES) is native


def test_tool_names_of_bound_tools():
    @tool
    def calculator(expression: str) -> str:
        """Arithmetic."""
        return expression

    from langchain_core.utils.function_calling import convert_to_openai_tool

    assert tool_names([convert_to_openai_tool(calculator), {"name": "plain"}, "junk"]) == {"calculator", "plain"}


class _Writer(BaseChatModel):
    """Replies with fixed text (streamed in small pieces), like a model that writes its tool calls."""

    reply: str

    @property
    def _llm_type(self) -> str:
        return "writer"

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        from langchain_core.utils.function_calling import convert_to_openai_tool

        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(self.reply))])

    def _stream(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any):
        for i in range(0, len(self.reply), 5):
            yield ChatGenerationChunk(message=AIMessageChunk(content=self.reply[i:i + 5]))


@tool
def calculator(expression: str) -> str:
    """Evaluate arithmetic."""
    return expression


def test_the_mixin_turns_written_calls_into_tool_calls_when_tools_are_bound():
    written = '```json\n{"name": "calculator", "arguments": {"expression": "6*7"}}\n```'
    model = with_text_tool_calls(_Writer)(reply=written)
    bound = model.bind_tools([calculator])
    reply = bound.invoke("6 乘以 7 是多少？")
    assert reply.content == "" and [(c["name"], c["args"]) for c in reply.tool_calls] == [
        ("calculator", {"expression": "6*7"})]
    streamed = None
    for chunk in bound.stream("6 乘以 7 是多少？"):
        streamed = chunk if streamed is None else streamed + chunk
    assert [(c["name"], c["args"]) for c in streamed.tool_calls] == [("calculator", {"expression": "6*7"})]
    # without tools the same text is an answer, streamed as it comes
    assert model.invoke("写一个 JSON").content == written
    assert len(list(model.stream("写一个 JSON"))) > 3
    # and the capability can be switched off
    assert with_text_tool_calls(_Writer)(reply=written, text_tool_calls=False).bind_tools([calculator]).invoke(
        "6 乘以 7").tool_calls == []


async def test_the_mixin_works_on_the_async_paths_too():
    model = with_text_tool_calls(_Writer)(reply='<tool_call>{"name": "calculator", "arguments": {"expression": "1+1"}}'
                                                 '</tool_call>')
    bound = model.bind_tools([calculator])
    assert (await bound.ainvoke("1+1")).tool_calls[0]["args"] == {"expression": "1+1"}
    chunks = [chunk async for chunk in bound.astream("1+1")]
    assert sum(chunks[1:], chunks[0]).tool_calls[0]["name"] == "calculator"


def test_arguments_copied_from_the_schema_are_dropped_when_the_schema_is_known():
    schemas = {"calculator": {"type": "object", "properties": {"expression": {"type": "string"}},
                              "required": ["expression"]}, "current_date": {"type": "object", "properties": {}}}
    written = ('{"name": "calculator", "arguments": {"expression": "6*7", "type": "object", "required": ["expression"]}}'
               '\n{"name": "current_date", "arguments": {"properties": {}, "type": "object"}}')
    calls = parse_tool_calls(written, schemas)[1]
    assert [(c["name"], c["args"]) for c in calls] == [("calculator", {"expression": "6*7"}),
                                                       ("current_date", {})]


def test_parallel_tool_calls_false_keeps_the_first_call():
    written = '[{"name": "calculator", "arguments": {"expression": "1"}}, {"name": "calculator", "arguments": {"expression": "2"}}]'
    model = with_text_tool_calls(_Writer)(reply=written)
    assert len(model.bind_tools([calculator]).invoke("x").tool_calls) == 2
    one = model.bind_tools([calculator], parallel_tool_calls=False)
    assert [c["args"] for c in one.invoke("x").tool_calls] == [{"expression": "1"}]
    assert [c["args"] for c in sum(list(one.stream("x"))[1:], next(iter(one.stream("x")))).tool_calls] == [
        {"expression": "1"}]
