"""Pictures and tables of a finished sweep: where bubbles happen, how runs spread, what matters.

- Phase diagram over two swept parameters: the probability of the bubble state and the median
  severity (peak overcapacity, months in the bubble state, ...) per cell. A grid's own levels
  are the cells; sampled designs (lhs, sobol, morris) are binned. Axes are logarithmic where the
  swept range spans 10x or more.
- Fan charts of the sampled series: median, 25-75 % and 5-95 % bands across the replicates of a
  few design points (chosen from the least to the most severe), or across all runs.
- Threshold robustness: P(glut) and P(bubble) over all finished runs, read again at other
  thresholds of the episode detector (persistence x utilization, and the impairment share a
  bubble needs), with Wilson intervals, so that nobody mistakes a threshold for a result.
- Sensitivity: Sobol first-order and total indices (S1, ST) with bootstrap confidence intervals
  for a `sobol` design, Morris mu*, sigma for a `morris` design (SALib), each as CSV, Markdown
  and a bar chart. Outputs are means over a point's replicates.

Runs that cannot be drawn (failed, not run yet, without a value of an axis) are left out and
counted: the phase diagram's title and `analyze`'s notes say how many and why.

Figures are `matplotlib.figure.Figure` objects built without pyplot (as in `model.experiments.plots`).
`analyze(folder)` writes everything into `<folder>/analysis/`; the files that depend on the
severity measure carry its name (`phase_<x>__<y>__<severity>.png`, `fan__<severity>.png`), so
analysing by another severity adds files rather than replacing them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from aibubble import measures
from aibubble.episodes import ROBUST_IMPAIRMENT, ROBUST_PERSISTENCE, ROBUST_UTILIZATION, THRESHOLD_KEYS
from aibubble.errors import UserMistake
from aibubble.experiments.files import atomic_write_text, save_figure
from aibubble.experiments.stats import wilson
from aibubble.experiments.sweeps import SweepSpec, SweepStore, read_spec, salib_problem
from aibubble.experiments.sweeps.spec import MorrisDesign, SobolDesign
from aibubble.experiments.sweeps.store import ANALYSIS, RESULTS, SERIES, SPEC, THRESHOLDS

SENSITIVITY_OUTPUTS = ("bubble", "peak_overcapacity", "months_in_bubble", "capex_drawdown")
SOBOL_INDICES = ("S1", "S1_conf", "ST", "ST_conf")
MORRIS_INDICES = ("mu", "mu_star", "mu_star_conf", "sigma")
MAX_FAN_RUNS = 2000  # runs read for an all-runs fan chart
FAN_POINTS = 4
BINS = 8
MAX_LEVELS = 25  # a parameter with at most this many distinct values is drawn cell per value


class AnalysisError(UserMistake):
    """A sweep that cannot give the asked picture or table (e.g. Sobol indices of a grid)."""


def axis_label(name: str, unit: str) -> str:
    """An axis label as `Measure.axis()` writes one, for what is not a measure (swept keys, indices)."""
    return f"{name} [{unit or '-'}]"


def _measure_axis(name: str) -> str:
    """The declared label and unit of a series or outcome (see `model.measures`)."""
    return axis_label(measures.label(name), measures.unit(name))


# ---------------------------------------------------------------------------------------- loading
@dataclass
class Sweep:
    """A sweep folder read back: spec, manifest, and the results table."""

    root: Path
    spec: SweepSpec
    manifest: dict[str, Any]
    results: pd.DataFrame

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def params(self) -> list[str]:
        return self.spec.param_names

    def unit(self, param: str) -> str:
        return str(self.manifest.get("params", {}).get(param, {}).get("unit", ""))

    @property
    def ok(self) -> pd.DataFrame:
        return self.results[self.results["status"] == "ok"]


def load_sweep(root: Path, rebuild: bool = True) -> Sweep:
    """Read a sweep folder; with `rebuild`, first rebuild results.parquet from the run files.

    Everything is read and checked before anything is rebuilt, so a broken folder stays as it was.
    """
    store = SweepStore.open(root)
    spec = read_spec(store.path(SPEC))
    manifest = store.read_manifest()
    columns = store.design_columns()
    missing = [p for p in spec.param_names if p not in columns]
    if missing:
        raise AnalysisError(
            f"{store.path(SPEC)} sweeps {', '.join(map(repr, missing))}, which design.parquet lacks"
        )
    if rebuild or not store.path(RESULTS).is_file():
        store.aggregate(list(spec.series.columns))
    return Sweep(Path(root), spec, manifest, pd.read_parquet(store.path(RESULTS)))


# ---------------------------------------------------------------------------------------- phase diagram
def _wide(values: pd.Series) -> bool:
    v = pd.to_numeric(values, errors="coerce").dropna()
    return bool(len(v)) and v.min() > 0 and v.max() >= 10 * v.min()


def _edges(centers: np.ndarray, log: bool) -> np.ndarray:
    """Cell edges around sorted level values: midpoints (geometric on a log axis)."""
    c = np.log10(centers) if log else centers.astype(float)
    if len(c) == 1:
        half = 0.5 if log else max(abs(c[0]) * 0.1, 0.5)
        e = np.array([c[0] - half, c[0] + half])
    else:
        mid = (c[1:] + c[:-1]) / 2
        e = np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])
    return 10**e if log else e


def _cells(values: pd.Series, log: bool, bins: int) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Cell index of each value, the cells' centres and edges: levels if few, else bins."""
    v = pd.to_numeric(values, errors="coerce").astype(float)
    levels = np.sort(v.dropna().unique())
    if len(levels) <= MAX_LEVELS:
        index = pd.Series(np.searchsorted(levels, v.to_numpy()), index=values.index)
        return index, levels, _edges(levels, log)
    lo, hi = float(levels[0]), float(levels[-1])
    edges = np.geomspace(lo, hi, bins + 1) if log else np.linspace(lo, hi, bins + 1)
    index = pd.Series(
        np.clip(np.searchsorted(edges, v.to_numpy(), side="right") - 1, 0, bins - 1), index=values.index
    )
    centers = np.sqrt(edges[1:] * edges[:-1]) if log else (edges[1:] + edges[:-1]) / 2
    return index, centers, edges


def check_axis_names(params: list[str], *names: str) -> None:
    """Axes must be distinct and swept; one line naming the one that is not."""
    if len(set(names)) < len(names):
        raise AnalysisError(f"--x and --y are both '{names[0]}': give two different swept parameters")
    for name in names:
        if name not in params:
            raise AnalysisError(f"'{name}' is not swept here; swept: {', '.join(params)}")


def check_axes(sweep: Sweep, *names: str) -> None:
    """Axes must be distinct, swept and numeric; one line naming the one that is not."""
    check_axis_names(sweep.params, *names)
    for name in names:
        if not pd.api.types.is_numeric_dtype(sweep.results[name]):
            raise AnalysisError(f"'{name}' is not numeric: it cannot be an axis of a phase diagram")


def left_out(sweep: Sweep, columns: list[str]) -> dict[str, int]:
    """Why runs are missing from a picture over `columns`: reason -> number of runs (none: {})."""
    status = sweep.results["status"]
    reasons = {
        "failed": int((status == "failed").sum()),
        "not run yet": int((status == "pending").sum()),
        f"without a value of {' or '.join(columns)}": int(sweep.ok[columns].isna().any(axis=1).sum()),
    }
    return {reason: n for reason, n in reasons.items() if n}


def describe_left_out(reasons: dict[str, int], total: int) -> str:
    """E.g. '5 of 245 runs left out (3 failed, 2 not run yet)'; '' when none is."""
    if not reasons:
        return ""
    parts = ", ".join(f"{n} {reason}" for reason, n in reasons.items())
    return f"{sum(reasons.values())} of {total} runs left out ({parts})"


def phase_table(
    sweep: Sweep, x: str, y: str, severity: str = "peak_overcapacity", bins: int = BINS
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One row per (x, y) cell: runs, P(bubble) with its 95 % Wilson interval and median severity;
    plus the cell geometry and `left_out`, the runs that could not be placed (reason -> count)."""
    check_axes(sweep, x, y)
    if severity not in sweep.results.columns:
        raise AnalysisError(f"no outcome '{severity}' in results.parquet")
    ok = sweep.ok.dropna(subset=[x, y])
    if ok.empty:
        raise AnalysisError(f"no finished run with both {x} and {y} set")
    log_x, log_y = _wide(sweep.results[x]), _wide(sweep.results[y])
    ix, cx, ex = _cells(ok[x], log_x, bins)
    iy, cy, ey = _cells(ok[y], log_y, bins)
    frame = pd.DataFrame(
        {"ix": ix, "iy": iy, "bubble": ok["bubble"].astype(float), "severity": ok[severity].astype(float)}
    )
    grouped = frame.groupby(["ix", "iy"])
    table = pd.DataFrame(
        {
            "runs": grouped.size(),
            "p_bubble": grouped["bubble"].mean(),
            f"median_{severity}": grouped["severity"].median(),
        }
    ).reset_index()
    bounds = [wilson(round(p * n), n) for p, n in zip(table["p_bubble"], table["runs"], strict=True)]
    at = table.columns.get_loc("p_bubble")
    assert isinstance(at, int)  # the column names are unique
    table.insert(at + 1, "p_bubble_low", [b[1] for b in bounds])
    table.insert(at + 2, "p_bubble_high", [b[2] for b in bounds])
    table.insert(0, x, cx[table["ix"]])
    table.insert(1, y, cy[table["iy"]])
    geometry = {
        "x_edges": ex,
        "y_edges": ey,
        "nx": len(cx),
        "ny": len(cy),
        "log_x": log_x,
        "log_y": log_y,
        "x_centers": cx,
        "y_centers": cy,
        "x_levels": cx if ok[x].nunique() <= MAX_LEVELS else None,
        "y_levels": cy if ok[y].nunique() <= MAX_LEVELS else None,
        "left_out": left_out(sweep, [x, y]),
    }
    return table, geometry


def phase_figure(
    sweep: Sweep, x: str, y: str, severity: str = "peak_overcapacity", bins: int = BINS
) -> Figure:
    """Two panels over x and y: P(bubble state) and the median severity per cell."""
    table, geo = phase_table(sweep, x, y, severity, bins)
    sev_col = f"median_{severity}"
    fig = Figure(figsize=(12.5, 5.4), layout="constrained")
    axes = fig.subplots(1, 2)
    sev_label, sev_unit = measures.label(severity), measures.unit(severity)
    panels = [
        ("p_bubble", measures.label("bubble"), measures.unit("bubble"), "Reds", (0.0, 1.0), "{:.2f}"),
        (sev_col, f"median {sev_label}", sev_unit, "viridis", (None, None), "{:.3g}"),
    ]
    for ax, (col, label, unit, cmap, (vmin, vmax), fmt) in zip(axes, panels, strict=True):
        grid = np.full((geo["ny"], geo["nx"]), np.nan)
        grid[table["iy"], table["ix"]] = table[col]
        mesh = ax.pcolormesh(
            geo["x_edges"], geo["y_edges"], grid, cmap=cmap, vmin=vmin, vmax=vmax, shading="flat"
        )
        fig.colorbar(mesh, ax=ax, label=axis_label(label, unit))
        if geo["nx"] * geo["ny"] <= 225:  # few cells: write each value in its cell
            lo = np.nanmin(grid) if vmin is None else vmin
            hi = np.nanmax(grid) if vmax is None else vmax
            for _, row in table.iterrows():
                value = row[col]
                if not math.isnan(value):
                    shade = (value - lo) / max(hi - lo, 1e-12)
                    ax.text(
                        geo["x_centers"][int(row["ix"])],
                        geo["y_centers"][int(row["iy"])],
                        fmt.format(value),
                        ha="center",
                        va="center",
                        fontsize=8,
                        color="white" if shade > 0.6 else "black",
                    )
        if geo["log_x"]:
            ax.set_xscale("log")
        if geo["log_y"]:
            ax.set_yscale("log")
        if geo["x_levels"] is not None:  # a grid: one tick per level, written out
            ax.set_xticks(geo["x_levels"], [f"{v:.3g}" for v in geo["x_levels"]], minor=False)
            ax.set_xticks([], minor=True)
        if geo["y_levels"] is not None:
            ax.set_yticks(geo["y_levels"], [f"{v:.3g}" for v in geo["y_levels"]], minor=False)
            ax.set_yticks([], minor=True)
        ax.set_xlabel(axis_label(x, sweep.unit(x)))
        ax.set_ylabel(axis_label(y, sweep.unit(y)))
        ax.set_title(f"{label} per cell")
    others = [p for p in sweep.params if p not in (x, y)]
    runs = int(table["runs"].sum())
    note = f"; pooled over {', '.join(others)}" if others else ""
    missing = describe_left_out(geo["left_out"], len(sweep.results))
    fig.suptitle(
        f"{sweep.name}: where the bubble state occurs — {runs} runs, "
        f"{int(table['runs'].min())}-{int(table['runs'].max())} per cell{note}"
        + (f"\n{missing}" if missing else "")
    )
    return fig


def response_figure(sweep: Sweep, x: str, severity: str = "peak_overcapacity") -> Figure:
    """One swept parameter: P(bubble state) and the median severity against it."""
    ok = sweep.ok
    if ok.empty:
        raise AnalysisError("no finished run to draw")
    grouped = ok.assign(bubble=ok["bubble"].astype(float)).groupby(x)
    p = grouped["bubble"].mean()
    sev = grouped[severity].median()
    sev_label, sev_unit = measures.label(severity), measures.unit(severity)
    fig = Figure(figsize=(8, 4.8), layout="constrained")
    ax = fig.subplots()
    ax.plot(p.index, p.to_numpy(), "o-", color="tab:red", label=measures.label("bubble"))
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel(_measure_axis("bubble"))
    twin = ax.twinx()
    twin.plot(sev.index, sev.to_numpy(), "s--", color="tab:blue", label=f"median {sev_label}")
    twin.set_ylabel(axis_label(f"median {sev_label}", sev_unit))
    if _wide(ok[x]):
        ax.set_xscale("log")
    ax.set_xlabel(axis_label(x, sweep.unit(x)))
    lines = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="best")
    ax.set_title(f"{sweep.name}: bubble state against {x} — {len(ok)} runs")
    return fig


# ---------------------------------------------------------------------------------------- fan charts
def fan_groups(
    sweep: Sweep, severity: str = "peak_overcapacity", n: int = FAN_POINTS
) -> dict[str, list[int]]:
    """Run ids to fan over: replicates of up to n points from least to most severe, or all runs."""
    ok = sweep.ok
    reps = sweep.spec.replicates
    if reps < 3 or not sweep.params:
        ids = ok["run_id"].tolist()
        if len(ids) > MAX_FAN_RUNS:
            ids = ids[:: math.ceil(len(ids) / MAX_FAN_RUNS)]
        return {f"all runs (n={len(ids)})": ids}
    per_point = ok.groupby("point_id")[severity].mean().sort_values(kind="stable")
    picks = per_point.index[
        np.unique(np.linspace(0, len(per_point) - 1, min(n, len(per_point))).round().astype(int))
    ]
    groups: dict[str, list[int]] = {}
    for pid in picks:
        rows = ok[ok["point_id"] == pid]
        values = ", ".join(f"{p}={_short(rows[p].iloc[0])}" for p in sweep.params)
        groups[f"point {pid}: {values} (n={len(rows)})"] = rows["run_id"].tolist()
    return groups


def _short(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float | np.floating) else str(v)


def fan_figure(sweep: Sweep, groups: dict[str, list[int]], columns: list[str] | None = None) -> Figure:
    """Rows: series; columns: groups of runs. Median line, 25-75 % and 5-95 % bands by month."""
    path = sweep.root / SERIES
    wanted = sorted({rid for ids in groups.values() for rid in ids})
    series = pd.read_parquet(path, filters=[("run_id", "in", wanted)]) if wanted else pd.DataFrame()
    if series.empty:
        raise AnalysisError("no sampled series (the spec's series.columns is empty, or no run finished)")
    columns = columns or [c for c in series.columns if c not in ("run_id", "step")]
    fig = Figure(figsize=(4.2 * len(groups) + 1, 2.6 * len(columns) + 0.8), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(columns), len(groups), squeeze=False, sharex=True))
    for j, (label, ids) in enumerate(groups.items()):
        part = series[series["run_id"].isin(ids)]
        for i, column in enumerate(columns):
            ax: Axes = axes[i, j]
            wide = part.pivot(index="step", columns="run_id", values=column)
            q = wide.quantile([0.05, 0.25, 0.5, 0.75, 0.95], axis=1).T
            steps = q.index.to_numpy()
            ax.fill_between(steps, q[0.05], q[0.95], color="tab:blue", alpha=0.15, lw=0, label="5-95 %")
            ax.fill_between(steps, q[0.25], q[0.75], color="tab:blue", alpha=0.35, lw=0, label="25-75 %")
            ax.plot(steps, q[0.5], color="tab:blue", lw=1.6, label="median")
            values = wide.to_numpy()
            positive = values[np.isfinite(values) & (values > 0)]
            if (
                positive.size
                and (values[np.isfinite(values)] > 0).all()
                and positive.max() > 100 * positive.min()
            ):
                ax.set_yscale("log")
            if i == 0:
                ax.set_title(label, fontsize=9)
            if j == 0:
                ax.set_ylabel(_measure_axis(column), fontsize=8)
            if i == len(columns) - 1:
                ax.set_xlabel(axis_label("month", "months from start"))
            if i == 0 and j == 0:
                ax.legend(fontsize=7, loc="best")
    across = "runs" if len(groups) == 1 else "replicates of each point"
    fig.suptitle(f"{sweep.name}: key series across {across} (median and bands)")
    return fig


# ---------------------------------------------------------------------------------------- sensitivity
def _point_means(sweep: Sweep, outputs: list[str]) -> pd.DataFrame:
    res = sweep.results
    n_points = int(res["point_id"].max()) + 1
    ok = sweep.ok
    missing = n_points - ok["point_id"].nunique()
    if missing:
        raise AnalysisError(
            f"sensitivity indices need every design point; {missing} of {n_points} have no finished run "
            "(finish the sweep with --resume, failed runs with --retry-failed)"
        )
    cols = [c for c in outputs if c in ok.columns]
    return ok[["point_id", *cols]].astype({c: float for c in cols}).groupby("point_id").mean().sort_index()


def _index_rows(output: str, names: list[str], si: Any, indices: tuple[str, ...]) -> list[dict[str, Any]]:
    """One row per parameter: the output, the parameter and SALib's `indices` for it."""
    return [
        {"output": output, "parameter": name, **{index: si[index][k] for index in indices}}
        for k, name in enumerate(names)
    ]


def sobol_indices(
    sweep: Sweep, outputs: tuple[str, ...] = SENSITIVITY_OUTPUTS, seed: int = 0
) -> pd.DataFrame:
    """S1 and ST with 95 % bootstrap intervals per output and parameter (SALib, Saltelli design)."""
    from SALib.analyze import sobol

    design = sweep.spec.design
    if not isinstance(design, SobolDesign):
        raise AnalysisError(f"Sobol indices need a sobol design, this one is {design.kind}")
    means = _point_means(sweep, list(outputs))
    problem = salib_problem(design)
    rows = []
    for output in means.columns:
        y = means[output].to_numpy(float)
        if not np.isfinite(y).all() or np.var(y) == 0:
            continue  # constant or undefined output: no variance to apportion
        si = sobol.analyze(problem, y, calc_second_order=design.second_order, conf_level=0.95, seed=seed)
        rows += _index_rows(output, problem["names"], si, SOBOL_INDICES)
    return pd.DataFrame(rows, columns=["output", "parameter", *SOBOL_INDICES])


def morris_indices(
    sweep: Sweep, outputs: tuple[str, ...] = SENSITIVITY_OUTPUTS, seed: int = 0
) -> pd.DataFrame:
    """Morris mu, mu*, its 95 % bootstrap interval, and sigma per output and parameter (SALib)."""
    from SALib.analyze import morris

    design = sweep.spec.design
    if not isinstance(design, MorrisDesign):
        raise AnalysisError(f"Morris indices need a morris design, this one is {design.kind}")
    means = _point_means(sweep, list(outputs))
    problem = salib_problem(design)
    params = design.params
    first = sweep.results.drop_duplicates("point_id").set_index("point_id").sort_index()
    x = np.column_stack(
        [
            np.log10(first[n].astype(float)) if params[n].log else first[n].astype(float)
            for n in problem["names"]
        ]
    )
    rows = []
    for output in means.columns:
        y = means[output].to_numpy(float)
        if not np.isfinite(y).all():
            continue
        si = morris.analyze(problem, x, y, conf_level=0.95, num_levels=design.levels, seed=seed)
        rows += _index_rows(output, problem["names"], si, MORRIS_INDICES)
    return pd.DataFrame(rows, columns=["output", "parameter", *MORRIS_INDICES])


def sensitivity_figure(sweep: Sweep, table: pd.DataFrame, kind: str) -> Figure:
    """Bar chart: per output, S1 and ST (Sobol) or mu* and sigma (Morris), with 95 % intervals."""
    outputs = list(dict.fromkeys(table["output"]))
    if not outputs:
        raise AnalysisError("no output varies across the design: nothing to apportion")
    ncols = min(2, len(outputs))
    nrows = math.ceil(len(outputs) / ncols)
    fig = Figure(figsize=(6.6 * ncols, 4.6 * nrows + 0.4), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[len(outputs) :]:
        ax.set_visible(False)
    for i, (ax, output) in enumerate(zip(axes, outputs, strict=False)):
        part = table[table["output"] == output]
        pos = np.arange(len(part))
        label, unit = measures.label(output), measures.unit(output)
        if kind == "sobol":
            ax.bar(pos - 0.2, part["S1"], 0.4, yerr=part["S1_conf"], capsize=3, label="S1 (first order)")
            ax.bar(pos + 0.2, part["ST"], 0.4, yerr=part["ST_conf"], capsize=3, label="ST (total)")
            ax.set_ylabel(axis_label("Sobol index", "share of output variance"))
            ax.set_ylim(min(0.0, float((part["S1"] - part["S1_conf"]).min())), 1.05)
        else:
            ax.bar(
                pos - 0.2,
                part["mu_star"],
                0.4,
                yerr=part["mu_star_conf"],
                capsize=3,
                label="mu* (mean |effect|)",
            )
            ax.bar(pos + 0.2, part["sigma"], 0.4, label="sigma (interactions, non-linearity)")
            ax.set_ylabel(axis_label("elementary effect", f"{unit} per unit range"))
        ax.axhline(0, color="black", lw=0.6)
        ax.set_xticks(pos, part["parameter"], rotation=30, ha="right")
        ax.set_xlabel(axis_label("parameter", "swept key"))
        ax.set_title(f"{label} [{unit}]")
        if i == 0:
            ax.legend(fontsize=8, loc="upper right")
    runs = len(sweep.ok)
    what = (
        "Sobol indices with 95 % intervals"
        if kind == "sobol"
        else "Morris screening with 95 % interval of mu*"
    )
    fig.suptitle(f"{sweep.name}: {what} — {runs} runs, outputs averaged over replicates")
    return fig


def markdown_table(table: pd.DataFrame, digits: int = 3) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float | np.floating):
            return "" if math.isnan(v) else f"{v:.{digits}g}"
        return str(v)

    head = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([head, rule, *body]) + "\n"


# ---------------------------------------------------------------------------------------- thresholds
def threshold_table(grid: pd.DataFrame, shipped: dict[str, Any]) -> pd.DataFrame:
    """P(glut) and P(bubble) with 95 % Wilson intervals at each point of the detector's threshold
    grid, from a long table of runs (run_id, the `THRESHOLD_KEYS`, glut, bubble); `shipped`
    marks the point that holds the configured thresholds."""
    rows = []
    for point, part in grid.groupby(list(THRESHOLD_KEYS), sort=True):
        runs = len(part)
        glut, glut_low, glut_high = wilson(int(part["glut"].sum()), runs)
        bubble, bubble_low, bubble_high = wilson(int(part["bubble"].sum()), runs)
        here: dict[str, Any] = dict(zip(THRESHOLD_KEYS, point, strict=True))
        rows.append(
            {
                **here,
                "shipped": all(math.isclose(float(here[k]), float(shipped[k])) for k in THRESHOLD_KEYS),
                "runs": runs,
                "p_glut": glut,
                "p_glut_low": glut_low,
                "p_glut_high": glut_high,
                "p_bubble": bubble,
                "p_bubble_low": bubble_low,
                "p_bubble_high": bubble_high,
            }
        )
    return pd.DataFrame(rows)


def load_thresholds(sweep: Sweep) -> pd.DataFrame:
    """The sweep's threshold grid (thresholds.parquet), finished runs only; empty for a sweep
    made before the grid was recorded."""
    path = sweep.root / THRESHOLDS
    if not path.is_file():
        return pd.DataFrame(columns=["run_id", *THRESHOLD_KEYS, "glut", "bubble"])
    grid = pd.read_parquet(path)
    return grid[grid["run_id"].isin(sweep.ok["run_id"])]


def threshold_figure(table: pd.DataFrame, shipped: dict[str, Any], title: str) -> Figure:
    """P(bubble) against the persistence a glut needs, one line per utilization threshold, and
    against the impairment share a bubble needs; 95 % Wilson intervals as error bars."""
    fig = Figure(figsize=(11, 4.4), layout="constrained")
    left, right = fig.subplots(1, 2, sharey=True)
    at_impairment = np.isclose(table["impairment_share_threshold"], shipped["impairment_share_threshold"])
    for i, u in enumerate(ROBUST_UTILIZATION):
        part = table[at_impairment & np.isclose(table["utilization_threshold"], u)]
        part = part[part["persistence_months"].isin(ROBUST_PERSISTENCE)].sort_values("persistence_months")
        err = [part["p_bubble"] - part["p_bubble_low"], part["p_bubble_high"] - part["p_bubble"]]
        left.errorbar(
            part["persistence_months"] + (i - 1) * 0.15,
            part["p_bubble"],
            yerr=err,
            marker="o",
            capsize=3,
            label=f"utilization < {u:.0%}",
        )
    left.axvline(shipped["persistence_months"], color="grey", ls=":", lw=1, label="shipped persistence")
    left.set_xticks(ROBUST_PERSISTENCE)
    left.set_xlabel("months a glut must last to count (persistence)")
    left.set_ylabel("P(bubble), share of runs")
    left.set_title("by persistence and utilization threshold")
    left.legend(fontsize=8)
    base = np.isclose(table["persistence_months"], shipped["persistence_months"]) & np.isclose(
        table["utilization_threshold"], shipped["utilization_threshold"]
    )
    part = table[base & table["impairment_share_threshold"].isin(ROBUST_IMPAIRMENT)]
    part = part.sort_values("impairment_share_threshold")
    err = [part["p_bubble"] - part["p_bubble_low"], part["p_bubble_high"] - part["p_bubble"]]
    right.errorbar(
        100 * part["impairment_share_threshold"], part["p_bubble"], yerr=err, marker="o", capsize=3
    )
    right.axvline(100 * shipped["impairment_share_threshold"], color="grey", ls=":", lw=1, label="shipped")
    right.legend(fontsize=8)
    right.set_xlabel("impairment a bubble needs, % of book value at onset")
    right.set_title("by the impairment threshold (shipped persistence, utilization)")
    for ax in (left, right):
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    return fig


# ---------------------------------------------------------------------------------------- all at once
def analyze(
    root: Path,
    x: str | None = None,
    y: str | None = None,
    severity: str = "peak_overcapacity",
    out: Path | None = None,
) -> tuple[list[Path], list[str]]:
    """Draw every picture and table the sweep supports into `root/analysis/` (or `out`).

    Returns the files written and notes on what was skipped and why.
    """
    if severity not in measures.SEVERITIES:
        raise AnalysisError(f"severity must be one of {', '.join(measures.SEVERITIES)}")
    axes = [name for name in (x, y) if name is not None]
    check_axis_names(read_spec(SweepStore.open(root).path(SPEC)).param_names, *axes)  # before rebuilding
    sweep = load_sweep(root)
    check_axes(sweep, *axes)
    out = Path(out) if out is not None else sweep.root / ANALYSIS
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    notes: list[str] = []
    numeric = [p for p in sweep.params if pd.api.types.is_numeric_dtype(sweep.results[p])]
    if sweep.ok.empty:
        notes.append("no finished run: nothing to draw")
        return written, notes

    if x is None:
        x = next((p for p in numeric if p != y), None)
    if y is None:
        y = next((p for p in numeric if p != x), None)
    if x is None:  # only --y, and nothing else to put on x: its response curve
        x, y = y, None
    if x is not None and y is not None:
        table, geo = phase_table(sweep, x, y, severity)
        path = out / f"phase_{x}__{y}__{severity}.csv"
        table.drop(columns=["ix", "iy"]).to_csv(path, index=False)
        written.append(path)
        path = out / f"phase_{x}__{y}__{severity}.png"
        save_figure(phase_figure(sweep, x, y, severity), path)
        written.append(path)
        missing = describe_left_out(geo["left_out"], len(sweep.results))
        if missing:
            notes.append(f"phase diagram: {missing}")
    elif x is not None:
        path = out / f"response_{x}__{severity}.png"
        save_figure(response_figure(sweep, x, severity), path)
        written.append(path)
        missing = describe_left_out(left_out(sweep, [x]), len(sweep.results))
        if missing:
            notes.append(f"response curve: {missing}")
    else:
        notes.append("phase diagram: no numeric swept parameter")

    if (sweep.root / SERIES).is_file() and sweep.spec.series.columns:
        path = out / f"fan__{severity}.png"
        save_figure(fan_figure(sweep, fan_groups(sweep, severity)), path)
        written.append(path)
    else:
        notes.append("fan chart: no sampled series in this sweep")

    grid = load_thresholds(sweep)
    if grid.empty:
        notes.append("threshold robustness: no threshold grid in this sweep (made before it was recorded)")
    else:
        shipped = SweepStore.open(sweep.root).read_base_config()["bubble"]
        table = threshold_table(grid, shipped)
        for suffix, text in ((".csv", table.to_csv(index=False)), (".md", markdown_table(table))):
            path = out / f"thresholds{suffix}"
            atomic_write_text(path, text)
            written.append(path)
        title = f"{sweep.name}: P(bubble) at other detector thresholds — {grid['run_id'].nunique()} runs" + (
            f", pooled over {', '.join(sweep.params)}" if sweep.params else ""
        )
        path = out / "thresholds.png"
        save_figure(threshold_figure(table, shipped, title), path)
        written.append(path)

    kind = sweep.spec.design.kind
    if kind in ("sobol", "morris"):
        try:
            table = sobol_indices(sweep) if kind == "sobol" else morris_indices(sweep)
            for suffix, text in ((".csv", table.to_csv(index=False)), (".md", markdown_table(table))):
                path = out / f"{kind}{suffix}"
                atomic_write_text(path, text)
                written.append(path)
            path = out / f"{kind}.png"
            save_figure(sensitivity_figure(sweep, table, kind), path)
            written.append(path)
        except AnalysisError as exc:
            notes.append(f"{kind} indices: {exc}")
    counts = sweep.results["status"].value_counts().to_dict()
    atomic_write_text(
        out / "summary.json", json.dumps({"status": counts, "files": [p.name for p in written]}, indent=2)
    )
    return written, notes
