"""Ingestion: incremental and idempotent, one file at a time, every bad input named and survived."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ragkit.ingest import SplitOptions, delete_source, discover, ingest
from langchain_core.documents import Document

from ragkit.store import HybridStore, contextual_text
from tests.support.files import make_docx, make_pdf
from tests.support.kb import ids_everywhere, open_kb

NAMES = ["awesome-llm-zh.md", "llm-and-langchain-basics.md", "llm-introduction.md", "llm-landscape-notes.md",
         "llm-tracking.md"]


def assert_consistent(kb, expected_chunks: int | None = None) -> None:
    vectors, bm25, records = ids_everywhere(kb)
    assert vectors == bm25 == records
    counts = kb.counts()
    assert counts.consistent, counts
    if expected_chunks is not None:
        assert len(vectors) == expected_chunks == counts.journal


def test_ingest_corpus_then_nothing_to_do(corpus_copy, data_dir):
    kb = open_kb(data_dir)
    report = ingest(kb, [corpus_copy])
    assert report.ok and sorted(report.added) == NAMES
    assert report.chunks_written == kb.counts().vectors > 250
    assert_consistent(kb, report.chunks_written)
    meta = kb.lexical.get(sorted(kb.lexical.ids("llm-introduction.md"))[:1])
    (text, m), = meta.values()
    assert set(m) >= {"source", "file_hash", "title", "heading", "chunk_index", "start", "end"}
    source_text = (corpus_copy / "llm-introduction.md").read_text(encoding="utf-8")
    assert source_text[m["start"] : m["end"]] == text

    before = kb.embeddings.documents
    again = ingest(kb, [corpus_copy])
    assert sorted(again.unchanged) == NAMES and again.chunks_written == 0
    assert kb.embeddings.documents == before  # not one embedding call for unchanged files


def test_a_changed_file_is_replaced_new_chunks_before_old_removal(corpus_copy, data_dir, monkeypatch):
    kb = open_kb(data_dir)
    ingest(kb, [corpus_copy])
    target = corpus_copy / "llm-landscape-notes.md"
    old_ids = kb.lexical.ids("llm-landscape-notes.md")
    old_texts = {contextual_text(Document(t, metadata=m)) for t, m in kb.lexical.get(sorted(old_ids)).values()}
    calls: list[tuple[str, frozenset[str]]] = []
    original_add, original_delete = HybridStore.add_documents, HybridStore.delete

    def spy_add(self, documents, **kwargs):
        ids = original_add(self, documents, **kwargs)
        calls.append(("add", frozenset(ids)))
        return ids

    def spy_delete(self, ids=None, **kwargs):
        calls.append(("delete", frozenset(ids or [])))
        return original_delete(self, ids, **kwargs)

    monkeypatch.setattr(HybridStore, "add_documents", spy_add)
    monkeypatch.setattr(HybridStore, "delete", spy_delete)
    target.write_text(target.read_text(encoding="utf-8") + "\n\n## 新增一节\n\n月之暗面发布了 Kimi 智能助手。\n",
                      encoding="utf-8")
    embedded_before = kb.embeddings.documents
    report = ingest(kb, [corpus_copy])
    assert report.updated == ["llm-landscape-notes.md"] and len(report.unchanged) == 4
    kinds = [kind for kind, _ in calls]
    assert kinds.index("delete") > max(i for i, k in enumerate(kinds) if k == "add")
    assert set().union(*(ids for kind, ids in calls if kind == "delete")) == old_ids
    new_ids = kb.lexical.ids("llm-landscape-notes.md")
    assert not new_ids & old_ids
    new_texts = {contextual_text(Document(t, metadata=m)) for t, m in kb.lexical.get(sorted(new_ids)).values()}
    # only texts never embedded before go to the model: the appended section, not the unchanged chunks
    assert kb.embeddings.documents - embedded_before == len(new_texts - old_texts) == 1
    assert any("Kimi" in text for text, _ in kb.lexical.get(sorted(new_ids)).values())
    assert_consistent(kb)


def test_prune_and_delete(corpus_copy, data_dir):
    kb = open_kb(data_dir)
    ingest(kb, [corpus_copy])
    (corpus_copy / "llm-tracking.md").unlink()
    kept = ingest(kb, [corpus_copy])
    assert "llm-tracking.md" not in kept.removed and kb.lexical.ids("llm-tracking.md")
    pruned = ingest(kb, [corpus_copy], prune_missing=True)
    assert pruned.removed == ["llm-tracking.md"] and pruned.chunks_deleted > 0
    assert not kb.lexical.ids("llm-tracking.md")
    deleted = delete_source(kb, "llm-introduction.md")
    assert deleted > 0 and kb.journal.get("llm-introduction.md") is None
    assert_consistent(kb)
    assert [r.source for r in kb.journal.all()] == ["awesome-llm-zh.md", "llm-and-langchain-basics.md",
                                                    "llm-landscape-notes.md"]


def test_sources_are_relative_to_the_ingest_root_and_globs_work(tmp_path, data_dir):
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "a.md").write_text("# A\n\n正文一。", encoding="utf-8")
    (root / "sub" / "b.txt").write_text("正文二。", encoding="utf-8")
    (root / "sub" / "skip.dat").write_bytes(b"\x00\x01")  # a type ragkit does not read (images are OCR'd)
    (root / ".hidden").mkdir()
    (root / ".hidden" / "c.md").write_text("隐藏。", encoding="utf-8")
    tasks, failures = discover([root])
    assert sorted(t.source for t in tasks) == ["a.md", "sub/b.txt"] and not failures
    tasks, failures = discover([str(root / "**" / "*.txt")])
    assert [t.source for t in tasks] == ["sub/b.txt"]
    tasks, failures = discover([root / "a.md", str(tmp_path / "nothing*.md")])
    assert [t.source for t in tasks] == ["a.md"] and [f.reason for f in failures] == ["no files match this pattern"]


def _bad_inputs(root: Path) -> dict[str, str]:
    """Write one file per kind of bad input; returns {source: expected reason fragment}."""
    root.mkdir()
    (root / "empty.md").write_bytes(b"")
    (root / "binary.txt").write_bytes(b"\x00\x01\x02\x03" * 1000)
    (root / "renamed.pdf").write_text("我其实是一个文本文件。", encoding="utf-8")
    docx = make_docx(root / "whole.docx")
    (root / "truncated.docx").write_bytes(docx.read_bytes()[:3000])
    docx.unlink()
    os.symlink("loop.md", root / "loop.md")  # a link to itself
    (root / "loopdir").mkdir()
    os.symlink("..", root / "loopdir" / "up")  # a directory link back to its parent
    return {
        "empty.md": "empty file", "binary.txt": "binary content", "renamed.pdf": "not a readable PDF",
        "truncated.docx": "docx", "loop.md": "symbolic link loop", "loopdir/up": "symbolic link loop",
    }


def test_every_bad_input_is_named_and_the_rest_is_ingested(tmp_path, data_dir):
    root = tmp_path / "docs"
    expected = _bad_inputs(root)
    (root / "gbk.txt").write_bytes("ChatGLM 能够在 7G 显存的条件下进行微调。".encode("gbk"))
    (root / "bom.md").write_bytes("\ufeff# 带 BOM 的文件\n\n知识截止日期是 2021 年 9 月。".encode("utf-8"))
    make_pdf(root / "good.pdf", ["第一页：大语言模型。", "第二页：检索增强生成。"])
    kb = open_kb(data_dir)
    report = ingest(kb, [root, tmp_path / "missing.md"])
    expected["missing.md"] = "does not exist"
    failed = {Path(f.source).name if f.source.endswith("missing.md") else f.source: f.reason for f in report.failed}
    assert set(failed) == set(expected), failed
    for source, fragment in expected.items():
        assert fragment in failed[source], (source, failed[source])
        assert "\n" not in failed[source]
    assert sorted(report.added) == ["bom.md", "gbk.txt", "good.pdf"]
    texts = {m["source"]: t for t, m in kb.lexical.get(sorted(kb.lexical.ids())).values()}
    assert texts["gbk.txt"] == "ChatGLM 能够在 7G 显存的条件下进行微调。"
    assert texts["bom.md"].startswith("# 带 BOM 的文件")  # BOM stripped
    pages = {m.get("page") for _, m in kb.lexical.get(sorted(kb.lexical.ids("good.pdf"))).values()}
    assert pages == {1, 2}
    assert_consistent(kb)


def test_a_bad_new_version_keeps_the_old_one(tmp_path, data_dir):
    root = tmp_path / "docs"
    root.mkdir()
    doc = root / "a.md"
    doc.write_text("# 标题\n\n通义千问由阿里巴巴研发。", encoding="utf-8")
    kb = open_kb(data_dir)
    ingest(kb, [root])
    doc.write_bytes(b"\x00\x00binary now")
    report = ingest(kb, [root])
    assert [f.source for f in report.failed] == ["a.md"]
    assert len(kb.lexical.ids("a.md")) == 1  # nothing lost
    assert_consistent(kb)


def test_oversize_file_is_refused_with_the_limit(tmp_path, data_dir):
    root = tmp_path / "docs"
    root.mkdir()
    (root / "big.txt").write_text("大" * 400_000, encoding="utf-8")
    report = ingest(open_kb(data_dir), [root], max_bytes=1_000_000)
    assert report.failed[0].source == "big.txt" and "1 MB limit" in report.failed[0].reason


def test_a_20_mb_single_line_file_is_ingested_in_bounded_chunks(tmp_path, data_dir):
    root = tmp_path / "docs"
    root.mkdir()
    line = ("ragkit splits long lines " * 840_000)[:20_000_000]
    (root / "one-line.txt").write_text(line, encoding="ascii")
    kb = open_kb(data_dir, embedder="fake:8")
    report = ingest(kb, [root], write_batch=1000, split=SplitOptions(chunk_size=4000, chunk_overlap=0))
    assert report.ok and report.added == ["one-line.txt"]
    chunks = kb.lexical.get(sorted(kb.lexical.ids("one-line.txt")))
    assert len(chunks) >= 20_000_000 // 4000
    assert max(len(text) for text, _ in chunks.values()) <= 4000
    assert_consistent(kb)


def test_an_unreadable_file_is_named(tmp_path):
    """Runs the CLI in a separate process; as root, without the capabilities that bypass file modes."""
    root = tmp_path / "docs"
    root.mkdir()
    (root / "ok.md").write_text("# 可读\n\n正文。", encoding="utf-8")
    secret = root / "secret.md"
    secret.write_text("# 不可读\n\n正文。", encoding="utf-8")
    secret.chmod(0)
    data = tmp_path / "data"
    command = [sys.executable, "-m", "ragkit", "ingest", str(root)]
    if os.geteuid() == 0:  # root ignores file modes unless it gives up the capabilities that allow it
        caps = "-dac_override,-dac_read_search"
        command = ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}", *command]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGKIT_")}
    env.update(RAGKIT_DATA_DIR=str(data), RAGKIT_EMBEDDER="fake:16", RAGKIT_LANG="en", HOME=str(tmp_path))
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 1, done.stderr
    assert "failed secret.md: permission denied" in done.stderr
    assert "added 1" in done.stdout
    assert "Traceback" not in done.stderr


def test_knowledge_bases_are_separate_and_the_embedder_is_recorded(corpus_copy, data_dir):
    first = open_kb(data_dir, kb="第一个库")
    ingest(first, [corpus_copy / "llm-introduction.md"])
    second = open_kb(data_dir, kb="second")
    ingest(second, [corpus_copy / "llm-tracking.md"])
    assert [r.source for r in first.journal.all()] == ["llm-introduction.md"]
    assert [r.source for r in second.journal.all()] == ["llm-tracking.md"]
    assert first.built_with() == ("fake:32", 32)
    other = open_kb(data_dir, kb="第一个库", embedder="fake:16")
    with pytest.raises(Exception, match="--rebuild"):
        other.store()
    shutil.rmtree(corpus_copy)
