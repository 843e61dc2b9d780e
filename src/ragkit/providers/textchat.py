"""A base for ragkit's own chat models whose reply is computed in one go, then streamed in small pieces.

Subclasses implement :meth:`TextChatModel.reply`; invoke, stream, batch and async come from LangChain's
``BaseChatModel``. Usage metadata counts characters (these models have no tokenizer of their own).
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

_PIECE = re.compile(r"\[\d+\]|[A-Za-z0-9]+\S*\s*|.", re.DOTALL)  # citation markers and words stay whole


def message_text(message: BaseMessage) -> str:
    """The text of a message, whatever the shape of its content."""
    return message.text if isinstance(message.text, str) else str(message.content)


class TextChatModel(BaseChatModel):
    """Reply = ``self.reply(messages)``; streamed as words, characters and whole citation markers."""

    model: str
    stop: list[str] | None = None

    @abstractmethod
    def reply(self, messages: list[BaseMessage]) -> tuple[str, dict[str, Any]]:
        """The answer text and extra response metadata."""

    @property
    def _llm_type(self) -> str:
        return f"ragkit-{self.model}"

    def _reply(self, messages: list[BaseMessage], stop: list[str] | None, **kwargs: Any) -> tuple[str, dict, str]:
        text, meta = self.reply(messages)
        for marker in stop or self.stop or []:
            if marker and marker in text:
                text = text[: text.index(marker)]
        model = str(kwargs.get("model") or self.model)
        return text, meta, model

    def _usage(self, messages: list[BaseMessage], text: str) -> UsageMetadata:
        prompt = sum(len(message_text(m)) for m in messages)
        return UsageMetadata(input_tokens=prompt, output_tokens=len(text), total_tokens=prompt + len(text))

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any,
    ) -> ChatResult:
        text, meta, model = self._reply(messages, stop, **kwargs)
        message = AIMessage(content=text, usage_metadata=self._usage(messages, text),
                            response_metadata={"model_name": model, **meta})
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self, messages: list[BaseMessage], stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        text, meta, model = self._reply(messages, stop, **kwargs)
        for piece in _PIECE.findall(text):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk
        yield ChatGenerationChunk(message=AIMessageChunk(
            content="", usage_metadata=self._usage(messages, text), chunk_position="last",
            response_metadata={"model_name": model, **meta}))
