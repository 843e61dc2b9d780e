"""Real OCR (rapidocr-onnxruntime, models from its wheel) of scans Pillow draws with the Noto CJK font: an image
read in two columns, and a PDF whose second page is a scan, ingested with page numbers and OCR metadata."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ragkit.formats import OcrOptions, load_bytes
from ragkit.ingest import Event, ingest
from tests.support.files import make_pdf
from tests.support.kb import open_kb

FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
LEFT = ["第一栏介绍检索增强生成，", "它先从知识库中找到相关段落，", "再交给大模型回答问题。"]
RIGHT = ["第二栏说明离线识别，", "扫描件和图片不需要联网，", "模型随软件包一起安装。"]


def scan(lines_left: list[str], lines_right: list[str] | None = None, *, title: str = ""):
    """A grayscale 150 dpi 'scan': an optional title across the page, then one or two columns."""
    from PIL import Image, ImageDraw, ImageFont

    assert FONT.exists(), "install fonts-noto-cjk"
    font = ImageFont.truetype(str(FONT), 26, index=2)  # Noto Sans CJK SC
    image = Image.new("L", (1240, 160 + 44 * max(len(lines_left), len(lines_right or []))), 255)
    pen = ImageDraw.Draw(image)
    if title:
        pen.text((80, 40), title, font=font, fill=0)
    for n, text in enumerate(lines_left):
        pen.text((80, 110 + n * 44), text, font=font, fill=0)
    for n, text in enumerate(lines_right or []):
        pen.text((660, 110 + n * 44), text, font=font, fill=0)
    return image


@pytest.fixture(scope="module")
def two_column_png() -> bytes:
    buffer = io.BytesIO()
    scan(LEFT, RIGHT, title="离线问答系统的两栏说明文档").save(buffer, "PNG")
    return buffer.getvalue()


def test_image_is_read_in_column_order(two_column_png):
    pages: list[tuple[int, int]] = []
    loaded = load_bytes(Path("说明.png"), two_column_png, ocr=OcrOptions(progress=lambda d, n: pages.append((d, n))))
    paragraphs = loaded.text.split("\n\n")
    assert paragraphs[0] == "离线问答系统的两栏说明文档"
    assert paragraphs[1:] == ["".join(LEFT), "".join(RIGHT)]
    assert loaded.pages == (0,) and loaded.ocr_pages == (1,) and pages == [(1, 1)]
    assert loaded.title == "说明"


def test_scanned_page_of_a_pdf_is_ocrd_and_keeps_its_number(tmp_path, data_dir):
    """Page 1 has a text layer (not OCR'd), page 2 is an image only: OCR reads it, citations say page 2."""
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    text_page = make_pdf(tmp_path / "text.pdf", ["第一页有文字层：ChatGLM 能够在 7G 显存的条件下进行微调。"])
    lines = ["第二页是扫描件：合同编号为 HT-2024-0815，", "签订日期为二零二四年八月十五日。"]
    image = scan(lines)
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(595, 842))
    pdf.drawImage(ImageReader(image), 0, 842 - image.height * 72 / 150, width=595, height=image.height * 72 / 150)
    pdf.showPage()
    pdf.save()
    import pypdfium2 as pdfium

    merged = pdfium.PdfDocument(str(text_page))
    merged.import_pages(pdfium.PdfDocument(buffer.getvalue()))
    folder = tmp_path / "docs"
    folder.mkdir()
    merged.save(str(folder / "合同.pdf"))

    events: list[Event] = []
    kb = open_kb(data_dir)
    report = ingest(kb, [folder], progress=events.append, ocr=OcrOptions(dpi=150, min_confidence=1.01))
    assert report.ok and report.added == ["合同.pdf"], report.failed
    assert [(e.page, e.total) for e in events if e.kind == "page"] == [(1, 1)]  # one page needed OCR
    chunks = list(kb.lexical.get(sorted(kb.lexical.ids("合同.pdf"))).values())
    by_page = {meta["page"]: (text, meta) for text, meta in chunks}
    assert set(by_page) == {1, 2}
    text, meta = by_page[2]
    assert "合同编号为HT-2024-0815" in text.replace(" ", "") and "二零二四年八月十五日" in text
    assert meta["ocr"] is True and "HT-2024-0815" in meta["ocr_uncertain"]  # every line is below 1.01
    assert "ocr" not in by_page[1][1] and "7G 显存" in by_page[1][0]
