"""The README stays true: every setting and provider is documented, the CI runs the README's test command."""

import re

from ragkit.config import Settings
from ragkit.providers import CHAT_PROVIDERS, EMBEDDING_PROVIDERS, RERANK_PROVIDERS
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_configuration_table():
    for name in Settings.model_fields:
        assert f"| `{name}` | `RAGKIT_{name.upper()}`" in README, name


def test_every_provider_is_listed():
    for name in [*EMBEDDING_PROVIDERS, *CHAT_PROVIDERS, *RERANK_PROVIDERS]:
        assert re.search(rf"\| `{name}[:<` ]", README), name


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = re.findall(r"```bash\n(.+?)\n```", README.split("## Quick start")[1].split("##")[0])
    assert len(commands) == 2
    assert commands[1] in ci
