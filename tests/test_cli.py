"""The `aibubble` command as a person uses it: run folders, overrides, errors, listings, plots.

Most tests call the click command in-process (CliRunner: fast); the first fixture runs the
installed console script in a real subprocess to prove that `aibubble` itself works.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

from aibubble.cli import main
from aibubble.config import CONFIG_DIR
from tests.conftest import SCENARIOS

RUN_FILES = {
    "config.yaml",
    "manifest.json",
    "model.parquet",
    "agents.parquet",
    "events.parquet",
    "summary.json",
    "dashboard.png",
    "finance.parquet",
    "vintages.csv",
    "finance.png",
}


@pytest.fixture(autouse=True)
def _in_an_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run each test in its own empty folder: a command falling back to its default output
    (runs/, runs/compare-<timestamp>.png) writes there, never into the repository's runs/."""
    monkeypatch.chdir(tmp_path)


def aibubble_executable() -> str:
    """The console script installed next to this Python (the venv), else the one on PATH."""
    beside = Path(sys.executable).with_name("aibubble")
    found = str(beside) if beside.is_file() else shutil.which("aibubble")
    if found is None:
        pytest.fail("the `aibubble` console script is not installed (pip install -e .)")
    return found


def invoke(*args: str):
    """Run `aibubble ARGS` in-process; click keeps stdout and stderr apart."""
    return CliRunner().invoke(main, [str(a) for a in args])


def only_run_folder(out: Path) -> Path:
    folders = list(out.iterdir())
    assert len(folders) == 1, f"expected one run folder in {out}, found {folders}"
    return folders[0]


def assert_valid_png(path: Path, min_bytes: int = 0) -> None:
    assert path.is_file(), f"{path} was not written"
    assert path.stat().st_size > min_bytes, f"{path} is only {path.stat().st_size} bytes"
    with Image.open(path) as image:
        image.verify()  # raises on a truncated or corrupt file
        assert image.format == "PNG"


# ---------------------------------------------------------------- a real `aibubble run`
@pytest.fixture(scope="module")
def shell_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    """`aibubble run baseline --steps 12 --out OUT` in a subprocess, as typed in a shell."""
    out = tmp_path_factory.mktemp("shell") / "runs"
    done = subprocess.run(
        [aibubble_executable(), "run", "baseline", "--steps", "12", "--out", str(out)],
        cwd=out.parent,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    return done, out


def test_run_exits_0_and_writes_exactly_one_folder_with_every_output(shell_run):
    done, out = shell_run
    assert done.returncode == 0, done.stderr
    folder = only_run_folder(out)
    assert {p.name for p in folder.iterdir()} == RUN_FILES


def test_run_prints_the_path_of_the_run_folder(shell_run):
    done, out = shell_run
    assert str(only_run_folder(out)) in done.stdout


def test_run_manifest_records_the_seed_and_the_git_commit(shell_run):
    _, out = shell_run
    manifest = json.loads((only_run_folder(out) / "manifest.json").read_text())
    assert manifest["seed"] == 42  # run.seed of baseline
    assert "commit" in manifest["git"]
    commit = manifest["git"]["commit"]
    assert commit is None or re.fullmatch(r"[0-9a-f]{40}", commit), commit


def test_run_model_table_has_one_row_per_month_from_0_to_12(shell_run):
    _, out = shell_run
    df = pd.read_parquet(only_run_folder(out) / "model.parquet")
    assert len(df) == 13
    assert list(df.index) == list(range(13))
    assert "utilization" in df.columns


def test_run_agent_and_event_tables_and_summary_are_readable(shell_run):
    _, out = shell_run
    folder = only_run_folder(out)
    agents = pd.read_parquet(folder / "agents.parquet")
    assert set(agents["step"]) == set(range(13))
    pd.read_parquet(folder / "events.parquet")
    summary = json.loads((folder / "summary.json").read_text())
    assert "bubble" in summary


def test_run_dashboard_is_a_valid_png_over_10_kB(shell_run):
    _, out = shell_run
    assert_valid_png(only_run_folder(out) / "dashboard.png", min_bytes=10_000)


def test_the_capex_panel_shows_the_part_spent_on_shells_and_reads_folders_from_before_them(shell_run):
    import matplotlib

    matplotlib.use("Agg")
    from aibubble.experiments import plots

    _, out = shell_run
    frame = pd.read_parquet(only_run_folder(out) / "model.parquet")
    for df, shown in ((frame, True), (frame.drop(columns="shell_capex_usd"), False)):
        fig = plots.dashboard(df, None, {}, "a run")
        (capex,) = [ax for ax in fig.axes if ax.get_title().startswith("(c)")]
        labels = [text.get_text() for text in capex.get_legend().get_texts()]
        assert ("of which shells" in labels) is shown, labels
        assert labels[0] == "capex (GPUs and data-centre shells)"


def test_a_mistake_typed_in_a_shell_gives_one_error_line_and_no_traceback(tmp_path):
    out = tmp_path / "runs"
    out.mkdir()
    done = subprocess.run(
        [
            aibubble_executable(),
            "run",
            "baseline",
            "--steps",
            "12",
            "--set",
            "users.bogus=1",
            "--out",
            str(out),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "users.bogus" in done.stderr
    assert list(out.iterdir()) == []


# ---------------------------------------------------------------- overrides and seeds
def test_set_overrides_land_in_the_resolved_config(tmp_path):
    out = tmp_path / "runs"
    result = invoke(
        "run", "baseline", "--steps", "12", "--set", "users.demand_elasticity=1.7",
        "--set", "jump_size=10", "--set", "jump_month=6", "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    config = yaml.safe_load((only_run_folder(out) / "config.yaml").read_text())
    assert config["users"]["demand_elasticity"] == 1.7
    assert config["discovery"]["jump_size"] == 10 and config["discovery"]["jump_month"] == 6
    assert config["run"]["steps"] == 12


def test_training_on_returns_runs_from_the_cli_as_the_readme_says(tmp_path):
    """`--set labs.training_on_returns=true` (README): the labs size training on its return, so
    the compute they train on differs from the budget rule's on the same seed."""
    training = {}
    for flag in ("false", "true"):
        out = tmp_path / flag
        result = invoke(
            "run", "baseline", "--steps", "24", "--set", "n_users=300",
            "--set", f"labs.training_on_returns={flag}", "--out", out,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        folder = only_run_folder(out)
        assert yaml.safe_load((folder / "config.yaml").read_text())["labs"]["training_on_returns"] is (
            flag == "true"
        )
        training[flag] = pd.read_parquet(folder / "model.parquet")["training_used_h100e"]
    assert training["true"].iloc[0] == training["false"].iloc[0]  # month 0: the same fleet
    assert not training["true"].iloc[1:].equals(training["false"].iloc[1:])


@pytest.fixture(scope="module")
def seeded_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three short runs: seed 7 twice and seed 8 once, each in its own out folder."""
    root = tmp_path_factory.mktemp("seeds")
    folders = {}
    for label, seed in (("seed7-a", 7), ("seed7-b", 7), ("seed8", 8)):
        result = invoke("run", "baseline", "--steps", "12", "--seed", seed, "--out", root / label)
        assert result.exit_code == 0, result.output
        folders[label] = only_run_folder(root / label)
    return folders


def test_same_seed_twice_gives_identical_model_tables(seeded_runs):
    a = pd.read_parquet(seeded_runs["seed7-a"] / "model.parquet")
    b = pd.read_parquet(seeded_runs["seed7-b"] / "model.parquet")
    pd.testing.assert_frame_equal(a, b)


def test_different_seed_gives_a_different_model_table(seeded_runs):
    a = pd.read_parquet(seeded_runs["seed7-a"] / "model.parquet")
    c = pd.read_parquet(seeded_runs["seed8"] / "model.parquet")
    assert a.shape == c.shape
    assert not a.equals(c)
    with pytest.raises(AssertionError):
        pd.testing.assert_frame_equal(a, c)


def test_seed_given_on_the_command_line_is_recorded(seeded_runs):
    manifest = json.loads((seeded_runs["seed8"] / "manifest.json").read_text())
    config = yaml.safe_load((seeded_runs["seed8"] / "config.yaml").read_text())
    assert manifest["seed"] == config["run"]["seed"] == 8


def test_running_a_runs_config_yaml_repeats_the_run(seeded_runs, tmp_path):
    folder = seeded_runs["seed7-a"]
    result = invoke("run", folder / "config.yaml", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    again = pd.read_parquet(only_run_folder(tmp_path) / "model.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(folder / "model.parquet"), again)


# ---------------------------------------------------------------- mistakes
def _malformed_yaml(tmp_path: Path) -> tuple[list[str], str]:
    path = tmp_path / "broken.yaml"
    path.write_text("foo: [1,\n")
    return [str(path)], str(path)


def _missing_file(tmp_path: Path) -> tuple[list[str], str]:
    path = tmp_path / "does-not-exist.yaml"
    return [str(path)], str(path)


MISTAKES = {
    "malformed YAML file": _malformed_yaml,
    "unknown key": lambda _: (["baseline", "--set", "users.bogus=1"], "users.bogus"),
    "wrong type": lambda _: (["baseline", "--set", "users.demand_elasticity=abc"], "users.demand_elasticity"),
    "out of range": lambda _: (
        ["baseline", "--set", "users.demand_elasticity=-1"],
        "users.demand_elasticity",
    ),
    "unknown scenario": lambda _: (["nope"], "nope"),
    "missing scenario file": _missing_file,
    "malformed --set": lambda _: (["baseline", "--set", "novalue"], "novalue"),
}


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_a_mistake_gives_one_error_line_naming_it_a_nonzero_exit_and_no_run_folder(mistake, tmp_path):
    args, named = MISTAKES[mistake](tmp_path)
    out = tmp_path / "runs"
    out.mkdir()
    result = invoke("run", *args, "--steps", "12", "--out", out)
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), f"uncaught {result.exception!r}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("error:")
    assert named in lines[0]
    assert list(out.iterdir()) == [], "a failed run must leave no folder, not even a temporary one"


# ---------------------------------------------------------------- listing, showing, comparing
def test_scenarios_lists_all_six_scenarios_each_with_a_description():
    result = invoke("scenarios")
    assert result.exit_code == 0, result.output
    described = {}
    for line in result.stdout.splitlines():
        name, _, description = line.strip().partition(" ")
        described[name] = description.strip()
    for name in SCENARIOS:
        assert name in described, f"{name} missing from:\n{result.stdout}"
        assert described[name], f"{name} has no description"
        assert not described[name].startswith("(invalid"), described[name]


def test_show_prints_discovery_jump_size_with_value_unit_and_source():
    result = invoke("show", "sudden-100x")
    assert result.exit_code == 0, result.output
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for line in result.stdout.splitlines():
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
        elif current is not None and line.strip():
            key, *columns = re.split(r"\s{2,}", line.strip())
            current[key] = columns
    value, unit, source = sections["discovery"]["jump_size"]
    assert float(value) == 100
    assert unit == "x efficiency"
    assert source
    # the estimated parameters say so, with their hand-set value beside them
    assert "parameters: record-2025" in result.stdout
    value, unit, source = sections["users"]["demand_elasticity"]
    median = yaml.safe_load((CONFIG_DIR / "parameters" / "record-2025.yaml").read_text())["users"]
    assert float(value) == median["demand_elasticity"]
    assert source.startswith("posterior median, calibration record-2025")
    assert "hand-set 1.1: NBER" in source
    hand_set = invoke("show", "sudden-100x", "--set", "parameters=none")
    assert "parameters:" not in hand_set.stdout and "posterior median" not in hand_set.stdout


def test_compare_writes_a_png_of_two_runs(seeded_runs, tmp_path):
    png = tmp_path / "plots" / "x.png"
    result = invoke("compare", seeded_runs["seed7-a"], seeded_runs["seed8"], "--out", png)
    assert result.exit_code == 0, result.output
    assert_valid_png(png, min_bytes=10_000)
    assert str(png) in result.stdout


def test_compare_of_a_folder_that_is_not_a_run_names_it(tmp_path):
    result = invoke("compare", tmp_path, "--out", tmp_path / "x.png")
    assert result.exit_code != 0
    assert str(tmp_path) in result.stderr
    assert not (tmp_path / "x.png").exists()
