"""EPUB e-books (2 and 3) with :mod:`zipfile` and lxml: every spine document is a chapter under a heading.

The reading order is the package's spine; a chapter's heading is its table-of-contents label (EPUB 3 ``nav``
or EPUB 2 NCX), else its own first heading, else its ``<title>``. Chapter bodies go through the HTML loader
(``unstructured``'s ``partition_html``), so their own ``<h1>``-``<h6>`` stay headings one level below the
chapter's (unless the chapter's first heading is its name). ``unstructured``'s ``partition_epub`` needs the pandoc program, which is not a Python dependency,
and ebooklib would add a package for what three XML files describe.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ragkit.errors import LoadError
from ragkit.formats.base import LoadedFile
from ragkit.formats.containers import require_zip
from ragkit.formats.html import load_html

_NS = {
    "c": "urn:oasis:names:tc:opendocument:xmlns:container", "opf": "http://www.idpf.org/2007/opf",
    "dc": "http://purl.org/dc/elements/1.1/", "ncx": "http://www.daisy.org/z3986/2005/ncx/",
    "x": "http://www.w3.org/1999/xhtml", "epub": "http://www.idpf.org/2007/ops",
}
_HTML_TYPES = ("application/xhtml+xml", "text/html")
_HEADING = re.compile(r"^(#{1,5}) ", re.MULTILINE)


def _xml(archive: zipfile.ZipFile, name: str) -> Any:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True)
    return etree.fromstring(archive.read(name), parser)


def _labels(archive: zipfile.ZipFile, base: str, manifest: dict[str, tuple[str, str, str]], ncx_id: str) -> dict[str, str]:
    """Chapter file -> table-of-contents label, from the EPUB 3 nav document or the EPUB 2 NCX."""
    labels: dict[str, str] = {}

    def add(href: str, label: str, folder: str) -> None:
        target = posixpath.normpath(posixpath.join(folder, unquote(href.split("#")[0])))
        if label and target not in labels:
            labels[target] = " ".join(label.split())

    for href, media, props in manifest.values():
        if "nav" in props.split():
            nav = _xml(archive, href)
            for link in nav.iterfind(".//x:nav//x:a[@href]", _NS):
                add(link.get("href"), "".join(link.itertext()), posixpath.dirname(href))
    if ncx_id in manifest and not labels:
        href = manifest[ncx_id][0]
        ncx = _xml(archive, href)
        for point in ncx.iterfind(".//ncx:navPoint", _NS):
            text = point.findtext("ncx:navLabel/ncx:text", "", _NS)
            content = point.find("ncx:content", _NS)
            if content is not None:
                add(content.get("src", ""), text, posixpath.dirname(href))
    return labels


def _chapter(archive: zipfile.ZipFile, href: str, label: str | None) -> str:
    """A chapter under ``# label``: kept as it is when its own first heading is ``# label``, else its headings
    go one level down below the label."""
    loaded = load_html(Path(posixpath.basename(href)), archive.read(href))
    body = loaded.text.strip()
    first = body.partition("\n")[0]
    if first.startswith("# ") and (label is None or first[2:].strip() == label):
        return body
    body = _HEADING.sub(lambda m: "#" + m.group(1) + " ", body)
    return f"# {label or loaded.title}\n\n{body}".strip()


def load_epub(path: Path, data: bytes) -> LoadedFile:
    require_zip(data, "EPUB")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        container = _xml(archive, "META-INF/container.xml")
        rootfile = container.find(".//c:rootfile", _NS)
        if rootfile is None:
            raise KeyError("META-INF/container.xml names no package document")
        opf_path = rootfile.get("full-path", "")
        opf = _xml(archive, opf_path)
        base = posixpath.dirname(opf_path)
        manifest = {
            item.get("id"): (posixpath.normpath(posixpath.join(base, unquote(item.get("href", "")))),
                             item.get("media-type", ""), item.get("properties", ""))
            for item in opf.iterfind(".//opf:manifest/opf:item", _NS)
        }
        spine = opf.find(".//opf:spine", _NS)
        if spine is None:
            raise KeyError("the package document has no spine")
        labels = _labels(archive, base, manifest, spine.get("toc", ""))
        chapters = []
        for ref in spine.iterfind("opf:itemref", _NS):
            href, media, props = manifest.get(ref.get("idref"), ("", "", ""))
            if media in _HTML_TYPES and "nav" not in props.split():
                text = _chapter(archive, href, labels.get(href))
                if "\n" in text:  # a heading alone is an empty chapter (a cover, a blank page)
                    chapters.append(text)
        book_title = " ".join("".join(opf.findtext(".//dc:title", "", _NS)).split())
    except LoadError:
        raise
    except (KeyError, ValueError, zipfile.BadZipFile, OSError, SyntaxError) as exc:
        raise LoadError.of("bad_epub", detail=f"{type(exc).__name__}: {exc}") from exc
    return LoadedFile("\n\n".join(chapters), book_title or path.stem)
