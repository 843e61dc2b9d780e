"""Reading, parsing and splitting files, in worker processes when asked: the part of an ingest that needs no
store. The writer (:func:`ragkit.ingest.ingest`, one process) embeds and writes what comes out, in file order.

Each file is read and hashed by the worker; a file whose hash the journal already holds is reported unchanged
without being parsed. Parsing (PDF, OCR, Word, HTML) and splitting then run beside the writer's embedding, so
with ``workers`` processes up to ``workers`` files are prepared while one batch is embedded. At most
``2 * workers`` files are in flight: memory stays bounded however many files there are. With one worker a
file's chunks are made while the writer stores them (a million-row sheet is never a million-chunk list); a
worker process sends its file's chunks back as one list.

>>> import tempfile
>>> from pathlib import Path
>>> from ragkit.ingest import FileTask, SplitOptions
>>> path = Path(tempfile.mkdtemp()) / "a.md"
>>> _ = path.write_text("# GLM\\n\\nChatGLM 能够在 7G 显存的条件下进行微调。", encoding="utf-8")
>>> done = prepare(FileTask(path, "a.md"), None, SplitOptions(), 1_000_000)
>>> done.status, len(done.docs), done.docs[0].metadata["heading"]
('parsed', 1, 'GLM')
>>> prepare(FileTask(path, "a.md"), done.file_hash, SplitOptions(), 1_000_000).status
'unchanged'
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import sys
import types
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from langchain_core.documents import Document

from ragkit.errors import LoadError
from ragkit.formats import Limits, OcrOptions

if TYPE_CHECKING:
    from ragkit.ingest import FileTask, SplitOptions


@dataclass
class Prepared:
    """One file, ready for the writer: ``status`` is "parsed", "unchanged" or "failed" (then ``error``).
    ``docs`` is a list, or (prepared in the writer's own process with ``stream``) an iterator that splits as the
    writer reads it."""

    task: FileTask
    status: str
    file_hash: str = ""
    size: int = 0
    title: str = ""
    docs: list[Document] | Iterator[Document] = field(default_factory=list)
    error: LoadError | None = None


def prepare(
    task: FileTask, known_hash: str | None, split: SplitOptions, max_bytes: int,
    limits: Limits = Limits(), ocr: OcrOptions = OcrOptions(), *, stream: bool = False,
) -> Prepared:
    """Read, hash, parse and split one file (``known_hash``: the committed version's, to skip it unchanged;
    ``limits`` and ``ocr`` as for :func:`ragkit.formats.load_bytes`). With ``stream``, the chunks are made as
    ``docs`` is read (memory then holds the file's text and one batch, not every chunk)."""
    from ragkit.ingest import _parse, _read, iter_file_documents

    try:
        data = _read(task, max_bytes)
        file_hash = hashlib.sha256(data).hexdigest()
        if file_hash == known_hash:
            return Prepared(task, "unchanged", file_hash, len(data))
        loaded = _parse(task.path, data, limits, ocr)
        chunks = iter_file_documents(loaded, source=task.source, file_hash=file_hash, split=split)
        docs = chunks if stream else list(chunks)
    except LoadError as exc:
        return Prepared(task, "failed", error=exc)
    return Prepared(task, "parsed", file_hash, len(data), loaded.title, docs)


def _unchanged(task: FileTask, known_hash: str | None, max_bytes: int) -> Prepared | None:
    """The file as "unchanged" when its bytes still hash to ``known_hash`` (read here, in the writer: no worker
    is needed, or started, for it); None when it must be prepared (a read error is reported by that)."""
    from ragkit.ingest import _read

    if known_hash is None:
        return None
    try:
        data = _read(task, max_bytes)
    except LoadError:
        return None
    file_hash = hashlib.sha256(data).hexdigest()
    return Prepared(task, "unchanged", file_hash, len(data)) if file_hash == known_hash else None


@contextmanager
def _no_main_script() -> Iterator[None]:
    """While worker processes start, the parent's ``__main__`` is an empty module, so a spawned child does not
    run the parent's script again: under ``streamlit run`` (or after ``streamlit.testing`` ran a page in this
    process) ``__main__`` is the app page, and each worker would execute it, print Streamlit warnings and may
    die. The workers only run :func:`prepare`, which they import by name."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is None:
            sys.modules.pop("__main__", None)
        else:
            sys.modules["__main__"] = main


def prepared_files(
    tasks: Iterable[FileTask], known: Callable[[str], str | None], *, split: SplitOptions, max_bytes: int,
    limits: Limits = Limits(), ocr: OcrOptions = OcrOptions(), workers: int = 1,
    pages: Callable[[str], Callable[[int, int], None]] | None = None,
) -> Iterator[Prepared]:
    """:func:`prepare` for each task, in order; in ``workers`` processes when more than one (``known(source)``
    gives the committed hash of a source, asked just before its file is handed out). With workers, a stored
    file is hashed here first, and only a changed or new one goes to a worker: re-ingesting an unchanged
    folder starts no process.

    ``pages(source)``, when given, is the OCR page callback for that file; it is used with one worker only
    (a callable cannot cross to another process, so workers get ``ocr`` without any)."""
    if workers <= 1:
        for task in tasks:
            options = replace(ocr, progress=pages(task.source)) if pages else ocr
            yield prepare(task, known(task.source), split, max_bytes, limits, options, stream=True)
        return
    ocr = replace(ocr, progress=None)  # sent to the workers: it must pickle
    # spawn: the writer holds threads (tantivy, Chroma, the embedder) that a fork would copy half-way
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        window: deque[tuple[FileTask, str | None, Future[Prepared] | Prepared | None]] = deque()
        broken = False

        def result(task: FileTask, known_hash: str | None, future: Future[Prepared] | Prepared | None) -> Prepared:
            nonlocal broken
            if isinstance(future, Prepared):
                return future
            if future is not None and not broken:
                try:
                    return future.result()
                except BrokenProcessPool:  # a worker died (killed, out of memory): nothing is lost
                    broken = True
                    logging.getLogger("ragkit").warning(_BROKEN)
            return prepare(task, known_hash, split, max_bytes, limits, ocr)

        for task in tasks:
            known_hash = known(task.source)
            future: Future[Prepared] | Prepared | None = _unchanged(task, known_hash, max_bytes)
            if future is None and not broken:
                try:
                    with _no_main_script():  # a process may start here (they start as work arrives)
                        future = pool.submit(prepare, task, known_hash, split, max_bytes, limits, ocr)
                except BrokenProcessPool:
                    broken = True
                    logging.getLogger("ragkit").warning(_BROKEN)
            window.append((task, known_hash, future))
            if len(window) >= 2 * workers:
                yield result(*window.popleft())
        while window:
            yield result(*window.popleft())


_BROKEN = ("工作进程意外退出，其余文件改在本进程中处理 / a worker process ended abruptly; the remaining files are "
           "prepared in this process")
