"""Sweeps: specs are validated up front, every run is written once (many runs to a part file, not
one file per run), a killed sweep resumes to the same results, a Dask cluster gives the same
results as local processes, a failing run is recorded and the rest finish, a lost worker costs
no run, no worker outlives a killed driver, old folders with one file per run still resume, and
the driver's memory does not grow with the number of runs.

Runs are tiny (200 user segments, 24 months) so that the real model runs in every test.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import psutil  # a dependency of dask[distributed]
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from aibubble.cli.sweeps import analyze, sweep
from aibubble.experiments.sweeps import SpecError, parse_spec, prepare
from aibubble.experiments.sweeps.design import RowReader

REPO = Path(__file__).resolve().parent.parent
N_RUNS = 12
GRID: dict[str, Any] = {
    "name": "grid-test",
    "base": "sudden-100x",
    "fixed": {"n_users": 200, "steps": 24, "jump_month": 6},
    "design": {
        "kind": "grid",
        "params": {
            "jump_size": {"min": 1, "max": 100, "num": 3, "log": True},
            "demand_elasticity": {"values": [0.5, 1.5]},
        },
    },
    "replicates": 2,
    "seed": 3,
    "series": {"columns": ["utilization", "installed_capacity_h100e"], "every_months": 6},
}


def write_spec(folder: Path, data: dict[str, Any], name: str = "spec.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def invoke(command: Any, *args: Any) -> Any:
    result = CliRunner().invoke(command, [str(a) for a in args], catch_exceptions=False)
    return result


def only_folder(out: Path) -> Path:
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    return folder


def ledger(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "ledger.jsonl").read_text().splitlines() if line.strip()]


def results(folder: Path) -> pd.DataFrame:
    return pd.read_parquet(folder / "results.parquet")


def part_files(folder: Path) -> list[Path]:
    return sorted((folder / "parts").glob("part-*.parquet"))


def parts_table(folder: Path) -> pa.Table:
    """Every run in the folder's part files, by run id."""
    table = pa.concat_tables([pq.read_table(p) for p in part_files(folder)])
    return table.sort_by("run_id")


def rewrite_parts(folder: Path, tables: list[pa.Table]) -> None:
    """Replace the folder's part files by these tables, one part each."""
    for path in part_files(folder):
        path.unlink()
    for i, table in enumerate(tables):
        pq.write_table(table, folder / "parts" / f"part-{i:06d}.parquet", row_group_size=3)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The grid sweep run once from start to end on 2 local worker processes."""
    tmp = tmp_path_factory.mktemp("uninterrupted")
    result = invoke(sweep, write_spec(tmp, GRID), "--workers", 2, "--out", tmp / "out", "--no-analyze")
    assert result.exit_code == 0, result.output
    return only_folder(tmp / "out")


# ------------------------------------------------------------------------------------ the spec
def test_an_unknown_spec_key_is_named_by_its_path():
    bad = {**GRID, "design": {"kind": "grid", "params": {"jump_size": {"values": [1, 10], "nmu": 3}}}}
    with pytest.raises(SpecError, match=r"unknown key 'design\.params\.jump_size\.nmu'"):
        parse_spec(bad, "spec.yaml")


def test_an_unknown_config_key_in_the_design_is_named_before_anything_runs():
    bad = {**GRID, "design": {"kind": "grid", "params": {"users.demand_elastcity": {"values": [1.0]}}}}
    with pytest.raises(SpecError, match=r"key 'design\.params\.users\.demand_elastcity'.*not a config key"):
        prepare(parse_spec(bad, "spec.yaml"), "spec.yaml")


def test_a_design_point_outside_the_config_bounds_stops_the_dry_run_and_writes_nothing(tmp_path):
    bad = {**GRID, "design": {"kind": "grid", "params": {"jump_size": {"values": [10, 0.5]}}}}
    result = invoke(sweep, write_spec(tmp_path, bad), "--dry-run", "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "design point 1 (discovery.jump_size=0.5)" in result.output
    assert "greater than or equal to 1" in result.output
    assert not (tmp_path / "out").exists()


def test_a_dry_run_prints_the_plan_and_writes_nothing(tmp_path):
    result = invoke(sweep, write_spec(tmp_path, GRID), "--dry-run", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "6 design points x 2 replicates = 12 runs" in result.output
    assert "jump_size (discovery.jump_size): 1 .. 100, 3 distinct values [x efficiency]" in result.output
    assert not (tmp_path / "out").exists()


def test_an_optional_number_sweeps_like_a_number(tmp_path):
    """The time budget is off when None; a sweep (and the calibration) sets numbers in its place."""
    design = {
        "kind": "lhs",
        "samples": 4,
        "params": {"users.saturation_tokens_per_user_day": {"min": 3e5, "max": 1e8, "log": True}},
    }
    result = invoke(
        sweep, write_spec(tmp_path, {**GRID, "design": design}), "--dry-run", "--out", tmp_path / "out"
    )
    assert result.exit_code == 0, result.output
    assert "users.saturation_tokens_per_user_day" in result.output and "4 design points" in result.output


def test_sobol_needs_a_power_of_two_and_morris_an_even_number_of_levels():
    two = {"a": {"min": 0, "max": 1}, "b": {"min": 0, "max": 1}}
    sobol = {**GRID, "design": {"kind": "sobol", "samples": 12, "params": two}}
    with pytest.raises(SpecError, match=r"key 'design\.samples' = 12: must be a power of 2"):
        parse_spec(sobol, "s")
    morris = {"kind": "morris", "trajectories": 4, "levels": 5, "params": two}
    with pytest.raises(SpecError, match=r"key 'design\.levels' = 5: must be even"):
        parse_spec({**GRID, "design": morris}, "s")


NAN, INF = float("nan"), float("inf")
NON_FINITE = [
    ({"kind": "grid", "params": {"jump_size": {"values": [10, NAN]}}}, "params.jump_size.values.1"),
    ({"kind": "grid", "params": {"jump_size": {"min": 1, "max": INF, "num": 3}}}, "params.jump_size.max"),
    ({"kind": "list", "points": [{"jump_size": 10}, {"jump_size": -INF}]}, "points.1.jump_size"),
    ({"kind": "lhs", "samples": 4, "params": {"jump_size": {"min": NAN, "max": 9}}}, "params.jump_size.min"),
]


@pytest.mark.parametrize(("design", "key"), NON_FINITE)
def test_nan_or_infinity_anywhere_in_a_design_is_refused_by_its_key(design, key):
    with pytest.raises(SpecError, match=rf"key 'design\.{re.escape(key)}' = -?(nan|inf): .*finite"):
        parse_spec({**GRID, "design": design}, "s")


def test_a_huge_grid_is_measured_from_the_spec_and_refused_in_a_moment(tmp_path):
    huge = {
        "jump_size": {"min": 1, "max": 1000, "num": 2000},
        "demand_elasticity": {"min": 0.3, "max": 2, "num": 2000},
    }
    spec = write_spec(tmp_path, {**GRID, "replicates": 5, "design": {"kind": "grid", "params": huge}})
    t0 = time.perf_counter()
    result = CliRunner().invoke(sweep, [str(spec), "--dry-run", "--out", str(tmp_path / "out")])
    assert time.perf_counter() - t0 < 10  # enumerating 20 million runs would take minutes
    assert result.exit_code == 2
    assert "4000000 design points x 5 replicates = 20000000 runs" in result.stdout
    assert result.stderr.strip().splitlines() == [
        f"error: {spec}: 4,000,000 design points x 5 replicates = 20,000,000 runs, above the limit of "
        "1,000,000 (--allow-large runs it anyway)"
    ]
    assert not (tmp_path / "out").exists()


def test_a_dry_run_prints_an_estimated_run_time_before_the_plan(tmp_path):
    result = invoke(sweep, write_spec(tmp_path, GRID), "--dry-run", "--workers", 2, "--out", tmp_path / "out")
    lines = result.output.splitlines()
    (estimate,) = [i for i, line in enumerate(lines) if "estimated run time" in line]
    assert re.search(r"~[\d.e+-]+ (s|min|h|days) for 12 runs on 2 workers", lines[estimate]), lines[estimate]
    assert estimate < next(i for i, line in enumerate(lines) if "distinct values" in line)


def test_the_size_computed_from_a_spec_is_the_size_of_its_design():
    ranges = {"jump_size": {"min": 1, "max": 1000, "log": True}, "jump_month": {"min": 1, "max": 12}}
    designs = [
        GRID["design"],
        {"kind": "list", "points": [{"jump_size": 2.0}, {"jump_size": 3.0}, {"jump_month": 4}]},
        {"kind": "lhs", "samples": 5, "params": ranges},
        {"kind": "sobol", "samples": 4, "params": ranges},
        {"kind": "sobol", "samples": 4, "params": ranges, "second_order": True},
        {"kind": "morris", "trajectories": 3, "params": ranges},
    ]
    for design in designs:
        spec = parse_spec({**GRID, "replicates": 3, "design": design}, "s")
        assert spec.n_runs == len(prepare(spec, "s").design), design


def test_a_log_range_needs_a_positive_minimum():
    bad = {
        **GRID,
        "design": {"kind": "lhs", "samples": 4, "params": {"jump_size": {"min": 0, "max": 10, "log": True}}},
    }
    with pytest.raises(SpecError, match=r"design\.params\.jump_size.*log range needs 'min' > 0"):
        parse_spec(bad, "s")


# ------------------------------------------------------------------------------------ designs and seeds
def design_of(data: dict[str, Any]) -> pd.DataFrame:
    spec = parse_spec(data, "s")
    return prepare(spec, "s").design


def test_seeds_derive_from_the_master_seed_one_per_run():
    a, b = design_of(GRID), design_of(GRID)
    assert a["seed"].tolist() == b["seed"].tolist()
    assert a["seed"].is_unique
    other = design_of({**GRID, "seed": 4})
    assert not set(other["seed"]) & set(a["seed"])


def test_common_seeds_give_each_replicate_the_same_seed_at_every_point():
    d = design_of({**GRID, "common_seeds": True})
    assert (d.groupby("replicate")["seed"].nunique() == 1).all()
    assert d.groupby("point_id")["seed"].nunique().eq(2).all()


def test_designs_have_the_sizes_their_schemes_promise_and_stay_in_range():
    ranges = {"jump_size": {"min": 1, "max": 1000, "log": True}, "jump_month": {"min": 1, "max": 12}}
    grid = design_of(GRID)
    assert len(grid) == 3 * 2 * 2 and sorted(grid["jump_size"].unique()) == [1.0, 10.0, 100.0]
    lhs = design_of({**GRID, "replicates": 1, "design": {"kind": "lhs", "samples": 10, "params": ranges}})
    sobol = design_of({**GRID, "replicates": 1, "design": {"kind": "sobol", "samples": 8, "params": ranges}})
    morris = design_of(
        {**GRID, "replicates": 1, "design": {"kind": "morris", "trajectories": 3, "params": ranges}}
    )
    assert (len(lhs), len(sobol), len(morris)) == (10, 8 * (2 + 2), 3 * (2 + 1))
    for d in (lhs, sobol, morris):
        assert d["jump_size"].between(1, 1000).all()
        assert d["jump_month"].dtype == "int64" and d["jump_month"].between(1, 12).all()


def test_a_list_design_runs_exactly_its_points_and_records_the_base_value_of_keys_left_out():
    from aibubble.config import load_config

    points = [{"jump_size": 10.0}, {"jump_size": 100.0, "users.demand_elasticity": 0.5}]
    spec = parse_spec({**GRID, "replicates": 1, "design": {"kind": "list", "points": points}}, "s")
    prepared = prepare(spec, "s")
    d = prepared.design
    base = load_config("sudden-100x", GRID["fixed"]).users.demand_elasticity
    assert d["jump_size"].tolist() == [10.0, 100.0]
    assert d["users.demand_elasticity"].tolist() == [base, 0.5]  # what ran, not NaN
    first = prepared.task(RowReader(d)[0])
    assert first["overrides"]["users.demand_elasticity"] == base


# ------------------------------------------------------------------------------------ running
def test_a_grid_sweep_on_two_workers_writes_every_run_once(uninterrupted):
    records = ledger(uninterrupted)
    assert Counter(r["run_id"] for r in records if r["status"] == "ok") == Counter(range(N_RUNS))
    assert len(part_files(uninterrupted)) == 1  # 12 runs in well under PART_SECONDS: one part
    assert parts_table(uninterrupted).column("run_id").to_pylist() == list(range(N_RUNS))
    assert not (uninterrupted / "runs").exists()  # no file per run
    res = results(uninterrupted)
    assert res["run_id"].tolist() == list(range(N_RUNS))
    assert (res["status"] == "ok").all()
    design = pd.read_parquet(uninterrupted / "design.parquet")
    pd.testing.assert_frame_equal(res[design.columns], design)
    assert len({r["pid"] for r in records}) == 2  # both workers ran
    assert not list(uninterrupted.rglob(".*.tmp-*"))
    series = pd.read_parquet(uninterrupted / "series.parquet")
    assert sorted(series["step"].unique()) == [0, 6, 12, 18, 24]
    assert len(series) == N_RUNS * 5


def test_each_run_is_the_model_run_with_its_stored_seed(uninterrupted):
    from aibubble import AIMarketModel
    from aibubble.config import load_config

    row = results(uninterrupted).iloc[7]
    overrides = {
        **GRID["fixed"],
        "jump_size": row["jump_size"],
        "demand_elasticity": row["demand_elasticity"],
    }
    model = AIMarketModel(config=load_config("sudden-100x", overrides), rng=int(row["seed"]))
    for _ in range(model.config.run.steps):
        model.step()
    summary = model.summary()
    assert row["peak_overcapacity"] == summary["peak_overcapacity"]
    assert row["write_offs_usd"] == summary["write_offs_usd"]
    assert row["bubble"] == summary["bubble"]


def _wait_for(predicate: Any, timeout: float, what: str, poll: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(poll)


# `python -m aibubble.cli.sweeps` with a part file every 2 runs (PART_RUNS is 500)
SMALL_PARTS = (
    "import sys\n"
    "from aibubble.experiments.sweeps import driver\n"
    "driver.PART_RUNS = 2\n"
    "from aibubble.cli.sweeps import _standalone\n"
    "_standalone(sys.argv[1:])\n"
)


def _ok_lines(folder: Path) -> int:
    path = folder / "ledger.jsonl"
    return path.read_text().count('"status":"ok"') if path.exists() else 0


def test_a_sweep_killed_with_sigkill_resumes_without_losing_or_repeating_a_run(uninterrupted, tmp_path):
    spec = write_spec(tmp_path, GRID)
    out = tmp_path / "out"
    # the sweep command with a part file every 2 runs, so that it is killed between parts
    command = [sys.executable, "-c", SMALL_PARTS, "sweep", str(spec), "--workers", "2", "--out", str(out)]
    proc = subprocess.Popen(
        [*command, "--no-analyze"],
        cwd=REPO,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(lambda: out.exists() and any(out.iterdir()), 60, "the sweep folder")
        folder = only_folder(out)
        _wait_for(lambda: _ok_lines(folder) >= 3, 60, "three finished runs")
        os.kill(proc.pid, signal.SIGKILL)  # the driver, mid-sweep, as the OOM killer would
        proc.wait(timeout=10)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # its worker processes too
        proc.wait(timeout=10)
    done_before = _ok_lines(folder)
    assert 3 <= done_before < N_RUNS, "the sweep should have been killed mid-way"
    assert not (folder / "results.parquet").exists()
    written = parts_table(folder).column("run_id").to_pylist() if part_files(folder) else []
    assert len(written) >= done_before  # a part's ledger lines never come before the part

    result = invoke(sweep, "--resume", folder, "--workers", 2, "--no-analyze")
    assert result.exit_code == 0, result.output
    records = ledger(folder)
    assert Counter(r["run_id"] for r in records if r["status"] == "ok") == Counter(range(N_RUNS))
    assert not list(folder.rglob(".*.tmp-*"))
    pd.testing.assert_frame_equal(results(folder), results(uninterrupted))
    pd.testing.assert_frame_equal(
        pd.read_parquet(folder / "series.parquet"), pd.read_parquet(uninterrupted / "series.parquet")
    )
    manifest = json.loads((folder / "manifest.json").read_text())
    assert len(manifest["sessions"]) == 2 and manifest["status"] == {"ok": N_RUNS, "failed": 0, "pending": 0}

    again = invoke(sweep, "--resume", folder, "--no-analyze")  # nothing left to do
    assert again.exit_code == 0 and "0 run now" in again.output
    assert len(ledger(folder)) == len(records)


def test_a_torn_ledger_line_and_a_half_written_part_are_tolerated_on_resume(uninterrupted, tmp_path):
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(uninterrupted, folder)
    (folder / ".lock").unlink(missing_ok=True)
    table = parts_table(folder)
    rewrite_parts(folder, [table.slice(0, 4), table.slice(4, 4), table.slice(8, 4)])
    victim = folder / "parts" / "part-000001.parquet"
    victim.write_bytes(victim.read_bytes()[:100])  # as if the disk lost the end of the file
    (folder / "parts" / ".part-000003.parquet.tmp-999.parquet").write_bytes(b"PAR1")  # a killed write
    with open(folder / "ledger.jsonl", "a") as fh:
        fh.write('{"run_id": 9, "status": "o')  # a kill in the middle of a ledger write
    result = invoke(sweep, "--resume", folder, "--workers", 1, "--no-analyze")
    assert result.exit_code == 0, result.output
    assert "4 run now" in result.output  # only the runs of the broken part (4 to 7) again
    pd.testing.assert_frame_equal(results(folder), results(uninterrupted))
    pd.testing.assert_frame_equal(
        pd.read_parquet(folder / "series.parquet"), pd.read_parquet(uninterrupted / "series.parquet")
    )
    assert not list(folder.rglob(".*.tmp-*"))


def test_runs_whose_part_was_written_but_not_their_ledger_lines_are_not_run_again(uninterrupted, tmp_path):
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(uninterrupted, folder)
    (folder / ".lock").unlink(missing_ok=True)
    kept = [r for r in ledger(folder) if r["run_id"] not in (3, 4)]  # killed between part and ledger
    (folder / "ledger.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))
    result = invoke(sweep, "--resume", folder, "--workers", 1, "--no-analyze")
    assert result.exit_code == 0 and "0 run now" in result.output, result.output
    recovered = [r for r in ledger(folder) if r.get("recovered")]
    assert sorted(r["run_id"] for r in recovered) == [3, 4]
    assert all(r["status"] == "ok" and "duration_s" in r for r in recovered)
    pd.testing.assert_frame_equal(results(folder), results(uninterrupted))


def test_a_folder_with_one_file_per_run_from_before_part_files_resumes(uninterrupted, tmp_path):
    import shutil

    folder = tmp_path / "old"
    shutil.copytree(uninterrupted, folder)
    (folder / ".lock").unlink(missing_ok=True)
    for row in parts_table(folder).to_pylist()[:9]:  # runs 9 to 11 had not finished
        payload = {k: row[k] if k in ("run_id", "seed") else json.loads(row[k]) for k in row}
        path = folder / "runs" / "000" / f"{row['run_id']:06d}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload))
    shutil.rmtree(folder / "parts")
    result = invoke(sweep, "--resume", folder, "--workers", 2, "--no-analyze")
    assert result.exit_code == 0, result.output
    assert "3 run now" in result.output
    assert len(list(folder.glob("runs/*/*.json"))) == 9  # left as they were
    assert parts_table(folder).column("run_id").to_pylist() == [9, 10, 11]
    pd.testing.assert_frame_equal(results(folder), results(uninterrupted))
    pd.testing.assert_frame_equal(
        pd.read_parquet(folder / "thresholds.parquet"), pd.read_parquet(uninterrupted / "thresholds.parquet")
    )


def test_a_sweep_of_hundreds_of_runs_writes_a_handful_of_files_not_one_per_run(tmp_path, monkeypatch):
    from aibubble.experiments.sweeps import create_sweep, driver, run_sweep

    monkeypatch.setattr(driver, "PART_RUNS", 80)  # 500 by default
    monkeypatch.setattr(driver, "PART_SECONDS", 1e9)  # parts by count only, however busy the machine
    n = 200
    spec = parse_spec(
        {
            "name": "many-tiny",
            "base": "baseline",
            "fixed": {"n_users": 10, "steps": 3},
            "design": {"kind": "list", "points": [{"jump_size": 1.0}]},
            "replicates": n,
            "seed": 1,
            "series": {"columns": ["utilization"], "every_months": 2},
        },
        "spec",
    )
    prepared = prepare(spec, "spec")
    store = create_sweep(prepared, tmp_path / "out", "test")
    outcome = run_sweep(store, prepared, workers=2, progress=False)
    assert outcome.ok == n
    files = sorted(p.relative_to(store.root).as_posix() for p in store.root.rglob("*") if p.is_file())
    parts = [f for f in files if f.startswith("parts/")]
    assert parts == [f"parts/part-{i:06d}.parquet" for i in range(3)], files
    assert [pq.read_metadata(store.root / f).num_rows for f in parts] == [80, 80, 40]
    assert len(files) <= 13, files  # spec, base config, manifest, design, ledger, lock, 4 tables, parts
    assert results(store.root)["status"].eq("ok").sum() == n
    assert len(pd.read_parquet(store.root / "series.parquet")) == n * 3  # months 0, 2, 3


def test_a_run_that_raises_is_recorded_failed_with_its_traceback_and_the_others_finish(tmp_path):
    # 1e-300 tokens per GPU-month passes the config's bounds (> 0) but makes the money flows NaN,
    # which the double-entry ledger refuses at run time.
    points = [{"efficiency.tokens_per_h100e_month": v} for v in (2.0e8, 1e-300, 3.0e8)]
    spec = {**GRID, "name": "with-a-failure", "replicates": 1, "design": {"kind": "list", "points": points}}
    out = tmp_path / "out"
    result = invoke(sweep, write_spec(tmp_path, spec), "--workers", 2, "--out", out, "--no-analyze")
    assert result.exit_code == 1
    assert "1 runs failed" in result.output and "--retry-failed" in result.output
    folder = only_folder(out)
    (failed,) = [r for r in ledger(folder) if r["status"] == "failed"]
    assert failed["run_id"] == 1
    assert "Traceback" in failed["traceback"] and "invalid transfer" in failed["traceback"]
    res = results(folder)
    assert res["status"].tolist() == ["ok", "failed", "ok"]
    assert res.loc[1, "peak_overcapacity"] != res.loc[1, "peak_overcapacity"]  # NaN: no outcome
    status = pd.read_parquet(folder / "status.parquet")
    assert "invalid transfer" in status.loc[1, "error"]

    retry = invoke(sweep, "--resume", folder, "--retry-failed", "--no-analyze")
    assert retry.exit_code == 1 and "1 run now" in retry.output  # only the failed one again
    assert pd.read_parquet(folder / "status.parquet")["attempts"].tolist() == [1, 2, 1]


def test_a_worker_process_killed_mid_sweep_costs_no_run_its_runs_are_resubmitted_automatically(
    uninterrupted, tmp_path
):
    from aibubble.experiments.sweeps import create_sweep, run_sweep

    spec = parse_spec(GRID, "spec")
    prepared = prepare(spec, "spec")
    store = create_sweep(prepared, tmp_path / "out", "test")
    killed: list[int] = []

    def kill_a_worker(payload: dict[str, Any]) -> None:
        if not killed:  # as the OOM killer would: SIGKILL one worker process once
            killed.append(payload["meta"]["pid"])
            os.kill(payload["meta"]["pid"], signal.SIGKILL)

    outcome = run_sweep(store, prepared, workers=2, progress=False, on_record=kill_a_worker)
    assert (outcome.ok, outcome.failed, outcome.pending) == (N_RUNS, 0, 0)
    assert outcome.retried >= 1 and outcome.ran == N_RUNS
    records = ledger(store.root)
    lost = [r for r in records if r["status"] == "lost"]
    assert len(lost) == outcome.retried
    assert all("BrokenProcessPool" in r["traceback"] for r in lost)
    for r in lost:  # each lost attempt is followed by the run's next attempt, which finished
        later = [x for x in records if x["run_id"] == r["run_id"] and x["attempt"] == r["attempt"] + 1]
        assert [x["status"] for x in later] in (["ok"], ["lost"]), later
    status = pd.read_parquet(store.root / "status.parquet").set_index("run_id")
    assert (status["status"] == "ok").all()
    assert (status.loc[sorted({r["run_id"] for r in lost}), "attempts"] >= 2).all()
    pd.testing.assert_frame_equal(results(store.root), results(uninterrupted))


class FlakyBackend:
    """Runs tasks in this process, but run 0's worker "dies" every time (BrokenProcessPool)."""

    slots = 2
    description = "in-process, run 0 always lost"

    def submit(self, task: dict[str, Any]) -> Any:
        from concurrent.futures import Future
        from concurrent.futures.process import BrokenProcessPool

        from aibubble.experiments.sweeps import run_task

        future: Future[dict[str, Any]] = Future()
        if task["run_id"] == 0:
            future.set_exception(BrokenProcessPool("a process in the pool was terminated abruptly"))
        else:
            future.set_result(run_task(task))
        return future

    def wait_any(self, futures: Any) -> set[Any]:
        return set(futures)

    @staticmethod
    def lost(exc: BaseException) -> bool:
        from aibubble.experiments.sweeps import LocalBackend

        return LocalBackend.lost(exc)

    def close(self, cancel: bool = False) -> None:
        pass


def test_a_run_whose_worker_dies_every_time_fails_after_a_bounded_number_of_attempts(tmp_path, monkeypatch):
    from aibubble.experiments.sweeps import create_sweep, driver, run_sweep

    monkeypatch.setattr(driver, "make_backend", lambda kind, workers, scheduler: FlakyBackend())
    spec = parse_spec({**GRID, "replicates": 1}, "spec")
    prepared = prepare(spec, "spec")
    store = create_sweep(prepared, tmp_path / "out", "test")
    outcome = run_sweep(store, prepared, workers=2, progress=False)
    assert (outcome.ok, outcome.failed, outcome.retried) == (5, 1, driver.MAX_RETRIES)
    attempts = [(r["attempt"], r["status"]) for r in ledger(store.root) if r["run_id"] == 0]
    assert attempts == [(1, "lost"), (2, "lost"), (3, "lost"), (4, "failed")]
    status = pd.read_parquet(store.root / "status.parquet")
    assert status.loc[0, "attempts"] == 4 and "BrokenProcessPool" in status.loc[0, "error"]


def test_a_sweep_whose_backend_cannot_start_leaves_no_folder(tmp_path, monkeypatch):
    from aibubble.config import ConfigError
    from aibubble.experiments.sweeps import driver

    def unreachable(kind: str, workers: int, scheduler: str | None) -> Any:
        raise ConfigError("--scheduler tcp://10.0.0.1:8786: cannot connect (timed out)")

    monkeypatch.setattr(driver, "make_backend", unreachable)
    out = tmp_path / "out"
    result = CliRunner().invoke(sweep, [str(write_spec(tmp_path, GRID)), "--out", str(out)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: --scheduler tcp://10.0.0.1:8786")
    assert list(out.iterdir()) == []


# ------------------------------------------------------------------------------------ driver lifetime
MARK = "AIBUBBLE_TEST_SWEEP"  # environment variable every process of a test's sweep inherits


def _sweep_processes(marker: str) -> list[psutil.Process]:
    """Living processes (zombies are dead) whose environment carries `marker`."""
    found = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if proc.status() != psutil.STATUS_ZOMBIE and proc.environ().get(MARK) == marker:
                found.append(proc)
    return found


@pytest.mark.parametrize("backend", ["local", "dask"])
def test_kill_9_of_the_driver_leaves_no_process_of_the_sweep_alive(tmp_path, backend):
    if backend == "dask":
        pytest.importorskip("distributed")
    # runs of ~0.5 s (2000 segments, 120 months): the workers are busy in the model when it dies
    spec = {**GRID, "name": "long-runs", "fixed": {"n_users": 2000, "jump_month": 6}, "replicates": 10}
    out = tmp_path / "out"
    marker = uuid.uuid4().hex
    # a part file every 2 runs: the ledger shows finished runs long before the sweep could end
    # (with the default 30-s parts, 60 runs on this machine finished before the first part)
    command = [sys.executable, "-c", SMALL_PARTS, "sweep", str(write_spec(tmp_path, spec))]
    proc = subprocess.Popen(
        [*command, "--workers", "2", "--backend", backend, "--out", str(out), "--no-analyze"],
        cwd=REPO,
        env={**os.environ, MARK: marker},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(lambda: out.exists() and any(out.iterdir()), 60, "the sweep folder")
        folder = only_folder(out)
        _wait_for(lambda: _ok_lines(folder) >= 2, 120, "two finished runs")
        helpers = [p for p in _sweep_processes(marker) if p.pid != proc.pid]
        assert len(helpers) >= 2, helpers  # the two workers, at least
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        t0 = time.monotonic()
        _wait_for(lambda: not _sweep_processes(marker), 5, "every process of the sweep to exit", poll=0.1)
        gone = time.monotonic() - t0
        print(f"{backend}: {len(helpers)} processes of the sweep gone {gone:.2f} s after kill -9")
        assert _ok_lines(folder) < 6 * 10, "the sweep should have been killed mid-way"
    finally:
        for stray in _sweep_processes(marker):  # only this test's processes, should it fail
            with contextlib.suppress(psutil.Error):
                stray.kill()
        proc.wait(timeout=10)


# ------------------------------------------------------------------------------------ Dask
def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=REPO,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def test_a_real_dask_cluster_gives_results_identical_to_local_processes(uninterrupted, tmp_path):
    pytest.importorskip("distributed")
    from distributed import Client

    procs = []
    try:
        scheduler_log = tmp_path / "scheduler.log"
        procs.append(
            _start(
                [
                    "distributed.cli.dask_scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--dashboard-address",
                    ":0",
                ],
                scheduler_log,
            )
        )
        address: list[str] = []

        def scheduler_up() -> bool:
            found = re.search(r"Scheduler at:\s+(tcp://127\.0\.0\.1:\d+)", scheduler_log.read_text())
            if found:
                address.append(found.group(1))
            return bool(found) or procs[0].poll() is not None

        _wait_for(scheduler_up, 60, "the dask scheduler", poll=0.1)
        assert address, scheduler_log.read_text()
        procs.append(
            _start(
                ["distributed.cli.dask_worker", address[0], "--nworkers", "2", "--nthreads", "1"]
                + ["--host", "127.0.0.1", "--no-dashboard", "--memory-limit", "0"],
                tmp_path / "worker.log",
            )
        )
        with Client(address[0], timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)

        out = tmp_path / "out"
        args = ["--backend", "dask", "--scheduler", address[0], "--workers", 2, "--out", out, "--no-analyze"]
        result = invoke(sweep, write_spec(tmp_path, GRID), *args)
        assert result.exit_code == 0, result.output
        folder = only_folder(out)
        assert json.loads((folder / "manifest.json").read_text())["sessions"][0]["backend"] == "dask"
        hosts_pids = {r["pid"] for r in ledger(folder)}
        assert len(hosts_pids) == 2  # both dask worker processes ran runs
        pd.testing.assert_frame_equal(results(folder), results(uninterrupted))
        assert (folder / "results.parquet").read_bytes() == (uninterrupted / "results.parquet").read_bytes()
    finally:
        for proc in reversed(procs):
            _stop(proc)


# ------------------------------------------------------------------------------------ memory
MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    from aibubble.experiments.sweeps import create_sweep, parse_spec, prepare, run_sweep
    n, out = int(sys.argv[1]), Path(sys.argv[2])
    spec = parse_spec({
        "name": f"mem-{n}", "base": "baseline", "fixed": {"n_users": 20, "steps": 6},
        "design": {"kind": "list", "points": [{"jump_size": 1.0}]}, "replicates": n, "seed": 1,
    }, "memory")
    prepared = prepare(spec, "memory")
    store = create_sweep(prepared, out, "memory test")
    outcome = run_sweep(store, prepared, workers=2, progress=False)
    assert outcome.ok == n, outcome
    print(json.dumps({"driver_peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
    """
)


def test_the_driver_memory_does_not_grow_with_the_number_of_runs(tmp_path):
    peaks = {}
    for n in (20, 160):
        done = subprocess.run(
            [sys.executable, "-c", MEMORY_SCRIPT, str(n), str(tmp_path / str(n))],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        peaks[n] = json.loads(done.stdout.strip().splitlines()[-1])["driver_peak_rss_kib"] / 1024
    print(f"driver peak RSS: {peaks[20]:.1f} MB for 20 runs, {peaks[160]:.1f} MB for 160 runs")
    assert peaks[160] - peaks[20] < 8.0, peaks


# ------------------------------------------------------------------------------------ analysis
def test_the_phase_diagram_counts_bubbles_per_cell(uninterrupted):
    from aibubble.experiments.analysis import load_sweep, phase_table

    table, geo = phase_table(load_sweep(uninterrupted), "jump_size", "demand_elasticity")
    res = results(uninterrupted)
    expected = res.groupby(["jump_size", "demand_elasticity"])["bubble"].mean()
    got = table.set_index(["jump_size", "demand_elasticity"])["p_bubble"]
    pd.testing.assert_series_equal(got.sort_index(), expected.sort_index(), check_names=False)
    assert table["runs"].eq(2).all()
    assert geo["log_x"] and not geo["log_y"]  # 1..100 spans 10x or more; 0.5..1.5 does not


def test_analyze_draws_the_phase_diagram_and_fan_chart_named_by_severity(uninterrupted, tmp_path):
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(uninterrupted, folder)
    result = invoke(analyze, folder)
    assert result.exit_code == 0, result.output
    first = folder / "analysis" / "phase_jump_size__demand_elasticity__peak_overcapacity.png"
    drawn = first.read_bytes()
    assert {
        first.name,
        "phase_jump_size__demand_elasticity__peak_overcapacity.csv",
        "fan__peak_overcapacity.png",
    } <= {p.name for p in (folder / "analysis").iterdir()}

    again = invoke(analyze, folder, "--severity", "months_in_bubble")
    assert again.exit_code == 0, again.output
    assert (folder / "analysis" / "phase_jump_size__demand_elasticity__months_in_bubble.png").is_file()
    assert first.read_bytes() == drawn  # the other severity's picture is still there, untouched


def test_the_phase_diagram_says_how_many_runs_it_leaves_out_and_why(uninterrupted, tmp_path):
    import shutil

    from aibubble.experiments.analysis import load_sweep, phase_figure

    folder = tmp_path / "copy"
    shutil.copytree(uninterrupted, folder)
    table = parts_table(folder)
    keep = pa.array([rid != 4 for rid in table.column("run_id").to_pylist()])
    rewrite_parts(folder, [table.filter(keep)])  # as if the sweep had not got to run 4
    result = invoke(analyze, folder)
    assert result.exit_code == 0, result.output
    assert "note    phase diagram: 1 of 12 runs left out (1 not run yet)" in result.output
    fig = phase_figure(load_sweep(folder), "jump_size", "demand_elasticity")
    assert "1 of 12 runs left out (1 not run yet)" in fig.get_suptitle()
    assert "11 runs" in fig.get_suptitle()


def test_analyze_shows_p_bubble_at_other_detector_thresholds_with_intervals(uninterrupted, tmp_path):
    import shutil

    from aibubble.episodes import THRESHOLD_KEYS
    from aibubble.experiments.analysis import load_sweep, load_thresholds

    folder = tmp_path / "copy"
    shutil.copytree(uninterrupted, folder)
    result = invoke(analyze, folder)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(folder / "analysis" / "thresholds.csv")
    assert (folder / "analysis" / "thresholds.png").is_file() and (
        folder / "analysis" / "thresholds.md"
    ).is_file()
    assert table["runs"].eq(12).all() and len(table) == 14  # 4 x 3 + 3 - the shipped point twice
    (shipped,) = table[table["shipped"]].itertuples()
    res = results(folder)
    # at the shipped thresholds the grid reads exactly what each run found
    assert shipped.p_bubble == pytest.approx(res["bubble"].mean())
    assert shipped.p_glut == pytest.approx(res["glut"].mean())
    assert (table["p_bubble_low"] <= table["p_bubble"]).all() and (
        table["p_bubble"] <= table["p_bubble_high"]
    ).all()
    # a stricter persistence never finds more gluts (same utilization and impairment thresholds)
    for _, part in table.groupby(["utilization_threshold", "impairment_share_threshold"]):
        assert part.sort_values("persistence_months")["p_glut"].is_monotonic_decreasing
    grid = load_thresholds(load_sweep(folder))
    assert list(grid.columns) == ["run_id", *THRESHOLD_KEYS, "glut", "bubble"]


def test_analyze_with_the_same_parameter_on_both_axes_is_one_line(uninterrupted):
    result = CliRunner().invoke(analyze, [str(uninterrupted), "--x", "jump_size", "--y", "jump_size"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: --x and --y are both 'jump_size': give two different swept parameters"
    ]


SENSITIVITY_FIXED = {"n_users": 50, "steps": 18, "jump_month": 3}


@pytest.mark.parametrize(
    ("design", "files", "columns"),
    [
        (
            {"kind": "sobol", "samples": 8},
            {"sobol.csv", "sobol.md", "sobol.png"},
            ["S1", "S1_conf", "ST", "ST_conf"],
        ),
        (
            {"kind": "morris", "trajectories": 4, "levels": 4},
            {"morris.csv", "morris.md", "morris.png"},
            ["mu", "mu_star", "mu_star_conf", "sigma"],
        ),
    ],
)
def test_sensitivity_studies_give_indices_with_confidence_intervals(tmp_path, design, files, columns):
    params = {
        "jump_size": {"min": 1, "max": 1000, "log": True},
        "demand_elasticity": {"min": 0.3, "max": 2.0},
    }
    spec = {
        "name": design["kind"],
        "base": "sudden-100x",
        "fixed": SENSITIVITY_FIXED,
        "design": {**design, "params": params},
        "seed": 5,
        "series": {"columns": []},
    }
    out = tmp_path / "out"
    result = invoke(sweep, write_spec(tmp_path, spec), "--workers", 2, "--out", out)
    assert result.exit_code == 0, result.output
    folder = only_folder(out)
    assert files <= {p.name for p in (folder / "analysis").iterdir()}
    table = pd.read_csv(folder / "analysis" / f"{design['kind']}.csv")
    assert set(table["parameter"]) == {"jump_size", "demand_elasticity"}
    assert "peak_overcapacity" in set(table["output"])
    assert table[columns].notna().all().all()
