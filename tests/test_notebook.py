"""The quickstart notebook runs from top to bottom, so it never rots (nbclient, a real kernel)."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "quickstart.ipynb"


def test_the_quickstart_notebook_runs_and_shows_what_it_says(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit it without outputs"
    # in a temporary folder: the sweep it runs lands there, not in the checkout
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    text = "\n".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
    images = sum(
        "image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )
    assert "P(bubble | sudden-100x) = " in text and "[" in text.split("P(bubble | sudden-100x) = ")[1]
    assert "9 of 9 runs finished" in text
    assert "thresholds.csv" in text and "glut_onset" in text
    assert images == 3  # the dashboard, the comparison and the sweep's response curve
    assert (tmp_path / "sweeps").is_dir()
