"""``ragkit``: a thin command line over the library.

Exit status: 0 when everything asked for was done; 1 when something failed (for ``ingest``: at least one
input could not be ingested, the others were); 2 for a bad command line or setting.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import uuid
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from ragkit import build
from ragkit.config import Settings, load_settings
from ragkit.errors import ConfigError, RagkitError, StoreError, localized, named_cause, one_line, shown
from ragkit.i18n import tr
from ragkit.output import answer_json, search_json
from ragkit.ingest import Event, IngestReport, delete_source, ingest
from ragkit.prompts import agent_notice
from ragkit.providers import CHAT_PROVIDERS, EMBEDDING_PROVIDERS, RERANK_PROVIDERS, explain_failure, is_generative, is_installed
from ragkit.store import Counts


class Failed(click.exceptions.Exit):
    """Exit with status 1 after a message was printed."""

    def __init__(self) -> None:
        super().__init__(1)


def _settings(ctx: click.Context, **flags: Any) -> Settings:
    """Settings from every source, with this command's flags on top."""
    merged = {**ctx.obj, **{k: v for k, v in flags.items() if v is not None}}
    try:
        return load_settings(**merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ConfigError(f"invalid setting {where}: {first['msg']}") from exc


def _lang(ctx: click.Context) -> str:
    return (ctx.obj or {}).get("lang") or os.environ.get("RAGKIT_LANG", "zh")


def _guard(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn ragkit errors into one line and status 1; anything else into one line and status 1 too."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        try:
            return func(*args, **kwargs)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except ConfigError as exc:
            click.echo(tr("error", _lang(ctx), detail=localized(exc, _lang(ctx))), err=True)
            raise click.exceptions.Exit(2) from exc
        except RagkitError as exc:
            click.echo(tr("error", _lang(ctx), detail=localized(exc, _lang(ctx))), err=True)
            raise Failed() from exc
        except Exception as exc:
            if os.environ.get("RAGKIT_DEBUG"):
                raise
            cause = _named_cause(ctx, exc, kwargs)
            if cause is not None:
                click.echo(tr("error", _lang(ctx), detail=localized(cause, _lang(ctx))), err=True)
                raise Failed() from exc
            click.echo(tr("internal_error", _lang(ctx), detail=one_line(exc)), err=True)
            raise Failed() from exc

    return wrapper


def _named_cause(ctx: click.Context, exc: Exception, flags: dict[str, Any]) -> RagkitError | None:
    """A lost Chroma connection or a full disk, named (see :func:`ragkit.errors.named_cause`)."""
    try:
        settings = _settings(ctx, **flags)
    except Exception:  # the settings themselves are broken: nothing more to say
        return None
    return named_cause(exc, data_dir=settings.data_dir, chroma_url=settings.chroma_url)


def kb_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--kb, --data-dir and --embedder, shared by every command that opens a knowledge base."""
    func = click.option("--embedder", help="Embedding model as provider:model (RAGKIT_EMBEDDER).")(func)
    func = click.option("--data-dir", type=click.Path(path_type=Path),
                        help="Data directory (RAGKIT_DATA_DIR, default ./.ragkit).")(func)
    return click.option("--kb", help="Knowledge base name (RAGKIT_KB, default 'default').")(func)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--lang", type=click.Choice(["zh", "en"]), help="Language of messages (RAGKIT_LANG, default zh).")
@click.version_option(package_name="ragkit")
@click.pass_context
def cli(ctx: click.Context, lang: str | None) -> None:
    """ragkit: ingest documents into Chroma and search them (hybrid BM25 + vectors, Chinese-aware).

    Settings come from ragkit.toml, .env and RAGKIT_* environment variables; flags override them.
    """
    ctx.obj = {"lang": lang} if lang else {}


def _progress(lang: str) -> tuple[Callable[[Event], None], Callable[[], None]]:
    """A rich progress bar on a terminal, plain lines otherwise; returns (callback, close)."""
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       TextColumn("{task.fields[name]}"), console=Console(stderr=True), transient=True)
        task = bar.add_task(tr("progress_label", lang), total=None, name="")

        def on_event(event: Event) -> None:
            if event.kind == "start":
                bar.start()
                bar.update(task, total=event.total)
            elif event.kind == "file":
                bar.update(task, advance=1, name=shown(event.source))
            elif event.kind == "page":
                bar.update(task, name=tr("ocr_page_progress", lang, source=shown(event.source), page=event.page, n=event.total))

        return on_event, bar.stop
    state = {"done": 0, "total": 0}

    def plain(event: Event) -> None:
        if event.kind == "start":
            state["total"] = event.total
        elif event.kind == "file":
            state["done"] += 1
            status = tr(f"status_{event.status}", lang)
            click.echo(f"[{state['done']}/{state['total']}] {status} {shown(event.source)}", err=True)
        elif event.kind == "page":
            click.echo(tr("ocr_page_progress", lang, source=shown(event.source), page=event.page, n=event.total), err=True)

    return plain, lambda: None


def _print_report(report: IngestReport, lang: str) -> None:
    if report.recovered:
        click.echo(tr("recovered", lang, n=report.recovered), err=True)
    for failure in report.failed:
        click.echo(tr("failed_line", lang, source=shown(failure.source), reason=localized(failure.error, lang)),
                   err=True)
    click.echo(tr(
        "summary", lang, added=len(report.added), updated=len(report.updated), unchanged=len(report.unchanged),
        removed=len(report.removed), failed=len(report.failed), written=report.chunks_written,
        deleted=report.chunks_deleted, seconds=report.seconds,
    ))


@cli.command("ingest")
@click.argument("paths", nargs=-1, required=True)
@kb_options
@click.option("--prune", is_flag=True, help="Also remove documents whose files no longer exist.")
@click.option("--rebuild", is_flag=True, help="Empty the knowledge base first (e.g. after changing the embedder).")
@click.option("--chunk-size", type=int, help="Target chunk length in characters (RAGKIT_CHUNK_SIZE).")
@click.option("--chunk-overlap", type=int, help="Overlap in characters (RAGKIT_CHUNK_OVERLAP).")
@click.option("--workers", "ingest_workers", type=click.IntRange(1, 64),
              help="Processes reading, parsing and splitting files beside the writer (RAGKIT_INGEST_WORKERS, "
              "default 1).")
@click.pass_context
@_guard
def ingest_cmd(ctx: click.Context, paths: tuple[str, ...], prune: bool, rebuild: bool, **flags: Any) -> None:
    """Ingest files, folders (recursive) and globs: .md .txt .html .pdf .docx .pptx .xlsx .xls .csv .tsv .epub .json .jsonl,
    and images (.png .jpg .jpeg .webp .bmp .tif .tiff, read by offline OCR; scanned PDF pages too, see RAGKIT_OCR).

    Unchanged files are skipped without any embedding call; changed files are replaced; every file that
    cannot be read is named with the reason, and the others are still ingested (exit status 1).
    """
    settings = _settings(ctx, **flags)
    lang = _lang(ctx)
    kb = build.open_kb(settings)
    if rebuild:
        with kb.write_lock():
            kb.drop()
    on_event, close = _progress(lang)
    try:
        report = ingest(
            kb, paths, split=build.split_options(settings), max_bytes=int(settings.max_file_mb * 1_000_000),
            prune_missing=prune, progress=on_event, limits=build.limits(settings), ocr=build.ocr_options(settings),
            workers=settings.ingest_workers,
        )
    finally:
        close()
    _print_report(report, lang)
    if not report.ok:
        raise Failed()


@cli.command("watch")
@click.argument("folders", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@kb_options
@click.option("--chunk-size", type=int, help="Target chunk length in characters (RAGKIT_CHUNK_SIZE).")
@click.option("--chunk-overlap", type=int, help="Overlap in characters (RAGKIT_CHUNK_OVERLAP).")
@click.pass_context
@_guard
def watch_cmd(ctx: click.Context, folders: tuple[Path, ...], **flags: Any) -> None:
    """Keep a knowledge base in step with folders until Ctrl-C.

    First catches up like `ragkit ingest FOLDER... --prune` (so a restart finds what changed meanwhile), then
    follows created, changed, deleted and renamed files, a burst of saves at a time; editors' temporary files
    (.swp, ~, .#x, .tmp, ~$ locks) and hidden paths are ignored. One line per document changed.
    """
    from ragkit.watch import WatchOptions, watch_folders

    settings = _settings(ctx, **flags)
    lang = _lang(ctx)
    kb = build.open_kb(settings)
    options = WatchOptions(split=build.split_options(settings), max_bytes=int(settings.max_file_mb * 1_000_000),
                           limits=build.limits(settings), ocr=build.ocr_options(settings))
    click.echo(tr("watch_start", lang, folders=" ".join(str(f) for f in folders), kb=kb.name), err=True)

    def on_report(report: IngestReport, first: bool) -> None:
        if first:
            _print_report(report, lang)
            click.echo(tr("watch_caught_up", lang), err=True)
            return
        stamp = time.strftime("%H:%M:%S")
        for status in ("added", "updated", "removed"):
            for source in getattr(report, status):
                click.echo(f"[{stamp}] {tr(f'status_{status}', lang)} {source}")
        for failure in report.failed:
            click.echo(f"[{stamp}] " + tr("failed_line", lang, source=failure.source,
                                          reason=localized(failure.error, lang)), err=True)

    def on_busy(error: RagkitError) -> None:
        click.echo(tr("watch_busy", lang, path=error.params.get("path", "")), err=True)

    watch_folders(kb, folders, options=options, on_report=on_report, on_busy=on_busy)


@cli.command("search")
@click.argument("query")
@click.option("-k", "--top-k", "top_k", type=int, help="Number of passages (RAGKIT_TOP_K, default 5).")
@kb_options
@click.option("--mode", "retrieval_mode", type=click.Choice(["hybrid", "bm25", "dense"]),
              help="Retrieval mode (RAGKIT_RETRIEVAL_MODE, default hybrid).")
@click.option("--source", "sources", multiple=True, help="Only search these sources (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {query, results: [{rank, score, text, source, "
              "heading, chunk_id}]}.")
@click.pass_context
@_guard
def search_cmd(ctx: click.Context, query: str, sources: tuple[str, ...], as_json: bool, **flags: Any) -> None:
    """Search the knowledge base with the hybrid retriever."""
    settings = _settings(ctx, **flags)
    kb = build.open_kb(settings, must_exist=True)
    if not kb.exists():
        raise StoreError.of("kb_empty", kb=kb.name)
    docs = build.make_retriever(settings, kb).invoke(query, sources=list(sources) or None)
    found = search_json(query, docs)
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    results = found["results"]
    if not results:
        click.echo(tr("no_results", _lang(ctx)))
    for r in results:
        where = shown(r["source"]) + (f" › {shown(r['heading'])}" if r["heading"] else "")
        text = " ".join(r["text"].split())
        click.echo(f"{r['rank']}. [{r['score']:.4f}] {where}\n   {text[:300]}{'…' if len(text) > 300 else ''}")


@cli.command("list")
@kb_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@_guard
def list_cmd(ctx: click.Context, as_json: bool, **flags: Any) -> None:
    """List the documents of a knowledge base with their chunk counts."""
    kb = build.open_kb(_settings(ctx, **flags), must_exist=True)
    rows = [r for r in kb.journal.all() if r.hash is not None]
    if as_json:
        docs = [{"source": r.source, "chunks": r.chunks, "title": r.title, "bytes": r.size} for r in rows]
        click.echo(json.dumps({"kb": kb.name, "documents": docs}, ensure_ascii=False, indent=2))
        return
    click.echo(tr("list_header", _lang(ctx)))
    for r in rows:
        click.echo(f"{shown(r.source)}\t{r.chunks}\t{shown(r.title)}")


@cli.command("delete")
@click.argument("sources", nargs=-1)
@kb_options
@click.option("--all", "everything", is_flag=True, help="Delete the whole knowledge base.")
@click.pass_context
@_guard
def delete_cmd(ctx: click.Context, sources: tuple[str, ...], everything: bool, **flags: Any) -> None:
    """Delete documents (by source, as `ragkit list` shows them), or --all of them."""
    lang = _lang(ctx)
    if not sources and not everything:
        raise click.UsageError("give a SOURCE or --all")
    kb = build.open_kb(_settings(ctx, **flags), must_exist=True)
    with kb.write_lock():
        if everything:
            kb.drop()
            click.echo(tr("dropped", lang, kb=kb.name))
            return
        for source in sources:
            source = _stored_source(kb, source)
            click.echo(tr("deleted", lang, source=shown(source), n=delete_source(kb, source)))


def _stored_source(kb: Any, source: str) -> str:
    """``source`` as stored, also when given as `ragkit list` prints it (control characters escaped)."""
    if kb.journal.get(source) is not None:
        return source
    return next((r.source for r in kb.journal.all() if shown(r.source) == source), source)


def _consistency(counts: Counts, lang: str) -> str:
    if counts.consistent:
        return tr("info_ok", lang)
    if counts.vectors < 0:
        return tr("info_damaged", lang)
    return tr("info_bad", lang, vectors=counts.vectors, bm25=counts.bm25, records=counts.records,
              pending=counts.pending)


@cli.command("info")
@kb_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@_guard
def info_cmd(ctx: click.Context, as_json: bool, **flags: Any) -> None:
    """Show the knowledge base, its embedder, counts, data directory and consistency."""
    settings = _settings(ctx, **flags)
    kb = build.open_kb(settings, must_exist=True)
    built, dim = kb.built_with()
    counts = kb.counts()
    info = {
        "kb": kb.name, "embedder": built or settings.embedder, "dimension": dim, "documents": counts.files,
        "chunks": counts.vectors, "bm25_chunks": counts.bm25, "records": counts.records,
        "pending_files": counts.pending, "consistent": counts.consistent,
        "data_dir": str(Path(settings.data_dir).resolve()), "chroma": settings.chroma_url or "persistent",
    }
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False, indent=2))
        return
    lang = _lang(ctx)
    lines = [
        ("info_kb", kb.name), ("info_embedder", f"{info['embedder']}" + (f" ({dim}-d)" if dim else "")),
        ("info_documents", counts.files), ("info_chunks", counts.vectors),
        ("info_data_dir", info["data_dir"]), ("info_chroma", info["chroma"]),
        ("info_consistent", _consistency(counts, lang)),
    ]
    for key, value in lines:
        click.echo(f"{tr(key, lang)}: {value}")


def _answering(ctx: click.Context, flags: dict[str, Any]) -> tuple[Settings, Any]:
    """Settings and a Conversation for ask/chat."""
    settings = _settings(ctx, **flags)
    kb = build.open_kb(settings, must_exist=True)
    if not kb.exists():
        raise StoreError.of("kb_empty", kb=kb.name)
    return settings, build.conversation(settings, kb)


def _stream_answer(conversation: Any, settings: Settings, question: str, session: str,
                   echo: Callable[[str], None] | None) -> dict[str, Any]:
    """Run one question; pieces of the answer go to ``echo`` as they come. Model failures become one line."""
    result: dict[str, Any] = {}
    try:
        for chunk in conversation.stream({"question": question, "session_id": session}):
            if echo and "answer" in chunk:
                echo(chunk["answer"])
            for key, value in chunk.items():
                result[key] = result.get(key, "") + value if key == "answer" else value
    except Exception as exc:
        failure = explain_failure(exc, settings.llm, build.provider_options(settings))
        if failure is None:
            raise
        raise failure from exc
    return result


def _print_sources(result: dict[str, Any], lang: str) -> None:
    """The numbered sources under an answer; an abstention has none, and gets no heading."""
    if result.get("abstained"):
        return
    click.echo(tr("sources", lang))
    if not result["citations"]:
        click.echo("  " + tr("no_sources", lang))
    for c in result["citations"]:
        where = shown(c.source) + (f" › {shown(c.heading)}" if c.heading else "") + (f" (p. {c.page})" if c.page else "")
        click.echo(f"  [{c.n}] {where}\n      “{c.quote}”")


@cli.command("ask")
@click.argument("question")
@kb_options
@click.option("--llm", help="Chat model as provider:model (RAGKIT_LLM, default extractive).")
@click.option("--session", help="Continue this conversation (its history is kept in the data directory).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {question, answer, abstained, rewritten_query, "
              "citations: [{n, source, heading, chunk_id, quote}], timings, extractive}.")
@click.pass_context
@_guard
def ask_cmd(ctx: click.Context, question: str, session: str | None, as_json: bool, **flags: Any) -> None:
    """Answer one question from the knowledge base, with numbered sources.

    The answer streams as it is written; with --session the question continues that conversation, so a
    script can hold a multi-turn conversation one call at a time.
    """
    lang = _lang(ctx)
    settings, conversation = _answering(ctx, flags)
    session = session or f"ask-{uuid.uuid4().hex[:12]}"
    extractive = not is_generative(settings.llm)
    if not as_json and extractive:
        click.echo(tr("extractive_label", lang))
    result = _stream_answer(conversation, settings, question, session,
                            None if as_json else lambda piece: click.echo(piece, nl=False))
    if as_json:
        click.echo(json.dumps(answer_json(question, result, session), ensure_ascii=False, indent=2))
        return
    click.echo()
    if result["rewritten_query"]:
        click.echo(tr("rewritten", lang, query=result["rewritten_query"]), err=True)
    _print_sources(result, lang)


@cli.command("chat")
@kb_options
@click.option("--llm", help="Chat model as provider:model (RAGKIT_LLM, default extractive).")
@click.option("--session", help="Resume this conversation.")
@click.pass_context
@_guard
def chat_cmd(ctx: click.Context, session: str | None, **flags: Any) -> None:
    """An interactive conversation with memory: /sources, /reset, /exit. Ctrl-C stops an answer."""
    lang = _lang(ctx)
    settings, conversation = _answering(ctx, flags)
    session = session or f"chat-{uuid.uuid4().hex[:12]}"
    extractive = not is_generative(settings.llm)
    click.echo(tr("chat_welcome", lang, session=session))
    last: dict[str, Any] | None = None
    while True:
        try:
            question = click.prompt(tr("chat_prompt", lang), prompt_suffix="> ", default="", show_default=False)
        except click.Abort:  # Ctrl-C or Ctrl-D at the prompt
            click.echo()
            break
        question = question.strip()
        if question in ("/exit", "/quit"):
            break
        if question == "/reset":
            conversation.conversations.delete(session)
            click.echo(tr("chat_reset", lang))
            continue
        if question == "/sources":
            if last is not None:
                _print_sources(last, lang)
            continue
        if not question:
            continue
        if extractive:
            click.echo(tr("extractive_label", lang))
        try:
            last = _stream_answer(conversation, settings, question, session,
                                  lambda piece: click.echo(piece, nl=False))
            click.echo()
        except KeyboardInterrupt:
            click.echo("\n" + tr("chat_interrupted", lang))
        except RagkitError as exc:
            click.echo(tr("error", lang, detail=localized(exc, lang)), err=True)
    click.echo(tr("chat_bye", lang))


@cli.command("agent")
@click.argument("question")
@kb_options
@click.option("--llm", help="A tool-calling chat model as provider:model (RAGKIT_LLM).")
@click.option("--session", help="Continue this conversation (the agent's memory is kept in the data directory).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {question, answer, steps, citations, stopped}.")
@click.pass_context
@_guard
def agent_cmd(ctx: click.Context, question: str, session: str | None, as_json: bool, **flags: Any) -> None:
    """Answer with a tool-using agent: it searches the knowledge base, reads sections, calculates, and cites.

    Needs a tool-calling LLM; with the offline extractive default it says so and the knowledge-base Q&A
    answers instead.
    """
    lang = _lang(ctx)
    settings = _settings(ctx, **flags)
    kb = build.open_kb(settings, must_exist=True)
    if not kb.exists():
        raise StoreError.of("kb_empty", kb=kb.name)
    agent = build.agent(settings, kb)
    session = session or f"agent-{uuid.uuid4().hex[:12]}"
    result: dict[str, Any] = {"steps": []}
    try:
        for chunk in agent.stream({"question": question, "session_id": session}):
            for key, value in chunk.items():
                result[key] = result.get(key, "") + value if key in ("answer", "steps") else value
            if as_json:
                continue
            if "notice" in chunk:  # in the interface's language
                click.echo(agent_notice(chunk["notice"], "en" if lang == "en" else "zh"), err=True)
            for step in chunk.get("steps", []):
                if step.kind == "call":
                    args = ", ".join(f"{k}={v!r}" for k, v in step.args.items())
                    click.echo(tr("agent_call", lang, tool=step.tool, args=args), err=True)
                else:
                    content = " ".join(step.content.split())[:160]
                    key = "agent_result_error" if step.error else "agent_result"
                    click.echo(tr(key, lang, tool=step.tool, content=content), err=True)
    except Exception as exc:
        failure = explain_failure(exc, settings.llm, build.provider_options(settings))
        if failure is None:
            raise
        raise failure from exc
    if as_json:
        click.echo(json.dumps({
            "question": question, "answer": result.get("answer", ""), "abstained": result.get("abstained", False),
            "stopped": result.get("stopped", False), "notice": result.get("notice"),
            "steps": [{"kind": s.kind, "tool": s.tool, "args": s.args, "content": s.content, "error": s.error}
                      for s in result["steps"]],
            "citations": [c.as_json() for c in result.get("citations", [])], "session": session,
        }, ensure_ascii=False, indent=2))
        return
    click.echo(result.get("answer", ""))
    if result.get("stopped"):
        click.echo(tr("agent_stopped", lang, n=settings.agent_max_steps), err=True)
    _print_sources(result, lang)


_EVAL_COLUMNS = ("hit@1", "hit@3", "hit@5", "hit@10", "mrr@10", "accuracy", "answered", "abstained",
                 "citation_precision", "total_p50_ms", "total_p95_ms", "retrieve_p50_ms", "retrieve_p95_ms")


def _eval_table(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    columns = [c for c in _EVAL_COLUMNS if any(c in r for r in rows)]
    table = Table("config", "questions", "n", *[c.replace("_ms", " ms").replace("_", " ") for c in columns])
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column)
            cells.append("" if value is None else f"{value:.3f}" if isinstance(value, float) and "ms" not in column
                         else str(value))
        table.add_row(row["config"], row["group"], str(row["n"]), *cells)
    Console(width=200).print(table)


@cli.command("eval")
@click.argument("questions", required=False, type=click.Path(path_type=Path))
@kb_options
@click.option("--retrieval-only", is_flag=True, help="Measure retrieval only (no answers).")
@click.option("--compare", multiple=True, metavar="SPEC",
              help="A configuration to compare, as settings: retrieval_mode=bm25, chunk_size=300,chunk_overlap=30, "
                   "embedder=e5 ... (repeatable).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("ragkit-eval"), show_default=True,
              help="Folder for results.json, the PNG plots and generated questions.")
@click.option("--generate", type=int, metavar="N", help="Draft N questions from the knowledge base with the LLM.")
@click.option("--llm", help="Chat model as provider:model (RAGKIT_LLM).")
@click.pass_context
@_guard
def eval_cmd(ctx: click.Context, questions: Path | None, retrieval_only: bool, compare: tuple[str, ...], out: Path,
             generate: int | None, **flags: Any) -> None:
    """Measure retrieval and answer quality on a question set (single, multiturn, unanswerable questions).

    Prints hit@1/3/5/10, MRR@10, answer accuracy, abstention and answer rates, citation precision and
    latency per language, kind and configuration; writes results.json, hit_at_k.png and latency.png to --out,
    and lists the misses with what was retrieved instead. A malformed line of the question set is named with
    its line number (exit status 1); the rest runs.
    """
    from ragkit.eval_runner import evaluate, generate_questions, misses, parse_config, plot, summarize, write_results
    from ragkit.evaluation import load_questions

    lang = _lang(ctx)
    settings = _settings(ctx, **flags)
    kb = build.open_kb(settings, must_exist=True)
    if not kb.exists():
        raise StoreError.of("kb_empty", kb=kb.name)
    if generate:
        if not is_generative(settings.llm):
            raise RagkitError(tr("eval_needs_generative", lang))
        drafted = generate_questions(kb, build.llm(settings, kb), generate, lang=settings.lang)
        out.mkdir(parents=True, exist_ok=True)
        path = out / "generated.jsonl"
        path.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in drafted), encoding="utf-8")
        click.echo(tr("eval_generated", lang, n=len(drafted), path=path))
        return
    if questions is None:
        raise click.UsageError(tr("eval_no_questions", lang))
    items, problems = load_questions(questions)
    for problem in problems:
        click.echo(tr("eval_problem", lang, path=questions, problem=problem), err=True)
    configs = [parse_config(spec) for spec in compare] or [parse_config("")]
    configs = [c if c.name else type(c)("current", c.overrides) for c in configs]

    def progress(config: str, n: int) -> None:
        if n == len(items) or n % 10 == 0:
            click.echo(tr("eval_running", lang, config=config, n=n, total=len(items)), err=True)

    outcomes = evaluate(settings, kb, items, configs, retrieval_only=retrieval_only, progress=progress)
    _eval_table(summarize(outcomes))
    missed = misses(outcomes)
    if missed:
        click.echo(tr("eval_misses", lang, n=min(10, len(missed))))
    for o in missed[:10]:
        click.echo(f"- [{o.config}] {o.id} {o.question}  (rank {o.rank})")
        click.echo("    " + tr("eval_expected", lang, evidence=" / ".join(o.evidence)))
        if o.answer is not None:
            click.echo(f"    → {' '.join(o.answer.split())[:120]}")
        click.echo("    " + tr("eval_got", lang))
        for r in o.retrieved:
            click.echo(f"      {r['source']} › {r['heading']}: {r['text'][:80]}")
    path = write_results(outcomes, out, problems)
    plot(outcomes, out)
    click.echo(tr("eval_written", lang, path=path.parent))
    if problems:
        raise Failed()


@cli.command("providers")
@click.pass_context
@_guard
def providers_cmd(ctx: click.Context) -> None:
    """List the providers of the registry (embeddings, LLMs, rerankers) and whether each is installed."""
    for title, table in (("embeddings (RAGKIT_EMBEDDER)", EMBEDDING_PROVIDERS), ("LLMs (RAGKIT_LLM)", CHAT_PROVIDERS),
                         ("rerankers (RAGKIT_RERANKER)", RERANK_PROVIDERS)):
        click.echo(title)
        for p in table.values():
            state = "ok" if is_installed(p) else f"pip install 'ragkit[{p.extra}]'"
            click.echo(f"  {p.name:10s} {p.example:32s} {state:28s} {p.summary}")


def _server_needs() -> None:
    """Fail with the install hint when the server's dependencies are missing."""
    import importlib.util

    if any(importlib.util.find_spec(m) is None for m in ("fastapi", "uvicorn", "mcp", "multipart")):
        raise ConfigError.of("serve_needs")


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Server processes (each with its own models in memory).")
@click.option("--allow-remote-without-keys", is_flag=True,
              help="Listen on a non-loopback address although no API key exists (anyone could use the server).")
@kb_options
@click.option("--llm", help="Chat model as provider:model (RAGKIT_LLM, default extractive).")
@click.pass_context
@_guard
def serve_cmd(ctx: click.Context, host: str, port: int, workers: int, allow_remote_without_keys: bool,
              **flags: Any) -> None:
    """Serve the knowledge bases over HTTP: an OpenAI-compatible API (/v1), REST (/api), MCP (/mcp), docs (/docs).

    Without any API key (ragkit keys create) the server listens on loopback only.
    """
    _server_needs()
    import uvicorn

    from ragkit.server.keys import ApiKeys

    lang = _lang(ctx)
    settings = _settings(ctx, **flags)
    if not ApiKeys(build.sqlite(settings)).active():
        if not _is_loopback(host) and not allow_remote_without_keys:
            raise ConfigError.of("serve_refuse_remote", host=host)
        click.echo(tr("serve_warn_remote" if not _is_loopback(host) else "serve_loopback", lang, host=host), err=True)
    click.echo(tr("serve_start", lang, host=host, port=port), err=True)
    for name, value in {**ctx.obj, **flags}.items():  # worker processes read settings from the environment
        if value is not None:
            os.environ[f"RAGKIT_{name.upper()}"] = str(value)
    if allow_remote_without_keys:
        os.environ["RAGKIT_SERVE_ALLOW_REMOTE"] = "1"
    uvicorn.run("ragkit.server:cli_app", factory=True, host=host, port=port, workers=workers,
                timeout_graceful_shutdown=5, log_level="info")


@cli.command("mcp")
@kb_options
@click.option("--llm", help="Chat model as provider:model (RAGKIT_LLM, default extractive).")
@click.pass_context
@_guard
def mcp_cmd(ctx: click.Context, **flags: Any) -> None:
    """Serve the knowledge bases to an MCP client over stdio (search, ask, list_documents, read_section).

    For a desktop client on this machine, e.g. {"command": "ragkit", "args": ["mcp"]}.
    """
    _server_needs()
    from ragkit.server.mcp import build_mcp
    from ragkit.server.service import Service

    settings = _settings(ctx, **flags)
    build_mcp(Service(settings), lang=settings.lang).run("stdio")


@cli.group("keys")
def keys_group() -> None:
    """API keys of `ragkit serve` (stored hashed in the data directory)."""


def _keys(ctx: click.Context, data_dir: Path | None) -> Any:
    from ragkit.server.keys import ApiKeys

    return ApiKeys(build.sqlite(_settings(ctx, data_dir=data_dir)))


@keys_group.command("create")
@click.option("--name", required=True, help="Who or what the key is for.")
@click.option("--scope", type=click.Choice(["read", "write", "admin"]), default="read", show_default=True,
              help="read: search, ask, chat; write: also upload and delete documents; admin: also knowledge bases "
                   "and keys.")
@click.option("--kb", "kbs", multiple=True, help="Only these knowledge bases (repeatable; default: all).")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Data directory (RAGKIT_DATA_DIR).")
@click.pass_context
@_guard
def keys_create(ctx: click.Context, name: str, scope: str, kbs: tuple[str, ...], data_dir: Path | None) -> None:
    """Create a key and print it (this once only; only its hash is stored)."""
    lang = _lang(ctx)
    token, key = _keys(ctx, data_dir).create(name, scope=scope, kbs=kbs)  # type: ignore[arg-type]
    where = f"; {', '.join(key.kbs)}" if key.kbs else ""
    click.echo(tr("key_created", lang, name=key.name, id=key.id, scope=key.scope, kbs=where), err=True)
    click.echo(token)


@keys_group.command("list")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Data directory (RAGKIT_DATA_DIR).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@_guard
def keys_list(ctx: click.Context, data_dir: Path | None, as_json: bool) -> None:
    """List the keys (their names, scopes and first characters; never the keys)."""
    keys = _keys(ctx, data_dir).list()
    if as_json:
        click.echo(json.dumps([k.as_json() for k in keys], ensure_ascii=False, indent=2))
        return
    click.echo(tr("keys_header", _lang(ctx)))
    for k in keys:
        state = "revoked" if k.revoked else "active"
        click.echo(f"{k.id}\t{k.name}\t{k.scope}\t{','.join(k.kbs) or '*'}\t{k.prefix}…\t{state}")


@keys_group.command("revoke")
@click.argument("key")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Data directory (RAGKIT_DATA_DIR).")
@click.pass_context
@_guard
def keys_revoke(ctx: click.Context, key: str, data_dir: Path | None) -> None:
    """Revoke a key by its id (or every key of that name); it stops working at once."""
    lang = _lang(ctx)
    revoked = _keys(ctx, data_dir).revoke(key)
    if not revoked:
        raise RagkitError(tr("key_none", lang, key=key))
    for k in revoked:
        click.echo(tr("key_revoked", lang, name=k.name, id=k.id))


@cli.group("feedback")
def feedback_group() -> None:
    """Ratings (👍/👎) given to answers in the server and the app."""


@feedback_group.command("export")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="The JSONL file to write.")
@click.option("--kb", help="Only this knowledge base.")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Data directory (RAGKIT_DATA_DIR).")
@click.pass_context
@_guard
def feedback_export(ctx: click.Context, out: Path, kb: str | None, data_dir: Path | None) -> None:
    """Write the rated questions in the ragkit eval question format (with the answer given, its citations and
    the rating), so real questions become a regression set: ragkit eval FILE.jsonl."""
    from ragkit.feedback import Feedback, export_questions

    settings = _settings(ctx, data_dir=data_dir)
    lines = export_questions(Feedback(build.sqlite(settings)).rated(kb=kb))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    click.echo(tr("feedback_written", _lang(ctx), n=len(lines), path=out))


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main() -> None:
    """Console-script entry point. SIGTERM becomes a normal exit between two Python steps, so it never
    stops Chroma in the middle of writing its files."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    cli(prog_name="ragkit")
