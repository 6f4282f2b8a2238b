"""Paired counterfactuals: the same seed without the discovery shares every other random draw."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from aibubble.cli import main
from aibubble.config import load_config
from aibubble.experiments import counterfactual as cf


@pytest.fixture(scope="module")
def pair():
    cfg = load_config("sudden-100x", {"run.steps": 60, "users.n_segments": 500})
    factual, counter = cf.run_pair(cfg, 2)  # a pair with no bankruptcy, so even the exits stream is shared
    assert factual.bankruptcies == counter.bankruptcies == 0
    return factual, counter


def test_pair_shares_every_draw_except_the_discovery(pair):
    factual, counter = pair
    assert factual.config.discovery.jump_size == 100 and counter.config.discovery.jump_size == 1
    jump = factual.config.discovery.jump_month
    pd.testing.assert_frame_equal(factual.model_frame().iloc[:jump], counter.model_frame().iloc[:jump])
    pre = factual.agent_frame()
    post = counter.agent_frame()
    pd.testing.assert_frame_equal(
        pre[pre.step < jump].reset_index(drop=True), post[post.step < jump].reset_index(drop=True)
    )
    for name in ("setup", "users", "architects", "exits"):
        assert factual.streams[name].bit_generator.state == counter.streams[name].bit_generator.state, name
    research = [
        e.loc[e.cause == "research", ["step", "agent_id", "size"]].reset_index(drop=True)
        for e in (factual.events_frame(), counter.events_frame())
    ]
    pd.testing.assert_frame_equal(*research)
    # ... and the discovery does change the world after it lands
    assert not factual.model_frame().iloc[jump + 6 :].equals(counter.model_frame().iloc[jump + 6 :])


def test_pair_stays_in_step_even_when_the_discovery_causes_a_bankruptcy():
    # the hand-set parameters, where this seed's discovery bankrupts a lab (none at the medians)
    cfg = load_config("sudden-100x", {"run.steps": 60, "users.n_segments": 500, "parameters": "none"})
    factual, counter = cf.run_pair(cfg, 1)
    assert factual.bankruptcies != counter.bankruptcies  # the situation this test is about
    assert factual.streams["users"].bit_generator.state == counter.streams["users"].bit_generator.state


def test_differences_are_factual_minus_counterfactual(pair):
    diffs = cf.pair_differences(*pair)
    assert [k for k, *_ in cf.MEASURES] == list(diffs)
    for d in diffs.values():
        assert d["difference"] == pytest.approx(d["factual"] - d["counterfactual"])
    # a 100x open discovery leaves the fleet less used right after it lands
    assert diffs["min_utilization_after_jump"]["difference"] < 0
    assert diffs["final_token_price_usd_per_mtok"]["difference"] < 0
    lines = cf.difference_lines(diffs)
    assert lines[0].split() == ["measure", "factual", "counterfactual", "difference"]
    assert len(lines) == len(cf.MEASURES) + 1


def test_no_discovery_is_refused():
    with pytest.raises(cf.NoDiscoveryError, match="no scripted discovery"):
        cf.counterfactual_config(load_config("baseline"))


def test_the_100x_glut_ends_before_users_or_training_catch_up_with_the_run_without_it():
    """With elasticity < 1 and capability share < 1 neither buyer of compute returns to its path
    without the discovery: users' inference tends to c^(1 - eps) < 1 (ODD 7.6) and training
    budgets shrink by efficiency^(share - 1). The glut ends on growth, and the paired run shows
    how far each had come at its end. Where labs spend 90 % of each gain on capability, seed 1's
    glut ends (month 113, users' inference at 0.70 of its path without the discovery, training
    at 0.34); at 60 %, seed 1's lasts to the end, and the paired run reports how far each buyer
    had come by then (inference 0.16, training 0.05)."""
    for share, seed, ends in ((0.9, 1, True), (0.6, 1, False)):
        cfg = load_config("sudden-100x", {"users.n_segments": 500, "labs.capability_share": share})
        assert cfg.users.demand_elasticity < 1
        factual, counter = cf.run_pair(cfg, seed)
        catch_up = cf.glut_catch_up(factual.model_frame(), factual.summary(), counter.model_frame())
        assert catch_up is not None and catch_up["ended"] is ends
        assert ends or catch_up["month"] == cfg.run.steps
        assert 0 < catch_up["inference_with_over_without"] < 1
        assert 0 < catch_up["training_with_over_without"] < 1
        assert not ends or catch_up["refilled_by"] in {"users", "training", "fleet"}


def test_cli_counterfactual_writes_the_files(tmp_path):
    args = ["run", "sudden-100x", "--seed", "7", "--set", "n_users=300", "--set", "labs.capability_share=0.9"]
    result = CliRunner().invoke(main, [*args, "--counterfactual", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    (folder,) = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    for name in (
        "counterfactual.json",
        "counterfactual.png",
        "counterfactual/model.parquet",
        "counterfactual/summary.json",
    ):
        assert (folder / name).is_file(), name
    data = json.loads((folder / "counterfactual.json").read_text())
    assert data["seed"] == 7
    assert {"capex_total_usd", "write_offs_usd", "months_in_bubble", "final_token_price_usd_per_mtok"} <= set(
        data["measures"]
    )
    counter = pd.read_parquet(folder / "counterfactual" / "model.parquet")
    factual = pd.read_parquet(folder / "model.parquet")
    jump = data["jump_month"]
    pd.testing.assert_frame_equal(factual.iloc[:jump], counter.iloc[:jump])
    assert json.loads((folder / "counterfactual" / "summary.json").read_text())["seed"] == 7
    assert "counterfactual" in result.output and "difference" in result.output
    catch_up = data["glut_catch_up"]  # this seed's discovery gluts, and the glut ends, at share 0.9
    assert catch_up is not None and catch_up["ended"]
    assert f"(month {catch_up['month']}), with / without: users' inference" in result.output


def test_cli_counterfactual_without_discovery_is_one_line_error(tmp_path):
    result = CliRunner().invoke(
        main, ["run", "baseline", "--steps", "3", "--counterfactual", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: ") and len(result.output.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())


def test_point_effects_pair_each_run_with_the_no_discovery_cell_of_the_same_seed():
    rows = []
    for e in (0.5, 1.5):
        for seed in (7, 8):
            for jump in (1.0, 10.0, 100.0):
                rows.append(
                    {
                        "status": "ok",
                        "seed": seed,
                        "jump_size": jump,
                        "demand_elasticity": e,
                        "peak_overcapacity": 0.1 * jump / 100 + e + seed,
                        "months_in_bubble": jump,
                    }
                )
    rows.append({**rows[-1], "status": "failed", "jump_size": 1000.0})
    effects = cf.point_effects(pd.DataFrame(rows), ["jump_size", "demand_elasticity"], "jump_size", 1.0)
    assert len(effects) == 8  # 2 elasticities x 2 seeds x 2 jumps; failed runs are left out
    assert set(effects["jump_size"]) == {10.0, 100.0}
    expected = 0.1 * effects["jump_size"] / 100 - 0.1 * 1.0 / 100
    assert effects["peak_overcapacity_effect"].to_numpy() == pytest.approx(expected.to_numpy())
    assert (effects["months_in_bubble_effect"] == effects["jump_size"] - 1.0).all()
    with pytest.raises(ValueError, match="no finished run"):
        cf.point_effects(pd.DataFrame(rows), ["jump_size", "demand_elasticity"], "jump_size", 2.0)
