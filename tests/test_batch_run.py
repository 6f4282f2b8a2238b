"""mesa.batch_run drives AIMarketModel: in parallel or not, the same runs give the same numbers.

batch_run builds each run as `AIMarketModel(**params, rng=seed)` in a spawned process, steps
it until `running` is False or `max_steps`, and returns one row per agent of the last
collected step (the model has agent-type reporters), each row carrying the model-level
measures next to that agent's own. Rows of parallel runs arrive in any order.
"""

from __future__ import annotations

import multiprocessing

import mesa
import pandas as pd
import pytest

from aibubble import AIMarketModel

STEPS = 24
PARAMETERS = {
    "scenario": "sudden-100x",
    "jump_size": [1.0, 100.0],
    "jump_month": 6,  # the scenario's month 36 lies beyond a 24-month run
    "steps": STEPS,
    "n_users": 2000,
}
SEED = 1
# model-level measures that no agent reporter shares a name with
UNSHADOWED = [
    "frontier_efficiency",
    "installed_capacity_h100e",
    "compute_demand_h100e",
    "spot_price_usd_per_gpu_hour",
]


def batch(number_processes: int) -> pd.DataFrame:
    """The batch run as a frame sorted by run and agent, so row order does not matter."""
    start_method = multiprocessing.get_start_method(allow_none=True)
    try:
        rows = mesa.batch_run(
            AIMarketModel,
            parameters=PARAMETERS,
            number_processes=number_processes,
            max_steps=STEPS,
            data_collection_period=-1,
            display_progress=False,
            rng=[SEED],  # batch_run refuses `iterations` together with `rng`
        )
    finally:  # batch_run forces "spawn" for the whole test process: put it back
        multiprocessing.set_start_method(start_method, force=True)
    return pd.DataFrame(rows).sort_values(["RunId", "AgentID"]).reset_index(drop=True)


def direct(jump_size: float) -> AIMarketModel:
    """The same run built and stepped by hand, as batch_run does it."""
    m = AIMarketModel(**{**PARAMETERS, "jump_size": jump_size}, rng=SEED)
    while m.running and m.steps < STEPS:
        m.step()
    return m


@pytest.fixture(scope="module")
def parallel() -> pd.DataFrame:
    return batch(number_processes=2)


@pytest.fixture(scope="module")
def serial() -> pd.DataFrame:
    return batch(number_processes=1)


def test_batch_run_makes_one_run_per_jump_size_at_the_last_step(parallel):
    runs = parallel.groupby("RunId")
    assert runs.ngroups == 2
    assert sorted(runs["jump_size"].first()) == [1.0, 100.0]
    assert (parallel["Step"] == STEPS).all()
    assert (parallel["scenario"] == "sudden-100x").all()


def test_each_run_has_one_row_per_strategic_agent(parallel):
    m = direct(1.0)
    strategic = sum(len(m.agents_by_type[cls]) for cls in m.datacollector.agenttype_reporters)
    assert (parallel.groupby("RunId").size() == strategic).all()


def test_model_level_measures_are_the_same_on_every_row_of_a_run(parallel):
    for _, run in parallel.groupby("RunId"):
        for column in UNSHADOWED:
            assert run[column].nunique(dropna=False) == 1, column


def test_batch_rows_hold_the_model_level_measures_of_a_direct_run(parallel):
    for jump_size, run in parallel.groupby("jump_size"):
        last = direct(jump_size).model_frame().iloc[-1]
        for column in UNSHADOWED:
            assert run[column].iloc[0] == pytest.approx(last[column], rel=1e-12), column


def test_a_100x_discovery_shows_in_the_batch_results(parallel):
    frontier = parallel.groupby("jump_size")["frontier_efficiency"].first()
    assert frontier[100.0] == pytest.approx(100 * frontier[1.0], rel=0.5)


def test_two_processes_and_one_give_identical_numbers(parallel, serial):
    pd.testing.assert_frame_equal(parallel, serial)


def test_every_row_of_a_run_carries_every_model_level_measure(parallel):
    for jump_size, run in parallel.groupby("jump_size"):
        last = direct(jump_size).model_frame().iloc[-1]
        for column, expected in last.items():
            assert run[column].to_numpy(float) == pytest.approx(float(expected), rel=1e-12, nan_ok=True), (
                column
            )


def test_model_stops_running_after_its_configured_steps():
    m = AIMarketModel(steps=12, n_users=500)
    for _ in range(11):
        m.step()
        assert m.running
    m.step()
    assert not m.running
    assert m.steps == 12
    assert len(m.model_frame()) == 13  # month 0 plus 12 steps
