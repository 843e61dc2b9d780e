"""Bounds on what a file may expand to, shared by every loader: archives, images, PDF pages.

A small file can be a bomb: a 1.4 MB ``.docx`` whose ``word/document.xml`` inflates to 400 MB, a PNG that
declares 100,000 x 100,000 pixels, a PDF with a million empty pages. ``max_file_mb`` only bounds the bytes on
disk; these checks bound what parsing them would cost, *before* any parser runs, and refuse with one
:class:`~ragkit.errors.LoadError` line naming the limit and its setting (the caller adds the file name).

API (loaders never read settings: :class:`Limits` reaches them as an argument, built by the composition root
from ``RAGKIT_MAX_EXPANDED_MB``, ``RAGKIT_MAX_RATIO``, ``RAGKIT_MAX_MEMBERS``, ``RAGKIT_MAX_PIXELS`` and
``RAGKIT_MAX_PAGES``; ``Limits()`` holds the defaults):

* :func:`check_archive` ``(data, limits)``: a ZIP container (docx, pptx, xlsx, epub, odt...). Reads only the
  central directory and refuses when the members' declared sizes add up to more than ``max_expanded_mb``, when
  one member of more than 1 MB declares a compression ratio above ``max_ratio``, or when there are more than
  ``max_members`` members. Declared sizes are binding for Python readers: :mod:`zipfile` never yields more
  than a member's declared size (it stops there and fails the CRC check), so a lying header cannot inflate
  further. :func:`ragkit.formats.load_bytes` calls it for every input that is a ZIP archive, so a new
  container loader is covered without doing anything; call it yourself for a ZIP nested inside a file.
* :func:`check_pixels` ``(width, height, max_pixels)``: an image about to be decoded (OCR, embedded pictures).
* :func:`open_image` ``(data, limits)``: a Pillow image opened lazily (the header only), its pixel count
  checked before anything is decoded; Pillow's own ``DecompressionBombError`` becomes the same LoadError.
* :func:`check_pages` ``(count, limits)``: a paged document (PDF) before its pages are read.

>>> import io, zipfile
>>> buffer = io.BytesIO()
>>> with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
...     z.writestr("word/document.xml", "<w:p/>" * 1_000_000)
>>> check_archive(buffer.getvalue(), Limits())
Traceback (most recent call last):
...
ragkit.errors.LoadError: the archive member word/document.xml expands 6.0 MB at a ratio of 685:1, over the 100:1 limit (RAGKIT_MAX_RATIO): refused as a possible zip bomb
>>> check_archive(buffer.getvalue(), Limits(max_ratio=2000))  # within every limit: nothing happens
>>> check_pages(3, Limits(max_pages=2))
Traceback (most recent call last):
...
ragkit.errors.LoadError: 3 pages, over the 2-page limit (RAGKIT_MAX_PAGES)
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ragkit.errors import LoadError

if TYPE_CHECKING:
    from PIL import Image

ZIP_MAGIC = b"PK\x03\x04"
_RATIO_FLOOR = 1_000_000  # members smaller than this may compress as well as they like


@dataclass(frozen=True)
class Limits:
    """What one file may expand to while it is parsed (defaults = the settings' defaults)."""

    max_expanded_mb: float = 100.0  # all members of an archive together, uncompressed
    max_ratio: float = 100.0  # uncompressed / compressed size of one member over 1 MB
    max_members: int = 10_000  # entries of an archive
    max_pixels: int = 50_000_000  # width x height of one image
    max_pages: int = 5_000  # pages of a PDF


def is_archive(data: bytes) -> bool:
    """Whether ``data`` starts like a ZIP archive.

    >>> is_archive(b"PK\\x03\\x04rest"), is_archive(b"%PDF-1.7")
    (True, False)
    """
    return data[:4] == ZIP_MAGIC


def check_archive(data: bytes, limits: Limits) -> None:
    """Refuse a ZIP container whose declared contents exceed ``limits`` (see the module docstring)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # not readable as a ZIP: the format's loader says why
    if len(members) > limits.max_members:
        raise LoadError.of("archive_members", n=len(members), limit=limits.max_members)
    total = sum(m.file_size for m in members)
    if total > limits.max_expanded_mb * 1e6:
        raise LoadError.of("archive_expanded", size=f"{total / 1e6:.1f}", limit=f"{limits.max_expanded_mb:g}")
    for member in members:
        if member.file_size > _RATIO_FLOOR:
            ratio = member.file_size / max(member.compress_size, 1)
            if ratio > limits.max_ratio:
                raise LoadError.of("archive_ratio", member=member.filename, size=f"{member.file_size / 1e6:.1f}",
                                   ratio=f"{ratio:.0f}", limit=f"{limits.max_ratio:g}")


def check_pixels(width: int, height: int, max_pixels: int) -> None:
    """Refuse an image of more than ``max_pixels`` pixels (``Limits.max_pixels``) before it is decoded.

    >>> check_pixels(100_000, 100_000, Limits().max_pixels)
    Traceback (most recent call last):
    ...
    ragkit.errors.LoadError: an image of 100000 x 100000 pixels, over the 50000000-pixel limit (RAGKIT_MAX_PIXELS)
    """
    if width * height > max_pixels:
        raise LoadError.of("image_pixels", width=width, height=height, limit=max_pixels)


def open_image(data: bytes, limits: Limits) -> Image.Image:
    """A Pillow image of ``data``, opened lazily and its size checked with :func:`check_pixels`.

    >>> from PIL import Image
    >>> buffer = io.BytesIO(); Image.new("L", (4, 3)).save(buffer, "PNG")
    >>> open_image(buffer.getvalue(), Limits()).size
    (4, 3)
    """
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(data))  # reads the header only
    except Image.DecompressionBombError as exc:
        raise LoadError.of("image_pixels", width="?", height="?", limit=limits.max_pixels) from exc
    check_pixels(*image.size, limits.max_pixels)
    return image


def check_pages(count: int, limits: Limits) -> None:
    """Refuse a document of more than ``limits.max_pages`` pages before its pages are read."""
    if count > limits.max_pages:
        raise LoadError.of("too_many_pages", n=count, limit=limits.max_pages)
