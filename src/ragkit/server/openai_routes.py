"""The OpenAI-compatible routes: ``/v1/models``, ``/v1/chat/completions`` (streamed or not), ``/v1/embeddings``.

``ragkit/<kb>`` answers from a knowledge base with ragkit's RAG chain; the answer keeps its ``[n]`` markers and
the citations travel in the extra field ``citations`` (of the response, and of the final stream chunk), with
more in ``ragkit`` (abstained, rewritten query, extractive, session, timings). ``ragkit-chat`` is the configured
LLM alone. An abstention is an ordinary answer.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from starlette.concurrency import run_in_threadpool

from ragkit.errors import ConfigError
from ragkit.server.deps import Reader, ServiceDep
from ragkit.server.errors import error_body, request_lang
from ragkit.server.keys import ApiKey
from ragkit.server.schemas import ChatCompletionRequest, ChatMessage, EmbeddingsRequest, RatingRequest
from ragkit.server.service import CHAT_MODEL, NotFound, Service, merge, new_response_id
from ragkit.server.streaming import in_thread

router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"])
KB_PREFIX = "ragkit/"


def model_ids(svc: Service, key: ApiKey | None) -> list[str]:
    return [KB_PREFIX + name for name in svc.knowledge_bases(key)] + [CHAT_MODEL]


def model_kb(model: str, svc: Service, key: ApiKey | None) -> str | None:
    """The knowledge base a model id names (None: plain chat); unknown or invisible ones are a 404."""
    if model == CHAT_MODEL:
        return None
    name = model[len(KB_PREFIX):] if model.startswith(KB_PREFIX) else svc.settings.kb if model == "ragkit" else None
    if name is None or name not in svc.knowledge_bases(key):
        raise NotFound.of("model_not_found", model=model, models=", ".join(model_ids(svc, key)))
    return name


def split_messages(messages: list[ChatMessage]) -> tuple[str, list[BaseMessage]]:
    """(the last user message, the user/assistant messages before it as history)."""
    last = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
    if last is None or not messages[last].text.strip():
        raise ConfigError.of("no_question")
    history: list[BaseMessage] = []
    for m in messages[:last]:
        if m.role == "user":
            history.append(HumanMessage(m.text))
        elif m.role == "assistant" and m.text:
            history.append(AIMessage(m.text))
    return messages[last].text.strip(), history


@router.get("/models", summary="One model per knowledge base, plus plain chat with the configured LLM")
def list_models(svc: ServiceDep, key: Reader) -> dict[str, Any]:
    data = [{"id": mid, "object": "model", "created": 0, "owned_by": "ragkit"} for mid in model_ids(svc, key)]
    data.append({"id": svc.settings.embedder, "object": "model", "created": 0, "owned_by": "ragkit"})
    return {"object": "list", "data": data}


def _extras(result: dict[str, Any], session_id: str | None) -> dict[str, Any]:
    return {
        "citations": [c.as_json() for c in result.get("citations", [])],
        "ragkit": {"abstained": bool(result.get("abstained")), "rewritten_query": result.get("rewritten_query"),
                   "extractive": bool(result.get("extractive")), "session_id": session_id,
                   "timings": result.get("timings", {})},
    }


@router.post("/chat/completions", summary="Answer the last user message (RAG with citations, or plain chat)")
async def chat_completions(body: ChatCompletionRequest, request: Request, svc: ServiceDep, key: Reader) -> Any:
    kb = model_kb(body.model, svc, key)
    question, history = split_messages(body.messages)
    session_id = body.session_id
    if session_id is not None:
        history = []  # the stored conversation is the history
    response_id, created = new_response_id(), int(time.time())

    def chunks() -> Any:
        return svc.stream_answer(kb, question, session_id=session_id, history=history, response_id=response_id)

    if not body.stream:
        result = await run_in_threadpool(lambda: merge(chunks()))
        return {
            "id": response_id, "object": "chat.completion", "created": created, "model": body.model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": result.get("answer", "")}}],
            **_extras(result, session_id),
        }
    stream = in_thread(chunks)
    try:
        first = await anext(stream)  # a failure before the first piece is an ordinary HTTP error
    except StopAsyncIteration:
        first = {}
    lang = request_lang(request.headers.get("accept-language"), svc.settings.lang)
    return StreamingResponse(_events(stream, first, response_id, created, body.model, session_id, lang),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _events(stream: AsyncIterator[dict[str, Any]], first: dict[str, Any], response_id: str, created: int,
                  model: str, session_id: str | None, lang: str) -> AsyncIterator[str]:
    head = {"id": response_id, "object": "chat.completion.chunk", "created": created, "model": model}

    def event(data: dict[str, Any]) -> str:
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    yield event({**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                      "finish_reason": None}]})
    result: dict[str, Any] = {}
    try:
        chunk: dict[str, Any] | None = first
        while chunk is not None:
            if chunk.get("answer"):
                yield event({**head, "choices": [{"index": 0, "delta": {"content": chunk["answer"]},
                                                  "finish_reason": None}]})
            result.update({k: v for k, v in chunk.items() if k != "answer"})
            chunk = await anext(stream, None)
    except Exception as exc:  # after the headers went out: the error travels as an event, as OpenAI does
        yield event(error_body(exc, lang)[1])
        return
    yield event({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                 **_extras(result, session_id)})
    yield "data: [DONE]\n\n"


@router.post("/chat/completions/{response_id}/feedback", summary="Rate an answer by its id: 👍 (1) or 👎 (-1)")
def rate_completion(response_id: str, body: RatingRequest, svc: ServiceDep, key: Reader) -> dict[str, Any]:
    from ragkit.server.rest import rate

    return rate(svc, key, response_id, body.rating, body.comment)


@router.post("/embeddings", summary="Embed texts with the configured embedder")
async def embeddings(body: EmbeddingsRequest, svc: ServiceDep, key: Reader) -> dict[str, Any]:
    if body.model not in (None, "", svc.settings.embedder):
        raise NotFound.of("model_not_found", model=body.model, models=svc.settings.embedder)
    texts = [body.input] if isinstance(body.input, str) else list(body.input)
    vectors = await run_in_threadpool(svc.embeddings.embed_documents, texts)

    def encode(vector: list[float]) -> Any:
        if body.encoding_format == "base64":
            return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
        return [float(v) for v in vector]

    data = [{"object": "embedding", "index": i, "embedding": encode(v)} for i, v in enumerate(vectors)]
    used = sum(len(t) for t in texts)
    return {"object": "list", "data": data, "model": svc.settings.embedder,
            "usage": {"prompt_tokens": used, "total_tokens": used}}
