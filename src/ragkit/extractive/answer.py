"""The extractive answerer: pick the answer unit of the passages that holds what was asked, or abstain.

For every candidate (a sentence or two, a list item, a table row, a code line; see :mod:`.units`):

* **coverage**: the share of the question's words found in the candidate, its section heading and (for a table
  row) the table's header, weighted by how rare each word is in the knowledge base (a word the knowledge base
  never uses weighs most: a question about something it does not know is not covered by generic words). An
  English word over Chinese text counts as found through its Chinese equivalents (CC-CEDICT, see
  :mod:`ragkit.bilingual`).
* **scope**: the names the question is about (and its version numbers) must be in the candidate, its heading,
  its table row or the paragraph before it; a candidate about something else is not an answer.
* **shape**: when the question asks for a kind of answer with a shape (a number, a date, a price, a score, a
  command, a path, a port, a package...), the candidate must hold one, not counting the question's own names.
* **meaning**: multilingual embedding similarity to the question, for the best candidates.

The best candidate that passes scope and shape is the answer when its score clears ``min_score``; otherwise the
answerer abstains. A table row is answered as a sentence naming the row and the column asked for.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from langchain_core.embeddings import Embeddings

from ragkit.extractive.question import (ENGLISH_COMMON, KINDS, Query, analyze, category, entity_key, holds_kind,
                                        name_pattern, surface)
from ragkit.bilingual import forms as english_forms
from ragkit.extractive.units import Unit, units_of, windows
from ragkit.prompts import lang_of
from ragkit.terms import heading_title, latin_name

_CLAUSE = re.compile(r"[^，,：:（(]+[，,：:]?|[（(][^）)]*[）)][，,]?")
_ENGLISH_WORD = re.compile(r"[a-z][a-z-]*[a-z]")
_CJK = re.compile(r"[\u3400-\u9fff]")
_END = ("。", "！", "？", ".", "!", "?", "；", ";")
QUOTED_IN = {("en", "zh"): "The documents say (in Chinese): ", ("zh", "en"): "资料原文（英文）："}


@dataclass(frozen=True)
class Knowledge:
    """What the answerer may know of the knowledge base beyond the passages (all optional)."""

    frequencies: Callable[[Sequence[str]], dict[str, int]] | None = None
    size: int = 0
    names: tuple[str, ...] = ()
    chinese_for: Callable[[str], list[str]] | None = None


@dataclass(frozen=True)
class Candidate:
    units: tuple[Unit, ...]

    @property
    def first(self) -> Unit:
        return self.units[0]

    @property
    def text(self) -> str:
        return "".join(u.text for u in self.units)

    @property
    def shape_text(self) -> str:
        """What is checked for the kind of answer: the text; a row's cells each read against their header, and
        each alone (a cell may be a whole command line)."""
        unit = self.first
        if unit.kind == "row" and unit.header:
            pairs = [f"{h}：{c}" for h, c in zip(unit.header, unit.cells, strict=True) if c]
            return "\n".join(pairs + [c for c in unit.cells if c])
        return self.text

    @property
    def scope(self) -> str:
        """Where the names it is about may stand: itself, its heading, its block before it, its table header."""
        unit = self.first
        return " ".join([self.text, unit.heading, unit.context, " ".join(unit.header)])


@dataclass(frozen=True)
class Answer:
    text: str  # without the citation marker
    passage: int
    score: float
    kind: str


class Answerer:
    """Deterministic extractive answers (see the module docstring)."""

    def __init__(self, tokenize: Callable[[str], list[str]], *, embeddings: Embeddings | None = None,
                 knowledge: Knowledge | None = None, min_score: float = 0.45, min_said: float = 0.5,
                 min_said_across: float = 0.4, max_chars: int = 160, semantic_weight: float = 0.5,
                 shortlist: int = 12) -> None:
        self.tokenize, self.embeddings, self.knowledge = tokenize, embeddings, knowledge or Knowledge()
        self.min_score, self.min_said, self.min_said_across = min_score, min_said, min_said_across
        self.max_chars = max_chars
        self.trace: list[str] | None = None  # a list collects why candidates were passed over (debugging)
        self.cache: dict[str, list[float]] | None = None  # text -> embedding, shared across answers
        self.semantic_weight, self.shortlist = semantic_weight, shortlist

    # -- the question's words and how much each weighs
    def _terms(self, query: Query, cross: bool) -> dict[str, tuple[str, ...]]:
        """Question word -> the strings that count as finding it (itself, or its Chinese words)."""
        terms: dict[str, tuple[str, ...]] = {}
        tokens = self.tokenize(query.text)
        compounds = [t for t in tokens if re.search(r"[-_.+/]", t)]
        for token in tokens:
            if any(token != c and token in re.split(r"[-_.+/]", c) for c in compounds):
                continue  # "fine" and "tuning" are counted as "fine-tuning"
            english = _ENGLISH_WORD.fullmatch(token) is not None
            forms = tuple(f for f in dict.fromkeys(english_forms(token)) if len(f) >= 4) if english else ()
            if cross and english:
                chinese = self.knowledge.chinese_for(token) if self.knowledge.chinese_for else _chinese(token)
                terms[token] = (token, *forms, *chinese)
            elif cross and _CJK.search(token):  # a Chinese question over English text
                terms[token] = (token, *_english(token))
            else:
                terms[token] = (token, *forms)
        return terms

    def _weights(self, terms: dict[str, tuple[str, ...]], candidates: list[Candidate]) -> dict[str, float]:
        """IDF of each question word in the knowledge base (in the passages when the answerer has no knowledge
        base); a word found through translations weighs like its most common translation. A word the knowledge
        base never uses weighs half an average word: it may be the question's own phrasing ("表里", "列出"), or
        what is asked about that the knowledge base does not know ("颜色")."""
        if self.knowledge.frequencies is not None and self.knowledge.size:
            n = self.knowledge.size
            surfaces = [s for forms in terms.values() for s in forms]
            df = self.knowledge.frequencies([t for s in surfaces for t in self.tokenize(s)])
            weights = {}
            for term, forms in terms.items():
                counts = [min((df.get(t, 0) for t in self.tokenize(f)), default=0) for f in forms]
                weights[term] = math.log(1 + n / (1 + max(counts))) if max(counts) else -1.0
            known = [w for w in weights.values() if w >= 0]
            unknown = 0.5 * (sum(known) / len(known)) if known else 1.0
            return {t: (unknown if w < 0 else w) for t, w in weights.items()}
        texts = [c.text + c.first.heading for c in candidates]
        return {term: math.log(1 + len(texts) / (1 + sum(any(f in t.lower() for f in forms) for t in texts)))
                for term, forms in terms.items()}

    @staticmethod
    def _proper_nouns(query: Query) -> list[str]:
        if query.lang != "zh":
            return []
        from ragkit.extractive.pos import proper_nouns

        return [entity_key(w) for w in proper_nouns(query.text)]

    @staticmethod
    def _unknown_names(query: Query, passages: Sequence[str]) -> list[str]:
        """Chinese proper nouns of the question (jieba's part of speech: person, place, organisation, other
        name) that no passage mentions: a question about something the passages do not know."""
        if query.lang != "zh":
            return []
        from ragkit.extractive.pos import proper_nouns

        return [w for w in proper_nouns(query.text) if not any(w in p for p in passages)]

    # -- the answer
    def answer(self, question: str, passages: dict[int, tuple[str, str]]) -> tuple[Answer | None, dict[str, float]]:
        """The answer to ``question`` from ``passages`` ({n: (heading, body)}), or None to abstain."""
        query = analyze(question, self.knowledge.names)
        units = [u for n, (heading, body) in passages.items() for u in units_of(n, heading, body)]
        whole = {n: f"{heading} {body}" for n, (heading, body) in passages.items()}
        absent = [e for e in query.entities + query.versions if not any(_mentions(t, e) for t in whole.values())]
        if not units or absent:
            return None, {"missing": len(absent)}
        known_names = [w for w in query.names if any(_mentions(t, w) for t in whole.values())]
        cross = lang_of(question) != lang_of(" ".join(u.text for u in units[:30]))
        terms = self._terms(query, cross)
        candidates = [Candidate(c) for c in windows(units, self.max_chars)]
        weights = self._weights(terms, candidates)
        if not cross and (unknown := self._unknown_names(query, list(whole.values()))):
            return None, {"unknown_names": len(unknown)}
        total = sum(weights.values()) or 1.0
        # what is asked about the names: the question's other words ("上下文窗口" in "Qwen-14B 的上下文窗口有多长？")
        name_tokens = {t for key in query.entities + query.names + query.versions
                       for t in self.tokenize(surface(query.text, key))}
        asked_for = category(query.text)  # the kind of thing asked for is the answer's, not the passage's words
        attributes = [t for t in terms if t not in name_tokens and t != asked_for and len(t) > 1]
        attribute_total = sum(weights[t] for t in attributes)
        if cross and query.lang == "en":  # the Latin words Chinese passages keep as they are: program names
            known_names = _untranslated_names(query, whole)
        focus = self._focus(query, query.entities or known_names or self._proper_nouns(query), whole)
        shaped = query.shaped()
        asked_forms = (asked_for, *(terms.get(asked_for, ()) if asked_for else ())) if asked_for else ()
        column = set() if cross else {w for w in self.tokenize(_asked_attribute(query.text)) if len(w) > 1}
        lexical = np.full(len(candidates), -np.inf)
        attribute = np.zeros(len(candidates))
        for i, candidate in enumerate(candidates):
            if any(not _mentions(candidate.scope, e) for e in focus + query.versions):
                self._note(candidate, "not about the focus name")
                continue  # about something else
            if _announces_block(candidate, units):
                self._note(candidate, "a caption")
                continue  # "主流模型 API 对比如下：" announces the table; it answers nothing itself
            if shaped and not any(holds_kind(k, candidate.shape_text, query) for k in shaped):
                self._note(candidate, "no answer of the asked kind")
                continue  # about the right thing, but without the kind of answer asked for
            if column and candidate.first.kind == "row" and candidate.first.header and not _has_column(
                    column, self.tokenize(" ".join(candidate.first.header) + " " + candidate.first.context)):
                self._note(candidate, "no column for what was asked")
                continue  # "软件包的维护者是谁？" and the table has no 维护者 column
            if query.versions and not _versions_own_answer(candidate.text, query, shaped):
                self._note(candidate, "the value belongs to another version")
                continue  # "于 2019 年发布 1.0 版，现已更新到 4.0 版本": the date is not 4.0's
            if shaped and len(candidate.units) > 1 and attributes and not any(
                    any(holds_kind(k, u.text, query) for k in shaped)
                    and any(f in u.text.lower() for t in attributes for f in terms[t]) for u in candidate.units):
                self._note(candidate, "the value and what was asked stand in different sentences")
                continue
            found = (candidate.text + " " + candidate.first.heading + " " + " ".join(candidate.first.header)
                     + (" " + candidate.first.context if candidate.first.kind in ("row", "code") else "")).lower()
            scope = candidate.scope.lower()  # the names it is about may stand in the paragraph before it
            hits = {t for t, forms in terms.items()
                    if any(f in (scope if t in name_tokens else found) for f in forms)}
            # a list item reads the sentence introducing the list, at half weight: what the item itself says
            # tells the items apart
            introduced = ({t for t in attributes if t not in hits and any(f in candidate.first.context.lower()
                                                                          for f in terms[t])}
                          if candidate.first.kind == "item" else set())
            matched = sum(weights[t] for t in attributes if t in hits) + 0.5 * sum(weights[t] for t in introduced)
            attribute[i] = matched / attribute_total if attribute_total else 1.0
            lexical[i] = ((sum(weights[t] for t in hits) + 0.5 * sum(weights[t] for t in introduced)) / total
                          + 0.15 * sum(holds_kind(k, candidate.shape_text, query) for k in query.kinds - {"definition"})
                          + 0.15 * bool(query.kinds & {"name", "organization", "person"} and _new_name(candidate, query))
                          + 0.15 * bool(asked_forms and any(f in candidate.text.lower() for f in asked_forms)
                                        and _new_name(candidate, query))
                          + 0.1 * _adjacent_pairs(attributes, terms, candidate.text.lower())
                          + 0.02 / (1 + candidate.first.passage) - 0.05 * (len(candidate.units) - 1)
                          - 0.2 * max(0.0, len(candidate.text) / self.max_chars - 1))
        if not np.isfinite(lexical).any():
            return None, {"candidates": 0}
        meaning = self._meaning(query.text, candidates, lexical, cross)
        # a candidate must say something of what was asked: the question's other words it holds and its
        # similarity in meaning, together (both are weaker across languages)
        if self.embeddings is not None:
            said = attribute + meaning >= (self.min_said_across if cross else self.min_said)
        else:  # words alone (fewer of them survive translation)
            said = attribute >= (self.min_said_across if cross else self.min_said) / 2 - 0.05
        scores = np.where(said, lexical + (1.0 if cross else self.semantic_weight) * np.maximum(meaning, 0), -np.inf)
        if self.trace is not None:
            for i in np.argsort(-np.where(np.isfinite(lexical), lexical, -9))[:8]:
                self._note(candidates[i], f"lexical {lexical[i]:.2f} attribute {attribute[i]:.2f} meaning "
                                          f"{meaning[i]:.2f} score {scores[i]:.2f}")
        best = int(np.argmax(scores))
        if not np.isfinite(scores[best]) or scores[best] < self.min_score:
            return None, {"score": round(float(scores[best]), 3) if np.isfinite(scores[best]) else 0.0}
        chosen = candidates[best]
        text = self._format(query, chosen, units, terms)
        return Answer(text, chosen.first.passage, float(scores[best]), chosen.first.kind), {
            "score": round(float(scores[best]), 3), "attribute": round(float(attribute[best]), 3),
            "meaning": round(float(meaning[best]), 3), "lexical": round(float(lexical[best]), 3), "cross": cross}

    def _focus(self, query: Query, names: list[str], whole: dict[int, str]) -> list[str]:
        """The name an answer must be about: the rarest of the question's names (in the knowledge base, else in
        the passages); "OpenAI 的 API 对比表里 GPT-3.5-turbo-instruct 的上下文" is about GPT-3.5-turbo-instruct. A
        name the question rules out ("GPT-Neo（不是 GPT-NeoX）") or the knowledge base's own subject is never the
        focus."""
        names = [n for n in names if n not in query.excluded]
        if not names:
            return names
        if self.knowledge.frequencies is not None and self.knowledge.size:
            tokens = {n: (self.tokenize(surface(query.text, n)) or [n])[0] for n in names}
            df = self.knowledge.frequencies(list(tokens.values()))
            rarity = {n: df.get(tokens[n], 0) for n in names}
            # a name in a quarter of all chunks is what the whole knowledge base is about ("Debian" in Debian's
            # manual), not something an answer must name
            names = [n for n in names if rarity[n] <= 0.25 * self.knowledge.size]
            if len(names) <= 1:
                return names
        elif len(names) <= 1:
            return names
        else:
            rarity = {n: sum(_mentions(t, n) for t in whole.values()) for n in names}
        return [min(names, key=lambda n: (rarity[n] or 10**9, names.index(n)))]

    def _embed(self, texts: list[str]) -> list[list[float]]:
        """Embeddings of ``texts``; the passages' units recur from question to question, so their vectors are
        kept in ``self.cache`` (bounded) when one is given."""
        cache = self.cache
        if cache is None:
            return self.embeddings.embed_documents(texts)
        todo = [t for t in dict.fromkeys(texts) if t not in cache]
        if todo:
            cache.update(zip(todo, self.embeddings.embed_documents(todo), strict=True))
            while len(cache) > 4096:
                cache.pop(next(iter(cache)))
        return [cache[t] for t in texts]

    def _note(self, candidate: Candidate, why: str) -> None:
        if self.trace is not None:
            self.trace.append(f"[{candidate.first.passage}] {why}: {candidate.text[:70]}")

    def _meaning(self, question: str, candidates: list[Candidate], lexical: np.ndarray, cross: bool) -> np.ndarray:
        """Embedding similarity of the best lexical candidates to the question (more of them across languages);
        0 for the others and without embeddings."""
        out = np.zeros(len(candidates))
        if self.embeddings is None:
            return out
        ranked = [i for i in np.argsort(-lexical) if np.isfinite(lexical[i])]
        shortlist = ranked[: (2 * self.shortlist if cross else self.shortlist)]
        vectors = np.asarray(self._embed([question] + [candidates[i].text + " " + heading_title(candidates[i].first.heading)
                                                       for i in shortlist]))
        sims = vectors[1:] @ vectors[0] / (np.linalg.norm(vectors[1:], axis=1) * np.linalg.norm(vectors[0]) + 1e-9)
        out[shortlist] = sims
        return out

    # -- what is said
    def _format(self, query: Query, chosen: Candidate, units: list[Unit], terms: dict[str, tuple[str, ...]]) -> str:
        unit = chosen.first
        if unit.kind == "row":
            text = _read_row(query, unit, terms, lambda cell: self._trim(query, cell, terms).rstrip("。."))
        elif unit.kind == "code":
            text = f"`{unit.text}`"
        else:
            text = self._trim(query, "".join(u.text for u in _continue_list(chosen.units, units, self.max_chars)),
                              terms)
            title = heading_title(unit.heading)
            if "name" in query.kinds and title and entity_key(title) not in entity_key(text):
                text = f"{title}：{text}"  # "which model?": its name is the section's title
        quoted = unit.kind in ("sentence", "item")  # code is code in any language
        prefix = QUOTED_IN.get((query.lang, "zh" if len(_CJK.findall(text)) >= 2 else "en"), "") if quoted else ""
        return prefix + text

    def _trim(self, query: Query, text: str, terms: dict[str, tuple[str, ...]]) -> str:
        """A long sentence is cut to the window of clauses around its best clause."""
        if len(text) <= self.max_chars:
            return text
        clauses = [m.group() for m in _CLAUSE.finditer(text) if m.group().strip()]
        if len(clauses) < 2:
            return text[: self.max_chars]
        value = [sum(any(f in c.lower() for f in forms) for forms in terms.values())
                 + sum(holds_kind(k, c, query) for k in query.shaped()) for c in clauses]
        lo = hi = int(np.argmax(value))
        while True:
            grow = [i for i in (lo - 1, hi + 1) if 0 <= i < len(clauses)]
            grow = [i for i in grow if sum(len(c) for c in clauses[min(lo, i) : max(hi, i) + 1]) <= self.max_chars]
            if not grow:
                break
            pick = max(grow, key=lambda i: (value[i], -abs(i - lo)))
            lo, hi = min(lo, pick), max(hi, pick)
        window = "".join(clauses[lo : hi + 1]).strip().rstrip("，,：:")
        return window if window.endswith(_END) else window + "……"


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_.][A-Za-z0-9]+)*|[“「『《\"]([^”」』》\"]{2,20})[”」』》\"]")


def _new_name(candidate: Candidate, query: Query) -> bool:
    """Whether the candidate names something the question does not (the answer to "which model?"): a Latin
    name that neither holds nor is held by one of the question's, or a quoted term."""
    asked = [entity_key(n) for n in query.entities + query.names] + [entity_key(w) for w in query.text.split()]
    for match in _NAME.finditer(candidate.text):
        word = match.group(1) or match.group()
        key = entity_key(word)
        if len(key) < 2 or any(key in a or (a in key and not re.search(r"[_.]", word)) for a in asked if len(a) >= 2):
            continue  # a file named after the question's program is still a new name: ssh_config for SSH
        if match.group(1) or latin_name(word) or (word[0].isupper() and len(word) >= 3):
            return True
    return False


_VERSION_MENTION = re.compile(r"(?<![\w.])[vV]?\d+(?:\.\d+)+(?![\w.])|(?<![\w.])[vV]\d+(?![\w.])")


_ASKED_ATTRIBUTE = re.compile(r"的([\u4e00-\u9fff]{2,8}?)(?:是谁|是什么|是多少|是哪|是几|有多|有哪|为多少|多少|几|在哪)")


def _asked_attribute(question: str) -> str:
    """What a Chinese question asks of the thing it names, the words between its last 的 and the question word:
    "grub-efi-amd64 软件包的维护者是谁？" -> "维护者" (a table row answers it only through such a column).

    >>> _asked_attribute("ext4 文件系统支持的单个文件最大有多大？"), _asked_attribute("imaps 使用哪个端口？")
    ('单个文件最大', '')
    """
    found = _ASKED_ATTRIBUTE.findall(question)
    return found[-1] if found else ""


def _has_column(asked: set[str], header: list[str]) -> bool:
    """Whether at least half the words of what was asked stand in a table's header or caption (a word inside
    another counts: 命令 in 命令集).

    >>> _has_column({"命令"}, ["新的", "iproute2", "命令集"]), _has_column({"单个", "文件", "最大"}, ["文件系统", "大小"])
    (True, False)
    """
    words = [h for h in header if len(h) > 1]
    found = sum(any(w in h or h in w for h in words) for w in asked)
    return 2 * found >= len(asked)


def _adjacent_pairs(words: list[str], terms: dict[str, tuple[str, ...]], text: str) -> float:
    """The share of the question's neighbouring word pairs that ``text`` writes together, in order, at most one
    character apart ("客户端的默认" in "SSH 客户端默认"): words that belong together, not scattered.

    >>> _adjacent_pairs(["客户端", "默认"], {"客户端": ("客户端",), "默认": ("默认",)}, "ssh 客户端默认")
    1.0
    """
    pairs = list(zip(words, words[1:], strict=False))
    if not pairs:
        return 0.0
    together = sum(any(re.search(re.escape(x) + r".?" + re.escape(y), text) for x in terms[a] for y in terms[b])
                   for a, b in pairs)
    return together / len(pairs)


def _untranslated_names(query: Query, whole: dict[int, str]) -> list[str]:
    """The names of an English question as Chinese passages write them, in Latin letters: its capitalised words
    ("Sparrow") and the lowercase words the dictionary has no Chinese for ("rsync", "ripgrep"); a word whose
    Chinese the passages use ("Ethernet": 以太网) is a plain noun there.

    >>> q = analyze("Which TCP port does the Ethernet rsync daemon listen on?")
    >>> _untranslated_names(q, {1: "以太网上 rsync 守护进程默认监听 873 端口（Ethernet）。"})
    ['rsync']
    """
    words = [w.lower() for w in re.findall(r"(?<![\w-])[a-z][a-z0-9]{2,}(?![\w-])", query.text)
             if w not in ENGLISH_COMMON and not any(_chinese(stem) for stem in _stems(w))]
    text = " ".join(whole.values())
    return [w for w in dict.fromkeys(query.names + words)
            if _mentions(text, w) and not any(zh in text for zh in _chinese(w))]


def _stems(word: str) -> list[str]:
    """A lowercase English word and its forms without a plural or tense ending: "listens" -> listen."""
    return [word] + [word[: -len(end)] for end in ("s", "es", "ed", "d", "ing") if word.endswith(end) and len(word) > len(end) + 2]


def _mentions(text: str, key: str) -> bool:
    """Whether ``text`` names ``key`` (a name key or a version number) as a whole: "GPT-Neo" is not in
    "GPT-NeoX", "ChatGLM" is not in "ChatGLM2" but is in "ChatGLM-6B"; Chinese names are found inside words."""
    if _CJK.search(key):
        return key in entity_key(text)
    if re.fullmatch(r"[\d.]+", key):  # a version number: V3.5, 3.5 版
        return re.search(rf"(?<![\d.]){re.escape(key)}(?![\d.]|\d)", text) is not None
    return re.search(rf"(?<![A-Za-z0-9.]){name_pattern(key)}(?![A-Za-z0-9]|\.\d)", text, flags=re.I) is not None


def _versions_own_answer(text: str, query: Query, shaped: frozenset[str]) -> bool:
    """Whether, in one sentence, an answer of the asked kind stands nearer to an asked version number than to any
    other version ("于 2019 年发布 1.0 版，现已更新到 4.0 版本": 2019 belongs to 1.0, not to the 4.0 asked about)."""
    for sentence in re.split(r"(?<=[。！？；!?;])", text):
        mentions = [(m.start(), m.group().lstrip("vV")) for m in _VERSION_MENTION.finditer(sentence)]
        if not any(v in query.versions for _, v in mentions):
            continue
        if not shaped or len({v for _, v in mentions}) < 2:
            return True
        for kind in shaped:
            pattern = KINDS[kind][1]
            for value in pattern.finditer(sentence) if pattern is not None else ():
                if min(mentions, key=lambda m: abs(m[0] - value.start()))[1] in query.versions:
                    return True
    return False


def _english(word: str) -> list[str]:
    from ragkit.bilingual import to_english

    return [w for w in to_english(word) if len(w) >= 3]


def _chinese(word: str) -> list[str]:
    from ragkit.bilingual import to_chinese

    return [zh for zh, _ in to_chinese(word, limit=4)]


_ANNOUNCING = re.compile(r"如下|以下|下面|下列|下表|\bas follows\b|\bbelow\b|\bthe following\b", re.I)


def _announces_block(candidate: Candidate, units: list[Unit]) -> bool:
    """Whether the candidate ends by announcing a table or code block that follows it ("对比如下：", "下面的命令
    会更新软件包列表。")."""
    last = candidate.units[-1]
    if last.kind != "sentence" or not (last.text.rstrip().endswith(("：", ":")) or _ANNOUNCING.search(last.text)):
        return False
    following = next((u for u in units if u.passage == last.passage and u.position == last.position + 1), None)
    return following is not None and following.kind in ("row", "code")


def _continue_list(chosen: tuple[Unit, ...], units: list[Unit], max_chars: int) -> tuple[Unit, ...]:
    """A sentence that announces a list ("由以下 6 个模块组成：") takes the items that follow it."""
    last = chosen[-1]
    if last.kind != "sentence" or not last.text.rstrip().endswith(("：", ":")):
        return chosen
    out = list(chosen)
    for unit in units:
        if unit.passage != last.passage or unit.position <= last.position:
            continue
        if unit.kind not in ("item", "sentence") or sum(len(u.text) for u in out) + len(unit.text) > 2 * max_chars:
            break
        out.append(unit)
    return tuple(out)


def _read_row(query: Query, row: Unit, terms: dict[str, tuple[str, ...]],
              trim: Callable[[str], str]) -> str:
    """A table row read against its header: "<row name> 的 <column>：<value>" for the column the question asks
    about (by its header, or by what its cell holds: the asked kind of value, a name the question does not
    have), or every column when the question picks none. A long cell is cut by ``trim``."""
    cells, header = list(row.cells), list(row.header)
    if not header:
        return " | ".join(c for c in cells if c)
    names = query.entities + query.names
    key = next((j for j, c in enumerate(cells) if any(n in entity_key(c) for n in names)), 0)
    named = bool(query.kinds & {"name", "organization", "person"})

    asked_for = category(query.text)

    def fit(j: int) -> float:
        if not cells[j]:
            return -1.0
        head, cell = header[j].lower(), cells[j].lower()
        hits = sum(any(f in head for f in forms) for forms in terms.values())
        held = sum(any(f in cell for f in forms) for forms in terms.values())
        shape = sum(holds_kind(k, cells[j], query) for k in query.shaped())
        new = named and _new_name(Candidate((Unit(row.passage, 0, "sentence", cells[j], "", 0),)), query)
        near = 0.01 / (1 + abs(j - key - 1)) if narrowed else 0.0  # of two 端口 columns, the one beside the name
        return hits + 0.5 * shape + 0.25 * held + 0.5 * new + near

    columns = [j for j in range(len(cells)) if j != key]
    named_columns = [j for j in columns if asked_for and asked_for.lower() in header[j].lower()]
    narrowed = bool(named_columns)
    columns = named_columns or columns  # "哪个端口": only the 端口 columns
    ranked = sorted(columns, key=fit, reverse=True)
    name = cells[key]
    if ranked and fit(ranked[0]) >= 1 and (len(ranked) == 1 or fit(ranked[0]) > fit(ranked[1])):
        j = ranked[0]
        value = trim(cells[j])
        return f"{name} 的{header[j]}：{value}。" if query.lang == "zh" else f"{name}, {header[j]}: {value}."
    pairs = [f"{header[j]}：{cells[j]}" if query.lang == "zh" else f"{header[j]}: {cells[j]}"
             for j in range(len(cells)) if j != key and cells[j]]
    return f"{name}：{'；'.join(pairs)}。" if query.lang == "zh" else f"{name}: {'; '.join(pairs)}."
