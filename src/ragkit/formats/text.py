"""Plain text and Markdown: decoded (UTF-8, UTF-8/16/32 with BOM, GB18030/GBK) and kept as they are."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from ragkit.errors import LoadError
from ragkit.formats.base import LoadedFile, first_heading

_BOMS = (  # UTF-32 first: its little-endian BOM starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
_CONTROL = bytes(b for b in range(0x20) if b not in (9, 10, 11, 12, 13, 27)) + b"\x7f"
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode bytes that should be text; returns (text, encoding) or raises :class:`LoadError`.

    >>> decode_text(codecs.BOM_UTF8 + "你好".encode())
    ('你好', 'utf-8-sig')
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError as exc:
                raise LoadError.of("bad_bom", encoding=encoding) from exc
    head = data[:8192]
    if b"\x00" in head or (head and len(head) - len(head.translate(None, _CONTROL)) > 0.05 * len(head)):
        raise LoadError.of("binary")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = ""
    if text and not _PRIVATE_USE.search(text):  # Big5 and other bytes decode into private-use garbage
        return text, "gb18030"
    raise LoadError.of("unknown_encoding")


def load_markdown(path: Path, data: bytes) -> LoadedFile:
    text, encoding = decode_text(data)
    return LoadedFile(text, first_heading(text, path.stem), encoding=encoding)


def load_text(path: Path, data: bytes) -> LoadedFile:
    text, encoding = decode_text(data)
    return LoadedFile(text, path.stem, markdown=False, encoding=encoding)


