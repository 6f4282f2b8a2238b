"""Calibration: targets and their moments, a synthetic problem with a known answer, identical
results on Dask and after kill -9 and resume, and one-line errors for bad specs."""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from aibubble.calibration.run import _generations, calibrate
from aibubble.calibration.targets import MOMENTS, Target, load_targets
from aibubble.config import CONFIG_DIR, load_config
from aibubble.market import AIMarketModel

TRUTH = {"hyperscalers.herding": 0.3, "hyperscalers.order_adjustment_months": 3.0}
CLI = [sys.executable, "-m", "aibubble"]


# ------------------------------------------------------------------------------------ targets
def test_a_miss_is_zero_inside_a_range_and_one_at_one_uncertainty() -> None:
    t = Target(
        name="x",
        moment="capex_2024",
        range=(100.0, 200.0),
        unit="USD",
        date="2024",
        source="s",
        uncertainty=0.25,
    )
    assert t.miss(150.0) == 0.0 and t.miss(100.0) == 0.0
    assert t.miss(250.0) == pytest.approx(1.0) and t.miss(80.0) == pytest.approx(1.0)
    assert t.miss(float("nan")) == float("inf") and t.miss(-1.0) == float("inf")
    lin = Target(
        name="y",
        moment="capex_2024",
        value=5.0,
        unit="m",
        date="2024",
        source="s",
        uncertainty=2.0,
        scale="linear",
    )
    assert lin.miss(9.0) == pytest.approx(2.0)


def test_shipped_targets_keep_2026_out_of_sample_and_every_moment_is_a_number() -> None:
    """The out-of-sample rule as a test: a figure dated 2026 or later is never fitted."""
    targets = load_targets("record-2023-2025")
    sources = Path(__file__).resolve().parents[1] / "docs" / "sources.md"
    entries = set(re.findall(r"^#+ ([a-z0-9-]+)$", sources.read_text(), flags=re.M))
    for t in targets.targets:
        years = [int(y) for y in re.findall(r"20\d\d", t.date)]
        assert t.out_of_sample == (max(years) >= 2026), t.name
        cited = re.findall(r"sources\.md#([a-z0-9-]+)", t.source)
        assert cited and set(cited) <= entries, (t.name, cited)
    months = targets.months(targets.targets)
    frames = {}
    for role, scenario in (("baseline", "baseline"), ("deepseek", "deepseek-2025")):
        model = AIMarketModel(config=load_config(scenario, {"run.steps": months}), rng=0)
        model.run_model()
        frames[role] = model.model_frame()
    moments = targets.moments(frames, targets.targets)
    assert all(np.isfinite(v) and v > 0 for v in moments.values()), moments
    assert np.isfinite(targets.distance(moments))
    assert set(MOMENTS) >= {t.moment for t in targets.targets}


# ------------------------------------------------------------------------------------ synthetic
def _synthetic(folder: Path, generations: int = 3, population: int = 30) -> Path:
    """A spec and targets made by the model itself at TRUTH (mean of three seeds)."""
    folder.mkdir(parents=True, exist_ok=True)
    values = {"capex_2024": [], "rent_oct_2024": [], "lead_time_2024": []}
    for seed in (101, 102, 103):
        model = AIMarketModel(config=load_config("baseline", {"run.steps": 12, **TRUTH}), rng=seed)
        model.run_model()
        f = model.model_frame()
        values["capex_2024"].append(float(f["capex_usd"].sum()))
        values["rent_oct_2024"].append(float(f["spot_price_usd_per_gpu_hour"].iloc[9]))
        values["lead_time_2024"].append(float(f["gpu_lead_time_months"].iloc[0:12].mean()))
    targets = {
        "name": "synthetic",
        "targets": [
            {
                "name": k,
                "moment": k,
                "value": float(np.mean(v)),
                "unit": "u",
                "date": "2024",
                "source": "the model at known parameters",
                "uncertainty": 0.05,
            }
            for k, v in values.items()
        ],
    }
    (folder / "targets.yaml").write_text(yaml.safe_dump(targets))
    spec = {
        "name": "synthetic",
        "targets": "targets.yaml",
        "params": {
            "hyperscalers.herding": {"min": 0.0, "max": 1.0},
            "hyperscalers.order_adjustment_months": {"min": 1.0, "max": 12.0},
        },
        "abc": {"population": population, "generations": generations, "quantile": 0.5},
        "predictive": {"draws": 5},
        "seed": 7,
    }
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec))
    return folder / "spec.yaml"


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    spec = _synthetic(tmp_path_factory.mktemp("spec"))
    out = calibrate(
        spec, out_root=tmp_path_factory.mktemp("runs"), workers=1, progress=False, say=lambda s: None
    )
    return spec, out


def test_a_synthetic_calibration_recovers_the_parameters_that_made_its_targets(synthetic_run) -> None:
    """The truth lies inside the posterior: at least 2 % of the weight on either side of it. Not
    inside the 90 % interval: with 30 particles, three generations and 12-month moments, the
    order adjustment is weakly identified (its posterior spans most of its prior), so a 90 %
    interval misses its truth about one model change in ten (it sat at the 3rd and the 8th
    percentile after two of them)."""
    _, out = synthetic_run
    summary = pd.read_csv(out / "posterior.csv").set_index("param")
    particles = pd.read_parquet(out / "posterior.parquet")
    for name, truth in TRUTH.items():
        below = particles.loc[particles[name] <= truth, "weight"].sum()
        assert 0.02 <= below <= 0.98, (name, truth, below)
    # the posterior learned something: narrower than the prior on each parameter
    width = (summary["q95"] - summary["q05"]) / (summary["prior_max"] - summary["prior_min"])
    assert (width < 0.9).all(), width
    gens = pd.read_csv(out / "generations.csv")
    assert list(gens["generation"]) == [0, 1, 2] and gens["epsilon"].is_monotonic_decreasing
    post = pd.read_parquet(out / "posterior.parquet")
    assert len(post) == 30 and post["weight"].sum() == pytest.approx(1.0)
    last_ess = gens["effective_sample_size"].iloc[-1]
    assert 1 <= last_ess <= 30 and last_ess == pytest.approx(1 / (post["weight"] ** 2).sum())
    assert "| effective sample size |" in (out / "README.md").read_text()
    assert yaml.safe_load((out / "calibrated.yaml").read_text())["hyperscalers"]["herding"] == pytest.approx(
        summary.loc["hyperscalers.herding", "median"], rel=1e-3
    )
    manifest = yaml.safe_load((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["versions"]["pyabc"]
    for png in ("diagnostics", "marginals", "pairs", "predictive"):
        assert (out / f"{png}.png").stat().st_size > 10_000


def test_the_effective_sample_size_counts_equal_weights_and_one_heavy_particle() -> None:
    from aibubble.calibration.run import effective_sample_size

    assert effective_sample_size([0.2] * 5) == pytest.approx(5)
    assert effective_sample_size([1.0, 0.0, 0.0]) == pytest.approx(1)
    assert effective_sample_size([3.0, 1.0]) == pytest.approx(1 / (0.75**2 + 0.25**2))


def test_the_same_seed_gives_the_same_population_on_a_real_dask_scheduler(synthetic_run, tmp_path) -> None:
    """Generation 0 on a Dask LocalCluster of two processes against the in-process run's."""
    pytest.importorskip("distributed")
    spec, out = synthetic_run
    data = yaml.safe_load(spec.read_text())
    data["abc"]["generations"] = 1
    data["predictive"]["draws"] = 1
    one = spec.parent / "one-generation.yaml"
    one.write_text(yaml.safe_dump(data))
    dask_out = calibrate(
        one, out_root=tmp_path, backend="dask", workers=2, progress=False, say=lambda s: None
    )
    assert yaml.safe_load((dask_out / "manifest.json").read_text())["backend"].startswith("dask LocalCluster")
    import pyabc

    ref = pyabc.History(f"sqlite:///{out / 'abc.db'}").get_distribution(m=0, t=0)
    got = pd.read_parquet(dask_out / "posterior.parquet")
    np.testing.assert_array_equal(
        got["hyperscalers.herding"].to_numpy(), ref[0]["hyperscalers.herding"].to_numpy()
    )
    np.testing.assert_array_equal(got["weight"].to_numpy(), ref[1])


def test_a_calibration_killed_mid_run_resumes_to_the_same_posterior(synthetic_run, tmp_path) -> None:
    spec, out = synthetic_run
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    proc = subprocess.Popen(
        [*CLI, "calibrate", str(spec), "--workers", "1", "--out", str(tmp_path), "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    folder = None
    while time.monotonic() < deadline and proc.poll() is None:
        found = [p for p in tmp_path.iterdir() if (p / "abc.db").exists()]
        if found and _generations(found[0]) >= 1:
            folder = found[0]
            break
        time.sleep(0.2)
    assert folder is not None and proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert yaml.safe_load((folder / "manifest.json").read_text())["status"] == "running"
    assert not (folder / "posterior.parquet").exists()  # nothing that looks complete
    done = subprocess.run(
        [*CLI, "calibrate", "--resume", str(folder), "--workers", "1", "--no-progress"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    pd.testing.assert_frame_equal(
        pd.read_parquet(folder / "posterior.parquet"), pd.read_parquet(out / "posterior.parquet")
    )


# ------------------------------------------------------------------------------------ bad input
def _bad(tmp_path: Path, edit) -> tuple[subprocess.CompletedProcess, Path]:
    spec = (
        _synthetic(tmp_path / "spec", generations=1, population=10)
        if not (tmp_path / "spec").exists()
        else tmp_path / "spec" / "spec.yaml"
    )
    data = yaml.safe_load(spec.read_text())
    targets = yaml.safe_load((spec.parent / "targets.yaml").read_text())
    args = edit(data, targets)
    args = args if isinstance(args, list) else []  # an edit returns CLI options, or what it popped
    spec.write_text(yaml.safe_dump(data))
    (spec.parent / "targets.yaml").write_text(yaml.safe_dump(targets))
    out = tmp_path / "out"
    done = subprocess.run(
        [*CLI, "calibrate", str(spec), "--out", str(out), *args], capture_output=True, text=True, timeout=120
    )
    return done, out


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda s, t: s["params"].update({"users.no_such_key": {"min": 0, "max": 1}}),
            "'users.no_such_key' is not a config key",
        ),
        (
            lambda s, t: s["params"].update({"users.demand_elasticity": {"min": -1, "max": 1}}),
            "params.users.demand_elasticity.min' = -1",
        ),
        (lambda s, t: t["targets"][0].pop("source"), "key 'targets.0.source' is required"),
        (lambda s, t: t["targets"][1].pop("unit"), "key 'targets.1.unit' is required"),
        (lambda s, t: t["targets"][0].update({"moment": "nope"}), "unknown moment 'nope'"),
        (lambda s, t: ["--backend", "dask", "--scheduler", "tcp://127.0.0.1:9"], "nothing answers there"),
        (
            lambda s, t: s.update({"screening": {"keep": 1, "always": ["users.bass_q"]}}),
            "screening.always names users.bass_q, which is not among params",
        ),
    ],
    ids=[
        "unknown-parameter",
        "prior-outside-range",
        "target-without-source",
        "target-without-unit",
        "unknown-moment",
        "unreachable-scheduler",
        "always-keeps-an-unknown-parameter",
    ],
)
def test_bad_input_gets_one_line_and_leaves_nothing(tmp_path, edit, message) -> None:
    done, out = _bad(tmp_path, edit)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists() or not any(out.iterdir())


def test_the_shipped_spec_validates_against_the_config() -> None:
    from aibubble.calibration.spec import prepare, read_spec

    path = CONFIG_DIR / "calibration" / "record-2025.yaml"
    prep = prepare(read_spec(path), str(path))
    assert prep.targets.name == "record-2023-2025" and len(prep.spec.params) >= 5
    # the parameters the answer turns on are estimated whatever screening ranks them
    assert prep.spec.screening is not None
    assert set(prep.spec.screening.always) == {
        "users.demand_elasticity",
        "labs.frontier_token_share",
        "labs.capability_share",
        "users.saturation_tokens_per_user_day",
        "users.capability_usefulness_elasticity",
        "users.capability_lag_months",
        "labs.training_planning_months",
    }


def test_screening_keeps_the_largest_effects_and_always_the_named_ones() -> None:
    from aibubble.calibration.run import kept_params
    from aibubble.calibration.spec import CalibrationSpec

    params = {n: {"min": 0.0, "max": 1.0} for n in ("a.x", "a.y", "a.z", "a.w")}
    spec = CalibrationSpec.model_validate(
        {"name": "s", "targets": "t", "params": params, "screening": {"keep": 2, "always": ["a.w"]}}
    )
    effects = {"a.x": 0.1, "a.y": 3.0, "a.z": 2.0, "a.w": 0.0}
    screening = pd.DataFrame(
        [{"output": "distance", "param": n, "mu_star": v, "sigma": 0.0} for n, v in effects.items()]
        + [{"output": "capex_2024", "param": "a.x", "mu_star": 99.0, "sigma": 0.0}]
    )
    assert kept_params(spec, screening) == ["a.y", "a.z", "a.w"]  # the spec's order


# ------------------------------------------------------------------------------------ predict
def test_predict_gives_probabilities_with_intervals_on_common_draws_and_seeds(synthetic_run) -> None:
    from click.testing import CliRunner

    from aibubble.cli import main

    _, out = synthetic_run
    args = [
        "predict",
        str(out),
        "--draws",
        "2",
        "--seeds",
        "2",
        "--steps",
        "48",
        "--year",
        "2026",
        "--workers",
        "1",
    ]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    tab = pd.read_csv(out / "predict.csv")
    assert list(tab["shock"]) == [
        "none",
        "open 2x, 2026",
        "open 10x, 2026",
        "open 100x, 2026",
        "gradual 10x/yr",
    ]
    assert (tab["runs"] == 4).all()
    readme = (out / "README.md").read_text()
    assert "## The answer over the posterior (`aibubble predict`)" in readme
    assert "![P(bubble) per posterior draw](predict.png)" in readme
    assert (out / "predict.png").stat().st_size > 10_000
    for flag in ("glut", "bubble"):
        assert (
            (tab[f"p_{flag}_lo95"] <= tab[f"p_{flag}"]) & (tab[f"p_{flag}"] <= tab[f"p_{flag}_hi95"])
        ).all()
    runs = pd.read_parquet(out / "predict.parquet")
    # every shock ran on the same (draw, seed) pairs as the reference
    pairs = runs.groupby("shock")[["draw", "seed"]].apply(lambda g: tuple(map(tuple, g.to_numpy())))
    assert pairs.nunique() == 1
    assert tab.loc[tab["shock"] == "none", "bubble_effect"].iloc[0] == 0.0
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and pd.read_csv(out / "predict.csv").equals(tab)  # same seed, same answer
    # a folder that lost a file its README needs is refused before any run, in one line
    (out / "predictive.csv").unlink()
    bare = CliRunner().invoke(main, args)
    assert bare.exit_code == 2
    assert bare.output.strip() == f"error: {out}: no predictive.csv; the calibration folder is incomplete"


def test_predict_refuses_an_unfinished_calibration(tmp_path) -> None:
    from click.testing import CliRunner

    from aibubble.cli import main

    (tmp_path / "manifest.json").write_text('{"status": "running"}')
    done = CliRunner().invoke(main, ["predict", str(tmp_path)])
    assert done.exit_code == 2 and "the calibration is running" in done.output
    (tmp_path / "manifest.json").write_text('{"status": "complete"}')  # but its posterior is gone
    gone = CliRunner().invoke(main, ["predict", str(tmp_path)])
    assert (
        gone.exit_code == 2
        and gone.output.strip()
        == f"error: {tmp_path}: no posterior.parquet; the calibration folder is incomplete"
    )


def test_an_unset_optional_number_screening_drops_stays_unset(tmp_path) -> None:
    """A spec may estimate an optional number its base leaves unset (null): when screening
    drops it, the runs keep it unset instead of failing on float(None)."""
    from aibubble.calibration.simulate import Simulator
    from aibubble.calibration.spec import prepare, read_spec

    spec = yaml.safe_load((CONFIG_DIR / "calibration" / "record-2025.yaml").read_text())
    spec["fixed"] = {"labs.pricing_horizon_months": None}
    path = tmp_path / "unset.yaml"
    path.write_text(yaml.safe_dump(spec))
    prep = prepare(read_spec(path), str(path))
    assert prep.base_value("labs.pricing_horizon_months") is None
    kept = ["users.demand_elasticity"]
    fixed = prep.fixed_sample(kept)
    assert "labs.pricing_horizon_months" not in fixed
    lam = load_config("baseline").users.adjustment_per_month
    assert fixed["users.adjustment_per_month"] == pytest.approx(math.log10(lam))  # log prior: sample space
    moments = Simulator(prep, prep.targets.fitted[:1], fixed).moments(
        {"users.demand_elasticity": 0.8}, seed=1
    )
    assert all(math.isfinite(v) for v in moments.values())
