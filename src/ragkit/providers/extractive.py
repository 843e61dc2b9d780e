"""``extractive``: the offline default "LLM": it answers only by quoting the passages in its prompt.

A real LangChain chat model. It reads the passages and the question of a ragkit answer prompt (see
:mod:`ragkit.prompts`), splits the passages into sentences and scores each one against the question:

* the IDF-weighted share of the question's words (jieba tokens) found in the sentence or its passage heading;
* a bonus when the sentence holds the kind of answer the question asks for (a number for 多少/how many, a
  date for 什么时候/when, a name for 谁/who, a list for 哪些/which);
* for a question in another script than the passages (English over Chinese), the cosine similarity of
  multilingual sentence embeddings, when the model was given embeddings; and an English word counts as
  found when its Chinese equivalent from ``ragkit/data/glossary.txt`` is there (author: 作者).

It returns the best sentence (trimmed to its best clauses when long) with its citation marker, e.g.
``ChatGLM 能够在 7G 显存的条件下进行微调。[1]``, and abstains ("在资料中没有找到相关内容。") when no sentence
covers the question well enough, or when a name or version in the question (``GPT-5``, ``Claude 3.5``)
appears in no passage. Deterministic; a few milliseconds per answer without embeddings.

>>> from langchain_core.documents import Document
>>> from ragkit.prompts import answer_prompt, format_passages
>>> docs = [Document("GLM 系列由清华大学研发。ChatGLM 能够在 7G 显存的条件下进行微调。", metadata={"source": "a.md"})]
>>> prompt = answer_prompt("zh").invoke({"passages": format_passages(docs), "question": "ChatGLM 微调需要多大显存？",
...                                      "history": []})
>>> ExtractiveChatModel().invoke(prompt).content
'ChatGLM 能够在 7G 显存的条件下进行微调。[1]'
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, ClassVar

import numpy as np
from langchain_core.embeddings import Embeddings
from langchain_core.messages import BaseMessage, HumanMessage
from pydantic import ConfigDict, Field

from ragkit.prompts import NOT_FOUND, lang_of, parse_passages, parse_question
from ragkit.providers import ProviderOptions
from ragkit.providers.textchat import TextChatModel, message_text
from ragkit.splitting import strip_markup
from ragkit.tokenize import Tokenizer

_SENTENCE = re.compile(r"[^。！？；!?\n]+(?:[。！？；!?]+[”’」』）)]*|\n|$)")
_LINE_START = re.compile(r"^\s*(?:[-*+]\s+|\d+[.)、]\s*|\|)")
_CLAUSE = re.compile(r"[^，,：:（(]+[，,：:]?|[（(][^）)]*[）)][，,]?")
_ENTITY = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-.]?\d[\w.]*)(?:-[A-Za-z0-9]+)*|[A-Za-z]+\s\d+(?:\.\d+)?[A-Za-z]?\b")
_WHICH = re.compile(r"哪个|哪家|哪款|哪一个|哪种|是哪|什么项目|什么模型|\bwhich\b|\bwhat (?:model|project|company)\b", re.I)
_NUMBER = re.compile(r"\d")
_DATE = re.compile(r"\d{4}\s*年|\d{1,2}\s*月|(?:19|20)\d{2}")
_PERSON = re.compile(r"[A-Z][a-z]+ [A-Z][a-z]+|[\u4e00-\u9fff]{2,4}(?=(?:官宣|创办|创立|提出|发布|开发))")
_LIST = re.compile(r"、|和|以及|及|,|，")

_KINDS: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    (re.compile(r"多少钱|价格|定价|费用|收费|price|cost", re.I), re.compile(r"\d\s*(?:元|美元|块)|[$￥¥]\s*\d")),
    (re.compile(r"比例|比率|ratio", re.I), re.compile(r"\d\s*[:：比]\s*\d|\d+\s*倍")),
    (re.compile(r"哪家公司|什么公司|which company", re.I), re.compile(r"公司|[A-Z][a-z]+(?:\s[A-Z][a-z]+)*\s(?:Inc|AI)\b")),
    (re.compile(r"多少|几|多大|多长|多高|多久|规模|参数量|how many|how much|how long|how large|size", re.I), _NUMBER),
    (re.compile(r"什么时候|何时|哪一年|哪年|哪天|哪一天|日期|when|what year|date", re.I), _DATE),
    (re.compile(r"谁|作者|创始人|创办|创立|who\b", re.I), _PERSON),
    (re.compile(r"哪些|哪几|哪三|哪两|哪四|包括|组成|which|what are", re.I), _LIST),
)


@dataclass(frozen=True)
class Sentence:
    passage: int
    position: int
    text: str
    heading: str


def _clean(text: str) -> str:
    return re.sub(r"^\s*(?:#+\s*|[-*+]\s+)", "", strip_markup(text)).strip()


def sentences_of(number: int, heading: str, body: str) -> list[Sentence]:
    """Sentences of one passage: wrapped lines are joined, list items, table rows and headings stand alone."""
    lines: list[str] = []
    for line in body.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or re.match(r"^\|?\s*:?-{3,}", stripped):
            lines.append("")  # headings and table rules end a sentence and give none
        elif lines and lines[-1] and not _LINE_START.match(line) and not lines[-1].startswith("|"):
            lines[-1] += stripped  # a wrapped line continues the sentence before it
        else:
            lines.append(stripped)
    out: list[Sentence] = []
    for line in filter(None, lines):
        parts = [line] if line.startswith("|") else [m.group().strip() for m in _SENTENCE.finditer(line)]
        for part in parts:
            text = _clean(part)
            if len(text) >= 4:
                out.append(Sentence(number, len(out), text, heading))
    return out


def entities(question: str) -> list[str]:
    """Names and versions a passage must contain to answer the question: ``GPT-5``, ``Claude 3.5``.

    >>> entities("Claude 3.5 Sonnet 的上下文长度是多少？"), entities("GPT-4 Turbo 的上下文？")
    (['claude3.5'], ['gpt-4'])
    """
    return [re.sub(r"\s+", "", m.group()).lower() for m in _ENTITY.finditer(question)]


class ExtractiveChatModel(TextChatModel):
    """Answers by quoting the best sentence of the passages in its prompt, or abstains (see the module)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model: str = "extractive"
    min_score: float = Field(0.45, ge=0, le=2, description="Below this the model abstains.")
    max_chars: int = Field(160, ge=20, description="Longer sentences are cut to their best clauses.")
    embeddings: Embeddings | None = Field(None, exclude=True, description="Sentence similarity (multilingual).")
    semantic_weight: float = Field(0.5, ge=0, description="Weight of embedding similarity (same script).")
    kind_bonus: float = Field(0.15, ge=0, description="Bonus of a sentence holding the kind of answer asked for.")
    long_penalty: float = Field(0.2, ge=0, description="Penalty per max_chars a candidate is longer than that.")
    shortlist: int = Field(12, ge=1, description="Best lexical candidates compared by embeddings.")
    tokenizer: Tokenizer = Field(default_factory=Tokenizer, exclude=True, description="Words of questions and sentences.")

    tool_calling: ClassVar[bool] = False

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        """The extractive model cannot call tools: say which settings give a model that can."""
        raise NotImplementedError(
            "the extractive model only quotes passages and cannot call tools; for an agent configure a "
            "tool-calling LLM, e.g. RAGKIT_LLM=openai:gpt-4o-mini (with OPENAI_API_KEY), openai:deepseek-chat, "
            "dashscope:qwen-plus or ollama:qwen2.5")

    def reply(self, messages: list[BaseMessage]) -> tuple[str, dict[str, Any]]:
        prompt = next((message_text(m) for m in reversed(messages) if isinstance(m, HumanMessage)), "")
        question = parse_question(prompt) or prompt
        lang = lang_of(question)
        passages = parse_passages(prompt)
        meta = {"extractive": True}
        corpus = [s for n, (heading, body) in passages.items() for s in sentences_of(n, heading, body)]
        texts = [(heading + body).lower().replace(" ", "") for heading, body in passages.values()]
        if not corpus or any(all(e not in t for t in texts) for e in entities(question)):
            return NOT_FOUND[lang], {**meta, "abstained": True}
        units = _units(corpus, self.max_chars)
        scores = self._scores(question, units)
        best = int(np.argmax(scores))
        if scores[best] < self.min_score:
            return NOT_FOUND[lang], {**meta, "abstained": True, "score": round(float(scores[best]), 3)}
        unit = _continue_list(units[best], corpus, self.max_chars)
        text = self._trim(question, "".join(s.text for s in unit))
        title = _title(unit[0].heading)
        if _WHICH.search(question) and title and title.lower() not in text.lower():  # "which model?": its name
            text = f"{title}：{text}"
        return f"{text}[{unit[0].passage}]", {**meta, "abstained": False, "score": round(float(scores[best]), 3)}

    def _scores(self, question: str, units: list[tuple[Sentence, ...]]) -> np.ndarray:
        """Lexical coverage + answer-kind bonus for every unit; semantic similarity for the best of them."""
        tokenize = self.tokenizer
        terms = set(tokenize(question))
        cross = _cross_script(question, units)
        translations = {t: glossary().get(t, ()) for t in terms} if cross else {}
        cache: dict[str, frozenset[str]] = {}

        def bag(text: str) -> frozenset[str]:
            if text not in cache:
                cache[text] = frozenset(tokenize(text))
            return cache[text]

        def found(bags: list[set[str]]) -> list[set[str]]:
            """The question's terms each unit holds, itself or (across scripts) translated."""
            out = []
            for unit, words in zip(units, bags, strict=True):
                text = "".join(s.text for s in unit) + unit[0].heading
                out.append({t for t in terms if t in words or any(z in text for z in translations.get(t, ()))})
            return out

        hits = found([set().union(*(bag(s.text) for s in unit)) | bag(unit[0].heading) for unit in units])
        df = {t: sum(1 for hit in hits if t in hit) for t in terms}
        idf = {t: math.log(1 + len(units) / (1 + df[t])) for t in terms}
        total = sum(idf.values()) or 1.0
        coverage = np.array([sum(idf[t] for t in hit) / total for hit in hits])
        kinds = [answer for asked, answer in _KINDS if asked.search(question)]
        bonus = np.array([self.kind_bonus * sum(any(k.search(s.text) for s in unit) for k in kinds) for unit in units])
        lengths = np.array([sum(len(s.text) for s in unit) for unit in units])
        shape = np.array([0.02 / (1 + unit[0].passage) - 0.05 * (len(unit) - 1) for unit in units])
        shape -= self.long_penalty * np.maximum(0, lengths / self.max_chars - 1)  # long rows cover many words
        scores = coverage + bonus + shape
        if self.embeddings is None:
            return scores
        shortlist = np.argsort(-scores)[: (len(units) if cross else self.shortlist)]
        vectors = np.asarray(self.embeddings.embed_documents(
            [question] + ["".join(s.text for s in units[i]) for i in shortlist]))
        sims = vectors[1:] @ vectors[0] / (np.linalg.norm(vectors[1:], axis=1) * np.linalg.norm(vectors[0]) + 1e-9)
        scores[shortlist] += (1.0 if cross else self.semantic_weight) * sims
        return scores

    def _trim(self, question: str, text: str) -> str:
        """A long sentence is cut to the window of clauses around its best clause."""
        if len(text) <= self.max_chars:
            return text
        clauses = [m.group() for m in _CLAUSE.finditer(text) if m.group().strip()]
        if len(clauses) < 2:
            return text[: self.max_chars]
        tokenize = self.tokenizer
        terms = set(tokenize(question))
        kinds = [answer for asked, answer in _KINDS if asked.search(question)]
        value = [len(terms & set(tokenize(c))) + sum(bool(k.search(c)) for k in kinds) for c in clauses]
        lo = hi = int(np.argmax(value))
        while True:
            grow = [i for i in (lo - 1, hi + 1) if 0 <= i < len(clauses)]
            grow = [i for i in grow if sum(len(c) for c in clauses[min(lo, i) : max(hi, i) + 1]) <= self.max_chars]
            if not grow:
                break
            pick = max(grow, key=lambda i: (value[i], -abs(i - lo)))
            lo, hi = min(lo, pick), max(hi, pick)
        window = "".join(clauses[lo : hi + 1]).strip().rstrip("，,：:")
        return window if window.endswith(("。", "！", "？", ".", "!", "?")) else window + "……"


@lru_cache(maxsize=1)
def glossary() -> dict[str, tuple[str, ...]]:
    """English question word -> the Chinese words for it (``ragkit/data/glossary.txt``).

    >>> glossary()["author"]
    ('作者',)
    """
    text = resources.files("ragkit").joinpath("data/glossary.txt").read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return {row[0].strip().lower(): tuple(w.strip() for w in row[1:] if w.strip()) for row in rows}


def _cross_script(question: str, units: list[tuple[Sentence, ...]]) -> bool:
    sample = " ".join(unit[0].text for unit in units[:20])
    return lang_of(question) != lang_of(sample)


def _units(corpus: list[Sentence], max_chars: int) -> list[tuple[Sentence, ...]]:
    """Candidate answers: every sentence, and every two adjacent sentences of a passage that fit."""
    units: list[tuple[Sentence, ...]] = [(s,) for s in corpus]
    for a, b in zip(corpus, corpus[1:], strict=False):
        if a.passage == b.passage and len(a.text) + len(b.text) <= max_chars:
            units.append((a, b))
    return units


def _continue_list(unit: tuple[Sentence, ...], corpus: list[Sentence], max_chars: int) -> tuple[Sentence, ...]:
    """A unit that ends by announcing a list ("由以下 6 个模块组成：") takes the items that follow."""
    if not unit[-1].text.rstrip().endswith(("：", ":")):
        return unit
    out = list(unit)
    following = [s for s in corpus if s.passage == unit[-1].passage and s.position > unit[-1].position]
    for sentence in following:
        if sum(len(s.text) for s in out) + len(sentence.text) > 2 * max_chars:
            break
        out.append(sentence)
    return tuple(out)


def _title(heading: str) -> str:
    """The last part of a heading path without its numbering: "四、ChatGPT开源平替 > 4.5、GPTrillion" -> "GPTrillion"."""
    last = heading.split(" > ")[-1] if heading else ""
    return re.sub(r"^[\d.、\s]+|^[一二三四五六七八九十]+[、.]\s*", "", last).strip()


def chat_model(model: str, options: ProviderOptions, *, embeddings: Embeddings | None = None,
               temperature: float | None = None) -> ExtractiveChatModel:
    """The extractive model (``temperature`` does not apply: it is deterministic)."""
    return ExtractiveChatModel(embeddings=embeddings, tokenizer=Tokenizer(user_dict=options.user_dict))
