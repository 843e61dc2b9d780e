"""A knowledge base's own terms, learned from its documents at ingest and stored with it.

Nothing here is a hand-kept list of one field's names: every term comes from the knowledge base itself.

* **Latin-script names**: words written with capitals inside (``ChatGLM``, ``LLaMA``), with digits (``GPT-4``,
  ``Qwen2.5``) or joined by dots, hyphens and slashes (``apt-get``, ``sources.list``).
* **Chinese terms**: character sequences that recur, hold together (their parts co-occur far more often than
  chance) and stand free (varied characters on both sides): new-word discovery over the corpus. A term that
  jieba's general dictionary already knows well is left out: jieba keeps it whole anyway.
* **Headings**: the short Chinese titles of sections (``通义千问``, ``星火大模型``).

A term is a *name* (something a follow-up question may refer back to, and that a passage must contain to
answer a question about it) when it is a Latin-script name, or a Chinese title (or a term in one) that jieba's
general dictionary cannot put together from its words.

>>> texts = ["通义千问由阿里巴巴研发。", "据说通义千问很强，", "ChatGLM2-6B 和通义千问都开源了。"] * 3
>>> terms = learn_terms(texts, headings=["模型 > 2. 通义千问"])
>>> sorted((t.text, t.kind, t.name) for t in terms)
[('ChatGLM2-6B', 'latin', True), ('通义千问', 'heading', True)]
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from ragkit.lexical import LexicalIndex
from ragkit.tokenize import _LATIN, STOPWORDS

_QUESTION_WORDS = STOPWORDS | frozenset("exact list according".split())

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
_INNER_CAPITAL = re.compile(r"^[A-Za-z]+[A-Z]|[A-Z]{2,}")
_HAS_DIGIT_AND_LETTER = re.compile(r"(?=.*\d)(?=.*[A-Za-z])")
_JOINED = re.compile(r"[A-Za-z][-_./][A-Za-z0-9]|[A-Za-z0-9][-_./][A-Za-z]")
_NUMBERING = re.compile(r"^[\d.、\s]+|^[一二三四五六七八九十]+[、.]\s*|^第[一二三四五六七八九十\d]+[章节部分]\s*")
# characters that rarely start or end a term: particles, pronouns, prepositions, measure words
_EDGE = set("的了是在和与及或也都就而被把对于为以之其这那有个吗呢啊吧着过从到又将等中并且还可能会要让给向")
MAX_LEN = 8


@dataclass(frozen=True)
class Term:
    """A learned term: ``kind`` is ``latin``, ``zh`` or ``heading``; ``count`` is how many chunks hold it."""

    text: str
    kind: str
    count: int
    name: bool


@lru_cache(maxsize=1)
def _general_frequency() -> dict[str, int]:
    """jieba's general dictionary (word -> frequency), loaded once."""
    from ragkit.tokenize import shared_cutter

    return shared_cutter().FREQ


def _uncommon(term: str, general: dict[str, int]) -> bool:
    """Whether a Chinese term is mostly made of what jieba's general dictionary does not know as words: a proper
    name ("通义千问": only 通义 is a known word; "文心一言"), not "基础模型" or "大语言模型的概念"."""
    from ragkit.tokenize import shared_cutter

    cutter = shared_cutter()
    chars = "".join(_CJK_RUN.findall(term))
    known = sum(len(w) for w in cutter.cut(chars, HMM=False) if len(w) >= 2 and general.get(w, 0) >= 10)
    return bool(chars) and known / len(chars) < 0.7 and len(chars) - known >= 2  # 预训练 is 预 + a word


def latin_name(word: str) -> bool:
    """Whether a Latin-script word is written like a name or an identifier, not an ordinary word.

    >>> [latin_name(w) for w in ("ChatGLM", "GPT-4", "apt-get", "model", "Model", "RLHF", "x.ai")]
    [True, True, True, False, False, True, True]
    """
    return bool(_INNER_CAPITAL.search(word) or _HAS_DIGIT_AND_LETTER.match(word) or _JOINED.search(word))


def heading_title(heading: str) -> str:
    """The last part of a heading path without its numbering: "四、开源 LLM > 4.3、ChatGLM" -> "ChatGLM"."""
    last = heading.split(" > ")[-1] if heading else ""
    return _NUMBERING.sub("", last).strip()


def _entropy(counter: Counter[str]) -> float:
    total = sum(counter.values())
    return -sum(c / total * math.log(c / total) for c in counter.values()) if total else 0.0


def _chinese_terms(texts: Sequence[str], min_count: int) -> dict[str, int]:
    """New-word discovery over the CJK runs of ``texts``: term -> number of texts holding it.

    One pass counts every character sequence of 1 to ``MAX_LEN + 1`` characters (run edges marked ``^``/``$``);
    a term's neighbours are then read off the counts of the sequences one character longer.
    """
    grams: Counter[str] = Counter()
    chars = 0
    for text in texts:
        for run in _CJK_RUN.findall(text):
            padded = f"^{run}$"
            chars += len(run)
            for size in range(1, MAX_LEN + 2):
                grams.update(padded[i : i + size] for i in range(len(padded) - size + 1))
    if not chars:
        return {}
    candidates: dict[str, int] = {}
    for gram, count in grams.items():
        if (2 <= len(gram) <= MAX_LEN and count >= min_count and gram[0] not in _EDGE and gram[-1] not in _EDGE
                and "^" not in gram and "$" not in gram):
            # cohesion: the weakest split of the term still co-occurs far more often than chance
            if min(count * chars / (grams[gram[:i]] * grams[gram[i:]]) for i in range(1, len(gram))) >= 8 * len(gram):
                candidates[gram] = count
    left: defaultdict[str, Counter[str]] = defaultdict(Counter)
    right: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for gram, count in grams.items():
        if len(gram) >= 3:
            if gram[1:] in candidates:
                left[gram[1:]][gram[0]] += count
            if gram[:-1] in candidates:
                right[gram[:-1]][gram[-1]] += count
    found = {g: c for g, c in candidates.items() if min(_entropy(left[g]), _entropy(right[g])) >= 0.9}
    # a term that only ever occurs inside a longer one is that longer term's part
    for gram in sorted(found, key=len):
        if any(len(g) > len(gram) and gram in g and found[g] >= 0.8 * found[gram] for g in found):
            del found[gram]
    documents = Counter(term for text in texts for term in {t for t in found if t in text})
    return {term: documents[term] for term in found}


def learn_terms(texts: Iterable[str], headings: Iterable[str] = (), *, min_count: int = 3,
                max_chars: int = 3_000_000) -> list[Term]:
    """The terms of a collection of chunk texts (headings: their heading paths), most frequent first.

    At most ``max_chars`` characters are read (the caller spreads them over the collection).
    """
    sample: list[str] = []
    size = 0
    for text in texts:
        if size + len(text) > max_chars:
            break
        sample.append(text)
        size += len(text)
    titles = Counter(t for t in (heading_title(h) for h in headings) if 2 <= len(t) <= 24)
    general = _general_frequency()
    latin: Counter[str] = Counter()
    for text in sample:
        latin.update({m.group() for m in _LATIN.finditer(text) if latin_name(m.group())})
    terms = [Term(word, "latin", count, True) for word, count in latin.items()]
    title_words = {w for title in titles for w in _CJK_RUN.findall(title)}
    for word, count in _chinese_terms(sample, min_count).items():
        if general.get(word, 0) >= 100:  # jieba knows it well: it stays whole without us
            continue
        in_title = word in title_words or any(word in t for t in title_words)
        terms.append(Term(word, "zh", count, in_title and _uncommon(word, general)))
    known = {t.text for t in terms}
    for title, count in titles.items():
        if title not in known and _CJK_RUN.fullmatch(title) and len(title) <= 8:
            terms.append(Term(title, "heading", count, _uncommon(title, general)))
    return sorted(terms, key=lambda t: (-t.count, t.text))


class TermStore:
    """The learned terms of one knowledge base, in ragkit's SQLite file."""

    def __init__(self, conn: sqlite3.Connection, *, kb: str) -> None:
        self._conn, self.kb = conn, kb
        with conn:
            conn.execute("CREATE TABLE IF NOT EXISTS kb_terms (kb TEXT NOT NULL, term TEXT NOT NULL, kind TEXT NOT NULL,"
                         " count INTEGER NOT NULL, name INTEGER NOT NULL, PRIMARY KEY (kb, term))")
        self._cache: tuple[Term, ...] | None = None

    def replace(self, terms: Iterable[Term]) -> int:
        rows = [(self.kb, t.text, t.kind, t.count, int(t.name)) for t in terms]
        with self._conn:
            self._conn.execute("DELETE FROM kb_terms WHERE kb = ?", (self.kb,))
            self._conn.executemany("INSERT OR REPLACE INTO kb_terms VALUES (?, ?, ?, ?, ?)", rows)
        self._cache = None
        return len(rows)

    def all(self) -> tuple[Term, ...]:
        """Every learned term (read once per store object)."""
        if self._cache is None:
            rows = self._conn.execute("SELECT term, kind, count, name FROM kb_terms WHERE kb = ? ORDER BY count DESC",
                                      (self.kb,))
            self._cache = tuple(Term(text, kind, count, bool(name)) for text, kind, count, name in rows)
        return self._cache


def refresh_terms(lexical: LexicalIndex, *, max_chars: int = 1_000_000) -> int:
    """Learn the terms of the knowledge base behind ``lexical`` again and store them; returns how many.

    Chunks are read in stored order, taking every n-th so that about ``max_chars`` characters spread over the
    whole knowledge base are read.
    """
    total = lexical.total_chars()
    stride = max(1, math.ceil(total / max_chars)) if total else 1
    texts, headings = [], []
    for number, (_, text, meta, _) in enumerate(c for batch in lexical.iter_chunks() for c in batch):
        heading = str(meta.get("heading") or "")
        headings.append(heading)  # every heading: they are few and short
        if number % stride == 0:
            texts.append(f"{heading}\n{text}" if heading else text)
    terms = learn_terms(texts, headings, max_chars=max_chars + 10_000) if texts else []
    return TermStore(lexical.conn, kb=lexical.kb).replace(terms)


class Vocabulary:
    """What a knowledge base knows of words: how many of its chunks hold a token (its BM25 index), its learned
    terms and names, and which Chinese words it has for an English one."""

    def __init__(self, lexical: LexicalIndex) -> None:
        self.lexical = lexical
        self.terms = TermStore(lexical.conn, kb=lexical.kb)
        self._translations: dict[str, list[str]] = {}

    @property
    def size(self) -> int:
        """Chunks in the knowledge base."""
        return self.lexical.count()

    def frequencies(self, tokens: Sequence[str]) -> dict[str, int]:
        """Chunks holding each token (0 for tokens it never saw)."""
        return self.lexical.document_frequencies(tokens)

    def names(self) -> list[str]:
        """The learned names (see :mod:`ragkit.terms`)."""
        return [t.text for t in self.terms.all() if t.name]

    def chinese_for(self, word: str, limit: int = 3) -> list[str]:
        """Chinese words for an English word or phrase that occur in this knowledge base, best first: by the
        dictionary's weight, then by how common the word is here (for "model", 模型 before 典型)."""
        key = word.lower()
        if key not in self._translations:
            from ragkit.bilingual import to_chinese

            candidates = to_chinese(key, limit=16)
            present = self.lexical.phrase_frequencies([zh for zh, _ in candidates])
            ranked = sorted(((round(weight, 1), present[zh], zh) for zh, weight in candidates
                             if present.get(zh, 0) > 0), reverse=True)
            self._translations[key] = [zh for _, _, zh in ranked[:limit]]
        return self._translations[key]

    def english_for(self, word: str, limit: int = 3) -> list[str]:
        """English words for a Chinese word that occur in this knowledge base."""
        key = "zh:" + word
        if key not in self._translations:
            from ragkit.bilingual import to_english

            candidates = to_english(word, limit=8)
            present = self.lexical.document_frequencies(candidates) if candidates else {}
            self._translations[key] = [w for w in candidates if present.get(w, 0) > 0][:limit]
        return self._translations[key]

    def translate(self, text: str, limit: int = 2) -> list[str]:
        """Words of the knowledge base's language for the words of ``text`` written in the other one: Chinese
        words for English ones (see :meth:`translate_english`), English words for Chinese ones."""
        if re.search(r"[\u3400-\u9fff]", text):
            return list(dict.fromkeys(w for token in self.lexical.tokenize(text) if re.search(r"[\u3400-\u9fff]", token)
                                      for w in self.english_for(token, limit=limit)))
        return self.translate_english(text, limit)

    def translate_english(self, text: str, limit: int = 2) -> list[str]:
        """Chinese words for the English words of ``text``: two-word phrases first ("code generation",
        "reinforcement learning"), then the single words not covered by a phrase."""
        words = [w for w in re.findall(r"[a-z][a-z'-]*[a-z]", text.lower()) if w not in _QUESTION_WORDS]
        parts = [p for w in words for p in w.split("-")] if any("-" in w for w in words) else words
        out: list[str] = []
        covered: set[int] = set()
        for i in range(len(parts) - 1):
            phrase = self.chinese_for(f"{parts[i]} {parts[i + 1]}", limit=1)
            if phrase:
                out += phrase
                covered |= {i, i + 1}
        for i, part in enumerate(parts):
            if i not in covered and len(part) > 2:
                out += self.chinese_for(part, limit=limit)
        return list(dict.fromkeys(out))
