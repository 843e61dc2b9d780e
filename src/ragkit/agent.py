"""The agent: LangChain's ``create_agent`` (LangGraph) with ragkit's tools, memory per thread, bounded steps.

:class:`Agent` streams dicts like the RAG chain does: ``{"steps": [Step]}`` as each tool call and result
happens, then ``{"answer": "..."}`` and the final fields (``citations`` in the RAG chain's format, mapped
through the thread's passage numbers; ``stopped`` when the step limit ended the run). Conversation state is
kept by a LangGraph SQLite checkpointer in the data directory, keyed by thread (session) id. A tool's
failure goes back to the model as an error tool message. An LLM that cannot call tools (the extractive
default) gets a notice saying which settings enable one, and the RAG chain answers instead.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables.utils import AddableDict

from ragkit.chains import Conversation, cite, is_abstention
from ragkit.prompts import NEEDS_TOOLS, agent_system, lang_of
from ragkit.store import KnowledgeBase
from ragkit.tools import PassageLedger, knowledge_base_tools

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
    """Whether the model implements tool calling (``bind_tools``)."""
    return type(llm).bind_tools is not BaseChatModel.bind_tools


def _tool_error(exc: Exception, request: Any) -> str:
    name = request.tool_call.get("name", "tool")
    return f"{name} failed ({type(exc).__name__}: {' '.join(str(exc).split())[:300]}). Fix the arguments or try another tool."


class Agent:
    """A tool-using agent over one knowledge base, with memory per thread."""

    def __init__(self, kb: KnowledgeBase, retriever: BaseRetriever, llm: BaseChatModel, *, checkpoints: Path,
                 fallback: Conversation, max_steps: int = 8) -> None:
        self.kb, self.retriever, self.llm, self.fallback = kb, retriever, llm, fallback
        self.max_steps = max_steps
        self._checkpoints = checkpoints
        self._saver: Any = None

    def _checkpointer(self) -> Any:
        if self._saver is None:
            from langgraph.checkpoint.sqlite import SqliteSaver

            self._checkpoints.parent.mkdir(parents=True, exist_ok=True)
            self._saver = SqliteSaver(sqlite3.connect(str(self._checkpoints), check_same_thread=False))
        return self._saver

    def graph(self, thread_id: str, lang: str) -> Any:
        """The compiled LangGraph agent for one thread (its tools number passages for that thread)."""
        from langchain.agents import create_agent
        from langchain.agents.middleware import ModelCallLimitMiddleware, ToolErrorMiddleware

        tools = knowledge_base_tools(self.kb, self.retriever, PassageLedger(self.kb.conn, thread_id))
        return create_agent(
            self.llm, tools, system_prompt=agent_system(lang), checkpointer=self._checkpointer(),
            middleware=[ToolErrorMiddleware(on_error=_tool_error),
                        ModelCallLimitMiddleware(run_limit=self.max_steps, exit_behavior="end")],
        )

    def stream(self, question: str, thread_id: str) -> Iterator[AddableDict]:
        lang = lang_of(question)
        if not supports_tools(self.llm):
            yield AddableDict(notice=NEEDS_TOOLS[lang])
            yield from self.fallback.stream(question, thread_id)
            return
        graph = self.graph(thread_id, lang)
        config = {"configurable": {"thread_id": thread_id}, "recursion_limit": 4 * self.max_steps + 5}
        final = ""
        taken: list[Step] = []
        for update in graph.stream({"messages": [HumanMessage(question)]}, config=config, stream_mode="updates"):
            for node in update.values():
                for message in (node or {}).get("messages", []):
                    steps = _steps(message)
                    if steps:
                        taken += steps
                        yield AddableDict(steps=steps)
                    elif isinstance(message, AIMessage):
                        final = message.text
        stopped = LIMIT_NOTE in final
        docs = PassageLedger(self.kb.conn, thread_id).documents()
        abstained = is_abstention(final)
        citations = [] if abstained or stopped else cite(final, docs)
        yield AddableDict(answer=final)
        yield AddableDict(question=question, abstained=abstained, stopped=stopped, rewritten_query=None,
                          citations=citations, docs=docs, extractive=False)
        # the turn also goes to the conversation list (the checkpointer is the agent's own memory)
        self.fallback.conversations.history(thread_id, kb=self.kb.name).add_messages([
            HumanMessage(question), AIMessage(final, additional_kwargs={
                "citations": [asdict(c) for c in citations], "agent": True, "stopped": stopped,
                "steps": [asdict(step) for step in taken]})])


def _steps(message: Any) -> list[Step]:
    if isinstance(message, AIMessage) and message.tool_calls:
        return [Step("call", call["name"], dict(call.get("args") or {})) for call in message.tool_calls]
    if isinstance(message, ToolMessage):
        return [Step("result", message.name or "", {}, message.text, message.status == "error")]
    return []
