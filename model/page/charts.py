"""The page's six live charts: matplotlib figures drawn in background threads, shown as PNGs.

They draw with the panels of model/experiments/plots.py, made lean enough to redraw every month.
"""

from __future__ import annotations

import base64
import html
import io
import math
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import solara
import solara.util
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

from aibubble.experiments import plots
from aibubble.page.cards import CARD_HEIGHT_PX, counter
from aibubble.page.viz_model import VizMarket, locked

FIGSIZE = (5.6, 3.9)  # inches
DPI = 90  # 504 x 351 px: the card's size, so nothing is rescaled in the browser
PAINT_DELAY_S = 0.1  # the views are drawn this long after a month's light updates started


# ----------------------------------------------------------------------------- figures
def _figure(
    model: VizMarket, title: str, draw: Callable[[Axes, pd.DataFrame, pd.Series, list], None]
) -> Figure:
    """One live view: calendar years on x over the whole horizon, glut months shaded."""
    df = model.frame()
    x = plots.years(df)
    spans = plots.bubble_spans(x, plots.bubble_mask(df["glut"])) if "glut" in df else []
    fig = Figure(figsize=FIGSIZE)
    ax = fig.subplots()
    draw(ax, df, x, spans)
    ax.set_title(title, fontsize=10)
    start = model.config.run.start_year
    ax.set_xlim(start, start + model.config.run.steps / 12 + 1 / 12)
    ax.axvline(float(x.iloc[-1]), color="black", lw=0.6, alpha=0.4)  # now
    ax.set_xlabel(plots.unit("year"), fontsize=8)
    _lean(fig)
    return fig


SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _log_label(v: float, _pos: Any = None) -> str:
    """0.5, 3, 1000 written out; 10¹⁷ beyond (Unicode, not mathtext: mathtext is slow)."""
    if v <= 0:
        return ""
    if 1e-3 <= v < 1e4:
        return f"{v:g}"
    exponent = math.floor(math.log10(v) + 1e-9)
    mantissa = v / 10**exponent
    head = "10" if abs(mantissa - 1) < 1e-6 else f"{mantissa:g}×10"
    return head + str(exponent).translate(SUPERSCRIPT)


def _lean(fig: Figure) -> None:
    """Cheap to redraw every month: no layout engine, no minor ticks on log axes, small labels.

    A redraw of the six views then costs about half a second on two cores instead of over one.
    """
    twin = len(fig.axes) > 1 and fig.axes[0].get_position().bounds == fig.axes[-1].get_position().bounds
    for a in fig.axes:
        plots.year_axis(a)
        a.tick_params(labelsize=8)
        a.yaxis.label.set_fontsize(8)
        if a.get_yscale() == "log":
            lo, hi = a.get_ylim()
            few_decades = lo > 0 and hi / lo < 1e3
            a.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5) if few_decades else (1,)))
            a.yaxis.set_major_formatter(FuncFormatter(_log_label))
            a.yaxis.set_minor_locator(NullLocator())
    fig.subplots_adjust(left=0.12, right=0.87 if twin else 0.97, top=0.92, bottom=0.12, hspace=0.08)


def capacity_figure(model: VizMarket) -> Figure:
    threshold = model.config.bubble.utilization_threshold

    def draw(ax: Axes, df: pd.DataFrame, x: pd.Series, spans: list) -> None:
        plots.panel_capacity(ax, df, x, spans, threshold)
        legend = ax.get_legend()
        if legend is not None:  # the future (right) half of the horizon is empty during a run
            legend.set_loc("lower right")

    return _figure(model, "Capacity vs compute demand, utilization", draw)


def prices_figure(model: VizMarket) -> Figure:
    return _figure(model, "GPU rental price: spot and reserved", plots.panel_prices)


def capex_figure(model: VizMarket) -> Figure:
    return _figure(model, "Capex, GPU orders and order backlog", plots.panel_capex)


def tokens_figure(model: VizMarket) -> Figure:
    return _figure(model, "Tokens served and token price", plots.panel_tokens)


def efficiency_figure(model: VizMarket) -> Figure:
    """Each lab's efficiency; the five largest labs in colour; every discovery as a marker."""
    wide = model.lab_efficiency()
    shares = {lab.index: (lab.share if lab.alive else -1.0) for lab in model.labs}
    top = sorted(shares, key=shares.__getitem__, reverse=True)[:5]
    events = model.events_frame()

    def draw(ax: Axes, df: pd.DataFrame, x: pd.Series, spans: list) -> None:
        years = plots.step_to_year(df, wide.index)
        others = [lab for lab in wide.columns if lab not in top]
        if others:  # one line with gaps: one artist instead of fifteen
            gap = np.full(1, np.nan)
            xs = np.concatenate([np.concatenate([years, gap]) for _ in others])
            ys = np.concatenate([np.concatenate([wide[lab].to_numpy(float), gap]) for lab in others])
            ax.plot(xs, ys, color="grey", lw=0.7, alpha=0.5, label="other labs")
        for rank, lab in enumerate(top):
            if lab in wide.columns:
                alive = "" if model.labs[lab].alive else " (bankrupt)"
                ax.plot(years, wide[lab], color=f"C{rank}", lw=1.5, label=f"lab {lab}{alive}")
        frontier = plots.positive(plots.series(df, "frontier_efficiency"))
        if frontier is not None:
            ax.plot(x, frontier, color="black", lw=1.2, ls=":", label="frontier (best known)")
        plots.plain_log(ax)
        ax.set_ylabel("efficiency, x vs month 0 (log)")
        plots.shade(ax, spans)
        disc = events[events["kind"] == "discovery"] if len(events) else events
        if len(disc):
            plots.discovery_markers(
                ax,
                plots.step_to_year(df, disc["step"]),
                disc["size"].to_numpy(dtype=float),
                disc["detail"].astype(str).to_numpy(),
            )
        ax.legend(loc="lower right", fontsize=6.5, framealpha=0.85, ncols=2)

    return _figure(model, "Efficiency per lab (largest five in colour)", draw)


def bubble_figure(model: VizMarket) -> Figure:
    """The thesis' two ingredients as tracks, the glut they make, and the capex burst."""
    cfg = model.config.bubble
    df = model.frame()
    x = plots.years(df)
    fig = Figure(figsize=FIGSIZE)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[1.1, 2])
    drawdown = pd.to_numeric(df["capex_drawdown"], errors="coerce").fillna(0)
    tracks = [
        ("overcapacity", f"overcapacity\n(util. < {100 * cfg.utilization_threshold:.0f}%)", "tab:orange"),
        ("weak_demand", "weak demand\n(below capacity)", "tab:blue"),
        ("glut", f"GLUT\n(both; episode {cfg.persistence_months}+ mo.)", "tab:red"),
        ("burst", f"capex burst\n(≥{100 * cfg.capex_drawdown_threshold:.0f}% off peak)", "black"),
    ]
    flags = {
        "overcapacity": df["overcapacity"].astype(bool),
        "weak_demand": df["weak_demand"].astype(bool),
        "glut": df["glut"].astype(bool),
        "burst": drawdown >= cfg.capex_drawdown_threshold,
    }
    for row, (key, _label, colour) in enumerate(tracks):
        spans = plots.bubble_spans(x, flags[key])
        top.broken_barh([(a, b - a) for a, b in spans], (row + 0.15, 0.7), color=colour, alpha=0.8)
    top.set_yticks([r + 0.5 for r in range(len(tracks))], [t[1] for t in tracks], fontsize=6.5)
    top.set_ylim(len(tracks), 0)
    top.tick_params(axis="y", length=0)
    util = pd.to_numeric(df["utilization"], errors="coerce") * 100
    bottom.plot(x, util, color="tab:orange", lw=1.5, label=plots.label("utilization"))
    bottom.axhline(
        100 * cfg.utilization_threshold, color="tab:orange", ls=":", lw=1, label="overcapacity below"
    )
    bottom.plot(x, drawdown * 100, color="black", lw=1.3, label="capex below its peak (12-mo.)")
    bottom.axhline(100 * cfg.capex_drawdown_threshold, color="black", ls=":", lw=1, label="burst from")
    bottom.set_ylim(0, 105)
    bottom.set_ylabel("%", fontsize=8)
    bottom.legend(loc="lower left", fontsize=6.5, framealpha=0.85, ncols=2)
    bottom.set_xlabel(plots.unit("year"), fontsize=8)
    glut = flags["glut"].to_numpy(bool)
    now = bool(glut[-1])
    months = len(glut) - int(np.flatnonzero(~glut)[-1]) - 1 if (~glut).any() else len(glut)
    state = f"GLUT NOW ({months} months of both)" if now else "no glut now"
    top.set_title(f"Bubble indicator: {state}", fontsize=10, color="tab:red" if now else "black")
    start = model.config.run.start_year
    for a in (top, bottom):
        a.set_xlim(start, start + model.config.run.steps / 12 + 1 / 12)
        a.axvline(float(x.iloc[-1]), color="black", lw=0.6, alpha=0.4)
    _lean(fig)
    fig.subplots_adjust(left=0.2)  # room for the track names
    return fig


def png_html(fig: Figure, alt: str, month: int = 0, events: int = 0) -> str:
    """A figure as an <img> that fits its card, with alt text and the state it shows.

    data-month and data-events tell which month (and how many logged events) the picture
    shows: drawing lags the model by a moment, and tests wait on them.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (
        f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}" '
        f'data-month="{month}" data-events="{events}" '
        f'style="max-width:100%;max-height:{CARD_HEIGHT_PX}px;display:block;margin:auto">'
    )


# ----------------------------------------------------------------------------- views
def _paint(model: VizMarket, figure: Callable[[Any], Figure], alt: str, cancel: threading.Event) -> str:
    """Draw one view; give up (keeping the last picture) once a newer month asked for it.

    It first lets the page's thread finish the month's light updates (status, log, tables):
    drawing competes with them for the interpreter.
    """
    if cancel.wait(PAINT_DELAY_S):
        raise solara.util.CancelledError()
    fig, month, events = locked(model, lambda m: (figure(m), m.steps, len(m.events.rows)))
    if cancel.is_set():  # read the model between months (above), draw without holding it (below)
        raise solara.util.CancelledError()
    return png_html(fig, alt, month, events)


def _plot_component(figure: Callable[[VizMarket], Figure], alt: str) -> Callable:
    """A live view drawn in a background thread.

    Drawing the six views takes about half a second; in the page's thread it would hold up
    every Step and Play tick. Here a Step shows at once (month, event log, tables), each
    picture follows when drawn, and while Play runs faster than drawing, the months in between
    are skipped (solara.use_thread keeps one drawing per view and drops stale ones).
    """

    @solara.component
    def View(model: VizMarket):
        tick = counter()
        drawn = solara.use_thread(
            lambda cancel: _paint(model, figure, alt, cancel),
            dependencies=[model, tick, model.steps],
            intrusive_cancel=False,  # a per-line trace would slow matplotlib several times over
        )
        picture = drawn.value or (
            f'<div style="height:{CARD_HEIGHT_PX - 30}px;color:#999;padding:12px">drawing the {alt}…</div>'
        )
        with solara.Column(gap="0px") as card:
            if drawn.error is not None:  # say so rather than keep showing an old picture
                solara.Error(f"could not draw the {alt}: {drawn.error}", dense=True)
            solara.HTML(tag="div", unsafe_innerHTML=picture, classes=["aibubble-plot"])
        return card

    View.__name__ = figure.__name__.replace("_figure", "").title() + "View"
    return View


CapacityView = _plot_component(capacity_figure, "capacity vs compute demand and utilization")
BubbleView = _plot_component(bubble_figure, "bubble indicator")
EfficiencyView = _plot_component(efficiency_figure, "efficiency per lab with discoveries")
PriceView = _plot_component(prices_figure, "spot and reserved rental price")
TokenView = _plot_component(tokens_figure, "tokens served and token price")
CapexView = _plot_component(capex_figure, "capex, GPU orders and backlog")
