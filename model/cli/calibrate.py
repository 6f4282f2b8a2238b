"""`aibubble calibrate`: estimate the behavioural parameters against the record.

A plain `click.Command`, registered on the main group in `model/cli/__init__.py`. Exit codes:
0 done; 2 a mistake in the spec, its targets, an option or the folder (one `error:` line, and no
folder is made); 130 interrupted (the folder is resumable with --resume).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from aibubble.cli.errors import UserError, people_errors


@click.command("calibrate")
@click.argument("spec_file", metavar="SPEC", required=False)
@click.option(
    "--backend",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="local: this machine (1 worker runs in this process); dask: a Dask cluster.",
)
@click.option("--workers", "-w", type=click.IntRange(min=1), help="Workers (default: CPUs on this machine).")
@click.option(
    "--scheduler", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://host:8786 (default: a LocalCluster)."
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs/calibrations"),
    show_default=True,
    help="Folder that receives the calibration folder.",
)
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Continue the calibration in this folder (its frozen spec and targets).",
)
@click.option("--progress/--no-progress", default=None, help="Progress bars (default: only on a terminal).")
@people_errors
def calibrate(
    spec_file: str | None,
    backend: str,
    workers: int | None,
    scheduler: str | None,
    out_dir: Path,
    resume_dir: Path | None,
    progress: bool | None,
) -> None:
    """Screen (Morris), estimate (ABC-SMC with pyabc) and check (posterior predictive, with the
    2026 figures out of sample) the parameters in SPEC: a file, or a shipped spec's name
    (config/calibration/, e.g. record-2025). Writes OUT/<timestamp>_<name>/ (see
    `aibubble.calibration.run`)."""
    from aibubble.calibration.run import calibrate as run_calibration
    from aibubble.calibration.spec import spec_path
    from aibubble.experiments.sweeps import default_workers

    if (spec_file is None) == (resume_dir is None):
        raise UserError("give a SPEC, or --resume DIR (not both)")
    if scheduler and backend != "dask":
        raise UserError("--scheduler needs --backend dask")
    if resume_dir is not None and not resume_dir.is_dir():
        raise UserError(f"{resume_dir}: no such calibration folder")
    try:
        folder = run_calibration(
            spec_path(spec_file) if spec_file else None,
            out_root=out_dir,
            backend=backend,
            workers=workers or default_workers(),
            scheduler=scheduler,
            resume=resume_dir,
            progress=sys.stderr.isatty() if progress is None else progress,
            say=click.echo,
        )
    except KeyboardInterrupt:
        click.echo("interrupted: continue with --resume on the folder printed above", err=True)
        sys.exit(130)
    click.echo(f"done: {folder}")
    click.echo(f"  posterior: {folder / 'posterior.csv'}; checks: {folder / 'predictive.csv'}")


@click.command("predict")
@click.argument("folder", metavar="CALIBRATION_DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--draws", "n_draws", type=click.IntRange(min=1), default=50, show_default=True, help="Posterior draws."
)
@click.option(
    "--seeds", "n_seeds", type=click.IntRange(min=1), default=4, show_default=True, help="Seeds per draw."
)
@click.option(
    "--year",
    type=click.IntRange(2024, 2033),
    default=2027,
    show_default=True,
    help="Year of the open discoveries.",
)
@click.option("--steps", type=click.IntRange(min=1), help="Months per run (default: the base scenario's).")
@click.option(
    "--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Master seed of draws and seeds."
)
@click.option("--backend", type=click.Choice(["local", "dask"]), default="local", show_default=True)
@click.option("--workers", "-w", type=click.IntRange(min=1), help="Workers (default: CPUs on this machine).")
@click.option(
    "--scheduler", metavar="ADDRESS", help="Dask scheduler (default with --backend dask: a LocalCluster)."
)
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: only on a terminal).")
@people_errors
def predict(
    folder: Path,
    n_draws: int,
    n_seeds: int,
    year: int,
    steps: int | None,
    seed: int,
    backend: str,
    workers: int | None,
    scheduler: str | None,
    progress: bool | None,
) -> None:
    """P(glut), P(bubble), glut length and losses for open 2x, 10x, 100x discoveries in YEAR and a
    steady 10x/yr, over posterior draws x seeds of a finished calibration; writes
    CALIBRATION_DIR/predict.parquet, predict.csv and predict.png (P(bubble) per draw against the
    parameter that decides it), and adds the answer to its README.md."""
    import pandas as pd

    from aibubble.calibration import predict as pr
    from aibubble.calibration.plots import answer_figure
    from aibubble.calibration.run import ordered_map
    from aibubble.calibration.summary import write_readme
    from aibubble.experiments.files import atomic_write_text, save_figure, write_parquet
    from aibubble.experiments.sweeps import default_workers

    status = calibration_status(folder)
    if status != "complete":
        raise UserError(
            f"{folder}: the calibration is {status}; finish it with `aibubble calibrate --resume`"
        )
    if scheduler and backend != "dask":
        raise UserError("--scheduler needs --backend dask")
    # the runs need the posterior and base config, the README the rest: checked before any run
    for needed in (
        "posterior.parquet",
        "base_config.yaml",
        "posterior.csv",
        "generations.csv",
        "predictive.csv",
    ):
        if not (folder / needed).is_file():
            raise UserError(f"{folder}: no {needed}; the calibration folder is incomplete")
    n = len(pr.shocks(year)) * n_draws * n_seeds
    click.echo(f"{n} runs: {len(pr.shocks(year))} shocks x {n_draws} posterior draws x {n_seeds} seeds")
    with ordered_map(backend, workers or default_workers(), scheduler) as (map_, description):
        click.echo(f"on {description}")
        runs = pr.predict(
            folder,
            map_,
            n_draws=n_draws,
            n_seeds=n_seeds,
            year=year,
            steps=steps,
            seed=seed,
            progress=sys.stderr.isatty() if progress is None else progress,
        )
    tab = pr.table(runs)
    params = pr.draws(folder, n_draws, seed)
    decides = pr.conditions(runs, params)
    write_parquet(runs, folder / "predict.parquet")
    atomic_write_text(folder / "predict-conditions.csv", decides.to_csv(index=False))
    atomic_write_text(folder / "predict.csv", tab.to_csv(index=False))
    key = str(decides["param"].iloc[0])
    units = pd.read_csv(folder / "posterior.csv").set_index("key")["unit"]
    save_figure(answer_figure(runs, params, key, str(units.get(key, ""))), folder / "predict.png")
    write_readme(folder)  # the folder's README now leads to the answer too
    for line in pr.lines(tab):
        click.echo(line)
    click.echo(f"written: {folder / 'predict.csv'}")


def calibration_status(folder: Path) -> str:
    """A calibration folder's manifest status ('complete' once it has finished)."""
    import json

    try:
        return str(json.loads((folder / "manifest.json").read_text())["status"])
    except (OSError, ValueError, KeyError):
        raise UserError(f"{folder}: not a calibration folder (no readable manifest.json)") from None
