"""Agent tools over a knowledge base: LangChain tools with typed arguments and docstrings the model reads.

* ``search_knowledge_base(query, k, source)``: the hybrid retriever; numbered passages with source and heading.
* ``list_documents(kb)``: the documents of a knowledge base.
* ``read_section(source, heading)``: the full text of one section.
* ``calculator(expression)``: arithmetic parsed with :mod:`ast` (never ``eval``); understands 万/亿.
* ``current_date()``: today's date.

Passages get numbers from a :class:`PassageLedger` kept per conversation thread, so ``[n]`` means the same
passage in every tool result and in the final answer, across turns, and maps to a citation.

>>> calculate("1.8万亿 / 1750亿")
10.2857
>>> calculate("(2 + 3) * 4 ** 2")
80
"""

from __future__ import annotations

import ast
import datetime as dt
import operator
import re
import sqlite3
from collections.abc import Callable
from typing import Any

from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import BaseModel, Field

from ragkit.prompts import format_passage
from ragkit.store import FileJournal, KnowledgeBase

_OPS: dict[type, Callable[..., Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
    ast.USub: operator.neg, ast.UAdd: operator.pos,
}
_CJK_UNITS = (("万亿", "e12"), ("亿", "e8"), ("万", "e4"), ("千", "e3"))
MAX_EXPRESSION = 500  # characters of an expression
MAX_DIGITS = 30  # digits of one number in it
MAX_RESULT_BITS = 1000  # an intermediate integer beyond 2**1000 (about 300 digits) is refused


def calculate(expression: str) -> int | float:
    """Evaluate arithmetic safely: numbers (with 万/亿, %, commas), + - * / // % ** and parentheses.

    Bounded: at most 500 characters, 30 digits per number, exponents up to 64 and intermediate results up to
    about 300 digits, so no expression takes noticeable time. ``%`` after a number is a percentage unless
    another operand follows (then it is the remainder).

    >>> calculate("10 % 3"), calculate("50% * 8")
    (1, 4)
    """
    if len(expression) > MAX_EXPRESSION:
        raise ToolException(f"expression longer than {MAX_EXPRESSION} characters")
    if re.search(rf"\d{{{MAX_DIGITS + 1}}}", expression.replace(",", "").replace("，", "")):
        raise ToolException(f"numbers of more than {MAX_DIGITS} digits are not supported")
    text = expression.replace("，", ",").replace("×", "*").replace("÷", "/").replace("（", "(").replace("）", ")")
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    for unit, power in _CJK_UNITS:
        text = re.sub(rf"(\d+(?:\.\d+)?)\s*{unit}", rf"(\1{power})", text)
    text = re.sub(r"(\d+(?:\.\d+)?)\s*%(?!\s*[\d.(])", r"(\1/100)", text)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ToolException(f"cannot parse {expression!r} as arithmetic") from exc
    value = _eval(tree.body)
    if isinstance(value, float):
        value = float(f"{value:.6g}")
        if value.is_integer() and abs(value) < 1e15:
            return int(value)
    return value


def _bounded(value: int | float) -> int | float:
    if isinstance(value, int) and value.bit_length() > MAX_RESULT_BITS or value in (float("inf"), float("-inf")):
        raise ToolException("result too large")
    return value


def _eval(node: ast.AST) -> int | float:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > 1e6):
            raise ToolException("exponent too large")
        try:
            return _bounded(_OPS[type(node.op)](left, right))
        except ZeroDivisionError as exc:
            raise ToolException("division by zero") from exc
        except OverflowError as exc:
            raise ToolException("result too large") from exc
    raise ToolException(f"only numbers and + - * / // % ** are allowed, not {type(node).__name__}")


class PassageLedger:
    """Numbers for the passages a conversation thread has seen (kept in SQLite, so memory keeps them)."""

    def __init__(self, conn: sqlite3.Connection, thread: str) -> None:
        self._conn, self.thread = conn, thread
        with conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS agent_passages (thread TEXT NOT NULL, n INTEGER NOT NULL, chunk_id TEXT NOT "
                "NULL, source TEXT NOT NULL, heading TEXT NOT NULL, text TEXT NOT NULL, page INTEGER, "
                "PRIMARY KEY (thread, n))"
            )

    def number(self, doc: Document) -> int:
        """The passage's number in this thread (a new one the first time)."""
        key = doc.id or f"{doc.metadata.get('source')}#{doc.metadata.get('heading')}#{hash(doc.page_content)}"
        row = self._conn.execute("SELECT n FROM agent_passages WHERE thread = ? AND chunk_id = ?",
                                 (self.thread, key)).fetchone()
        if row:
            return row[0]
        n = 1 + self._conn.execute("SELECT coalesce(max(n), 0) FROM agent_passages WHERE thread = ?",
                                   (self.thread,)).fetchone()[0]
        with self._conn:
            self._conn.execute(
                "INSERT INTO agent_passages(thread, n, chunk_id, source, heading, text, page) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self.thread, n, key, str(doc.metadata.get("source", "")), str(doc.metadata.get("heading", "")),
                 doc.page_content, doc.metadata.get("page")))
        return n

    def documents(self) -> list[Document]:
        """Passage n at index n - 1 (for :func:`ragkit.chains.cite`)."""
        rows = self._conn.execute("SELECT n, chunk_id, source, heading, text, page FROM agent_passages WHERE thread = ? "
                                  "ORDER BY n", (self.thread,)).fetchall()
        out: list[Document] = []
        for n, chunk_id, source, heading, text, page in rows:
            while len(out) < n - 1:  # numbers are dense; this only guards a damaged table
                out.append(Document("", metadata={}))
            meta = {"source": source, "heading": heading, **({"page": page} if page else {})}
            out.append(Document(text, metadata=meta, id=chunk_id))
        return out

    def format(self, docs: list[Document]) -> str:
        """Passages as the answer prompt shows them, with this thread's numbers."""
        return "\n\n".join(format_passage(self.number(doc), doc) for doc in docs)


class SearchArgs(BaseModel):
    query: str = Field(description="What to look for, in the words of the documents (Chinese or English).")
    k: int = Field(5, ge=1, le=20, description="How many passages to return.")
    source: str | None = Field(None, description="Only search this document (a source name from list_documents).")


class ListArgs(BaseModel):
    kb: str | None = Field(None, description="Knowledge base name; the current one when omitted.")


class SectionArgs(BaseModel):
    source: str = Field(description="The document's source name, exactly as list_documents or a passage shows it.")
    heading: str = Field(description="The section's heading path, or its last part, exactly as a passage shows it.")


class CalculatorArgs(BaseModel):
    expression: str = Field(description="Arithmetic on numbers taken from the passages or the question: + - * / "
                                        "// % ** and parentheses; numbers may carry 万, 亿 or %.")


class NoArgs(BaseModel):
    pass


def copies_description(query: str) -> bool:
    """Whether a search query is the query argument's own description (small models copy it from the schema).

    >>> copies_description(" What to look for, in the words of the documents (Chinese or English). "), copies_description("GLM")
    (True, False)
    """
    return " ".join(query.split()) == SearchArgs.model_fields["query"].description


def search_tool(retriever: BaseRetriever, ledger: PassageLedger, sources: Callable[[], set[str]] | None = None
                ) -> BaseTool:
    """The search tool. ``sources()`` gives the documents' names: a ``source`` that names none of them (small
    models put the question's subject or "null" there) does not filter; the result says so first."""

    def search_knowledge_base(query: str, k: int = 5, source: str | None = None) -> str:
        if copies_description(query):
            raise ToolException("query holds the argument's description: put the words to look for there, "
                                "e.g. the names and terms of the question")
        note = ""
        if source is not None and sources is not None and source not in sources():
            if source.strip().lower() not in ("", "null", "none"):
                note = f"No document is named {source!r} (list_documents shows the names): searched all of them.\n\n"
            source = None
        docs = retriever.invoke(query, k=k, sources=[source] if source else None)
        if not docs:
            return note + ("No passages found." if source is None else f"No passages found in {source}.")
        return note + ledger.format(docs)

    return StructuredTool.from_function(
        search_knowledge_base, name="search_knowledge_base", args_schema=SearchArgs, handle_tool_error=True,
        description="Search the knowledge base (BM25 over Chinese words + vectors). Returns numbered passages "
                    "[n] with their source and heading; cite them in the final answer with the same [n].",
    )


def list_tool(knowledge: KnowledgeBase) -> BaseTool:
    def list_documents(kb: str | None = None) -> str:
        name = kb or knowledge.name
        rows = [r for r in FileJournal(knowledge.conn, kb=name).all() if r.hash is not None]
        if not rows:
            raise ToolException(f"knowledge base {name!r} has no documents")
        return "\n".join(f"{r.source} ({r.chunks} chunks): {r.title}" for r in rows)

    return StructuredTool.from_function(
        list_documents, name="list_documents", args_schema=ListArgs, handle_tool_error=True,
        description="List the documents of the knowledge base (source names, chunk counts, titles).",
    )


def section_text(kb: KnowledgeBase, source: str, heading: str) -> Document:
    """One section of a document, its chunks joined in order without the overlaps."""
    chunks = [(m, t) for t, m in kb.lexical.get(sorted(kb.lexical.ids(source))).values()]
    if not chunks:
        raise ToolException(f"no document {source!r}; use list_documents to see the names")
    wanted = heading.strip()
    exact = [(m, t) for m, t in chunks if m.get("heading") == wanted]
    matches = exact or [(m, t) for m, t in chunks if str(m.get("heading", "")).split(" > ")[-1].strip() == wanted]
    matches = matches or [(m, t) for m, t in chunks if wanted and wanted in str(m.get("heading", ""))]
    if not matches:
        headings = sorted({str(m.get("heading", "")) for m, _ in chunks})[:15]
        raise ToolException(f"no section {heading!r} in {source}; its sections include: " + "; ".join(headings))
    path = matches[0][0].get("heading", "")
    parts, end = [], -1
    for meta, text in sorted((c for c in chunks if c[0].get("heading") == path), key=lambda c: c[0]["start"]):
        start = int(meta["start"])
        parts.append(text[max(0, end - start):] if start < end else text)
        end = max(end, int(meta["end"]))
    body = "\n".join(parts)
    return Document(body[:6000], metadata={"source": source, "heading": path}, id=f"section:{source}#{path}")


def section_tool(kb: KnowledgeBase, ledger: PassageLedger) -> BaseTool:
    def read_section(source: str, heading: str) -> str:
        return ledger.format([section_text(kb, source, heading)])

    return StructuredTool.from_function(
        read_section, name="read_section", args_schema=SectionArgs, handle_tool_error=True,
        description="Read the full text of one section of a document (a passage's source and heading), as a "
                    "numbered passage to cite like the search results.",
    )


def calculator_tool() -> BaseTool:
    def calculator(expression: str) -> str:
        return str(calculate(expression))

    return StructuredTool.from_function(
        calculator, name="calculator", args_schema=CalculatorArgs, handle_tool_error=True,
        description="Exact arithmetic (+ - * / // % ** and parentheses; 万, 亿 and % are understood), for "
                    "comparing or combining numbers found in the passages. Never guess numbers: compute them here.",
    )


def date_tool(today: Callable[[], dt.date] = dt.date.today) -> BaseTool:
    def current_date() -> str:
        day = today()
        return f"{day.isoformat()} ({day.strftime('%A')})"

    return StructuredTool.from_function(
        current_date, name="current_date", args_schema=NoArgs, handle_tool_error=True,
        description="Today's date (ISO format and weekday), for questions about how long ago something happened.",
    )


def knowledge_base_tools(kb: KnowledgeBase, retriever: BaseRetriever, ledger: PassageLedger) -> list[BaseTool]:
    """All five tools, bound to a knowledge base and a thread's passage numbers."""
    def sources() -> set[str]:
        return {r.source for r in FileJournal(kb.conn, kb=kb.name).all() if r.hash is not None}

    return [search_tool(retriever, ledger, sources), list_tool(kb), section_tool(kb, ledger), calculator_tool(), date_tool()]

