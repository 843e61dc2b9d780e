"""Errors mapped once, to OpenAI-style bodies on every route: ``{"error": {"message", "type", "code", "param"}}``.

The message is one line a person can act on, in the caller's language (``Accept-Language``: zh or en; the
``lang`` setting otherwise). No traceback and no secret reaches a client: anything that looks like a ragkit key
(``rk-...``) or equals a configured provider key is replaced by ``***``.

>>> from ragkit.server.service import NotFound
>>> error_body(NotFound.of("kb_not_found", kb="x"), "en")
(404, {'error': {'message': "no knowledge base 'x' (or this key cannot see it)", 'type': 'not_found_error', 'code': 'kb_not_found', 'param': None}})
>>> redact("bad key rk-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg")
'bad key ***'
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from ragkit.errors import ConfigError, LoadError, ProviderError, RagkitError, StoreError, localized, one_line

log = logging.getLogger("ragkit.server")
_TOKEN = re.compile(r"rk-[A-Za-z0-9_\-]{16,}")


class PayloadTooLarge(RagkitError):
    """An upload over ``max_file_mb``."""


class BadUpload(RagkitError):
    """An upload that cannot be taken (no file, every name refused)."""


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    text = _TOKEN.sub("***", text)
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, "***")
    return text


def status_of(exc: BaseException) -> tuple[int, str]:
    """(HTTP status, OpenAI error type) for an exception."""
    from ragkit.server.deps import Unauthorized
    from ragkit.server.service import Conflict, Forbidden, NotFound

    key = getattr(exc, "key", None)
    table: list[tuple[type[BaseException], int, str]] = [
        (Unauthorized, 401, "authentication_error"), (Forbidden, 403, "permission_error"),
        (NotFound, 404, "not_found_error"), (Conflict, 409, "conflict_error"),
        (PayloadTooLarge, 413, "invalid_request_error"), (BadUpload, 400, "invalid_request_error"),
        (ConfigError, 400, "invalid_request_error"), (LoadError, 422, "invalid_request_error"),
    ]
    for cls, status, kind in table:
        if isinstance(exc, cls):
            return status, kind
    if isinstance(exc, ProviderError):
        return {"llm_timeout": 504, "llm_429": 503}.get(key or "", 502), "upstream_error"
    if isinstance(exc, StoreError):
        status = {"busy": 409, "kb_empty": 404, "no_document": 404, "embedder_mismatch": 409,
                  "chroma_unreachable": 503}.get(key or "", 500)
        return status, "store_error"
    if isinstance(exc, RagkitError):
        return 400, "invalid_request_error"
    return 500, "server_error"


def error_body(exc: BaseException, lang: str, secrets: Iterable[str] = ()) -> tuple[int, dict[str, object]]:
    status, kind = status_of(exc)
    if isinstance(exc, RagkitError):
        message = localized(exc, lang)
    else:
        log.error("internal error", exc_info=exc)
        message = ("内部错误：" if lang == "zh" else "internal error: ") + one_line(exc)
    code = getattr(exc, "key", None) or kind
    return status, {"error": {"message": redact(message, secrets), "type": kind, "code": code, "param": None}}


def request_lang(accept_language: str | None, default: str) -> str:
    """zh or en from an ``Accept-Language`` header, else ``default``.

    >>> request_lang("en-US,en;q=0.9", "zh"), request_lang(None, "zh"), request_lang("fr", "en")
    ('en', 'zh', 'en')
    """
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return default
