"""The Streamlit page logic, driven by streamlit.testing's AppTest (the real script, no browser)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from ragkit.prompts import NO_AGENT_ANSWER
from tests.conftest import ROOT
from tests.support.files import make_docx

APP = str(ROOT / "apps" / "chat.py")


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGKIT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RAGKIT_EMBEDDER", "fake:32")
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [e.value for e in at.error]
    parts += [s.value for s in at.success] + [w.value for w in at.warning]
    for message in at.chat_message:
        parts += [m.value for m in message.markdown]
    return "\n".join(parts)


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return at


def test_first_start_ingests_the_corpus_and_offers_examples(app):
    assert app.status[0].label.startswith("导入完成") and "新增 5" in app.status[0].label
    examples = app.get("pills")[0]
    assert len(examples.options) == 4 and all(o.endswith("是什么？") for o in examples.options)
    examples.set_value(examples.options[0]).run()
    assert [m.name for m in app.chat_message] == ["user", "assistant"]


def test_ask_shows_the_answer_its_badge_and_sources(app):
    ask(app, "ChatGLM 在多大显存的条件下可以进行微调？")
    answer = app.chat_message[1]
    body = "\n".join(m.value for m in answer.markdown)
    assert "7G 显存" in body and "抽取式回答" in body  # the extractive badge
    assert any(e.label.startswith("[") and "GLM 系列" in e.label for e in app.expander)
    assert ":orange-background[" in body  # the cited sentence, highlighted


def test_abstention_is_shown_without_sources(app):
    ask(app, "GPT-5 是哪一天发布的？")
    body = "\n".join(m.value for m in app.chat_message[1].markdown)
    assert "在资料中没有找到相关内容" in body
    assert not [e for e in app.expander if e.label.startswith("[")]


def test_memory_new_conversation_and_the_list_of_past_ones(app):
    ask(app, "LLaMA 系列模型的参数规模范围是多少？")
    first = app.query_params["session"]
    ask(app, "它用的是什么激活函数？")
    assert "SwiGLU" in texts(app) and "检索问题：LLaMA 它用的是什么激活函数？" in texts(app)
    new = next(b for b in app.button if b.label == "新对话")
    new.click().run()
    assert app.query_params["session"] != first and not app.chat_message
    past = next(b for b in app.button if b.key == f"session-{first}")
    assert past.label.startswith("LLaMA 系列模型")
    past.click().run()
    assert app.query_params["session"] == first and len(app.chat_message) == 4  # shown again, from SQLite


def test_settings_apply_without_restart(app):
    app.slider[0].set_value(2)  # top-k
    app.selectbox[1].set_value("bm25")  # retrieval mode
    next(b for b in app.button if b.label == "应用设置").click().run()
    assert app.session_state["overrides"]["top_k"] == 2
    assert app.session_state.workspace.settings.retrieval_mode == "bm25"
    ask(app, "LangChain 的作者是谁？")
    assert "Harrison Chase" in texts(app)


def test_english_interface(app):
    app.segmented_control[0].set_value("English").run()
    assert app.title[0].value == "ragkit document chat"
    ask(app, "Who is the author of LangChain?")
    assert "extractive answer" in texts(app)


def test_upload_ingests_reports_errors_and_is_incremental(app, tmp_path):
    note = "# 内部笔记\n\n星尘模型是本公司在 2026 年训练的内部模型，参数量为 42 亿。\n".encode()
    docx = make_docx(tmp_path / "manual.docx").read_bytes()
    app.file_uploader[0].set_value([("notes.md", note, "text/markdown"), ("manual.docx", docx, "application/octet-stream"),
                                    ("broken.pdf", b"not a pdf at all", "application/pdf")]).run()
    next(b for b in app.button if b.label == "导入上传的文件").click().run()
    assert not app.exception, app.exception
    assert "新增 2" in app.warning[0].value and "失败 1" in app.warning[0].value
    assert [e.value for e in app.error] == [e.value for e in app.error if "broken.pdf" in e.value] and app.error
    ask(app, "星尘模型的参数量是多少？")
    assert "42 亿" in texts(app)
    app.file_uploader[0].set_value([("notes.md", note, "text/markdown")]).run()
    next(b for b in app.button if b.label == "导入上传的文件").click().run()
    assert "未变 1" in app.success[0].value  # the same file again changes nothing


def test_delete_a_document(app):
    delete = next(b for b in app.button if b.key == "delete-llm-tracking.md")
    delete.click().run()
    sources = [d.source for d in app.session_state.workspace.documents()]
    assert "llm-tracking.md" not in sources and len(sources) == 4


def test_plain_chat_with_the_extractive_model_says_what_to_configure(app):
    app.radio[0].set_value("普通对话").run()
    ask(app, "你好")
    assert "RAGKIT_LLM" in texts(app)


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_failing_llm_endpoint_is_one_line_and_the_session_goes_on(app):
    from tests.support.chroma_server import free_port

    app.text_input[1].set_value("openai:test-model")  # the LLM field of the settings form
    app.session_state["overrides"]["openai_base_url"] = f"http://127.0.0.1:{free_port()}/v1"
    app.session_state["overrides"]["max_retries"] = 0
    next(b for b in app.button if b.label == "应用设置").click().run()
    ask(app, "ChatGLM 显存？")
    assert app.error and "无法连接 openai" in app.error[0].value
    app.text_input[1].set_value("extractive")
    next(b for b in app.button if b.label == "应用设置").click().run()
    ask(app, "LangChain 的作者是谁？")
    assert "Harrison Chase" in texts(app)


def test_agent_mode_without_a_tool_calling_llm_says_so_and_answers(app):
    app.radio[0].set_value("智能体（工具调用）").run()
    ask(app, "LangChain 的作者是谁？")
    assert any("RAGKIT_LLM" in i.value for i in app.info) or "RAGKIT_LLM" in texts(app)
    assert "Harrison Chase" in texts(app)


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_agent_mode_shows_each_tool_call_and_result(app):
    from tests.support.fake_api import FakeAPI

    server = FakeAPI().start()
    server.reply_with = lambda body: (
        "LangChain 的作者是 Harrison Chase [1]。" if any(m["role"] == "tool" for m in body["messages"])
        else 'TOOL:search_knowledge_base:{"query": "LangChain 作者", "k": 2}')
    try:
        app.session_state["overrides"].update(llm="openai:test-model", openai_base_url=server.base_url + "/v1")
        app.radio[0].set_value("智能体（工具调用）").run()
        app.chat_input[0].set_value("LangChain 的作者是谁？").run()
        assert not app.exception, app.exception
        steps = [e for e in app.expander if e.label.startswith("🔧")]
        assert steps and "search_knowledge_base" in steps[0].label
        assert "[1] (" in steps[0].code[0].value
        assert "Harrison Chase [1]" in texts(app)
        assert any(e.label.startswith("[1]") for e in app.expander)
    finally:
        server.stop()


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_agent_mode_says_when_the_rag_chain_answered_for_the_agent(app):
    from tests.support.fake_api import FakeAPI

    def reply(body):
        last = body["messages"][-1]
        if last["role"] == "tool":
            return last["content"]  # pastes the search result as its answer
        return ('TOOL:search_knowledge_base:{"query": "LangChain 作者", "k": 2}' if body.get("tools")
                else "LangChain 的作者是 Harrison Chase [1]。")

    server = FakeAPI().start()
    server.reply_with = reply
    try:
        app.session_state["overrides"].update(llm="openai:test-model", openai_base_url=server.base_url + "/v1")
        app.radio[0].set_value("智能体（工具调用）").run()
        app.chat_input[0].set_value("LangChain 的作者是谁？").run()
        assert not app.exception, app.exception
        assert NO_AGENT_ANSWER["copy"]["zh"] in [i.value for i in app.info]  # kept with the answer in the history
        assert "LangChain 的作者是 Harrison Chase [1]。" in texts(app)
        assert any(e.label.startswith("🔧") and "search_knowledge_base" in e.label for e in app.expander)
    finally:
        server.stop()


def test_oversize_and_unsupported_uploads_are_named_and_nothing_is_lost(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGKIT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RAGKIT_EMBEDDER", "fake:32")
    monkeypatch.setenv("RAGKIT_MAX_FILE_MB", "0.1")  # 100 kB: the demo files fit
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    before = len(at.session_state.workspace.documents())
    at.file_uploader[0].set_value([("big.txt", "大".encode() * 40_000, "text/plain"),
                                   ("tool.exe", b"MZ\x90\x00", "application/octet-stream")]).run()
    next(b for b in at.button if b.label == "导入上传的文件").click().run()
    errors = " ".join(e.value for e in at.error)
    assert "big.txt" in errors and "0.1 MB" in errors and "tool.exe" in errors and "不支持" in errors
    assert len(at.session_state.workspace.documents()) == before == 5


def test_past_conversations_survive_a_server_restart(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGKIT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RAGKIT_EMBEDDER", "fake:32")
    first = AppTest.from_file(APP, default_timeout=180)
    first.run()
    ask(first, "LangChain 的作者是谁？")
    session = first.query_params["session"]
    restarted = AppTest.from_file(APP, default_timeout=180)  # a new server process: nothing in memory
    restarted.run()
    past = next(b for b in restarted.button if b.key == f"session-{session}")
    past.click().run()
    assert "Harrison Chase" in texts(restarted)


def test_rating_an_answer_reaches_the_feedback_export(app, tmp_path):
    from ragkit import build
    from ragkit.config import Settings
    from ragkit.feedback import Feedback, export_questions

    ask(app, "ChatGLM 在多大显存的条件下可以进行微调？")
    assert len(app.feedback) == 1  # under the one answer
    app.feedback[0].set_value(1).run()
    assert not app.exception, app.exception
    app.text_input(key=f"feedback-{app.query_params['session']}-1-comment").set_value("准确").run()
    rated = Feedback(build.sqlite(Settings(data_dir=tmp_path / "data"))).rated()
    assert [(r.rating, r.comment, r.question) for r in rated] == [(1, "准确", "ChatGLM 在多大显存的条件下可以进行微调？")]
    line = export_questions(rated)[0]
    assert line["kind"] == "single" and "7G 显存" in line["evidence"] and line["answer_given"]


def test_the_reranker_is_switched_in_the_settings(app, tmp_path):
    from ragkit import build
    from ragkit.reranking import RerankingRetriever
    from tests.support.rerankers import tiny_cross_encoder

    path = tiny_cross_encoder(tmp_path / "cross-encoder")
    next(f for f in app.text_input if f.label.startswith("重排序模型")).set_value(f"st:{path}")
    next(b for b in app.button if b.label == "应用设置").click().run()
    ws = app.session_state.workspace
    assert ws.settings.reranker == f"st:{path}"
    assert isinstance(build.make_retriever(ws.settings, ws.kb), RerankingRetriever)
    ask(app, "LangChain 的作者是谁？")
    assert not app.exception and not app.error and len(app.chat_message) == 2
    next(f for f in app.text_input if f.label.startswith("重排序模型")).set_value("")
    next(b for b in app.button if b.label == "应用设置").click().run()
    assert app.session_state.workspace.settings.reranker is None
