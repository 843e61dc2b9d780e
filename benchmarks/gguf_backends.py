"""llama.cpp from Python: `xllamacpp` (prebuilt wheel) against `llama-cpp-python` (built from source), on the
test model (Qwen2.5-Coder-0.5B-Instruct Q4_K_M, see tests/support/models.py).

    pip install -e '.[bench]' llama-cpp-python      # the second backend is not in any ragkit extra
    python benchmarks/gguf_backends.py [--install] [--write]

Each backend runs in its own process, with 2 threads, on the same prompts (ragkit's answer prompt over
passages of the corpus around the evidence of development questions):

* load: constructing the engine from the (page-cached) file; memory: the process's RSS after that;
* first token, prompt processing and generation speed, streamed, every request from an empty context
  (median of 3 runs of one ~1,000-token prompt, 128 new tokens at most);
* determinism at temperature 0: 6 prompts answered, then answered again in reverse order, with the previous
  prompt's prefix cache kept (each library's default) and with an empty context for every request;
* streaming: several chunks, which add up to the non-streamed answer; usage counts with and without streaming;
* tool calls: whether a Qwen `<tool_call>` or JSON call comes back as `tool_calls` natively.

``--install`` also times ``pip install --no-cache-dir`` of each package into a fresh virtualenv (llama-cpp-python
compiles llama.cpp; this takes minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import DEV, ROOT, table, write_section  # noqa: E402

PACKAGES = {"xllamacpp": "xllamacpp", "llama-cpp-python": "llama-cpp-python"}
THREADS = 2
MAX_TOKENS = 128
TOOLS = [{"type": "function", "function": {
    "name": "search_knowledge_base", "description": "Search the knowledge base and return numbered passages.",
    "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}}]


def prompts(n: int) -> list[list[dict[str, str]]]:
    """ragkit's answer prompt over ~1,800 characters of the corpus around each question's evidence."""
    from langchain_core.documents import Document
    from langchain_core.messages import convert_to_openai_messages

    from ragkit.evaluation import load_questions
    from ragkit.prompts import answer_prompt, format_passages

    questions = [q for q in load_questions(DEV)[0] if q.kind == "single" and q.evidence and q.source]
    out = []
    for q in questions:
        source, evidence = q.source[0], q.evidence[0]
        text = (ROOT / "corpora" / "llm" / source).read_text(encoding="utf-8")
        at = text.find(evidence)
        if at < 0:
            continue
        start = max(0, at - 900)
        docs = [Document(text[start + i * 600: start + (i + 1) * 600], metadata={"source": source, "heading": ""})
                for i in range(3)]
        messages = answer_prompt(q.lang).invoke({"passages": format_passages(docs), "question": q.question,
                                                  "history": []}).to_messages()
        out.append(convert_to_openai_messages(messages))
        if len(out) == n:
            break
    return out


class XLlamaCpp:
    def __init__(self, path: str) -> None:
        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path, params.n_ctx, params.offline, params.warmup, params.verbosity = path, 4096, True, False, -1
        params.api_keys = ["bench"]
        params.cpuparams.n_threads = params.cpuparams_batch.n_threads = THREADS
        self.server = xllamacpp.Server(params)

    def chat(self, messages: list[dict], *, fresh: bool, **extra: Any) -> dict[str, Any]:
        return self.server.handle_chat_completions({"messages": messages, "temperature": 0, "max_tokens": MAX_TOKENS,
                                                    "cache_prompt": not fresh, **extra})

    def stream(self, messages: list[dict], *, fresh: bool) -> tuple[list[str], dict | None, float]:
        pieces, usage, first = [], None, [0.0]
        start = time.perf_counter()

        def on_chunk(chunk: dict) -> bool:
            nonlocal usage
            for choice in chunk.get("choices") or []:
                piece = (choice.get("delta") or {}).get("content")
                if piece:
                    first[0] = first[0] or time.perf_counter() - start
                    pieces.append(piece)
            usage = chunk.get("usage") or usage
            return False

        self.server.handle_chat_completions({"messages": messages, "temperature": 0, "max_tokens": MAX_TOKENS,
                                             "cache_prompt": not fresh, "stream": True,
                                             "stream_options": {"include_usage": True}}, on_chunk)
        return pieces, usage, first[0]


class LlamaCppPython:
    def __init__(self, path: str) -> None:
        from llama_cpp import Llama

        self.llm = Llama(model_path=path, n_ctx=4096, n_threads=THREADS, n_threads_batch=THREADS, verbose=False)

    def chat(self, messages: list[dict], *, fresh: bool, **extra: Any) -> dict[str, Any]:
        if fresh:
            self.llm.reset()
        return self.llm.create_chat_completion(messages=messages, temperature=0, max_tokens=MAX_TOKENS, **extra)

    def stream(self, messages: list[dict], *, fresh: bool) -> tuple[list[str], dict | None, float]:
        if fresh:
            self.llm.reset()
        pieces, first, start = [], 0.0, time.perf_counter()
        for part in self.llm.create_chat_completion(messages=messages, temperature=0, max_tokens=MAX_TOKENS,
                                                    stream=True):
            piece = part["choices"][0]["delta"].get("content")
            if piece:
                first = first or time.perf_counter() - start
                pieces.append(piece)
        return pieces, None, first


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(backend: str, path: str) -> dict[str, Any]:
    """Everything but the install time, for one backend, in this process."""
    start = time.perf_counter()
    engine = XLlamaCpp(path) if backend == "xllamacpp" else LlamaCppPython(path)
    result: dict[str, Any] = {"load_s": time.perf_counter() - start, "rss_mib": _rss_mib()}
    cases = prompts(6)
    runs = []
    for _ in range(3):
        begin = time.perf_counter()
        pieces, usage, first = engine.stream(cases[0], fresh=True)
        total = time.perf_counter() - begin
        counted = engine.chat(cases[0], fresh=True)["usage"]
        runs.append({"first": first, "total": total, "prompt": counted["prompt_tokens"],
                     "completion": counted["completion_tokens"]})
    result["first_token_s"] = statistics.median(r["first"] for r in runs)
    result["prompt_tokens"] = runs[0]["prompt"]
    result["pp_tok_s"] = statistics.median(r["prompt"] / r["first"] for r in runs)
    result["tg_tok_s"] = statistics.median((r["completion"] - 1) / (r["total"] - r["first"]) for r in runs)
    plain = engine.chat(cases[1], fresh=True)
    pieces, stream_usage, _ = engine.stream(cases[1], fresh=True)
    result["stream_chunks"] = len(pieces)
    result["stream_equals_invoke"] = "".join(pieces) == plain["choices"][0]["message"]["content"]
    result["usage_invoke"] = bool(plain.get("usage", {}).get("completion_tokens"))
    result["usage_stream"] = bool(stream_usage and stream_usage.get("completion_tokens"))
    for fresh in (False, True):
        first_pass = [engine.chat(m, fresh=fresh)["choices"][0]["message"]["content"] for m in cases]
        second = [engine.chat(m, fresh=fresh)["choices"][0]["message"]["content"] for m in reversed(cases)]
        same = sum(a == b for a, b in zip(first_pass, reversed(second), strict=True))
        result["deterministic_fresh" if fresh else "deterministic_cached"] = f"{same}/{len(cases)}"
    ask = [{"role": "user", "content": "ChatGLM 在多大显存的条件下可以进行微调？请调用工具搜索知识库。"}]
    reply = engine.chat(ask, fresh=True, tools=TOOLS)["choices"][0]["message"]
    result["native_tool_calls"] = len(reply.get("tool_calls") or [])
    result["tool_reply"] = (reply.get("content") or "")[:80]
    return result


def install_seconds(package: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "venv", tmp], check=True)
        start = time.perf_counter()
        subprocess.run([f"{tmp}/bin/pip", "install", "-q", "--no-cache-dir", package], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--install", action="store_true", help="also time pip install of each backend")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--backend", help=argparse.SUPPRESS)  # internal: measure one backend in this process
    args = parser.parse_args()
    from tests.support.models import qwen_gguf

    path = str(qwen_gguf())
    if args.backend:
        print(json.dumps(measure(args.backend, path)))
        return
    results: dict[str, dict[str, Any]] = {}
    for backend in PACKAGES:
        done = subprocess.run([sys.executable, __file__, "--backend", backend], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
        if done.returncode != 0:
            print(f"{backend}: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else 'failed'}")
            continue
        results[backend] = json.loads(done.stdout.strip().splitlines()[-1])
        if args.install:
            results[backend]["install_s"] = install_seconds(PACKAGES[backend])
    rows = [[name, f"{r['install_s']:.0f}" if "install_s" in r else "not measured", f"{r['load_s']:.2f}",
             f"{r['rss_mib']:.0f}", f"{r['first_token_s']:.2f}", f"{r['pp_tok_s']:.0f}", f"{r['tg_tok_s']:.1f}",
             r["deterministic_cached"], r["deterministic_fresh"], f"{r['stream_chunks']} / {r['stream_equals_invoke']}",
             f"{r['usage_invoke']} / {r['usage_stream']}", r["native_tool_calls"]] for name, r in results.items()]
    prompt_tokens = next(iter(results.values()))["prompt_tokens"] if results else 0
    body = (
        f"Qwen2.5-Coder-0.5B-Instruct Q4_K_M, {THREADS} threads, temperature 0; first token and speeds streamed from "
        f"an empty context on a {prompt_tokens}-token answer prompt (median of 3), {MAX_TOKENS} new tokens at most. "
        "Determinism: 6 answer prompts asked twice (the second time in reverse order), with the prefix cache of the "
        "previous request kept, and with an empty context for each request.\n\n"
        + table(["backend", "pip install s", "load s", "RSS MiB", "first token s", "prompt tok/s", "generation tok/s",
                 "same answer, cache kept", "same answer, empty context", "stream chunks / = invoke",
                 "usage invoke / stream", "native tool calls"], rows)
        + "\n\nReplies to a tool-bound Chinese question: "
        + "; ".join(f"{name}: {r['tool_reply']!r}" for name, r in results.items())
    )
    print(body)
    if args.write:
        write_section("gguf_backends", body)


if __name__ == "__main__":
    main()
