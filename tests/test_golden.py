"""Refactoring guard: two fixed runs reproduce their saved frames bit for bit.

The frames in tests/golden/ were saved before the "agents decide, markets clear"
restructuring (issue 9). A change that is meant to alter the model's behaviour regenerates
them on purpose, and says so in its commit:

    python -m tests.test_golden
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from aibubble import AIMarketModel

GOLDEN = Path(__file__).parent / "golden"
CASES = ("sudden-100x", "demand-mania")
FRAMES = ("model", "agents", "events")


def _frames(scenario: str) -> dict[str, pd.DataFrame]:
    model = AIMarketModel(scenario=scenario, n_users=2000, rng=7)
    model.run_model()
    # the logged events: the episode rows `events_frame` adds are read from the model frame
    return {"model": model.model_frame(), "agents": model.agent_frame(), "events": model.events.frame()}


@pytest.mark.parametrize("scenario", CASES)
def test_restructured_model_reproduces_saved_frames_bitwise(scenario: str) -> None:
    frames = _frames(scenario)
    for name in FRAMES:
        saved = pd.read_parquet(GOLDEN / f"{scenario}.{name}.parquet")
        pd.testing.assert_frame_equal(frames[name], saved, check_exact=True, obj=f"{scenario} {name}")


def regenerate(out: Path = GOLDEN) -> None:
    out.mkdir(exist_ok=True)
    for scenario in CASES:
        for name, frame in _frames(scenario).items():
            frame.to_parquet(out / f"{scenario}.{name}.parquet")


if __name__ == "__main__":
    regenerate(Path(sys.argv[1]) if len(sys.argv) > 1 else GOLDEN)
