from pathlib import Path

import pytest

from ragkit.splitting import size_of, split_text
from tests.conftest import CORPUS

DOC = """# 三、常见大模型

## 2. 开源 LLM

### 2. GLM 系列

ChatGLM 是基于 GLM 结构开发的具有 62 亿参数量的语言大模型。ChatGLM 能够在 7G 显存的条件下进行微调。

### 3. 通义千问

通义千问由阿里巴巴基于“通义”大模型研发，于 2023 年 4 月正式发布。

## 3. 闭源 LLM

Claude 系列模型是由 Anthropic 开发的闭源语言大模型。
"""


def test_heading_paths_follow_the_markdown_structure():
    chunks = split_text(DOC, chunk_size=400)
    assert [c.heading for c in chunks] == [
        "三、常见大模型 > 2. 开源 LLM > 2. GLM 系列",
        "三、常见大模型 > 2. 开源 LLM > 3. 通义千问",
        "三、常见大模型 > 3. 闭源 LLM",
    ]
    assert chunks[0].text.startswith("### 2. GLM 系列")
    assert [c.index for c in chunks] == [0, 1, 2]


def test_offsets_point_at_the_chunk_text():
    for chunk in split_text(DOC, chunk_size=60, chunk_overlap=20):
        assert DOC[chunk.start : chunk.end] == chunk.text


def test_long_paragraph_breaks_at_chinese_sentence_ends():
    sentence = "大语言模型在海量文本上预训练。"
    text = sentence * 40
    chunks = split_text(text, chunk_size=100, markdown=False)
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.text.endswith("。")
        assert size_of(chunk.text) <= 100


@pytest.mark.parametrize("mark", ["！", "？", "；", "……"])
def test_other_chinese_terminal_marks_are_sentence_ends(mark):
    text = f"第一句话很长很长很长{mark}" * 30
    chunks = split_text(text, chunk_size=80, markdown=False)
    assert all(c.text.endswith(mark) for c in chunks)


def test_overlap_repeats_trailing_sentences_of_the_previous_chunk():
    text = "".join(f"这是第{i}句话，内容不同。" for i in range(30))
    chunks = split_text(text, chunk_size=100, chunk_overlap=30, markdown=False)
    for before, after in zip(chunks, chunks[1:]):
        assert after.start < before.end  # they overlap
        assert before.text.endswith(text[after.start : before.end])
        assert size_of(text[after.start : before.end]) <= 30


def test_table_rows_are_never_cut_and_keep_their_header():
    header = "| 模型 | 参数量 | 发布时间 |\n| --- | --- | --- |\n"
    rows = [f"| 模型{i:02d} | {i * 10} B | 2023-{i % 12 + 1:02d} |" for i in range(40)]
    text = "# 表格\n\n" + header + "\n".join(rows) + "\n\n表格之后的一段话。\n"
    chunks = split_text(text, chunk_size=120)
    table_chunks = [c for c in chunks if "| 模型" in c.text]
    assert len(table_chunks) > 3
    seen = []
    for chunk in table_chunks:
        assert chunk.text.startswith("# 表格") or chunk.text.startswith(header)
        for line in chunk.text.splitlines():
            if line.startswith("| 模型") and "模型 |" not in line:
                assert line in rows  # a whole row, never a piece of one
                seen.append(line)
    assert sorted(set(seen)) == sorted(rows)


def test_heading_inside_code_fence_is_not_a_heading():
    text = "# 真标题\n\n```bash\n# 这是注释\necho hi\n```\n\n正文。\n"
    chunks = split_text(text, chunk_size=400)
    assert {c.heading for c in chunks} == {"真标题"}


def test_plain_text_ignores_markdown_headings():
    chunks = split_text("# 不是标题\n\n正文。", chunk_size=400, markdown=False)
    assert chunks[0].heading == ""


def test_a_single_huge_line_is_cut_into_bounded_pieces():
    text = "a" * 100_000
    chunks = split_text(text, chunk_size=500, markdown=False)
    assert len(chunks) == 200
    assert max(len(c.text) for c in chunks) <= 500
    assert "".join(c.text for c in chunks) == text


def test_heading_only_sections_produce_no_empty_chunks():
    chunks = split_text("# A\n\n## B\n\n### C\n\n正文。\n", chunk_size=400)
    assert len(chunks) == 1 and chunks[0].heading == "A > B > C"


def test_invalid_sizes_are_rejected():
    with pytest.raises(ValueError):
        split_text("x", chunk_size=100, chunk_overlap=100)


def test_real_corpus_chunks_are_bounded_and_cover_every_character():
    for path in sorted(Path(CORPUS).glob("*.md")):
        text = path.read_text(encoding="utf-8")
        chunks = split_text(text, chunk_size=400, chunk_overlap=50)
        covered = bytearray(len(text))
        for chunk in chunks:
            covered[chunk.start : chunk.end] = b"\x01" * (chunk.end - chunk.start)
            oversize = size_of(chunk.text) > 400
            assert not oversize or chunk.text.lstrip().startswith("|"), (path.name, chunk.text[:80])
        pos = 0
        for line in text.splitlines(keepends=True):
            if line.strip() and not line.lstrip().startswith("#"):  # heading-only lines travel in the path
                missing = [i for i in range(pos, pos + len(line.rstrip())) if not covered[i] and not text[i].isspace()]
                assert not missing, (path.name, line[:60])
            pos += len(line)
