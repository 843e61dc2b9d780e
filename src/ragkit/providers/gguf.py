"""``gguf:<path>``: a local GGUF model through llama-cpp-python (``pip install 'ragkit[gguf]'``, which
builds llama.cpp from source, about 5 minutes on 2 cores; never a default dependency). Real token streaming.

Every request starts from an empty context (``Llama.reset``): llama-cpp-python otherwise reuses the
cached prefix of the previous prompt, and the slightly different numerics change greedy answers, so the
same prompt at temperature 0 would not always give the same answer. One model instance per file is
shared and used by one request at a time.
"""

from __future__ import annotations

import atexit
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from threading import Lock
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


@lru_cache(maxsize=2)
def _load(path: str, n_ctx: int) -> tuple[Any, Lock]:
    from llama_cpp import Llama

    llm = Llama(model_path=path, n_ctx=n_ctx, verbose=False)
    # free the models before interpreter teardown, while llama-cpp-python's cleanup still works
    atexit.unregister(_load.cache_clear)
    atexit.register(_load.cache_clear)
    return llm, Lock()


@contextmanager
def _session(path: str, n_ctx: int) -> Iterator[Any]:
    """The loaded model, for this request alone, with an empty context."""
    llm, lock = _load(path, n_ctx)
    with lock:
        llm.reset()
        yield llm


class GGUFChatModel(BaseChatModel):
    """Chat with a GGUF file via llama-cpp-python's chat completion API (its chat template).

    ``model`` is the file's path; a call may name another file with ``model=...``.
    """

    model: str
    n_ctx: int = 4096
    temperature: float | None = None
    max_tokens: int = 512
    stop: list[str] | None = None

    @property
    def _llm_type(self) -> str:
        return "ragkit-gguf"

    def _request(self, messages: list[BaseMessage], stop: list[str] | None) -> dict[str, Any]:
        return {
            "messages": [{"role": _ROLES.get(m.type, "user"), "content": message_text(m)} for m in messages],
            "temperature": 0.2 if self.temperature is None else self.temperature,
            "max_tokens": self.max_tokens, "stop": [*(self.stop or []), *(stop or [])],
        }

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        path = kwargs.get("model") or self.model
        with _session(path, self.n_ctx) as llm:
            out = llm.create_chat_completion(**self._request(messages, stop))
        usage = out.get("usage") or {}
        message = AIMessage(
            content=out["choices"][0]["message"]["content"] or "",
            usage_metadata=UsageMetadata(input_tokens=usage.get("prompt_tokens", 0),
                                         output_tokens=usage.get("completion_tokens", 0),
                                         total_tokens=usage.get("total_tokens", 0)),
            response_metadata={"model_name": path},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        path = kwargs.get("model") or self.model
        with _session(path, self.n_ctx) as llm:
            prompt_tokens, finish = None, None
            for part in llm.create_chat_completion(stream=True, **self._request(messages, stop)):
                # the stream reports no usage: when its first part arrives the context holds the prompt
                prompt_tokens = llm.n_tokens if prompt_tokens is None else prompt_tokens
                finish = part["choices"][0].get("finish_reason") or finish
                piece = part["choices"][0]["delta"].get("content") or ""
                if piece:
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
                    if run_manager:
                        run_manager.on_llm_new_token(piece, chunk=chunk)
                    yield chunk
            # ...and at the end the tokens generated, but the last one sampled only at a length stop
            prompt_tokens = prompt_tokens or 0
            generated = max(llm.n_tokens - prompt_tokens + (finish == "length"), 0)
        yield ChatGenerationChunk(message=AIMessageChunk(
            content="", chunk_position="last", response_metadata={"model_name": path},
            usage_metadata=UsageMetadata(input_tokens=prompt_tokens, output_tokens=generated,
                                         total_tokens=prompt_tokens + generated)))


def chat_model(model: str, options: ProviderOptions, *, embeddings: Embeddings | None = None,
               temperature: float | None = None) -> GGUFChatModel:
    if not model or not Path(model).is_file():
        raise ConfigError(f"gguf: no GGUF file at {model!r}; use gguf:/path/to/model.gguf")
    return GGUFChatModel(model=str(Path(model).resolve()), temperature=temperature)
