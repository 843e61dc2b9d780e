"""Composition root: :class:`~ragkit.config.Settings` -> ready objects. The only reader of settings.

>>> import tempfile
>>> from ragkit.config import Settings
>>> kb = open_kb(Settings(data_dir=tempfile.mkdtemp(), embedder="fake:32"))
>>> kb.name, kb.exists()
('default', False)
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from pathlib import Path

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.retrievers import BaseRetriever

from ragkit.config import Settings
from ragkit.errors import ConfigError, StoreError
from ragkit.formats.limits import Limits
from ragkit.formats.ocr import OcrOptions
from ragkit.ingest import SplitOptions
from ragkit.lexical import LexicalIndex
from ragkit.agent import Agent
from ragkit.chains import Conversation, rag_chain
from ragkit.memory import Conversations
from ragkit.providers import ProviderOptions, make_chat_model, make_embeddings, make_reranker, rerank_provider
from ragkit.reranking import Reranker, RerankingRetriever
from ragkit.retrieval import HybridRetriever
from ragkit.store import KnowledgeBase, chroma_client, connect_sqlite
from ragkit.i18n import tr
from ragkit.terms import TermStore, Vocabulary, refresh_terms
from ragkit.tokenize import Tokenizer

SQLITE_FILE = "ragkit.sqlite"
CHROMA_DIR = "chroma"
LOCK_FILE = "write.lock"
AGENT_FILE = "agent.sqlite"
UPLOADS_DIR = "uploads"


def provider_options(settings: Settings) -> ProviderOptions:
    return ProviderOptions(
        openai_base_url=settings.openai_base_url, openai_api_key=settings.openai_api_key,
        zhipuai_api_key=settings.zhipuai_api_key, dashscope_api_key=settings.dashscope_api_key,
        zhipuai_base_url=settings.zhipuai_base_url, dashscope_base_url=settings.dashscope_base_url,
        ollama_base_url=settings.ollama_base_url, timeout=settings.request_timeout,
        max_retries=settings.max_retries, batch_size=settings.embed_batch_size, user_dict=settings.user_dict,
        text_tool_calls=settings.text_tool_calls, rerank_api_key=settings.rerank_api_key,
    )


def limits(settings: Settings) -> Limits:
    """What one file may expand to while it is parsed (:mod:`ragkit.formats.limits`)."""
    return Limits(max_expanded_mb=settings.max_expanded_mb, max_ratio=settings.max_ratio,
                  max_members=settings.max_members, max_pixels=settings.max_pixels, max_pages=settings.max_pages)


def ocr_options(settings: Settings) -> OcrOptions:
    """When scanned PDF pages and images are OCR'd and what one file may cost."""
    return OcrOptions(mode=settings.ocr, dpi=settings.ocr_dpi, max_pages=settings.ocr_max_pages,
                      timeout_s=settings.ocr_timeout, max_pixels=settings.max_pixels,
                      min_confidence=settings.ocr_min_confidence)


def split_options(settings: Settings) -> SplitOptions:
    return SplitOptions(chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap)


def tokenizer(settings: Settings) -> Tokenizer:
    return Tokenizer(user_dict=settings.user_dict)


def embeddings(settings: Settings) -> Embeddings:
    """The configured embedding model (cheap: the model loads on first use)."""
    return make_embeddings(settings.embedder, provider_options(settings))


def sqlite(settings: Settings) -> sqlite3.Connection:
    """A new connection to the data directory's SQLite file (one per thread when used from several)."""
    return connect_sqlite(Path(settings.data_dir) / SQLITE_FILE)


def make_private(data_dir: Path) -> None:
    """Make ``data_dir`` 0700 and the files ragkit keeps in it 0600 (``private_data``, on by default).

    Conversations, feedback and API key hashes live there. The SQLite file is created 0600 before SQLite opens
    it (SQLite gives its WAL and shared-memory files the same mode); files written since the last open (Chroma's)
    are tightened here too: they were unreachable meanwhile, inside the 0700 directory.

    >>> import stat, tempfile
    >>> root = Path(tempfile.mkdtemp()) / "data"; make_private(root)
    >>> oct(stat.S_IMODE(root.stat().st_mode)), oct(stat.S_IMODE((root / SQLITE_FILE).stat().st_mode))
    ('0o700', '0o600')
    """
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not (data_dir / SQLITE_FILE).exists():
        os.close(os.open(data_dir / SQLITE_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    paths = [data_dir, data_dir / UPLOADS_DIR]
    for folder, dirs, files in os.walk(data_dir):
        if Path(folder) == data_dir:
            dirs[:] = [d for d in dirs if d != UPLOADS_DIR]  # uploads are written 0600 by ragkit.workspace
        paths += [Path(folder, name) for name in (*dirs, *files)]
    for path in paths:
        with contextlib.suppress(OSError):  # not ours (a shared, read-only data directory): leave it
            if not path.is_symlink() and path.exists():
                os.chmod(path, 0o700 if path.is_dir() else 0o600)


def open_kb(settings: Settings, *, kb: str | None = None, embeddings: Embeddings | None = None,
            must_exist: bool = False) -> KnowledgeBase:
    """The knowledge base named in settings (or ``kb``), on the configured data dir and Chroma.

    ``embeddings`` reuses an already built model for ``settings.embedder`` (e.g. across knowledge bases).
    ``must_exist`` (for commands that only read) raises :class:`~ragkit.errors.StoreError` instead of creating
    a data directory where there is none, e.g. a mistyped ``--data-dir``.
    """
    data_dir = Path(settings.data_dir)
    embeddings = embeddings or make_embeddings(settings.embedder, provider_options(settings))  # validates the spec
    if must_exist and not (data_dir / SQLITE_FILE).is_file():
        if settings.chroma_url:
            chroma_client(url=settings.chroma_url)  # an unreachable server is the first thing to say
        raise StoreError.of("no_data_dir", path=str(data_dir.resolve()))
    name = kb or settings.kb
    if settings.private_data:
        make_private(data_dir)
    conn = connect_sqlite(data_dir / SQLITE_FILE)
    knowledge = KnowledgeBase(
        name=name, embedder=settings.embedder, conn=conn, chroma_url=settings.chroma_url,
        chroma_root=data_dir / CHROMA_DIR, embeddings=embeddings,
        lexical=LexicalIndex(conn, kb=name, tokenizer=tokenizer(settings)),
        lock_path=data_dir / LOCK_FILE,
    )
    _bring_up_to_date(knowledge, settings.lang)
    return knowledge


def _bring_up_to_date(kb: KnowledgeBase, lang: str) -> None:
    """A knowledge base made by an older ragkit (or with another user dictionary) gets its BM25 tokens made
    again from the stored texts, and its terms learned, with a message; no text is embedded again. Skipped
    while another process writes (that process does it)."""
    lexical = kb.lexical
    moved = lexical.needs_migration() or lexical.has_pending()  # an older ragkit's FTS5 index; a crash's leftovers
    if not moved and (not lexical.count() or not (lexical.stale() or not TermStore(kb.conn, kb=kb.name).all())):
        return
    try:
        with kb.write_lock():
            if lexical.needs_migration():
                logging.getLogger("ragkit").warning(tr("migrating_bm25", lang, kb=kb.name, n=lexical.count()))
                lexical.migrate()
            lexical.sync()
            if moved and not lexical.stale() and TermStore(kb.conn, kb=kb.name).all():
                return
            if lexical.stale():
                logging.getLogger("ragkit").warning(tr("retokenizing", lang, kb=kb.name, n=lexical.count()))
                lexical.retokenize()
            refresh_terms(lexical)
    except StoreError as exc:
        if exc.key != "busy":
            raise


def make_retriever(settings: Settings, kb: KnowledgeBase, **overrides: object) -> BaseRetriever:
    """The hybrid retriever over ``kb`` with the settings' mode, weights and k (``overrides`` win), followed by
    the configured reranker, if any (it orders ``rerank_candidates`` fused passages and keeps ``k``)."""
    params: dict[str, object] = {
        "k": settings.top_k, "mode": settings.retrieval_mode, "bm25_weight": settings.bm25_weight,
        "dense_weight": settings.dense_weight,
        "names_weight": settings.names_weight, "rrf_k": settings.rrf_k, "fetch_k": settings.fetch_k,
    }
    params.update({key: value for key, value in overrides.items() if value is not None})
    hybrid = HybridRetriever(store=kb.store(), **params)
    if settings.reranker is None:
        return hybrid
    return RerankingRetriever(retriever=hybrid, reranker=reranker(settings, kb), k=hybrid.k,
                              candidates=settings.rerank_candidates)


def reranker(settings: Settings, kb: KnowledgeBase | None = None) -> Reranker:
    """The configured reranker (the ``llm`` one ranks with the configured chat model)."""
    if settings.reranker is None:
        raise ConfigError("no reranker is configured (RAGKIT_RERANKER)")
    chat = llm(settings, kb) if rerank_provider(settings.reranker)[0].name == "llm" else None
    return make_reranker(settings.reranker, provider_options(settings), llm=chat)


def llm(settings: Settings, kb: KnowledgeBase | None = None) -> BaseChatModel:
    """The configured chat model (the extractive default gets the knowledge base's embeddings)."""
    return make_chat_model(settings.llm, provider_options(settings), embeddings=kb.embeddings if kb else None,
                           temperature=settings.temperature, vocabulary=Vocabulary(kb.lexical) if kb else None)


def conversations(kb: KnowledgeBase) -> Conversations:
    """Chat sessions, stored next to the knowledge base's indexes."""
    return Conversations(kb.conn)


def conversation(settings: Settings, kb: KnowledgeBase, *, model: BaseChatModel | None = None,
                 **retriever_overrides: object) -> Conversation:
    """The RAG chain with memory over ``kb`` (``model`` replaces the configured LLM)."""
    chain = rag_chain(make_retriever(settings, kb, **retriever_overrides), model or llm(settings, kb))
    return Conversation(chain, conversations(kb), kb=kb.name, max_turns=settings.history_turns,
                        max_chars=settings.history_chars)


def agent(settings: Settings, kb: KnowledgeBase, *, model: BaseChatModel | None = None) -> Agent:
    """The tool-using agent over ``kb`` (checkpoints in the data directory; the RAG chain as its fallback)."""
    chosen = model or llm(settings, kb)
    return Agent(kb, make_retriever(settings, kb), chosen, checkpoints=Path(settings.data_dir) / AGENT_FILE,
                 fallback=conversation(settings, kb, model=chosen), max_steps=settings.agent_max_steps)
