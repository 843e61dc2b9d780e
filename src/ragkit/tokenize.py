"""BM25 tokens: Latin-script names kept whole (with their parts), jieba words for the rest, lower case.

A Latin-script name with digits, dots, hyphens or slashes (``ChatGLM2-6B``, ``GPT-3.5-turbo``, ``sources.list``,
``/etc/apt``) is one token, followed by its parts (``chatglm2``, ``6b``, ``chatglm``), so a query that writes
the name differently still matches. Everything else goes through jieba, with a small shipped seed of field terms
and the user's dictionary. A knowledge base's own terms (learned at ingest, see :mod:`ragkit.terms`) are not
part of the tokens: they are searched as phrases of these tokens, so learning new terms never changes the index.

>>> tok = Tokenizer()
>>> tok("ChatGLM2-6B 在 7G 显存下微调 GPT-4")
['chatglm2-6b', 'chatglm2', '6b', 'chatglm', '7g', '显存', '下', '微调', 'gpt-4', 'gpt', '4']
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from pathlib import Path

_WORD = re.compile(r"\w", re.UNICODE)
# a run of ASCII letters/digits, joined by - _ . + / # (a trailing + or # kept: C++, C#)
_LATIN = re.compile(r"[A-Za-z0-9]+(?:[-_.+/#][A-Za-z0-9]+)*[+#]*")
_PART = re.compile(r"\d+(?:\.\d+)+|[a-z0-9]+")
_NAME_VERSION = re.compile(r"^([a-z]{2,})\d")  # chatglm2 -> chatglm
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
TOKENIZER_VERSION = "3"  # bump when the rules change: stored indexes are re-tokenized (no re-embedding)

STOPWORDS = frozenset(
    """的 了 是 在 和 与 及 或 也 都 就 而 被 把 对 于 为 以 之 其 这 那 这个 那个 有 个 吗 呢 啊 吧 着 过 从 到 又 将
    什么 哪 哪些 哪个 哪家 哪种 怎么 怎样 如何 多少 多大 多长 几 是否 为什么 谁 呢 么 时候 什么时候 可以 能 会 一个 我们 你们 他们 它 它们
    a an the of to in on at by for with from as is are was were be been being do does did what which who whom whose
    when where why how and or not it its this that these those there their they them he she his her i you your we our
    has have had can could should would will shall may might about into than then so such many much s t d ll re ve m
    does""".split()
)


@lru_cache(maxsize=8)
def _prepared_cutter(terms: tuple[str, ...]):  # noqa: ANN202 - jieba.Tokenizer
    """A jieba tokenizer with ``terms`` added; loading jieba's dictionary takes about a second, so the
    prepared tokenizer is shared by every :class:`Tokenizer` with the same terms."""
    import jieba

    logging.getLogger("jieba").setLevel(logging.WARNING)
    cutter = jieba.Tokenizer()
    cutter.initialize()
    for term in terms:
        cutter.add_word(term)
    return cutter


@lru_cache(maxsize=1)
def _shipped_terms() -> tuple[str, ...]:
    text = resources.files("ragkit").joinpath("data/terms.txt").read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def shared_cutter():  # noqa: ANN201 - jieba.Tokenizer
    """The jieba tokenizer with the shipped seed, shared by everything that needs jieba's dictionary (its
    word frequencies, parts of speech): loading a dictionary takes a second, so it is loaded once."""
    return _prepared_cutter(tuple(t.lower() for t in _shipped_terms()))


def default_terms() -> list[str]:
    """The small seed of compound words shipped with ragkit (``ragkit/data/terms.txt``, read once); a knowledge
    base's own terms are learned from its documents (:mod:`ragkit.terms`)."""
    return list(_shipped_terms())


def latin_tokens(span: str) -> list[str]:
    """A Latin-script span as a whole token and its parts (lower case, stopwords left out).

    >>> latin_tokens("GPT-3.5-turbo"), latin_tokens("Qwen2.5"), latin_tokens("LLaMA")
    (['gpt-3.5-turbo', 'gpt', '3.5', 'turbo'], ['qwen2.5', 'qwen2', '5', 'qwen'], ['llama'])
    """
    word = span.lower()
    out = [] if word in STOPWORDS else [word]
    if not _NUMBER.match(word):
        parts = [p for p in _PART.findall(word) if p != word]
        out += [p for p in parts if p not in STOPWORDS]
        for part in [word, *parts]:
            if (m := _NAME_VERSION.match(part)) and m.group(1) not in out:
                out.append(m.group(1))
    return list(dict.fromkeys(out))


class Tokenizer:
    """Callable text -> tokens; jieba's dictionary loads on first call (about a second)."""

    def __init__(self, terms: Iterable[str] | None = None, user_dict: Path | None = None) -> None:
        self._terms = [t.lower() for t in (default_terms() if terms is None else terms)]
        self._user_dict = user_dict
        self._jieba = None

    def _cutter(self):  # noqa: ANN202 - jieba.Tokenizer
        if self._jieba is None:
            self._jieba = _prepared_cutter(tuple(self._terms + self._user_terms()))
        return self._jieba

    def _user_terms(self) -> list[str]:
        """Terms of the user dictionary: the first word of each line (jieba's format is accepted)."""
        if self._user_dict is None:
            return []
        lines = Path(self._user_dict).read_text(encoding="utf-8").splitlines()
        return [line.split()[0].lower() for line in lines if line.strip() and not line.startswith("#")]

    @property
    def signature(self) -> str:
        """Changes whenever the tokens of some text could change (rules, seed terms, user dictionary)."""
        digest = hashlib.sha1("\n".join([TOKENIZER_VERSION, *self._terms, *self._user_terms()]).encode("utf-8"))
        return digest.hexdigest()[:16]

    def words(self, text: str) -> list[str]:
        """jieba words of a text without Latin-script spans (lower case, punctuation and stopwords left out)."""
        out = []
        for word in self._cutter().cut(text.lower(), HMM=True):
            word = word.strip()
            if word and _WORD.search(word) and word not in STOPWORDS:
                out.append(word)
        return out

    def __call__(self, text: str) -> list[str]:
        out: list[str] = []
        position = 0
        for match in _LATIN.finditer(text):
            if match.start() > position:
                out += self.words(text[position : match.start()])
            out += latin_tokens(match.group())
            position = match.end()
        if position < len(text):
            out += self.words(text[position:])
        return out
