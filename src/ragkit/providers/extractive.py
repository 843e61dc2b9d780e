"""``extractive``: the offline default "LLM": it answers only by quoting the passages in its prompt.

A real LangChain chat model around :class:`ragkit.extractive.answer.Answerer`: it reads the passages and the
question of an answer prompt (ragkit's own format, see :mod:`ragkit.prompts`, or any prompt with a labelled
question and the context around it), finds the answer unit that holds what was asked (a sentence, a list item,
a table row read against its header, a code line) and returns it with its citation marker, e.g.
``ChatGLM 能够在 7G 显存的条件下进行微调。[1]``; or it abstains ("在资料中没有找到相关内容。") when nothing holds
the kind of answer asked for about the names asked about. Deterministic; a few milliseconds per answer
without embeddings, a few tens with them.

Given a knowledge base's vocabulary (:class:`ragkit.terms.Vocabulary`), it weighs the question's words by how
rare they are in the whole knowledge base, knows the base's learned names, and translates English question
words into the Chinese words the base uses.

>>> from langchain_core.documents import Document
>>> from ragkit.prompts import answer_prompt, format_passages
>>> docs = [Document("GLM 系列由清华大学研发。ChatGLM 能够在 7G 显存的条件下进行微调。", metadata={"source": "a.md"})]
>>> prompt = answer_prompt("zh").invoke({"passages": format_passages(docs), "question": "ChatGLM 微调需要多大显存？",
...                                      "history": []})
>>> ExtractiveChatModel().invoke(prompt).content
'ChatGLM 能够在 7G 显存的条件下进行微调。[1]'
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from langchain_core.embeddings import Embeddings
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import ConfigDict, Field, PrivateAttr

from ragkit.extractive.answer import Answerer, Knowledge
from ragkit.extractive.question import entities
from ragkit.prompts import NOT_FOUND, lang_of, parse_passages, parse_question
from ragkit.providers import ProviderOptions
from ragkit.providers.textchat import TextChatModel, message_text
from ragkit.tokenize import Tokenizer

__all__ = ["ExtractiveChatModel", "chat_model", "entities", "sentences_of"]

_OTHER_QUESTION_LABEL = re.compile(r"^\s*(?:Q|Query|User question|User|问|提问|用户问题)\s*[:：]\s*(.+)$",
                                   re.IGNORECASE | re.MULTILINE)
_CONTEXT_LABEL = re.compile(r"^\s*(?:context|passages|documents|资料|上下文|参考资料)\s*[:：]\s*$", re.I | re.M)
NEEDS_PASSAGES = {
    "zh": "抽取式模型需要资料和问题：请把资料放在提示里，并用“问题：”标出问题（ragkit 的 answer_prompt 就是这样）。",
    "en": "The extractive model needs passages and a question: put the passages in the prompt and label the question "
          "with 'Question:' (as ragkit's answer_prompt does).",
}


def sentences_of(number: int, heading: str, body: str) -> list[Any]:
    """Sentences of one passage (kept for quoting citations): objects with ``text``; wrapped lines joined."""
    from ragkit.extractive.units import units_of

    return [u for u in units_of(number, heading, body) if u.text]


def _generic(prompt: str) -> tuple[str | None, dict[int, tuple[str, str]]]:
    """The question and passages of a prompt not made by ragkit: a labelled question ("Question:", "Q:",
    "问题：") or its last line ending in a question mark; the rest, in paragraphs, is the context."""
    question = parse_question(prompt)
    rest = prompt
    if question:
        rest = prompt[: max(prompt.rfind("问题："), prompt.rfind("Question:"))]
    elif matches := list(_OTHER_QUESTION_LABEL.finditer(prompt)):
        question, rest = matches[-1].group(1).strip(), prompt[: matches[-1].start()]
    else:
        lines = [line.strip() for line in prompt.splitlines() if line.strip()]
        if lines and lines[-1].endswith(("?", "？")):
            question, rest = lines[-1], "\n".join(lines[:-1])
    rest = _CONTEXT_LABEL.sub("", rest)
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", rest) if p.strip()]
    return question, {n: ("", p) for n, p in enumerate(paragraphs, start=1)}


class ExtractiveChatModel(TextChatModel):
    """Answers by quoting the answer unit of the passages in its prompt, or abstains (see the module)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model: str = "extractive"
    min_score: float = Field(0.45, ge=0, le=2, description="Below this the model abstains.")
    max_chars: int = Field(160, ge=20, description="Longer sentences are cut to their best clauses.")
    embeddings: Embeddings | None = Field(None, exclude=True, description="Sentence similarity (multilingual).")
    semantic_weight: float = Field(0.5, ge=0, description="Weight of embedding similarity (same script).")
    shortlist: int = Field(12, ge=1, description="Best lexical candidates compared by embeddings.")
    tokenizer: Tokenizer = Field(default_factory=Tokenizer, exclude=True, description="Words of questions and sentences.")
    vocabulary: Any = Field(None, exclude=True, description="The knowledge base's vocabulary (ragkit.terms.Vocabulary).")

    tool_calling: ClassVar[bool] = False
    _vectors: dict[str, list[float]] = PrivateAttr(default_factory=dict)  # sentence embeddings, reused

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        """The extractive model cannot call tools: say which settings give a model that can."""
        raise NotImplementedError(
            "the extractive model only quotes passages and cannot call tools; for an agent configure a "
            "tool-calling LLM, e.g. RAGKIT_LLM=openai:gpt-4o-mini (with OPENAI_API_KEY), openai:deepseek-chat, "
            "dashscope:qwen-plus or ollama:qwen2.5")

    def _answerer(self) -> Answerer:
        knowledge = Knowledge()
        if self.vocabulary is not None:
            vocabulary = self.vocabulary
            knowledge = Knowledge(frequencies=vocabulary.frequencies, size=vocabulary.size,
                                  names=tuple(vocabulary.names()), chinese_for=vocabulary.chinese_for)
        answerer = Answerer(self.tokenizer, embeddings=self.embeddings, knowledge=knowledge, min_score=self.min_score,
                            max_chars=self.max_chars, semantic_weight=self.semantic_weight, shortlist=self.shortlist)
        answerer.cache = self._vectors
        return answerer

    def reply(self, messages: list[BaseMessage]) -> tuple[str, dict[str, Any]]:
        prompt = next((message_text(m) for m in reversed(messages) if isinstance(m, HumanMessage)), "")
        question, passages = parse_question(prompt), parse_passages(prompt)
        if not passages:  # not ragkit's prompt: read the question and the context around it
            context = "\n\n".join(message_text(m) for m in messages if isinstance(m, SystemMessage))
            question, passages = _generic(context + "\n\n" + prompt if context else prompt)
            if not question:
                return NEEDS_PASSAGES[lang_of(prompt)], {"extractive": True, "abstained": True}
        question = question or prompt
        lang = lang_of(question)
        found, meta = self._answerer().answer(question, passages)
        if found is None:
            return NOT_FOUND[lang], {"extractive": True, "abstained": True, **meta}
        return f"{found.text}[{found.passage}]", {"extractive": True, "abstained": False, "unit": found.kind, **meta}


def chat_model(model: str, options: ProviderOptions, *, embeddings: Embeddings | None = None,
               temperature: float | None = None, vocabulary: Any = None) -> ExtractiveChatModel:
    """The extractive model (``temperature`` does not apply: it is deterministic)."""
    return ExtractiveChatModel(embeddings=embeddings, tokenizer=Tokenizer(user_dict=options.user_dict),
                               vocabulary=vocabulary)

