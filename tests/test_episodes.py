"""Glut episodes: found exactly on constructed series, counted from onset, bursts only in a glut."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aibubble import AIMarketModel
from aibubble.config import BubbleConfig
from aibubble.episodes import (
    ROBUST_IMPAIRMENT,
    ROBUST_PERSISTENCE,
    ROBUST_UTILIZATION,
    find_episodes,
    glut_runs,
    threshold_grid,
)


def frame(
    util: list[float], capex_drawdown: list[float] | None = None, impairment: float = 0.0
) -> pd.DataFrame:
    """A model frame with what the detector reads; demand is below capacity whenever idle."""
    n = len(util)
    u = np.asarray(util, float)
    capacity = np.full(n, 100.0)
    return pd.DataFrame(
        {
            "utilization": u,
            "installed_capacity_h100e": capacity,
            "compute_used_h100e": u * capacity,
            "weak_demand": u < 1.0,
            "book_value_usd": np.full(n, 1000.0),
            "stranded_book_value_usd": 1000.0 * (1 - u),
            "impairment_usd": np.where(u < 0.6, impairment, 0.0),
            "write_offs_failure_usd": np.full(n, 1.0),
            "write_offs_retirement_usd": np.zeros(n),
            "write_offs_default_usd": np.zeros(n),
            "capex_drawdown": np.zeros(n) if capex_drawdown is None else np.asarray(capex_drawdown, float),
        },
        index=pd.RangeIndex(n, name="step"),
    )


@pytest.mark.parametrize(
    "glut, min_months, gap, runs",
    [
        ("..####....", 3, 0, [(2, 5)]),
        ("..##......", 3, 0, []),  # a blip is not a glut
        ("###.###...", 3, 0, [(0, 2), (4, 6)]),
        ("###.###...", 3, 1, [(0, 6)]),  # a one-month recovery does not end it
        ("##..##....", 3, 2, [(0, 5)]),  # runs too short alone, one glut when joined
        ("....######", 6, 0, [(4, 9)]),  # still running at the end
        ("..........", 1, 0, []),
    ],
)
def test_glut_runs_are_found_exactly(glut, min_months, gap, runs):
    assert glut_runs(np.array([c == "#" for c in glut]), min_months, gap) == runs


def test_an_episode_has_its_onset_duration_from_onset_and_depth():
    util = [0.9] * 10 + [0.5, 0.3, 0.2, 0.4, 0.55, 0.5, 0.59, 0.58] + [0.9] * 10
    cfg = BubbleConfig(persistence_months=6, merge_gap_months=0, impairment_share_threshold=0.1)
    (e,) = find_episodes(frame(util, impairment=20.0), cfg)
    assert (e.onset, e.end, e.duration_months, e.ongoing) == (10, 17, 8, False)  # all 8 months
    assert e.min_utilization == pytest.approx(0.2)
    assert e.max_idle_h100e == pytest.approx(80.0)
    assert e.max_stranded_book_usd == pytest.approx(800.0)
    assert e.impairment_usd == pytest.approx(160.0) and e.failure_usd == pytest.approx(8.0)
    assert e.bubble  # 160 impaired >= 10% of the 1000 book at onset


def test_a_glut_that_impairs_little_is_a_glut_not_a_bubble():
    util = [0.9] * 5 + [0.4] * 8 + [0.9] * 5
    cfg = BubbleConfig(impairment_share_threshold=0.1)
    (e,) = find_episodes(frame(util, impairment=10.0), cfg)  # 80 of 1000: 8%
    assert not e.bubble
    (e,) = find_episodes(frame(util, impairment=12.5), cfg)  # 100 of 1000: 10%
    assert e.bubble


def test_scarcity_never_counts_as_a_burst():
    util = [1.0] * 30
    drawdown = [0.0] * 10 + [0.9] * 20  # capex collapses while every GPU is busy
    assert find_episodes(frame(util, drawdown), BubbleConfig()) == []
    util = [1.0] * 5 + [0.3] * 8 + [1.0] * 30
    late = [0.0] * 30 + [0.9] * 13  # a collapse long after the glut is over
    (e,) = find_episodes(frame(util, late), BubbleConfig())
    assert not e.burst
    soon = [0.0] * 15 + [0.9] * 28  # within 12 months of its end: the glut's own wake
    (e,) = find_episodes(frame(util, soon), BubbleConfig())
    assert e.burst


def test_a_100x_glut_is_measured_from_onset_and_write_offs_add_up_by_cause():
    # labs that spend half of each gain on cost: the discovery gluts (at the calibrated
    # capability share, 0.85, it gluts in few seeds)
    model = AIMarketModel(
        scenario="sudden-100x", n_users=2000, rng=1, overrides={"labs.capability_share": 0.5}
    )
    model.run_model()
    df, summary = model.model_frame(), model.summary()
    by_cause = [
        "write_offs_failure_usd",
        "write_offs_retirement_usd",
        "impairment_usd",
        "write_offs_default_usd",
    ]
    np.testing.assert_allclose(df[by_cause].sum(axis=1), df["write_downs_usd"], rtol=1e-12, atol=1e-3)
    assert sum(summary[k] for k in by_cause) == pytest.approx(summary["write_offs_usd"])
    (episode,) = summary["episodes"]
    below = np.flatnonzero(df["glut"].to_numpy())
    assert episode["onset"] == below[0] > model.config.discovery.jump_month
    assert summary["glut_months"] == episode["duration_months"] == below[-1] - below[0] + 1
    assert episode["min_utilization"] == pytest.approx(df["utilization"].min())


@pytest.mark.xfail(
    strict=True,
    reason="at the calibrated medians a 10x open shock in January 2025 brings no glut at once, "
    "but every one of seeds 1-10 (2000 users) gluts and bursts years later (months 54-103) from "
    "the build-out, as the baseline gluts in all of the same seeds; a stylised fact needs 8 calm. "
    "The calibration's own DeepSeek moment is on the edge (2025 capex 0.96x without the shock, "
    "against 1-1.5x: docs/calibration)",
)
def test_deepseek_brings_neither_a_glut_nor_a_burst():
    """Stylised fact 1 over seeds: capacity is refilled, so whatever capex does it is no
    burst (a capex cut in scarcity never is one: test_scarcity_never_counts_as_a_burst)."""
    calm = []
    for seed in range(1, 11):
        model = AIMarketModel(scenario="deepseek-2025", n_users=2000, rng=seed)
        model.run_model()
        summary = model.summary()
        calm.append(not summary["glut"] and not summary["burst"])
    assert sum(calm) >= 8, calm


def test_the_efficiency_elasticity_is_the_long_run_log_ratio_of_the_pair_over_log_gain():
    from aibubble.metrics import efficiency_elasticity

    without = pd.DataFrame({"compute_demand_h100e": np.linspace(100.0, 400.0, 60)})
    with_d = without.copy()
    with_d.iloc[-24:] *= 100.0**0.1  # the last two years 100^0.1 higher: elasticity 0.1
    with_d.iloc[:-24] *= 0.01  # a deep glut earlier does not count in the long run
    assert efficiency_elasticity(with_d, without, 100.0) == pytest.approx(0.1)
    assert efficiency_elasticity(with_d, without, 1.0) is None


def test_the_same_frame_read_at_other_thresholds_gives_their_episodes():
    util = [0.9] * 5 + [0.55] * 4 + [0.45] * 8 + [0.9] * 5
    df = frame(util, impairment=20.0)
    assert [e.duration_months for e in find_episodes(df, BubbleConfig(utilization_threshold=0.6))] == [12]
    assert [e.duration_months for e in find_episodes(df, BubbleConfig(utilization_threshold=0.5))] == [8]
    assert find_episodes(df, BubbleConfig(utilization_threshold=0.5, persistence_months=9)) == []


def _run_lengths(mask: np.ndarray) -> np.ndarray:
    """Lengths of the runs of True in a boolean series."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
    return edges[1::2] - edges[::2]


def test_the_run_reads_its_own_glut_series_at_its_own_thresholds():
    """Each episode is the glut months that persist, gaps of at most `merge_gap_months` bridged;
    episodes are separated by recoveries longer than a merge gap, and a glut month outside
    every episode belongs to a dip too short to count. Where labs spend 95 % of each gain on
    capability, seed 4 has two episodes (months 85-104, and 109 to the end) and seed 2 one
    (months 93-100), then a glut too short to count."""
    for share, seed, count in ((0.95, 4, 2), (0.95, 2, 1)):
        model = AIMarketModel(
            scenario="sudden-100x", n_users=2000, rng=seed, overrides={"labs.capability_share": share}
        )
        model.run_model()
        df = model.model_frame()
        cfg = model.config.bubble
        episodes = find_episodes(df, cfg)
        assert len(episodes) == count
        glut = df["glut"].to_numpy()
        outside = glut.copy()
        for episode in episodes:
            assert glut[episode.onset] and glut[episode.end]
            assert (_run_lengths(~glut[episode.onset : episode.end + 1]) <= cfg.merge_gap_months).all()
            assert not glut[episode.end + 1 : episode.end + cfg.merge_gap_months + 2].any()
            outside[episode.onset : episode.end + 1] = False
        assert (_run_lengths(outside) < cfg.persistence_months).all()  # only short dips
        assert outside.any() == (count == 1)  # seed 2's short glut does not count


def test_an_episode_is_dated_when_it_becomes_a_bubble_and_when_capex_bursts():
    util = [0.9] * 10 + [0.5] * 8 + [0.9] * 14
    drawdown = [0.0] * 20 + [0.3, 0.45, 0.5] + [0.0] * 9  # reached two months after the end
    cfg = BubbleConfig(persistence_months=6, merge_gap_months=0, impairment_share_threshold=0.1)
    (e,) = find_episodes(frame(util, drawdown, impairment=20.0), cfg)
    # 20 a month against a book of 1000: 10 % after five months of impairment
    assert (e.bubble_month, e.burst_month) == (14, 21)
    assert e.bubble and e.burst


def test_every_episode_tells_its_story_in_the_event_log_of_the_run():
    model = AIMarketModel(
        scenario="sudden-100x", n_users=2000, rng=4, overrides={"labs.capability_share": 0.95}
    )
    model.run_model()
    events = model.events_frame()
    assert events["step"].is_monotonic_increasing
    episodes = model.summary()["episodes"]
    assert len(episodes) == 2  # seed 4: a glut that ends, then one that lasts to the end of the run
    assert not episodes[0]["ongoing"] and episodes[1]["ongoing"]
    story = events[events["agent_type"] == "market"]
    expected = []
    for episode in episodes:
        expected += [("glut_onset", episode["onset"])]
        expected += [("bubble", episode["bubble_month"])] if episode["bubble"] else []
        expected += [("burst", episode["burst_month"])] if episode["burst"] else []
        expected += [] if episode["ongoing"] else [("glut_end", episode["end"])]
    assert sorted(zip(story["kind"], story["step"], strict=True)) == sorted(expected)
    assert model.summary()["events"]["glut_onset"] == len(episodes)


def test_the_baseline_event_log_has_no_glut_story():
    model = AIMarketModel(scenario="baseline", n_users=2000, rng=2, steps=36)
    model.run_model()
    assert not (model.events_frame()["agent_type"] == "market").any()


def test_the_threshold_grid_reads_the_run_again_at_each_threshold():
    util = [0.9] * 5 + [0.55] * 4 + [0.45] * 8 + [0.9] * 5
    df = frame(util, impairment=20.0)
    shipped = BubbleConfig()
    rows = threshold_grid(df, shipped)
    grid = {
        (r["persistence_months"], r["utilization_threshold"], r["impairment_share_threshold"]): r
        for r in rows
    }
    assert (
        len(rows)
        == len(grid)
        == len(ROBUST_PERSISTENCE) * len(ROBUST_UTILIZATION) + len(ROBUST_IMPAIRMENT) - 1
    )
    at = shipped.impairment_share_threshold
    assert grid[(6, 0.5, at)]["glut"] and not grid[(9, 0.5, at)]["glut"]  # 8 months below 50 %
    assert grid[(12, 0.6, at)]["glut"]  # 12 months below 60 %
    # 8 months x 20 = 160 against a book of 1000 at 12 months below 60 %: bubble at 10 %, not at 25 %
    p, u = shipped.persistence_months, shipped.utilization_threshold
    assert grid[(p, u, 0.1)]["bubble"] and not grid[(p, u, 0.25)]["bubble"]


def test_the_idle_capacity_a_glut_closes_splits_exactly_into_users_training_and_fleet():
    """From the lowest utilization to the month after the end: inference +30, training +10 and
    20 H100e fewer in service close 60 H100e of idle capacity: 1/2, 1/6 and 1/3."""
    util = [0.9, 0.9, 0.3, 0.2, 0.3, 0.4, 0.5, 0.55, 0.9, 0.9]
    df = frame(util)
    installed = np.array([100, 100, 100, 100, 100, 100, 100, 100, 80, 80], float)
    inference = np.array([60, 60, 20, 15, 20, 25, 30, 35, 45, 45], float)
    training = np.array([30, 30, 10, 5, 10, 15, 20, 20, 15, 15], float)
    df = df.assign(
        installed_capacity_h100e=installed,
        inference_used_h100e=inference,
        training_used_h100e=training,
        compute_used_h100e=inference + training,
        utilization=(inference + training) / installed,
    )
    (e,) = find_episodes(df, BubbleConfig(persistence_months=3, merge_gap_months=0))
    assert (e.onset, e.end) == (2, 7)
    assert e.refill_users_share == pytest.approx(0.5)
    assert e.refill_training_share == pytest.approx(1 / 6)
    assert e.refill_fleet_share == pytest.approx(1 / 3)
    assert e.refilled_by == "users"
    assert e.as_dict()["refilled_by"] == "users"


def test_a_glut_still_deepening_at_the_end_closed_nothing_and_says_so():
    df = frame([0.9, 0.5, 0.4, 0.3, 0.2])
    df = df.assign(inference_used_h100e=df["compute_used_h100e"], training_used_h100e=0.0)
    (e,) = find_episodes(df, BubbleConfig(persistence_months=3, merge_gap_months=0))
    assert e.ongoing and e.refill_users_share is None and e.refilled_by is None
