"""load -> split -> index -> report, shared by the CLI, the app and notebooks.

Writing goes through ``langchain_core.indexing.index`` (chunk-level hashes, ``cleanup="incremental"``
per source), so a changed file's new chunks are written before its old ones are removed. Around it, a
file journal makes whole files the unit of work:

* a file whose content hash is unchanged is skipped before it is even parsed (no embedding call);
* before a file is written its journal row is marked *pending*; after ``index`` returns it is committed.
  An ingest killed half-way leaves pending rows, and the next run (:func:`recover`) removes every chunk
  of those sources that does not belong to the committed version, in Chroma, BM25 and the records.

>>> import tempfile
>>> from pathlib import Path
>>> from ragkit import Settings, build
>>> docs = Path(tempfile.mkdtemp())
>>> _ = (docs / "glm.md").write_text("# GLM\\n\\nChatGLM 能够在 7G 显存的条件下进行微调。", encoding="utf-8")
>>> kb = build.open_kb(Settings(data_dir=tempfile.mkdtemp(), embedder="fake:16"))
>>> ingest(kb, [docs]).summary()[:40]
'added 1, updated 0, unchanged 0, removed'
>>> ingest(kb, [docs]).unchanged
['glm.md']
"""

from __future__ import annotations

import errno
import glob
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain, islice
from pathlib import Path

from langchain_core.documents import Document
from langchain_core.indexing import index

from ragkit.errors import LoadError, RagkitError, StoreError, encodable, one_line, shown
from ragkit.formats import SUFFIXES, Limits, LoadedFile, OcrOptions, is_supported, load_bytes
from ragkit.prepare import Prepared, prepare, prepared_files
from ragkit.splitting import iter_chunks
from ragkit.store import FileJournal, KnowledgeBase
from ragkit.terms import refresh_terms

_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class FileTask:
    """A file to ingest: where it is, and the source name it is stored under."""

    path: Path
    source: str


@dataclass(frozen=True)
class Failure:
    """A file (or argument) that could not be ingested, and why."""

    source: str
    error: RagkitError

    @property
    def reason(self) -> str:
        return one_line(self.error)

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


@dataclass
class IngestReport:
    """What an ingest did; ``ok`` is False when any input failed."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    notices: list[Failure] = field(default_factory=list)  # done, with a remark (an upload stored under another name)
    chunks_written: int = 0
    chunks_deleted: int = 0
    recovered: int = 0
    terms: int | None = None  # terms learned again (None: nothing changed)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        return (
            f"added {len(self.added)}, updated {len(self.updated)}, unchanged {len(self.unchanged)}, "
            f"removed {len(self.removed)}, failed {len(self.failed)}; "
            f"{self.chunks_written} chunks written, {self.chunks_deleted} deleted, {self.seconds:.1f} s"
        )


@dataclass(frozen=True)
class Event:
    """Progress: ``kind`` is "start" (total files), "file" (one file done), "chunks" (chunks embedded), or
    "page" (``page`` of the ``total`` pages of ``source`` that need OCR is read)."""

    kind: str
    total: int = 0
    source: str = ""
    status: str = ""
    chunks: int = 0
    page: int = 0


Progress = Callable[[Event], None]


@dataclass(frozen=True)
class SplitOptions:
    chunk_size: int = 400
    chunk_overlap: int = 50


def _os_error(exc: OSError) -> LoadError:
    if exc.errno == errno.ELOOP:
        return LoadError.of("symlink_loop")
    if isinstance(exc, PermissionError):
        return LoadError.of("permission")
    if isinstance(exc, FileNotFoundError):
        return LoadError.of("not_found")
    return LoadError.of("os_error", detail=exc.strerror or type(exc).__name__)


def _walk(root: Path) -> Iterator[FileTask | Failure]:
    """Supported files under ``root`` (following directory links once; hidden entries skipped)."""
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=None):
        st = os.stat(dirpath)
        key = (st.st_dev, st.st_ino)
        if key in seen:
            dirnames[:] = []
            yield Failure(Path(dirpath).relative_to(root).as_posix(), LoadError.of("symlink_loop"))
            continue
        seen.add(key)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if not name.startswith(".") and is_supported(path):
                yield FileTask(path, path.relative_to(root).as_posix())


def _glob_root(pattern: str) -> Path:
    parts = Path(pattern).parts
    prefix = [p for p in parts[: next(i for i, p in enumerate(parts) if set(p) & _GLOB_CHARS)]]
    return Path(*prefix) if prefix else Path(".")


def discover(paths: Iterable[str | Path]) -> tuple[list[FileTask], list[Failure]]:
    """Expand files, folders (recursive) and globs into tasks; bad arguments become failures."""
    tasks: list[FileTask] = []
    failures: list[Failure] = []
    for item in iter_discover(paths):
        (tasks if isinstance(item, FileTask) else failures).append(item)
    return tasks, failures


def iter_discover(paths: Iterable[str | Path]) -> Iterator[FileTask | Failure]:
    """:func:`discover` as a stream: memory stays flat however many files there are (the source names seen,
    to refuse a second file claiming one, are kept in a temporary SQLite file, not in memory)."""
    seen = _SeenSources()
    try:
        for item in _expand(paths):
            if isinstance(item, Failure):
                yield item
            elif not (encodable(str(item.path)) and encodable(item.source)):  # bytes that are not UTF-8
                yield Failure(shown(item.source), LoadError.of("bad_name"))
            elif (other := seen.claim(item)) is None:
                yield item
            elif other != os.path.realpath(item.path):
                yield Failure(str(item.path), LoadError.of("same_source", other=other))
    finally:
        seen.close()


def _expand(paths: Iterable[str | Path]) -> Iterator[FileTask | Failure]:
    for arg in paths:
        text = str(arg)
        path = Path(text)
        if not os.path.lexists(path) and _GLOB_CHARS & set(text):
            root = _glob_root(text)
            matches = [Path(m) for m in sorted(glob.glob(text, recursive=True)) if Path(m).is_file()]
            yield from (FileTask(m, m.relative_to(root).as_posix()) for m in matches if is_supported(m))
            if not matches:
                yield Failure(text, LoadError.of("no_match"))
            continue
        try:
            os.stat(path)
        except OSError as exc:
            yield Failure(text, _os_error(exc))
            continue
        if path.is_dir():
            yield from _walk(path)
        elif is_supported(path):
            yield FileTask(path, path.name)
        else:
            yield Failure(text, LoadError.of("unsupported", suffix=path.suffix or "(none)",
                                             supported=", ".join(SUFFIXES)))


class _SeenSources:
    """Source name -> resolved path of the first file that claimed it, in a temporary on-disk SQLite file."""

    def __init__(self) -> None:
        self._conn = sqlite3.connect("")  # "": a private temporary file, its page cache bounded
        self._conn.execute("CREATE TABLE seen (source TEXT PRIMARY KEY, path TEXT NOT NULL)")

    def claim(self, task: FileTask) -> str | None:
        """None when ``task`` is the first with its source name, else the path of the first."""
        path = os.path.realpath(task.path)  # never raises (a symlink loop fails later, when read, by name)
        row = self._conn.execute("SELECT path FROM seen WHERE source = ?", (task.source,)).fetchone()
        if row is None:
            self._conn.execute("INSERT INTO seen VALUES (?, ?)", (task.source, path))
            return None
        return row[0]

    def close(self) -> None:
        self._conn.close()


def file_documents(loaded: LoadedFile, *, source: str, file_hash: str, split: SplitOptions) -> list[Document]:
    """Chunks of one loaded file as Documents with ragkit's metadata (:func:`iter_file_documents`, listed)."""
    return list(iter_file_documents(loaded, source=source, file_hash=file_hash, split=split))


def iter_file_documents(
    loaded: LoadedFile, *, source: str, file_hash: str, split: SplitOptions,
) -> Iterator[Document]:
    """Chunks of one loaded file as Documents with ragkit's metadata, one at a time (the writer embeds and
    stores them in batches as they come, so a million-row sheet never has all its chunks in memory)."""
    index = 0
    for page, start, end in _spans(loaded):  # a PDF page is a boundary: citations name one page
        text = loaded.text if page is None else loaded.text[start:end]  # one span: no copy of the whole text
        for chunk in iter_chunks(text, chunk_size=split.chunk_size, chunk_overlap=split.chunk_overlap,
                                 markdown=loaded.markdown):
            meta: dict[str, str | int] = {
                "source": source, "file_hash": file_hash, "title": loaded.title, "heading": chunk.heading,
                "chunk_index": index, "start": start + chunk.start, "end": start + chunk.end,
            }
            if page is not None:
                meta["page"] = page
            if page in loaded.ocr_pages:
                meta["ocr"] = True
                uncertain = loaded.uncertain_in(start + chunk.start, start + chunk.end)
                if uncertain:  # read with low confidence: a reader may want to check the original
                    meta["ocr_uncertain"] = " | ".join(uncertain)[:300]
            index += 1
            yield Document(chunk.text, metadata=meta)


def _spans(loaded: LoadedFile) -> list[tuple[int | None, int, int]]:
    """(page, start, end) of each page, or one span without a page."""
    if not loaded.pages:
        return [(None, 0, len(loaded.text))]
    ends = [*loaded.pages[1:], len(loaded.text)]
    return [(n, start, end) for n, (start, end) in enumerate(zip(loaded.pages, ends, strict=True), start=1)]


def _read(task: FileTask, max_bytes: int) -> bytes:
    try:
        size = os.stat(task.path).st_size
        if size > max_bytes:
            raise LoadError.of("file_too_large", size=round(size / 1e6, 1), limit=f"{max_bytes / 1e6:g}")
        return task.path.read_bytes()
    except OSError as exc:
        raise _os_error(exc) from exc


def _parse(path: Path, data: bytes, limits: Limits = Limits(), ocr: OcrOptions = OcrOptions()) -> LoadedFile:
    """:func:`load_bytes`, with any parser crash turned into a one-line :class:`LoadError`."""
    try:
        return load_bytes(path, data, limits, ocr=ocr)
    except LoadError:
        raise
    except Exception as exc:  # third-party parsers raise anything on malformed files
        raise LoadError.of("parse_failed", detail=one_line(exc)) from exc


def remove_chunks(kb: KnowledgeBase, ids: Sequence[str]) -> None:
    """Delete chunks everywhere: vectors, BM25 rows, then their records."""
    if not ids:
        return
    store = kb.store()
    if store is not None:
        store.delete(list(ids))
    else:
        kb.lexical.delete(ids)
    kb.records.delete_keys(list(ids))


def _chunk_hashes(kb: KnowledgeBase, source: str) -> dict[str, str | None]:
    """chunk id -> file hash it was made from, for every chunk any part of the store holds for ``source``."""
    out: dict[str, str | None] = {key: None for key in kb.records.list_keys(group_ids=[source])}
    for chunk_id, (_, meta) in kb.lexical.get(sorted(kb.lexical.ids(source))).items():
        out[chunk_id] = meta.get("file_hash")
    store = kb.store()
    if store is not None:
        got = store.chroma.get(where={"source": source}, include=["metadatas"])
        for chunk_id, meta in zip(got["ids"], got["metadatas"], strict=True):
            out[chunk_id] = (meta or {}).get("file_hash")
    return out


def recover(kb: KnowledgeBase) -> int:
    """Finish or roll back writes an interrupted run left pending; returns the number of sources fixed."""
    kb.lexical.sync()  # BM25 writes a crash left between SQLite and tantivy
    pending = [record for record in kb.journal.all() if record.pending is not None]
    if pending and kb.vector_count() != kb.lexical.count():  # unreadable, or a write that stopped half-way
        kb.rebuild_vectors()
    fixed = 0
    for record in pending:
        hashes = _chunk_hashes(kb, record.source)
        keep = record.hash if record.pending != FileJournal.DELETE else None
        remove_chunks(kb, [cid for cid, h in hashes.items() if keep is None or h != keep])
        if keep is None:
            kb.journal.remove(record.source)
        else:
            kb.journal.commit(record.source, path=record.path, hash=keep, chunks=record.chunks,
                              title=record.title, size=record.size)
        fixed += 1
    return fixed


def delete_source(kb: KnowledgeBase, source: str) -> int:
    """Remove one document from the knowledge base; returns the number of chunks deleted."""
    record = kb.journal.get(source)
    ids = sorted(_chunk_hashes(kb, source))
    if record is None and not ids:
        raise StoreError.of("no_document", source=source, kb=kb.name)
    kb.journal.begin(source, record.path if record else "", FileJournal.DELETE)
    remove_chunks(kb, ids)
    kb.journal.remove(source)
    return len(ids)


def _counting(docs: Iterable[Document], progress: Progress | None, batch: int,
              counts: dict[str, int]) -> Iterator[Document]:
    """Yield docs, counting them per source into ``counts`` and reporting each batch as ``index`` pulls it
    (it embeds the batch right after)."""
    pending = 0
    for doc in docs:
        yield doc
        counts[doc.metadata["source"]] += 1
        pending += 1
        if progress and pending == batch:
            progress(Event("chunks", chunks=pending))
            pending = 0
    if progress and pending:
        progress(Event("chunks", chunks=pending))


def ingest_file(
    kb: KnowledgeBase, task: FileTask, *, split: SplitOptions, max_bytes: int, write_batch: int,
    progress: Progress | None = None, limits: Limits = Limits(), ocr: OcrOptions = OcrOptions(),
) -> tuple[str, int, int]:
    """Ingest one file; returns (status, chunks written, chunks deleted). Raises LoadError on bad input."""
    if progress:
        ocr = replace(ocr, progress=_pages(progress, task.source))
    done = prepare(task, _known_hash(kb, task.source), split, max_bytes, limits, ocr)
    return write_prepared(kb, done, write_batch=write_batch, progress=progress)


def _pages(progress: Progress, source: str) -> Callable[[int, int], None]:
    """OCR's page callback as "page" events of ``source``."""
    return lambda done, total: progress(Event("page", total=total, source=source, page=done))


def _known_hash(kb: KnowledgeBase, source: str) -> str | None:
    """The hash of the version of ``source`` the store holds whole (None: new, or left pending)."""
    record = kb.journal.get(source)
    return record.hash if record is not None and record.pending is None else None


def write_prepared(
    kb: KnowledgeBase, done: Prepared, *, write_batch: int, progress: Progress | None = None,
) -> tuple[str, int, int]:
    """Embed and write one prepared file under its journal mark; returns (status, chunks written, deleted).
    Raises the file's LoadError when it could not be prepared."""
    task = done.task
    if done.error is not None:
        raise done.error
    if done.status == "unchanged":
        kb.journal.touch_path(task.source, str(task.path.resolve()))
        return "unchanged", 0, 0
    (status,), written, deleted = write_group(kb, [done], write_batch=write_batch, progress=progress)
    return status, written, deleted


def write_group(
    kb: KnowledgeBase, files: Sequence[Prepared], *, write_batch: int, progress: Progress | None = None,
) -> tuple[list[str], int, int]:
    """Embed and write parsed files in one ``index`` run, each under its own journal mark; returns each file's
    status ("added"/"updated") and the chunks written and deleted in all.

    Small files are written together: a write to Chroma costs about as much for one chunk as for a batch.
    Every file is marked pending before anything is written and committed after, so a crash leaves each one
    to :func:`recover` exactly as if it had been written alone."""
    store = kb.store(create=True)
    previous = [kb.journal.get(done.task.source) for done in files]
    for done in files:
        kb.journal.begin(done.task.source, str(done.task.path.resolve()), done.file_hash)
    counts = {done.task.source: 0 for done in files}
    result = index(
        _counting(chain.from_iterable(done.docs for done in files), progress, write_batch, counts), kb.records,
        store, batch_size=write_batch, cleanup="incremental", source_id_key="source", key_encoder="sha256",
    )
    for done in files:
        kb.journal.commit(done.task.source, path=str(done.task.path.resolve()), hash=done.file_hash,
                          chunks=counts[done.task.source], title=done.title, size=done.size)
    statuses = ["added" if record is None or record.hash is None else "updated" for record in previous]
    return statuses, result["num_added"] + result["num_updated"], result["num_deleted"]


def _small(done: Prepared, limit: int) -> bool:
    """Whether a parsed file has at most ``limit`` chunks (a stream is read that far; ``docs`` keeps them all)."""
    if isinstance(done.docs, list):
        return len(done.docs) <= limit
    rest = iter(done.docs)
    head = list(islice(rest, limit + 1))
    done.docs = head if len(head) <= limit else chain(head, rest)
    return len(head) <= limit


def prune(kb: KnowledgeBase) -> list[tuple[str, int]]:
    """Remove documents whose files no longer exist; returns (source, chunks deleted) pairs."""
    gone = [r.source for r in kb.journal.all() if r.path and not os.path.exists(r.path)]
    return [(source, delete_source(kb, source)) for source in gone]


def _tasks(items: Iterable[FileTask | Failure], failures: list[Failure]) -> Iterator[FileTask]:
    """The tasks of a discovery stream; its failures go to ``failures`` as they come."""
    for item in items:
        if isinstance(item, Failure):
            failures.append(item)
        else:
            yield item


def ingest(
    kb: KnowledgeBase,
    paths: Iterable[str | Path],
    *,
    split: SplitOptions = SplitOptions(),
    max_bytes: int = 50_000_000,
    write_batch: int = 256,
    prune_missing: bool = False,
    progress: Progress | None = None,
    limits: Limits = Limits(),
    ocr: OcrOptions = OcrOptions(),
    workers: int = 1,
) -> IngestReport:
    """Ingest files, folders and globs into ``kb``; never raises for a bad input file (see the report).

    Chunks are written ``write_batch`` at a time (Chroma's cost per write call is high; the embeddings
    batch their own model calls), and files smaller than that are written together, up to ``write_batch``
    chunks per write (:func:`write_group`).

    Each file either lands whole or not at all (see the module docstring); failures name the file.
    ``limits`` bound what one file may expand to while it is parsed (:mod:`ragkit.formats.limits`).
    ``ocr`` says when scanned PDF pages and images are OCR'd and what one file may cost
    (:class:`~ragkit.formats.ocr.OcrOptions`); chunks OCR read carry ``ocr`` and, where the engine was unsure,
    ``ocr_uncertain`` metadata.
    With ``workers`` > 1, files are read, parsed and split in that many worker processes while this one
    embeds and writes (see :mod:`ragkit.prepare`); the store ends up the same, but OCR page progress
    ("page" events) is only reported with one worker (a callback cannot cross processes).
    """
    started = time.perf_counter()
    report = IngestReport()
    paths = [str(p) for p in paths]
    with kb.write_lock(), kb.lexical.writing():  # one BM25 index writer for the whole run
        report.recovered = recover(kb)
        if progress:  # a first pass only counts (files are streamed, never listed)
            progress(Event("start", total=sum(isinstance(item, FileTask) for item in iter_discover(paths))))
        tasks = _tasks(iter_discover(paths), report.failed)
        group: list[Prepared] = []  # small parsed files waiting to be written together
        grouped = [0]  # their chunks

        def finish(files: Sequence[Prepared], statuses: Sequence[str], written: int, deleted: int) -> None:
            for done, status in zip(files, statuses, strict=True):
                getattr(report, status).append(done.task.source)
                if progress:
                    progress(Event("file", source=done.task.source, status=status))
            report.chunks_written += written
            report.chunks_deleted += deleted

        def flush() -> None:
            if group:
                finish(group, *write_group(kb, group, write_batch=write_batch, progress=progress))
                group.clear()
                grouped[0] = 0

        for done in prepared_files(tasks, lambda source: _known_hash(kb, source), split=split,
                                   max_bytes=max_bytes, limits=limits, ocr=ocr, workers=workers,
                                   pages=(lambda source: _pages(progress, source)) if progress else None):
            if done.status == "parsed" and _small(done, write_batch):
                if grouped[0] + len(done.docs) > write_batch:
                    flush()
                group.append(done)
                grouped[0] += len(done.docs)
                continue
            flush()
            try:
                status, written, deleted = write_prepared(kb, done, write_batch=write_batch, progress=progress)
            except LoadError as exc:
                report.failed.append(Failure(done.task.source, exc))
                if progress:
                    progress(Event("file", source=done.task.source, status="failed"))
            else:
                finish([done], [status], written, deleted)
        flush()
        if prune_missing:
            for source, deleted in prune(kb):
                report.removed.append(source)
                report.chunks_deleted += deleted
        if report.added or report.updated or report.removed or report.recovered:
            report.terms = refresh_terms(kb.lexical)  # the knowledge base's own names and terms
    report.seconds = time.perf_counter() - started
    return report
