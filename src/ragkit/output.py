"""The stable JSON shapes of search results and answers: ``ragkit search --json``, ``ragkit ask --json``, the
server's REST routes and the MCP tools all print these.

>>> from langchain_core.documents import Document
>>> search_json("显存", [Document("ChatGLM 能在 7G 显存下微调。", id="c1", metadata={"source": "a.md", "score": 0.5})])
{'query': '显存', 'results': [{'rank': 1, 'score': 0.5, 'text': 'ChatGLM 能在 7G 显存下微调。', 'source': 'a.md', 'heading': '', 'chunk_id': 'c1'}]}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.documents import Document


def search_json(query: str, docs: Sequence[Document]) -> dict[str, Any]:
    """``{query, results: [{rank, score, text, source, heading, chunk_id}]}``."""
    return {"query": query, "results": [
        {"rank": n, "score": float(d.metadata.get("score", 0.0)), "text": d.page_content,
         "source": d.metadata.get("source", ""), "heading": str(d.metadata.get("heading") or ""),
         "chunk_id": d.id or ""}
        for n, d in enumerate(docs, start=1)
    ]}


def answer_json(question: str, result: dict[str, Any], session: str | None) -> dict[str, Any]:
    """``{question, answer, abstained, rewritten_query, citations: [{n, source, heading, chunk_id, quote}],
    timings, extractive, session}`` from a chain's merged result."""
    return {
        "question": question, "answer": result.get("answer", ""), "abstained": bool(result.get("abstained")),
        "rewritten_query": result.get("rewritten_query"),
        "citations": [c.as_json() for c in result.get("citations", [])], "timings": result.get("timings", {}),
        "extractive": bool(result.get("extractive")), "session": session,
    }
