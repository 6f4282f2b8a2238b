"""Shared fixtures: short, reproducible runs of the real model."""

from __future__ import annotations

import pytest

from aibubble import AIMarketModel


def run(scenario: str = "baseline", steps: int | None = None, **kwargs) -> AIMarketModel:
    """Build and step a model through its horizon (or `steps` months)."""
    model = AIMarketModel(scenario=scenario, **kwargs)
    for _ in range(steps or model.config.run.steps):
        model.step()
    return model


# The six scenarios docs/design.md names: the specification the tests hold the shipped files to.
SCENARIOS = [
    "baseline",
    "gradual-10x",
    "sudden-100x",
    "sudden-100x-proprietary",
    "deepseek-2025",
    "demand-mania",
]


@pytest.fixture(scope="session")
def scenario_runs() -> dict[str, AIMarketModel]:
    """Each shipped scenario once at its default seed (shared: runs take ~1 s each)."""
    return {name: run(name) for name in SCENARIOS}
