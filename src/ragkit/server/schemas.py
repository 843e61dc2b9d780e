"""Request and response shapes: the OpenAI-compatible ones (chat completions, embeddings, models) and ragkit's
REST bodies. Fields OpenAI clients send that ragkit does not use (temperature, top_p, ...) are accepted and
ignored; ragkit's own additions (``session_id``, ``citations``) are extra fields stock clients ignore."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None

    @property
    def text(self) -> str:
        """The text of the message (text parts of a multi-part content joined)."""
        if isinstance(self.content, list):
            return "".join(str(part.get("text", "")) for part in self.content if part.get("type", "text") == "text")
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """``POST /v1/chat/completions``: the last user message is the question, earlier user/assistant messages are
    the history (system messages are ignored: ragkit answers with its own prompt). ``session_id`` (an extra
    field) continues a conversation stored in the data directory instead."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "model": "ragkit/default",
        "messages": [{"role": "user", "content": "ChatGLM 在多大显存的条件下可以进行微调？"}]}]})

    model: str = Field(description="`ragkit/<knowledge base>` (RAG with citations) or `ragkit-chat` (the LLM alone).")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    session_id: str | None = Field(None, description="Continue (or start) this stored conversation.")
    user: str | None = None


class EmbeddingsRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str | None = Field(None, description="The configured embedder (see /v1/models); other names are refused.")
    input: str | list[str] = Field(description="A text or a list of texts.")
    encoding_format: Literal["float", "base64"] = "float"


class SearchRequest(BaseModel):
    query: str = Field(min_length=1)
    k: int | None = Field(None, ge=1, le=100)
    mode: Literal["hybrid", "bm25", "dense"] | None = None
    sources: list[str] = Field(default_factory=list, description="Only search these documents.")


class AskRequest(BaseModel):
    question: str = Field(min_length=1)
    session_id: str | None = Field(None, description="Continue (or start) this stored conversation.")


class FeedbackRequest(BaseModel):
    response_id: str = Field(description="The `response_id` of an ask answer, or the `id` of a chat completion.")
    rating: int | str = Field(description="1 (👍) or -1 (👎); also 'up'/'down'.")
    comment: str = Field("", max_length=4000)


class RatingRequest(BaseModel):
    rating: int | str = Field(description="1 (👍) or -1 (👎); also 'up'/'down'.")
    comment: str = Field("", max_length=4000)


class CreateKnowledgeBase(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class CreateKey(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    scope: Literal["read", "write", "admin"] = "read"
    kbs: list[str] = Field(default_factory=list, description="Knowledge bases the key may see; empty: all.")
