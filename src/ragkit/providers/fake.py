"""``fake:``: deterministic embeddings (``fake:<dim>``) and scripted chat replies (``fake:<reply>``) for tests.

Character uni- and bi-grams are hashed (stable across processes) into ``dim`` buckets and
L2-normalised, so texts that share characters are close: good enough to exercise retrieval.

>>> emb = embeddings("8", ProviderOptions())
>>> emb.embed_query("模型") == emb.embed_query("模型")
True
"""

from __future__ import annotations

import math
import zlib

from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, ConfigDict, Field

from ragkit.providers import ProviderOptions
from ragkit.providers.textchat import TextChatModel


class HashingEmbeddings(BaseModel, Embeddings):
    """Hashed character n-gram vectors; deterministic, fast, no model."""

    model_config = ConfigDict(frozen=True)

    size: int = Field(64, ge=2, le=4096)

    def _vector(self, text: str) -> list[float]:
        vec = [0.0] * self.size
        chars = text.lower()
        grams = list(chars) + [chars[i : i + 2] for i in range(len(chars) - 1)]
        for gram in grams:
            if gram.strip():
                vec[zlib.crc32(gram.encode("utf-8")) % self.size] += 1.0
        if not any(vec):
            vec[0] = 1.0  # an empty text still gets a valid unit vector
        norm = math.sqrt(sum(v * v for v in vec))
        return [v / norm for v in vec]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


def embeddings(model: str, options: ProviderOptions) -> Embeddings:
    return HashingEmbeddings(size=int(model) if model else 64)


class ScriptedChatModel(TextChatModel):
    """Replies with ``responses`` in turn (cycling); records every prompt it was sent in ``prompts``.

    >>> llm = ScriptedChatModel(responses=["第一句。[1]", "第二句。"])
    >>> [llm.invoke("问").content for _ in range(3)]
    ['第一句。[1]', '第二句。', '第一句。[1]']
    """

    model: str = "fake"
    responses: list[str] = Field(default_factory=lambda: ["这是一个测试回答。[1]"])
    prompts: list[list[BaseMessage]] = Field(default_factory=list, exclude=True)

    def reply(self, messages: list[BaseMessage]) -> tuple[str, dict[str, Any]]:
        self.prompts.append(list(messages))
        return self.responses[(len(self.prompts) - 1) % len(self.responses)], {}


def chat_model(model: str, options: ProviderOptions, *, embeddings: Embeddings | None = None,
               temperature: float | None = None) -> ScriptedChatModel:
    return ScriptedChatModel(responses=[model]) if model else ScriptedChatModel()


class ScriptedToolChatModel(BaseChatModel):
    """Plays back ``messages`` (AIMessages, with or without tool calls) in turn, for agent tests. It accepts
    any tools; every prompt it got is kept in ``prompts``, the names of the tools offered with it in ``offered``.

    >>> from langchain_core.messages import AIMessage
    >>> llm = ScriptedToolChatModel(messages=[AIMessage("", tool_calls=[{"name": "current_date", "args": {}, "id": "1"}])])
    >>> llm.bind_tools([]).invoke("今天几号？").tool_calls[0]["name"]
    'current_date'
    """

    model: str = "fake-tools"
    messages: list[AIMessage] = Field(default_factory=list)
    prompts: list[list[BaseMessage]] = Field(default_factory=list, exclude=True)
    offered: list[list[str]] = Field(default_factory=list, exclude=True)

    @property
    def _llm_type(self) -> str:
        return "ragkit-fake-tools"

    def bind_tools(self, tools: Any, *, tool_choice: Any = None, **kwargs: Any) -> Runnable[Any, AIMessage]:
        """A binding that sends the tools' schemas with every call (the scripted replies ignore them)."""
        schemas = [convert_to_openai_tool(tool) for tool in tools]
        return self.bind(tools=schemas, **({"tool_choice": tool_choice} if tool_choice is not None else {}), **kwargs)

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        self.prompts.append(list(messages))
        self.offered.append([t["function"]["name"] for t in kwargs.get("tools") or []])
        step = len(self.prompts) - 1
        reply = self.messages[step] if step < len(self.messages) else self.messages[-1]
        return ChatResult(generations=[ChatGeneration(message=reply.model_copy(update={"id": None}))])
