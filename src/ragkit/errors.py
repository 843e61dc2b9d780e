"""Errors with messages a user can act on. The CLI and the app print them as one line.

An error made from a message key (see :mod:`ragkit.i18n`) can be shown in Chinese or English;
``str(error)`` is the English text.

>>> err = LoadError.of("file_too_large", size=20.0, limit=10)
>>> str(err), localized(err, "zh")
('20.0 MB is over the 10 MB limit (RAGKIT_MAX_FILE_MB)', '文件 20.0 MB，超过 10 MB 上限（RAGKIT_MAX_FILE_MB）')
"""

from __future__ import annotations

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
