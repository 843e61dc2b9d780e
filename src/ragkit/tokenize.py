"""BM25 tokens: jieba words over lower-cased text, with a dictionary of the field's terms.

>>> tok = Tokenizer()
>>> tok("ChatGLM-6B 在 7G 显存下微调 GPT-4")
['chatglm', '6b', '7g', '显存', '下', '微调', 'gpt-4', 'gpt', '4']
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from pathlib import Path

_WORD = re.compile(r"\w", re.UNICODE)
_PARTS = re.compile(r"[-_.+/]")
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")

STOPWORDS = frozenset(
    """的 了 是 在 和 与 及 或 也 都 就 而 被 把 对 于 为 以 之 其 这 那 这个 那个 有 个 吗 呢 啊 吧 着 过 从 到 又 将
    什么 哪 哪些 哪个 哪家 哪种 怎么 怎样 如何 多少 多大 多长 几 是否 为什么 谁 呢 么 时候 什么时候 可以 能 会 一个 我们 你们 他们 它 它们
    a an the of to in on at by for with from as is are was were be been being do does did what which who whom whose
    when where why how and or not it its this that these those there their they them he she his her i you your we our
    has have had can could should would will shall may might about into than then so such""".split()
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


@lru_cache(maxsize=2)
def _shipped_terms(names_only: bool) -> tuple[str, ...]:
    text = resources.files("ragkit").joinpath("data/terms.txt").read_text(encoding="utf-8")
    if names_only:
        text = text.split("# Concepts")[0]
    return tuple(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def default_terms(*, names_only: bool = False) -> list[str]:
    """The field's terms shipped with ragkit (``ragkit/data/terms.txt``, read once); ``names_only``: models,
    products and companies, not concepts."""
    return list(_shipped_terms(names_only))


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

    def __call__(self, text: str) -> list[str]:
        out: list[str] = []
        for word in self._cutter().cut(text.lower(), HMM=True):
            word = word.strip()
            if not word or not _WORD.search(word) or word in STOPWORDS:
                continue
            out.append(word)
            if _PARTS.search(word) and not _NUMBER.match(word):
                out.extend(p for p in _PARTS.split(word) if p and p not in STOPWORDS)
        return out
