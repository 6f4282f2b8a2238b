"""The `aibubble` command: run scenarios, list and inspect them, compare finished runs.

Mistakes a person makes (unknown scenario, bad `--set`, missing run folder, a bad option value)
end with one `error: ...` line on stderr and exit code 2, never a traceback; bugs in the model
still show their traceback so they get fixed.
"""

from __future__ import annotations

import json
import math
import re
import shlex
import sys
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from aibubble.cli.calibrate import calibrate, predict
from aibubble.cli.errors import OneLineErrors, UserError, people_errors
from aibubble.cli.findings import report
from aibubble.cli.serve import viz
from aibubble.cli.sweeps import analyze, sweep
from aibubble.config import (
    ConfigError,
    describe,
    load_config,
    parameter_table,
    parse_assignment,
    scenario_names,
)
from aibubble.measures import BILLION, OUTCOMES


def _overrides(assignments: Iterable[str]) -> dict[str, Any]:
    return dict(parse_assignment(text) for text in assignments)


def _command_line() -> str:
    return shlex.join(["aibubble", *sys.argv[1:]])


def _num(fmt: str, scale: float = 1.0, unit: str = "") -> Callable[[Any], str]:
    """A formatter for one summary number; missing or NaN reads as n/a."""

    def show(v: Any) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "n/a"
        v = v * scale
        if fmt == "d":  # counts may arrive as floats (e.g. from JSON or numpy)
            v = round(v)
        return f"{v:{fmt}}{unit}"

    return show


def _yes_no(v: Any) -> str:
    return "n/a" if v is None else ("YES" if v else "no")


_SUMMARY_FORMATS: dict[str, Callable[[Any], str]] = {
    "glut": _yes_no,
    "first_glut_month": _num("d"),
    "glut_months": _num("d"),
    "bubble": _yes_no,
    "months_in_bubble": _num("d"),
    "peak_overcapacity": _num(".1f", 100, " %"),
    "capex_drawdown": _num(".1f", 100, " %"),
    "burst": _yes_no,
    "capex_peak_usd_per_month": _num(",.1f", 1 / BILLION, " $bn/month"),
    "write_offs_usd": _num(",.1f", 1 / BILLION, " $bn"),
    "impairment_usd": _num(",.1f", 1 / BILLION, " $bn"),
    "reabsorption_months": _num("d", 1, " months"),
    "bankruptcies": _num("d"),
    "final_utilization": _num(".1f", 100, " %"),
    "peak_empty_shell_share": _num(".1f", 100, " %"),
    "revenue_gap_peak_usd_per_year": _num(",.0f", 1 / BILLION, " $bn/year"),
    "vintage_npv_usd": _num(",.0f", 1 / BILLION, " $bn"),
    "worst_vintage_irr_per_year": _num(".1f", 100, " %/year"),
}
# label (as declared in model.measures), summary key, formatter: shared by `run` and `compare`
# so both read the same, and name an outcome as the plots do.
SUMMARY_ROWS: list[tuple[str, str, Callable[[Any], str]]] = [
    (OUTCOMES[key].label, key, fmt) for key, fmt in _SUMMARY_FORMATS.items()
]


def _cell(fmt: Callable[[Any], str], value: Any) -> str:
    try:
        return fmt(value)
    except (TypeError, ValueError):  # e.g. a float where an int was expected
        return str(value)


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Agent-based model of the AI compute market: when does an efficiency
    breakthrough turn the GPU build-out into a bubble?"""
    import matplotlib

    matplotlib.use("Agg")  # the CLI only writes files; never open a window


@main.command()
@click.argument("scenario")
@click.option("--seed", type=click.IntRange(min=0), help="Random seed (default: run.seed of the scenario).")
@click.option("--steps", type=click.IntRange(min=1), help="Months to simulate (default: run.steps).")
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config key, e.g. discovery.jump_size=100 or jump_size=100. Repeatable.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs"),
    show_default=True,
    help="Folder that receives the run folder.",
)
@click.option(
    "--counterfactual",
    is_flag=True,
    help="Also run the same config and seed without the scripted discovery (jump_size=1) and "
    "report the differences (counterfactual.json, counterfactual.png, counterfactual/).",
)
@people_errors
def run(
    scenario: str,
    seed: int | None,
    steps: int | None,
    assignments: tuple[str, ...],
    out_dir: Path,
    counterfactual: bool,
) -> None:
    """Simulate SCENARIO (a name from config/ or a YAML file) and write a run folder."""
    overrides = _overrides(assignments)
    if steps is not None:
        overrides["run.steps"] = steps
    if seed is not None:
        overrides["run.seed"] = seed  # so config.yaml repeats this exact run
    cfg = load_config(scenario, overrides)
    seed = cfg.run.seed if seed is None else seed

    # Imported where needed: progress bars and file output matter only to `run`.
    from tqdm import tqdm

    from aibubble import AIMarketModel
    from aibubble.experiments.output import write_run
    from aibubble.metrics import efficiency_elasticity

    if counterfactual:
        from aibubble.experiments import counterfactual as cf

        counter_cfg = cf.counterfactual_config(cfg)  # a scenario without a discovery stops here
    m = AIMarketModel(config=cfg, rng=seed)
    for _ in tqdm(range(cfg.run.steps), desc=cfg.name, unit="month", file=sys.stderr, disable=None):
        m.step()
    extra = None
    if counterfactual:
        counter = cf.run_model(counter_cfg, seed)
        diffs = cf.pair_differences(m, counter)
        elasticity = efficiency_elasticity(m.model_frame(), counter.model_frame(), cfg.discovery.jump_size)
        jump = cfg.discovery.jump_month
        fig = cf.overlay_figure(
            m.model_frame(),
            counter.model_frame(),
            f"{cfg.name} (seed {seed}): with vs without the {cfg.discovery.jump_size:g}x discovery "
            f"at month {jump}",
            cfg.run.start_year + jump / 12 if jump < cfg.run.steps else None,
        )

        catch_up = cf.glut_catch_up(m.model_frame(), m.summary(), counter.model_frame())

        def extra(folder: Path) -> None:
            cf.write_files(folder, counter, diffs, fig, elasticity, catch_up)

    try:
        path = write_run(m, out_dir, cfg.name, _command_line(), extra=extra)
    except OSError as exc:
        raise UserError(f"{out_dir}: cannot write the run folder ({exc.strerror or exc})") from None

    summary = m.summary()
    width = max(len(label) for label, _, _ in SUMMARY_ROWS)
    click.echo(f"{cfg.name}  (seed {seed}, {cfg.run.steps} months)")
    for label, key, fmt in SUMMARY_ROWS:
        click.echo(f"  {label:<{width}}  {_cell(fmt, summary.get(key))}")
    click.echo(f"  {'output':<{width}}  {path}")
    if counterfactual:
        click.echo("\ncounterfactual: the same seed without the discovery (difference = with - without)")
        for line in cf.difference_lines(diffs):
            click.echo(f"  {line}")
        shown = "n/a" if elasticity is None else f"{elasticity:+.3f}"
        click.echo(f"  long-run compute demand elasticity to the discovery: {shown} (> 0: Jevons)")
        if catch_up is not None:
            inference, training = (
                "n/a" if v is None else f"{v:.2f}"
                for v in (catch_up["inference_with_over_without"], catch_up["training_with_over_without"])
            )
            ended = "ended" if catch_up["ended"] else "was still open"
            click.echo(
                f"  when the first glut {ended} (month {catch_up['month']}), with / without: users' "
                f"inference {inference}, training {training}; closed mostly by {catch_up['refilled_by']}"
            )


@main.command()
def scenarios() -> None:
    """List the scenarios in config/ with their one-line description."""
    names = scenario_names()
    if not names:
        raise UserError("no scenarios found in config/")
    width = max(len(n) for n in names)
    for name in names:
        try:
            text = load_config(name).description.strip().splitlines()
            line = text[0] if text else ""
        except ConfigError as exc:
            line = f"(invalid: {exc})"
        click.echo(f"{name:<{width}}  {line}")


@main.command()
@click.argument("scenario")
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config key before showing. Repeatable.",
)
@click.option(
    "--markdown", is_flag=True, help="Print a Markdown table with allowed ranges (as in docs/ODD.md)."
)
@people_errors
def show(scenario: str, assignments: tuple[str, ...], markdown: bool) -> None:
    """Print every key of the resolved SCENARIO with its value, unit and source."""
    cfg = load_config(scenario, _overrides(assignments))
    if markdown:
        click.echo(parameter_table(cfg))
        return
    click.echo(f"{cfg.name}: {cfg.description.strip()}" if cfg.description.strip() else cfg.name)
    if cfg.parameters:
        click.echo(
            f"parameters: {cfg.parameters} (the estimated ones say so; --set parameters=none for hand-set)"
        )
    rows = [r for r in describe(cfg) if "." in r["key"]]  # name/description printed above
    sections: dict[str, list[tuple[str, str, str, str]]] = {}
    for r in rows:
        section, _, key = r["key"].partition(".")
        sections.setdefault(section, []).append((key, _value(r["value"]), str(r["unit"]), str(r["source"])))
    kw = max(len(k) for rs in sections.values() for k, *_ in rs)
    vw = max(len(v) for rs in sections.values() for _, v, *_ in rs)
    uw = max(len(u) for rs in sections.values() for *_, u, _ in rs)
    for section, items in sections.items():
        click.echo(f"\n[{section}]")
        for key, value, unit, source in items:
            click.echo(f"  {key:<{kw}}  {value:>{vw}}  {unit:<{uw}}  {source}".rstrip())


def _value(v: Any) -> str:
    """Numbers as a person reads them: 1.5e+06 rather than 1500000.0, 0.85 rather than 0.8500."""
    if isinstance(v, bool) or not isinstance(v, float):
        return str(v)
    return f"{v:.6g}"


def _load_run(path: Path) -> tuple[Any, dict[str, Any]]:
    import pandas as pd

    if not path.is_dir():
        raise UserError(f"{path}: no such run folder")
    table = path / "model.parquet"
    if not table.is_file():
        raise UserError(f"{path}: not a run folder (no model.parquet)")
    try:
        frame = pd.read_parquet(table)
    except Exception as exc:  # a truncated or foreign file: say which one
        raise UserError(f"{table}: cannot read ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    summary: dict[str, Any] = {}
    if (path / "summary.json").is_file():
        try:
            summary = json.loads((path / "summary.json").read_bytes())
        except json.JSONDecodeError as exc:
            raise UserError(f"{path / 'summary.json'}: malformed JSON ({exc.msg})") from None
        except ValueError:  # bytes that are no JSON text encoding at all
            raise UserError(f"{path / 'summary.json'}: not a JSON text file") from None
        if not isinstance(summary, dict):
            raise UserError(f"{path / 'summary.json'}: expected a JSON object")
    return frame, summary


def _run_labels(paths: list[Path]) -> list[str]:
    """Short labels for legends: the scenario part of `<timestamp>_<scenario>` when that is unique."""
    full = [p.resolve().name for p in paths]
    short = [re.sub(r"^\d{8}-\d{6}_", "", name) for name in full]
    labels = [s if short.count(s) == 1 else f for s, f in zip(short, full, strict=True)]
    # The same folder name under different roots: number them so the plot keeps every run.
    return [lab if labels.count(lab) == 1 else f"{lab} ({i + 1})" for i, lab in enumerate(labels)]


@main.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_png",
    type=click.Path(dir_okay=False, path_type=Path),
    help="PNG to write (default: runs/compare-<timestamp>.png).",
)
@people_errors
def compare(run_dirs: tuple[Path, ...], out_png: Path | None) -> None:
    """Overlay the key series of several RUN_DIRS and print their summaries side by side."""
    from aibubble.experiments import plots

    loaded = [(path, *_load_run(path)) for path in run_dirs]
    frames: dict[str, Any] = {}
    summaries: dict[str, dict[str, Any]] = {}
    for label, (_, frame, summary) in zip(_run_labels([p for p, *_ in loaded]), loaded, strict=True):
        frames[label], summaries[label] = frame, summary

    out_png = out_png or Path("runs") / f"compare-{datetime.now():%Y%m%d-%H%M%S}.png"
    fig = plots.compare(frames, title=f"{len(frames)} runs compared")
    try:
        out_png.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out_png, dpi=110)
    except OSError as exc:
        raise UserError(f"{out_png}: cannot write ({exc.strerror or exc})") from None

    labels = list(frames)
    width = max(len(label) for label, _, _ in SUMMARY_ROWS)
    cols = [[_cell(fmt, summaries[lab].get(key)) for _, key, fmt in SUMMARY_ROWS] for lab in labels]
    colw = [max(len(lab), *(len(c) for c in col)) for lab, col in zip(labels, cols, strict=True)]
    click.echo(" " * (width + 2) + "  ".join(f"{lab:>{w}}" for lab, w in zip(labels, colw, strict=True)))
    for i, (label, _, _) in enumerate(SUMMARY_ROWS):
        cells = "  ".join(f"{col[i]:>{w}}" for col, w in zip(cols, colw, strict=True))
        click.echo(f"{label:<{width}}  {cells}")
    click.echo(f"\nplot: {out_png}")


main.add_command(sweep)
main.add_command(analyze)
main.add_command(viz)
main.add_command(report)
main.add_command(calibrate)
main.add_command(predict)
