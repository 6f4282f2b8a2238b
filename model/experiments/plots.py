"""Pictures of a run: one dashboard per run and an overlay of several runs.

Figures are built on `matplotlib.figure.Figure` directly, never through pyplot, so they carry no
global state and work the same in the CLI (saved to PNG) and in SolaraViz (shown live). The
backend is chosen by the caller, not here.

The panels and the helpers they draw with are public (the finance page, finance_plots.py,
draws with them too); the live page draws the same panels in the browser (model/page/charts.py).
Series are named, and their units given, as `model.measures.SERIES` declares them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from aibubble.measures import BILLION, SERIES

if TYPE_CHECKING:
    from matplotlib.typing import LegendLocType

MILLION = 1e6
BUBBLE_SHADE: dict[str, Any] = {"color": "tab:red", "alpha": 0.10, "lw": 0}
DEFAULT_UTILIZATION_THRESHOLD = 0.6  # BubbleConfig's default, used when the caller does not say


def series(df: pd.DataFrame, column: str, scale: float = 1.0) -> pd.Series | None:
    """A column divided by `scale`, or None when the model does not report it (panel says so)."""
    if column not in df.columns:
        return None
    return pd.to_numeric(df[column], errors="coerce") / scale


def label(column: str) -> str:
    """A series' declared label: legends and titles name it as every other output does."""
    return SERIES[column].label


def unit(column: str, scale: float = 1.0) -> str:
    """A series' declared unit as drawn, divided by `scale`: 'million H100e', 'USD bn', '%'."""
    declared = SERIES[column].unit
    if scale == 0.01 and declared == "fraction":
        return "%"
    if scale == MILLION:
        return f"million {declared}"
    if scale == BILLION and declared.startswith("USD"):
        return declared.replace("USD", "USD bn", 1)
    if scale != 1.0:
        raise ValueError(f"no unit for {column} divided by {scale:g}")
    return declared


@overload
def positive(s: pd.Series) -> pd.Series: ...
@overload
def positive(s: None) -> None: ...
def positive(s: pd.Series | None) -> pd.Series | None:
    """Values that a log axis can show; zeros and negatives become gaps rather than errors."""
    return None if s is None else s.where(s > 0)


def years(df: pd.DataFrame) -> pd.Series:
    """Calendar year of every row; month counts from 0 when the frame has no `year` column."""
    if "year" in df.columns:
        return pd.to_numeric(df["year"], errors="coerce")
    steps = df["step"] if "step" in df.columns else pd.Series(df.index, index=df.index)
    return pd.to_numeric(steps, errors="coerce") / 12.0


def _steps(df: pd.DataFrame) -> np.ndarray:
    steps = df["step"] if "step" in df.columns else pd.Series(df.index, index=df.index)
    return pd.to_numeric(steps, errors="coerce").to_numpy(dtype=float)


def step_to_year(df: pd.DataFrame, steps: Iterable[float]) -> np.ndarray:
    """Map event steps onto the calendar axis (one step = one month, also beyond the frame)."""
    s, y = _steps(df), years(df).to_numpy(dtype=float)
    pts = np.asarray(list(steps), dtype=float)
    if len(s) == 0:
        return pts / 12.0
    return y[0] + (pts - s[0]) / 12.0


def bubble_mask(state: pd.Series) -> pd.Series:
    """True in months the model flags as a bubble.

    Accepts a boolean/numeric flag (> 0 is a bubble) or a label where anything other than a
    calm state ("none", "normal", "ok", "") counts, so the picture does not depend on which
    encoding the model settles on.
    """
    if pd.api.types.is_bool_dtype(state) or pd.api.types.is_numeric_dtype(state):
        return pd.to_numeric(state, errors="coerce").fillna(0) > 0
    calm = {"", "none", "normal", "ok", "false", "0", "no", "nan"}
    return ~state.astype(str).str.strip().str.lower().isin(calm)


def bubble_spans(x: pd.Series, mask: pd.Series) -> list[tuple[float, float]]:
    """Contiguous bubble months as (start year, end year) spans, each month one twelfth wide.

    `x` holds each row's calendar year (see `years`); `shade` draws the spans.
    """
    spans: list[tuple[float, float]] = []
    start = None
    prev = None
    for y, flag in zip(x.to_numpy(dtype=float), mask.to_numpy(dtype=bool), strict=True):
        if flag and start is None:
            start = y
        if not flag and start is not None:
            assert prev is not None  # start was set in an earlier month
            spans.append((start, prev + 1 / 12))
            start = None
        prev = y
    if start is not None and prev is not None:
        spans.append((start, prev + 1 / 12))
    return spans


def shade(ax: Axes, spans: list[tuple[float, float]], legend: str | None = None) -> None:
    """Bubble months as a light red band behind the lines, the same on every panel."""
    for i, (a, b) in enumerate(spans):
        ax.axvspan(a, b, label=legend if i == 0 else None, **BUBBLE_SHADE)


def plain_log(ax: Axes) -> None:
    """Log y axis labelled 0.5, 1, 3 rather than 5x10^-1: prices and ratios are read, not parsed."""
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _plain(v)))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _pos: _minor_label(ax, v)))


def _minor_label(ax: Axes, v: float) -> str:
    """Label in-between ticks only when the axis spans few decades (else they crowd)."""
    lo, hi = ax.get_ylim()
    if lo <= 0 or hi <= lo or v <= 0:
        return ""
    decades = math.log10(hi / lo)
    mantissa = round(v / 10 ** math.floor(math.log10(v) + 1e-9))
    if decades > 2.5 or (decades > 1.2 and mantissa not in (2, 5)):
        return ""
    return _plain(v)


def _plain(v: float) -> str:
    """0.001 ... 1000 written out; beyond that a power of ten."""
    if v <= 0:
        return ""
    if 1e-3 <= v < 1e4:
        return f"{v:g}"
    return f"$10^{{{math.log10(v):.0f}}}$"


def log_if_wide(ax: Axes, *drawn: pd.Series | None, ratio: float = 10.0) -> bool:
    """Log scale when the values span more than `ratio`: a collapse or a boom stays readable."""
    present = [s for s in drawn if s is not None]
    if not present:
        return False
    values = pd.concat(present)
    values = values[values > 0].dropna()
    if len(values) and values.max() > ratio * values.min():
        plain_log(ax)
        return True
    return False


def legend(ax: Axes, *more: Axes, loc: LegendLocType = "upper left") -> None:
    """One legend for an axis and its twins."""
    handles, names = ax.get_legend_handles_labels()
    for other in more:
        h, n = other.get_legend_handles_labels()
        handles += h
        names += n
    if handles:  # two columns once the list gets long, so the legend hides less of the data
        ncols = 2 if len(handles) >= 5 else 1
        ax.legend(handles, names, loc=loc, fontsize=8, framealpha=0.85, ncols=ncols)


def no_data(ax: Axes, what: str) -> None:
    ax.text(0.5, 0.5, f"no data: {what}", transform=ax.transAxes, ha="center", va="center", color="grey")


def _plot(ax: Axes, x: pd.Series, y: pd.Series | None, **kw: Any) -> None:
    if y is not None and y.notna().any():
        ax.plot(x, y, **kw)


def _fmt_pct(value: Any) -> str:
    return (
        "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.0f}%"
    )


def summary_line(summary: dict[str, Any]) -> str:
    """The one line under the title: did a glut come, was it a bubble, how deep, and the burst."""
    glut = summary.get("glut")
    first = summary.get("first_glut_month")
    verdict = "glut: YES" if glut else "glut: no"
    if glut and first is not None:
        verdict += f" (from month {first}, {summary.get('glut_months', 'n/a')} months)"
    parts = [
        verdict,
        f"bubble (impairing): {'YES' if summary.get('bubble') else 'no'}",
        f"peak overcapacity: {_fmt_pct(summary.get('peak_overcapacity'))}",
        f"capex drawdown: {_fmt_pct(summary.get('capex_drawdown'))}"
        + (" (burst)" if summary.get("burst") else ""),
    ]
    return "   |   ".join(parts)


def panel_capacity(ax: Axes, df: pd.DataFrame, x: pd.Series, spans, threshold: float) -> None:
    """Panel (a): installed capacity against compute demand, the used share, and utilization.

    Like every `panel_*`: draws on `ax` (adding a twin axis where it has a right scale) from the
    frame `df`, its rows at the calendar years `x`, with `spans` of bubble months shaded.
    """
    ax.set_title("(a) Capacity vs demand: is compute idle?")
    capacity = series(df, "installed_capacity_h100e", MILLION)
    demand = series(df, "compute_demand_h100e", MILLION)
    used = series(df, "compute_used_h100e", MILLION)
    _plot(ax, x, capacity, color="black", lw=2, label=label("installed_capacity_h100e"))
    _plot(ax, x, demand, color="tab:blue", lw=1.6, label=label("compute_demand_h100e"))
    # A decade of 3x/yr growth spans ~10^5: on a log axis the gap between lines is the idle share.
    log = log_if_wide(ax, capacity, ratio=30.0)
    ax.set_ylabel(unit("installed_capacity_h100e", MILLION) + (" (log)" if log else ""))
    if used is not None and used.notna().any():
        # Used compute as an area: white space under the black line is idle, blue above it is unmet.
        floor = float(used[used > 0].min()) / 2 if log and (used > 0).any() else 0.0
        ax.fill_between(
            x,
            floor,
            used.clip(lower=floor),
            color="tab:green",
            alpha=0.25,
            lw=0,
            label=label("compute_used_h100e"),
        )
        ax.set_ylim(bottom=floor if log else 0)
    elif not log:
        ax.set_ylim(bottom=0)
    twin = ax.twinx()
    util = series(df, "utilization", 0.01)
    _plot(twin, x, util, color="tab:orange", lw=1, alpha=0.9, label=f"{label('utilization')} (right)")
    twin.axhline(
        100 * threshold,
        color="tab:red",
        ls=":",
        lw=1.2,
        label=f"glut threshold: {100 * threshold:.0f}% {label('utilization')}",
    )
    twin.set_ylim(0, 105)
    twin.set_ylabel(f"{label('utilization')}, {unit('utilization', 0.01)}")
    shade(ax, spans, "glut months")
    legend(ax, twin, loc="upper left")


def panel_prices(ax: Axes, df: pd.DataFrame, x: pd.Series, spans) -> None:
    """Panel (b): spot and reserved rental price, on a log scale once they span a decade."""
    ax.set_title("(b) GPU rental price")
    spot = series(df, "spot_price_usd_per_gpu_hour")
    reserved = series(df, "reserved_price_usd_per_gpu_hour")
    if spot is None and reserved is None:
        no_data(ax, "rental prices")
    _plot(ax, x, positive(spot), color="tab:red", lw=1.6, label="spot")
    _plot(ax, x, positive(reserved), color="tab:purple", lw=1.6, ls="--", label="reserved (average contract)")
    log = log_if_wide(ax, spot, reserved)
    ax.set_ylabel(unit("spot_price_usd_per_gpu_hour") + (" (log)" if log else ""))
    shade(ax, spans)
    legend(ax)


def panel_capex(ax: Axes, df: pd.DataFrame, x: pd.Series, spans) -> None:
    """Panel (c): capex as an area, the part spent on data-centre shells darker beneath it;
    GPU orders, backlog and cancellations on the right."""
    ax.set_title("(c) Capex and the GPU order book")
    capex = series(df, "capex_usd", BILLION)
    if capex is not None:
        ax.fill_between(x, 0, capex.fillna(0), color="tab:grey", alpha=0.35, label=label("capex_usd"))
    shells = series(df, "shell_capex_usd", BILLION)  # absent from run folders older than shells
    if shells is not None:
        ax.fill_between(x, 0, shells.fillna(0), color="tab:brown", alpha=0.45, label="of which shells")
    ax.set_ylabel(f"{label('capex_usd')}, {unit('capex_usd', BILLION)}")
    ax.set_ylim(bottom=0)
    twin = ax.twinx()
    _plot(
        twin,
        x,
        series(df, "gpu_orders_h100e", MILLION),
        color="tab:blue",
        lw=1.3,
        label=f"{label('gpu_orders_h100e')} (right)",
    )
    _plot(
        twin,
        x,
        series(df, "gpu_backlog_h100e", MILLION),
        color="tab:cyan",
        lw=1.3,
        ls="--",
        label="order backlog (right)",
    )
    cancels = series(df, "gpu_cancellations_h100e", MILLION)
    if cancels is not None and (cancels > 0).any():
        _plot(twin, x, cancels, color="tab:red", lw=1.0, label="cancellations (right)")
    twin.set_ylabel("orders per month / backlog, million H100e")
    twin.set_ylim(bottom=0)
    shade(ax, spans)
    legend(ax, twin)


def panel_tokens(ax: Axes, df: pd.DataFrame, x: pd.Series, spans) -> None:
    """Panel (d): tokens served (and demanded, when short) against the token price: Jevons."""
    ax.set_title("(d) AI services: volume up as price falls? (Jevons)")
    served = positive(series(df, "tokens_served"))
    demanded = positive(series(df, "tokens_demanded"))
    _plot(ax, x, served, color="tab:green", lw=1.8, label=label("tokens_served"))
    if demanded is not None and served is not None and (demanded > served * 1.01).any():
        _plot(ax, x, demanded, color="tab:green", lw=1, ls=":", label=label("tokens_demanded"))
    if served is not None and served.notna().any():
        ax.set_yscale("log")  # tokens span orders of magnitude: keep scientific labels
    ax.set_ylabel(f"{unit('tokens_served')} (log)")
    twin = ax.twinx()
    price = positive(series(df, "token_price_usd_per_mtok"))
    _plot(
        twin,
        x,
        price,
        color="tab:brown",
        lw=1.4,
        ls="--",
        label=f"{label('token_price_usd_per_mtok')} (right)",
    )
    if price is not None and price.notna().any():
        plain_log(twin)
    twin.set_ylabel(f"{unit('token_price_usd_per_mtok')} (log)")
    shade(ax, spans)
    legend(ax, twin)


def discovery_markers(ax: Axes, x: np.ndarray, sizes: np.ndarray, details: np.ndarray) -> None:
    """A vertical line per discovery at its calendar year: red from 2x up, dashed if proprietary.

    `x`, `sizes` and `details` hold each discovery's year, gain and event detail. Each is
    labelled with its gain when there are few; otherwise only the big ones, so a 100x shock
    stands out from the background trickle of 1.1-2x ideas.
    """
    label_all = len(x) <= 8
    seen: dict[float, int] = {}
    legend_done: set[str] = set()
    for yr, size, detail in zip(x, sizes, details, strict=True):
        big = bool(size >= 2.0)
        proprietary = "proprietary" in str(detail).lower()
        kind = f"discovery {'≥' if big else '<'} 2x" + (", proprietary" if proprietary else "")
        ax.axvline(
            yr,
            color="tab:red" if big else "grey",
            lw=1.4 if big else 0.8,
            alpha=0.85 if big else 0.5,
            ls="--" if proprietary else "-",
            label=None if kind in legend_done else kind,
        )
        legend_done.add(kind)
        if (big or label_all) and np.isfinite(size):
            stack = seen.get(round(yr, 3), 0)  # same-month discoveries: stack the labels
            seen[round(yr, 3)] = stack + 1
            ax.annotate(
                f"×{size:.3g}",
                (yr, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(2, -12 - 10 * stack),
                textcoords="offset points",
                color="tab:red" if big else "dimgrey",
                fontsize=8,
            )


def _panel_efficiency(ax: Axes, df: pd.DataFrame, x: pd.Series, events: pd.DataFrame | None, spans) -> None:
    ax.set_title("(e) Efficiency of AI architectures")
    for column, name, style in (
        ("frontier_efficiency", "frontier (best known)", {"color": "tab:purple", "lw": 1.8}),
        ("mean_adopted_efficiency", "mean adopted by labs", {"color": "tab:olive", "lw": 1.6, "ls": "--"}),
    ):
        s = positive(series(df, column))
        if s is not None and s.notna().any():
            _plot(ax, x, s / s.dropna().iloc[0], label=name, **style)
    plain_log(ax)
    ax.set_ylabel("x vs month 0 (log)")
    shade(ax, spans)
    if events is not None and len(events) and {"kind", "step"} <= set(events.columns):
        disc = events[events["kind"].astype(str) == "discovery"]
        if len(disc):
            sizes = (
                pd.to_numeric(disc["size"], errors="coerce")
                if "size" in disc
                else pd.Series(np.nan, disc.index)
            )
            at = step_to_year(df, disc["step"])
            details = disc["detail"].astype(str) if "detail" in disc else pd.Series("", disc.index)
            discovery_markers(ax, at, sizes.to_numpy(dtype=float), details.to_numpy())
    legend(ax, loc="lower right")  # efficiency rises left to right: lower right is empty


def _panel_writedowns(ax: Axes, df: pd.DataFrame, x: pd.Series, spans) -> None:
    ax.set_title("(f) Write-downs and stranded GPUs")
    wd = series(df, "write_downs_usd", BILLION)
    if wd is not None:
        ax.bar(x, wd.fillna(0), width=1 / 12, color="tab:red", alpha=0.7, label=label("write_downs_usd"))
    ax.set_ylabel(f"{label('write_downs_usd')}, {unit('write_downs_usd', BILLION)}")
    ax.set_ylim(bottom=0)
    twin = ax.twinx()
    _plot(
        twin,
        x,
        series(df, "stranded_book_value_usd", BILLION),
        color="black",
        lw=1.6,
        label=f"{label('stranded_book_value_usd')} (right)",
    )
    twin.set_ylabel(f"{label('stranded_book_value_usd')}, {unit('stranded_book_value_usd', BILLION)}")
    twin.set_ylim(bottom=0)
    shade(ax, spans)
    legend(ax, twin)


def year_axis(ax: Axes) -> None:
    """Whole calendar years on x, written 2027 rather than 2,027, over a light grid."""
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.0f}"))
    ax.grid(True, alpha=0.25)


def dashboard(
    model_df: pd.DataFrame,
    events_df: pd.DataFrame | None,
    summary: dict[str, Any],
    title: str,
    utilization_threshold: float | None = None,
) -> Figure:
    """Six panels that tell a run's story from capacity to write-downs, read left-right, top-down.

    `utilization_threshold` draws the bubble line in panel (a); it defaults to the summary's
    value, then to the config default.
    """
    threshold = utilization_threshold
    if threshold is None:
        threshold = summary.get("utilization_threshold", DEFAULT_UTILIZATION_THRESHOLD)
    df = model_df.sort_index()
    x = years(df)
    spans = bubble_spans(x, bubble_mask(df["glut"])) if "glut" in df else []

    fig = Figure(figsize=(16, 13), layout="constrained")
    axes = fig.subplots(3, 2, sharex=True)
    panel_capacity(axes[0, 0], df, x, spans, float(threshold))
    panel_prices(axes[0, 1], df, x, spans)
    panel_capex(axes[1, 0], df, x, spans)
    panel_tokens(axes[1, 1], df, x, spans)
    _panel_efficiency(axes[2, 0], df, x, events_df, spans)
    _panel_writedowns(axes[2, 1], df, x, spans)
    for ax in axes.flat:
        year_axis(ax)
    for ax in axes[2]:
        ax.set_xlabel(unit("year"))
    if len(x):
        axes[0, 0].set_xlim(x.min(), x.max() + 1 / 12)
    fig.suptitle(f"{title}\n{summary_line(summary)}", fontsize=13)
    return fig


COMPARE_PANELS: list[tuple[str, float, float | None]] = [
    # column (titled by its label, its y axis by its unit), divisor,
    # log scale when max/min exceeds this (None: linear)
    ("installed_capacity_h100e", MILLION, 30.0),
    ("compute_demand_h100e", MILLION, 30.0),
    ("utilization", 0.01, None),
    ("spot_price_usd_per_gpu_hour", 1.0, 10.0),
    ("capex_usd", BILLION, None),
    ("tokens_served", 1.0, 1.0),
]


def compare(frames: dict[str, pd.DataFrame], title: str) -> Figure:
    """Several runs' key series overlaid, one colour per run, to see where they part ways."""
    fig = Figure(figsize=(16, 12), layout="constrained")
    axes = fig.subplots(3, 2, sharex=True)
    colours = [f"C{i % 10}" for i in range(len(frames))]
    for ax, (column, scale, log_ratio) in zip(axes.flat, COMPARE_PANELS, strict=True):
        name = label(column)
        ax.set_title(name[0].upper() + name[1:])
        drawn: list[pd.Series] = []
        for colour, (run, df) in zip(colours, frames.items(), strict=True):
            s = series(df.sort_index(), column, scale)
            if s is None:
                continue
            s = positive(s) if log_ratio is not None else s
            ax.plot(years(df.sort_index()), s, color=colour, lw=1.5, label=run)
            drawn.append(s)
        log = False
        if not any(s.notna().any() for s in drawn):
            no_data(ax, column)
        elif log_ratio is not None and column == "tokens_served":
            ax.set_yscale("log")
            log = True
        elif log_ratio is not None:
            log = log_if_wide(ax, *drawn, ratio=log_ratio)
        if not log:
            ax.set_ylim(*((0, 105) if column == "utilization" else (0, None)))
        ax.set_ylabel(unit(column, scale) + (" (log)" if log else ""))
        year_axis(ax)
    for ax in axes[2]:
        ax.set_xlabel(unit("year"))
    handles = [ax.get_legend_handles_labels() for ax in axes.flat]
    best = max(handles, key=lambda hl: len(hl[1]))
    if best[1]:
        fig.legend(*best, loc="outside lower center", ncol=min(len(best[1]), 4), fontsize=9)
    fig.suptitle(title, fontsize=13)
    return fig
