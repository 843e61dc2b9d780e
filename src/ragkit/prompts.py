"""Every prompt ragkit sends, in Chinese and English, and the passage format the answer prompts use.

The passages block is also what the offline extractive model reads back (see
:mod:`ragkit.providers.extractive`), so its format is defined once, here.

>>> from langchain_core.documents import Document
>>> print(format_passages([Document("ChatGLM 能在 7G 显存下微调。", metadata={"source": "a.md", "heading": "GLM"})]))
[1] (a.md › GLM)
ChatGLM 能在 7G 显存下微调。
>>> answer_prompt("zh").invoke({"passages": "[1] ...", "question": "问？", "history": []}).messages[-1].content[:3]
'资料：'
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from langchain_core.documents import Document
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder

NOT_FOUND = {"zh": "在资料中没有找到相关内容。", "en": "Not found in the documents."}
NEEDS_GENERATIVE = {
    "zh": "普通对话需要一个生成式大模型：当前是离线的抽取式模型，它只能从资料中摘句回答。请设置 RAGKIT_LLM"
          "（例如 openai:gpt-4o-mini、openai:deepseek-chat 或 ollama:qwen2.5）并配置相应的密钥或地址。",
    "en": "Plain chat needs a generative LLM: the current one is the offline extractive model, which can only quote "
          "the documents. Set RAGKIT_LLM (e.g. openai:gpt-4o-mini, openai:deepseek-chat or ollama:qwen2.5) and its "
          "key or base URL.",
}
PASSAGES_LABEL = {"zh": "资料：", "en": "Passages:"}
QUESTION_LABEL = {"zh": "问题：", "en": "Question:"}
_PASSAGE_HEAD = re.compile(r"^\[(\d+)\] \((.*)\)$", re.MULTILINE)

_ANSWER_SYSTEM = {
    "zh": (
        "你是一个严谨的知识库问答助手。只根据下面给出的资料回答问题，不要使用资料以外的知识，不要编造。"
        "回答要简洁，用中文。每一句用到资料的话后面加上引用标记，例如 [1] 或 [2][3]，编号对应资料的编号。"
        "如果资料中没有答案，只回答：" + NOT_FOUND["zh"]
    ),
    "en": (
        "You answer questions from a knowledge base. Use only the passages given below, never outside knowledge, "
        "and never make anything up. Answer concisely, in English. After each sentence that uses a passage, add "
        "its citation marker, e.g. [1] or [2][3], numbered like the passages. If the passages do not contain the "
        "answer, reply only: " + NOT_FOUND["en"]
    ),
}

_CONDENSE_SYSTEM = {
    "zh": (
        "根据对话历史，把用户最后的问题改写成一个不依赖上下文、可以单独用于检索的问题：把“它”“这个模型”等指代"
        "换成具体的名称。只输出改写后的问题，不要回答它。"
    ),
    "en": (
        "Given the conversation, rewrite the user's last question as a standalone question that can be searched on "
        "its own: replace pronouns such as 'it' or 'this model' by the names they refer to. Output only the "
        "rewritten question; do not answer it."
    ),
}

_AGENT_SYSTEM = {
    "zh": (
        "你是一个知识库助手，可以调用工具。先用 search_knowledge_base 查找资料（需要整节内容时用 read_section），"
        "需要计算时用 calculator，不要心算。只根据工具返回的资料回答，用中文简洁作答，并在用到资料的句子后加上资料的"
        "编号，例如 [1] 或 [2][3]（与工具结果中的编号一致）。如果资料中没有答案，只回答：" + NOT_FOUND["zh"]
    ),
    "en": (
        "You are a knowledge-base assistant with tools. Find passages with search_knowledge_base first (read_section "
        "for a whole section); use calculator for any arithmetic instead of doing it yourself. Answer only from what "
        "the tools returned, concisely, in English, adding the passage numbers after the sentences that use them, "
        "e.g. [1] or [2][3] (the numbers of the tool results). If the passages do not contain the answer, reply "
        "only: " + NOT_FOUND["en"]
    ),
}
NEEDS_TOOLS = {
    "zh": "智能体模式需要支持工具调用的大模型（当前是离线的抽取式模型）：请设置 RAGKIT_LLM，例如 openai:gpt-4o-mini、"
          "openai:deepseek-chat、dashscope:qwen-plus 或 ollama:qwen2.5，并配置密钥或地址。下面由知识库问答回答：",
    "en": "Agent mode needs a tool-calling LLM (the current one is the offline extractive model): set RAGKIT_LLM, e.g. "
          "openai:gpt-4o-mini, openai:deepseek-chat, dashscope:qwen-plus or ollama:qwen2.5, with its key or base URL. "
          "The knowledge-base Q&A answers instead:",
}


NO_AGENT_ANSWER = {  # why the agent's run gave no answer; the RAG chain answers after the notice
    "call": {"zh": "模型写出的是一个工具调用而不是回答，下面由知识库问答回答：",
             "en": "The model wrote a tool call instead of an answer; the knowledge-base Q&A answers instead:"},
    "copy": {"zh": "模型照抄了工具返回的资料而没有回答，下面由知识库问答回答：",
             "en": "The model copied a tool result instead of answering; the knowledge-base Q&A answers instead:"},
    "limit": {"zh": "智能体达到步数上限仍没有回答，下面由知识库问答回答：",
              "en": "The agent reached its step limit without an answer; the knowledge-base Q&A answers instead:"},
    "empty": {"zh": "模型没有给出回答，下面由知识库问答回答：",
              "en": "The model gave no answer; the knowledge-base Q&A answers instead:"},
}


def agent_notice(notice: str, lang: str) -> str:
    """An agent's notice (written in the question's language) in the interface's language ``lang``.

    >>> agent_notice(NO_AGENT_ANSWER["limit"]["zh"], "en")[:36]
    'The agent reached its step limit wit'
    """
    return next((texts[lang] for texts in (NEEDS_TOOLS, *NO_AGENT_ANSWER.values()) if notice in texts.values()),
                notice)


ANSWER_NOW = {  # added to the agent's system prompt when the model only repeats tool calls it already made
    "zh": "不要再调用工具：同样的查询已经做过了。现在只根据上面工具返回的资料回答问题，并在用到资料的句子后加上编号，"
          "例如 [1]；如果资料中没有答案，只回答：" + NOT_FOUND["zh"],
    "en": "Do not call any more tools: the same search was already made. Answer the question now, only from the "
          "tool results above, adding the passage numbers after the sentences that use them, e.g. [1]; if they do "
          "not contain the answer, reply only: " + NOT_FOUND["en"],
}


def agent_system(lang: str = "zh") -> str:
    """The agent's system prompt."""
    return _AGENT_SYSTEM[lang]


_CHAT_SYSTEM = {
    "zh": "你是一个乐于助人的助手，用中文简洁地回答。",
    "en": "You are a helpful assistant. Answer concisely, in English.",
}


def lang_of(text: str) -> str:
    """``"zh"`` when the text is mostly Chinese, else ``"en"``.

    >>> lang_of("它的参数量是多少？"), lang_of("Who wrote LangChain?")
    ('zh', 'en')
    """
    cjk = len(re.findall(r"[\u3400-\u9fff]", text))
    latin = len(re.findall(r"[A-Za-z]", text))
    return "zh" if cjk and cjk >= latin / 4 else "en"


def format_passage(n: int, doc: Document) -> str:
    """One numbered passage: ``[n] (source › heading)`` then its text."""
    where = str(doc.metadata.get("source", ""))
    if doc.metadata.get("heading"):
        where += f" › {doc.metadata['heading']}"
    if doc.metadata.get("page"):
        where += f" (p. {doc.metadata['page']})"
    return f"[{n}] ({where})\n{doc.page_content.strip()}"


def format_passages(docs: Sequence[Document]) -> str:
    """Number the passages ``[1]``, ``[2]``... with their source and heading."""
    return "\n\n".join(format_passage(n, doc) for n, doc in enumerate(docs, start=1))


def parse_passages(text: str) -> dict[int, tuple[str, str]]:
    """The passages of a prompt made with :func:`format_passages`: ``{number: (where, text)}``."""
    heads = list(_PASSAGE_HEAD.finditer(text))
    out: dict[int, tuple[str, str]] = {}
    for head, nxt in zip(heads, [*heads[1:], None], strict=False):
        end = nxt.start() if nxt is not None else len(text)
        body = text[head.end() : end]
        for label in QUESTION_LABEL.values():  # the question follows the last passage
            body = body.split("\n" + label)[0]
        out[int(head.group(1))] = (head.group(2), body.strip())
    return out


def parse_question(text: str) -> str | None:
    """The question of an answer prompt (the text after the last question label)."""
    best = None
    for label in QUESTION_LABEL.values():
        position = text.rfind(label)
        if position >= 0 and (best is None or position > best[0]):
            best = (position, text[position + len(label) :].strip())
    return best[1] if best else None


def answer_prompt(lang: str = "zh") -> ChatPromptTemplate:
    """System instructions, the recent history, then passages and question (``passages``, ``question``,
    ``history``)."""
    return ChatPromptTemplate.from_messages([
        ("system", _ANSWER_SYSTEM[lang]),
        MessagesPlaceholder("history"),
        ("human", PASSAGES_LABEL[lang] + "\n{passages}\n\n" + QUESTION_LABEL[lang] + "{question}"),
    ])


def condense_prompt(lang: str = "zh") -> ChatPromptTemplate:
    """Rewrite a follow-up question into a standalone one (``history``, ``question``)."""
    return ChatPromptTemplate.from_messages([
        ("system", _CONDENSE_SYSTEM[lang]),
        MessagesPlaceholder("history"),
        ("human", "{question}"),
    ])


def chat_prompt(lang: str = "zh") -> ChatPromptTemplate:
    """Plain conversation with the configured model (``history``, ``question``)."""
    return ChatPromptTemplate.from_messages([
        ("system", _CHAT_SYSTEM[lang]),
        MessagesPlaceholder("history"),
        ("human", "{question}"),
    ])
