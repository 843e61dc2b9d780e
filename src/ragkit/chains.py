"""The RAG chain (LCEL): standalone query -> retrieve -> answer with citations, streamed.

:func:`rag_chain` returns a LangChain runnable. Its input is ``{"question": str, "history": [messages]}``;
``stream()`` yields small dicts (``{"answer": "..."}`` token pieces, then the other fields once), and
``invoke()`` returns them merged::

    {"question", "answer", "abstained", "rewritten_query", "citations": [Citation], "docs": [Document],
     "timings": {"rewrite_ms", "retrieve_ms", "first_token_ms", "answer_ms", "total_ms"}, "extractive"}

* With a generative LLM, a follow-up question is rewritten into a standalone one by the LLM; with the
  extractive model, the names of the earlier turns are put in front of a question that refers back.
* The answer is written in the question's language, with ``[n]`` markers mapped to the passages.
* No passage, or a name/version in the question that no passage contains: the chain abstains without
  calling the LLM; an abstention cites nothing.

:class:`Conversation` adds memory: it loads a session's recent history, runs the chain, and stores the
question and the answer (with its citations) afterwards, so the question is sent exactly once.

>>> from ragkit.providers import make_embeddings
>>> from ragkit.providers.extractive import ExtractiveChatModel
>>> from ragkit.retrieval import HybridRetriever
>>> from ragkit.store import HybridStore
>>> from langchain_core.documents import Document
>>> store = HybridStore.in_memory(make_embeddings("fake:64"))
>>> _ = store.add_documents([Document("LangChain 的作者是 Harrison Chase。", metadata={"source": "a.md"})])
>>> result = rag_chain(HybridRetriever(store=store, k=3), ExtractiveChatModel()).invoke(
...     {"question": "LangChain 的作者是谁？", "history": []})
>>> result["answer"], result["citations"][0].source
('LangChain 的作者是 Harrison Chase。[1]', 'a.md')
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from difflib import SequenceMatcher
from typing import Any

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableLambda
from langchain_core.runnables.utils import AddableDict

from ragkit.memory import Conversations, recent
from ragkit.prompts import NEEDS_GENERATIVE, NOT_FOUND, answer_prompt, chat_prompt, condense_prompt, format_passages, lang_of
from ragkit.providers.extractive import ExtractiveChatModel, entities, sentences_of
from ragkit.tokenize import Tokenizer, default_terms

_MARKER = re.compile(r"\[(\d+)\]")
_ANSWER_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]*(?:\s*\[\d+\])*")
_REFERS_BACK = re.compile(r"它|它们|其|该|这个|这款|这些|那个|那款|此|\bit\b|\bits\b|\bthey\b|\bthem\b|\bthis\b|\bthat\b",
                          re.IGNORECASE)
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9.+-]*")


@dataclass(frozen=True)
class Citation:
    """A numbered source of an answer: where it is and the sentence of it the answer rests on."""

    n: int
    source: str
    heading: str
    chunk_id: str
    quote: str
    passage: str
    page: int | None = None

    def as_json(self) -> dict[str, Any]:
        """The stable JSON form: n, source, heading, chunk_id, quote."""
        return {k: v for k, v in asdict(self).items() if k in ("n", "source", "heading", "chunk_id", "quote")}


def salient_terms(text: str) -> list[str]:
    """Names in a question that a follow-up may refer to: Latin-script words and the field's terms.

    >>> salient_terms("通义千问是哪家公司研发的？"), salient_terms("LLaMA 系列模型的参数规模范围是多少？")
    (['通义千问'], ['LLaMA'])
    """
    terms = {t.lower() for t in default_terms(names_only=True)}
    found = [w for w in _LATIN_WORD.findall(text) if w.lower() not in {"the", "a", "of", "and"}]
    found += [t for t in Tokenizer()(text) if t in terms and not _LATIN_WORD.fullmatch(t)]
    return list(dict.fromkeys(found))


def expand_query(question: str, history: list[BaseMessage]) -> str:
    """A follow-up that refers back (or names nothing) gets the names of the latest earlier question that
    had some: "它用的是什么激活函数？" after a question about LLaMA -> "LLaMA 它用的是什么激活函数？"."""
    if salient_terms(question) and not _REFERS_BACK.search(question):
        return question
    for message in reversed(history):
        if isinstance(message, HumanMessage) and (names := salient_terms(message.text)):
            return " ".join(names) + " " + question
    return question


def _best_sentence(answer_sentence: str, doc: Document) -> str:
    """The sentence of the cited passage closest to the answer sentence that cites it."""
    candidates = sentences_of(0, "", doc.page_content) or []
    if not candidates:
        return doc.page_content.strip()[:200]
    target = _MARKER.sub("", answer_sentence)
    return max(candidates, key=lambda s: SequenceMatcher(None, target, s.text, autojunk=False).ratio()).text


def cite(answer: str, docs: list[Document]) -> list[Citation]:
    """Citations for the ``[n]`` markers of an answer, in order of first use (unknown numbers are dropped)."""
    out: dict[int, Citation] = {}
    for sentence in _ANSWER_SENTENCE.findall(answer):  # a sentence with the markers that follow it
        for marker in _MARKER.findall(sentence):
            n = int(marker)
            if n in out or not 1 <= n <= len(docs):
                continue
            doc = docs[n - 1]
            out[n] = Citation(
                n=n, source=str(doc.metadata.get("source", "")), heading=str(doc.metadata.get("heading", "")),
                chunk_id=doc.id or "", quote=_best_sentence(sentence, doc), passage=doc.page_content,
                page=doc.metadata.get("page"),
            )
    return list(out.values())


def is_abstention(answer: str) -> bool:
    """Whether the answer says the documents do not contain it."""
    text = answer.strip().lower()
    return any(phrase.lower().rstrip("。.") in text for phrase in NOT_FOUND.values())


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


def rag_chain(retriever: BaseRetriever, llm: BaseChatModel, *, generative: bool | None = None) -> Runnable:
    """The RAG chain over ``retriever`` answering with ``llm`` (see the module docstring)."""
    if generative is None:
        generative = not isinstance(llm, ExtractiveChatModel)
    rewriter = None
    if generative:
        rewriter = {lang: condense_prompt(lang) | llm | StrOutputParser() for lang in ("zh", "en")}

    def standalone(inputs: dict[str, Any]) -> dict[str, Any]:
        start = time.perf_counter()
        question, history = inputs["question"], list(inputs.get("history") or [])
        lang = lang_of(question)
        if not history:
            query = question
        elif rewriter is not None:
            query = rewriter[lang].invoke({"question": question, "history": history}).strip() or question
        else:
            query = expand_query(question, history)
        return {**inputs, "history": history, "lang": lang, "query": query, "t0": start,
                "timings": {"rewrite_ms": _ms(start)}}

    def retrieve(state: dict[str, Any]) -> dict[str, Any]:
        start = time.perf_counter()
        docs = retriever.invoke(state["query"])
        return {**state, "docs": docs, "timings": {**state["timings"], "retrieve_ms": _ms(start)}}

    def answer(state: dict[str, Any]) -> Iterator[AddableDict]:
        start = time.perf_counter()
        docs, lang = state["docs"], state["lang"]
        haystack = " ".join(d.page_content + " " + str(d.metadata.get("heading", "")) for d in docs)
        haystack = haystack.lower().replace(" ", "")
        missing = [e for e in entities(state["question"]) if e not in haystack]
        parts: list[str] = []
        first_token = None
        if docs and not missing:
            messages = answer_prompt(lang).invoke({
                "passages": format_passages(docs), "question": state["question"], "history": state["history"],
            })
            for chunk in llm.stream(messages):
                piece = chunk.text if isinstance(chunk.text, str) else str(chunk.content)
                if piece:
                    first_token = first_token if first_token is not None else _ms(state["t0"])
                    parts.append(piece)
                    yield AddableDict(answer=piece)
        if not parts:
            parts = [NOT_FOUND[lang]]
            yield AddableDict(answer=parts[0])
        text = "".join(parts)
        abstained = is_abstention(text)
        timings = {**state["timings"], "first_token_ms": first_token if first_token is not None else _ms(state["t0"]),
                   "answer_ms": _ms(start), "total_ms": _ms(state["t0"])}
        yield AddableDict(
            question=state["question"], abstained=abstained, docs=docs, timings=timings,
            rewritten_query=state["query"] if state["query"] != state["question"] else None,
            citations=[] if abstained else cite(text, docs), extractive=not generative,
        )

    return (RunnableLambda(standalone, name="standalone_query") | RunnableLambda(retrieve, name="retrieve")
            | RunnableLambda(answer, name="answer_with_citations"))


def chat_chain(llm: BaseChatModel) -> Runnable:
    """Plain conversation with the LLM (no retrieval), in the same shape as :func:`rag_chain`'s output.

    The extractive model cannot converse: it gets a message saying which setting enables a generative model.
    """

    def talk(inputs: dict[str, Any]) -> Iterator[AddableDict]:
        start = time.perf_counter()
        question, lang = inputs["question"], lang_of(inputs["question"])
        first_token = None
        if isinstance(llm, ExtractiveChatModel):
            yield AddableDict(answer=NEEDS_GENERATIVE[lang])
        else:
            messages = chat_prompt(lang).invoke({"question": question, "history": list(inputs.get("history") or [])})
            for chunk in llm.stream(messages):
                piece = chunk.text if isinstance(chunk.text, str) else str(chunk.content)
                if piece:
                    first_token = first_token if first_token is not None else _ms(start)
                    yield AddableDict(answer=piece)
        yield AddableDict(question=question, abstained=False, docs=[], citations=[], rewritten_query=None,
                          extractive=isinstance(llm, ExtractiveChatModel),
                          timings={"first_token_ms": first_token or _ms(start), "total_ms": _ms(start)})

    return RunnableLambda(talk, name="plain_chat")


class Conversation:
    """The RAG chain with memory: one call per question, history per session id, kept in SQLite.

    ``max_turns`` and ``max_chars`` bound the history sent to the model.
    """

    def __init__(self, chain: Runnable, conversations: Conversations, *, kb: str = "", max_turns: int = 4,
                 max_chars: int = 2000) -> None:
        self.chain, self.conversations, self.kb = chain, conversations, kb
        self.max_turns, self.max_chars = max_turns, max_chars

    def stream(self, question: str, session_id: str) -> Iterator[AddableDict]:
        """Stream the answer (see :func:`rag_chain`) and store the turn once it is complete."""
        history = self.conversations.history(session_id, kb=self.kb)
        previous = recent(history.messages, max_turns=self.max_turns, max_chars=self.max_chars)
        result: AddableDict = AddableDict()
        for chunk in self.chain.stream({"question": question, "history": previous}):
            result = result + chunk if result else chunk
            yield chunk
        history.add_messages([HumanMessage(question), AIMessage(result["answer"], additional_kwargs={
            "citations": [asdict(c) for c in result["citations"]], "rewritten_query": result["rewritten_query"],
            "abstained": result["abstained"], "extractive": result["extractive"],
        })])

    def invoke(self, question: str, session_id: str) -> AddableDict:
        result: AddableDict = AddableDict()
        for chunk in self.stream(question, session_id):
            result = result + chunk if result else chunk
        return result
