"""The interactive page: watch an efficiency discovery ripple through the AI compute market, live.

Start it with `aibubble viz [--scenario NAME]`, or `solara run model/page/app.py --production
--no-check-version` (the scenario then comes from the environment variable
AIBUBBLE_VIZ_SCENARIO, default `baseline`; without --production the page pings solara.dev).

The page is Mesa's SolaraViz: the sidebar holds Mesa's controls (Reset, Play, Step, play and
render intervals) and the model parameters; the main area holds, as draggable cards:

- "Discover now": inject a 2x, 10x, 100x or custom discovery, open or proprietary, made by a
  chosen lab (or an independent researcher), into the running model at the current month;
  above it, where the run stands now;
- capacity vs demand with utilization, the bubble indicator, efficiency per lab with
  discovery markers, the recent event log, rental prices, tokens and token price, capex with
  GPU orders and backlog, and tables of hyperscalers and labs.

Parameters apply on Reset (Mesa's rule). A slider left where it started keeps the chosen
scenario's own value; a slider that was moved overrides it (see `VizMarket`).
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
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
from mesa.visualization import SolaraViz
from mesa.visualization.utils import force_update, update_counter

from agents import AILab
from model.config import HEADLINE, ConfigError, load_config, scenario_names
from model.experiments import plots
from model.market import AIMarketModel

SCENARIO_ENV = "AIBUBBLE_VIZ_SCENARIO"
DEFAULT_SCENARIO = "baseline"

# Discovery sizes offered by "Discover now", in x efficiency.
SIZES = {"2x": 2.0, "10x": 10.0, "100x": 100.0}
CUSTOM = "custom"
MAX_GAIN = 1e4  # DiscoveryConfig.jump_size's upper bound
INDEPENDENT = "independent researcher"

# Cards of Mesa's grid are 390 px high and about 540 px wide on a laptop screen.
FIGSIZE = (5.6, 3.9)  # inches
DPI = 90  # 504 x 351 px: the card's size, so nothing is rescaled in the browser
CARD_HEIGHT_PX = 380
EVENT_LINES = 14  # lines in the event log card
PAINT_DELAY_S = 0.1  # the views are drawn this long after a month's light updates started


# ----------------------------------------------------------------------------- the model
class VizMarket(AIMarketModel):
    """AIMarketModel as the page builds it on Reset.

    Two differences, both forced by SolaraViz:

    - The scenario is `scenario_name`, not `scenario`: Mesa's Reset passes a
      `mesa.experimental.scenarios.Scenario` object as `scenario` to any model that accepts one.
    - Sliders always send a value, so `slider_start` (the values the sliders started at) tells
      an untouched slider from a moved one: untouched ones keep the scenario's own value.

    A lock keeps "Discover now" and the views' reads out of a month that Play is stepping in
    another thread.
    """

    def __init__(
        self,
        scenario_name: str = DEFAULT_SCENARIO,
        rng: Any = None,
        jump_size: float | None = None,
        jump_month: int | None = None,
        open_publication: bool | None = None,
        demand_elasticity: float | None = None,
        forecast_optimism: float | None = None,
        n_users: int | None = None,
        slider_start: dict[str, Any] | None = None,
    ) -> None:
        self.lock = threading.RLock()
        values = {
            "jump_size": jump_size,
            "jump_month": jump_month,
            "open_publication": open_publication,
            "demand_elasticity": demand_elasticity,
            "forecast_optimism": forecast_optimism,
            "n_users": n_users,
        }
        start = slider_start or {}
        moved = {k: v for k, v in values.items() if v is not None and not _same(v, start.get(k))}
        seed, self.seed_note = parse_seed(rng)
        super().__init__(scenario=scenario_name, rng=seed, **moved)
        self.scenario_name = scenario_name
        self.moved = sorted(moved)  # headline parameters set by a slider, not by the scenario
        self._frame_cache: tuple[int, pd.DataFrame] | None = None
        self._labs_cache: tuple[int, pd.DataFrame] | None = None

    def step(self) -> None:
        with self.lock:
            super().step()

    def trigger_discovery(
        self, gain: float, is_open: bool, lab: int | None = 0, cause: str = "manual"
    ) -> None:
        with self.lock:
            super().trigger_discovery(gain, is_open, lab, cause)

    # Frames are rebuilt once a month, not once per card.
    def frame(self) -> pd.DataFrame:
        if self._frame_cache is None or self._frame_cache[0] != self.steps:
            self._frame_cache = (self.steps, self.model_frame())
        return self._frame_cache[1]

    def lab_efficiency(self) -> pd.DataFrame:
        """Efficiency multiple per month (rows) and lab index (columns)."""
        if self._labs_cache is None or self._labs_cache[0] != self.steps:
            df = self.datacollector.get_agenttype_vars_dataframe(AILab).reset_index()
            index = {lab.unique_id: lab.index for lab in self.labs}
            df["lab"] = df["AgentID"].map(index)
            wide = df.pivot_table(index="Step", columns="lab", values="efficiency")
            self._labs_cache = (self.steps, wide)
        return self._labs_cache[1]


def _same(a: Any, b: Any) -> bool:
    if b is None:
        return False
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) == bool(b)
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


def parse_seed(text: Any) -> tuple[int | None, str]:
    """The seed box's text as an integer; blank means the scenario's seed.

    Anything else also falls back to the scenario's seed, with a note the page shows.
    """
    if text is None or isinstance(text, int | np.integer):
        return (None if text is None else int(text)), ""
    raw = str(text).strip()
    if raw == "":
        return None, ""
    try:
        seed = int(raw)
    except ValueError:
        return None, f"seed '{raw}' is not a whole number: the scenario's seed is used"
    if seed < 0:
        return None, f"seed {seed} is negative: the scenario's seed is used"
    return seed, ""


def launch_scenario() -> str:
    return os.environ.get(SCENARIO_ENV, "").strip() or DEFAULT_SCENARIO


def model_params(scenario: str) -> dict[str, Any]:
    """SolaraViz controls, starting at the scenario's values. Raises ConfigError if unknown.

    Ranges cover what a person explores; they widen to hold a scenario's own value.
    """
    cfg = load_config(scenario)
    names = scenario_names()
    if scenario not in names:  # a YAML file given with --scenario
        names = [scenario, *names]

    def start(name: str) -> Any:
        section, key = HEADLINE[name].split(".")
        return getattr(getattr(cfg, section), key)

    slider_start = {name: start(name) for name in HEADLINE if name != "steps"}
    return {
        "scenario_name": {"type": "Select", "value": scenario, "values": names, "label": "Scenario"},
        "rng": {"type": "InputText", "value": str(cfg.run.seed), "label": "Seed (whole number)"},
        "jump_size": {
            "type": "SliderFloat",
            "value": float(slider_start["jump_size"]),
            "min": 1.0,
            "max": max(100.0, slider_start["jump_size"]),
            "step": 0.5,
            "label": "Jump size, x (1 = none)",
        },
        "jump_month": {
            "type": "SliderInt",
            "value": int(slider_start["jump_month"]),
            "min": 0,
            "max": max(int(cfg.run.steps), slider_start["jump_month"]),
            "step": 1,
            "label": "Jump month",
        },
        "open_publication": {
            "type": "Checkbox",
            "value": bool(slider_start["open_publication"]),
            "label": "Jump published openly",
        },
        "demand_elasticity": {
            "type": "SliderFloat",
            "value": float(slider_start["demand_elasticity"]),
            "min": 0.0,
            "max": max(3.0, slider_start["demand_elasticity"]),
            "step": 0.05,
            "label": "Demand elasticity",
        },
        "forecast_optimism": {
            "type": "SliderFloat",
            "value": float(slider_start["forecast_optimism"]),
            "min": 0.0,
            "max": max(6.0, slider_start["forecast_optimism"]),
            "step": 0.1,
            "label": "Forecast optimism",
        },
        "n_users": {
            "type": "SliderInt",
            "value": int(slider_start["n_users"]),
            "min": min(1_000, slider_start["n_users"]),
            "max": max(200_000, slider_start["n_users"]),
            "step": 1_000,
            "label": "User segments",
        },
        "slider_start": slider_start,  # fixed: not a control
    }


def build_model(scenario: str | None = None) -> VizMarket:
    """The model the page starts with: the scenario's values, as if Reset were pressed."""
    scenario = scenario or launch_scenario()
    params = model_params(scenario)
    kwargs = {k: (v["value"] if isinstance(v, dict) and "type" in v else v) for k, v in params.items()}
    return VizMarket(**kwargs)


# ----------------------------------------------------------------------------- formatting
def _qty(x: float, unit: str = "") -> str:
    """1.23M, 456k, 12.3 (with a unit after)."""
    if x is None or not np.isfinite(x):
        return "n/a"
    a = abs(x)
    for div, suffix in ((1e12, "T"), (1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"{x / div:.3g}{suffix}{(' ' + unit) if unit else ''}"
    return f"{x:.3g}{(' ' + unit) if unit else ''}"


def _usd(x: float) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    return ("-" if x < 0 else "") + "$" + _qty(abs(x))


def _pct(x: float) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{100 * x:.0f}%"


def _month(model: AIMarketModel, step: int) -> str:
    """Calendar month of a step: 'Mar 2025'."""
    start = model.config.run.start_year
    months = int(round((start - int(start)) * 12)) + step
    year = int(start) + months // 12
    return f"{('Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec').split()[months % 12]} {year}"


def effective_parameters(model: AIMarketModel) -> str:
    """One line: the headline values the running model actually uses."""
    cfg = model.config
    d = cfg.discovery
    jump = (
        f"×{d.jump_size:g} {'open' if d.open_publication else 'proprietary'} discovery "
        f"at month {d.jump_month}"
        if d.jump_size > 1
        else "no scripted discovery"
    )
    return (
        f"{jump}; demand elasticity {cfg.users.demand_elasticity:g}; "
        f"forecast optimism {cfg.hyperscalers.forecast_optimism:g}; "
        f"{cfg.users.n_segments:,} user segments; seed {model.seed}"
    )


def _png_html(fig: Figure, alt: str, month: int = 0, events: int = 0) -> str:
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


def _scroll(inner_html: str, cls: str) -> solara.Element:
    return solara.HTML(
        tag="div",
        unsafe_innerHTML=inner_html,
        style=f"max-height:{CARD_HEIGHT_PX}px;overflow:auto;font-size:12px",
        classes=[cls],
    )


# ----------------------------------------------------------------------------- figures
def _figure(
    model: VizMarket, title: str, draw: Callable[[Axes, pd.DataFrame, pd.Series, list], None]
) -> Figure:
    """One live view: calendar years on x over the whole horizon, glut months shaded."""
    df = model.frame()
    x = plots._years(df)
    spans = plots._bubble_spans(x, plots.bubble_mask(df["glut"])) if "glut" in df else []
    fig = Figure(figsize=FIGSIZE)
    ax = fig.subplots()
    draw(ax, df, x, spans)
    ax.set_title(title, fontsize=10)
    start = model.config.run.start_year
    ax.set_xlim(start, start + model.config.run.steps / 12 + 1 / 12)
    ax.axvline(float(x.iloc[-1]), color="black", lw=0.6, alpha=0.4)  # now
    ax.set_xlabel("calendar year", fontsize=8)
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
        plots._year_axis(a)
        a.tick_params(labelsize=8)
        a.yaxis.label.set_size(8)
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
        plots._panel_capacity(ax, df, x, spans, threshold)
        legend = ax.get_legend()
        if legend is not None:  # the future (right) half of the horizon is empty during a run
            legend.set_loc("lower right")

    return _figure(model, "Capacity vs compute demand, utilization", draw)


def prices_figure(model: VizMarket) -> Figure:
    return _figure(model, "GPU rental price: spot and reserved", plots._panel_prices)


def capex_figure(model: VizMarket) -> Figure:
    return _figure(model, "Capex, GPU orders and order backlog", plots._panel_capex)


def tokens_figure(model: VizMarket) -> Figure:
    return _figure(model, "Tokens served and token price", plots._panel_tokens)


def efficiency_figure(model: VizMarket) -> Figure:
    """Each lab's efficiency; the five largest labs in colour; every discovery as a marker."""
    wide = model.lab_efficiency()
    shares = {lab.index: (lab.share if lab.alive else -1.0) for lab in model.labs}
    top = sorted(shares, key=shares.get, reverse=True)[:5]
    events = model.events_frame()

    def draw(ax: Axes, df: pd.DataFrame, x: pd.Series, spans: list) -> None:
        years = plots._step_to_year(df, wide.index)
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
        frontier = plots._positive(plots._series(df, "frontier_efficiency"))
        if frontier is not None:
            ax.plot(x, frontier, color="black", lw=1.2, ls=":", label="frontier (best known)")
        plots._plain_log(ax)
        ax.set_ylabel("efficiency, x vs month 0 (log)")
        plots._shade(ax, spans)
        disc = events[events["kind"] == "discovery"] if len(events) else events
        if len(disc):
            plots._discovery_markers(
                ax,
                plots._step_to_year(df, disc["step"]),
                disc["size"].to_numpy(dtype=float),
                disc["detail"].astype(str).to_numpy(),
            )
        ax.legend(loc="lower right", fontsize=6.5, framealpha=0.85, ncols=2)

    return _figure(model, "Efficiency per lab (largest five in colour)", draw)


def bubble_figure(model: VizMarket) -> Figure:
    """The thesis' two ingredients as tracks, the glut they make, and the capex burst."""
    cfg = model.config.bubble
    df = model.frame()
    x = plots._years(df)
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
        spans = plots._bubble_spans(x, flags[key])
        top.broken_barh([(a, b - a) for a, b in spans], (row + 0.15, 0.7), color=colour, alpha=0.8)
    top.set_yticks([r + 0.5 for r in range(len(tracks))], [t[1] for t in tracks], fontsize=6.5)
    top.set_ylim(len(tracks), 0)
    top.tick_params(axis="y", length=0)
    util = pd.to_numeric(df["utilization"], errors="coerce") * 100
    bottom.plot(x, util, color="tab:orange", lw=1.5, label="utilization")
    bottom.axhline(
        100 * cfg.utilization_threshold, color="tab:orange", ls=":", lw=1, label="overcapacity below"
    )
    bottom.plot(x, drawdown * 100, color="black", lw=1.3, label="capex below its peak (12-mo.)")
    bottom.axhline(100 * cfg.capex_drawdown_threshold, color="black", ls=":", lw=1, label="burst from")
    bottom.set_ylim(0, 105)
    bottom.set_ylabel("%", fontsize=8)
    bottom.legend(loc="lower left", fontsize=6.5, framealpha=0.85, ncols=2)
    bottom.set_xlabel("calendar year", fontsize=8)
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


# ----------------------------------------------------------------------------- tables and log
def _table(headers: list[str], rows: list[list[str]], row_styles: list[str] | None = None) -> str:
    head = "".join(f'<th style="text-align:right;padding:2px 6px">{html.escape(h)}</th>' for h in headers)
    body = []
    for i, row in enumerate(rows):
        style = row_styles[i] if row_styles else ""
        cells = "".join(f'<td style="text-align:right;padding:1px 6px">{html.escape(c)}</td>' for c in row)
        body.append(f'<tr style="{style}">{cells}</tr>')
    return (
        '<table style="border-collapse:collapse;width:100%">'
        f'<thead style="position:sticky;top:0;background:#f5f5f5">{head}</thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def hyperscaler_table(model: AIMarketModel) -> str:
    headers = [
        "hyperscaler",
        "fleet H100e",
        "utilization",
        "ordered / mo.",
        "on order",
        "cash",
        "debt",
        "write-downs / mo.",
    ]
    rows = []
    for j, hs in enumerate(model.hyperscalers):
        pending, _ = model.vendor.pending(hs.unique_id)
        rows.append(
            [
                f"#{j}",
                _qty(hs.installed),
                _pct(hs.utilization),
                _qty(hs.orders),
                _qty(pending),
                _usd(hs.cash),
                _usd(hs.debt),
                _usd(hs.write_downs),
            ]
        )
    title = "<b>Hyperscalers</b> (H100e = H100-equivalent GPUs; money in USD)"
    return f"<div style='margin-bottom:4px'>{title}</div>" + _table(headers, rows)


def lab_table(model: AIMarketModel) -> str:
    headers = ["lab", "efficiency ×", "price $/Mtok", "share", "revenue / mo.", "cash", "discoveries"]
    rows, styles = [], []
    for lab in sorted(model.labs, key=lambda lab: (not lab.alive, -lab.share)):
        rows.append(
            [
                f"lab {lab.index}" + ("" if lab.alive else " (bankrupt)"),
                f"{lab.efficiency:,.3g}",
                f"{lab.price_per_mtok:.3g}",
                _pct(lab.share),
                _usd(lab.revenue),
                _usd(lab.cash),
                str(len(lab.adopted)),
            ]
        )
        styles.append("" if lab.alive else "color:#999")
    title = "<b>AI labs</b> (efficiency vs month 0; share of tokens demanded; discoveries adopted)"
    return f"<div style='margin-bottom:4px'>{title}</div>" + _table(headers, rows, styles)


ROUTINE = {"order", "cancellation", "retirement", "write_down", "funding"}
UNITS = {
    "order": "H100e",
    "cancellation": "H100e",
    "retirement": "H100e",
    "write_down": "USD",
    "funding": "USD",
    "bankruptcy": "USD",
}


def _names(model: AIMarketModel) -> dict[int, str]:
    names = {hs.unique_id: f"hyperscaler #{j}" for j, hs in enumerate(model.hyperscalers)}
    names.update({lab.unique_id: f"lab {lab.index}" for lab in model.labs})
    for arch in model.agents:
        if arch.unique_id not in names:
            where = "independent" if getattr(arch, "lab", None) is None else f"lab {arch.lab}"
            names[arch.unique_id] = f"architect {arch.unique_id} ({where})"
    return names


def event_lines(model: AIMarketModel, n: int = EVENT_LINES) -> list[tuple[int, str, str]]:
    """The story of the last months, newest first, as (step, kind, text).

    Routine events (orders, write-downs, funding...) are summed per month and kind, adoptions
    per month and discovery, so a 100x discovery and its spread stand out from the book-keeping.
    """
    rows = model.events.rows[-400:]
    names = _names(model)
    groups: dict[tuple, list[tuple]] = {}
    order: list[tuple] = []
    for row in rows:
        step, agent, _type, kind, cause, size, detail = row
        if kind in ROUTINE:
            key = (step, kind, cause)
        elif kind == "adoption":
            key = (step, kind, detail, cause)
        else:
            key = (step, kind, len(order))  # one line each
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(row)
    lines = []
    for key in reversed(order):
        items = groups[key]
        step, _agent, _type, kind, cause, size, detail = items[0]
        total = sum(r[5] for r in items)
        who = names.get(items[0][1], f"agent {items[0][1]}")
        if kind == "discovery":
            text = f"DISCOVERY ×{size:.3g} by {who} ({cause}; {detail})"
        elif kind == "adoption":
            labs = ", ".join(names.get(r[1], "?").replace("lab ", "") for r in items)
            text = f"{len(items)} lab(s) adopt ×{size:.3g} via {cause} ({detail}): lab {labs}"
        elif kind == "bankruptcy":
            text = f"BANKRUPTCY of {who}: {_usd(size)} unpaid ({detail})"
        else:
            unit = UNITS.get(kind, "")
            amount = _usd(total) if unit == "USD" else _qty(total, unit)
            agents = f"{len(items)} agents" if len(items) > 1 else who
            text = f"{kind.replace('_', ' ')}: {amount} — {agents} ({cause})"
        lines.append((int(step), kind, text))
        if len(lines) >= n:
            break
    return lines


def event_log_html(model: AIMarketModel) -> str:
    colours = {"discovery": "#c62828", "adoption": "#6a1b9a", "bankruptcy": "#c62828"}
    items = []
    for step, kind, text in event_lines(model):
        colour = colours.get(kind, "#333")
        weight = "bold" if kind in ("discovery", "bankruptcy") else "normal"
        items.append(
            f'<li style="color:{colour};font-weight:{weight}">'
            f"<span style='color:#777'>month {step} ({_month(model, step)})</span> {html.escape(text)}</li>"
        )
    body = "".join(items) or "<li>nothing yet: press Step or Play</li>"
    return (
        "<div><b>Recent events</b> (newest first; routine events summed per month)</div>"
        f'<ul class="aibubble-event-log" style="padding-left:14px;margin:4px 0">{body}</ul>'
    )


# ----------------------------------------------------------------------------- components
# Sliders show their value only while dragged; keep the value bubble visible so a reader sees
# what Reset will use.
CSS = """
.v-slider__thumb-label-container { display: block !important; }
.v-slider__thumb-label { font-size: 10px; }
.v-input__slider { margin-top: 20px !important; }
"""


def _locked(model: AIMarketModel, read: Callable[[Any], Any]) -> Any:
    """Read the model between months: Play steps in another thread than a click's redraw."""
    lock = getattr(model, "lock", None)
    if lock is None:
        return read(model)
    with lock:
        return read(model)


def _counter() -> int:
    return update_counter.get()  # re-render on every Step, Play tick and Discover


def _paint(model: AIMarketModel, figure: Callable[[Any], Figure], alt: str, cancel: threading.Event) -> str:
    """Draw one view; give up (keeping the last picture) once a newer month asked for it.

    It first lets the page's thread finish the month's light updates (status, log, tables):
    drawing competes with them for the interpreter.
    """
    if cancel.wait(PAINT_DELAY_S):
        raise solara.util.CancelledError()
    fig, month, events = _locked(model, lambda m: (figure(m), m.steps, len(m.events.rows)))
    if cancel.is_set():  # read the model between months (above), draw without holding it (below)
        raise solara.util.CancelledError()
    return _png_html(fig, alt, month, events)


def _plot_component(figure: Callable[[VizMarket], Figure], alt: str) -> Callable:
    """A live view drawn in a background thread.

    Drawing the six views takes about half a second; in the page's thread it would hold up
    every Step and Play tick. Here a Step shows at once (month, event log, tables), each
    picture follows when drawn, and while Play runs faster than drawing, the months in between
    are skipped (solara.use_thread keeps one drawing per view and drops stale ones).
    """

    @solara.component
    def View(model: VizMarket):
        tick = _counter()
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


@solara.component
def EventLogView(model: AIMarketModel):
    _counter()
    return _scroll(_locked(model, event_log_html), "aibubble-events")


@solara.component
def HyperscalerTable(model: AIMarketModel):
    _counter()
    return _scroll(_locked(model, hyperscaler_table), "aibubble-hyperscalers")


@solara.component
def LabTable(model: AIMarketModel):
    _counter()
    return _scroll(_locked(model, lab_table), "aibubble-labs")


@solara.component
def RunStatus(model: VizMarket):
    """Where the run stands: month, bubble or not, the two ingredients, what is in force."""
    _counter()
    m = model.metrics
    bubble = bool(m.get("glut"))
    with solara.Column(gap="2px", classes=["aibubble-status"]):
        colour = "#c62828" if bubble else "#2e7d32"
        solara.HTML(
            tag="div",
            unsafe_innerHTML=(
                f"<b>Month {model.steps}</b> of {model.config.run.steps} ({_month(model, model.steps)}) · "
                f"<b style='color:{colour}'>{'GLUT' if bubble else 'no glut'}</b> · "
                f"utilization {_pct(m['utilization'])} · "
                f"spot ${m['spot_price_usd_per_gpu_hour']:.2f} per H100e-hour · "
                f"frontier ×{m['frontier_efficiency']:.3g} · labs alive {m['labs_alive']}"
            ),
            classes=["aibubble-now"],
        )
        moved = ", ".join(model.moved) if model.moved else "none"
        solara.Text(
            f"{model.scenario_name}: {effective_parameters(model)} (set by sliders: {moved})",
            style={"font-size": "11px", "color": "#555"},
        )
        if model.seed_note:
            solara.Warning(model.seed_note, dense=True)
        if not model.running:
            solara.Info("The run reached its horizon: press Reset to start again.", dense=True)


def _lab_choice(model: AIMarketModel, label: str) -> int | None:
    return None if label == INDEPENDENT else int(label.split()[-1])


@solara.component
def DiscoverNow(model: VizMarket):
    """Inject a discovery into the running model at the current month.

    The choices are reactive variables, and the click reads their values then: a control's change
    takes effect when it is made, even if a view's background redraw still holds the render and
    the button's handler is from the render before.
    """
    _counter()
    size = solara.use_reactive("100x")
    custom = solara.use_reactive(1000.0)
    is_open = solara.use_reactive(True)
    lab_label = solara.use_reactive("lab 0")
    message, set_message = solara.use_state(("", 0))  # (text, id of the model it is about)

    def choices() -> list[str]:
        return [*(f"lab {lab.index}" for lab in model.labs if lab.alive), INDEPENDENT]

    def chosen_lab() -> str:
        options = choices()
        return lab_label.value if lab_label.value in options else options[0]

    def chosen_gain() -> float | None:
        return SIZES.get(size.value, custom.value)

    independent = chosen_lab() == INDEPENDENT
    gain = chosen_gain()
    valid = _valid_gain(gain)
    d = model.config.discovery

    def discover() -> None:
        label, gain = chosen_lab(), chosen_gain()
        if not _valid_gain(gain):
            return
        lab = _lab_choice(model, label)
        publish = True if lab is None else is_open.value  # independents always publish
        model.trigger_discovery(float(gain), publish, lab, cause="Discover now")
        now = model.steps
        own = f"{label} adopts it in month {now + d.implementation_lag_months}; " if lab is not None else ""
        if publish:
            rest = f"other labs in month {now + d.publication_lag_months + d.implementation_lag_months}"
        else:
            rest = f"rivals copy it at {100 * d.imitation_hazard_per_month:.0f}% a month, then implement"
        text = f"×{gain:g} {'open' if publish else 'proprietary'} discovery by {label} in month {now}: "
        set_message((text + own + rest + ".", id(model)))
        force_update()

    with solara.Column(gap="4px", classes=["aibubble-discover"]):
        RunStatus(model)
        solara.HTML(tag="div", unsafe_innerHTML="<b>Discover now</b>: a new architecture, this month")
        solara.ToggleButtonsSingle(value=size, values=[*SIZES, CUSTOM], dense=True)
        if size.value == CUSTOM:
            solara.InputFloat("custom size, x efficiency (>1)", value=custom)
        with solara.Row(gap="12px"):
            solara.Select("made by", value=chosen_lab(), values=choices(), on_value=lab_label.set)
            solara.Checkbox(
                label="published openly" if not independent else "published openly (independents always do)",
                value=True if independent else is_open.value,
                on_value=is_open.set,
                disabled=independent,
            )
        solara.Button(
            "Discover now",
            color="error",
            on_click=discover,
            disabled=not valid or not model.running,
        )
        if not valid:
            solara.Error(f"size must be above 1 and at most {MAX_GAIN:g}", dense=True)
        if message[0] and message[1] == id(model):  # not once Reset made a new model
            solara.Success(message[0], dense=True)


def _valid_gain(gain: float | None) -> bool:
    return gain is not None and 1.0 < float(gain) <= MAX_GAIN


COMPONENTS: list[tuple[Callable, int]] = [
    (DiscoverNow, 0),
    (CapacityView, 0),
    (BubbleView, 0),
    (EfficiencyView, 0),
    (EventLogView, 0),
    (PriceView, 0),
    (TokenView, 0),
    (CapexView, 0),
    (HyperscalerTable, 0),
    (LabTable, 0),
]


def _params_or_problem(scenario: str) -> tuple[dict[str, Any] | None, str | None]:
    try:
        return model_params(scenario), None
    except ConfigError as exc:
        return None, str(exc)


@solara.component
def Page(model: solara.Reactive[VizMarket] | None = None, scenario: str | None = None):
    """The page `solara run` serves. Tests may pass their own reactive model."""
    scenario = scenario or launch_scenario()
    params, problem = solara.use_memo(lambda: _params_or_problem(scenario), dependencies=[scenario])
    initial = solara.use_memo(
        lambda: build_model(scenario) if model is None and problem is None else None, dependencies=[]
    )
    own = solara.use_reactive(initial)
    if problem is not None:
        return solara.Error(f"aibubble viz: {problem}")
    current = model if model is not None else own
    with solara.Column(gap="0px") as main:
        solara.Style(CSS)
        SolaraViz(
            current,
            components=COMPONENTS,
            model_params=params,
            name=f"aibubble: when does an efficiency breakthrough burst the GPU build-out? ({scenario})",
            play_interval=50,
            render_interval=1,
        )
    return main
