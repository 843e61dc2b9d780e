import sqlite3

from langchain_core.messages import AIMessage, HumanMessage

from ragkit.memory import Conversations, recent


def test_history_survives_a_new_connection(tmp_path):
    path = tmp_path / "ragkit.sqlite"
    first = Conversations(sqlite3.connect(path))
    first.history("s1", kb="kb").add_messages([
        HumanMessage("LLaMA 的参数规模？"), AIMessage("7B 到 70B。[1]", additional_kwargs={"citations": [{"n": 1}]})])
    again = Conversations(sqlite3.connect(path))
    messages = again.history("s1").messages
    assert [m.content for m in messages] == ["LLaMA 的参数规模？", "7B 到 70B。[1]"]
    assert messages[1].additional_kwargs["citations"] == [{"n": 1}]
    assert [(s.id, s.kb, s.title, s.messages) for s in again.list()] == [("s1", "kb", "LLaMA 的参数规模？", 2)]


def test_sessions_are_separate_and_listed_newest_first(tmp_path):
    store = Conversations(sqlite3.connect(tmp_path / "db"))
    store.history("a").add_messages([HumanMessage("一"), AIMessage("1")])
    store.history("b", kb="other").add_messages([HumanMessage("二"), AIMessage("2")])
    assert [m.content for m in store.history("a").messages] == ["一", "1"]
    assert [s.id for s in store.list()] == ["b", "a"]
    assert [s.id for s in store.list(kb="other")] == ["b"]
    store.delete("b")
    assert [s.id for s in store.list()] == ["a"] and store.history("b").messages == []


def test_recent_respects_turn_and_character_budgets():
    turns = []
    for i in range(6):
        turns += [HumanMessage(f"问题{i}" + "长" * 50), AIMessage(f"回答{i}" + "长" * 50)]
    assert len(recent(turns, max_turns=2)) == 4
    assert recent(turns, max_turns=2)[0].content.startswith("问题4")
    assert len(recent(turns, max_turns=10, max_chars=250)) == 4  # two turns of ~110 characters fit
    assert recent(turns, max_turns=0) == []
    assert recent([], max_turns=3) == []
