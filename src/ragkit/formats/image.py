"""Images (``.png .jpg .jpeg .webp .bmp .tif .tiff``) read by OCR (:mod:`ragkit.formats.ocr`).

The pixel count is checked from the header before anything is decoded; every frame of a multi-page TIFF is a
page, so citations name the page as they do for a PDF.
"""

from __future__ import annotations

import io
import re
import time
import warnings
from pathlib import Path

from ragkit.errors import LoadError
from ragkit.formats.base import LoadedFile
from ragkit.formats.limits import check_pixels
from ragkit.formats.ocr import OcrOptions, ocr_image
from ragkit.formats.pdf import Page, assemble

SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def _open(data: bytes, max_pixels: int):  # noqa: ANN202 - a PIL image
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))  # reads the header only
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:  # Pillow's own, larger limit
        pixels = re.search(r"\((\d+) pixels\)", str(exc))
        raise LoadError.of("image_pixel_count", pixels=pixels.group(1) if pixels else "?", limit=max_pixels) from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise LoadError.of("bad_image", detail=str(exc)) from exc
    check_pixels(*image.size, max_pixels)
    return image


def load_image(path: Path, data: bytes, *, ocr: OcrOptions = OcrOptions()) -> LoadedFile:
    """An image's text by OCR, one page per frame; raises :class:`LoadError` with the reason."""
    if ocr.mode == "never":
        raise LoadError.of("ocr_off")
    image = _open(data, ocr.max_pixels)
    frames = getattr(image, "n_frames", 1)
    if frames > ocr.max_pages:
        raise LoadError.of("ocr_pages", n=frames, limit=ocr.max_pages)
    started, pages = time.monotonic(), []
    for number in range(frames):
        if time.monotonic() - started > ocr.timeout_s:
            raise LoadError.of("ocr_timeout", limit=f"{ocr.timeout_s:g}", page=number + 1, n=frames)
        image.seek(number)
        check_pixels(*image.size, ocr.max_pixels)  # each frame declares its own size
        try:
            read = ocr_image(image)
        except OSError as exc:  # truncated or corrupt pixel data
            raise LoadError.of("bad_image", detail=str(exc)) from exc
        pages.append(Page(read.text, ocr=read))
        if ocr.progress:
            ocr.progress(number + 1, frames)
    if not any(page.text for page in pages):
        raise LoadError.of("ocr_no_text")
    return assemble(path.stem, pages, min_confidence=ocr.min_confidence)
