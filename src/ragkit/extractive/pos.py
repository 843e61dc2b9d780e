"""Proper nouns of a Chinese question: words jieba's dictionary tags as names of people, places, organisations
or other proper nouns (its ``dict.txt``: ``word frequency tag``), found by the shared jieba tokenizer.

Only the tagged names are read from the dictionary (once); ``jieba.posseg`` would load the whole tag table and a
second dictionary.

>>> proper_nouns("腾讯混元大模型的参数量是多少？")
['腾讯']
"""

from __future__ import annotations

import re
from functools import lru_cache

_NAME_TAGS = frozenset({"nr", "nrt", "nrfg", "ns", "nsf", "nt", "nz"})
_CJK = re.compile(r"[\u3400-\u9fff]")


@lru_cache(maxsize=1)
def _names() -> frozenset[str]:
    import jieba

    with jieba.get_dict_file() as handle:
        words = []
        for raw in handle:
            parts = raw.decode("utf-8").split()
            if len(parts) == 3 and parts[2] in _NAME_TAGS and len(parts[0]) >= 2:
                words.append(parts[0])
    return frozenset(words)


def proper_nouns(text: str) -> list[str]:
    """Chinese words of ``text`` that jieba's dictionary tags as proper nouns."""
    from ragkit.tokenize import shared_cutter

    names = _names()
    return [w for w in shared_cutter().cut(text, HMM=False) if w in names and _CJK.search(w)]
