"""OCR quality and speed on scans made from the corpus, retrieval over the scanned corpus, and PDF tables (#14).

    python benchmarks/ocr.py [--sample 6] [--corpus-dpi 150] [--corpus-noise] [--memory-pages 200] [--write]

1. Scans: the pages of corpora/llm (Markdown markup removed, wrapped to A4 with 2.5 cm margins, Noto Sans CJK
   11 pt) are drawn with Pillow at 150 and 300 dpi, clean or noisy (rotated up to 0.8 degrees, Gaussian blur,
   JPEG quality 35), and put into image-only PDFs (reportlab, lossless). ``--sample`` pages spread over the
   corpus are read through ``ragkit.formats.load_bytes`` (render at the scan's dpi + OCR): character error
   rate = Levenshtein distance / reference length, both NFKC with whitespace and table bars removed; pages per second.
2. The whole corpus as scanned PDFs (``--corpus-dpi``, ``--corpus-noise``) is ingested with ``ragkit ingest`` and
   ``ragkit eval benchmarks/dev.jsonl --retrieval-only`` is compared with the same over the Markdown corpus.
3. Peak memory (max RSS of the ``ragkit ingest`` process) of a ``--memory-pages`` scanned PDF at 150 dpi
   (0 skips it).
4. PDF tables: benchmarks/pdf_tables.jsonl over PDFs with ruled tables made here with reportlab (built-in CID
   font STSong-Light): ``ragkit eval`` with the default extractive model, retrieval hit@5 and answer accuracy.

``--write`` replaces the ``ocr`` section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import re
import resource
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEV, HERE, ROOT, table, write_section  # noqa: E402

from _eval import group_metrics, ragkit, run_eval  # noqa: E402

from ragkit.formats import OcrOptions, load_bytes  # noqa: E402

CORPUS = ROOT / "corpora" / "llm"
FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
FONT_INDEX = 2  # Noto Sans CJK SC
TABLES = HERE / "pdf_tables.jsonl"
A4 = (8.27, 11.69)  # inches
MARGIN = 1.0  # inch (2.5 cm)
POINTS = 11
_NOT_IN_FONT = re.compile("[\U0001F000-\U0001FFFF\u2600-\u27BF\uFE0F\u200d]")


def plain_lines(markdown: str) -> list[str]:
    """The text a printed copy of a Markdown file shows: markup, link targets, table padding and emoji (not in
    the font) removed, blank lines kept."""
    out = []
    for line in markdown.splitlines():
        line = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", line)  # links and images: their text
        line = re.sub(r"^\s{0,3}(#{1,6}\s+|[-*+]\s+|>\s?)", "", line)
        line = re.sub(r"\*\*|__|`|<[^>]+>", "", line)
        line = _NOT_IN_FONT.sub("", line).replace("\\|", "|")  # emoji: the font has none, so they do not print
        line = re.sub(r"\s{2,}", " ", line)  # padded Markdown tables print unpadded
        if re.fullmatch(r"\s*\|?\s*:?-{3,}.*", line):
            continue  # table rules and horizontal rules print as lines, not text
        out.append(line.strip())
    return out


def pages_of(lines: list[str], font, width_px: float, per_page: int) -> list[list[str]]:
    """Lines wrapped to ``width_px`` (character by character, as a word processor does for Chinese), paged."""
    wrapped: list[str] = []
    for line in lines:
        current = ""
        for ch in line:
            if font.getlength(current + ch) > width_px:
                wrapped.append(current)
                current = ch.lstrip()
            else:
                current += ch
        wrapped.append(current)
    while wrapped and not wrapped[-1]:
        wrapped.pop()
    return [wrapped[i:i + per_page] for i in range(0, len(wrapped), per_page)]


def layout(dpi: int):
    from PIL import ImageFont

    font = ImageFont.truetype(FONT, round(POINTS / 72 * dpi), index=FONT_INDEX)
    return font, (A4[0] - 2 * MARGIN) * dpi, int((A4[1] - 2 * MARGIN) * 72 / (POINTS * 1.5))


def corpus_pages() -> list[tuple[str, list[str]]]:
    """(file stem, lines) of every page of the corpus, laid out once at 300 dpi (the layout does not depend on dpi)."""
    font, width, per_page = layout(300)
    out = []
    for path in sorted(CORPUS.glob("*.md")):
        for page in pages_of(plain_lines(path.read_text(encoding="utf-8")), font, width, per_page):
            out.append((path.stem, page))
    return out


def draw(lines: list[str], dpi: int, noisy: bool, seed: int):
    from PIL import Image, ImageDraw, ImageFilter

    font, _, _ = layout(dpi)
    size = (round(A4[0] * dpi), round(A4[1] * dpi))
    image = Image.new("L", size, 255)
    pen = ImageDraw.Draw(image)
    step = POINTS / 72 * dpi * 1.5
    for n, line in enumerate(lines):
        pen.text((MARGIN * dpi, MARGIN * dpi + n * step), line, font=font, fill=0)
    if noisy:
        rng = random.Random(seed)
        image = image.rotate(rng.uniform(-0.8, 0.8), resample=Image.BICUBIC, fillcolor=255)
        image = image.filter(ImageFilter.GaussianBlur(0.5 * dpi / 150))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=35)
        image = Image.open(io.BytesIO(buffer.getvalue())).convert("L")
    return image


def image_pdf(images: list, dpi: int) -> bytes:
    """An image-only PDF, one image per A4 page, embedded losslessly."""
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(A4[0] * 72, A4[1] * 72))
    for image in images:
        pdf.drawImage(ImageReader(image), 0, 0, width=A4[0] * 72, height=A4[1] * 72)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _norm(text: str) -> str:
    return re.sub(r"[\s|]+", "", unicodedata.normalize("NFKC", text))  # table bars are rules, not text


def cer(reference: str, read: str) -> float:
    from rapidfuzz.distance import Levenshtein

    ref = _norm(reference)
    return Levenshtein.distance(ref, _norm(read)) / max(len(ref), 1)


def measure_cer(pages: list[tuple[str, list[str]]], sample: int) -> list[list[object]]:
    picked = [pages[round(i * (len(pages) - 1) / max(sample - 1, 1))] for i in range(sample)]
    rows = []
    for dpi in (150, 300):
        for noisy in (False, True):
            images = [draw(lines, dpi, noisy, seed=n) for n, (_, lines) in enumerate(picked)]
            pdf = image_pdf(images, dpi)
            del images
            started = time.perf_counter()
            loaded = load_bytes(Path("scan.pdf"), pdf, ocr=OcrOptions(dpi=dpi))
            seconds = time.perf_counter() - started
            ends = [*loaded.pages[1:], len(loaded.text)]
            texts = [loaded.text[s:e] for s, e in zip(loaded.pages, ends, strict=True)]
            errors = [cer("".join(lines), text) for (_, lines), text in zip(picked, texts, strict=True)]
            total = sum(len(_norm("".join(lines))) for _, lines in picked)
            weighted = sum(e * len(_norm("".join(lines))) for e, (_, lines) in zip(errors, picked, strict=True)) / total
            rows.append([dpi, "noisy" if noisy else "clean", len(picked), weighted, max(errors), len(picked) / seconds])
            print(rows[-1], flush=True)
    return rows


def scanned_corpus(pages: list[tuple[str, list[str]]], folder: Path, dpi: int, noisy: bool) -> int:
    by_file: dict[str, list] = {}
    for n, (stem, lines) in enumerate(pages):
        by_file.setdefault(stem, []).append(draw(lines, dpi, noisy, seed=n))
    for stem, images in by_file.items():
        (folder / f"{stem}.pdf").write_bytes(image_pdf(images, dpi))
    return len(pages)


def dev_subset(stems: set[str], path: Path) -> int:
    """The dev questions whose sources are all among ``stems`` (all questions when ``stems`` is empty)."""
    kept = []
    for line in DEV.read_text(encoding="utf-8").splitlines():
        source = json.loads(line).get("source") if line.strip() else None
        sources = [source] if isinstance(source, str) else source or []
        if line.strip() and (not stems or (sources and all(Path(s).stem in stems for s in sources))):
            kept.append(line)
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return len(kept)


def retrieval(pages, dpi: int, noisy: bool, stems: set[str], work: Path) -> tuple[dict, dict, float, int, int]:
    scans, texts = work / "scans", work / "texts"
    scans.mkdir()
    texts.mkdir()
    pages = [page for page in pages if not stems or page[0] in stems]
    n = scanned_corpus(pages, scans, dpi, noisy)
    for path in CORPUS.glob("*.md"):
        if not stems or path.stem in stems:
            (texts / path.name).write_bytes(path.read_bytes())
    questions = work / "dev-subset.jsonl"
    n_questions = dev_subset(stems, questions)
    started = time.perf_counter()
    done = ragkit("ingest", str(scans), data_dir=work / "scan-data", RAGKIT_OCR_DPI=str(dpi))
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    print("scan ingest max RSS (MiB) of the largest child so far:",
          resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, flush=True)
    scanned = group_metrics(run_eval(questions, work / "scan-data", work / "scan-out", "--retrieval-only")["outcomes"])
    done = ragkit("ingest", str(texts), data_dir=work / "text-data")
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    text = group_metrics(run_eval(questions, work / "text-data", work / "text-out", "--retrieval-only")["outcomes"])
    return text, scanned, seconds, n, n_questions


def peak_memory(pages, n_pages: int, work: Path) -> tuple[float, float]:
    """(max RSS in MiB, seconds) of ``ragkit ingest`` of one ``n_pages`` scanned PDF at 150 dpi."""
    chosen = [pages[i % len(pages)][1] for i in range(n_pages)]
    path = work / "big-scan.pdf"
    path.write_bytes(image_pdf([draw(lines, 150, False, seed=i) for i, lines in enumerate(chosen)], 150))
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = ragkit("ingest", str(path), data_dir=work / "big-data", RAGKIT_OCR_DPI="150",
                  RAGKIT_OCR_TIMEOUT="86400")  # measuring memory: the per-file time bound must not end it
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(peak, before) / 1024, seconds  # ru_maxrss: the largest child so far (this one is the largest)


# the PDFs of the table questions: (file, heading, intro, rows)
TABLE_PDFS = [
    ("gpu-requirements.pdf", "开源模型部署的显存需求", "下表列出几个开源模型在不同精度下部署所需的显存和推荐显卡。", [
        ["模型", "参数量", "FP16 显存", "INT4 显存", "推荐显卡"],
        ["ChatGLM3-6B", "62 亿", "13 GB", "6 GB", "RTX 3090"],
        ["Qwen-14B", "140 亿", "30 GB", "11 GB", "A100 40GB"],
        ["Baichuan2-13B", "130 亿", "28 GB", "10 GB", "RTX 4090"],
        ["Yi-34B", "340 亿", "72 GB", "22 GB", "A100 80GB"],
        ["InternLM-20B", "200 亿", "41 GB", "14 GB", "A800"],
    ]),
    ("api-pricing.pdf", "大模型 API 价格表（示例数据）", "以下价格为每百万 token 的示例价格，仅用于测试表格检索。", [
        ["服务", "上下文长度", "输入价格", "输出价格", "限速"],
        ["星河-标准版", "32K", "4 元", "12 元", "60 次/分钟"],
        ["星河-长文本版", "128K", "10 元", "30 元", "20 次/分钟"],
        ["北辰-轻量版", "8K", "0.8 元", "2 元", "300 次/分钟"],
        ["北辰-专业版", "64K", "20 元", "60 元", "30 次/分钟"],
    ]),
]


def table_pdf(path: Path, heading: str, intro: str, rows: list[list[str]]) -> None:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4 as A4_POINTS
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    title = ParagraphStyle("h", fontName="STSong-Light", fontSize=16, leading=22)
    body = ParagraphStyle("b", fontName="STSong-Light", fontSize=11, leading=16)
    grid = Table(rows)
    grid.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), "STSong-Light"),
                              ("GRID", (0, 0), (-1, -1), 0.5, colors.black)]))
    SimpleDocTemplate(str(path), pagesize=A4_POINTS).build(
        [Paragraph(heading, title), Spacer(1, 8), Paragraph(intro, body), Spacer(1, 8), grid,
         Spacer(1, 8), Paragraph("表格数据仅用于 ragkit 的测试，不代表任何真实产品。", body)])


def pdf_tables(work: Path) -> tuple[dict, int]:
    folder = work / "tables"
    folder.mkdir()
    for name, heading, intro, rows in TABLE_PDFS:
        table_pdf(folder / name, heading, intro, rows)
    done = ragkit("ingest", str(folder), data_dir=work / "tables-data")
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    outcomes = run_eval(TABLES, work / "tables-data", work / "tables-out")["outcomes"]
    wrong = [f"{o['id']}: {o.get('answer', '')[:80]!r}" for o in outcomes if not o["correct"]]
    hit5 = sum(1 for o in outcomes if o["rank"] is not None and o["rank"] <= 5) / len(outcomes)
    accuracy = sum(bool(o["correct"]) for o in outcomes) / len(outcomes)
    return {"n": len(outcomes), "hit@5": hit5, "accuracy": accuracy, "wrong": wrong}, len(outcomes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sample", type=int, default=6, help="pages per condition for the character error rate")
    parser.add_argument("--corpus-dpi", type=int, default=150)
    parser.add_argument("--corpus-noise", action="store_true")
    parser.add_argument("--corpus-files", nargs="*", default=[], help="stems of the corpus files to scan (default: "
                        "all); the dev questions are then those whose sources are all among them")
    parser.add_argument("--memory-pages", type=int, default=200)
    parser.add_argument("--skip", nargs="*", default=[], choices=["cer", "retrieval", "memory", "tables"])
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    pages = corpus_pages()
    def add(part: str) -> None:
        parts.append(part)
        print(part, flush=True)

    parts = [f"The corpus prints as {len(pages)} A4 pages (Noto Sans CJK SC 11 pt, 2.5 cm margins)."]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if "tables" not in args.skip:
            tables, n = pdf_tables(work)
            print("tables", tables, flush=True)
            add(f"**PDF tables** ({n} table-cell questions, benchmarks/pdf_tables.jsonl, over {len(TABLE_PDFS)} "
                         f"generated PDFs with ruled tables): retrieval hit@5 {tables['hit@5']:.3f}, answer accuracy "
                         f"(extractive default model) {tables['accuracy']:.3f}."
                         + (" Wrong: " + "; ".join(tables["wrong"]) if tables["wrong"] else ""))
        if "cer" not in args.skip:
            rows = measure_cer(pages, args.sample)
            add("**Character error rate** (pages spread over the corpus, read by `load_bytes`: render at the "
                         "scan's dpi + OCR; CER weighted by page length):\n\n" + table(
                             ["dpi", "scan", "pages", "CER", "worst page CER", "pages/s"], rows))
        if "retrieval" not in args.skip:
            stems = set(args.corpus_files)
            text, scanned, seconds, n, n_questions = retrieval(pages, args.corpus_dpi, args.corpus_noise, stems, work)
            rows = [[g, text[g]["n"], text[g]["hit@5"], scanned.get(g, {}).get("hit@5", 0.0)]
                    for g in text if "hit@5" in text[g]]
            disjoint = ("single zh", "single en", "multi-turn")  # the other groups overlap these
            overall = [sum(m[g]["hit@5"] * m[g]["n"] for g in disjoint if g in m)
                       / sum(m[g]["n"] for g in disjoint if g in m) for m in (text, scanned)]
            which = ", ".join(sorted(stems)) if stems else "the whole corpus"
            add(f"**Retrieval over the scanned corpus** ({which}: {n} pages at {args.corpus_dpi} dpi, "
                         f"{'noisy' if args.corpus_noise else 'clean'}; `ragkit ingest` took {seconds:.0f} s, "
                         f"{n / seconds:.2f} pages/s including embedding) against the same files as Markdown: `ragkit eval "
                         f"--retrieval-only` on the {n_questions} dev questions whose sources are among them, hit@5 per "
                         "group (paraphrase and table questions are among the "
                         "single ones):\n\n" + table(["group", "n", "text corpus", "scanned corpus"],
                                                        [["all (weighted)", "", *overall], *rows]))
        if args.memory_pages:
            peak, seconds = peak_memory(pages, args.memory_pages, work)
            add(f"**Peak memory**: `ragkit ingest` of one {args.memory_pages}-page scanned PDF (150 dpi, clean): "
                         f"max RSS {peak:.0f} MiB, {seconds:.0f} s ({args.memory_pages / seconds:.2f} pages/s).")
    body = "\n\n".join(parts) + ("\n\nThe machine is shared with other sessions running tests and benchmarks: "
                                  "speeds are lower bounds.")
    print(body)
    if args.write:
        write_section("ocr", "## OCR and PDF tables (#14)\n\n" + body)


if __name__ == "__main__":
    main()
