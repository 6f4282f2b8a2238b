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


def test_counterfactual_without_the_discovery_shares_every_other_random_draw():
    """Common random numbers: only the discovery (and what it causes) differs."""
    factual = run("sudden-100x-proprietary", steps=60, rng=5)
    counter = run("sudden-100x-proprietary", steps=60, rng=5, jump_size=1.0)
    jump = factual.config.discovery.jump_month
    before = slice(0, jump)  # months before the discovery: the same world
    pd.testing.assert_frame_equal(factual.model_frame().iloc[before], counter.model_frame().iloc[before])
    for name in ("users", "architects"):  # every draw made, in the same number and order
        assert factual.streams[name].bit_generator.state == counter.streams[name].bit_generator.state
    research = [
        e.loc[e.cause == "research", ["step", "agent_id", "size"]].reset_index(drop=True)
        for e in (factual.events_frame(), counter.events_frame())
    ]
    pd.testing.assert_frame_equal(*research)
    assert not factual.model_frame().iloc[jump + 6 :].equals(counter.model_frame().iloc[jump + 6 :])
