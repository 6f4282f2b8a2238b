"""Refactoring guard: two fixed runs reproduce their saved frames to the last bits.

The frames in tests/golden/ were saved before the "agents decide, markets clear"
restructuring (issue 9). A change that is meant to alter the model's behaviour regenerates
them on purpose, and says so in its commit:

    python -m tests.test_golden

On one machine a run repeats bit for bit. Across processors numpy's vectorised exp and log
(SIMD paths chosen at run time: AVX2, AVX-512) may differ in the last bit, so the frames are
compared to 1e-11 relative (`assert_frames_agree`): on the same package versions, a new machine
left the frames 2e-13 apart at most, while any change of behaviour moves them by far more.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aibubble import AIMarketModel
from aibubble.measures import SERIES

GOLDEN = Path(__file__).parent / "golden"
CASES = ("sudden-100x", "demand-mania")
FRAMES = ("model", "agents", "events")


def _frames(scenario: str) -> dict[str, pd.DataFrame]:
    model = AIMarketModel(scenario=scenario, n_users=2000, rng=7)
    model.run_model()
    # the logged events: the episode rows `events_frame` adds are read from the model frame
    return {"model": model.model_frame(), "agents": model.agent_frame(), "events": model.events.frame()}


@pytest.mark.parametrize("scenario", CASES)
def test_restructured_model_reproduces_saved_frames_to_the_last_bits(scenario: str) -> None:
    frames = _frames(scenario)
    for name in FRAMES:
        saved = pd.read_parquet(GOLDEN / f"{scenario}.{name}.parquet")
        assert_frames_agree(frames[name], saved, f"{scenario} {name}")


def _scale(frame: pd.DataFrame, column: str) -> float:
    """The largest value of the column, or of every model series in the same unit (unmet demand
    is a difference of two compute figures, so its rounding is theirs)."""
    unit = SERIES[column].unit if column in SERIES else None
    same = [c for c in frame.columns if c == column or (unit and c in SERIES and SERIES[c].unit == unit)]
    values = np.abs(frame[same].to_numpy(float))
    return float(np.nanmax(values)) if np.isfinite(values).any() else 0.0


def assert_frames_agree(new: pd.DataFrame, saved: pd.DataFrame, what: str) -> None:
    """Same columns, index and types; floats to 1e-11 relative, with an absolute floor of 1e-11
    of the largest value in their unit; everything else exactly."""
    assert list(new.columns) == list(saved.columns), what
    pd.testing.assert_index_equal(new.index, saved.index)
    for column in saved.columns:
        a, b = new[column], saved[column]
        assert a.dtype == b.dtype, (what, column)
        if a.dtype.kind == "f":
            x, y = a.to_numpy(), b.to_numpy()
            close = np.isclose(x, y, rtol=1e-11, atol=1e-11 * _scale(saved, column), equal_nan=True)
            assert close.all(), f"{what}: {column} differs first at row {int(np.flatnonzero(~close)[0])}"
        else:
            pd.testing.assert_series_equal(a, b, check_exact=True, obj=f"{what} {column}")


def regenerate(out: Path = GOLDEN) -> None:
    out.mkdir(exist_ok=True)
    for scenario in CASES:
        for name, frame in _frames(scenario).items():
            frame.to_parquet(out / f"{scenario}.{name}.parquet")


if __name__ == "__main__":
    regenerate(Path(sys.argv[1]) if len(sys.argv) > 1 else GOLDEN)
