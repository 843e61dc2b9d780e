"""OCR layout, PDF tables and the refusals of scans and images, without running the OCR model (see
tests/integration/test_ocr.py for real OCR)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ragkit.errors import LoadError, localized
from ragkit.formats import OcrOptions, load_bytes
from ragkit.formats.ocr import OcrLine, paragraphs
from ragkit.formats.pdf import markdown_table
from ragkit.splitting import split_text

ROWS = [["模型", "参数量", "最低显存"], ["ChatGLM-6B", "62 亿", "13 GB"], ["Qwen-7B", "70 亿", "16 GB"],
        ["Baichuan-13B", "130 亿", "28 GB"]]


def line(text: str, x0: float, y0: float, x1: float, conf: float = 0.99) -> OcrLine:
    return OcrLine(text, (x0, y0, x1, y0 + 20), conf)


def test_two_columns_are_read_column_by_column_under_a_spanning_title():
    lines = [  # given in a scrambled order, as the detector may return them
        line("第二栏第一行，", 520, 100, 900), line("两栏排版的通知标题横跨两栏", 100, 20, 900),
        line("第一栏第一行，", 100, 100, 480), line("第一栏第二行。", 100, 126, 480),
        line("第二栏第二行。", 520, 126, 900), line("页脚横跨两栏的一行文字", 100, 300, 900),
    ]
    text = paragraphs(lines).text
    assert text.split("\n\n") == ["两栏排版的通知标题横跨两栏", "第一栏第一行，第一栏第二行。",
                                  "第二栏第一行，第二栏第二行。", "页脚横跨两栏的一行文字"]


def test_paragraph_breaks_and_joining():
    lines = [
        line("检索增强生成把外部知识", 100, 100, 900), line("和大模型结合起来。", 100, 126, 500),  # short: ends
        line("缩进的新段落从这里开始，", 140, 152, 900), line("Retrieval augmented", 100, 178, 900),
        line("generation works offline.", 100, 204, 600),
        line("空一行之后的段落。", 100, 280, 500),
    ]
    assert paragraphs(lines).text.split("\n\n") == [
        "检索增强生成把外部知识和大模型结合起来。",
        "缩进的新段落从这里开始，Retrieval augmented generation works offline.",
        "空一行之后的段落。",
    ]


def test_line_spans_point_at_their_text_with_confidences():
    lines = [line("清楚的一行文字。", 100, 100, 900), line("模糊的字", 100, 126, 400, conf=0.41)]
    read = paragraphs(lines)
    start, end, conf = read.spans[1]
    assert read.text[start:end] == "模糊的字" and conf == 0.41
    assert paragraphs([]).text == ""


def test_markdown_table_keeps_header_and_rows():
    text = markdown_table([["名称", "说明"], ["a|b", "第一行\n第二行"], [None, ""], ["x"]])
    assert text.splitlines() == ["| 名称 | 说明 |", "| --- | --- |", "| a\\|b | 第一行第二行 |", "| x |  |"]


def table_pdf(path: Path, rows: list[list[str]], *, encrypt: str | None = None) -> Path:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    style = ParagraphStyle("zh", fontName="STSong-Light", fontSize=11, leading=16)
    grid = Table(rows)
    grid.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), "STSong-Light"),
                              ("GRID", (0, 0), (-1, -1), 0.5, colors.black)]))
    SimpleDocTemplate(str(path), pagesize=A4, encrypt=encrypt).build(
        [Paragraph("下表列出常见开源模型的显存需求。", style), Spacer(1, 12), grid, Spacer(1, 12),
         Paragraph("表格之后的正文段落。", style)])
    return path


def test_pdf_table_becomes_a_markdown_table_in_place(tmp_path):
    path = table_pdf(tmp_path / "t.pdf", ROWS)
    loaded = load_bytes(path, path.read_bytes(), ocr=OcrOptions(mode="never"))
    assert loaded.markdown and loaded.ocr_pages == ()
    assert loaded.text.split("\n\n") == [
        "下表列出常见开源模型的显存需求。",
        "| 模型 | 参数量 | 最低显存 |\n| --- | --- | --- |\n| ChatGLM-6B | 62 亿 | 13 GB |\n"
        "| Qwen-7B | 70 亿 | 16 GB |\n| Baichuan-13B | 130 亿 | 28 GB |",
        "表格之后的正文段落。",
    ]
    pieces = split_text(loaded.text, chunk_size=60, chunk_overlap=0, markdown=True)
    rows = [p.text for p in pieces if "Baichuan-13B" in p.text]
    assert rows and rows[0].startswith("| 模型 | 参数量 | 最低显存 |")  # the header goes with every piece


def test_encrypted_pdf_asks_for_the_password(tmp_path):
    path = table_pdf(tmp_path / "secret.pdf", ROWS, encrypt="s3cret")
    with pytest.raises(LoadError) as info:
        load_bytes(path, path.read_bytes())
    assert "needs a password" in str(info.value)
    assert "需要密码" in localized(info.value, "zh")


def blank_pdf(path: Path, pages: int, size: tuple[float, float] = (595, 842)) -> Path:
    """Pages with no text layer (as a scanner makes them, minus the picture)."""
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=size)
    for _ in range(pages):
        pdf.rect(50, 50, 100, 100)
        pdf.showPage()
    pdf.save()
    return path


def test_scanned_pdf_refusals_name_the_setting(tmp_path):
    path = blank_pdf(tmp_path / "scan.pdf", 3)
    with pytest.raises(LoadError, match="3 pages need OCR, over the 2-page limit") as info:
        load_bytes(path, path.read_bytes(), ocr=OcrOptions(max_pages=2))
    assert "RAGKIT_OCR_MAX_PAGES" in localized(info.value, "zh")
    with pytest.raises(LoadError, match="OCR is off") as info:
        load_bytes(path, path.read_bytes(), ocr=OcrOptions(mode="never"))
    assert "OCR 已关闭" in localized(info.value, "zh")
    with pytest.raises(LoadError, match=r"stopped at page 1 of 3") as info:
        load_bytes(path, path.read_bytes(), ocr=OcrOptions(timeout_s=1e-9))
    assert "RAGKIT_OCR_TIMEOUT" in localized(info.value, "zh")


def test_page_too_large_to_render_is_refused_before_rendering(tmp_path):
    path = blank_pdf(tmp_path / "huge.pdf", 1, size=(14_000, 14_000))  # 39,000 px a side at 200 dpi
    with pytest.raises(LoadError, match="pixel limit") as info:
        load_bytes(path, path.read_bytes())
    assert "像素上限" in localized(info.value, "zh")


def png(width: int, height: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("1", (width, height), 1).save(buffer, "PNG")  # compresses to almost nothing
    return buffer.getvalue()


def test_pixel_bomb_image_is_refused_from_its_header():
    data = png(20_000, 20_000)  # 400 million pixels in a few kB
    assert len(data) < 200_000
    with pytest.raises(LoadError, match=r"400000000 pixels, over the 50000000-pixel limit"):
        load_bytes(Path("bomb.png"), data)
    with pytest.raises(LoadError, match="pixel limit"):
        load_bytes(Path("small.png"), png(40, 30), ocr=OcrOptions(max_pixels=1000))


@pytest.mark.parametrize("name,data,reason", [
    ("a.png", "不是图片".encode(), "not a readable image"),
    ("a.jpg", png(40, 30), "which is off"),
])
def test_bad_or_unwanted_images(name, data, reason):
    options = OcrOptions(mode="never") if reason == "which is off" else OcrOptions()
    with pytest.raises(LoadError, match=reason):
        load_bytes(Path(name), data, ocr=options)
