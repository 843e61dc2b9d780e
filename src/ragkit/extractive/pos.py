"""Proper nouns of a Chinese question, by jieba's part-of-speech tagger (loaded on first use, shared).

>>> proper_nouns("腾讯混元大模型的参数量是多少？")
['腾讯']
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

_NAME_TAGS = frozenset({"nr", "nrt", "nrfg", "ns", "nsf", "nt", "nz"})
_CJK = re.compile(r"[\u3400-\u9fff]")


@lru_cache(maxsize=1)
def _tagger():  # noqa: ANN202 - jieba.posseg.POSTokenizer
    import jieba.posseg

    logging.getLogger("jieba").setLevel(logging.WARNING)
    return jieba.posseg.POSTokenizer()


def proper_nouns(text: str) -> list[str]:
    """Chinese words jieba tags as names of people, places, organisations or other proper nouns."""
    return [pair.word for pair in _tagger().cut(text) if pair.flag in _NAME_TAGS and _CJK.search(pair.word)
            and len(pair.word) >= 2]
