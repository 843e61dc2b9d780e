"""Hostile input to small pieces (issue #11): the calculator, names shown on one line, deep and preformatted HTML."""

from __future__ import annotations

import time

import pytest
from langchain_core.tools import ToolException

from ragkit.errors import shown
from ragkit.tools import calculate, calculator_tool, section_tool


# 5. the calculator


@pytest.mark.parametrize("expression,value", [("10 % 3", 1), ("10%3", 1), ("(7 + 2) % 4", 1), ("50% * 8", 4),
                                              ("25%", 0.25), ("12.5% + 1", 1.125)])
def test_percent_is_the_remainder_between_operands_and_a_percentage_after_a_number(expression, value):
    assert calculate(expression) == value


@pytest.mark.parametrize("expression", ["1" * 10_000, "1" * 10_000 + " * " + "9" * 10_000, "9" * 40 + " + 1",
                                        "1" + " * 999999999" * 60, "(10 ** 60) ** 20", "9" * 29 + " ** 64"])
def test_huge_operands_are_refused_at_once(expression):
    started = time.perf_counter()
    with pytest.raises(ToolException, match="longer than|digits|too large"):
        calculate(expression)
    assert time.perf_counter() - started < 1  # was 24 s for the first, 47 s for the second


def test_tool_descriptions_carry_no_example_values_a_small_model_could_copy():
    schema_texts = []
    for tool in (calculator_tool(),):
        schema_texts.append(tool.description)
        schema_texts += [str(p.get("description", "")) for p in tool.args.values()]
    from ragkit.tools import SectionArgs

    schema_texts += [str(f.description) for f in SectionArgs.model_fields.values()]
    text = " ".join(schema_texts)
    assert not any(example in text for example in ("1750", "1.8万亿", "340", "llm-tracking", "GLM", "e.g."))


# 2. names shown on one line


def test_names_are_shown_with_control_characters_and_bad_bytes_escaped():
    assert shown("bad\udcff.md") == "bad\\xff.md"
    assert shown("a\nb\r\x1b[31m.md") == "a\\nb\\r\\x1b[31m.md"
    assert shown("第\u2028二.md") == "第\\u2028二.md"
    assert shown("笔记 (1).md") == "笔记 (1).md"
