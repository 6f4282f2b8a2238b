"""Paired counterfactuals: a scenario and the same seed without its scripted discovery.

The model draws its random numbers from streams keyed by purpose (see `market._streams`), so a
run with `jump_size=1` draws exactly the same numbers for set-up, users, architects and exits:
only the discovery and what it causes differ (common random numbers). The difference between
the pair is then the discovery's effect for that seed, free of sampling noise between runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from aibubble.config import Config, ConfigError
from aibubble.experiments.files import BARE_PNG, save_figure, write_json, write_parquet
from aibubble.measures import BILLION, SEVERITIES

# key, label, unit: the differences a pair reports (docs/design.md: capex, utilization,
# write-offs, glut and bubble months, token price).
MEASURES: list[tuple[str, str, str]] = [
    ("capex_total_usd", "total capex", "USD"),
    ("capex_peak_usd_per_month", "peak capex (trailing 12-month mean)", "USD/month"),
    ("capex_drawdown", "capex drawdown from peak", "fraction"),
    ("mean_utilization_after_jump", "mean utilization after the discovery", "fraction"),
    ("min_utilization_after_jump", "lowest utilization after the discovery", "fraction"),
    ("write_offs_usd", "write-offs (all causes)", "USD"),
    ("impairment_usd", "impairment", "USD"),
    ("glut_months", "months in glut episodes", "months"),
    ("months_in_bubble", "months in bubble episodes", "months"),
    ("final_token_price_usd_per_mtok", "final token price", "USD per million tokens"),
    ("final_installed_capacity_h100e", "final installed capacity", "H100e"),
]


class NoDiscoveryError(ConfigError):
    """The scenario has no scripted discovery, so there is nothing to take away."""


def counterfactual_config(cfg: Config) -> Config:
    """The same config without the scripted discovery (jump_size = 1)."""
    if cfg.discovery.jump_size <= 1:
        raise NoDiscoveryError(
            f"scenario '{cfg.name}' has no scripted discovery (discovery.jump_size = "
            f"{cfg.discovery.jump_size:g}); --counterfactual needs one"
        )
    from aibubble.config import with_headline

    return with_headline(cfg, {"jump_size": 1.0})


def run_model(cfg: Config, seed: int) -> Any:
    """A finished run of `cfg` with `seed` (`run.steps` months)."""
    from aibubble import AIMarketModel

    model = AIMarketModel(config=cfg, rng=seed)
    model.run_model()
    return model


def run_pair(cfg: Config, seed: int) -> tuple[Any, Any]:
    """The factual run and its counterfactual (same config and seed, no scripted discovery)."""
    counter_cfg = counterfactual_config(cfg)
    return run_model(cfg, seed), run_model(counter_cfg, seed)


def measures(frame: pd.DataFrame, summary: dict[str, Any], jump_month: int) -> dict[str, float]:
    """The numbers a pair is compared on, from one run's model frame and summary."""
    after = frame.iloc[min(jump_month, len(frame) - 1) :]
    return {
        "capex_total_usd": float(frame["capex_usd"].sum()),
        "capex_peak_usd_per_month": float(summary["capex_peak_usd_per_month"]),
        "capex_drawdown": float(summary["capex_drawdown"]),
        "mean_utilization_after_jump": float(after["utilization"].mean()),
        "min_utilization_after_jump": float(after["utilization"].min()),
        "write_offs_usd": float(summary["write_offs_usd"]),
        "impairment_usd": float(summary["impairment_usd"]),
        "glut_months": float(summary["glut_months"]),
        "months_in_bubble": float(summary["months_in_bubble"]),
        "final_token_price_usd_per_mtok": float(frame["token_price_usd_per_mtok"].iloc[-1]),
        "final_installed_capacity_h100e": float(frame["installed_capacity_h100e"].iloc[-1]),
    }


def differences(
    factual: pd.DataFrame,
    factual_summary: dict[str, Any],
    counter: pd.DataFrame,
    counter_summary: dict[str, Any],
    jump_month: int,
) -> dict[str, dict[str, Any]]:
    """Per measure: factual, counterfactual and difference (factual minus counterfactual)."""
    f = measures(factual, factual_summary, jump_month)
    c = measures(counter, counter_summary, jump_month)
    return {
        key: {
            "label": label,
            "unit": unit,
            "factual": f[key],
            "counterfactual": c[key],
            "difference": f[key] - c[key],
        }
        for key, label, unit in MEASURES
    }


def pair_differences(factual: Any, counter: Any) -> dict[str, dict[str, Any]]:
    return differences(
        factual.model_frame(),
        factual.summary(),
        counter.model_frame(),
        counter.summary(),
        factual.config.discovery.jump_month,
    )


def glut_catch_up(
    factual: pd.DataFrame, summary: dict[str, Any], counter: pd.DataFrame
) -> dict[str, Any] | None:
    """How far each buyer of compute had caught up with the run without the discovery when the
    factual run's first glut ended (the month after it, or the last month if it never ended):
    inference and training used, with / without. Users' inference below 1 means the glut ended
    before users' Jevons catch-up did; None without a glut."""
    if not summary["episodes"]:
        return None
    first = summary["episodes"][0]
    month = min(first["end"] + 1, len(factual) - 1, len(counter) - 1)

    def ratio(column: str) -> float | None:
        without = float(counter[column].iloc[month])
        return float(factual[column].iloc[month]) / without if without > 0 else None

    return {
        "month": int(month),
        "ended": not first["ongoing"],
        "inference_with_over_without": ratio("inference_used_h100e"),
        "training_with_over_without": ratio("training_used_h100e"),
        "refilled_by": first.get("refilled_by"),
    }


def _show(value: float, unit: str) -> str:
    if unit == "USD":
        return f"{value / BILLION:,.1f} $bn"
    if unit == "USD/month":
        return f"{value / BILLION:,.1f} $bn/mo"
    if unit == "fraction":
        return f"{100 * value:.1f} %"
    if unit == "months":
        return f"{value:.0f}"
    if unit == "H100e":
        return f"{value / 1e6:,.2f} M H100e"
    return f"{value:.4g}"


def difference_lines(diffs: dict[str, dict[str, Any]]) -> list[str]:
    """The difference table as aligned text lines (for the terminal)."""
    rows = [("measure", "factual", "counterfactual", "difference")]
    for d in diffs.values():
        unit = d["unit"]
        diff = _show(d["difference"], unit)
        if unit == "fraction":
            diff = f"{100 * d['difference']:+.1f} pp"
        elif not diff.startswith("-"):
            diff = "+" + diff
        label = d["label"] + (" (USD per million tokens)" if unit.startswith("USD per") else "")
        rows.append((label, _show(d["factual"], unit), _show(d["counterfactual"], unit), diff))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return [
        f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]:>{widths[3]}}" for r in rows
    ]


def overlay_figure(
    factual: pd.DataFrame, counter: pd.DataFrame, title: str, jump_year: float | None
) -> Figure:
    """Factual vs counterfactual: capex, utilization, cumulative write-offs, token price."""
    fig = Figure(figsize=(12, 8), layout="constrained")
    axes = fig.subplots(2, 2).ravel()
    panels = [
        ("capex_trailing_12m_usd", 12 * BILLION, "capex (trailing 12 months)", "$bn per month", False, False),
        ("utilization", 0.01, "fleet utilization", "%", False, False),
        ("write_downs_usd", BILLION, "cumulative write-offs", "$bn", True, False),
        ("token_price_usd_per_mtok", 1.0, "token price", "USD per million tokens (log)", False, True),
    ]
    for ax, (col, scale, name, unit, cumulative, log) in zip(axes, panels, strict=True):
        for frame, label, style in (
            (factual, "with the discovery", "-"),
            (counter, "without (counterfactual)", "--"),
        ):
            y = frame[col].astype(float) / scale
            if cumulative:
                y = y.cumsum()
            ax.plot(frame["year"], y, style, label=label)
        if jump_year is not None:
            ax.axvline(jump_year, color="grey", lw=0.8, ls=":", label="discovery")
        if log:
            ax.set_yscale("log")
        ax.set_title(name)
        ax.set_ylabel(unit)
        ax.set_xlabel("year")
        ax.grid(alpha=0.3)
    axes[0].legend(loc="best", fontsize=8)
    fig.suptitle(title)
    return fig


def write_files(
    folder: Path,
    counter: Any,
    diffs: dict[str, dict[str, Any]],
    figure: Figure,
    elasticity: float | None,
    catch_up: dict[str, Any] | None,
) -> None:
    """Write the counterfactual's tables, the differences and the overlay plot into `folder`."""
    sub = folder / "counterfactual"
    sub.mkdir(exist_ok=True)
    write_parquet(counter.model_frame(), sub / "model.parquet")
    write_parquet(counter.events_frame(), sub / "events.parquet")
    write_json(sub / "summary.json", counter.summary())
    data = {
        "note": "factual = the scenario; counterfactual = the same config and seed with jump_size=1; "
        "difference = factual - counterfactual",
        "seed": int(counter.seed),
        "jump_month": int(counter.config.discovery.jump_month),
        "measures": diffs,
        "efficiency_elasticity": elasticity,
        "efficiency_elasticity_note": "mean log(compute demand with / without) over the last 24 "
        "months / log(jump size): > 0 the discovery raised compute demand (Jevons), < 0 it lowered it",
        "glut_catch_up": catch_up,
        "glut_catch_up_note": "at the end of the factual run's first glut: inference and training "
        "used with / without the discovery (users' inference below 1: the glut ended before users "
        "caught up), and the channel that closed most of its idle capacity",
    }
    write_json(folder / "counterfactual.json", data)
    save_figure(figure, folder / "counterfactual.png", metadata=BARE_PNG)


def interval(values: np.ndarray) -> tuple[float, float, float]:
    """Median and the 5-95 % interval."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return (float("nan"),) * 3
    return float(np.median(v)), float(np.quantile(v, 0.05)), float(np.quantile(v, 0.95))


# ------------------------------------------------------------------------------ sweep-level pairs


def point_effects(
    results: pd.DataFrame,
    params: list[str],
    param: str = "jump_size",
    reference: float = 1.0,
    outcomes: list[str] | None = None,
) -> pd.DataFrame:
    """Per design point and seed, the effect of `param` against its `reference` level.

    `params` are the sweep's swept parameters (`Sweep.params`).
    A sweep with common seeds runs replicate r with the same seed in every cell, so the cell at
    `param = reference` (e.g. jump_size 1: no discovery) with the same other parameters and seed
    is each run's counterfactual. Returns one row per run that has one: the other parameters,
    `param`, seed and `<outcome>_effect` (run minus counterfactual) for each outcome.
    """
    outcomes = [o for o in (outcomes or SEVERITIES) if o in results.columns]
    ok = results[results["status"] == "ok"]
    others = [p for p in params if p != param]
    base = ok[np.isclose(ok[param].astype(float), reference)]
    if base.empty:
        raise ValueError(f"no finished run at {param} = {reference:g} to compare against")
    keys = [*others, "seed"]
    merged = ok.merge(base[[*keys, *outcomes]], on=keys, suffixes=("", "_cf"), how="inner")
    merged = merged[~np.isclose(merged[param].astype(float), reference)]
    out = merged[[*others, param, "seed"]].copy()
    for o in outcomes:
        out[f"{o}_effect"] = merged[o].astype(float) - merged[f"{o}_cf"].astype(float)
    return out.reset_index(drop=True)
