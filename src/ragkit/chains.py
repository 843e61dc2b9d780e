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

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass
from difflib import SequenceMatcher
from typing import Any

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableConfig, RunnableGenerator, RunnableLambda
from langchain_core.runnables.utils import AddableDict

from ragkit.memory import Conversations, recent
from ragkit.prompts import NEEDS_GENERATIVE, NOT_FOUND, answer_prompt, chat_prompt, condense_prompt, format_passages, lang_of
from ragkit.extractive.question import analyze, missing, surface
from ragkit.providers.extractive import ExtractiveChatModel, sentences_of
from ragkit.terms import Vocabulary

_MARKER = re.compile(r"\[(\d+)\]")
_ANSWER_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]*(?:\s*\[\d+\])*")
_REFERS_BACK = re.compile(r"它|它们|其|该|这个|这款|这些|那个|那款|此|呢[？?]?$|\bit\b|\bits\b|\bthey\b|"
                          r"\bthem\b|\btheir\b|\bthis\b|\bthat\b", re.IGNORECASE)

_SUBJECT = re.compile(r"^(?:那么?|请问|还有)?\s*([^\s，,。？?、的]{2,12})的")
_CJK_WORD = re.compile(r"[\u4e00-\u9fff]+")


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


def salient_terms(text: str, vocabulary: Vocabulary | None = None, *, names_only: bool = False) -> list[str]:
    """What a question is about, as written in it: its names (identifiers, Latin-script names, the knowledge
    base's learned names) and the knowledge base's learned terms that are rare in it. A follow-up that refers
    back gets these.

    >>> salient_terms("LLaMA 系列模型的参数规模范围是多少？"), salient_terms("UC Berkeley's Koala model was built with JAX.")
    (['LLaMA'], ['UC', 'Berkeley', 'Koala', 'JAX'])
    """
    query = analyze(text, vocabulary.names() if vocabulary is not None else ())
    keys = list(query.entities)
    if query.names and vocabulary is not None:  # weak names (capitalised words) only when the knowledge base knows them
        known = vocabulary.frequencies([re.sub(r"\W", "", n) for n in query.names])
        keys += [n for n in query.names if known.get(re.sub(r"\W", "", n), 0) > 0]
    elif query.names:
        keys += query.names
    if vocabulary is not None and not names_only:
        flat = text.lower().replace(" ", "")
        found = [t.text for t in vocabulary.terms.all() if not t.name and t.text.lower() in flat]
        rare = vocabulary.frequencies([t.lower() for t in found]) if found else {}
        limit = max(3, 0.05 * vocabulary.size)
        keys += [t.lower() for t in found if 0 < rare.get(t.lower(), 0) <= limit and not any(t.lower() in k for k in keys)]
    return [surface(text, key) for key in dict.fromkeys(keys)]


def expand_query(question: str, history: list[BaseMessage], vocabulary: Vocabulary | None = None) -> str:
    """A follow-up that refers back, or names nothing, gets the names of the latest earlier question that had
    some: "它用的是什么激活函数？" after a question about LLaMA -> "LLaMA 它用的是什么激活函数？". A follow-up that names
    something new before any word referring back ("那 ImageBind 是哪家公司推出的？", "And Vicuna: what was it
    fine-tuned on?") stands on its own."""
    own = salient_terms(question, vocabulary)
    earlier: list[str] = []
    for message in reversed(history):
        if isinstance(message, HumanMessage) and (earlier := salient_terms(message.text, vocabulary)):
            break
    if not earlier or (not own and _new_subject(question, message.text, vocabulary)):
        return question
    known = {re.sub(r"\s+", "", e).lower() for e in earlier}
    # only a name makes a new subject: a rare word of the knowledge base ("归一化") is asked about the old one
    new = [name for name in salient_terms(question, vocabulary, names_only=True)
           if re.sub(r"\s+", "", name).lower() not in known]
    back = _REFERS_BACK.search(question)
    if new:
        first_new = min(question.find(name) for name in new)
        if back is None or first_new < back.start():
            return question  # about something new (a word referring back refers to it)
    elif own and back is None:
        return question  # names what it is about itself
    return " ".join(earlier) + " " + question


def _new_subject(question: str, earlier: str, vocabulary: Vocabulary | None) -> bool:
    """Whether a question opens with its own subject ("星尘模型的参数量是多少？") holding a Chinese word that the
    earlier question lacks and the knowledge base holds in few chunks or none: a specific thing, not a topic
    word ("模型的参数量…") that a follow-up leaves to the conversation."""
    match = _SUBJECT.match(question.strip())
    if vocabulary is None or match is None or _REFERS_BACK.search(match.group(1)):
        return False
    from ragkit.tokenize import shared_cutter

    words = [w for w in shared_cutter().lcut(match.group(1)) if len(w) >= 2 and _CJK_WORD.fullmatch(w)]
    words = [w for w in words if w not in earlier]
    if not words:
        return False
    counts = vocabulary.frequencies(words)
    return any(counts.get(w, 0) <= max(3, 0.01 * vocabulary.size) for w in words)


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


_YES_NO = re.compile(r"吗[？?]?\s*$|是否|是不是|有没有|能不能|可不可以|^\s*(is|are|was|were|do|does|did|can|could|has|have|"
                     r"had|will|would|should)\b", re.IGNORECASE)


def _pairs(text: str) -> set[str]:
    """Character pairs of a text without citation markers, spaces and punctuation, lower-cased."""
    text = re.sub(r"[\W_]+", "", _MARKER.sub("", text)).lower()
    return {text[i : i + 2] for i in range(len(text) - 1)} or ({text} if text else set())


def says_nothing(answer: str, question: str) -> bool:
    """Whether an answer adds nothing to the question: only citation markers and punctuation, or the question
    restated (every character pair of it is the question's, and it repeats most of the question; not for a
    yes/no question, which a restatement answers).

    >>> says_nothing("[1] [2][3]", "讯飞星火 V3.5 是什么时候发布的？")
    True
    >>> says_nothing("ChatGLM 在多大显存的条件下可以进行微调。[1]", "ChatGLM 在多大显存的条件下可以进行微调？")
    True
    >>> says_nothing("GPT-4。[1]", "GPT-3 和 GPT-4 哪个更大？"), says_nothing("只要 7G 显存 [1]", "ChatGLM 需要多大显存？")
    (False, False)
    >>> says_nothing("ChatGLM 是清华开发的。", "ChatGLM 是清华开发的吗？")
    False
    """
    own = _pairs(answer)
    if not own:
        return True
    asked = _pairs(question)
    return own <= asked and len(own) >= 0.6 * len(asked) and not _YES_NO.search(question.strip())


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


def question_input(value: Any, *, runnable: str) -> dict[str, Any]:
    """A chain's input as a dict: a plain string is a question without history; anything else that is not
    ``{"question": str, ...}`` fails with a message that shows the expected shape."""
    if isinstance(value, str):
        return {"question": value}
    problem = None
    if not isinstance(value, dict):
        problem = f"got {type(value).__name__}"
    elif not isinstance(value.get("question"), str) or not value["question"].strip():
        problem = f"got a dict with keys {sorted(value)} and no question text"
    else:
        history = value.get("history")
        if history is not None and not (isinstance(history, (list, tuple)) and
                                        all(isinstance(m, BaseMessage) for m in history)):
            problem = f"'history' must be a list of LangChain messages, not {type(history).__name__}"
    if problem is None:
        return value
    raise TypeError(f"{runnable} expects a question string or {{'question': str, 'history': [messages], "
                    f"'session_id': str}} (history and session_id optional); {problem}")


def _piece(chunk: BaseMessage) -> str:
    return chunk.text if isinstance(chunk.text, str) else str(chunk.content)


class _AskAgain(Exception):  # noqa: N818 - control flow, not an error
    """The answer began in the other language: ask again with these messages."""

    def __init__(self, messages: list[BaseMessage]) -> None:
        super().__init__("ask again")
        self.messages = messages


LANGUAGE_REMINDER = {"zh": "请只用中文回答。", "en": "Answer in English only."}
FALLBACK_SCORE = 1.3  # an extractive answer this sure replaces a generative abstention


class _Answering:
    """One answer being streamed. A generative answer's opening is held back until it is known to be neither
    an abstention nor an answer that says nothing (citation markers only, the question restated; an extractive
    answer may replace either when the passages clearly hold one, else the chain abstains) nor written in the
    other language (asked once more, with a reminder); then it streams as it comes. At the end, citations come
    from the ``[n]`` markers, or, for a generative answer without them, from matching its sentences to the
    passages."""

    def __init__(self, state: dict[str, Any], messages: list[BaseMessage] | None, *, generative: bool,
                 fallback: ExtractiveChatModel | None) -> None:
        self.state, self.messages, self.generative, self.fallback = state, messages, generative, fallback
        self.start, self.parts, self.held, self.first_token = time.perf_counter(), [], "", None
        self.open, self.reminded, self.extractive = not generative, False, not generative
        self.asked = _pairs(state["question"]) | _pairs(state["query"])

    def _emit(self, text: str) -> list[AddableDict]:
        if not text:
            return []
        self.first_token = self.first_token if self.first_token is not None else _ms(self.state["t0"])
        self.parts.append(text)
        return [AddableDict(answer=text)]

    def take(self, piece: str) -> list[AddableDict]:
        if self.open or not piece:
            return self._emit(piece)
        self.held += piece
        opening = self.held.strip()
        if _pairs(opening) <= self.asked:
            return []  # nothing new yet: may say nothing
        if any(phrase.startswith(opening) or opening.startswith(phrase.rstrip("。.")) for phrase in NOT_FOUND.values()):
            return []  # may be an abstention: decided at the end
        cjk = len(re.findall(r"[\u3400-\u9fff]", opening))
        latin = len(re.findall(r"[A-Za-z]", opening))
        right = cjk >= 2 if self.state["lang"] == "zh" else latin >= 8 and cjk <= latin
        if not right and cjk + latin < 16:
            return []  # not known yet
        if not right and not self.reminded and self.messages:
            self.reminded, self.held = True, ""
            reminder = LANGUAGE_REMINDER[self.state["lang"]]
            raise _AskAgain([*self.messages[:-1], HumanMessage(self.messages[-1].text + "\n\n" + reminder)])
        self.open, held, self.held = True, self.held, ""
        return self._emit(held)

    def close(self) -> list[AddableDict]:
        out: list[AddableDict] = []
        held, self.held = self.held, ""
        empty = bool(held) and not is_abstention(held) and any(
            says_nothing(held, self.state[key]) for key in ("question", "query"))
        if held and (empty or is_abstention(held)) and (replacement := self._extractive()):
            self.extractive = True
            out += self._emit(replacement)
        elif not empty:
            out += self._emit(held)
        if not self.parts:
            out += self._emit(NOT_FOUND[self.state["lang"]])
        out.append(self._finish())
        return out

    def _extractive(self) -> str | None:
        """The extractive answer to the standalone question, when it is sure enough to replace an abstention."""
        if self.fallback is None or not self.state["docs"]:
            return None
        prompt = answer_prompt(self.state["lang"]).invoke({
            "passages": format_passages(self.state["docs"]), "question": self.state["query"], "history": []})
        reply = self.fallback.invoke(prompt)
        meta = reply.response_metadata  # sure: a high score, and it says most of what was asked
        sure = not meta.get("abstained") and meta.get("score", 0) >= FALLBACK_SCORE and meta.get("attribute", 0) >= 0.75
        return reply.text if sure else None

    def _finish(self) -> AddableDict:
        state, text = self.state, "".join(self.parts)
        abstained = is_abstention(text)
        citations = [] if abstained else cite(text, state["docs"])
        if not citations and not abstained and self.generative:
            citations = recover_citations(text, state["docs"])
        timings = {**state["timings"], "first_token_ms": self.first_token if self.first_token is not None
                   else _ms(state["t0"]), "answer_ms": _ms(self.start), "total_ms": _ms(state["t0"])}
        return AddableDict(
            question=state["question"], abstained=abstained, docs=state["docs"], timings=timings,
            rewritten_query=state["query"] if state["query"] != state["question"] else None,
            citations=citations, extractive=self.extractive,
        )


def _bigrams(text: str) -> set[str]:
    text = re.sub(r"\s+", "", _MARKER.sub("", text).lower())
    return {text[i : i + 2] for i in range(len(text) - 1)}


def recover_citations(answer: str, docs: list[Document], *, min_share: float = 0.5) -> list[Citation]:
    """Citations for an answer written without ``[n]`` markers: each answer sentence is matched to the passage
    that holds most of its character pairs (at least ``min_share`` of them).

    >>> docs = [Document("GLM 由清华研发。", id="a"), Document("ChatGLM 能在 7G 显存下微调。", id="b")]
    >>> [(c.n, c.chunk_id) for c in recover_citations("ChatGLM 只要 7G 显存就能微调。", docs)]
    [(2, 'b')]
    """
    out: dict[int, Citation] = {}
    grams = [_bigrams(d.page_content) for d in docs]
    for sentence in _ANSWER_SENTENCE.findall(answer):
        own = _bigrams(sentence)
        if len(own) < 4:
            continue
        shares = [len(own & g) / len(own) for g in grams]
        if not shares or max(shares) < min_share:
            continue
        n = shares.index(max(shares)) + 1
        if n not in out:
            doc = docs[n - 1]
            out[n] = Citation(n=n, source=str(doc.metadata.get("source", "")), heading=str(doc.metadata.get("heading", "")),
                              chunk_id=doc.id or "", quote=_best_sentence(sentence, doc), passage=doc.page_content,
                              page=doc.metadata.get("page"))
    return list(out.values())


def rag_chain(retriever: BaseRetriever, llm: BaseChatModel, *, generative: bool | None = None,
              vocabulary: Vocabulary | None = None) -> Runnable:
    """The RAG chain over ``retriever`` answering with ``llm`` (see the module docstring).

    Input: a question string, or ``{"question": str, "history": [messages]}``. Sync and async alike
    (``invoke``/``stream``/``batch`` and ``ainvoke``/``astream``/``astream_events``).
    """
    if generative is None:
        generative = not isinstance(llm, ExtractiveChatModel)
    store = getattr(retriever, "store", None)
    if vocabulary is None and getattr(store, "lexical", None) is not None:
        vocabulary = Vocabulary(store.lexical)  # the knowledge base's names, for follow-ups
    rewriter = None
    if generative:
        rewriter = {lang: condense_prompt(lang) | llm | StrOutputParser() for lang in ("zh", "en")}

    def begin(value: Any) -> tuple[dict[str, Any], bool]:
        """The state before the standalone query, and whether the LLM must rewrite the question."""
        inputs = question_input(value, runnable="rag_chain")
        question, history = inputs["question"], list(inputs.get("history") or [])
        state = {**inputs, "history": history, "lang": lang_of(question), "query": question,
                 "t0": time.perf_counter()}
        if history and rewriter is None:
            state["query"] = expand_query(question, history, vocabulary)
        return state, bool(history and rewriter is not None)

    def rewritten(state: dict[str, Any], query: str | None) -> dict[str, Any]:
        return {**state, "query": (query or "").strip() or state["query"],
                "timings": {"rewrite_ms": _ms(state["t0"])}}

    def standalone(value: Any, config: RunnableConfig) -> dict[str, Any]:
        state, rewrite = begin(value)
        query = rewriter[state["lang"]].invoke({"question": state["question"], "history": state["history"]},
                                               config) if rewrite else None
        return rewritten(state, query)

    async def astandalone(value: Any, config: RunnableConfig) -> dict[str, Any]:
        state, rewrite = begin(value)
        query = await rewriter[state["lang"]].ainvoke({"question": state["question"], "history": state["history"]},
                                                      config) if rewrite else None
        return rewritten(state, query)

    def retrieved(state: dict[str, Any], docs: list[Document], start: float) -> dict[str, Any]:
        return {**state, "docs": docs, "timings": {**state["timings"], "retrieve_ms": _ms(start)}}

    def retrieve(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        start = time.perf_counter()
        return retrieved(state, retriever.invoke(state["query"], config), start)

    async def aretrieve(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        start = time.perf_counter()
        return retrieved(state, await retriever.ainvoke(state["query"], config), start)

    def prompt(state: dict[str, Any]) -> list[BaseMessage] | None:
        """The answer prompt, or None when the chain abstains without asking the LLM."""
        docs = state["docs"]
        texts = [d.page_content + " " + str(d.metadata.get("heading", "")) for d in docs]
        if not docs or missing(state["query"], texts, vocabulary.names() if vocabulary is not None else ()):
            return None
        # the extractive model reads the question from the prompt: give it the standalone one
        question = state["question"] if generative else state["query"]
        return answer_prompt(state["lang"]).invoke({
            "passages": format_passages(docs), "question": question, "history": state["history"],
        }).to_messages()

    fallback = ExtractiveChatModel(embeddings=getattr(store, "embeddings", None), vocabulary=vocabulary) \
        if generative else None

    def answer(states: Iterator[dict[str, Any]], config: RunnableConfig) -> Iterator[AddableDict]:
        for state in states:
            run = _Answering(state, prompt(state), generative=generative, fallback=fallback)
            messages = run.messages
            for _ in range(2):
                try:
                    for chunk in llm.stream(messages, config) if messages is not None else ():
                        yield from run.take(_piece(chunk))
                    break
                except _AskAgain as again:  # the model answered in the other language: once more, told which
                    messages = again.messages
            yield from run.close()

    async def aanswer(states: AsyncIterator[dict[str, Any]], config: RunnableConfig) -> AsyncIterator[AddableDict]:
        async for state in states:
            run = _Answering(state, prompt(state), generative=generative, fallback=fallback)
            messages = run.messages
            for _ in range(2):
                try:
                    if messages is not None:
                        async for chunk in llm.astream(messages, config):
                            for out in run.take(_piece(chunk)):
                                yield out
                    break
                except _AskAgain as again:
                    messages = again.messages
            for out in await asyncio.to_thread(run.close):
                yield out

    return (RunnableLambda(standalone, afunc=astandalone, name="standalone_query")
            | RunnableLambda(retrieve, afunc=aretrieve, name="retrieve")
            | RunnableGenerator(answer, aanswer, name="answer_with_citations"))


def chat_chain(llm: BaseChatModel) -> Runnable:
    """Plain conversation with the LLM (no retrieval), in the same shape as :func:`rag_chain`'s output.

    The extractive model cannot converse: it gets a message saying which setting enables a generative model.
    """
    extractive = isinstance(llm, ExtractiveChatModel)

    def begin(value: Any) -> tuple[dict[str, Any], list[BaseMessage] | None]:
        inputs = question_input(value, runnable="chat_chain")
        lang = lang_of(inputs["question"])
        if extractive:
            return {**inputs, "lang": lang}, None
        return {**inputs, "lang": lang}, chat_prompt(lang).invoke({
            "question": inputs["question"], "history": list(inputs.get("history") or [])}).to_messages()

    def end(inputs: dict[str, Any], first_token: float | None, start: float) -> AddableDict:
        return AddableDict(question=inputs["question"], abstained=False, docs=[], citations=[], rewritten_query=None,
                           extractive=extractive,
                           timings={"first_token_ms": first_token or _ms(start), "total_ms": _ms(start)})

    def talk(values: Iterator[Any], config: RunnableConfig) -> Iterator[AddableDict]:
        for value in values:
            start, first_token = time.perf_counter(), None
            inputs, messages = begin(value)
            if messages is None:
                yield AddableDict(answer=NEEDS_GENERATIVE[inputs["lang"]])
            for chunk in llm.stream(messages, config) if messages is not None else ():
                if piece := _piece(chunk):
                    first_token = first_token if first_token is not None else _ms(start)
                    yield AddableDict(answer=piece)
            yield end(inputs, first_token, start)

    async def atalk(values: AsyncIterator[Any], config: RunnableConfig) -> AsyncIterator[AddableDict]:
        async for value in values:
            start, first_token = time.perf_counter(), None
            inputs, messages = begin(value)
            if messages is None:
                yield AddableDict(answer=NEEDS_GENERATIVE[inputs["lang"]])
            else:
                async for chunk in llm.astream(messages, config):
                    if piece := _piece(chunk):
                        first_token = first_token if first_token is not None else _ms(start)
                        yield AddableDict(answer=piece)
            yield end(inputs, first_token, start)

    return RunnableGenerator(talk, atalk, name="plain_chat")


class Conversation(Runnable[Any, dict[str, Any]]):
    """A chain with memory: a LangChain Runnable whose history lives per session id in SQLite.

    Input: ``{"question": str, "session_id": str}`` (the session's recent history is loaded and the turn is
    stored afterwards, so the question is sent exactly once); the session id may instead come the LangChain way,
    ``config={"configurable": {"session_id": ...}}``. ``{"question": str, "history": [messages]}`` answers
    with the given history and stores nothing (a stateless client); a plain string is a one-off question.
    An optional ``"note"`` dict is stored with the remembered answer (the agent's notice when it hands a
    question over). ``max_turns`` and ``max_chars`` bound the history sent to the model. Output: the chain's dict.

    >>> import sqlite3
    >>> from ragkit.memory import Conversations
    >>> from ragkit.providers.fake import ScriptedChatModel
    >>> talk = Conversation(chat_chain(ScriptedChatModel(responses=["你好！"])), Conversations(sqlite3.connect(":memory:")))
    >>> talk.invoke({"question": "你好", "session_id": "s1"})["answer"], len(talk.conversations.history("s1").messages)
    ('你好！', 2)
    """

    name = "conversation"

    def __init__(self, chain: Runnable, conversations: Conversations, *, kb: str = "", max_turns: int = 4,
                 max_chars: int = 2000) -> None:
        self.chain, self.conversations, self.kb = chain, conversations, kb
        self.max_turns, self.max_chars = max_turns, max_chars

    @property
    def InputType(self) -> type:  # noqa: N802 - LangChain's name
        return dict

    @property
    def OutputType(self) -> type:  # noqa: N802 - LangChain's name
        return dict

    def _prepare(self, value: Any, config: RunnableConfig | None) -> tuple[dict[str, Any], str | None]:
        """The chain's input (with history) and the session to store the turn in (None: store nothing)."""
        inputs = dict(question_input(value, runnable="Conversation"))
        inputs.pop("note", None)
        session = inputs.pop("session_id", None) or (config or {}).get("configurable", {}).get("session_id")
        if session is not None and not isinstance(session, str):
            raise TypeError(f"Conversation: session_id must be a string, got {type(session).__name__}")
        if "history" not in inputs or inputs["history"] is None:
            messages = self.conversations.history(session, kb=self.kb).messages if session else []
            inputs["history"] = recent(messages, max_turns=self.max_turns, max_chars=self.max_chars)
        return inputs, session

    def _remember(self, session: str | None, value: Any, result: AddableDict) -> None:
        if not session or "answer" not in result:
            return
        inputs = question_input(value, runnable="Conversation")
        question, note = inputs["question"], dict(inputs.get("note") or {})
        self.conversations.history(session, kb=self.kb).add_messages([HumanMessage(question), AIMessage(
            result["answer"], additional_kwargs={
                "citations": [asdict(c) for c in result.get("citations") or []],
                "rewritten_query": result.get("rewritten_query"), "abstained": result.get("abstained", False),
                "extractive": result.get("extractive", False), **note,
            })])

    def _run(self, values: Iterator[Any], config: RunnableConfig) -> Iterator[AddableDict]:
        for value in values:
            inputs, session = self._prepare(value, config)
            result = AddableDict()
            for chunk in self.chain.stream(inputs, config):
                result = result + chunk
                yield chunk
            self._remember(session, value, result)

    async def _arun(self, values: AsyncIterator[Any], config: RunnableConfig) -> AsyncIterator[AddableDict]:
        async for value in values:
            inputs, session = await asyncio.to_thread(self._prepare, value, config)
            result = AddableDict()
            async for chunk in self.chain.astream(inputs, config):
                result = result + chunk
                yield chunk
            await asyncio.to_thread(self._remember, session, value, result)

    def stream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[AddableDict]:
        """Answer pieces (``{"answer": ...}``), then the other fields once; the turn is stored at the end."""
        return self._transform_stream_with_config(iter([input]), self._run, config, **kwargs)

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> AddableDict:
        result = AddableDict()
        for chunk in self.stream(input, config, **kwargs):
            result = result + chunk
        return result

    async def astream(self, input: Any, config: RunnableConfig | None = None,
                      **kwargs: Any) -> AsyncIterator[AddableDict]:
        async def one() -> AsyncIterator[Any]:
            yield input

        async for chunk in self._atransform_stream_with_config(one(), self._arun, config, **kwargs):
            yield chunk

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> AddableDict:
        result = AddableDict()
        async for chunk in self.astream(input, config, **kwargs):
            result = result + chunk
        return result
