"""ZIP containers (pptx, xlsx, epub): opened only after their declared sizes are checked.

The declared sizes in a ZIP's central directory bind Python's :mod:`zipfile` (it never yields more than a
member declares), so checking them before any parser runs bounds what a small hostile file can expand to.
The bounds match the shared archive limits (``RAGKIT_MAX_EXPANDED_MB`` 100, ratio 100:1 for members over
1 MB, 10,000 members).

>>> import io, zipfile
>>> buffer = io.BytesIO()
>>> with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
...     z.writestr("xl/worksheets/sheet1.xml", "<row/>" * 1_000_000)
>>> check_zip_expansion(buffer.getvalue(), "xlsx")
Traceback (most recent call last):
...
ragkit.errors.LoadError: not a readable xlsx file (xl/worksheets/sheet1.xml expands 6.0 MB at 685:1, over 100:1: refused as a possible zip bomb)
"""

from __future__ import annotations

import io
import zipfile

from ragkit.errors import LoadError

MAX_EXPANDED_BYTES = 100_000_000
MAX_RATIO = 100.0
MAX_MEMBERS = 10_000
_RATIO_FLOOR = 1_000_000


def check_zip_expansion(data: bytes, kind: str) -> None:
    """Refuse ``data`` unless it is a ZIP archive whose members stay within the bounds above."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise LoadError.of("bad_container", kind=kind, detail="not a ZIP archive: truncated or renamed?") from exc
    if len(members) > MAX_MEMBERS:
        raise LoadError.of("bad_container", kind=kind,
                           detail=f"{len(members)} archive members, over {MAX_MEMBERS}: refused as a possible zip bomb")
    total = sum(m.file_size for m in members)
    if total > MAX_EXPANDED_BYTES:
        raise LoadError.of("bad_container", kind=kind, detail=f"expands to {total / 1e6:.1f} MB, over "
                           f"{MAX_EXPANDED_BYTES / 1e6:g} MB: refused as a possible zip bomb")
    for m in members:
        ratio = m.file_size / max(m.compress_size, 1)
        if m.file_size > _RATIO_FLOOR and ratio > MAX_RATIO:
            raise LoadError.of("bad_container", kind=kind, detail=f"{m.filename} expands {m.file_size / 1e6:.1f} MB "
                               f"at {ratio:.0f}:1, over {MAX_RATIO:g}:1: refused as a possible zip bomb")
