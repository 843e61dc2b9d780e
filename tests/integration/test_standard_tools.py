"""LangChain's standard tool suites for every agent tool."""

from __future__ import annotations

import pytest
from langchain_tests.integration_tests import ToolsIntegrationTests
from langchain_tests.unit_tests import ToolsUnitTests

from ragkit import build
from ragkit.config import Settings
from ragkit.ingest import ingest
from ragkit.tools import PassageLedger, calculator_tool, date_tool, list_tool, search_tool, section_tool
from tests.conftest import CORPUS


@pytest.fixture(scope="module")
def knowledge(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("tools"), embedder="fake:32")
    kb = build.open_kb(settings)
    ingest(kb, [CORPUS], split=build.split_options(settings))
    return kb, build.make_retriever(settings, kb), PassageLedger(kb.conn, "standard-tests")


class _ToolSuite:
    """Each suite gets its tool from the module's knowledge base (set by the autouse fixture)."""

    built = None

    @pytest.fixture(autouse=True)
    def _bind(self, knowledge):
        kb, retriever, ledger = knowledge
        type(self).built = self.make(kb, retriever, ledger)

    @property
    def tool_constructor(self):
        return type(self).built


class _Search(_ToolSuite):
    make = staticmethod(lambda kb, retriever, ledger: search_tool(retriever, ledger))

    @property
    def tool_invoke_params_example(self) -> dict:
        return {"query": "ChatGLM 显存", "k": 2}


class TestSearchToolUnit(_Search, ToolsUnitTests):
    pass


class TestSearchToolIntegration(_Search, ToolsIntegrationTests):
    pass


class _List(_ToolSuite):
    make = staticmethod(lambda kb, retriever, ledger: list_tool(kb))

    @property
    def tool_invoke_params_example(self) -> dict:
        return {}


class TestListToolUnit(_List, ToolsUnitTests):
    pass


class TestListToolIntegration(_List, ToolsIntegrationTests):
    pass


class _Section(_ToolSuite):
    make = staticmethod(lambda kb, retriever, ledger: section_tool(kb, ledger))

    @property
    def tool_invoke_params_example(self) -> dict:
        return {"source": "llm-and-langchain-basics.md", "heading": "2. GLM 系列"}


class TestSectionToolUnit(_Section, ToolsUnitTests):
    pass


class TestSectionToolIntegration(_Section, ToolsIntegrationTests):
    pass


class _Calculator(_ToolSuite):
    make = staticmethod(lambda kb, retriever, ledger: calculator_tool())

    @property
    def tool_invoke_params_example(self) -> dict:
        return {"expression": "1.8万亿 / 1750亿"}


class TestCalculatorToolUnit(_Calculator, ToolsUnitTests):
    pass


class TestCalculatorToolIntegration(_Calculator, ToolsIntegrationTests):
    pass


class _Date(_ToolSuite):
    make = staticmethod(lambda kb, retriever, ledger: date_tool())

    @property
    def tool_invoke_params_example(self) -> dict:
        return {}


class TestDateToolUnit(_Date, ToolsUnitTests):
    pass


class TestDateToolIntegration(_Date, ToolsIntegrationTests):
    pass


def test_tool_results_are_what_the_docstrings_promise(knowledge):
    kb, retriever, ledger = knowledge
    assert "llm-tracking.md (" in list_tool(kb).invoke({})
    assert list_tool(kb).invoke({"kb": "nope"}).startswith("knowledge base 'nope' has no documents")
    section = section_tool(kb, ledger).invoke({"source": "llm-and-langchain-basics.md", "heading": "2. GLM 系列"})
    assert "7G 显存" in section and "ChatGLM 2" in section  # the whole section, its chunks joined
    found = search_tool(retriever, ledger).invoke({"query": "ChatGLM 显存", "source": "llm-tracking.md"})
    assert all("(llm-tracking.md" in line for line in found.splitlines() if line.startswith("["))
    assert date_tool(lambda: __import__("datetime").date(2026, 11, 26)).invoke({}) == "2026-11-26 (Thursday)"
