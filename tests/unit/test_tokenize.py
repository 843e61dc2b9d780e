from ragkit.tokenize import Tokenizer, default_terms


def test_names_stay_whole_and_lower_case():
    tokens = Tokenizer()("GPT-4 和 ChatGLM 都是大语言模型，使用了 RLHF")
    for term in ("gpt-4", "chatglm", "大语言模型", "rlhf"):
        assert term in tokens
    assert all(t == t.lower() for t in tokens)


def test_punctuation_and_stopwords_are_dropped():
    tokens = Tokenizer()("什么是 LLaMA 的参数量？")
    assert "？" not in tokens and "的" not in tokens and "什么" not in tokens
    assert "llama" in tokens


def test_compound_terms_also_give_their_parts():
    tokens = Tokenizer()("ChatGLM2-6B")
    assert "6b" in tokens and "chatglm2" in tokens


def test_user_dictionary_adds_terms(tmp_path):
    user = tmp_path / "dict.txt"
    user.write_text("星火认知大模型 100\n", encoding="utf-8")
    assert "星火认知大模型" in Tokenizer(user_dict=user)("讯飞星火认知大模型发布")


def test_the_shipped_seed_is_small_and_holds_no_names():
    terms = default_terms()
    assert len(terms) < 40 and "大语言模型" in terms
    assert not any(t.isascii() for t in terms)  # Latin-script names are kept whole by rule, not by a list


def test_latin_names_with_digits_dots_and_hyphens_stay_whole_with_their_parts():
    tokens = Tokenizer()("Qwen2.5-7B 的配置在 /etc/apt/sources.list，用 apt-get 安装 C++ 编译器")
    for token in ("qwen2.5-7b", "qwen2", "qwen", "7b", "etc/apt/sources.list", "sources", "apt-get", "apt", "c++"):
        assert token in tokens, token


def test_the_extractive_model_uses_the_user_dictionary(tmp_path):
    from ragkit.providers import ProviderOptions, make_chat_model

    user = tmp_path / "terms.txt"
    user.write_text("星火认知大模型\n", encoding="utf-8")
    model = make_chat_model("extractive", ProviderOptions(user_dict=user))
    assert "星火认知大模型" in model.tokenizer("讯飞星火认知大模型发布")
