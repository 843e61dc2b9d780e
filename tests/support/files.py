"""Builders of real test documents: Word files, PDFs with Chinese text, HTML."""

from __future__ import annotations

import zipfile
from pathlib import Path

PARAGRAPHS = [
    "大语言模型（LLM）是一种基于深度学习的自然语言处理模型。",
    "简短段落。",
    "ChatGLM 能够在 7G 显存的条件下进行微调。",
]


def make_docx(path: Path) -> Path:
    """Title, Heading 1/2, short and long Chinese paragraphs in Normal style, and a table."""
    import docx

    document = docx.Document()
    document.add_heading("大模型手册", level=0)  # the Title style
    document.add_heading("第一章 概述", level=1)
    document.add_paragraph(PARAGRAPHS[0])
    document.add_paragraph(PARAGRAPHS[1])  # short: unstructured would guess "Title"
    document.add_heading("1.1 开源模型", level=2)
    document.add_paragraph(PARAGRAPHS[2])
    table = document.add_table(rows=3, cols=2)
    for row, (name, size) in enumerate([("模型", "参数量"), ("GPT-3", "175B"), ("LLaMA", "65B")]):
        table.cell(row, 0).text, table.cell(row, 1).text = name, size
    document.save(str(path))
    return path


def make_pdf(path: Path, pages: list[str]) -> Path:
    """A PDF with one Chinese text page per item, in reportlab's built-in CID font (no font file needed)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(path), pagesize=A4)
    for text in pages:
        pdf.setFont("STSong-Light", 12)
        y = 800
        for start in range(0, len(text), 40):
            pdf.drawString(50, y, text[start : start + 40])
            y -= 18
        pdf.showPage()
    pdf.save()
    return path


HTML = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>测试文档</title></head><body>
<h1>大语言模型简介</h1>
<p>大语言模型（LLM）是一种基于深度学习的自然语言处理模型。</p>
<p>简短段落。</p>
<h2>训练方法</h2>
<p><b>预训练</b></p>
<p>模型首先在大规模无标注语料上进行自监督学习。</p>
<h3>检索增强生成</h3>
<table><tr><th>模型</th><th>参数量</th></tr><tr><td>GPT-3</td><td>175B</td></tr></table>
<ul><li>列表项一</li><li>列表项二</li></ul>
</body></html>
"""


_PARAGRAPH = b"<w:p><w:r><w:t>aaaaaaaa</w:t></w:r></w:p>"
_CONTENT_TYPES = (b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/'
                  b'2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
                  b'package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override '
                  b'PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
                  b'wordprocessingml.document.main+xml"/></Types>')
_RELS = (b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
         b'2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
         b'relationships/officeDocument" Target="word/document.xml"/></Relationships>')


def docx_bomb(path: Path, repetitions: int) -> Path:
    """Issue #11's reproduction: a .docx whose word/document.xml is ``repetitions`` identical paragraphs
    (deflate level 9; 10,000,000 of them are 400 MB of XML in about 1 MB), written in blocks."""
    head = (b'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
            b'wordprocessingml/2006/main"><w:body>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        with archive.open("word/document.xml", "w") as member:
            member.write(head)
            blocks, rest = divmod(repetitions, 100_000)
            for _ in range(blocks):
                member.write(_PARAGRAPH * 100_000)
            member.write(_PARAGRAPH * rest)
            member.write(b"</w:body></w:document>")
    return path
