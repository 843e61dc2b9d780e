"""``llm``: listwise reranking by the configured generative LLM.

The model gets the question and the numbered candidates (each cut to ``max_chars``) and is asked for their
numbers, most useful first. The numbers it names come first in that order; the others follow in the order
they came in. A reply without a usable number (a small model that answers the question instead, or says
nothing) leaves the fused order as it was.

>>> ranking_of("3, 1, [3], 9, 2", 3)
[2, 0, 1]
>>> ranking_of("资料里没有相关内容", 3)
[]
"""

from __future__ import annotations

import re

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import Field

from ragkit.errors import ConfigError
from ragkit.prompts import lang_of
from ragkit.providers import ProviderOptions
from ragkit.reranking import Reranker

_NUMBER = re.compile(r"\d+")
INSTRUCTIONS = {
    "zh": "下面是一个问题和若干编号的资料片段。按片段对回答这个问题的有用程度从高到低排列它们的编号。"
          "只输出编号，用逗号分隔，例如：3,1,2。不要回答问题。",
    "en": "Below are a question and numbered passages. List the passage numbers from most to least useful for "
          "answering the question. Output only the numbers, separated by commas, e.g. 3,1,2. Do not answer the question.",
}
LABELS = {"zh": ("问题：", "资料："), "en": ("Question:", "Passages:")}


def ranking_of(reply: str, n: int) -> list[int]:
    """0-based indexes of the passages a reply names, first mention first (unknown numbers ignored)."""
    seen: list[int] = []
    for number in _NUMBER.findall(reply):
        index = int(number) - 1
        if 0 <= index < n and index not in seen:
            seen.append(index)
    return seen


class LLMReranker(Reranker):
    """Asks ``llm`` for the order of the passages (see the module docstring)."""

    llm: BaseChatModel
    max_chars: int = Field(240, ge=40)

    def messages(self, query: str, texts: list[str]) -> list:
        lang = lang_of(query)
        question, passages = LABELS[lang]
        listed = "\n".join(f"[{i}] {' '.join(text.split())[: self.max_chars]}" for i, text in enumerate(texts, 1))
        return [SystemMessage(INSTRUCTIONS[lang]), HumanMessage(f"{question}{query}\n\n{passages}\n{listed}")]

    def scores(self, query: str, texts: list[str]) -> list[float]:
        n = len(texts)
        order = ranking_of(self.llm.invoke(self.messages(query, texts)).text, n)
        named = {index: 2 * n - position for position, index in enumerate(order)}
        return [float(named.get(i, n - i)) for i in range(n)]


def reranker(model: str, options: ProviderOptions, *, llm: BaseChatModel | None = None) -> LLMReranker:
    from ragkit.providers.extractive import ExtractiveChatModel

    if llm is None or isinstance(llm, ExtractiveChatModel):
        raise ConfigError("the llm reranker needs a generative LLM (RAGKIT_LLM, e.g. openai:gpt-4o-mini or "
                          "gguf:/path/model.gguf); the extractive default cannot rank passages")
    return LLMReranker(llm=llm)
