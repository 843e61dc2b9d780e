"""``ragkit eval``: run a question set against one or more configurations, summarize, plot, list the misses.

A configuration is the current settings with some overridden (``retrieval_mode=bm25``,
``chunk_size=300,chunk_overlap=30``, ``embedder=e5``). Overrides that change how documents are indexed
(embedder, chunking, the user dictionary) get their own temporary knowledge base, built from the same files.

>>> parse_config("retrieval_mode=bm25,top_k=3").overrides
{'retrieval_mode': 'bm25', 'top_k': '3'}
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage

from ragkit import build
from ragkit.chains import expand_query
from ragkit.config import Settings
from ragkit.errors import ConfigError
from ragkit.evaluation import Question, contains_evidence, first_hit_rank, hit_at, mrr_at, normalize
from ragkit.ingest import ingest
from ragkit.store import KnowledgeBase
from ragkit.terms import Vocabulary

INDEX_KEYS = {"embedder", "chunk_size", "chunk_overlap", "user_dict"}
KS = (1, 3, 5, 10)
STAGES = ("rewrite_ms", "retrieve_ms", "answer_ms", "total_ms")


@dataclass(frozen=True)
class Config:
    name: str
    overrides: dict[str, Any]


def parse_config(spec: str) -> Config:
    """``key=value[,key=value...]`` of setting names (``mode`` is short for ``retrieval_mode``)."""
    overrides: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--compare {spec!r}: expected key=value, e.g. retrieval_mode=bm25")
        key = {"mode": "retrieval_mode"}.get(key.strip(), key.strip())
        if key not in Settings.model_fields:
            raise ConfigError(f"--compare {spec!r}: unknown setting {key!r}")
        overrides[key] = value.strip()
    return Config(spec, overrides)


@dataclass
class Outcome:
    """What one question got under one configuration."""

    config: str
    id: str
    kind: str
    lang: str
    question: str
    evidence: list[str]
    tags: list[str] = field(default_factory=list)
    rank: int | None = None
    retrieved: list[dict[str, str]] = field(default_factory=list)
    answer: str | None = None
    abstained: bool | None = None
    correct: bool | None = None
    cited: int = 0
    cited_with_evidence: int = 0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def group(self) -> str:
        return f"{self.kind} {self.lang}"


def _retrieved(docs: Sequence[Any]) -> list[dict[str, str]]:
    return [{"source": str(d.metadata.get("source", "")), "heading": str(d.metadata.get("heading", "")),
             "text": " ".join(d.page_content.split())[:160]} for d in docs[:3]]


def _score_retrieval(outcome: Outcome, q: Question, docs: Sequence[Any]) -> None:
    outcome.retrieved = _retrieved(docs)
    if q.evidence:
        outcome.rank = first_hit_rank([d.page_content for d in docs[:10]], q.evidence)


def run_questions(settings: Settings, kb: KnowledgeBase, questions: Sequence[Question], *, config: str,
                  retrieval_only: bool, progress: Callable[[int], None] | None = None) -> list[Outcome]:
    """Ask every question (a conversation's turns in order, in one session) and score what came back."""
    retriever = build.make_retriever(settings, kb, k=10)
    vocabulary = Vocabulary(kb.lexical)
    conversation = None if retrieval_only else build.conversation(settings, kb)
    run = f"eval-{time.time_ns()}"
    retriever.invoke("warm up 预热")  # loads jieba and the model outside the timings
    if conversation is not None:
        conversation.invoke({"question": "warm up 预热", "session_id": f"{run}-warm-up"})
    outcomes = []
    for n, q in enumerate(questions, start=1):
        outcome = Outcome(config, q.id, q.kind, q.lang, q.question, list(q.evidence), list(q.tags))
        if conversation is None:
            history = [HumanMessage(h) for h in q.history]
            query = expand_query(q.question, history, vocabulary) if history else q.question
            start = time.perf_counter()
            docs = retriever.invoke(query)
            outcome.timings = {"retrieve_ms": round((time.perf_counter() - start) * 1000, 1)}
        else:
            result = conversation.invoke({"question": q.question, "session_id": f"{run}-{q.conversation or q.id}"})
            docs = retriever.invoke(result["rewritten_query"] or q.question)
            outcome.answer, outcome.abstained = result["answer"], bool(result["abstained"])
            outcome.timings = dict(result["timings"])
            if q.kind != "unanswerable":
                outcome.correct = all(normalize(k) in normalize(result["answer"]) for k in q.answer_keywords)
                outcome.cited = len(result["citations"])
                outcome.cited_with_evidence = sum(
                    1 for c in result["citations"] if q.evidence and contains_evidence(c.passage, q.evidence))
        _score_retrieval(outcome, q, docs)
        outcomes.append(outcome)
        if progress:
            progress(n)
    return outcomes


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else 0.0


def summarize(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    """One row per (configuration, kind and language), then one per tag (e.g. ``table``): the metrics that
    apply to it."""
    rows = []
    keys = list(dict.fromkeys((o.config, o.group) for o in outcomes))
    keys += list(dict.fromkeys((o.config, f"tag:{t}") for o in outcomes for t in o.tags))
    for config, group in keys:
        items = [o for o in outcomes if o.config == config and
                 (group[4:] in o.tags if group.startswith("tag:") else o.group == group)]
        row: dict[str, Any] = {"config": config, "group": group, "n": len(items)}
        answerable = [o for o in items if o.kind != "unanswerable"]
        if answerable:
            ranks = [o.rank for o in answerable]
            row.update({f"hit@{k}": hit_at(ranks, k) for k in KS})
            row["mrr@10"] = mrr_at(ranks, 10)
        answered = [o for o in items if o.answer is not None]
        if answered and answerable:
            row["accuracy"] = sum(bool(o.correct) for o in answerable) / len(answerable)
            row["answered"] = sum(not o.abstained for o in answerable) / len(answerable)
            cited = sum(o.cited for o in answerable)
            row["citation_precision"] = sum(o.cited_with_evidence for o in answerable) / cited if cited else None
        if answered and not answerable:
            row["abstained"] = sum(bool(o.abstained) for o in items) / len(items)
        for stage in STAGES:
            values = [o.timings[stage] for o in items if stage in o.timings]
            if values:
                row[f"{stage[:-3]}_p50_ms"] = round(statistics.median(values), 1)
                row[f"{stage[:-3]}_p95_ms"] = round(_pct(values, 0.95), 1)
        rows.append(row)
    return rows


def misses(outcomes: Sequence[Outcome], k: int = 5) -> list[Outcome]:
    """Answerable questions whose evidence was not in the top ``k`` (or whose answer was wrong)."""
    return [o for o in outcomes if o.kind != "unanswerable" and
            ((o.rank is None or o.rank > k) or o.correct is False)]


def plot(outcomes: Sequence[Outcome], out: Path) -> list[Path]:
    """hit@k curves per configuration and the latency distribution per stage, as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    configs = list(dict.fromkeys(o.config for o in outcomes))
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for config in configs:
        ranks = [o.rank for o in outcomes if o.config == config and o.kind != "unanswerable"]
        ax.plot(range(1, 11), [hit_at(ranks, k) for k in range(1, 11)], marker="o", label=config)
    ax.set(xlabel="k", ylabel="hit@k", title="Retrieval hit@k", ylim=(0, 1.02), xticks=range(1, 11))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    hitk = out / "hit_at_k.png"
    fig.tight_layout()
    fig.savefig(hitk)
    plt.close(fig)

    series, labels = [], []
    for config in configs:
        for stage in STAGES:
            values = [o.timings[stage] for o in outcomes if o.config == config and stage in o.timings]
            if values:
                series.append(values)
                labels.append(f"{config} · {stage[:-3]}" if len(configs) > 1 else stage[:-3])
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.35 * max(1, len(series))), dpi=100)
    if series:
        ax.boxplot(series, tick_labels=labels, orientation="horizontal", showfliers=True)
    ax.set(xlabel="ms", title="Latency per stage")
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(axis="x", alpha=0.3)
    latency = out / "latency.png"
    fig.tight_layout()
    fig.savefig(latency)
    plt.close(fig)
    return [hitk, latency]


@contextmanager
def knowledge_base_for(settings: Settings, kb: KnowledgeBase, config: Config) -> Iterator[tuple[Settings, KnowledgeBase]]:
    """The configuration's settings and knowledge base: the given one, or a temporary rebuild of its files."""
    changed = Settings(**{**settings.model_dump(), **config.overrides})  # validated, e.g. "3" -> 3
    if not INDEX_KEYS & set(config.overrides):
        yield changed, kb
        return
    paths = [Path(r.path) for r in kb.journal.all() if r.hash is not None and r.path and Path(r.path).exists()]
    if not paths:
        raise ConfigError(f"--compare {config.name!r} needs the knowledge base's files to re-index, and none is on disk")
    with tempfile.TemporaryDirectory(prefix="ragkit-eval-") as tmp:
        rebuilt_settings = changed.model_copy(update={"data_dir": Path(tmp)})
        rebuilt = build.open_kb(rebuilt_settings)
        ingest(rebuilt, paths, split=build.split_options(rebuilt_settings))
        yield rebuilt_settings, rebuilt


def evaluate(settings: Settings, kb: KnowledgeBase, questions: Sequence[Question], configs: Sequence[Config], *,
             retrieval_only: bool, progress: Callable[[str, int], None] | None = None) -> list[Outcome]:
    """Every question under every configuration."""
    outcomes: list[Outcome] = []
    for config in configs:
        with ExitStack() as stack:
            config_settings, config_kb = stack.enter_context(knowledge_base_for(settings, kb, config))
            outcomes += run_questions(config_settings, config_kb, questions, config=config.name,
                                      retrieval_only=retrieval_only,
                                      progress=(lambda n, c=config.name: progress(c, n)) if progress else None)
    return outcomes


def write_results(outcomes: Sequence[Outcome], out: Path, problems: Sequence[str]) -> Path:
    """results.json: the summary rows, every outcome, the misses and the question-set problems."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.json"
    payload = {"summary": summarize(outcomes), "outcomes": [asdict(o) for o in outcomes],
               "misses": [asdict(o) for o in misses(outcomes)], "problems": list(problems)}
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


GENERATE_PROMPT = {
    "zh": "下面是一段资料。请根据它写一个问题，要求只读这段资料就能回答。只输出 JSON："
          '{{"question": "问题", "evidence": "资料中能回答问题的原文片段（必须逐字摘自资料，10 到 40 个字）", '
          '"answer_keywords": ["答案中必须出现的 1 到 3 个关键词"]}}\n\n资料：\n{passage}',
    "en": "Here is a passage. Write one question that it alone answers. Output only JSON: "
          '{{"question": "...", "evidence": "the exact words of the passage that answer it (copied verbatim, '
          '10 to 40 characters)", "answer_keywords": ["1 to 3 words the answer must contain"]}}\n\nPassage:\n{passage}',
}


def generate_questions(kb: KnowledgeBase, llm: Any, n: int, *, lang: str = "zh", seed: int = 7) -> list[dict[str, Any]]:
    """Draft ``n`` single questions with evidence from the knowledge base using a generative LLM.

    Passages are sampled across documents; a draft is kept only when its evidence really is a substring of
    the passage (after the usual normalisation).
    """
    import random

    rng = random.Random(seed)
    chunks = [(cid, text, meta) for batch in kb.lexical.iter_chunks() for cid, text, meta, _ in batch
              if len(text) >= 80]
    rng.shuffle(chunks)
    drafted: list[dict[str, Any]] = []
    for cid, text, meta in chunks:
        if len(drafted) >= n:
            break
        reply = llm.invoke(GENERATE_PROMPT[lang].format(passage=text)).text
        found = _json_object(reply)
        evidence = str((found or {}).get("evidence", ""))
        if not found or not found.get("question") or not evidence or normalize(evidence) not in normalize(text):
            continue
        drafted.append({
            "id": f"gen_{len(drafted) + 1:03d}", "kind": "single", "lang": lang, "question": str(found["question"]),
            "source": meta.get("source"), "evidence": evidence,
            "answer_keywords": [str(k) for k in found.get("answer_keywords") or [] if str(k).strip()],
        })
    return drafted


def _json_object(text: str) -> dict[str, Any] | None:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        value = json.loads(text[start : end + 1])
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
