"""HTML through ``unstructured``'s partitioner; heading levels only from ``<h1>``-``<h6>``; ``<pre>`` as code.

``<pre>`` blocks (shell sessions, listings) become fenced code blocks with their lines kept, so a line like
``# apt-get update`` stays a command and never becomes a heading.

lxml, under ``unstructured``, drops everything nested deeper than about 255 elements (a 100,000-level page
came out empty). Such a page is read by a streaming reader instead (:class:`_StreamText`, Python's
``html.parser``: no tree, no recursion), which keeps what a browser shows: the text, headings, paragraphs
and ``<pre>`` blocks.

>>> page = b"<h1>APT</h1><p>Update first:</p><pre class='screen'># apt-get update\\n# apt-get upgrade</pre>"
>>> print(load_html(Path("apt.html"), page).text)
# APT
<BLANKLINE>
Update first:
<BLANKLINE>
```
# apt-get update
# apt-get upgrade
```
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from ragkit.formats.base import LoadedFile, first_heading
from ragkit.formats.elements import elements_markdown, offline_unstructured
from ragkit.formats.text import decode_text

MAX_DEPTH = 250  # deeper than this, lxml (libxml2) silently drops the content
_FENCED = re.compile(r"^(`{3,}|~{3,}).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
_SELF_CLOSING = {"p", "li", "dt", "dd", "tr", "td", "th", "option"}  # an open one is closed by the next
_BLOCK = {"address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "figcaption", "figure", "footer",
          "form", "header", "hr", "li", "main", "nav", "ol", "p", "section", "table", "tr", "ul", "br", "td", "th"}
_HIDDEN = {"script", "style", "head", "title", "template", "noscript"}


def fence(code: str) -> str:
    """``code`` as a fenced Markdown block, the fence longer than any backtick run inside.

    >>> print(fence("# apt-get update"))
    ```
    # apt-get update
    ```
    """
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    marks = "`" * max(3, longest + 1)
    return f"{marks}\n{code.strip(chr(10))}\n{marks}"


class _StreamText(HTMLParser):
    """The visible text of a page as Markdown, and its nesting depth, in one pass without a tree."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.depth = 0
        self.blocks: list[str] = []
        self.line: list[str] = []
        self.hidden = 0
        self.pre = 0
        self.heading = 0

    def _flush(self) -> None:
        text = "".join(self.line)
        self.line = []
        if self.pre:
            return
        text = " ".join(text.split())
        if text:
            self.blocks.append("#" * self.heading + " " + text if self.heading else text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            if tag in _BLOCK:
                self._flush()
            return
        if tag in _SELF_CLOSING and self.stack and self.stack[-1] == tag:
            self.handle_endtag(tag)
        self.stack.append(tag)
        self.depth = max(self.depth, len(self.stack))
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag == "pre":
            self._flush()
            self.pre += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self.heading = int(tag[1])
        elif tag in _BLOCK:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.stack:
            return
        while self.stack:
            open_tag = self.stack.pop()
            if open_tag in _HIDDEN:
                self.hidden -= 1
            elif open_tag == "pre":
                self.pre -= 1
                if not self.pre:
                    code = "".join(self.line)
                    self.line = []
                    if code.strip():
                        self.blocks.append(fence(code))
            elif re.fullmatch(r"h[1-6]", open_tag):
                self._flush()
                self.heading = 0
            elif open_tag in _BLOCK:
                self._flush()
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.line.append(data)

    def markdown(self) -> str:
        self._flush()
        return "\n\n".join(self.blocks)


def stream_text(text: str) -> tuple[str, int]:
    """The Markdown of what a browser shows of ``text``, and its deepest element nesting.

    >>> stream_text("<div>" * 1000 + "<h2>深处</h2><p>文字。</p>" + "</div>" * 1000)
    ('## 深处\\n\\n文字。', 1001)
    """
    reader = _StreamText()
    reader.feed(text)
    reader.close()
    return reader.markdown(), reader.depth


def load_html(path: Path, data: bytes) -> LoadedFile:
    text, encoding = decode_text(data)
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)  # lxml refuses a str with an encoding declaration
    streamed, depth = stream_text(text)
    if depth > MAX_DEPTH:  # lxml would lose what is nested deeper: keep the streaming reader's text
        markdown = streamed
    else:
        offline_unstructured()
        from unstructured.partition.html import partition_html

        elements = partition_html(text=text, languages=[""])  # no language detection: ragkit does not use it

        def level(element: Any) -> int | None:  # partition_html makes Titles only from <h1>-<h6>
            return (element.metadata.category_depth or 0) + 1 if element.category == "Title" else None

        markdown = elements_markdown(elements, level)
    found = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    title = html.unescape(" ".join(found.group(1).split())) if found else ""
    return LoadedFile(markdown, title or first_heading(_FENCED.sub("", markdown), path.stem), encoding=encoding)
