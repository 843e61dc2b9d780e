"""``gguf:<path>``: a local GGUF model through llama.cpp's own server engine, in process (``pip install
'ragkit[gguf]'``, the prebuilt ``xllamacpp`` wheel; nothing is compiled). Real token streaming, tool calling.

The request goes to llama.cpp's OpenAI-compatible chat handler with the model's own (Jinja) chat template, so
tools reach the model the way it was trained on them, and a call it writes in its template's form (Qwen's
``<tool_call>``) comes back as ``tool_calls``; with ``tool_choice`` the output is constrained to a call. Calls
written as plain JSON in the text are recovered too (:mod:`ragkit.providers.toolcalls`).

Every request starts from an empty context (``cache_prompt: false``): reusing the cached prefix of an earlier
prompt changes the numerics, and with them greedy answers, so the same prompt at temperature 0 would not always
give the same answer. One engine per file is shared; it serves one request at a time and queues the others.
xllamacpp always opens an HTTP listener on a free 127.0.0.1 port as well; ragkit never uses it and gives it a
random API key, so nothing else on the machine can use the model through it.
"""

from __future__ import annotations

import queue
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.embeddings import Embeddings
from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.model_profile import ModelProfile
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, convert_to_openai_messages
from langchain_core.messages.ai import UsageMetadata
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.output_parsers.openai_tools import make_invalid_tool_call, parse_tool_call
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool

from ragkit.errors import ConfigError, ProviderError
from ragkit.providers import ProviderOptions
from ragkit.providers.textchat import message_text
from ragkit.providers.toolcalls import TextToolCalls

_DONE = object()


@lru_cache(maxsize=2)
def _engine(path: str, n_ctx: int, n_threads: int) -> Any:
    """The loaded model (an ``xllamacpp.Server``), once per file and context size."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = path
    params.n_ctx = n_ctx
    params.n_parallel = 1
    params.offline = True  # never look for a model on a hub
    params.warmup = False
    params.verbosity = -1  # llama.cpp logs nothing; errors come back as results
    params.cache_ram_mib = 0  # no host-memory prompt cache: every request starts from an empty context
    params.api_keys = [secrets.token_urlsafe(24)]  # the HTTP listener it always opens refuses everyone
    params.endpoint_metrics = params.endpoint_slots = params.endpoint_props = False
    params.ui = False
    if n_threads > 0:
        params.cpuparams.n_threads = params.cpuparams_batch.n_threads = n_threads
    try:
        return xllamacpp.Server(params)
    except RuntimeError as exc:
        raise ConfigError.of("gguf_unreadable", path=path) from exc


def _failure(path: str, error: dict[str, Any]) -> ProviderError:
    detail = " ".join(str(error.get("message", error)).split())[:300]
    return ProviderError.of("gguf_failed", path=path, detail=detail)


def _usage(usage: dict[str, Any] | None) -> UsageMetadata:
    usage = usage or {}
    prompt, completion = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
    return UsageMetadata(input_tokens=prompt, output_tokens=completion, total_tokens=prompt + completion)


def _stream_events(engine: Any, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """llama.cpp's streamed chunks as an iterator: its callback runs in a worker thread and feeds a queue;
    when the consumer stops early, the callback's next return value stops the generation."""
    events: queue.Queue[Any] = queue.Queue()
    stop = threading.Event()

    def on_chunk(chunk: Any) -> bool:
        events.put(chunk)
        return stop.is_set()

    def run() -> None:
        try:
            engine.handle_chat_completions(request, on_chunk)
        except BaseException as exc:  # handed to the consumer, raised there  # noqa: BLE001
            events.put(exc)
        finally:
            events.put(_DONE)

    worker = threading.Thread(target=run, name="ragkit-gguf", daemon=True)
    worker.start()
    try:
        while (item := events.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def _tool_choice(choice: Any, tools: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """llama.cpp takes auto / none / required: a named tool becomes "required" over that tool alone."""
    if choice in (None, "auto", False):
        return "auto", tools
    if choice in ("any", "required", True):
        return "required", tools
    if choice == "none":
        return "none", tools
    name = choice.get("function", {}).get("name") if isinstance(choice, dict) else choice
    chosen = [t for t in tools if t["function"]["name"] == name]
    if not chosen:
        raise ValueError(f"tool_choice {name!r} names none of the bound tools")
    return "required", chosen


def _openai_messages(messages: list[BaseMessage]) -> list[dict[str, Any]]:
    """OpenAI's message dicts (roles, tool calls, tool results) with plain text content: the models this serves
    read text, and llama.cpp refuses content blocks of other kinds (e.g. LangChain's v1 ``tool_call`` blocks)."""
    converted = convert_to_openai_messages(messages)
    return [{**item, "content": message_text(message)} for message, item in zip(messages, converted, strict=True)]


def _call_schema(tool: dict[str, Any]) -> dict[str, Any]:
    function = tool["function"]
    arguments = function.get("parameters") or {"type": "object", "properties": {}}
    return {"type": "object", "properties": {"name": {"const": function["name"]}, "arguments": arguments},
            "required": ["name", "arguments"]}


class LlamaCppChat(BaseChatModel):
    """llama.cpp's chat handler for a GGUF file (``xllamacpp``); :class:`GGUFChatModel` is what to use."""

    model: str
    n_ctx: int = 4096
    n_threads: int = 0
    temperature: float | None = None
    max_tokens: int = 512
    stop: list[str] | None = None

    @property
    def _llm_type(self) -> str:
        return "ragkit-gguf"

    def _resolve_model_profile(self) -> ModelProfile | None:
        """The context is shared by prompt and answer: a prompt may take ``n_ctx - max_tokens`` tokens."""
        return {"max_input_tokens": max(1, self.n_ctx - self.max_tokens), "max_output_tokens": self.max_tokens,
                "open_weights": True}

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": self.model, "n_ctx": self.n_ctx, "temperature": self.temperature,
                "max_tokens": self.max_tokens}

    def _request(self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        request: dict[str, Any] = {
            "messages": _openai_messages(messages),
            "temperature": 0.2 if self.temperature is None else self.temperature,
            "max_tokens": self.max_tokens, "stop": [*(self.stop or []), *(stop or [])], "cache_prompt": False,
        }
        tools = kwargs.get("tools")
        if tools:
            request["tools"] = tools
            if kwargs.get("tool_choice") == "required":  # the reply can only be a call of one of them
                request["json_schema"] = {"anyOf": [_call_schema(t) for t in tools]}
        return request

    def _engine_for(self, kwargs: dict[str, Any]) -> tuple[str, Any]:
        path = str(kwargs.get("model") or self.model)
        return path, _engine(path, self.n_ctx, self.n_threads)

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        path, engine = self._engine_for(kwargs)
        out = engine.handle_chat_completions(self._request(messages, stop, kwargs))
        if "error" in out or "choices" not in out:
            raise _failure(path, out.get("error") or out)
        choice = out["choices"][0]
        reply = choice.get("message") or {}
        calls, invalid = [], []
        for raw in reply.get("tool_calls") or []:
            try:
                calls.append(parse_tool_call(raw, return_id=True))
            except OutputParserException as exc:  # arguments that are not JSON
                invalid.append(make_invalid_tool_call(raw, str(exc)))
        message = AIMessage(
            content=reply.get("content") or "", tool_calls=calls, invalid_tool_calls=invalid,
            usage_metadata=_usage(out.get("usage")),
            response_metadata={"model_name": path, "finish_reason": choice.get("finish_reason")},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        path, engine = self._engine_for(kwargs)
        request = {**self._request(messages, stop, kwargs), "stream": True, "stream_options": {"include_usage": True}}
        usage, finish = None, None
        for event in _stream_events(engine, request):
            if "error" in event:
                raise _failure(path, event["error"])
            usage = event.get("usage") or usage
            for choice in event.get("choices") or []:
                finish = choice.get("finish_reason") or finish
                delta = choice.get("delta") or {}
                piece = delta.get("content") or ""
                calls = [tool_call_chunk(name=(c.get("function") or {}).get("name"), id=c.get("id"),
                                         args=(c.get("function") or {}).get("arguments"), index=c.get("index"))
                         for c in delta.get("tool_calls") or []]
                if piece or calls:
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece, tool_call_chunks=calls))
                    if run_manager:
                        run_manager.on_llm_new_token(piece, chunk=chunk)
                    yield chunk
        yield ChatGenerationChunk(message=AIMessageChunk(
            content="", chunk_position="last", usage_metadata=_usage(usage),
            response_metadata={"model_name": path, "finish_reason": finish}))


class GGUFChatModel(TextToolCalls, LlamaCppChat):
    """Chat with a GGUF file through llama.cpp (``xllamacpp``), with the model's chat template; tool calls
    the model writes as text become ``tool_calls``.

    ``model`` is the file's path; a call may name another file with ``model=...``. ``n_threads`` 0 lets
    llama.cpp choose. ``tool_choice="any"`` (or a tool's name) constrains the reply to a call (a JSON schema
    over the tools' names and arguments, enforced by llama.cpp's grammar sampler).
    """

    def bind_tools(self, tools: Sequence[dict[str, Any] | type | Callable | Any], *, tool_choice: Any = None,
                   **kwargs: Any) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools in OpenAI's form; ``tool_choice``: "auto", "any"/"required", "none" or a tool's name."""
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        choice, offered = _tool_choice(tool_choice, formatted)
        if choice == "none":
            return self.bind(**kwargs)
        return self.bind(tools=offered, tool_choice=choice, **kwargs)


def chat_model(model: str, options: ProviderOptions, *, embeddings: Embeddings | None = None,
               temperature: float | None = None) -> GGUFChatModel:
    if not model or not Path(model).is_file():
        raise ConfigError(f"gguf: no GGUF file at {model!r}; use gguf:/path/to/model.gguf")
    return GGUFChatModel(model=str(Path(model).resolve()), temperature=temperature)

