"""Hostile input to small pieces (issue #11): the calculator, names shown on one line, deep and preformatted HTML."""

from __future__ import annotations

import time

import pytest
from langchain_core.tools import ToolException

from ragkit.errors import shown
from ragkit.tools import calculate, calculator_tool, section_tool


# 5. the calculator


@pytest.mark.parametrize("expression,value", [("10 % 3", 1), ("10%3", 1), ("(7 + 2) % 4", 1), ("50% * 8", 4),
                                              ("25%", 0.25), ("12.5% + 1", 1.125)])
def test_percent_is_the_remainder_between_operands_and_a_percentage_after_a_number(expression, value):
    assert calculate(expression) == value


@pytest.mark.parametrize("expression", ["1" * 10_000, "1" * 10_000 + " * " + "9" * 10_000, "9" * 40 + " + 1",
                                        "1" + " * 999999999" * 60, "(10 ** 60) ** 20", "9" * 29 + " ** 64"])
def test_huge_operands_are_refused_at_once(expression):
    started = time.perf_counter()
    with pytest.raises(ToolException, match="longer than|digits|too large"):
        calculate(expression)
    assert time.perf_counter() - started < 1  # was 24 s for the first, 47 s for the second


def test_tool_descriptions_carry_no_example_values_a_small_model_could_copy():
    schema_texts = []
    for tool in (calculator_tool(),):
        schema_texts.append(tool.description)
        schema_texts += [str(p.get("description", "")) for p in tool.args.values()]
    from ragkit.tools import SectionArgs

    schema_texts += [str(f.description) for f in SectionArgs.model_fields.values()]
    text = " ".join(schema_texts)
    assert not any(example in text for example in ("1750", "1.8万亿", "340", "llm-tracking", "GLM", "e.g."))


# 2. names shown on one line


def test_names_are_shown_with_control_characters_and_bad_bytes_escaped():
    assert shown("bad\udcff.md") == "bad\\xff.md"
    assert shown("a\nb\r\x1b[31m.md") == "a\\nb\\r\\x1b[31m.md"
    assert shown("第\u2028二.md") == "第\\u2028二.md"
    assert shown("笔记 (1).md") == "笔记 (1).md"


# 7. deep and preformatted HTML

DEBIAN_LIKE = """<?xml version="1.0" encoding="UTF-8"?>
<html><head><title>第 2 章 Debian 软件包管理</title></head><body><div class="chapter">
<h1 class="title">第 2 章 Debian 软件包管理</h1>
<div class="section"><h2 class="title">2.1. 更新软件包</h2>
<p>先更新软件包列表，再升级：</p>
<pre class="screen"># apt-get update
# apt-get upgrade
$ apt-cache policy   bash</pre>
<p>升级完成后检查系统。</p>
<div class="section"><h3 class="title">2.1.1. 清理</h3><p>删除不再需要的软件包。</p></div>
</div></div></body></html>"""


def test_pre_blocks_become_fenced_code_and_never_headings(tmp_path):
    from ragkit.formats import load_bytes
    from ragkit.splitting import split_text

    loaded = load_bytes(tmp_path / "ch02.html", DEBIAN_LIKE.encode())
    assert "```\n# apt-get update\n# apt-get upgrade\n$ apt-cache policy   bash\n```" in loaded.text
    chunks = split_text(loaded.text, chunk_size=400, chunk_overlap=50, markdown=True)
    headings = {c.heading for c in chunks}
    assert headings == {"第 2 章 Debian 软件包管理 > 2.1. 更新软件包",
                        "第 2 章 Debian 软件包管理 > 2.1. 更新软件包 > 2.1.1. 清理"}
    code = next(c for c in chunks if "apt-get update" in c.text)
    assert code.heading.endswith("2.1. 更新软件包") and "# apt-get upgrade\n" in code.text
    assert loaded.title == "第 2 章 Debian 软件包管理"


def test_deeply_nested_html_keeps_its_text(tmp_path):
    from ragkit.formats import load_bytes

    depth = 100_000
    page = ("<html><body><h1>深层</h1><p>开头。</p>" + "<div>" * depth + "<p>藏在十万层里的文字。</p><pre># 代码行</pre>"
            + "</div>" * depth + "<p>结尾。</p></body></html>")
    loaded = load_bytes(tmp_path / "deep.html", page.encode())
    assert loaded.text == "# 深层\n\n开头。\n\n藏在十万层里的文字。\n\n```\n# 代码行\n```\n\n结尾。"
    assert loaded.title == "深层"
