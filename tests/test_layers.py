"""The layering the code promises: agents decide, markets clear, and the core stands alone."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

from aibubble import AIMarketModel
from aibubble.measures import SERIES

ROOT = Path(__file__).resolve().parent.parent

BLOCKING_RUN = textwrap.dedent(
    """
    import importlib.abc, sys

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] in ("click", "matplotlib", "solara"):
                raise ImportError(f"the simulation core imported {name}")
            return None

    sys.meta_path.insert(0, Block())
    from aibubble import AIMarketModel
    model = AIMarketModel(scenario="sudden-100x", n_users=500, steps=6, jump_month=3)
    model.run_model()
    model.summary()
    layers = ("aibubble.experiments", "aibubble.cli", "aibubble.page")
    tooling = sorted(m for m in sys.modules if m.startswith(layers))
    assert not tooling, tooling
    # everything is imported through the one namespace, never as the folders' generic names
    generic = sorted(m for m in sys.modules if m.split(".")[0] in ("model", "agents", "config"))
    assert not generic, generic
    print("ran", model.steps)
    """
)


def test_the_core_builds_and_runs_without_click_matplotlib_or_solara():
    done = subprocess.run(
        [sys.executable, "-c", BLOCKING_RUN], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ran 6"


def _foreign_assignments(path: Path) -> list[str]:
    """`x.attr = ...` / `x.attr += ...` where x is not `self`: writes into another object's state."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        for target in targets:
            if isinstance(target, ast.Attribute) and not (
                isinstance(target.value, ast.Name) and target.value.id == "self"
            ):
                found.append(f"{path.name}:{node.lineno} {ast.unparse(target)}")
    return found


def test_the_model_writes_no_agent_state_its_step_is_the_schedule():
    assert _foreign_assignments(ROOT / "model" / "market.py") == []


def test_every_declared_series_is_measured_and_nothing_else():
    model = AIMarketModel(n_users=500, steps=2)
    model.run_model()
    assert list(model.metrics) == list(SERIES)
    assert list(model.model_frame().columns) == list(SERIES)
