"""``gguf:<path>``: a local GGUF model through llama-cpp-python (``pip install 'ragkit[gguf]'``, which
builds llama.cpp from source; never a default dependency). Real token streaming.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from ragkit.errors import ConfigError
from ragkit.providers import ProviderOptions
from ragkit.providers.textchat import message_text

_ROLES = {"human": "user", "ai": "assistant", "system": "system"}


@lru_cache(maxsize=1)
def _load(path: str, n_ctx: int) -> Any:
    from llama_cpp import Llama

    return Llama(model_path=path, n_ctx=n_ctx, verbose=False)


class GGUFChatModel(BaseChatModel):
    """Chat with a GGUF file via llama-cpp-python's chat completion API (its chat template)."""

    model: str
    n_ctx: int = 4096
    temperature: float | None = None
    max_tokens: int = 512

    @property
    def _llm_type(self) -> str:
        return "ragkit-gguf"

    def _request(self, messages: list[BaseMessage], stop: list[str] | None) -> dict[str, Any]:
        return {
            "messages": [{"role": _ROLES.get(m.type, "user"), "content": message_text(m)} for m in messages],
            "temperature": 0.2 if self.temperature is None else self.temperature,
            "max_tokens": self.max_tokens, "stop": stop or [],
        }

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        out = _load(self.model, self.n_ctx).create_chat_completion(**self._request(messages, stop))
        usage = out.get("usage") or {}
        message = AIMessage(
            content=out["choices"][0]["message"]["content"] or "",
            usage_metadata=UsageMetadata(input_tokens=usage.get("prompt_tokens", 0),
                                         output_tokens=usage.get("completion_tokens", 0),
                                         total_tokens=usage.get("total_tokens", 0)),
            response_metadata={"model_name": Path(self.model).name},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        stream = _load(self.model, self.n_ctx).create_chat_completion(stream=True, **self._request(messages, stop))
        for part in stream:
            piece = part["choices"][0]["delta"].get("content") or ""
            if piece:
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
                if run_manager:
                    run_manager.on_llm_new_token(piece, chunk=chunk)
                yield chunk
        yield ChatGenerationChunk(message=AIMessageChunk(
            content="", chunk_position="last", response_metadata={"model_name": Path(self.model).name}))


def chat_model(model: str, options: ProviderOptions, *, embeddings: Embeddings | None = None,
               temperature: float | None = None) -> GGUFChatModel:
    if not model or not Path(model).is_file():
        raise ConfigError(f"gguf: no GGUF file at {model!r}; use gguf:/path/to/model.gguf")
    return GGUFChatModel(model=str(Path(model).resolve()), temperature=temperature)
