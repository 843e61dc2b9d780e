"""The agent: LangChain's ``create_agent`` (LangGraph) with ragkit's tools, memory per thread, bounded steps.

:class:`Agent` streams dicts like the RAG chain does: ``{"steps": [Step]}`` as each tool call and result
happens, then ``{"answer": "..."}`` and the final fields (``citations`` in the RAG chain's format, mapped
through the thread's passage numbers; ``stopped`` when the step limit ended the run). Conversation state is
kept by a LangGraph SQLite checkpointer in the data directory, keyed by thread (session) id. A tool's
failure goes back to the model as an error tool message. A search whose query is blank or the argument's
description (small models copy it) searches the turn's question. A model call that only repeats tool calls
already made in the turn is asked again without tools, to answer from what was found. Prompts are kept within
the model's input budget (:func:`fit_context`). When the run gives no answer
(the step limit, a tool call or a copied tool result written as the answer, nothing) or the LLM cannot call
tools (the extractive default), a ``notice`` says why and the RAG chain answers instead.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.utils import AddableDict

from ragkit.chains import Conversation, cite, is_abstention, question_input, says_nothing
from ragkit.prompts import ANSWER_NOW, NEEDS_TOOLS, NO_AGENT_ANSWER, agent_system, lang_of
from ragkit.store import KnowledgeBase
from ragkit.tools import PassageLedger, copies_description, knowledge_base_tools

LIMIT_NOTE = "Model call limits exceeded"


@dataclass(frozen=True)
class Step:
    """One tool call (``kind="call"``, with ``args``) or its result (``kind="result"``, with ``content``)."""

    kind: str
    tool: str
    args: dict[str, Any]
    content: str = ""
    error: bool = False


def supports_tools(llm: BaseChatModel) -> bool:
    """Whether the model can call tools: its ``tool_calling`` declaration, else whether it implements
    ``bind_tools``."""
    declared = getattr(type(llm), "tool_calling", None)
    if isinstance(declared, bool):
        return declared
    return type(llm).bind_tools is not BaseChatModel.bind_tools


def _tool_error(exc: Exception, request: Any) -> str:
    name = request.tool_call.get("name", "tool")
    return f"{name} failed ({type(exc).__name__}: {' '.join(str(exc).split())[:300]}). Fix the arguments or try another tool."


class Agent(Runnable[Any, dict[str, Any]]):
    """A tool-using agent over one knowledge base, with memory per thread: a LangChain Runnable.

    ``context_tokens`` bounds each prompt sent to the model (default: the input budget the model's ``profile``
    declares, e.g. a ``gguf:`` model's context size less its answer; none for a model that declares none): see
    :func:`fit_context`.

    Input like :class:`~ragkit.chains.Conversation`: ``{"question": str, "session_id": str}`` (or the session
    in ``config["configurable"]["session_id"]``), ``{"question", "history"}`` for a stateless client, or a plain
    question string (a one-off thread). ``stream``/``astream`` yield ``{"steps": [Step]}`` as tools are called,
    then ``{"answer": ...}`` and the final fields.
    """

    name = "agent"

    def __init__(self, kb: KnowledgeBase, retriever: BaseRetriever, llm: BaseChatModel, *, checkpoints: Path,
                 fallback: Conversation, max_steps: int = 8, context_tokens: int | None = None) -> None:
        self.kb, self.retriever, self.llm, self.fallback = kb, retriever, llm, fallback
        self.max_steps = max_steps
        self.context_tokens = context_tokens or input_budget(llm)
        self._checkpoints = checkpoints
        self._saver: Any = None
        self._asaver: Any = None

    @property
    def InputType(self) -> type:  # noqa: N802 - LangChain's name
        return dict

    @property
    def OutputType(self) -> type:  # noqa: N802 - LangChain's name
        return dict

    def _checkpointer(self) -> Any:
        if self._saver is None:
            from langgraph.checkpoint.sqlite import SqliteSaver

            self._checkpoints.parent.mkdir(parents=True, exist_ok=True)
            self._saver = SqliteSaver(sqlite3.connect(str(self._checkpoints), check_same_thread=False))
        return self._saver

    async def _acheckpointer(self) -> Any:
        if self._asaver is None:
            import aiosqlite
            from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

            self._checkpoints.parent.mkdir(parents=True, exist_ok=True)
            self._asaver = AsyncSqliteSaver(await aiosqlite.connect(str(self._checkpoints)))
        return self._asaver

    def graph(self, thread_id: str, lang: str, checkpointer: Any = None) -> Any:
        """The compiled LangGraph agent for one thread (its tools number passages for that thread)."""
        from langchain.agents import create_agent
        from langchain.agents.middleware import ModelCallLimitMiddleware, ToolErrorMiddleware

        tools = knowledge_base_tools(self.kb, self.retriever, PassageLedger(self.kb.conn, thread_id))
        return create_agent(
            self.llm, tools, system_prompt=agent_system(lang),
            checkpointer=checkpointer if checkpointer is not None else self._checkpointer(),
            middleware=[ToolErrorMiddleware(on_error=_tool_error), search_first(), answer_on_repeat(lang),
                        query_from_question(), *([fit_context(self.context_tokens, lang)] if self.context_tokens else []),
                        ModelCallLimitMiddleware(run_limit=self.max_steps, exit_behavior="end")],
        )

    def _prepare(self, value: Any, config: RunnableConfig | None) -> tuple[str, str, list[BaseMessage], bool]:
        """(question, thread id, messages to send, whether to remember the turn in the conversation list)."""
        inputs = question_input(value, runnable="Agent")
        session = inputs.get("session_id") or (config or {}).get("configurable", {}).get("session_id")
        history = list(inputs.get("history") or [])
        messages = [*history, HumanMessage(inputs["question"])]
        if session:
            return inputs["question"], str(session), messages, True
        return inputs["question"], f"once-{uuid.uuid4().hex[:12]}", messages, False

    def _graph_config(self, thread_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": thread_id}, "recursion_limit": 4 * self.max_steps + 5}

    def _finish(self, question: str, thread_id: str, final: str, taken: list[Step], remember: bool
                ) -> list[AddableDict]:
        docs = PassageLedger(self.kb.conn, thread_id).documents()
        abstained = is_abstention(final)
        citations = [] if abstained else cite(final, docs)
        if remember:  # the turn also goes to the conversation list (the checkpointer is the agent's own memory)
            self.fallback.conversations.history(thread_id, kb=self.kb.name).add_messages([
                HumanMessage(question), AIMessage(final, additional_kwargs={
                    "citations": [asdict(c) for c in citations], "agent": True,
                    "steps": [asdict(step) for step in taken]})])
        return [AddableDict(answer=final), AddableDict(
            question=question, abstained=abstained, stopped=False, rewritten_query=None,
            citations=citations, docs=docs, extractive=False)]

    def _fallback_input(self, value: Any, question: str, thread_id: str, remember: bool,
                        note: dict[str, Any] | None = None) -> dict[str, Any]:
        """The RAG chain's input; ``note`` (the notice, the steps taken) is stored with its remembered answer."""
        inputs = question_input(value, runnable="Agent")
        return {**{k: v for k, v in inputs.items() if k != "session_id"}, "question": question,
                **({"session_id": thread_id, "note": note or {}} if remember else {})}

    def _run(self, values: Iterator[Any], config: RunnableConfig) -> Iterator[AddableDict]:
        for value in values:
            question, thread_id, messages, remember = self._prepare(value, config)
            lang = lang_of(question)
            if not supports_tools(self.llm):
                yield AddableDict(notice=NEEDS_TOOLS[lang])
                yield from self.fallback.stream(self._fallback_input(value, question, thread_id, remember), config)
                continue
            final, taken = "", []
            graph = self.graph(thread_id, lang)
            for update in graph.stream({"messages": messages}, config={**config, **self._graph_config(thread_id)},
                                       stream_mode="updates"):
                for steps, text in _updates(update):
                    if steps:
                        taken += steps
                        yield AddableDict(steps=steps)
                    elif text is not None:
                        final = text
            reason = no_answer(final, taken, question)
            if reason:  # the knowledge-base Q&A answers instead
                note = handed_over(NO_AGENT_ANSWER[reason][lang], reason, taken)
                yield AddableDict(notice=note["notice"], stopped=note["stopped"])
                yield from self.fallback.stream(self._fallback_input(value, question, thread_id, remember, note),
                                                config)
                continue
            yield from self._finish(question, thread_id, final, taken, remember)

    async def _arun(self, values: AsyncIterator[Any], config: RunnableConfig) -> AsyncIterator[AddableDict]:
        async for value in values:
            question, thread_id, messages, remember = self._prepare(value, config)
            lang = lang_of(question)
            if not supports_tools(self.llm):
                yield AddableDict(notice=NEEDS_TOOLS[lang])
                async for chunk in self.fallback.astream(self._fallback_input(value, question, thread_id, remember),
                                                         config):
                    yield chunk
                continue
            final, taken = "", []
            graph = self.graph(thread_id, lang, await self._acheckpointer())
            async for update in graph.astream({"messages": messages},
                                              config={**config, **self._graph_config(thread_id)},
                                              stream_mode="updates"):
                for steps, text in _updates(update):
                    if steps:
                        taken += steps
                        yield AddableDict(steps=steps)
                    elif text is not None:
                        final = text
            reason = no_answer(final, taken, question)
            if reason:
                note = handed_over(NO_AGENT_ANSWER[reason][lang], reason, taken)
                yield AddableDict(notice=note["notice"], stopped=note["stopped"])
                async for chunk in self.fallback.astream(
                        self._fallback_input(value, question, thread_id, remember, note), config):
                    yield chunk
                continue
            for chunk in await asyncio.to_thread(self._finish, question, thread_id, final, taken, remember):
                yield chunk

    def stream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[AddableDict]:
        return self._transform_stream_with_config(iter([input]), self._run, config, **kwargs)

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> AddableDict:
        result = AddableDict()
        for chunk in self.stream(input, config, **kwargs):
            result = result + chunk
        return result

    async def astream(self, input: Any, config: RunnableConfig | None = None,
                      **kwargs: Any) -> AsyncIterator[AddableDict]:
        async def one() -> AsyncIterator[Any]:
            yield input

        async for chunk in self._atransform_stream_with_config(one(), self._arun, config, **kwargs):
            yield chunk

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> AddableDict:
        result = AddableDict()
        async for chunk in self.astream(input, config, **kwargs):
            result = result + chunk
        return result


def handed_over(notice: str, reason: str, taken: list[Step]) -> dict[str, Any]:
    """What the conversation list keeps with an answer the RAG chain gave for the agent."""
    return {"notice": notice, "stopped": reason == "limit", "agent": True, "steps": [asdict(s) for s in taken]}


def _middleware(name: str, *, before: Any = None, after: Any = None) -> Any:
    """An agent middleware that changes each model request (``before(request)``) and/or its response
    (``after(request, response)``), sync and async alike."""
    from langchain.agents.middleware import AgentMiddleware

    def wrap(self: Any, request: Any, handler: Any) -> Any:
        request = before(request) if before else request
        response = handler(request)
        return after(request, response) if after else response

    async def awrap(self: Any, request: Any, handler: Any) -> Any:
        request = before(request) if before else request
        response = await handler(request)
        return after(request, response) if after else response

    return type(name, (AgentMiddleware,), {"wrap_model_call": wrap, "awrap_model_call": awrap})()


def search_first() -> Any:
    """Agent middleware: a turn's first model call must search the knowledge base (small local models otherwise
    answer from memory), and a model that writes its tool calls as text makes one call at a time."""

    def adjust(request: Any) -> Any:
        turn = max((i for i, m in enumerate(request.messages) if isinstance(m, HumanMessage)), default=-1)
        changes: dict[str, Any] = {}
        if not any(isinstance(m, ToolMessage) for m in request.messages[turn + 1 :]):
            changes["tool_choice"] = "search_knowledge_base"
        if getattr(request.model, "text_tool_calls", False):
            changes["model_settings"] = {**request.model_settings, "parallel_tool_calls": False}
        return request.override(**changes) if changes else request

    return _middleware("SearchFirst", before=adjust)


def answer_on_repeat(lang: str) -> Any:
    """Agent middleware: a model call that only repeats tool calls already made in this turn (same tool, same
    arguments: small local models loop on them until the step limit) is made once more without tools, with
    :data:`~ragkit.prompts.ANSWER_NOW` in the system prompt, so the model answers from what the tools returned.
    Tool calls in that reply are dropped (its text is the answer, or no answer)."""
    from langchain.agents.middleware import AgentMiddleware, ModelResponse

    def final_request(request: Any, response: Any) -> Any:
        if not only_repeats(request.messages, _messages(response)):
            return None
        note = ANSWER_NOW[lang]
        system = f"{request.system_prompt}\n\n{note}" if request.system_prompt else note
        settings = {k: v for k, v in request.model_settings.items() if k != "parallel_tool_calls"}
        return request.override(tools=[], tool_choice=None, system_message=SystemMessage(system),
                                model_settings=settings)

    def without_calls(response: Any) -> Any:
        return ModelResponse(result=[m.model_copy(update={"tool_calls": [], "invalid_tool_calls": []})
                                     if isinstance(m, AIMessage) else m for m in _messages(response)])

    class AnswerOnRepeat(AgentMiddleware):
        def wrap_model_call(self, request: Any, handler: Any) -> Any:
            response = handler(request)
            final = final_request(request, response)
            return response if final is None else without_calls(handler(final))

        async def awrap_model_call(self, request: Any, handler: Any) -> Any:
            response = await handler(request)
            final = final_request(request, response)
            return response if final is None else without_calls(await handler(final))

    return AnswerOnRepeat()


def query_from_question() -> Any:
    """Agent middleware: a search call whose query is blank or the argument's own description (small local
    models copy it from the schema, often on the forced first call) searches the turn's question instead, so
    the model gets passages rather than an error it cannot act on. Placed inside :func:`answer_on_repeat`, which
    then sees the calls as they will run."""
    from langchain.agents.middleware import ModelResponse

    def fixed(request: Any, response: Any) -> Any:
        turn = [m for m in request.messages if isinstance(m, HumanMessage)]
        messages = _messages(response)
        if not turn or not any(_placeholder_query(c) for m in messages if isinstance(m, AIMessage)
                               for c in m.tool_calls):
            return response
        question = turn[-1].text
        out = [m.model_copy(update={"tool_calls": [
            {**c, "args": {**c["args"], "query": question}} if _placeholder_query(c) else c for c in m.tool_calls]})
            if isinstance(m, AIMessage) else m for m in messages]
        return ModelResponse(result=out, structured_response=getattr(response, "structured_response", None))

    return _middleware("QueryFromQuestion", after=fixed)


def _placeholder_query(call: Any) -> bool:
    """Whether a search call's query says nothing: blank, or the description of the query argument.

    >>> _placeholder_query({"name": "search_knowledge_base", "args": {"query": "  "}})
    True
    >>> _placeholder_query({"name": "search_knowledge_base", "args": {"query": "ChatGLM 显存"}})
    False
    """
    if call.get("name") != "search_knowledge_base":
        return False
    query = str((call.get("args") or {}).get("query") or "")
    return not query.strip() or copies_description(query)


_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
_CUT = {"zh": "……（为适应模型的上下文长度已截断）", "en": "... (cut to fit the model's context)"}


def estimate_tokens(text: str) -> int:
    """A generous token count without the model's tokenizer: one per CJK character, one per three others
    (real tokenizers give about 1.5 Chinese characters and 4 English ones per token).

    >>> estimate_tokens("ChatGLM 能在 7G 显存下微调。"), estimate_tokens("")
    (12, 0)
    """
    cjk = len(_CJK.findall(text))
    return cjk + -(-(len(text) - cjk) // 3)


def _message_tokens(message: BaseMessage) -> int:
    calls = json.dumps(message.tool_calls, ensure_ascii=False) if isinstance(message, AIMessage) and message.tool_calls else ""
    return 4 + estimate_tokens(message.text) + estimate_tokens(calls)


def prompt_tokens(messages: list[BaseMessage], system: str = "", tools: list[Any] = ()) -> int:
    """:func:`estimate_tokens` of a whole request: system prompt, tool schemas and messages."""
    from langchain_core.utils.function_calling import convert_to_openai_tool

    schemas = json.dumps([convert_to_openai_tool(t) for t in tools], ensure_ascii=False) if tools else ""
    return estimate_tokens(system) + estimate_tokens(schemas) + sum(_message_tokens(m) for m in messages)


def input_budget(llm: BaseChatModel) -> int | None:
    """The prompt tokens a model takes, from its LangChain ``profile`` (``max_input_tokens``), or None."""
    profile = getattr(llm, "profile", None) or {}
    value = profile.get("max_input_tokens") if isinstance(profile, dict) else None
    return value if isinstance(value, int) and value > 0 else None


def fit_to(messages: list[BaseMessage], budget: int, fixed: int, lang: str = "zh") -> list[BaseMessage]:
    """``messages`` made to fit ``budget`` tokens beside ``fixed`` ones (system prompt, tools): older tool
    results are cleared first, oldest first; then the latest one is cut; then earlier turns are dropped, oldest
    first. The current question is always kept.

    >>> long = [HumanMessage("问题？"), AIMessage("", tool_calls=[{"name": "t", "args": {}, "id": "1"}]),
    ...         ToolMessage("资料" * 500, tool_call_id="1"), AIMessage("", tool_calls=[{"name": "t", "args": {}, "id": "2"}]),
    ...         ToolMessage("片段" * 500, tool_call_id="2")]
    >>> fitted = fit_to(long, 600, 0)
    >>> fitted[2].text, len(fitted[4].text) < 600, sum(_message_tokens(m) for m in fitted) <= 600
    ('[cleared]', True, True)
    """
    out = list(messages)

    def over() -> int:
        return fixed + sum(_message_tokens(m) for m in out) - budget

    results = [i for i, m in enumerate(out) if isinstance(m, ToolMessage)]
    for i in results[:-1]:
        if over() <= 0:
            return out
        out[i] = out[i].model_copy(update={"content": "[cleared]"})
    if results and over() > 0:
        last = out[results[-1]]
        room = max(0, estimate_tokens(last.text) - over() - estimate_tokens(_CUT[lang]))
        text = last.text
        while text and estimate_tokens(text) > room:
            text = text[: int(len(text) * 0.9)]
        out[results[-1]] = last.model_copy(update={"content": text + _CUT[lang]})
    turn = max((i for i, m in enumerate(out) if isinstance(m, HumanMessage)), default=0)
    while over() > 0 and turn > 0:  # earlier turns, oldest first
        del out[0]
        turn -= 1
    return out


def fit_context(budget: int, lang: str = "zh") -> Any:
    """Agent middleware: every prompt stays within ``budget`` tokens (by :func:`estimate_tokens`), so a small
    local model's context never overflows as tool results pile up (:func:`fit_to`). Only what the model is
    sent changes; the conversation keeps every result, and citations their passages."""

    def fitted(request: Any) -> Any:
        fixed = prompt_tokens([], request.system_prompt or "", request.tools or [])
        if fixed + sum(_message_tokens(m) for m in request.messages) <= budget:
            return request
        return request.override(messages=fit_to(list(request.messages), budget, fixed, lang))

    return _middleware("FitContext", before=fitted)


def _messages(response: Any) -> list[BaseMessage]:
    return [response] if isinstance(response, AIMessage) else list(response.result)


def _call_key(call: Any) -> tuple[str, str]:
    args = {k: v for k, v in (call.get("args") or {}).items() if v is not None}
    return call.get("name", ""), json.dumps(args, sort_keys=True, ensure_ascii=False, default=str)


def only_repeats(messages: list[BaseMessage], reply: list[BaseMessage]) -> bool:
    """Whether ``reply`` calls tools, and only with calls already made since the last human message.

    >>> call = {"name": "search_knowledge_base", "args": {"query": "GPT-4", "source": None}, "id": "1"}
    >>> turn = [HumanMessage("GPT-4?"), AIMessage("", tool_calls=[call]), ToolMessage("[1] ...", tool_call_id="1")]
    >>> only_repeats(turn, [AIMessage("", tool_calls=[{**call, "args": {"query": "GPT-4"}, "id": "2"}])])
    True
    >>> only_repeats(turn, [AIMessage("", tool_calls=[{**call, "args": {"query": "GPT-4 参数"}, "id": "2"}])])
    False
    """
    start = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=-1) + 1
    made = {_call_key(c) for m in messages[start:] if isinstance(m, AIMessage) for c in m.tool_calls}
    calls = [c for m in reply if isinstance(m, AIMessage) for c in m.tool_calls]
    return bool(calls) and all(_call_key(c) in made for c in calls)


def looks_like_a_call(text: str) -> bool:
    """Whether a final answer is a tool call the model wrote instead of an answer (often cut off)."""
    stripped = text.strip()
    return stripped.startswith(("{", "[{", "```json", "<tool_call>")) and (
        '"name"' in stripped or "'name'" in stripped or "<tool_call>" in stripped)


_PASSAGE_HEAD = re.compile(r"^\[\d+\] \(.+\)$", re.MULTILINE)


def copies_a_result(text: str, steps: list[Step]) -> bool:
    """Whether an answer repeats a passage heading line of a tool result (``[3] (source › heading)``): the
    model pasted what a tool returned instead of answering."""
    heads = {m.group(0) for s in steps if s.kind == "result" for m in _PASSAGE_HEAD.finditer(s.content)}
    return any(line.strip() in heads for line in text.splitlines())


def no_answer(final: str, steps: list[Step], question: str = "") -> str | None:
    """Why a run's last message is no answer (a key of :data:`~ragkit.prompts.NO_AGENT_ANSWER`), or None.
    Says nothing (``"empty"``): blank, citation markers only, or the question restated.

    >>> no_answer("通义千问由阿里巴巴研发 [1]。", []), no_answer(" [1]", []), no_answer('{"name": "search_kno', [])
    (None, 'empty', 'call')
    """
    if LIMIT_NOTE in final:
        return "limit"
    if says_nothing(final, question):
        return "empty"
    if looks_like_a_call(final):
        return "call"
    return "copy" if copies_a_result(final, steps) else None


def _updates(update: dict[str, Any]) -> Iterator[tuple[list[Step], str | None]]:
    """(steps, final text) for each message of a LangGraph "updates" event."""
    for node in update.values():
        for message in (node or {}).get("messages", []):
            steps = _steps(message)
            yield steps, (message.text if not steps and isinstance(message, AIMessage) else None)


def _steps(message: Any) -> list[Step]:
    if isinstance(message, AIMessage) and message.tool_calls:
        return [Step("call", call["name"], dict(call.get("args") or {})) for call in message.tool_calls]
    if isinstance(message, ToolMessage):
        return [Step("result", message.name or "", {}, message.text, message.status == "error")]
    return []
