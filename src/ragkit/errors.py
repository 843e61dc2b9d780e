"""Errors with messages a user can act on. The CLI and the app print them as one line.

An error made from a message key (see :mod:`ragkit.i18n`) can be shown in Chinese or English;
``str(error)`` is the English text.

>>> err = LoadError.of("file_too_large", size=20.0, limit=10)
>>> str(err), localized(err, "zh")
('20.0 MB is over the 10 MB limit (RAGKIT_MAX_FILE_MB)', '文件 20.0 MB，超过 10 MB 上限（RAGKIT_MAX_FILE_MB）')
"""

from __future__ import annotations

import errno
import re
import shutil
from pathlib import Path
from typing import Any

from ragkit.i18n import tr


class RagkitError(Exception):
    """Base class: the message is shown to the user as it is, on one line."""

    key: str | None = None
    params: dict[str, Any] = {}

    @classmethod
    def of(cls, key: str, **params: Any) -> RagkitError:
        """An error from a message key, translatable by :func:`localized`."""
        error = cls(tr(key, "en", **params))
        error.key, error.params = key, params
        return error


class ConfigError(RagkitError):
    """A setting or provider spec is invalid, or an optional dependency is missing."""


class LoadError(RagkitError):
    """A file could not be read or parsed; the message names the reason (the caller adds the file)."""


class StoreError(RagkitError):
    """The knowledge base cannot be opened or written as asked."""


class ProviderError(RagkitError):
    """A model provider failed (missing key, unreachable endpoint, rejected request)."""


def one_line(error: BaseException) -> str:
    """Collapse an exception into one readable line for a user.

    >>> one_line(ValueError("bad\\nthing"))
    'ValueError: bad thing'
    >>> one_line(LoadError("empty file"))
    'empty file'
    """
    text = " ".join(str(error).split())
    if isinstance(error, RagkitError):
        return text
    name = type(error).__name__
    return f"{name}: {text}" if text else name


def localized(error: BaseException, lang: str = "zh") -> str:
    """:func:`one_line` in the user's language when the error has a message key."""
    if isinstance(error, RagkitError) and error.key is not None:
        return " ".join(tr(error.key, lang, **error.params).split())
    return one_line(error)


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def _escape(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte of a file name (os.fsdecode's surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return ascii(char)[1:-1]


def shown(name: str) -> str:
    """A file name (or title) as it can be printed on one line: control characters, line separators and
    bytes that are not UTF-8 are escaped, everything else is kept.

    >>> shown("bad\\udcff.md"), shown("a\\nb.md"), shown("笔记.md")
    ('bad\\\\xff.md', 'a\\\\nb.md', '笔记.md')
    """
    return _UNPRINTABLE.sub(lambda match: _escape(match.group()), name)


def encodable(name: str) -> bool:
    """Whether ``name`` can be stored as UTF-8 (a file name with undecodable bytes cannot).

    >>> encodable("笔记.md"), encodable("bad\\udcff.md")
    (True, False)
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_CONNECTION_LOST = {"RemoteProtocolError", "ConnectError", "ReadError", "WriteError", "ReadTimeout", "ConnectTimeout",
                    "ConnectionResetError", "ConnectionRefusedError", "ConnectionAbortedError", "BrokenPipeError",
                    "RemoteDisconnected", "IncompleteRead"}
_DISK_FULL = ("database or disk is full", "no space left on device")
_LOW_SPACE = 64 * 2**20  # "Error in compaction" from Chroma means a full disk only when the disk is (nearly) full


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while error is not None and error not in seen and len(seen) < 20:
        seen.append(error)
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    return seen


def named_cause(error: BaseException, *, data_dir: str | Path, chroma_url: str | None) -> RagkitError | None:
    """The cause of an unexpected error when it is one a user can act on, else None.

    * the Chroma server's connection lost mid-way (httpx ``RemoteProtocolError``, ``ConnectError``, a reset
      socket...; only with ``chroma_url``): committed files are safe, ``ragkit ingest`` again completes the rest;
    * a full disk (``ENOSPC``, SQLite's ``database or disk is full``, Chroma's ``Error in compaction`` while the
      data directory's disk has under 64 MiB free): where, and how much is free.

    >>> import sqlite3
    >>> named_cause(sqlite3.OperationalError("database or disk is full"), data_dir="/", chroma_url=None).key
    'disk_full'
    >>> named_cause(ValueError("bad"), data_dir="/", chroma_url=None) is None
    True
    """
    chain = _chain(error)
    for link in chain:
        text = str(link).lower()
        low = "error in compaction" in text and _free(data_dir) < _LOW_SPACE
        if (isinstance(link, OSError) and link.errno == errno.ENOSPC) or any(m in text for m in _DISK_FULL) or low:
            where = f"{Path(data_dir).resolve()}, {_free(data_dir) / 2**20:.0f} MiB free"
            return StoreError.of("disk_full", where=where, detail=one_line(link))
    if chroma_url is not None:
        for link in chain:
            if type(link).__name__ in _CONNECTION_LOST:
                return StoreError.of("chroma_lost", url=chroma_url, detail=one_line(link))
    return None


def _free(data_dir: str | Path) -> int:
    path = Path(data_dir).resolve()
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return 0
