"""LangChain's standard chat model suites for the chat models ragkit defines.

The extractive and scripted models are text-only (no tool calling, no structured output, no images): the
suites skip those tests themselves from the capability properties; the scripted tool-calling model declares
tool calling. The GGUF model class runs the same suites in test_gguf.py.
"""

from __future__ import annotations

from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests

from ragkit.providers.extractive import ExtractiveChatModel
from langchain_core.messages import AIMessage

from ragkit.providers.fake import ScriptedChatModel, ScriptedToolChatModel


class _Extractive:
    @property
    def chat_model_class(self) -> type[ExtractiveChatModel]:
        return ExtractiveChatModel

    @property
    def chat_model_params(self) -> dict:
        return {"model": "extractive"}

    @property
    def model_override_value(self) -> str:
        return "extractive-2"

    @property
    def has_tool_calling(self) -> bool:  # bind_tools is overridden only to say what an agent needs
        return False

    @property
    def has_structured_output(self) -> bool:
        return False


class TestExtractiveChatModelUnit(_Extractive, ChatModelUnitTests):
    pass


class TestExtractiveChatModelIntegration(_Extractive, ChatModelIntegrationTests):
    pass


class _Scripted:
    @property
    def chat_model_class(self) -> type[ScriptedChatModel]:
        return ScriptedChatModel

    @property
    def chat_model_params(self) -> dict:
        return {"model": "fake", "responses": ["你好，这是脚本回答。", "第二个回答。"]}

    @property
    def model_override_value(self) -> str:
        return "fake-2"


class TestScriptedChatModelUnit(_Scripted, ChatModelUnitTests):
    pass


class TestScriptedChatModelIntegration(_Scripted, ChatModelIntegrationTests):
    pass


class TestScriptedToolChatModelUnit(ChatModelUnitTests):
    """The ``fake:`` tool-calling model: ``bind_tools`` returns a binding carrying the tools' schemas."""

    @property
    def chat_model_class(self) -> type[ScriptedToolChatModel]:
        return ScriptedToolChatModel

    @property
    def chat_model_params(self) -> dict:
        return {"model": "fake-tools", "messages": [AIMessage("好的。")]}

    @property
    def has_tool_calling(self) -> bool:
        return True

    @property
    def has_tool_choice(self) -> bool:
        return True
