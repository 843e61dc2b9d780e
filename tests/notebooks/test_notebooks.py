"""Every notebook runs top to bottom, offline, on the defaults, from a fresh data directory."""

from __future__ import annotations

import os

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import NONET, ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_four_notebooks_are_there():
    assert [p.name for p in NOTEBOOKS] == ["01_quickstart.ipynb", "02_compose_chains.ipynb", "03_agent_tools.ipynb",
                                           "04_evaluate.ipynb"]


@pytest.mark.allow_hosts(["127.0.0.1"])  # the kernel talks to this process over loopback
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path):
    notebook = nbformat.read(path, as_version=4)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGKIT_")}
    env.update(RAGKIT_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(NONET),
               RAGKIT_NONET_LOG=str(tmp_path / "network.log"), MPLBACKEND="Agg")
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=env)
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    assert "added 5" in text  # each notebook ingested the corpus into its fresh data directory
    assert not (tmp_path / "network.log").exists()
    if path.stem == "04_evaluate":
        assert any("image/png" in o.get("data", {}) for o in outputs)
