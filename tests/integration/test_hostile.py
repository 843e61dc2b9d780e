"""Hostile files (issue #11): zip bombs, bad and long names, colliding uploads, failing disks, deep HTML."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from ragkit import Settings, build
from ragkit.cli import cli
from ragkit.formats import Limits, load_bytes
from ragkit.ingest import ingest
from ragkit.workspace import ingest_uploads, upload_folder
from tests.support.files import docx_bomb, make_docx, make_pdf

@pytest.fixture
def ragkit(data_dir):
    runner = CliRunner()

    def invoke(*args: str, **env: str):
        environment = {"RAGKIT_DATA_DIR": str(data_dir), "RAGKIT_EMBEDDER": "fake:32", **env}
        return runner.invoke(cli, list(args), env=environment, catch_exceptions=False)

    return invoke


# 1. zip bombs, image pixels, PDF pages


def test_a_docx_bomb_is_refused_by_its_ratio_and_the_rest_goes_on(ragkit, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    docx_bomb(folder / "bomb.docx", 300_000)  # 12 MB of XML in about 40 KB
    make_docx(folder / "good.docx")
    (folder / "note.md").write_text("# 笔记\n\n正文。", encoding="utf-8")
    done = ragkit("--lang", "en", "ingest", str(folder))
    assert "added 2" in done.stdout and "failed 1" in done.stdout
    [line] = [x for x in done.stderr.splitlines() if x.startswith("failed")]
    assert line.startswith("failed bomb.docx: ") and "word/document.xml" in line and "RAGKIT_MAX_RATIO" in line
    assert "Traceback" not in done.output


def test_the_expanded_size_limit_is_a_setting(ragkit, tmp_path):
    bomb = docx_bomb(tmp_path / "bomb.docx", 300_000)
    done = ragkit("--lang", "en", "ingest", str(bomb), RAGKIT_MAX_RATIO="100000", RAGKIT_MAX_EXPANDED_MB="5")
    assert "failed 1" in done.stdout
    assert "expands to 12.3 MB, over the 5 MB limit (RAGKIT_MAX_EXPANDED_MB)" in done.stderr
    small = docx_bomb(tmp_path / "small.docx", 2_000)  # 82 KB of XML: under the 1 MB floor of the ratio check
    assert "added 1" in ragkit("--lang", "en", "ingest", str(small), RAGKIT_MAX_EXPANDED_MB="5").stdout
    zh = ragkit("ingest", str(docx_bomb(tmp_path / "b2.docx", 300_000)))
    assert "疑似压缩炸弹" in zh.stderr and "RAGKIT_MAX_RATIO" in zh.stderr


def test_every_zip_container_is_checked_before_its_loader_runs(tmp_path):
    """A loader of another ZIP format (pptx, xlsx, epub) is covered by load_bytes without doing anything."""
    data = docx_bomb(tmp_path / "bomb.docx", 300_000).read_bytes()
    with pytest.raises(Exception, match="RAGKIT_MAX_RATIO"):
        load_bytes(Path("bomb.docx"), data, Limits())
    with pytest.raises(Exception, match="RAGKIT_MAX_MEMBERS"):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for n in range(20):
                archive.writestr(f"m{n}.xml", b"<a/>")
        load_bytes(Path("many.docx"), buffer.getvalue(), Limits(max_members=10))


def test_pdf_pages_are_bounded(ragkit, tmp_path):
    pdf = make_pdf(tmp_path / "pages.pdf", ["第一页的内容。", "第二页的内容。", "第三页的内容。"])
    done = ragkit("--lang", "en", "ingest", str(pdf), RAGKIT_MAX_PAGES="2")
    assert "failed pages.pdf: 3 pages, over the 2-page limit (RAGKIT_MAX_PAGES)" in done.stderr
    assert "added 1" in ragkit("--lang", "en", "ingest", str(pdf)).stdout


def test_image_pixels_are_checked_before_decoding():
    from PIL import Image

    from ragkit.formats.limits import open_image

    buffer = io.BytesIO()
    Image.new("L", (3000, 2000)).save(buffer, "PNG")
    assert open_image(buffer.getvalue(), Limits()).size == (3000, 2000)
    with pytest.raises(Exception, match=r"3000 x 2000 pixels, over the 5000000-pixel limit \(RAGKIT_MAX_PIXELS\)"):
        open_image(buffer.getvalue(), Limits(max_pixels=5_000_000))


# 2. file names that are not UTF-8 or hold control characters


def test_a_name_that_is_not_utf8_fails_alone_and_is_shown_escaped(ragkit, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# A\n\nalpha", encoding="utf-8")
    with open(os.path.join(os.fsencode(folder), b"bad\xff.md"), "wb") as handle:
        handle.write("# B\n\nbeta".encode())
    (folder / "c.md").write_text("# C\n\ngamma", encoding="utf-8")
    (folder / "new\nline.md").write_text("# 换行\n\ndelta", encoding="utf-8")
    done = ragkit("--lang", "en", "ingest", str(folder))
    assert done.exit_code == 1 and "added 3" in done.stdout and "failed 1" in done.stdout
    assert "failed bad\\xff.md: the file name is not valid UTF-8" in done.stderr
    assert "new\\nline.md" in done.stderr and "new\nline" not in done.output  # escaped everywhere
    assert "Traceback" not in done.output and "internal" not in done.output
    listed = ragkit("list").stdout.splitlines()
    assert "new\\nline.md\t1\t换行" in listed and len(listed) == 4  # the header and three documents
    deleted = ragkit("--lang", "en", "delete", "new\\nline.md")  # as list shows it
    assert deleted.exit_code == 0 and "deleted new\\nline.md (1 chunks)" in deleted.stdout


# 3. and 4. upload names


def _kb(data_dir: Path):
    return build.open_kb(Settings(data_dir=data_dir, embedder="fake:32"))


def test_a_long_upload_name_is_shortened_and_the_batch_goes_on(data_dir):
    kb = _kb(data_dir)
    long_name = "很长的文件名" * 15 + ".md"  # 90 Chinese characters: 273 bytes
    report = ingest_uploads(kb, [("a.md", b"# A\n\nalpha"), (long_name, "# 长\n\n长名字。".encode()),
                                 ("c.md", b"# C\n\ngamma")],
                            data_dir=data_dir, split=build.split_options(Settings()), max_bytes=10**6)
    assert not report.failed and len(report.added) == 3
    stored = sorted(p.name for p in upload_folder(data_dir, kb).iterdir())
    longest = max(stored, key=len)
    assert longest.endswith(".md") and len(longest.encode()) <= 200 and longest.startswith("很长的文件名")
    [notice] = report.notices
    assert notice.source == long_name and f"stored as {longest}" in notice.reason


def test_colliding_upload_names_are_all_kept_and_the_renames_reported(data_dir):
    kb = _kb(data_dir)
    files = [("../../x.md", b"# one\n\nfirst"), ("..\\..\\x.md", b"# two\n\nsecond"), ("docs/x.md", b"# three\n\nthird")]
    report = ingest_uploads(kb, files, data_dir=data_dir, split=build.split_options(Settings()), max_bytes=10**6)
    assert sorted(report.added) == ["x-2.md", "x-3.md", "x.md"] and not report.failed
    folder = upload_folder(data_dir, kb)
    assert {p.read_bytes() for p in folder.iterdir()} == {data for _, data in files}
    assert [(n.source, n.reason) for n in report.notices] == [
        ("..\\..\\x.md", "stored as x-2.md: ../../x.md of this upload has the same name"),
        ("docs/x.md", "stored as x-3.md: ../../x.md of this upload has the same name"),
    ]


# 8. permissions


def test_the_data_directory_and_its_files_are_private(ragkit, data_dir, tmp_path):
    (tmp_path / "a.md").write_text("# A\n\n正文。", encoding="utf-8")
    old = os.umask(0o022)
    try:
        assert ragkit("ingest", str(tmp_path / "a.md")).exit_code == 0
        report = ingest_uploads(_kb(data_dir), [("u.md", b"# U\n\nupload")], data_dir=data_dir,
                                split=build.split_options(Settings()), max_bytes=10**6)
        assert stat.S_IMODE((upload_folder(data_dir, _kb(data_dir)) / "u.md").stat().st_mode) == 0o600
    finally:
        os.umask(old)
    assert report.added == ["u.md"]
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / "ragkit.sqlite").stat().st_mode) == 0o600
    assert stat.S_IMODE((data_dir / "ragkit.sqlite-wal").stat().st_mode) == 0o600
    loose = [p for p in data_dir.rglob("*") if stat.S_IMODE(p.stat().st_mode) & 0o077]
    assert not loose, [(str(p.relative_to(data_dir)), oct(p.stat().st_mode)) for p in loose]


def test_private_data_can_be_turned_off(ragkit, data_dir, tmp_path):
    (tmp_path / "a.md").write_text("# A\n\n正文。", encoding="utf-8")
    old = os.umask(0o022)
    try:
        assert ragkit("ingest", str(tmp_path / "a.md"), RAGKIT_PRIVATE_DATA="false").exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o755
    assert stat.S_IMODE((data_dir / "ragkit.sqlite").stat().st_mode) == 0o644


# 6. causes named: a full disk, a Chroma server that drops mid-ingest


def test_a_full_disk_is_named_with_where_and_the_next_ingest_completes(data_dir, tmp_path):
    import sqlite3

    from ragkit.errors import localized, named_cause

    folder = tmp_path / "docs"
    folder.mkdir()
    for n in range(3):
        (folder / f"d{n}.md").write_text(f"# 文档 {n}\n\n" + "这是一段很长的正文。" * 3000, encoding="utf-8")
    kb = _kb(data_dir)
    pages = kb.conn.execute("PRAGMA page_count").fetchone()[0]
    kb.conn.execute(f"PRAGMA max_page_count = {pages + 40}")  # SQLite's own "disk full" (SQLITE_FULL)
    with pytest.raises(sqlite3.OperationalError) as raised:
        ingest(kb, [folder], split=build.split_options(Settings()))
    cause = named_cause(raised.value, data_dir=data_dir, chroma_url=None)
    assert cause is not None and cause.key == "disk_full"
    assert str(cause).startswith(f"the disk is full ({data_dir.resolve()}, ") and "MiB free" in str(cause)
    assert "ragkit ingest again" in str(cause) and "磁盘已满" in localized(cause, "zh")
    kb.conn.execute("PRAGMA max_page_count = 1073741823")
    again = ingest(kb, [folder], split=build.split_options(Settings()))
    assert again.ok and len(again.added) + len(again.unchanged) == 3 and kb.lexical.count() > 0


class DroppingProxy:
    """A TCP proxy on 127.0.0.1 in front of a real Chroma server that, once ``drop_after`` upsert requests went
    through, closes every connection without an answer (a server that drops mid-ingest) until ``restore()``."""

    def __init__(self, upstream_port: int, drop_after: int) -> None:
        import socket
        import threading

        self.upstream, self.left, self.dropping = upstream_port, drop_after, False
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.threading = threading
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket

        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if self.dropping:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.upstream))
            self.threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            self.threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source, target, from_client: bool) -> None:  # noqa: ANN001 - sockets
        try:
            while data := source.recv(65536):
                if from_client and b"/upsert" in data and data.startswith(b"POST"):
                    self.left -= 1
                    if self.left < 0:
                        self.dropping = True
                if self.dropping:
                    break
                target.sendall(data)
        except OSError:
            pass
        for sock in (source, target):
            try:
                sock.close()
            except OSError:
                pass

    def restore(self) -> None:
        self.dropping, self.left = False, 10**9

    def close(self) -> None:
        self.server.close()


@pytest.mark.server
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_chroma_server_that_drops_mid_ingest_is_named_and_ingest_again_completes(ragkit, tmp_path):
    from tests.support.chroma_server import chroma_server

    folder = tmp_path / "docs"
    folder.mkdir()
    for n in range(4):  # each more than one write batch (256 chunks): small files would share one write
        body = "".join(f"第 {n} 篇的正文，第 {i} 段，讲模型的训练与评测。\n\n" for i in range(6000))
        (folder / f"d{n}.md").write_text(f"# 文档 {n}\n\n{body}", encoding="utf-8")
    with chroma_server(tmp_path / "chroma") as url:
        proxy = DroppingProxy(int(url.rsplit(":", 1)[1]), drop_after=2)
        try:
            proxied = f"http://127.0.0.1:{proxy.port}"
            done = ragkit("--lang", "en", "ingest", str(folder), RAGKIT_CHROMA_URL=proxied)
            assert done.exit_code == 1
            assert f"error: the connection to the Chroma server {proxied} was lost (" in done.stderr
            assert "run ragkit ingest again once the server is back" in done.stderr
            assert "internal error" not in done.stderr and "Traceback" not in done.output
            zh = ragkit("ingest", str(folder), RAGKIT_CHROMA_URL=proxied)
            assert "无法连接 Chroma 服务器" in zh.stderr and "内部错误" not in zh.stderr  # down from the start now
            proxy.restore()
            again = ragkit("--lang", "en", "ingest", str(folder), RAGKIT_CHROMA_URL=proxied)
            assert again.exit_code == 0, again.output
            info = ragkit("info", "--json", RAGKIT_CHROMA_URL=proxied)
            assert '"documents": 4' in info.stdout and '"consistent": true' in info.stdout
        finally:
            proxy.close()
