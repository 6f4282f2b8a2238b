"""`aibubble report`: regenerate the findings page (docs/findings/) with its figures."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from aibubble.cli.errors import UserError, people_errors


@click.command()
@click.option(
    "--replicates",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Seeds per scenario: headline probabilities need 50 or more for useful intervals "
    "(per phase-diagram cell, at most the sweep spec's 5).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("docs/findings"),
    show_default=True,
    help="Folder that receives README.md and the figures.",
)
@click.option("--n-users", type=click.IntRange(min=10), help="User segments per run (quick previews).")
@click.option(
    "--steps",
    type=click.IntRange(min=61),
    help="Months per scenario run (quick previews; default: the scenario's).",
)
@click.option(
    "--grid-levels", type=click.IntRange(min=2), help="Levels per phase-diagram axis (quick previews)."
)
@click.option(
    "--workers", type=click.IntRange(min=1), default=2, show_default=True, help="Processes for the sweep."
)
@click.option(
    "--calibration",
    "calibration_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="A finished calibration folder on which `aibubble predict` has run: the page leads with "
    "its answer over the posterior and its out-of-sample checks (docs/calibration for the shipped one).",
)
@people_errors
def report(
    replicates: int,
    out_dir: Path,
    n_users: int | None,
    steps: int | None,
    grid_levels: int | None,
    workers: int,
    calibration_dir: Path | None,
) -> None:
    """Regenerate the findings report: the answer over the calibrated posterior (with
    --calibration), scenario table, paired counterfactuals, phase diagram, stylised facts and
    calibration, each observed vs simulated."""
    if calibration_dir is not None:  # before any run: a mistake costs nothing
        from aibubble.cli.calibrate import calibration_status

        status = calibration_status(calibration_dir)
        if status != "complete":
            raise UserError(
                f"{calibration_dir}: the calibration is {status}; finish it with "
                "`aibubble calibrate --resume`"
            )
        if not (calibration_dir / "predict.csv").is_file():
            raise UserError(
                f"{calibration_dir}: no predict.csv; run `aibubble predict {calibration_dir}` first"
            )
    import matplotlib

    matplotlib.use("Agg")
    from aibubble.experiments.report import Options, build_report

    t0 = time.perf_counter()
    opts = Options(
        replicates,
        n_users,
        steps,
        grid_levels,
        workers,
        calibration=calibration_dir,
        progress=None if sys.stderr.isatty() else False,
        say=lambda line: click.echo(f"report: {line}", err=True),
    )
    try:
        found = build_report(out_dir, opts)
    except OSError as exc:
        raise UserError(f"{out_dir}: cannot write the report ({exc.strerror or exc})") from None
    for group in ("facts", "calibration"):
        checks = found[group]
        passed = sum(c.passed for c in checks)
        click.echo(f"{group}: {passed} of {len(checks)} checks pass")
        for c in checks:
            if not c.passed:
                click.echo(f"  FAIL  {c.fact}: simulated {c.simulated}; tolerance {c.tolerance}")
    click.echo(f"report written to {out_dir / 'README.md'} in {time.perf_counter() - t0:.0f} s")
