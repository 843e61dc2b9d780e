"""Keep a knowledge base in step with folders (``ragkit watch DIR...``).

The watcher starts first, then the folders are caught up with an ordinary incremental ingest with ``--prune``
semantics (changed files replaced, unchanged ones skipped by hash, documents whose files are gone removed), so
nothing saved while catching up is missed and a restart after any pause finds every difference. From then on
each burst of file-system events (debounced: a burst ends after ``step_ms`` of quiet) is one sync:

* every path the burst touched is looked at as it is *now*: an existing supported file is ingested (skipped
  if its content hash did not change), a missing one is removed, a folder is walked or its documents removed;
  a rename is a removal and an addition, so 100 quick saves end in exactly the last version on disk;
* editors' temporary files (``.swp``, ``~``, ``.#x``, ``.tmp``, Office ``~$`` locks) and hidden paths are
  ignored, and so are unsupported suffixes;
* a sync holds the data directory's write lock only while it writes; when another ragkit process holds it,
  the changes wait for the next tick;
* the knowledge base's learned terms (names for follow-up questions, see :mod:`ragkit.terms`) are learned
  again once the folders have been quiet for ``terms_after_s``, not after every save.

Source names are the paths relative to the watched folder, as ``ragkit ingest DIR`` names them.

>>> is_temporary("~$报告.docx"), is_temporary("notes.md.swp"), is_temporary(".#a.md"), is_temporary("a.md")
(True, True, True, False)
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ragkit.errors import LoadError, StoreError
from ragkit.formats import Limits, OcrOptions, is_supported
from ragkit.ingest import Failure, FileTask, IngestReport, SplitOptions, delete_source, ingest, ingest_file, recover
from ragkit.store import KnowledgeBase
from ragkit.terms import refresh_terms

_TEMPORARY = re.compile(r"(^\.#|^~\$|^~.*\.tmp$|~$|\.(sw[a-p]|tmp|temp|part|crdownload|bak)$|^#.*#$)", re.IGNORECASE)


def is_temporary(name: str) -> bool:
    """An editor's or office suite's temporary, lock or backup file name."""
    return bool(_TEMPORARY.search(name))


@dataclass(frozen=True)
class WatchOptions:
    """How files are split and bounded, and how events are grouped."""

    split: SplitOptions = SplitOptions()
    max_bytes: int = 50_000_000
    limits: Limits = Limits()
    ocr: OcrOptions = OcrOptions()
    write_batch: int = 256
    step_ms: int = 200  # quiet time that ends a burst
    debounce_ms: int = 1600  # longest burst before a sync anyway
    tick_ms: int = 500  # how often a waiting sync (busy lock) is retried
    terms_after_s: float = 3.0  # quiet time after which the knowledge base's terms are learned again


def _relative(path: Path, roots: Iterable[Path]) -> tuple[Path, Path] | None:
    """(root, path relative to it) for a path under one of ``roots``; None for hidden or outside paths."""
    for root in roots:
        try:
            rel = path.relative_to(root)
        except ValueError:
            continue
        if any(part.startswith(".") for part in rel.parts) or is_temporary(path.name):
            return None
        return root, rel
    return None


def wanted(path: Path, roots: Iterable[Path]) -> bool:
    """Whether an event on ``path`` can matter: a supported, non-temporary file or a folder under a root."""
    if _relative(path, roots) is None:
        return False
    return is_supported(path) or path.is_dir() or not path.suffix


def _files(folder: Path, roots: list[Path]) -> Iterator[FileTask]:
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            task = _task(Path(dirpath) / name, roots)
            if task is not None:
                yield task


def _task(path: Path, roots: list[Path]) -> FileTask | None:
    found = _relative(path, roots)
    if found is None or not is_supported(path):
        return None
    return FileTask(path, found[1].as_posix())


def sync(kb: KnowledgeBase, roots: list[Path], paths: Iterable[str | Path], options: WatchOptions, *,
         learn_terms: bool = True) -> IngestReport:
    """Bring the documents of ``paths`` in step with the disk as it is now (one write-locked step).

    ``learn_terms=False`` leaves the knowledge base's learned terms as they were (the watcher learns them again
    once the folder is quiet: it takes seconds on a large knowledge base, and a save should be searchable
    sooner). Raises :class:`StoreError` (busy) when another process holds the write lock; nothing is written.
    """
    started = time.perf_counter()
    report = IngestReport()
    tasks: dict[str, FileTask] = {}
    gone: list[Path] = []
    for raw in sorted({Path(p) for p in paths}):
        if raw.is_dir():
            tasks.update((t.source, t) for t in _files(raw, roots))
        elif raw.is_file():
            task = _task(raw, roots)
            if task is not None:
                tasks[task.source] = task
        elif _relative(raw, roots) is not None:
            gone.append(raw)
    with kb.write_lock():
        report.recovered = recover(kb)
        for path in gone:  # a file, or a whole folder, that is no longer there
            prefix = str(path) + os.sep
            for record in kb.journal.all():
                if record.source not in tasks and record.path and (record.path == str(path) or record.path.startswith(prefix)) \
                        and not os.path.exists(record.path):
                    report.chunks_deleted += delete_source(kb, record.source)
                    report.removed.append(record.source)
        for task in tasks.values():
            try:
                status, written, deleted = ingest_file(kb, task, split=options.split, max_bytes=options.max_bytes,
                                                       write_batch=options.write_batch, limits=options.limits,
                                                       ocr=options.ocr)
            except LoadError as exc:
                report.failed.append(Failure(task.source, exc))
                continue
            getattr(report, status).append(task.source)
            report.chunks_written += written
            report.chunks_deleted += deleted
        if learn_terms and (report.added or report.updated or report.removed or report.recovered):
            report.terms = refresh_terms(kb.lexical)
    report.seconds = time.perf_counter() - started
    return report


def watch_folders(
    kb: KnowledgeBase,
    folders: Iterable[str | Path],
    *,
    options: WatchOptions = WatchOptions(),
    on_report: Callable[[IngestReport, bool], None] = lambda report, first: None,
    on_busy: Callable[[StoreError], None] = lambda error: None,
    stop: threading.Event | None = None,
) -> None:
    """Catch ``folders`` up, then follow their changes until ``stop`` is set (or Ctrl-C).

    ``on_report(report, first)`` is called after the catch-up (``first`` True) and after every sync that
    did something; ``on_busy`` when a sync has to wait for another writer (once per wait).
    """
    import watchfiles

    roots = [Path(f).resolve() for f in folders]
    pending: set[str] = set()
    caught_up = False
    waiting = False
    terms_due: float | None = None  # when the learned terms are to be refreshed
    for changes in watchfiles.watch(
        *roots, watch_filter=lambda change, path: wanted(Path(path), roots), debounce=options.debounce_ms,
        step=options.step_ms, rust_timeout=options.tick_ms, yield_on_timeout=True, stop_event=stop,
        raise_interrupt=False,
    ):
        pending.update(path for _, path in changes)
        try:
            if not caught_up:  # the watcher is running now: nothing saved from here on is missed
                report = ingest(kb, roots, split=options.split, max_bytes=options.max_bytes,
                                write_batch=options.write_batch, prune_missing=True, limits=options.limits,
                                ocr=options.ocr)
                caught_up = True
                kb.embeddings.embed_query("ragkit")  # load the model now, not at the first save
                on_report(report, True)
            if pending:
                report = sync(kb, roots, pending, options, learn_terms=False)
                pending.clear()
                if report.added or report.updated or report.removed or report.recovered:
                    terms_due = time.monotonic() + options.terms_after_s
                if report.added or report.updated or report.removed or report.failed:
                    on_report(report, False)
            elif terms_due is not None and time.monotonic() >= terms_due:
                with kb.write_lock():
                    refresh_terms(kb.lexical)
                terms_due = None
            waiting = False
        except StoreError as exc:
            if exc.key != "busy":
                raise
            if not waiting:
                on_busy(exc)
            waiting = True
