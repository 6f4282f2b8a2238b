"""`aibubble sweep` and `aibubble analyze`: many runs over a design, and their pictures.

Both are plain `click.Command` objects, registered on the main group in `model/cli/__init__.py`. They also
run on their own: `python -m aibubble.cli.sweeps sweep SPEC.yaml`.

Before anything heavy, `sweep` prints the design's size (computed from the spec, not by
enumerating it) and an estimate of the run time (a few months of one real run of the base
config, timed here); a design above `MAX_RUNS` runs is refused unless `--allow-large` is given.

Exit codes: 0 every run finished ok; 1 some runs failed (they are listed in the ledger with
their tracebacks); 2 a mistake in the spec, an option or the folder (one `error:` line);
130 interrupted (the folder is resumable).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import click

from aibubble.cli.errors import OneLineErrors, UserError, people_errors
from aibubble.errors import UserMistake
from aibubble.experiments.sweeps.design import MAX_RUNS
from aibubble.measures import SEVERITIES


def _command_line() -> str:
    return shlex.join(["aibubble", *sys.argv[1:]])


def _size_lines(spec: Any) -> list[str]:
    """What the spec asks for, from the spec alone: printed before the design is enumerated."""
    return [
        f"sweep '{spec.name}': base '{spec.base}', {spec.design.kind} design",
        f"  {spec.design.n_points} design points x {spec.replicates} replicates = {spec.n_runs} runs "
        f"(master seed {spec.seed}{', common seeds' if spec.common_seeds else ''})",
    ]


def _estimate_line(base_config: dict[str, Any], runs: int, workers: int, backend: str) -> str:
    """Runs x the time of one run of the base config, over the workers that can run at once (local
    workers beyond this machine's CPUs only share them)."""
    from aibubble.experiments.sweeps import default_workers
    from aibubble.experiments.sweeps.execute import seconds_per_run

    try:
        per_run = seconds_per_run(base_config)
    except Exception as exc:  # the model itself failed: the runs will say why, one by one
        return f"  run time: no estimate (a probe run of the base config raised {type(exc).__name__})"
    parallel = min(workers, default_workers()) if backend == "local" else workers
    return (
        f"  estimated run time: ~{_duration(per_run * runs / parallel)} for {runs} runs on {workers} "
        f"workers (~{_duration(per_run)} per run of the base config, timed on this machine now)"
    )


def _duration(seconds: float) -> str:
    for unit, size in (("days", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= 2 * size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.2g} s" if seconds < 10 else f"{seconds:.0f} s"


def _describe(prepared: Any) -> list[str]:
    """The plan after enumeration: each swept key's span, fixed keys, run shape, series."""
    spec = prepared.spec
    design = prepared.design
    lines = []
    for name, key in prepared.keys.items():
        values = design[name]  # every run has a value (see `prepare`)
        levels = values.nunique()
        span = f"{_show(values.min())} .. {_show(values.max())}" if levels > 1 else _show(values.iloc[0])
        alias = f" ({key.path})" if key.path != name else ""
        lines.append(f"  {name}{alias}: {span}, {levels} distinct values [{key.unit or '-'}]")
    if spec.fixed:
        lines.append("  fixed: " + ", ".join(f"{k}={v!r}" for k, v in spec.fixed.items()))
    steps = prepared.base_config["run"]["steps"]
    users = prepared.base_config["users"]["n_segments"]
    lines.append(f"  each run: {steps} months, {users} user segments (unless swept)")
    if spec.series.columns:
        lines.append(f"  series every {spec.series.every_months} months: {', '.join(spec.series.columns)}")
    lines.append(f"  all {prepared.n_points} design points build a valid config")
    return lines


def _show(value: Any) -> str:
    value = value.item() if hasattr(value, "item") else value
    return f"{value:.6g}" if isinstance(value, float) else repr(value)


@click.command("sweep")
@click.argument(
    "spec_file", metavar="SPEC.yaml", required=False, type=click.Path(dir_okay=False, path_type=Path)
)
@click.option(
    "--workers", "-w", type=click.IntRange(min=1), help="Worker processes (default: CPUs on this machine)."
)
@click.option(
    "--backend",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="local: processes on this machine; dask: a Dask cluster.",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="Dask scheduler to use, e.g. tcp://host:8786 (default with --backend dask: a LocalCluster).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs/sweeps"),
    show_default=True,
    help="Folder that receives the sweep folder.",
)
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Continue the sweep in this folder: runs already finished are skipped.",
)
@click.option("--retry-failed", is_flag=True, help="With --resume: run the failed runs again.")
@click.option(
    "--dry-run", is_flag=True, help="Validate the spec and every design point, print the plan, write nothing."
)
@click.option(
    "--analyze/--no-analyze", "draw", default=True, show_default=True, help="Draw the analysis at the end."
)
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: only on a terminal).")
@click.option(
    "--allow-large", is_flag=True, help=f"Run a design of more than {MAX_RUNS:,} runs (refused by default)."
)
@people_errors
def sweep(
    spec_file: Path | None,
    workers: int | None,
    backend: str,
    scheduler: str | None,
    out_dir: Path,
    resume_dir: Path | None,
    retry_failed: bool,
    dry_run: bool,
    draw: bool,
    progress: bool | None,
    allow_large: bool,
) -> None:
    """Run AIMarketModel over the design in SPEC.yaml (see config/sweeps/), streaming to disk.

    Results land in OUT/<timestamp>_<name>/ as runs finish; results.parquet is built at the end.
    With --resume DIR, SPEC.yaml may be left out (the folder keeps its spec).
    """
    from aibubble.experiments import sweeps

    if spec_file is None and resume_dir is None:
        raise UserError("give a SPEC.yaml, or --resume DIR")
    if retry_failed and resume_dir is None:
        raise UserError("--retry-failed needs --resume DIR")
    if scheduler and backend != "dask":
        raise UserError("--scheduler needs --backend dask")
    workers = workers or sweeps.default_workers()
    if scheduler:
        sweeps.check_scheduler(scheduler, connect=not dry_run)

    if resume_dir is not None:
        store, prepared = sweeps.open_sweep(resume_dir)
        if spec_file is not None:
            given = sweeps.read_spec(spec_file)
            if given.model_dump(mode="json") != prepared.spec.model_dump(mode="json"):
                raise UserError(
                    f"{spec_file} differs from {store.path('spec.yaml')}: resume without SPEC.yaml, "
                    "or start a new sweep"
                )
        for line in _size_lines(prepared.spec):
            click.echo(line)
    else:
        assert spec_file is not None
        origin = str(spec_file)
        spec = sweeps.read_spec(spec_file)
        for line in _size_lines(spec):  # first: enumerating and validating a big design takes a while
            click.echo(line)
        max_runs = None if allow_large else MAX_RUNS
        sweeps.check_size(spec, origin, max_runs)
        base_config = sweeps.resolve_base(spec, origin)
        click.echo(_estimate_line(base_config, spec.n_runs, workers, backend))
        prepared = sweeps.prepare(spec, origin, base_config=base_config, max_runs=max_runs)
        store = None

    if dry_run:
        for line in _describe(prepared):
            click.echo(line)
        if store is not None:
            status = store.scan(prepared.design["run_id"].tolist())  # reads only
            counts = {s: sum(v == s for v in status.values()) for s in ("ok", "failed", "pending")}
            todo = counts["pending"] + (counts["failed"] if retry_failed else 0)
            click.echo(
                f"  {store.root}: {counts['ok']} ok, {counts['failed']} failed, {counts['pending']} pending"
            )
            if todo:
                click.echo(_estimate_line(prepared.base_config, todo, workers, backend))
            click.echo(f"  would run {todo} runs on {backend} with {workers} workers")
        else:
            folder = f"{out_dir}/<timestamp>_{prepared.spec.name}/"
            click.echo(f"  would write to {folder} using {backend}, {workers} workers")
        return

    created = store is None
    if store is None:
        try:
            store = sweeps.create_sweep(prepared, out_dir, _command_line())
        except OSError as exc:
            raise UserError(f"{out_dir}: cannot create the sweep folder ({exc.strerror or exc})") from None
    try:
        outcome = sweeps.run_sweep(
            store,
            prepared,
            workers=workers,
            backend=backend,
            scheduler=scheduler,
            retry_failed=retry_failed,
            command=_command_line(),
            progress=progress,
        )
    except UserMistake:  # e.g. the Dask cluster could not be reached: no run was made
        if created:
            store.discard()
        raise
    rate = outcome.ran / outcome.seconds if outcome.seconds > 0 else 0.0
    retried = f"; {outcome.retried} resubmitted after a lost worker" if outcome.retried else ""
    click.echo(
        f"{prepared.spec.name}: {outcome.ok} ok, {outcome.failed} failed, {outcome.pending} pending "
        f"of {outcome.total} runs ({outcome.ran} run now in {outcome.seconds:.1f} s, {rate:.2f} runs/s"
        f"{retried})"
    )
    click.echo(f"  folder  {outcome.root}")
    if draw and outcome.ok and not outcome.interrupted:
        _draw(outcome.root, None, None, "peak_overcapacity", soft=True)
    if outcome.interrupted:
        click.echo(f"interrupted; continue with: aibubble sweep --resume {outcome.root}", err=True)
        sys.exit(130)
    if outcome.failed:
        click.echo(
            f"{outcome.failed} runs failed (tracebacks in {store.path('ledger.jsonl')}, one line each in "
            f"status.parquet); rerun them with: aibubble sweep --resume {outcome.root} --retry-failed",
            err=True,
        )
        sys.exit(1)


def _draw(root: Path, x: str | None, y: str | None, severity: str, soft: bool) -> None:
    from aibubble.experiments.analysis import AnalysisError, analyze

    try:
        written, notes = analyze(root, x=x, y=y, severity=severity)
    except AnalysisError as exc:
        if not soft:
            raise
        click.echo(f"  analysis skipped: {exc}", err=True)
        return
    for path in written:
        click.echo(f"  wrote   {path}")
    for note in notes:
        click.echo(f"  note    {note}", err=True)


@click.command("analyze")
@click.argument("sweep_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--x", "x", metavar="PARAM", help="Swept parameter on the x axis of the phase diagram.")
@click.option("--y", "y", metavar="PARAM", help="Swept parameter on the y axis of the phase diagram.")
@click.option(
    "--severity",
    type=click.Choice(SEVERITIES),
    default="peak_overcapacity",
    show_default=True,
    help="Outcome whose median per cell measures how bad the bubble is.",
)
@people_errors
def analyze(sweep_dir: Path, x: str | None, y: str | None, severity: str) -> None:
    """Rebuild results.parquet of SWEEP_DIR and draw its phase diagram, fan charts and
    sensitivity indices into SWEEP_DIR/analysis/."""
    from aibubble.experiments.sweeps import SweepStore

    store = SweepStore.open(sweep_dir)
    if store.is_locked():
        click.echo(
            f"note: a sweep is still running in {sweep_dir}; analysing the runs finished so far", err=True
        )
    _draw(sweep_dir, x, y, severity, soft=False)


@click.group(cls=OneLineErrors)
def _standalone() -> None:
    """Sweep commands without the main `aibubble` group."""
    import matplotlib

    matplotlib.use("Agg")


_standalone.add_command(sweep)
_standalone.add_command(analyze)

if __name__ == "__main__":
    _standalone()
