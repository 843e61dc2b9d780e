"""Background writes: ingest jobs (with progress and per-file errors) and deletions, one at a time.

:class:`Writer` runs every write of the server in one background thread, in order, each under the data
directory's write lock (when another process, e.g. ``ragkit ingest`` or a second server worker, holds it, the
job waits for it). So at most one ingest runs per knowledge base (per data directory, in fact), and searches and
answers go on meanwhile on their own connections.

Jobs are rows of the ``jobs`` table in ``ragkit.sqlite``: status ``queued`` -> ``running`` -> ``done`` or
``failed``, with the files, how many are done, the current one, and each failure. A server killed in the middle
leaves a ``running`` row; the next server start marks it ``failed`` (its process is gone) and repairs the
knowledge base the way ``ragkit ingest`` does (the file journal completes or rolls back the file that was being
written).

>>> import sqlite3
>>> jobs = Jobs(sqlite3.connect(":memory:"))
>>> job = jobs.create("default", "ingest", files=["a.md"])
>>> job.status, jobs.get(job.id).files
('queued', ['a.md'])
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ragkit import build
from ragkit.errors import RagkitError, StoreError, localized, named_cause, one_line
from ragkit.ingest import Event, Failure, IngestReport, recover
from ragkit.server.service import Service
from ragkit.store import known_kbs
from ragkit.workspace import ingest_uploads

T = TypeVar("T")
LOCK_POLL_S = 0.5


@dataclass
class Job:
    """An ingest (or recovery) job as stored."""

    id: str
    kb: str
    kind: str
    status: str  # queued, waiting, running, done, failed
    files: list[str]
    done: int = 0
    current: str = ""
    failures: list[dict[str, str]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    pid: int = 0
    created: float = 0.0
    started: float | None = None
    finished: float | None = None

    def as_json(self) -> dict[str, Any]:
        total = len(self.files)
        return {"id": self.id, "kb": self.kb, "kind": self.kind, "status": self.status,
                "progress": {"done": self.done, "total": total, "current": self.current,
                             "fraction": round(self.done / total, 3) if total else (1.0 if self.finished else 0.0)},
                "files": self.files, "failures": self.failures, "summary": self.summary, "error": self.error,
                "created": self.created, "started": self.started, "finished": self.finished}


_COLUMNS = ("id", "kb", "kind", "status", "files", "done", "current", "failures", "summary", "error", "pid",
            "created", "started", "finished")
_JSON = {"files", "failures", "summary"}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Jobs:
    """The ``jobs`` table."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        with conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, kb TEXT NOT NULL, kind TEXT NOT NULL,"
                " status TEXT NOT NULL, files TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0,"
                " current TEXT NOT NULL DEFAULT '', failures TEXT NOT NULL DEFAULT '[]',"
                " summary TEXT NOT NULL DEFAULT '{}', error TEXT NOT NULL DEFAULT '', pid INTEGER NOT NULL,"
                " created REAL NOT NULL, started REAL, finished REAL)"
            )

    def create(self, kb: str, kind: str, *, files: Sequence[str] = (),
               failures: Sequence[dict[str, str]] = ()) -> Job:
        job = Job(id=uuid.uuid4().hex[:16], kb=kb, kind=kind, status="queued", files=list(files),
                  failures=list(failures), pid=os.getpid(), created=time.time())
        values = [json.dumps(getattr(job, c), ensure_ascii=False) if c in _JSON else getattr(job, c) for c in _COLUMNS]
        with self._conn:
            self._conn.execute(f"INSERT INTO jobs({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                               values)
        return job

    def update(self, job_id: str, **changes: Any) -> None:
        sets = ", ".join(f"{k} = ?" for k in changes)
        values = [json.dumps(v, ensure_ascii=False) if k in _JSON else v for k, v in changes.items()]
        with self._conn:
            self._conn.execute(f"UPDATE jobs SET {sets} WHERE id = ?", [*values, job_id])

    def _job(self, row: Sequence[Any]) -> Job:
        data = {c: (json.loads(v) if c in _JSON else v) for c, v in zip(_COLUMNS, row, strict=True)}
        return Job(**data)

    def get(self, job_id: str) -> Job | None:
        row = self._conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return self._job(row) if row else None

    def list(self, kbs: Sequence[str], limit: int = 50) -> list[Job]:
        marks = ",".join("?" * len(kbs))
        rows = self._conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE kb IN ({marks}) "
                                  "ORDER BY created DESC LIMIT ?", [*kbs, limit])
        return [self._job(r) for r in rows]

    def fail_orphans(self, reason: str) -> list[Job]:
        """Mark jobs whose server process is gone (killed in the middle) as failed; returns them."""
        rows = self._conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE status IN "
                                  "('queued', 'waiting', 'running')").fetchall()
        orphans = [job for job in map(self._job, rows) if job.pid != os.getpid() and not _alive(job.pid)]
        for job in orphans:
            self.update(job.id, status="failed", error=reason, finished=time.time())
        return orphans


def failure_json(failure: Failure, lang: str) -> dict[str, str]:
    return {"source": failure.source, "reason": localized(failure.error, lang)}


def report_json(report: IngestReport) -> dict[str, Any]:
    return {"added": report.added, "updated": report.updated, "unchanged": report.unchanged,
            "removed": report.removed, "failed": [f.source for f in report.failed],
            "chunks_written": report.chunks_written, "chunks_deleted": report.chunks_deleted, "recovered": report.recovered,
            "seconds": round(report.seconds, 2),
            "renamed": [{"source": n.source, "note": one_line(n.error)} for n in report.notices]}


def _repair(kb: Any, progress: Callable[[Event], None]) -> IngestReport:
    with kb.write_lock():
        return IngestReport(recovered=recover(kb))


class Writer:
    """One background thread for every write, in order (see the module docstring)."""

    def __init__(self, service: Service, *, lang: str = "zh") -> None:
        self.service, self.lang = service, lang
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ragkit-writer")
        self._stopping = threading.Event()

    def jobs(self) -> Jobs:
        return Jobs(self.service.conn)

    def start(self) -> None:
        """Fail the jobs a killed server left, and repair knowledge bases left with a half-written file."""
        orphans = self.jobs().fail_orphans(localized(RagkitError.of("job_interrupted"), self.lang))
        damaged = {job.kb for job in orphans}
        damaged |= {name for name in known_kbs(self.service.conn)
                    if any(r.pending is not None for r in self.service.kb(name).journal.all())}
        for name in sorted(damaged):
            self.submit(name, "recover", [], _repair)

    def stop(self) -> None:
        self._stopping.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def call(self, fn: Callable[[], T]) -> Future[T]:
        """Run ``fn`` in the writer thread, under the write lock (waiting for it); a Future of its result."""
        return self._pool.submit(self._locked, fn)

    def _locked(self, fn: Callable[[], T]) -> T:
        while True:
            try:
                with self.service.kb(self.service.settings.kb).write_lock():  # the data directory's lock
                    return fn()
            except StoreError as exc:
                if exc.key != "busy" or self._stopping.is_set():
                    raise
                time.sleep(LOCK_POLL_S)

    def submit_ingest(self, kb: str, files: Sequence[tuple[str, bytes]], refused: Sequence[Failure] = ()) -> Job:
        """An ingest job for uploaded files: saved (in the writer thread, so two uploads of one name never race)
        under the data directory by :func:`~ragkit.workspace.save_uploads`, then ingested. ``refused`` files (bad
        names) are reported with the job's failures."""
        settings = self.service.settings

        def work(handle: Any, progress: Callable[[Event], None]) -> IngestReport:
            return ingest_uploads(handle, files, data_dir=settings.data_dir, split=build.split_options(settings),
                                  max_bytes=int(settings.max_file_mb * 1_000_000), progress=progress,
                                  limits=build.limits(settings), private=settings.private_data,
                                  ocr=build.ocr_options(settings))

        failures = [failure_json(f, self.lang) for f in refused]
        return self.submit(kb, "ingest", [name for name, _ in files], work, failures=failures)

    def submit(self, kb: str, kind: str, files: Sequence[str],
               work: Callable[[Any, Callable[[Event], None]], IngestReport],
               failures: Sequence[dict[str, str]] = ()) -> Job:
        job = self.jobs().create(kb, kind, files=files, failures=failures)
        self._pool.submit(self._run, job, work)
        return job

    def _run(self, job: Job, work: Callable[[Any, Callable[[Event], None]], IngestReport]) -> None:
        jobs = self.jobs()
        state = {"done": 0}

        def progress(event: Event) -> None:
            if event.kind == "file":
                state["done"] += 1
                jobs.update(job.id, done=state["done"], current=event.source)
                if self._stopping.is_set():  # between two files: every file so far is whole
                    raise RagkitError.of("job_stopped")

        def run() -> IngestReport:
            jobs.update(job.id, status="running", started=time.time())
            return work(self.service.kb(job.kb), progress)

        try:
            report = self._wait_for_lock(job, jobs, run)
        except Exception as exc:  # the job fails with one line; the server goes on
            settings = self.service.settings
            cause = named_cause(exc, data_dir=settings.data_dir, chroma_url=settings.chroma_url)
            detail = localized(cause or exc, self.lang)
            jobs.update(job.id, status="failed", error=detail, finished=time.time())
            return
        failures = job.failures + [failure_json(f, self.lang) for f in report.failed]
        jobs.update(job.id, status="done", failures=failures, summary=report_json(report), current="",
                    finished=time.time(), done=len(job.files))
        if report.added or report.recovered:
            self.service.changed()

    def _wait_for_lock(self, job: Job, jobs: Jobs, run: Callable[[], IngestReport]) -> IngestReport:
        """``ingest`` takes the write lock itself: retry while another process holds it."""
        while True:
            try:
                return run()
            except StoreError as exc:
                if exc.key != "busy" or self._stopping.is_set():
                    raise
                jobs.update(job.id, status="waiting")
                time.sleep(LOCK_POLL_S)
