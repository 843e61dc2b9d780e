"""Files read, parsed and split in worker processes give the same store as one process (#15)."""

from __future__ import annotations

import json

import pytest

from ragkit.ingest import ingest
from tests.conftest import run_ragkit
from tests.support.kb import ids_everywhere, open_kb


def _contents(kb) -> tuple:
    chunks = {cid: (text, meta) for batch in kb.lexical.iter_chunks() for cid, text, meta, _ in batch}
    files = [(r.source, r.hash, r.chunks, r.title, r.size) for r in kb.journal.all()]
    return ids_everywhere(kb), chunks, files


def test_two_workers_write_the_same_store_as_one(tmp_path, corpus_copy):
    (corpus_copy / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    (corpus_copy / "sub").mkdir()
    (corpus_copy / "sub" / "note.txt").write_text("LoRA 是一种低秩适配的微调方法。\n" * 40, encoding="utf-8")
    one, two = open_kb(tmp_path / "one"), open_kb(tmp_path / "two")
    first = ingest(one, [corpus_copy], workers=1)
    second = ingest(two, [corpus_copy], workers=2)
    assert sorted(first.added) == sorted(second.added) and len(second.added) == 6
    assert [str(f) for f in first.failed] == [str(f) for f in second.failed] and "broken.pdf" in str(second.failed[0])
    assert first.chunks_written == second.chunks_written > 250
    assert _contents(one) == _contents(two)

    (corpus_copy / "sub" / "note.txt").write_text("QLoRA 把模型量化到 4 比特再微调。\n" * 40, encoding="utf-8")
    again = ingest(two, [corpus_copy], workers=2)
    assert again.updated == ["sub/note.txt"] and len(again.unchanged) == 5
    assert ingest(one, [corpus_copy], workers=1).updated == ["sub/note.txt"]
    assert _contents(one) == _contents(two)


def test_an_unchanged_file_is_hashed_in_the_writer_and_never_sent_to_a_worker(tmp_path, corpus_copy, monkeypatch):
    import ragkit.prepare

    sent: list[str] = []

    class Counting(ragkit.prepare.ProcessPoolExecutor):
        def submit(self, fn, task, *args, **kwargs):
            sent.append(task.source)
            return super().submit(fn, task, *args, **kwargs)

    monkeypatch.setattr(ragkit.prepare, "ProcessPoolExecutor", Counting)
    kb = open_kb(tmp_path / "kb")
    assert len(ingest(kb, [corpus_copy], workers=2).added) == 5 and len(sent) == 5
    sent.clear()
    again = ingest(kb, [corpus_copy], workers=2)
    assert len(again.unchanged) == 5 and again.chunks_written == 0 and sent == []  # no worker process started
    changed = sorted(corpus_copy.iterdir())[0]
    changed.write_text(changed.read_text(encoding="utf-8") + "\n\n新增的一段。\n", encoding="utf-8")
    third = ingest(kb, [corpus_copy], workers=2)
    assert third.updated == [changed.name] and sent == [changed.name] and len(third.unchanged) == 4


def test_workers_do_not_run_the_parents_script(tmp_path, corpus_copy, monkeypatch):
    """Under ``streamlit run`` the parent's ``__main__`` is the app page (a script with no ``__main__`` guard);
    a spawned worker must not run it again (it did: each worker printed Streamlit warnings and one died)."""
    import sys
    import types

    ran = tmp_path / "ran"
    page = tmp_path / "page.py"
    page.write_text(f"open({str(ran)!r}, 'a').write('x')\n", encoding="utf-8")
    main = types.ModuleType("__main__")
    main.__file__ = str(page)
    monkeypatch.setitem(sys.modules, "__main__", main)
    report = ingest(open_kb(tmp_path / "kb"), [corpus_copy], workers=2)
    assert len(report.added) == 5 and not report.failed
    assert not ran.exists()
    assert sys.modules["__main__"] is main


def test_workers_flag(tmp_path, corpus_copy):
    data = tmp_path / "data"
    env = {"RAGKIT_DATA_DIR": str(data), "RAGKIT_EMBEDDER": "fake:32", "RAGKIT_LANG": "en"}
    done = run_ragkit("ingest", str(corpus_copy), "--workers", "2", env=env)
    assert done.returncode == 0, done.stderr
    assert "added 5" in done.stdout
    info = run_ragkit("info", "--json", env=env)
    assert json.loads(info.stdout)["consistent"]
    bad = run_ragkit("ingest", str(corpus_copy), "--workers", "0", env=env)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr and "--workers" in bad.stderr


def test_a_worker_that_dies_loses_no_file(corpus_copy, caplog):
    """A worker process killed mid-ingest (out of memory, a signal): the files it held and the rest are prepared
    in the writer's process, in order, with a warning."""
    import multiprocessing
    import os
    import signal

    from ragkit.ingest import FileTask, SplitOptions, iter_discover
    from ragkit.prepare import prepared_files

    tasks = [t for t in iter_discover([corpus_copy]) if isinstance(t, FileTask)]
    asked: list[str] = []

    def known(source: str) -> None:
        asked.append(source)
        if len(asked) == 3:  # the pool is up and busy: kill its workers
            for child in multiprocessing.active_children():
                os.kill(child.pid, signal.SIGKILL)
        return None

    out = list(prepared_files(tasks, known, split=SplitOptions(), max_bytes=10**8, workers=2))
    assert [p.task.source for p in out] == [t.source for t in tasks]
    assert all(p.status == "parsed" and p.docs for p in out)
    assert "a worker process ended abruptly" in caplog.text


def test_one_worker_streams_a_files_chunks_into_the_writer(tmp_path, monkeypatch):
    """A big sheet's chunks are embedded batch by batch while it is still being split (#14: bounded memory):
    at the first embedding call only about one batch exists; the journal counts every chunk."""
    import sys

    ingest_module = sys.modules["ragkit.ingest"]  # the package exports the function under the same name

    made: list[int] = [0]
    at_first_embed: list[int] = []
    real_chunks = ingest_module.iter_chunks

    def counting(*args, **kwargs):
        for chunk in real_chunks(*args, **kwargs):
            made[0] += 1
            yield chunk

    monkeypatch.setattr(ingest_module, "iter_chunks", counting)
    kb = open_kb(tmp_path / "data")
    real_embed = kb.embeddings.embed_documents

    def embed(texts):
        at_first_embed.append(made[0]) if not at_first_embed else None
        return real_embed(texts)

    monkeypatch.setattr(kb.embeddings, "embed_documents", embed)
    sheet = tmp_path / "docs" / "库存.csv"
    sheet.parent.mkdir()
    sheet.write_text("编号,名称,数量\n" + "".join(f"{n},零件{n},{n % 97}\n" for n in range(6000)), encoding="utf-8")
    report = ingest(kb, [sheet.parent], write_batch=64)
    assert report.added == ["库存.csv"] and report.chunks_written == made[0] > 5 * 64
    assert at_first_embed and at_first_embed[0] <= 64 + 1
    assert kb.journal.get("库存.csv").chunks == made[0] == kb.lexical.count()


def test_small_files_share_writes_and_a_failed_shared_write_loses_nothing(tmp_path, monkeypatch):
    """Tiny files are embedded and written together (one embedding call per ``write_batch`` chunks, not one per
    file); when such a shared write fails half-way, every file in it is rolled back and the next ingest
    writes them all (#15: 7 tiny files/s was one Chroma write per file)."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for n in range(40):
        (docs / f"note-{n:02d}.md").write_text(f"# 笔记 {n}\n\n第 {n} 条：LoRA 微调记录 {n}。\n", encoding="utf-8")
    kb = open_kb(tmp_path / "data")
    calls: list[int] = []
    real_embed = kb.embeddings.embed_documents

    def failing_second_call(texts):
        calls.append(len(texts))
        if len(calls) == 2:
            raise RuntimeError("embedding server went away")
        return real_embed(texts)

    monkeypatch.setattr(kb.embeddings, "embed_documents", failing_second_call)
    with pytest.raises(RuntimeError):
        ingest(kb, [docs], write_batch=16)
    assert calls == [16, 16]  # 16 one-chunk files per write
    monkeypatch.setattr(kb.embeddings, "embed_documents", real_embed)
    kb2 = open_kb(tmp_path / "data")
    report = ingest(kb2, [docs], write_batch=16)
    assert report.recovered == 16  # the files of the failed write were pending; the first 16 were committed
    assert len(report.added) == 24 and len(report.unchanged) == 16
    vectors, lexical, records = ids_everywhere(kb2)
    assert len(vectors) == len(lexical) == len(records) == 40
    assert all(r.pending is None and r.chunks == 1 for r in kb2.journal.all())
