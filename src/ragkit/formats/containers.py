"""ZIP containers (pptx, xlsx, epub): a file that claims to be one must be a ZIP archive.

What a container may expand to is checked for every ZIP before its loader runs, against the settings' limits
(:func:`ragkit.formats.limits.check_archive`, called by :func:`ragkit.formats.load_bytes`).

>>> require_zip(b"just text, renamed", "EPUB")
Traceback (most recent call last):
...
ragkit.errors.LoadError: not a readable EPUB file (not a ZIP archive: truncated or renamed?)
"""

from __future__ import annotations

import io
import zipfile

from ragkit.errors import LoadError


def require_zip(data: bytes, kind: str) -> None:
    """Refuse ``data`` unless it is a readable ZIP archive."""
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise LoadError.of("bad_container", kind=kind, detail="not a ZIP archive: truncated or renamed?")
