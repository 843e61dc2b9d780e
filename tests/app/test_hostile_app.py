"""The app against hostile uploads (issue #11): the uploader states ragkit's real limit, no "Deploy" entry,
renamed uploads are reported."""

from __future__ import annotations

from streamlit import config
from streamlit.testing.v1 import AppTest

from tests.app.test_app import APP


def _start(tmp_path, monkeypatch, **env: str) -> AppTest:
    monkeypatch.setenv("RAGKIT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RAGKIT_EMBEDDER", "fake:32")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    assert not at.exception, at.exception
    return at


def test_the_uploader_states_ragkits_limit_and_the_toolbar_has_no_deploy(tmp_path, monkeypatch):
    at = _start(tmp_path, monkeypatch, RAGKIT_MAX_FILE_MB="20")
    uploader = at.file_uploader[0]
    assert uploader.proto.max_upload_size_mb == 20  # Streamlit's default would say 200MB
    assert "20 MB" in uploader.help and "RAGKIT_MAX_FILE_MB" in uploader.help
    assert config.get_option("client.toolbarMode") == "minimal"  # the toolbar shows no "Deploy"


def test_colliding_and_long_upload_names_are_kept_and_reported(tmp_path, monkeypatch):
    at = _start(tmp_path, monkeypatch)
    long_name = "很长的文件名" * 15 + ".md"
    at.file_uploader[0].set_value([("docs/x.md", "# 甲\n\n甲文。".encode(), "text/markdown"),
                                   ("x.md", "# 乙\n\n乙文。".encode(), "text/markdown"),
                                   (long_name, "# 丙\n\n丙文。".encode(), "text/markdown")]).run()
    next(b for b in at.button if b.label == "导入上传的文件").click().run()
    assert not at.exception, at.exception
    assert "新增 3" in at.success[0].value and "失败 0" in at.success[0].value
    notes = [i.value for i in at.info]
    assert any(n.startswith("x.md：已保存为 x-2.md") for n in notes), notes
    assert any(n.startswith(long_name + "：文件名超过 200 字节，已保存为 很长的文件名") for n in notes), notes
