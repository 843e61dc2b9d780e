"""ragkit document chat: `streamlit run apps/chat.py`.

Only the interface lives here; every piece of pipeline logic comes from ragkit (``ragkit.workspace``).
Settings come from ragkit.toml / .env / RAGKIT_* like the command line; the sidebar changes them for this
browser session without a restart.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

import streamlit as st
from pydantic import ValidationError

from ragkit.build import provider_options
from ragkit.config import load_settings
from ragkit.errors import RagkitError, localized, one_line
from ragkit.errors import shown as shown_name
from ragkit.i18n import tr
from ragkit.ingest import Event, IngestReport
from ragkit.prompts import NEEDS_TOOLS, agent_notice
from ragkit.providers import RERANK_PROVIDERS, explain_failure
from ragkit.workspace import Workspace, provider_states

DEMO_CORPUS = Path(__file__).resolve().parents[1] / "corpora" / "llm"

st.set_page_config(page_title="ragkit", page_icon="📚", layout="wide")
st.set_option("client.toolbarMode", "minimal")  # no "Deploy" or developer entries for the app's users


def overrides() -> dict[str, Any]:
    return st.session_state.setdefault("overrides", {})


def workspace() -> Workspace:
    """This browser session's workspace, rebuilt only when its settings change."""
    key = json.dumps(overrides(), sort_keys=True)
    if st.session_state.get("workspace_key") != key:
        st.session_state.workspace = Workspace(load_settings(**overrides()))
        st.session_state.workspace_key = key
    return st.session_state.workspace


def lang() -> str:
    return overrides().get("lang") or st.session_state.get("default_lang", "zh")


def t(key: str, **params: Any) -> str:
    return tr(key, lang(), **params)


def session_id(ws: Workspace) -> str:
    """The conversation shown: kept in the URL, so a reload shows it again."""
    current = st.query_params.get("session")
    if not current:
        current = ws.new_session()
        st.query_params["session"] = current
    return current


def progress_callback(bar: Any, label: str) -> Any:
    state = {"total": 1, "done": 0}

    def on_event(event: Event) -> None:
        if event.kind == "start":
            state["total"] = max(1, event.total)
        elif event.kind == "file":
            state["done"] += 1
            bar.progress(min(1.0, state["done"] / state["total"]), text=f"{label} {event.source}")

    return on_event


def report_lines(report: IngestReport) -> str:
    return tr("summary", lang(), added=len(report.added), updated=len(report.updated),
              unchanged=len(report.unchanged), removed=len(report.removed), failed=len(report.failed),
              written=report.chunks_written, deleted=report.chunks_deleted, seconds=report.seconds)


def first_start(ws: Workspace) -> None:
    """An empty default knowledge base gets the demo corpus, with a visible progress bar."""
    if ws.documents() or ws.kb.name != "default" or not DEMO_CORPUS.is_dir():
        return
    with st.status(t("ui_first_ingest", path=DEMO_CORPUS.name), expanded=True) as status:
        bar = st.progress(0.0)
        report = ws.ingest_paths([DEMO_CORPUS], progress_callback(bar, ""))
        status.update(label=t("ui_ingest_done", summary=report_lines(report)), state="complete", expanded=False)


def highlight(passage: str, quote: str) -> str:
    """The passage as Markdown with the cited sentence marked (Markdown emphasis inside it allowed)."""
    if not quote.strip():
        return passage
    pattern = r"[\s*_`]*".join(re.escape(ch) for ch in quote if not ch.isspace())
    match = re.search(pattern + r"(?:\*\*|__)?", passage)
    if match is None:
        return passage
    return f"{passage[: match.start()]}:orange-background[{match.group()}]{passage[match.end():]}"


def render_sources(citations: list[dict[str, Any]]) -> None:
    if not citations:
        return
    st.caption(t("ui_sources"))
    for c in citations:
        where = c["source"] + (f" › {c['heading']}" if c.get("heading") else "")
        if c.get("page"):
            where += " · " + t("ui_page", page=c["page"])
        with st.expander(f"[{c['n']}] {where}"):
            st.markdown(f"> :orange-background[{c['quote']}]")
            st.markdown(highlight(c.get("passage") or "", c["quote"]))
            st.caption(f"chunk {c['chunk_id'][:16]}…")


def render_answer_meta(meta: dict[str, Any]) -> None:
    if meta.get("extractive"):
        st.badge(t("ui_extractive"), icon=":material/format_quote:", color="orange", help=t("ui_extractive_help"))
    if meta.get("rewritten_query"):
        st.caption(t("ui_rewritten", query=meta["rewritten_query"]))
    render_sources(meta.get("citations") or [])


def show_history(ws: Workspace, session: str) -> None:
    for index, message in enumerate(ws.messages(session)):
        with st.chat_message("user" if message.type == "human" else "assistant"):
            if message.type == "ai":
                pending: dict[str, Any] = {}
                for step in message.additional_kwargs.get("steps", []):
                    render_step(step, pending)
            st.markdown(message.text)
            if message.type == "ai":
                if message.additional_kwargs.get("notice"):  # the agent handed the question to the RAG chain
                    st.info(agent_notice(message.additional_kwargs["notice"], lang()))
                if message.additional_kwargs.get("stopped"):
                    st.warning(t("ui_stopped"))
                render_answer_meta(message.additional_kwargs)
                feedback(ws, session, index)


def feedback(ws: Workspace, session: str, index: int) -> None:
    """👍/👎 under an answer, and a comment once rated (both go to ``ragkit feedback export``)."""
    key = f"feedback-{session}-{index}"

    def save() -> None:
        value = st.session_state.get(key)
        if value is not None:
            ws.rate_answer(session, index, 1 if value == 1 else -1, st.session_state.get(f"{key}-comment", ""))
            st.toast(t("ui_feedback_saved"))

    if st.feedback("thumbs", key=key, on_change=save) is not None:
        st.text_input(t("ui_feedback_comment"), key=f"{key}-comment", on_change=save)


def answer(ws: Workspace, question: str, session: str, mode: str) -> bool:
    """Stream the answer and its sources; False when it failed (the error is shown instead)."""
    with st.chat_message("user"):
        st.markdown(question)
    with st.chat_message("assistant"):
        result: dict[str, Any] = {}
        pending: dict[str, Any] = {}

        def pieces() -> Any:
            for chunk in ws.answer(question, session, mode=mode):
                for step in chunk.get("steps", []):
                    render_step(step, pending)
                if "answer" in chunk:
                    yield chunk["answer"]
                result.update({k: v for k, v in chunk.items() if k not in ("answer", "steps")})

        try:
            st.write_stream(pieces())
        except Exception as exc:  # one clear line in the page; the session goes on
            failure = explain_failure(exc, ws.settings.llm, provider_options(ws.settings))
            shown = failure or exc
            st.error(t("ui_error", detail=localized(shown, lang()) if isinstance(shown, RagkitError)
                       else one_line(shown)))
            return False
        if result.get("notice") and mode == "agent" and ws.agent_ready:
            st.info(agent_notice(result["notice"], lang()))
        if result.get("stopped"):
            st.warning(t("ui_stopped"))
        render_answer_meta({**result, "citations": [asdict(c) for c in result.get("citations", [])]})
        return True


def render_step(step: Any, pending: dict[str, Any]) -> None:
    """A tool call opens a collapsible step; its result fills it (``step``: a Step or its dict)."""
    get = step.get if isinstance(step, dict) else lambda key: getattr(step, key)
    tool = get("tool")
    if get("kind") == "call":
        args = ", ".join(f"{k}={v!r}" for k, v in get("args").items())
        pending[tool] = st.expander(f"🔧 {t('ui_step_call', tool=tool)}({args})")
        return
    box = pending.pop(tool, None) or st.expander(f"🔧 {tool}")
    with box:
        if get("error"):
            st.error(t("ui_step_failed", tool=tool))
        st.code(get("content")[:3000], language=None, wrap_lines=True)


def sidebar(ws: Workspace) -> str:
    """The sidebar; returns the chosen mode ("kb" or "chat")."""
    with st.sidebar:
        choice = st.segmented_control(t("ui_language"), ["中文", "English"],
                                      default="中文" if lang() == "zh" else "English", key="language")
        if choice and ("zh" if choice == "中文" else "en") != lang():
            overrides()["lang"] = "zh" if choice == "中文" else "en"
            st.rerun()
        modes = {t("ui_mode_kb"): "kb", t("ui_mode_agent"): "agent", t("ui_mode_chat"): "chat"}
        mode = modes[st.radio(t("ui_mode"), list(modes), key=f"mode-{lang()}")]
        if st.button(t("ui_new_chat"), icon=":material/add:", use_container_width=True):
            st.query_params["session"] = ws.new_session()
            st.rerun()
        conversations_panel(ws)
        knowledge_base_panel(ws)
        settings_panel(ws)
    return mode


def conversations_panel(ws: Workspace) -> None:
    st.subheader(t("ui_history"))
    sessions = ws.sessions()
    if not sessions:
        st.caption(t("ui_no_history"))
    for s in sessions[:30]:
        label = (s.title or s.id)[:28]
        if st.button(label, key=f"session-{s.id}", use_container_width=True,
                     type="primary" if s.id == st.query_params.get("session") else "secondary"):
            st.query_params["session"] = s.id
            st.rerun()


def knowledge_base_panel(ws: Workspace) -> None:
    st.subheader(t("ui_kb"))
    names = ws.knowledge_bases()
    picked = st.selectbox(t("ui_kb"), names, index=names.index(ws.kb.name), label_visibility="collapsed")
    created = st.text_input(t("ui_new_kb"), key="new_kb").strip()
    target = created or picked
    if target and target != ws.kb.name:
        overrides()["kb"] = target
        st.rerun()
    # no type= filter: Streamlit would raise on another type; ragkit names each unsupported file instead
    # the uploader states and enforces ragkit's own limit (Streamlit's default would promise 200 MB)
    limit_mb = ws.settings.max_file_mb
    uploads = st.file_uploader(t("ui_upload"), accept_multiple_files=True,
                               max_upload_size=max(1, int(limit_mb)), help=t("ui_upload_help", limit=f"{limit_mb:g}"),
                               key=f"uploader-{st.session_state.get('uploads', 0)}")
    if uploads and st.button(t("ui_upload_button"), icon=":material/upload:", use_container_width=True):
        bar = st.progress(0.0)
        report = ws.upload([(f.name, f.getvalue()) for f in uploads], progress_callback(bar, ""))
        st.session_state.upload_report = (report_lines(report), [
            t("ui_upload_failed", source=shown_name(f.source), reason=localized(f.error, lang())) for f in report.failed], [
            t("ui_upload_failed", source=shown_name(n.source), reason=localized(n.error, lang())) for n in report.notices])
        st.session_state.uploads = st.session_state.get("uploads", 0) + 1
        st.rerun()
    if "upload_report" in st.session_state:
        summary, failures, notices = st.session_state.upload_report
        (st.warning if failures else st.success)(summary)
        for line in failures:
            st.error(line)
        for line in notices:  # an upload stored under another name (too long, or taken in this upload)
            st.info(line)
    documents = ws.documents()
    with st.expander(t("ui_documents", n=len(documents))):
        for doc in documents:
            left, right = st.columns([4, 1])
            left.markdown(f"**{shown_name(doc.source)}**  \n{doc.chunks} · {shown_name(doc.title[:30])}")
            if right.button(t("ui_delete"), key=f"delete-{doc.source}"):
                ws.delete(doc.source)
                st.toast(t("ui_deleted", source=doc.source))
                st.rerun()


def settings_panel(ws: Workspace) -> None:
    with st.expander(t("ui_settings")):
        states = {(s.kind, s.name): s for s in provider_states(ws.settings)}
        with st.form("settings"):
            llm = st.text_input(t("ui_llm"), ws.settings.llm,
                                help=", ".join(s.example for s in states.values() if s.kind == "llm"))
            embedder = st.text_input(t("ui_embedder"), ws.settings.embedder,
                                     help=", ".join(s.example for s in states.values() if s.kind == "embeddings"))
            reranker = st.text_input(t("ui_reranker"), ws.settings.reranker or "",
                                     help=", ".join(p.example for p in RERANK_PROVIDERS.values()))
            top_k = st.slider(t("ui_top_k"), 1, 20, ws.settings.top_k)
            modes = ["hybrid", "bm25", "dense"]
            mode = st.selectbox(t("ui_retrieval_mode"), modes, index=modes.index(ws.settings.retrieval_mode))
            temperature = st.slider(t("ui_temperature"), 0.0, 2.0, float(ws.settings.temperature), 0.1)
            if st.form_submit_button(t("ui_apply")):
                overrides().update(llm=llm.strip(), embedder=embedder.strip(), top_k=top_k, retrieval_mode=mode,
                                   temperature=temperature, reranker=reranker.strip() or "none")
                st.rerun()
        for kind in ("llm", "embeddings"):
            for state in (s for s in states.values() if s.kind == kind):
                mark = "✅" if state.ready else "⚪"
                note = t("ui_ready") if state.ready else t("ui_not_ready", reason=state.reason)
                st.caption(f"{mark} `{state.example}` — {note}")


def main() -> None:
    try:
        ws = workspace()
    except (ValidationError, RagkitError) as exc:
        overrides().clear()
        st.error(t("ui_error", detail=localized(exc, lang()) if isinstance(exc, RagkitError) else one_line(exc)))
        st.stop()
    st.session_state.setdefault("default_lang", ws.settings.lang)
    st.title(t("ui_title"))
    st.caption(t("ui_caption"))
    first_start(ws)
    mode = sidebar(ws)
    if mode == "agent" and not ws.agent_ready:
        st.info(NEEDS_TOOLS[lang()])
    session = session_id(ws)
    show_history(ws, session)
    question = st.chat_input(t("ui_input"))  # pinned to the bottom wherever it is called
    if not question and not ws.messages(session) and ws.documents():
        examples = ws.example_questions(4)
        if examples:
            st.markdown(t("ui_examples"))
            question = st.pills(t("ui_examples"), examples, key=f"examples-{session}", label_visibility="collapsed")
    if question and answer(ws, re.sub(r"\s+", " ", question).strip(), session, mode):
        st.rerun()  # the answer is stored: show it from history, with the conversation list up to date


main()
