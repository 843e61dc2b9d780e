"""A knowledge base's own terms and words: learned at ingest, used by BM25, follow-ups and answers; stored
indexes made by older tokenizer rules are brought up to date on open."""

from __future__ import annotations

import logging

import pytest
from langchain_core.messages import HumanMessage

from ragkit import build
from ragkit.chains import expand_query
from ragkit.config import Settings
from ragkit.ingest import ingest
from ragkit.lexical import LexicalIndex
from ragkit.terms import TermStore, Vocabulary
from tests.conftest import CORPUS


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("terms"), embedder="fake:64")
    kb = build.open_kb(settings)
    report = ingest(kb, [CORPUS], split=build.split_options(settings))
    return settings, kb, report


def test_terms_are_learned_at_ingest_and_stored_with_the_knowledge_base(corpus):
    settings, kb, report = corpus
    assert report.terms and report.terms > 100
    terms = {t.text: t for t in TermStore(kb.conn, kb=kb.name).all()}
    assert {"ChatGLM2-6B", "GPT-3.5", "LLaMA"} <= set(terms)  # Latin-script names, from the documents
    assert terms["通义千问"].name  # a section title made of words jieba does not know
    assert not terms.get("参数量") or not terms["参数量"].name  # a field word, not a name
    again = ingest(kb, [CORPUS], split=build.split_options(settings))
    assert again.terms is None  # nothing changed: nothing learned again


def test_a_follow_up_carries_a_learned_chinese_name(corpus):
    _, kb, _ = corpus
    vocabulary = Vocabulary(kb.lexical)
    history = [HumanMessage("通义千问是哪家公司研发的？")]
    assert expand_query("它是什么时候正式发布的？", history, vocabulary).startswith("通义千问 ")
    # a new name before the word that refers back: the question stands alone
    assert expand_query("那 ImageBind 是哪家公司推出的？", history, vocabulary) == "那 ImageBind 是哪家公司推出的？"
    english = [HumanMessage("UC Berkeley's Koala dialogue model was implemented in which framework?")]
    assert expand_query("And Vicuna: what conversation data was it fine-tuned on?", english, vocabulary) == \
        "And Vicuna: what conversation data was it fine-tuned on?"
    assert "Koala" in expand_query("How many GPUs did its training use?", english, vocabulary)


def test_an_english_query_searches_bm25_with_the_chinese_words_of_the_knowledge_base(corpus):
    settings, kb, _ = corpus
    bm25 = build.make_retriever(settings, kb, mode="bm25", k=5)
    docs = bm25.invoke("Who is the author of LangChain?")
    assert any("Harrison Chase" in d.page_content for d in docs)
    assert "作者" in bm25._translated("Who is the author of LangChain?")


def test_a_rare_name_finds_its_table_row_whatever_else_the_question_says(corpus):
    settings, kb, _ = corpus
    hybrid = build.make_retriever(settings, kb, k=5)
    docs = hybrid.invoke("What parameter count does the RLHF model table give for Sparrow?")
    assert any("Sparrow" in d.page_content for d in docs[:5])


def test_stored_tokens_of_older_rules_are_made_again_on_open_without_embedding(tmp_path, caplog):
    settings = Settings(data_dir=tmp_path / "data", embedder="fake:32")
    kb = build.open_kb(settings)
    ingest(kb, [CORPUS / "llm-and-langchain-basics.md"], split=build.split_options(settings))
    kb.conn.execute("UPDATE lex_tokenizers SET signature = 'older-rules'")
    kb.conn.commit()
    assert LexicalIndex(kb.conn, kb=kb.name, tokenizer=build.tokenizer(settings)).stale()
    with caplog.at_level(logging.WARNING, logger="ragkit"):
        reopened = build.open_kb(settings)
    assert "tokenizing" in caplog.text or "重新分词" in caplog.text
    assert not reopened.lexical.stale() and reopened.lexical.search("ChatGLM 显存", k=1)
