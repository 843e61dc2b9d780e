"""Every usage example in a docstring runs."""

import doctest
import importlib
import pkgutil

import pytest

import ragkit

MODULES = sorted(m.name for m in pkgutil.walk_packages(ragkit.__path__, "ragkit.") if m.name != "ragkit.__main__")


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
