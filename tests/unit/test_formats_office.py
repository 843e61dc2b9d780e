"""Slides, spreadsheets, e-books and JSON: real files made here (python-pptx, openpyxl, xlwt, zipfile)."""

from __future__ import annotations

import csv
import datetime
import io
import json
import zipfile
from pathlib import Path

import pytest

from ragkit.errors import LoadError, localized
from ragkit.formats import is_supported, load_bytes
from ragkit.ingest import SplitOptions, file_documents


def _deck() -> bytes:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    deck.core_properties.title = "季度汇报"
    slide = deck.slides.add_slide(deck.slide_layouts[1])  # title and content
    slide.shapes.title.text = "销售概况"
    body = slide.placeholders[1].text_frame
    body.text = "华东区增长 12%"
    sub = body.add_paragraph()
    sub.text = "上海贡献最大"
    sub.level = 1
    slide.notes_slide.notes_text_frame.text = "提醒：强调新客户数量翻倍"
    slide = deck.slides.add_slide(deck.slide_layouts[5])  # title only
    slide.shapes.title.text = "价格表"
    table = slide.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(6), Inches(2)).table
    for r, row in enumerate([("型号", "价格"), ("A1", "120 元"), ("B2", "98 元")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    slide = deck.slides.add_slide(deck.slide_layouts[6])  # blank: no title
    box = slide.shapes.add_textbox(Inches(1), Inches(1), Inches(4), Inches(1))
    box.text_frame.text = "联系人：王五"
    buffer = io.BytesIO()
    deck.save(buffer)
    return buffer.getvalue()


def test_pptx_slides_are_sections_and_pages_with_tables_and_notes():
    loaded = load_bytes(Path("report.pptx"), _deck())
    assert loaded.title == "季度汇报"
    text = loaded.text
    assert text.startswith("# 销售概况\n\n华东区增长 12%\n  - 上海贡献最大")
    assert "## 备注 (notes)\n\n提醒：强调新客户数量翻倍" in text
    assert "# 价格表\n\n| 型号 | 价格 |\n| --- | --- |\n| A1 | 120 元 |\n| B2 | 98 元 |" in text
    assert "# report (3)\n\n联系人：王五" in text
    assert len(loaded.pages) == 3
    docs = file_documents(loaded, source="report.pptx", file_hash="h", split=SplitOptions())
    by_page = {d.metadata["page"]: d for d in docs if "备注" not in d.metadata["heading"]}
    assert by_page[2].metadata["heading"] == "价格表" and "| A1 | 120 元 |" in by_page[2].page_content
    assert any(d.metadata["heading"] == "销售概况 > 备注 (notes)" for d in docs)


def _rows(n: int) -> list[tuple]:
    return [(f"P{i:04d}", f"产品{i}", 10 + i, datetime.date(2024, 1, 1) + datetime.timedelta(days=i)) for i in range(n)]


def test_xlsx_sheets_are_sections_and_every_chunk_repeats_the_header():
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "库存"
    sheet.append(["编号", "名称", "数量", "入库日期"])
    for row in _rows(200):
        sheet.append(row)
    other = book.create_sheet("说明")
    other.append(["项目", "内容"])
    other.append(["负责人", "赵六"])
    other["C5"] = None  # formatted but empty cells do not widen the table
    buffer = io.BytesIO()
    book.save(buffer)
    loaded = load_bytes(Path("stock.xlsx"), buffer.getvalue())
    assert loaded.text.startswith("# 库存\n\n| 编号 | 名称 | 数量 | 入库日期 |\n| --- | --- | --- | --- |\n"
                                  "| P0000 | 产品0 | 10 | 2024-01-01 |")
    assert "# 说明\n\n| 项目 | 内容 |\n| --- | --- |\n| 负责人 | 赵六 |" in loaded.text
    docs = file_documents(loaded, source="stock.xlsx", file_hash="h", split=SplitOptions(chunk_size=400))
    stock = [d for d in docs if d.metadata["heading"] == "库存"]
    assert len(stock) > 10
    for doc in stock:
        assert "| 编号 | 名称 | 数量 | 入库日期 |\n| --- | --- | --- | --- |\n" in doc.page_content
    found = [d.page_content for d in stock if "| P0123 |" in d.page_content]
    assert found and "| P0123 | 产品123 | 133 | 2024-05-03 |" in found[0]


def test_xls_is_read_with_dates():
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("名单")
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for c, value in enumerate(["姓名", "部门", "入职"]):
        sheet.write(0, c, value)
    sheet.write(1, 0, "张三")
    sheet.write(1, 1, "研发")
    sheet.write(1, 2, datetime.date(2021, 3, 15), date_style)
    buffer = io.BytesIO()
    book.save(buffer)
    loaded = load_bytes(Path("staff.xls"), buffer.getvalue())
    assert loaded.text == "# 名单\n\n| 姓名 | 部门 | 入职 |\n| --- | --- | --- |\n| 张三 | 研发 | 2021-03-15 |"


def test_csv_in_gbk_with_semicolons_and_ragged_rows():
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(["城市", "人口（万）", "备注"])
    writer.writerow(["杭州", "1252", "含 | 竖线"])
    writer.writerow(["苏州", "1291"])
    writer.writerow(["宁波", "962", "多", "一列"])
    loaded = load_bytes(Path("cities.csv"), buffer.getvalue().encode("gbk"))
    assert loaded.encoding == "gb18030"
    assert loaded.text.splitlines()[3:] == [
        "| --- | --- | --- |", "| 杭州 | 1252 | 含 \\| 竖线 |", "| 苏州 | 1291 |  |", "| 宁波 | 962 | 多 一列 |",
    ]


def _epub(chapters: list[tuple[str, str, str]], *, nav: bool = True) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("mimetype", "application/epub+zip")
        z.writestr("META-INF/container.xml", '<?xml version="1.0"?><container version="1.0" '
                   'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles><rootfile '
                   'full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>')
        items = "".join(f'<item id="c{i}" href="text/ch{i}.xhtml" media-type="application/xhtml+xml"/>'
                        for i in range(len(chapters)))
        refs = "".join(f'<itemref idref="c{i}"/>' for i in range(len(chapters)))
        if nav:
            items += '<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>'
            links = "".join(f'<li><a href="text/ch{i}.xhtml">{label}</a></li>' for i, (label, _, _) in enumerate(chapters))
            z.writestr("OEBPS/nav.xhtml", '<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">'
                       f'<body><nav epub:type="toc"><ol>{links}</ol></nav></body></html>')
        z.writestr("OEBPS/content.opf", '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
                   '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>运维手册</dc:title></metadata>'
                   f'<manifest>{items}</manifest><spine>{refs}</spine></package>')
        for i, (_, title, body) in enumerate(chapters):
            z.writestr(f"OEBPS/text/ch{i}.xhtml", '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
                       f"<head><title>{title}</title></head><body>{body}</body></html>")
    return buffer.getvalue()


def test_epub_chapters_are_headings_in_spine_order():
    data = _epub([
        ("第一章 安装", "ch1", "<h1>第一章 安装</h1><p>运行安装脚本。</p><h2>依赖</h2><p>需要 Python 3.11。</p>"),
        ("第二章 备份", "ch2", "<p>每天凌晨三点备份数据库。</p>"),
    ])
    loaded = load_bytes(Path("ops.epub"), data)
    assert loaded.title == "运维手册"
    assert loaded.text == ("# 第一章 安装\n\n运行安装脚本。\n\n## 依赖\n\n需要 Python 3.11。\n\n"
                           "# 第二章 备份\n\n每天凌晨三点备份数据库。")
    docs = file_documents(loaded, source="ops.epub", file_hash="h", split=SplitOptions())
    assert [d.metadata["heading"] for d in docs] == ["第一章 安装", "第一章 安装 > 依赖", "第二章 备份"]


def test_epub_without_a_table_of_contents_uses_chapter_titles():
    data = _epub([("x", "序言", "<p>本书介绍运维。</p>")], nav=False)
    assert load_bytes(Path("ops.epub"), data).text == "# 序言\n\n本书介绍运维。"


def test_json_and_jsonl_are_text_with_real_characters():
    value = {"模型": "ChatGLM", "显存": "7G"}
    loaded = load_bytes(Path("cfg.json"), json.dumps(value).encode())
    assert '"模型": "ChatGLM"' in loaded.text and not loaded.markdown
    lines = load_bytes(Path("log.jsonl"), b'{"a": 1}\n\n{"b": "\\u4f60\\u597d"}\n').text
    assert lines == '{"a": 1}\n{"b": "你好"}'


@pytest.mark.parametrize(("name", "data", "zh", "en"), [
    ("deck.pptx", b"PK\x03\x04 truncated", "不是可读的 PowerPoint .pptx 文件", "not a readable PowerPoint .pptx file"),
    ("deck.pptx", b"just text, renamed", "不是可读的 PowerPoint .pptx 文件", "not a ZIP archive"),
    ("book.xlsx", b"<html>not a workbook</html>", "不是可读的 Excel .xlsx 文件", "not a readable Excel .xlsx file"),
    ("book.xls", b"\xd0\xcf\x11\xe0 not really OLE2", "不是可读的 Excel .xls 表格", "not a readable Excel .xls spreadsheet"),
    ("book.epub", b"not a zip", "不是可读的 EPUB 文件", "not a readable EPUB file"),
    ("cfg.json", b'{"a": 1,,}', "不是有效的 JSON：第 1 行第 9 列", "not valid JSON: line 1, column 9"),
    ("log.jsonl", b'{"a": 1}\n[1, 2\n', "不是有效的 JSON：第 2 行", "not valid JSON: line 2"),
])
def test_bad_files_are_one_clear_line_in_both_languages(name, data, zh, en):
    with pytest.raises(LoadError) as caught:
        load_bytes(Path(name), data)
    assert zh in localized(caught.value, "zh") and "\n" not in localized(caught.value, "zh")
    assert en in localized(caught.value, "en")


def test_pptx_and_epub_without_the_expected_members_are_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("hello.txt", "a zip, but not a deck")
    for name, words in [("a.pptx", "PowerPoint"), ("a.epub", "EPUB"), ("a.xlsx", "Excel")]:
        with pytest.raises(LoadError, match=words):
            load_bytes(Path(name), buffer.getvalue())


def test_a_zip_bomb_workbook_is_refused_before_parsing():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/worksheets/sheet1.xml", "<row/>" * 3_000_000)
    with pytest.raises(LoadError, match="possible zip bomb"):
        load_bytes(Path("bomb.xlsx"), buffer.getvalue())


def test_new_suffixes_are_supported():
    assert all(is_supported(Path(f"a{s}")) for s in (".pptx", ".xlsx", ".XLS", ".csv", ".tsv", ".epub", ".json", ".jsonl"))
