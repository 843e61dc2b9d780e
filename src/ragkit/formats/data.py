"""``.json`` and ``.jsonl`` as text: checked, and written with real characters instead of ``\\uXXXX`` escapes.

A JSON document is indented two spaces per level, so the splitter cuts it between lines; a JSON Lines file
keeps one record per line. A malformed file is refused with the line and column of the first error.

>>> from pathlib import Path
>>> print(load_json(Path("a.json"), b'{"name": "\\\\u6a21\\\\u578b", "size": [7, 13]}').text)
{
  "name": "模型",
  "size": [
    7,
    13
  ]
}
>>> load_jsonl(Path("a.jsonl"), b'{"q": 1}\\n\\n{"q": 2\\n').text
Traceback (most recent call last):
...
ragkit.errors.LoadError: not valid JSON: line 3, column 8: Expecting ',' delimiter
"""

from __future__ import annotations

import json
from pathlib import Path

from ragkit.errors import LoadError
from ragkit.formats.base import LoadedFile
from ragkit.formats.text import decode_text


def load_json(path: Path, data: bytes) -> LoadedFile:
    text, encoding = decode_text(data)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LoadError.of("bad_json", line=exc.lineno, column=exc.colno, detail=exc.msg) from exc
    return LoadedFile(json.dumps(value, ensure_ascii=False, indent=2), path.stem, markdown=False, encoding=encoding)


def load_jsonl(path: Path, data: bytes) -> LoadedFile:
    text, encoding = decode_text(data)
    lines = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LoadError.of("bad_json", line=number, column=exc.colno, detail=exc.msg) from exc
        lines.append(json.dumps(value, ensure_ascii=False))
    return LoadedFile("\n".join(lines), path.stem, markdown=False, encoding=encoding)
