"""Bad inputs and faults at the command line, as one table: every case must end with a non-zero
exit code, exactly one line on stderr that starts with `error:` and names the key or the file,
no traceback, and nothing written (each command runs in an empty temporary folder, with every
--out pointing into it, and the folder must look the same afterwards).

Most cases run in-process through click's CliRunner (milliseconds each); the cases marked
`shell` run the installed `aibubble` console script in a subprocess, as typed in a shell.
"""

from __future__ import annotations

import math
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from aibubble.cli import main
from tests.test_cli import aibubble_executable

BINARY = bytes(range(256)) * 4  # NUL bytes and no valid UTF-8
LATIN1 = "name: café\n".encode("latin-1")
NAN, INF = math.nan, math.inf

# A tiny valid spec; cases change one thing in it. jump_month 3 keeps a discovery inside 6 months.
SPEC: dict[str, Any] = {
    "name": "bad",
    "base": "baseline",
    "fixed": {"n_users": 20, "steps": 6, "jump_month": 3},
    "design": {"kind": "grid", "params": {"jump_size": {"values": [1, 2]}}},
    "replicates": 1,
    "seed": 1,
}
RANGES = {"jump_size": {"min": 1, "max": 10}, "demand_elasticity": {"min": 0.5, "max": 1.5}}


def spec(**changes: Any) -> str:
    """SPEC with top-level keys replaced (None: the key left out), as YAML (NaN as `.nan`)."""
    data = {k: v for k, v in {**SPEC, **changes}.items() if v is not None}
    return yaml.safe_dump(data, sort_keys=False)


def design(**d: Any) -> dict[str, str]:
    return {"spec.yaml": spec(design=d)}


def grid(**params: Any) -> dict[str, str]:
    return design(kind="grid", params=params)


def _closed_port() -> int:
    """A local TCP port nothing listens on (just released by the kernel)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Case:
    args: str  # split on whitespace; the command runs in the case's temporary folder
    names: tuple[str, ...]  # what the error line must contain
    files: dict[str, str | bytes] = field(default_factory=dict)  # written first; "x/" makes a folder
    folder: str | None = None  # "run" or "sweep": a real folder of that kind copied in first
    shell: bool = False  # run the console script in a subprocess


def case(
    args: str,
    *names: str,
    files: dict[str, str | bytes] | None = None,
    folder: str | None = None,
    shell: bool = False,
) -> Case:
    return Case(args, names, files or {}, folder, shell)


HUGE = {
    "spec.yaml": spec(
        replicates=5,
        design={
            "kind": "grid",
            "params": {
                "jump_size": {"min": 1, "max": 1000, "num": 2000},
                "demand_elasticity": {"min": 0.3, "max": 2, "num": 2000},
            },
        },
    )
}
OUT = "--out out"
R = f"run baseline --steps 6 {OUT}"
CASES: dict[str, Case] = {
    # ------------------------------------------------------------------ run: --set
    "run --set NaN": case(f"{R} --set jump_size=.nan", "discovery.jump_size", "finite", shell=True),
    "run --set inf": case(f"{R} --set users.demand_elasticity=.inf", "users.demand_elasticity", "finite"),
    "run --set -inf": case(f"{R} --set forecast_optimism=-.inf", "hyperscalers.forecast_optimism"),
    "run --set nan as a word": case(f"{R} --set jump_size=nan", "discovery.jump_size"),
    "run --set a boolean for a number": case(f"{R} --set users.n_segments=true", "users.n_segments"),
    "run --set a string for a number": case(f"{R} --set jump_size=big", "discovery.jump_size"),
    "run --set an empty value": case(f"{R} --set jump_size=", "discovery.jump_size"),
    "run --set an unknown key": case(f"{R} --set users.bogus=1", "users.bogus"),
    "run --set an unknown section": case(f"{R} --set nosuch.key=1", "nosuch"),
    "run --set a section": case(f"{R} --set users=5", "users"),
    "run --set without =": case(f"{R} --set novalue", "novalue"),
    "run --set without a key": case(f"{R} --set =5", "=5"),
    "run --set a key twice": case(
        f"{R} --set jump_size=10 --set discovery.jump_size=20", "discovery.jump_size"
    ),
    "run a discovery after the run": case(f"{R} --set jump_size=10 --set jump_month=500", "jump_month"),
    "run a discovery of a lab that does not exist": case(
        f"{R} --set jump_size=10 --set jump_month=3 --set discovery.lab=99", "discovery.lab"
    ),
    "run a time budget below month-0 usage": case(
        f"{R} --set users.saturation_tokens_per_user_day=1000", "users.saturation_tokens_per_user_day"
    ),
    "run a spending cap past a tenth of world GDP": case(
        f"{R} --set users.max_spend_usd_per_user_month=1e4", "users.max_spend_usd_per_user_month", "GDP"
    ),
    "run --counterfactual without a discovery": case(f"{R} --counterfactual", "discovery.jump_size"),
    # ------------------------------------------------------------------ run: options
    "run --seed below 0": case(f"{R} --seed -1", "--seed"),
    "run --steps 0": case(f"run baseline {OUT} --steps 0", "--steps"),
    "run --steps not a number": case(f"run baseline {OUT} --steps many", "--steps"),
    "run --out a file": case("run baseline --steps 6 --out afile", "afile", files={"afile": "x"}),
    "run without a scenario": case("run", "SCENARIO"),
    # ------------------------------------------------------------------ run: scenario files
    "run an unknown scenario": case(f"run nope {OUT}", "nope"),
    "run a missing file": case(f"run missing.yaml {OUT}", "missing.yaml"),
    "run a folder named .yaml": case(f"run adir.yaml {OUT}", "adir.yaml", files={"adir.yaml/": ""}),
    "run a file with NaN": case(
        f"run bad.yaml {OUT}",
        "bad.yaml",
        "discovery.jump_size",
        files={"bad.yaml": "extends: baseline\ndiscovery: {jump_size: .nan}\n"},
    ),
    "run a file with inf": case(
        f"run bad.yaml {OUT}",
        "bad.yaml",
        "run.start_year",
        files={"bad.yaml": "extends: baseline\nrun: {start_year: .inf}\n"},
    ),
    "run a file with a boolean for a number": case(
        f"run bad.yaml {OUT}", "run.steps", files={"bad.yaml": "extends: baseline\nrun: {steps: yes}\n"}
    ),
    "run a file with a string for a number": case(
        f"run bad.yaml {OUT}",
        "users.demand_elasticity",
        files={"bad.yaml": "extends: baseline\nusers: {demand_elasticity: high}\n"},
    ),
    "run a file with an unknown key": case(
        f"run bad.yaml {OUT}",
        "users.elasticity",
        files={"bad.yaml": "extends: baseline\nusers: {elasticity: 1.0}\n"},
    ),
    "run a file with an unknown section": case(
        f"run bad.yaml {OUT}", "market", files={"bad.yaml": "extends: baseline\nmarket: {x: 1}\n"}
    ),
    "run a file with a key twice": case(
        f"run bad.yaml {OUT}",
        "bad.yaml",
        "duplicate key 'users'",
        files={"bad.yaml": "extends: baseline\nusers: {n_segments: 10}\nusers: {n_segments: 20}\n"},
    ),
    "run an empty file": case(f"run bad.yaml {OUT}", "bad.yaml", "empty", files={"bad.yaml": ""}),
    "run a binary file": case(f"run bad.yaml {OUT}", "bad.yaml", files={"bad.yaml": BINARY}, shell=True),
    "run a Latin-1 file": case(f"run bad.yaml {OUT}", "bad.yaml", "UTF-8", files={"bad.yaml": LATIN1}),
    "run malformed YAML": case(f"run bad.yaml {OUT}", "bad.yaml", files={"bad.yaml": "users: [1,\n"}),
    "run a file holding a list": case(f"run bad.yaml {OUT}", "bad.yaml", files={"bad.yaml": "- 1\n- 2\n"}),
    "run extends in a cycle": case(
        f"run a.yaml {OUT}", "cycle", files={"a.yaml": "extends: b.yaml\n", "b.yaml": "extends: a.yaml\n"}
    ),
    "run extends a missing file": case(
        f"run bad.yaml {OUT}", "nowhere.yaml", files={"bad.yaml": "extends: nowhere.yaml\n"}
    ),
    "run extends a number": case(f"run bad.yaml {OUT}", "extends", files={"bad.yaml": "extends: 5\n"}),
    "run a file with a discovery at month 0": case(
        f"run bad.yaml {OUT}",
        "jump_month",
        files={"bad.yaml": "extends: baseline\ndiscovery: {jump_size: 100, jump_month: 0}\n"},
    ),
    # ------------------------------------------------------------------ show
    "show an unknown scenario": case("show nope", "nope"),
    "show --set a boolean for a number": case("show baseline --set steps=true", "run.steps", shell=True),
    "show --set inf": case("show baseline --set users.demand_elasticity=.inf", "users.demand_elasticity"),
    "show --set a lab that does not exist": case(
        "show baseline --set jump_size=10 --set discovery.lab=99", "discovery.lab"
    ),
    "show an empty file": case("show bad.yaml", "bad.yaml", files={"bad.yaml": ""}),
    "show a binary file": case("show bad.yaml", "bad.yaml", files={"bad.yaml": BINARY}),
    "show a file with a key twice": case(
        "show bad.yaml", "duplicate key 'run'", files={"bad.yaml": "run: {steps: 5}\nrun: {steps: 6}\n"}
    ),
    # ------------------------------------------------------------------ compare
    "compare a missing folder": case("compare nowhere --out x.png", "nowhere", shell=True),
    "compare a folder that is not a run": case("compare empty --out x.png", "empty", files={"empty/": ""}),
    "compare a corrupt model.parquet": case(
        "compare broken --out x.png",
        "broken/model.parquet",
        files={"broken/model.parquet": b"PAR1 not really"},
    ),
    "compare a binary summary.json": case(
        "compare run --out x.png", "run/summary.json", folder="run", files={"run/summary.json": BINARY}
    ),
    "compare a malformed summary.json": case(
        "compare run --out x.png", "run/summary.json", folder="run", files={"run/summary.json": "{"}
    ),
    "compare a summary.json that is a list": case(
        "compare run --out x.png", "run/summary.json", folder="run", files={"run/summary.json": "[1, 2]"}
    ),
    "compare a good and a missing run": case("compare run nowhere --out x.png", "nowhere", folder="run"),
    "compare --out a folder": case("compare run --out adir", "adir", folder="run", files={"adir/": ""}),
    "compare --out under a file": case(
        "compare run --out afile/x.png", "afile/x.png", folder="run", files={"afile": "x"}
    ),
    "compare nothing": case("compare", "RUN_DIRS"),
    # ------------------------------------------------------------------ sweep: the design
    "sweep NaN in grid values": case(
        "sweep spec.yaml --dry-run",
        "design.params.jump_size.values.1",
        "finite",
        files=grid(jump_size={"values": [1, NAN]}),
        shell=True,
    ),
    "sweep inf as a grid bound": case(
        "sweep spec.yaml --dry-run",
        "design.params.jump_size.max",
        files=grid(jump_size={"min": 1, "max": INF, "num": 3}),
    ),
    "sweep NaN in a list point": case(
        f"sweep spec.yaml {OUT}",
        "design.points.0.jump_size",
        files=design(kind="list", points=[{"jump_size": NAN}]),
    ),
    "sweep NaN as a range bound": case(
        "sweep spec.yaml --dry-run",
        "design.params.jump_size.min",
        files=design(kind="lhs", samples=4, params={"jump_size": {"min": NAN, "max": 3}}),
    ),
    "sweep an inverted range": case(
        "sweep spec.yaml --dry-run",
        "design.params.jump_size",
        "below 'max'",
        files=design(kind="lhs", samples=4, params={"jump_size": {"min": 10, "max": 1}}),
    ),
    "sweep an inverted grid range": case(
        "sweep spec.yaml --dry-run",
        "design.params.jump_size",
        files=grid(jump_size={"min": 10, "max": 1, "num": 3}),
    ),
    "sweep a log range from 0": case(
        "sweep spec.yaml --dry-run",
        "design.params.jump_size",
        "log range",
        files=design(kind="lhs", samples=4, params={"jump_size": {"min": 0, "max": 10, "log": True}}),
    ),
    "sweep sobol N not a power of 2": case(
        "sweep spec.yaml --dry-run",
        "design.samples",
        "power of 2",
        files=design(kind="sobol", samples=12, params=RANGES),
    ),
    "sweep morris with odd levels": case(
        "sweep spec.yaml --dry-run",
        "design.levels",
        files=design(kind="morris", trajectories=4, levels=5, params=RANGES),
    ),
    "sweep an unknown design kind": case(
        "sweep spec.yaml --dry-run", "design", "kind", files=design(kind="random")
    ),
    "sweep an unknown key of a parameter": case(
        "sweep spec.yaml --dry-run",
        "design.params.jump_size.nmu",
        files=grid(jump_size={"values": [1], "nmu": 3}),
    ),
    "sweep values and a range at once": case(
        "sweep spec.yaml --dry-run",
        "design.params.jump_size",
        files=grid(jump_size={"values": [1], "min": 1}),
    ),
    "sweep an unknown config key": case(
        "sweep spec.yaml --dry-run", "users.elastcity", files=grid(**{"users.elastcity": {"values": [1.0]}})
    ),
    "sweep a section": case("sweep spec.yaml --dry-run", "users", files=grid(users={"values": [1]})),
    "sweep a point outside the bounds": case(
        f"sweep spec.yaml {OUT}", "discovery.jump_size=0.5", files=grid(jump_size={"values": [2, 0.5]})
    ),
    "sweep a discovery after the run": case(
        f"sweep spec.yaml {OUT}",
        "jump_month",
        files=grid(jump_size={"values": [10]}, jump_month={"values": [3, 99]}),
    ),
    "sweep a discovery of a lab that does not exist": case(
        "sweep spec.yaml --dry-run",
        "discovery.lab",
        files=design(kind="list", points=[{"jump_size": 10.0, "discovery.lab": 99}]),
    ),
    "sweep a boolean for replicates": case(
        "sweep spec.yaml --dry-run", "replicates", files={"spec.yaml": spec(replicates=True)}
    ),
    "sweep a string for a number": case(
        "sweep spec.yaml --dry-run",
        "design.params.jump_size.num",
        files=grid(jump_size={"min": 1, "max": 3, "num": "seven"}),
    ),
    "sweep 0 replicates": case(
        "sweep spec.yaml --dry-run", "replicates", files={"spec.yaml": spec(replicates=0)}
    ),
    "sweep a huge grid": case(
        "sweep spec.yaml --dry-run", "spec.yaml", "20,000,000 runs", files=HUGE, shell=True
    ),
    "sweep a key by two names": case(
        "sweep spec.yaml --dry-run",
        "discovery.jump_size",
        files=grid(jump_size={"values": [1]}, **{"discovery.jump_size": {"values": [2]}}),
    ),
    "sweep NaN in fixed": case(
        "sweep spec.yaml --dry-run",
        "discovery.jump_size",
        files={"spec.yaml": spec(fixed={"jump_size": NAN})},
    ),
    "sweep an unknown fixed key": case(
        "sweep spec.yaml --dry-run", "fixed.bogus", files={"spec.yaml": spec(fixed={"bogus": 1})}
    ),
    "sweep an unknown base": case(f"sweep spec.yaml {OUT}", "nope", files={"spec.yaml": spec(base="nope")}),
    "sweep a binary base file": case(
        "sweep spec.yaml --dry-run",
        "base.yaml",
        files={"base.yaml": BINARY, "spec.yaml": spec(base="base.yaml")},
    ),
    "sweep an unknown series column": case(
        "sweep spec.yaml --dry-run",
        "series.columns.0",
        files={"spec.yaml": spec(series={"columns": ["bogus"]})},
    ),
    "sweep a spec without a name": case(
        "sweep spec.yaml --dry-run", "name", files={"spec.yaml": spec(name=None)}
    ),
    # ------------------------------------------------------------------ sweep: the file and options
    "sweep a binary spec": case("sweep spec.yaml --dry-run", "spec.yaml", files={"spec.yaml": BINARY}),
    "sweep an empty spec": case("sweep spec.yaml --dry-run", "spec.yaml", "empty", files={"spec.yaml": ""}),
    "sweep a Latin-1 spec": case(
        "sweep spec.yaml --dry-run", "spec.yaml", "UTF-8", files={"spec.yaml": LATIN1}
    ),
    "sweep a spec with a key twice": case(
        "sweep spec.yaml --dry-run", "duplicate key 'name'", files={"spec.yaml": "name: a\nname: b\n"}
    ),
    "sweep a spec holding a list": case(
        "sweep spec.yaml --dry-run", "spec.yaml", files={"spec.yaml": "- 1\n"}
    ),
    "sweep a missing spec": case("sweep nowhere.yaml --dry-run", "nowhere.yaml"),
    "sweep without a spec": case(f"sweep {OUT}", "SPEC.yaml"),
    "sweep --retry-failed without --resume": case(
        f"sweep spec.yaml --retry-failed {OUT}", "--retry-failed", files=grid(jump_size={"values": [1]})
    ),
    "sweep --scheduler without --backend dask": case(
        f"sweep spec.yaml --scheduler tcp://127.0.0.1:8786 {OUT}",
        "--scheduler",
        files=grid(jump_size={"values": [1]}),
    ),
    "sweep an unreachable Dask scheduler": case(
        f"sweep spec.yaml --backend dask --scheduler tcp://127.0.0.1:{_closed_port()} {OUT}",
        "--scheduler tcp://127.0.0.1:",
        shell=True,
        files=grid(jump_size={"values": [1]}),
    ),
    "sweep a malformed scheduler address": case(
        f"sweep spec.yaml --backend dask --scheduler nohost {OUT}",
        "--scheduler nohost",
        files=grid(jump_size={"values": [1]}),
    ),
    "sweep --workers 0": case(
        f"sweep spec.yaml --workers 0 {OUT}", "--workers", files=grid(jump_size={"values": [1]})
    ),
    # ------------------------------------------------------------------ sweep --resume
    "sweep --resume a missing folder": case("sweep --resume nowhere", "nowhere"),
    "sweep --resume a folder that is not a sweep": case(
        "sweep --resume empty", "empty", files={"empty/": ""}
    ),
    "sweep --resume a run folder": case("sweep --resume run", "run", folder="run"),
    "sweep --resume a corrupt design.parquet": case(
        "sweep --resume sweep",
        "sweep/design.parquet",
        folder="sweep",
        files={"sweep/design.parquet": b"junk"},
    ),
    "sweep --resume a binary spec.yaml": case(
        "sweep --resume sweep",
        "sweep/spec.yaml",
        folder="sweep",
        files={"sweep/spec.yaml": BINARY},
        shell=True,
    ),
    "sweep --resume a corrupt manifest.json": case(
        "sweep --resume sweep", "sweep/manifest.json", folder="sweep", files={"sweep/manifest.json": "{"}
    ),
    "sweep --resume a binary base_config.yaml": case(
        "sweep --resume sweep",
        "sweep/base_config.yaml",
        folder="sweep",
        files={"sweep/base_config.yaml": BINARY},
    ),
    "sweep --resume with a different spec": case(
        "sweep other.yaml --resume sweep", "other.yaml", folder="sweep", files={"other.yaml": spec(seed=2)}
    ),
    # ------------------------------------------------------------------ analyze
    "analyze a missing folder": case("analyze nowhere", "nowhere"),
    "analyze a folder that is not a sweep": case(
        "analyze empty", "empty", "not a sweep folder", files={"empty/": ""}
    ),
    "analyze a run folder": case("analyze run", "run", folder="run"),
    "analyze --x P --y P": case(
        "analyze sweep --x jump_size --y jump_size", "jump_size", folder="sweep", shell=True
    ),
    "analyze --x not swept": case("analyze sweep --x demand_elasticity", "demand_elasticity", folder="sweep"),
    "analyze --severity unknown": case("analyze sweep --severity bogus", "--severity", folder="sweep"),
    "analyze a corrupt design.parquet": case(
        "analyze sweep", "sweep/design.parquet", folder="sweep", files={"sweep/design.parquet": b"junk"}
    ),
    "analyze a binary spec.yaml": case(
        "analyze sweep", "sweep/spec.yaml", folder="sweep", files={"sweep/spec.yaml": BINARY}
    ),
    "analyze a corrupt manifest.json": case(
        "analyze sweep", "sweep/manifest.json", folder="sweep", files={"sweep/manifest.json": "not json"}
    ),
    "analyze a spec that sweeps what the design lacks": case(
        "analyze sweep",
        "demand_elasticity",
        folder="sweep",
        files={
            "sweep/spec.yaml": spec(
                design={"kind": "grid", "params": {"demand_elasticity": {"values": [1.0]}}}
            )
        },
    ),
    # ------------------------------------------------------------------ report
    "report --replicates 0": case("report --replicates 0 --out findings", "--replicates", shell=True),
    "report --steps 12": case("report --steps 12 --out findings", "--steps"),
    "report --grid-levels 1": case("report --grid-levels 1 --out findings", "--grid-levels"),
    "report --n-users 5": case("report --n-users 5 --out findings", "--n-users"),
    "report --workers 0": case("report --workers 0 --out findings", "--workers"),
    "report --out a file": case("report --out afile", "afile", files={"afile": "x"}),
    # ------------------------------------------------------------------ viz
    "viz an unknown scenario": case("viz --scenario nope", "nope"),
    "viz a binary scenario": case("viz --scenario bad.yaml", "bad.yaml", files={"bad.yaml": BINARY}),
    "viz an empty scenario": case("viz --scenario bad.yaml", "bad.yaml", files={"bad.yaml": ""}),
    "viz on all interfaces without --expose": case(
        "viz --host 0.0.0.0", "--host 0.0.0.0", "--expose", shell=True
    ),
    "viz on a LAN address without --expose": case("viz --host 192.168.1.20", "--host 192.168.1.20"),
    "viz a port out of range": case("viz --port 70000", "--port"),
}


# ---------------------------------------------------------------------------------------- folders
@pytest.fixture(scope="module")
def real_folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A real run folder (3 months, 20 segments) and a real sweep folder (no run made yet)."""
    from aibubble.experiments.sweeps import create_sweep, parse_spec, prepare

    root = tmp_path_factory.mktemp("real")
    result = CliRunner().invoke(
        main, ["run", "baseline", "--steps", "3", "--set", "n_users=20", "--out", str(root / "runs")]
    )
    assert result.exit_code == 0, result.output
    (run,) = (root / "runs").iterdir()
    prepared = prepare(parse_spec(SPEC, "spec"), "spec")
    sweep = create_sweep(prepared, root / "sweeps", "test").root
    return {"run": run, "sweep": sweep}


def _set_up(c: Case, tmp: Path, real: dict[str, Path]) -> None:
    if c.folder is not None:
        shutil.copytree(real[c.folder], tmp / c.folder)
    for name, content in c.files.items():
        path = tmp / name
        if name.endswith("/"):
            path.mkdir(parents=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def _tree(root: Path) -> dict[str, int]:
    """Every file and folder under `root` with its size (folders: -1)."""
    return {str(p.relative_to(root)): (-1 if p.is_dir() else p.stat().st_size) for p in root.rglob("*")}


def _check(c: Case, code: int, stdout: str, stderr: str, before: dict[str, int], tmp: Path) -> None:
    assert code != 0, f"exit code 0\nstdout: {stdout}\nstderr: {stderr}"
    assert "Traceback" not in stderr and "Traceback" not in stdout, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{stderr}"
    assert lines[0].startswith("error: "), lines[0]
    for name in c.names:
        assert name in lines[0], f"{name!r} not named in: {lines[0]}"
    assert _tree(tmp) == before, "the command left files or folders behind"


IN_PROCESS = [name for name, c in CASES.items() if not c.shell]
IN_SHELL = [name for name, c in CASES.items() if c.shell]


def test_the_table_is_large_and_covers_every_command():
    assert len(CASES) >= 60
    commands = {c.args.split()[0] for c in CASES.values()}
    assert commands == {"run", "show", "compare", "sweep", "analyze", "report", "viz"}
    assert 10 <= len(IN_SHELL) < len(IN_PROCESS)


def _no_server(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("viz must stop before it starts a server")


@pytest.mark.parametrize("name", IN_PROCESS)
def test_a_bad_input_gives_one_error_line_and_leaves_nothing_behind(
    name, tmp_path, monkeypatch, real_folders
):
    c = CASES[name]
    _set_up(c, tmp_path, real_folders)
    before = _tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("aibubble.cli.serve.subprocess", SimpleNamespace(Popen=_no_server))
    result = CliRunner().invoke(main, c.args.split())
    assert isinstance(result.exception, SystemExit), f"uncaught {result.exception!r}"
    _check(c, result.exit_code, result.stdout, result.stderr, before, tmp_path)


@pytest.mark.parametrize("name", IN_SHELL)
def test_a_bad_input_typed_in_a_shell_gives_one_error_line_and_leaves_nothing_behind(
    name, tmp_path, real_folders
):
    c = CASES[name]
    _set_up(c, tmp_path, real_folders)
    before = _tree(tmp_path)
    done = subprocess.run(
        [aibubble_executable(), *c.args.split()],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    _check(c, done.returncode, done.stdout, done.stderr, before, tmp_path)
