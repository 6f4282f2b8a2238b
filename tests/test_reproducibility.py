"""Same config and seed give identical outputs; different seeds give different ones."""

from __future__ import annotations

import pandas as pd

from tests.conftest import run


def test_same_seed_gives_identical_model_agent_and_event_tables():
    a, b = run("sudden-100x", steps=60, rng=7), run("sudden-100x", steps=60, rng=7)
    pd.testing.assert_frame_equal(a.model_frame(), b.model_frame())
    pd.testing.assert_frame_equal(a.agent_frame(), b.agent_frame())
    pd.testing.assert_frame_equal(a.events_frame(), b.events_frame())


def test_different_seeds_give_different_runs():
    a, b = run("baseline", steps=36, rng=1), run("baseline", steps=36, rng=2)
    assert not a.model_frame().equals(b.model_frame())


def test_default_seed_comes_from_the_config():
    a = run("baseline", steps=12)
    b = run("baseline", steps=12, rng=a.config.run.seed)
    pd.testing.assert_frame_equal(a.model_frame(), b.model_frame())
