"""The analyst's page of a run (`finance.png`): does the build-out pay?

Four panels read left-right, top-down: the revenue the capex needs against what AI earns, the
warning gauges against their thresholds, what a GPU bought each month returns, and the IRR of
each year's GPUs. Built on `Figure` directly, as the run dashboard is (plots.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from aibubble.experiments import plots
from aibubble.finance import GAUGES, INDICATORS
from aibubble.measures import BILLION

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from aibubble.config import Config

GAUGE_COLOURS = ("tab:red", "tab:blue", "tab:purple", "tab:orange")


def panel_revenue_gap(ax: Axes, fin: pd.DataFrame, x: pd.Series, spans: list) -> None:
    ax.set_title("(a) The revenue gap: what the capex needs against what AI earns")
    required = fin["required_revenue_usd_per_year"] / BILLION
    revenue = fin["ai_revenue_usd_per_year"] / BILLION
    ax.plot(x, required, color="tab:red", lw=1.6, label="AI revenue the capex needs (Sequoia method)")
    ax.plot(x, revenue, color="tab:green", lw=1.6, label=INDICATORS["ai_revenue_usd_per_year"].label)
    ax.fill_between(x, revenue, required, where=required > revenue, color="tab:red", alpha=0.12, label="gap")
    ax.set_ylabel("USD bn per year (trailing 12 months)")
    if plots.log_if_wide(ax, required.where(required > 0), revenue.where(revenue > 0), ratio=30.0):
        plots.plain_log(ax)
    else:
        ax.set_ylim(bottom=0)
    plots.shade(ax, spans, "glut")
    ax.legend(loc="upper left", fontsize=8)


def panel_gauges(ax: Axes, fin: pd.DataFrame, x: pd.Series, spans: list, config: Config) -> None:
    ax.set_title("(b) Warning gauges, as a multiple of their thresholds")
    for (gauge, field), colour in zip(GAUGES.items(), GAUGE_COLOURS, strict=True):
        threshold = getattr(config.finance, field)
        measure = INDICATORS[gauge]
        ax.plot(
            x,
            fin[gauge] / threshold,
            color=colour,
            lw=1.4,
            label=f"{measure.label} (warns above {threshold:g} {measure.unit})",
        )
    ax.axhline(1.0, color="black", lw=1.0, ls="--", label="warning threshold")
    ax.set_ylabel("gauge / its warning threshold")
    drawn = [fin[g] / getattr(config.finance, f) for g, f in GAUGES.items()]
    if plots.log_if_wide(ax, *[d.where(d > 0) for d in drawn], ratio=30.0):
        plots.plain_log(ax)
    else:
        ax.set_ylim(bottom=0)
    plots.shade(ax, spans)
    ax.legend(loc="upper right", fontsize=8)


def panel_new_gpu(ax: Axes, fin: pd.DataFrame, x: pd.Series, spans: list, config: Config) -> None:
    ax.set_title("(c) A GPU bought this month: rent, break-even rent and IRR")
    ax.plot(x, fin["realised_rent_usd_per_gpu_hour"], color="tab:green", lw=1.5, label="rent the fleet earns")
    ax.plot(
        x,
        fin["breakeven_rent_usd_per_gpu_hour"],
        color="black",
        lw=1.2,
        ls="--",
        label=f"break-even rent ({config.hyperscalers.book_life_months}-month book life, "
        f"{config.hyperscalers.target_utilization:.0%} used)",
    )
    ax.set_ylabel("USD per H100e-hour")
    if plots.log_if_wide(ax, fin["realised_rent_usd_per_gpu_hour"], fin["breakeven_rent_usd_per_gpu_hour"]):
        plots.plain_log(ax)
    else:
        ax.set_ylim(bottom=0)
    twin = ax.twinx()
    twin.plot(x, 100 * fin["new_gpu_irr_per_year"], color="tab:blue", lw=1.2, label="IRR (right)")
    twin.axhline(
        100 * config.hyperscalers.discount_rate_per_year,
        color="tab:blue",
        lw=0.8,
        ls=":",
        label="cost of capital (right)",
    )
    twin.set_ylabel("IRR, % per year")
    plots.shade(ax, spans)
    plots.legend(ax, twin, loc="upper right")


def panel_vintages(ax: Axes, vintages: pd.DataFrame, config: Config) -> None:
    ax.set_title("(d) GPU vintages: IRR by delivery year")
    if vintages.empty:
        plots.no_data(ax, "GPU deliveries")
        return
    pos = np.arange(len(vintages))
    ax.bar(
        pos - 0.2, 100 * vintages["realised_irr_per_year"].fillna(0), 0.4, color="tab:grey", label="so far"
    )
    ax.bar(
        pos + 0.2,
        100 * vintages["expected_irr_per_year"].fillna(0),
        0.4,
        color="tab:blue",
        label="expected over its life (rent and use as in the last month)",
    )
    ax.axhline(
        100 * config.hyperscalers.discount_rate_per_year,
        color="black",
        lw=1.0,
        ls="--",
        label="cost of capital",
    )
    ax.axhline(0, color="black", lw=0.6)
    for p, months in zip(pos, vintages["payback_months"], strict=True):
        text = "never" if not np.isfinite(months) else f"{months:.0f} mo"
        ax.annotate(text, (p + 0.2, 0), xytext=(0, -12), textcoords="offset points", ha="center", fontsize=7)
    ax.set_xticks(pos, [str(v) for v in vintages["vintage"]])
    ax.set_xlabel("delivery year (labels under the bars: expected payback)")
    ax.set_ylabel("IRR, % per year")
    life = float(np.average(vintages["economic_life_months"], weights=vintages["h100e"]))
    ax.text(
        0.99,
        0.97,
        f"economic life {life:.0f} months against a {config.hyperscalers.book_life_months}-month book life",
        transform=ax.transAxes,
        ha="right",
        va="top",
        fontsize=8,
    )
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(True, axis="y", alpha=0.25)


def finance_dashboard(
    model_df: pd.DataFrame,
    fin: pd.DataFrame,
    vintages: pd.DataFrame,
    summary: dict[str, Any],
    config: Config,
    title: str,
) -> Figure:
    """The analyst's page: revenue gap, gauges, a new GPU's economics, vintages' IRR."""
    df = model_df.sort_index()
    x = plots.years(df)
    spans = plots.bubble_spans(x, plots.bubble_mask(df["glut"])) if "glut" in df else []
    fig = Figure(figsize=(16, 10), layout="constrained")
    axes = fig.subplots(2, 2)
    panel_revenue_gap(axes[0, 0], fin, x, spans)
    panel_gauges(axes[0, 1], fin, x, spans, config)
    panel_new_gpu(axes[1, 0], fin, x, spans, config)
    panel_vintages(axes[1, 1], vintages, config)
    for ax in (axes[0, 0], axes[0, 1], axes[1, 0]):
        plots.year_axis(ax)
        ax.set_xlabel(plots.unit("year"))
    fig.suptitle(
        f"{title}\nDoes the build-out pay? {summary_text(summary)} (shaded: glut months)", fontsize=13
    )
    return fig


def summary_text(summary: dict[str, Any]) -> str:
    """One line of the run's finance outcomes for the title."""
    gap = summary.get("revenue_gap_peak_usd_per_year", float("nan")) / BILLION
    npv = summary.get("vintage_npv_usd", float("nan")) / BILLION
    irr = summary.get("worst_vintage_irr_per_year")
    worst = "n/a" if irr is None or not np.isfinite(irr) else f"{irr:.0%}"
    return f"peak revenue gap {gap:,.0f} bn/yr; vintages' NPV {npv:,.0f} bn; worst vintage IRR {worst}"
