"""The calibration's pictures: convergence, marginals, pairs, the posterior-predictive check, and
the answer per posterior draw (`aibubble predict`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from aibubble.calibration.spec import Prepared
from aibubble.experiments.files import save_figure


def diagnostics_figure(gens: pd.DataFrame, screening: pd.DataFrame | None) -> Figure:
    fig = Figure(figsize=(12, 3.8), layout="constrained")
    a, b, c = fig.subplots(1, 3)
    a.plot(gens["generation"], gens["epsilon"], "o-")
    a.set(
        title="ABC-SMC tolerance by generation", xlabel="generation", ylabel="epsilon (RMS standardised miss)"
    )
    b.plot(gens["generation"], 100 * gens["acceptance_rate"], "o-", color="tab:orange")
    b.set(
        title="Acceptance rate by generation",
        xlabel="generation",
        ylabel="accepted, % of simulations",
        yscale="log",
    )
    if screening is not None:
        d = screening[screening["output"] == "distance"].sort_values("mu_star")
        c.barh(d["param"], d["mu_star"], xerr=d["sigma"], color="tab:green", alpha=0.8)
        c.set(title="Morris screening on the distance", xlabel="mu* (sigma as bar), distance units")
        c.tick_params(axis="y", labelsize=7)
    else:
        c.set_axis_off()
    for ax in (a, b):
        ax.grid(alpha=0.3)
    return fig


def marginals_figure(prep: Prepared, post: pd.DataFrame, summary: pd.DataFrame) -> Figure:
    rows = list(summary.itertuples())
    cols = min(3, len(rows))
    nrows = -(-len(rows) // cols)
    fig = Figure(figsize=(4.2 * cols, 3.2 * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, cols)).ravel()
    w = post["weight"].to_numpy(float)
    for ax, row in zip(axes, rows, strict=False):
        lo, hi = float(row.prior_min), float(row.prior_max)  # type: ignore[arg-type]
        vals = post[row.param].to_numpy(float)
        bins = np.geomspace(lo, hi, 25) if row.log_prior else np.linspace(lo, hi, 25)
        ax.hist(vals, bins=bins, weights=w, density=True, color="tab:blue", alpha=0.7, label="posterior")
        ax.axvspan(row.q05, row.q95, color="tab:blue", alpha=0.12, label="90 % interval")
        ax.axvline(row.median, color="tab:blue", label=f"median {row.median:.3g}")
        base = row.base_value
        if isinstance(base, int | float) and np.isfinite(base):  # an optional number left unset has none
            ax.axvline(float(base), color="black", ls="--", lw=0.8, label=f"base {float(base):.3g}")
        ax.set(
            title=row.param,
            xlabel=f"{row.unit} (x axis = prior range)",
            ylabel="density",
            xlim=(lo, hi),
        )
        if row.log_prior:
            ax.set_xscale("log")
        ax.legend(fontsize=7)
    for ax in axes[len(rows) :]:
        ax.set_axis_off()
    fig.suptitle(f"Posterior marginals: calibration '{prep.spec.name}' (uniform priors over the x range)")
    return fig


def pairs_figure(prep: Prepared, post: pd.DataFrame, summary: pd.DataFrame) -> Figure:
    names = list(summary["param"])
    n = len(names)
    fig = Figure(figsize=(2.6 * n + 1, 2.6 * n), layout="constrained")
    axes = np.array(fig.subplots(n, n, squeeze=False))
    w = post["weight"].to_numpy(float)
    logs = dict(zip(summary["param"], summary["log_prior"], strict=True))
    for i, yi in enumerate(names):
        for j, xj in enumerate(names):
            ax = axes[i, j]
            if j >= i:
                ax.set_axis_off() if j > i else ax.hist(
                    post[xj], weights=w, bins=20, color="tab:blue", alpha=0.7
                )
            else:
                ax.scatter(post[xj], post[yi], s=6, c=w, cmap="Blues", alpha=0.8)
                if logs[yi]:
                    ax.set_yscale("log")
            if logs[xj] and j <= i:
                ax.set_xscale("log")
            if i == n - 1:
                ax.set_xlabel(xj, fontsize=7)
            if j == 0 and i > 0:
                ax.set_ylabel(yi, fontsize=7)
            ax.tick_params(labelsize=6)
    fig.suptitle("Posterior pairs (last generation; darker = more weight)")
    return fig


def predictive_figure(prep: Prepared, pred: pd.DataFrame) -> Figure:
    """Each target's posterior-predictive draws as a ratio to the record (log scale)."""
    targets = prep.targets.targets
    fig = Figure(figsize=(10, 0.45 * len(targets) + 1.8), layout="constrained")
    ax = fig.subplots()
    for k, t in enumerate(targets):
        lo, hi = t.bounds
        mid = float(np.sqrt(lo * hi)) if t.scale == "log" else (lo + hi) / 2
        x = pred[t.name].to_numpy(float) / mid
        color = "tab:red" if t.out_of_sample else "tab:blue"
        ax.scatter(x, np.full(len(x), k) + np.linspace(-0.2, 0.2, len(x)), s=6, color=color, alpha=0.5)
        band = (lo / mid / (1 + t.uncertainty), hi / mid * (1 + t.uncertainty))
        ax.plot(band, [k, k], color="black", lw=3, alpha=0.25)
        ax.plot([lo / mid, hi / mid], [k, k], color="black", lw=3)
    labels = [f"{t.name}{' (2026, out of sample)' if t.out_of_sample else ''}" for t in targets]
    ax.set_yticks(range(len(targets)), labels, fontsize=8)
    ax.set_xscale("log")
    ax.axvline(1, color="grey", lw=0.6)
    ax.set(
        title="Posterior predictive check: blue fitted (2024-25), red out of sample (2026)",
        xlabel="simulated / record (log scale); black: record, grey: +-1 uncertainty",
    )
    ax.grid(alpha=0.3, axis="x")
    return fig


def write_plots(
    folder: Path,
    prep: Prepared,
    screening: pd.DataFrame | None,
    post: pd.DataFrame,
    summary: pd.DataFrame,
    gens: pd.DataFrame,
    pred: pd.DataFrame,
) -> None:
    save_figure(diagnostics_figure(gens, screening), folder / "diagnostics.png")
    save_figure(marginals_figure(prep, post, summary), folder / "marginals.png")
    save_figure(pairs_figure(prep, post, summary), folder / "pairs.png")
    save_figure(predictive_figure(prep, pred), folder / "predictive.png")


def answer_figure(runs: pd.DataFrame, params: pd.DataFrame, key: str, unit: str) -> Figure:
    """Each posterior draw's P(bubble) (the share of its seeds) against the parameter that
    decides the answer, per shock, with a running mean over neighbouring draws: where the
    answer turns, and how sharply."""
    per_draw = runs.groupby(["shock", "draw"], sort=False)["bubble"].mean().unstack("shock")
    x = params[key].to_numpy(float)
    order = np.argsort(x, kind="stable")
    window = max(3, len(x) // 8)
    fig = Figure(figsize=(9, 5), layout="constrained")
    ax = fig.subplots()
    for k, shock in enumerate(per_draw.columns):
        y = per_draw[shock].to_numpy(float)
        color = f"C{k}"
        ax.scatter(x, y + (k - len(per_draw.columns) / 2) * 0.008, s=10, color=color, alpha=0.35)
        smooth = pd.Series(y[order]).rolling(window, center=True, min_periods=1).mean()
        ax.plot(x[order], smooth, color=color, lw=2, label=shock)
    seeds = int(runs.groupby(["shock", "draw"]).size().iloc[0])
    ax.set(
        title=f"P(bubble) per posterior draw against {key}",
        xlabel=f"{key} [{unit}]",
        ylabel=f"P(bubble) over the draw's {seeds} seeds",
        ylim=(-0.05, 1.05),
    )
    ax.grid(alpha=0.3)
    ax.legend(title=f"shock (lines: running mean of {window} draws)", fontsize=8)
    return fig
