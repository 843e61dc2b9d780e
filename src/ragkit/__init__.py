"""ragkit: retrieval-augmented applications on LangChain, Chinese-aware and offline by default.

The public API; each name lives in the module that owns it::

    from ragkit import Settings, open_kb, ingest, make_retriever, rag_chain, make_chat_model

>>> from ragkit import Settings
>>> Settings().embedder
'usem3'
"""

from ragkit.build import make_retriever, open_kb
from ragkit.chains import Conversation, chat_chain, rag_chain
from ragkit.config import Settings, load_settings
from ragkit.errors import ConfigError, LoadError, ProviderError, RagkitError, StoreError
from ragkit.ingest import IngestReport, SplitOptions, ingest
from ragkit.formats import load_bytes
from ragkit.providers import make_chat_model, make_embeddings
from ragkit.retrieval import HybridRetriever
from ragkit.splitting import split_text
from ragkit.store import HybridStore, KnowledgeBase

__all__ = [
    "ConfigError",
    "Conversation",
    "HybridRetriever",
    "HybridStore",
    "IngestReport",
    "KnowledgeBase",
    "LoadError",
    "ProviderError",
    "RagkitError",
    "Settings",
    "SplitOptions",
    "StoreError",
    "ingest",
    "load_bytes",
    "chat_chain",
    "load_settings",
    "make_chat_model",
    "make_embeddings",
    "make_retriever",
    "open_kb",
    "rag_chain",
    "split_text",
]
