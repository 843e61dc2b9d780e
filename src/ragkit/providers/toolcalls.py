"""Tool calls that a model wrote as text: recognised and turned into real ``tool_calls``.

Small local models (Qwen2.5 0.5B/1.5B through llama.cpp or Ollama, many fine-tunes behind OpenAI-compatible
servers) often answer a tool-bound request with the call written in the message content instead of the API's
``tool_calls`` field:

* Qwen's own template form, ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``;
* a fenced block, ````json {"name": ..., "arguments": {...}} ````;
* a bare JSON object, or a list of them, inside or around some prose.

:func:`parse_tool_calls` finds them; only objects naming one of the bound tools count, so an answer that
happens to contain JSON is left alone. :class:`TextToolCalls` is a mixin for chat model classes: when the
model was bound with tools and its reply has no native tool calls, the calls found in the text become
``tool_calls`` (and leave the text). The ``gguf:`` provider always does this; ``openai:``, ``ollama:``,
``zhipu:`` and ``dashscope:`` do it when the ``text_tool_calls`` setting is on.

>>> text, calls = parse_tool_calls('<tool_call>{"name": "calculator", "arguments": {"expression": "2*3"}}</tool_call>',
...                                {"calculator"})
>>> text, [(c["name"], c["args"]) for c in calls]
('', [('calculator', {'expression': '2*3'})])
>>> parse_tool_calls('答案是 {"name": "张三"}。', {"calculator"})[1]
[]
"""

from __future__ import annotations

import ast
import functools
import json
import re
import uuid
from collections.abc import AsyncIterator, Collection, Iterator, Mapping
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, ToolCall
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import BaseModel, Field

_NAME_KEYS = ("name", "tool", "tool_name", "function")
_ARGS_KEYS = ("arguments", "parameters", "args", "tool_input", "input")
_WRAPPERS = re.compile(r"</?tool_call>|```(?:json|tool_call|JSON)?|^\s*(?:Action|Tool call|调用工具)\s*[:：]\s*",
                       re.MULTILINE)
_LIST_LEFTOVER = re.compile(r"[\s\[\],]*")


def tool_schemas(tools: Any) -> dict[str, dict[str, Any]]:
    """Name -> parameters schema of the tools a request was bound with (OpenAI's ``{"type": "function",
    "function": {...}}`` form, which ``bind_tools`` of ChatOpenAI, ChatOllama and the ``gguf:`` model produce).

    >>> tool_schemas([{"type": "function", "function": {"name": "current_date", "parameters": {}}}])
    {'current_date': {}}
    """
    schemas = {}
    for tool in tools or []:
        if isinstance(tool, dict):
            spec = tool.get("function") if isinstance(tool.get("function"), dict) else tool
            name = spec.get("name")
            if isinstance(name, str) and name:
                parameters = spec.get("parameters")
                schemas[name] = parameters if isinstance(parameters, dict) else {}
    return schemas


def tool_names(tools: Any) -> set[str]:
    """Names of the tools a request was bound with (see :func:`tool_schemas`)."""
    return set(tool_schemas(tools))


def _declared(args: dict[str, Any], schema: dict[str, Any] | None) -> dict[str, Any]:
    """The arguments the tool declares: small models copy schema keys ("type", "required", "properties") into
    their calls. A schema that lists no properties at all (or allows others) keeps everything."""
    properties = (schema or {}).get("properties")
    if not isinstance(properties, dict) or (schema or {}).get("additionalProperties") is True:
        return args
    return {key: value for key, value in args.items() if key in properties}


def _spans(text: str) -> Iterator[tuple[int, int]]:
    """Start and end of each outermost balanced ``{...}`` (quotes inside it respected)."""
    depth, start, quote, escaped = 0, -1, "", False
    for i, ch in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'" and depth:
            quote = ch
        elif ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
            if depth == 0:
                yield start, i + 1


def _value(span: str) -> Any:
    try:
        return json.loads(span)
    except json.JSONDecodeError:
        pass
    try:  # Python-style dicts ('single quotes', True/None) are common too; literal_eval never runs code
        return ast.literal_eval(span)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _call(obj: Any, names: Collection[str] | Mapping[str, dict[str, Any]]) -> ToolCall | None:
    if not isinstance(obj, dict):
        return None
    name = next((obj[k] for k in _NAME_KEYS if k in obj), None)
    args: Any = next((obj[k] for k in _ARGS_KEYS if k in obj), None)
    if isinstance(name, dict):  # {"function": {"name": ..., "arguments": ...}}
        name, args = name.get("name"), name.get("arguments", args)
    if not isinstance(name, str) or name not in names:
        return None
    if isinstance(args, str):  # OpenAI's form: arguments as a JSON string
        args = _value(args) if args.strip() else {}
    if args is None:
        args = {k: v for k, v in obj.items() if k not in _NAME_KEYS}
    if not isinstance(args, dict):
        return None
    if isinstance(names, Mapping):
        args = _declared(args, names[name])
    return ToolCall(name=name, args=args, id=f"call_{uuid.uuid4().hex[:24]}", type="tool_call")


def parse_tool_calls(text: str, names: Collection[str] | Mapping[str, dict[str, Any]]) -> tuple[str, list[ToolCall]]:
    """The text without the tool calls written in it, and those calls (for tools in ``names`` only; given
    their parameter schemas, arguments they do not declare are dropped)."""
    if not names or not text:
        return text, []
    calls: list[ToolCall] = []
    gaps, last = [], 0
    for start, end in _spans(text):
        call = _call(_value(text[start:end]), names)
        if call is not None:
            calls.append(call)
            gaps.append(text[last:start])
            last = end
    if not calls:
        return text, []
    # the brackets and commas of a list of calls go with them
    gaps = [gaps[0].rstrip().removesuffix("[")] + [g for g in gaps[1:] if not _LIST_LEFTOVER.fullmatch(g)]
    rest = _WRAPPERS.sub("", "".join(gaps) + re.sub(r"^\s*\]", "", text[last:]))
    return re.sub(r"\n{3,}", "\n\n", rest).strip(), calls


def recover_tool_calls(message: AIMessage, names: Collection[str] | Mapping[str, dict[str, Any]], *,
                       first_only: bool = False) -> AIMessage:
    """``message`` with the tool calls written in its text made real (unchanged when it has native ones);
    ``first_only`` keeps one call (a request made with ``parallel_tool_calls=False``)."""
    if message.tool_calls or not names:
        return message
    text, calls = parse_tool_calls(message.text, names)
    if not calls:
        return message
    calls = calls[:1] if first_only else calls
    return message.model_copy(update={"content": text, "tool_calls": calls})


def _recovered_result(result: ChatResult, names: Mapping[str, dict[str, Any]], first_only: bool) -> ChatResult:
    if not names:
        return result
    generations = [
        ChatGeneration(message=recover_tool_calls(g.message, names, first_only=first_only),
                       generation_info=g.generation_info)
        if isinstance(g.message, AIMessage) else g for g in result.generations
    ]
    return ChatResult(generations=generations, llm_output=result.llm_output)


def _recovered_chunk(chunks: list[ChatGenerationChunk], names: Mapping[str, dict[str, Any]],
                     first_only: bool) -> ChatGenerationChunk:
    """All of a buffered stream as one chunk, with the calls in its text turned into tool call chunks."""
    whole = chunks[0]
    for chunk in chunks[1:]:
        whole = whole + chunk
    message = whole.message
    if not isinstance(message, AIMessageChunk) or message.tool_call_chunks:
        return whole
    text, calls = parse_tool_calls(message.text, names)
    if not calls:
        return whole
    calls = calls[:1] if first_only else calls
    pieces = [tool_call_chunk(name=c["name"], args=json.dumps(c["args"], ensure_ascii=False), id=c["id"], index=i)
              for i, c in enumerate(calls)]
    return ChatGenerationChunk(message=AIMessageChunk(
        content=text, tool_call_chunks=pieces, id=message.id, usage_metadata=message.usage_metadata,
        response_metadata=message.response_metadata, chunk_position="last"), generation_info=whole.generation_info)


class TextToolCalls(BaseModel):
    """Mixin for a :class:`~langchain_core.language_models.BaseChatModel` subclass (put it first in the bases).

    With tools bound (``bind_tools`` passes them as the ``tools`` keyword), replies are checked for calls
    written as text. Streaming then buffers the reply, since whether it is a call is known only at its end;
    without tools it streams as usual.
    """

    text_tool_calls: bool = Field(True, description="Turn tool calls written in the reply text into tool_calls.")

    def _names(self, kwargs: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return tool_schemas(kwargs.get("tools")) if self.text_tool_calls else {}

    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> ChatResult:
        result = super()._generate(messages, stop, run_manager, **kwargs)  # type: ignore[misc]
        return _recovered_result(result, self._names(kwargs), kwargs.get("parallel_tool_calls") is False)

    async def _agenerate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> ChatResult:
        result = await super()._agenerate(messages, stop, run_manager, **kwargs)  # type: ignore[misc]
        return _recovered_result(result, self._names(kwargs), kwargs.get("parallel_tool_calls") is False)

    def _stream(self, messages: Any, stop: Any = None, run_manager: Any = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        names = self._names(kwargs)
        if not names:
            yield from super()._stream(messages, stop, run_manager, **kwargs)  # type: ignore[misc]
            return
        chunks = list(super()._stream(messages, stop, None, **kwargs))  # type: ignore[misc]
        if chunks:
            chunk = _recovered_chunk(chunks, names, kwargs.get("parallel_tool_calls") is False)
            if run_manager:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    async def _astream(self, messages: Any, stop: Any = None, run_manager: Any = None,
                       **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        names = self._names(kwargs)
        if not names:
            async for chunk in super()._astream(messages, stop, run_manager, **kwargs):  # type: ignore[misc]
                yield chunk
            return
        chunks = [c async for c in super()._astream(messages, stop, None, **kwargs)]  # type: ignore[misc]
        if chunks:
            chunk = _recovered_chunk(chunks, names, kwargs.get("parallel_tool_calls") is False)
            if run_manager:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk


@functools.cache
def with_text_tool_calls(cls: type) -> type:
    """``cls`` (a chat model class) with :class:`TextToolCalls` mixed in; one subclass per class.

    >>> from langchain_openai import ChatOpenAI
    >>> with_text_tool_calls(ChatOpenAI).__name__
    'ChatOpenAIWithTextToolCalls'
    """
    return type(f"{cls.__name__}WithTextToolCalls", (TextToolCalls, cls), {"__module__": __name__})
