"""A synthetic corpus with a realistic vocabulary, for the scale benchmarks (#15).

Chunks are drawn word by word from a Zipfian mix: Chinese words ranked by jieba's dictionary frequencies
(349k words) and English words (the Latin-script tokens of corpora/ and jieba's dictionary) ranked at random,
about one English word in five, 60-180 tokens per chunk (a 400-character chunk of mixed text). Chunks are
made as their tokens, space-joined (``text.split()`` is their tokenization), so building a million of them does
not spend an hour in jieba; queries go through ragkit's real tokenizer.

>>> gen = Vocabulary.load(seed=1)
>>> len(gen.chunk(0).split()) >= 60
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
_LATIN = re.compile(r"^[a-z][a-z0-9.+#-]{1,20}$")


@dataclass
class Vocabulary:
    zh: list[str]
    en: list[str]
    zh_p: np.ndarray
    en_p: np.ndarray
    seed: int

    @classmethod
    def load(cls, seed: int = 7, s: float = 1.07) -> Vocabulary:
        import jieba

        from ragkit.tokenize import STOPWORDS

        zh: list[tuple[int, str]] = []
        en: set[str] = set()
        with open(Path(jieba.__file__).parent / "dict.txt", encoding="utf-8") as handle:
            for line in handle:
                word, freq = line.split()[:2]
                if word.lower() in STOPWORDS:
                    continue
                if _LATIN.match(word.lower()):
                    en.add(word.lower())
                elif len(word) <= 6:
                    zh.append((int(freq), word))
        for path in (ROOT / "corpora").rglob("*.md"):
            en.update(w.lower() for w in re.findall(r"[A-Za-z][A-Za-z0-9.+#-]{1,20}", path.read_text("utf-8"))
                      if w.lower() not in STOPWORDS)
        zh.sort(key=lambda fw: -fw[0])
        words = [w for _, w in zh]
        rng = np.random.default_rng(seed)
        english = sorted(en)
        rng.shuffle(english)
        zh_p = 1.0 / np.arange(1, len(words) + 1) ** s
        en_p = 1.0 / np.arange(1, len(english) + 1) ** s
        return cls(words, english, zh_p / zh_p.sum(), en_p / en_p.sum(), seed)

    def chunk(self, n: int) -> str:
        """Chunk ``n`` (the same text for the same seed and n), as space-joined tokens."""
        return self.chunks(n, 1)[0]

    def chunks(self, start: int, count: int) -> list[str]:
        rng = np.random.default_rng([self.seed, start])
        lengths = rng.integers(60, 181, count)
        total = int(lengths.sum())
        english = rng.random(total) < 0.2
        zh = rng.choice(len(self.zh), size=total, p=self.zh_p)
        en = rng.choice(len(self.en), size=total, p=self.en_p)
        tokens = [self.en[e] if is_en else self.zh[z] for z, e, is_en in zip(zh, en, english, strict=True)]
        out, pos = [], 0
        for length in lengths:
            out.append(" ".join(tokens[pos : pos + length]))
            pos += length
        return out


def random_vectors(start: int, count: int, dim: int, seed: int = 7) -> np.ndarray:
    """Unit vectors (Gaussian, float32): the dense side needs a million vectors, not a million model calls."""
    rng = np.random.default_rng([seed, start, 1])
    v = rng.standard_normal((count, dim), dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)
