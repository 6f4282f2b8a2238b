"""The page's six live charts: Vega-Lite specs drawn in the browser, their data replaced each month.

A chart is two parts (see vega.py): its spec, a Vega-Lite dict built once per shape (a log axis
or not, the overlay or not) and cached, and the month's data, read straight from the data
collector's lists. A Step therefore sends a few kilobytes per chart and the browser redraws
them in milliseconds, where drawing six matplotlib figures on the server took over a second.

They show what the run folder's dashboard (model/experiments/plots.py) shows, with the series'
declared labels and units: glut months shaded, calendar years on x over the whole horizon, a
line at the current month. After "Discover now", the capacity, price and capex charts also
draw the same run without the discovery (`VizMarket.twin`), dashed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import solara
from mesa.visualization.utils import update_counter

from aibubble.experiments import plots
from aibubble.measures import BILLION
from aibubble.page import vega
from aibubble.page.vega import VegaChart, column
from aibubble.page.viz_model import VizMarket, locked

# px: plot areas that, with their axes and title, fill a card of Mesa's grid (~500 x 350)
PLOT_WIDTH, PLOT_WIDTH_TWO_AXES, PLOT_HEIGHT = 430, 385, 280
AXIS_ROOM = 64  # px beside the plot for an axis' labels (at most ~6 characters) and title
MILLION = plots.MILLION
TWIN = "without the discovery (same seed)"
SHADE = "#f6d5d5"  # glut months: matplotlib's tab:red at 10% on white, opaque so a legend can show it
C = {  # matplotlib's tab10, as the dashboard draws
    "blue": "#1f77b4",
    "orange": "#ff7f0e",
    "green": "#2ca02c",
    "red": "#d62728",
    "purple": "#9467bd",
    "brown": "#8c564b",
    "grey": "#7f7f7f",
    "cyan": "#17becf",
    "black": "#000000",
}
SOLID, DASHED, DOTTED, TWIN_DASH = (1, 0), (5, 3), (2, 2), (8, 4)
LAB_COLOURS = [C["blue"], C["orange"], C["green"], C["red"], C["purple"]]
TOP_LABS = 5
LEFT_TICKS, RIGHT_TICKS = "ticks_left", "ticks_right"  # signals: tick values of log axes
LAB_SERIES = "lab_series"  # signal: the efficiency chart's legend, largest lab first
OTHER_LABS, FRONTIER = "other labs", "frontier (best known)"

# Log axes read 0.5, 3, 1000 written out, 2×10¹⁷ beyond (like the dashboard's plain_log).
_EXPONENT = "floor(log(datum.value) / LN10 + 1e-9)"
_MANTISSA = f"datum.value / pow(10, {_EXPONENT})"
_SUPERSCRIPT = f"format({_EXPONENT}, 'd')"
for _digit, _sup in zip("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹", strict=True):
    _SUPERSCRIPT = f"replace({_SUPERSCRIPT}, regexp('{_digit}', 'g'), '{_sup}')"
LOG_LABEL = (
    "datum.value >= 0.001 && datum.value < 10000 ? format(datum.value, '~g') : "
    f"(abs({_MANTISSA} - 1) < 1e-6 ? '' : format({_MANTISSA}, '~g') + '×') + '10' + {_SUPERSCRIPT}"
)


@dataclass(frozen=True)
class Spec:
    """A chart's Vega-Lite spec, its JSON and its shape (a hash of it), made once per shape."""

    value: dict[str, Any]
    text: str
    shape: str


@dataclass(frozen=True)
class Chart:
    """What a chart card shows this month: its spec and its data sources, each as columns;
    `signals` set the spec's parameters."""

    spec: Spec
    datasets: dict[str, dict[str, list[Any]]]
    signals: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------- spec pieces
# Specs are plain Vega-Lite dicts: Altair deep-copies a chart at every method, which costs about
# a second per spec, and a spec is built while the page waits (the overlay after "Discover
# now", a log axis once a series spans a decade). tests/test_app.py validates every shape
# against the Vega-Lite schema the browser runs.
LEGEND = {
    "title": None,
    "fillColor": "rgba(255,255,255,0.85)",
    "padding": 3,
    "rowPadding": 1,
    "columnPadding": 8,
    "labelFontSize": 9,
    "labelLimit": 260,
    "symbolType": "stroke",
    "symbolStrokeWidth": 2,
    "symbolSize": 180,
    "symbolOpacity": 1,  # not the area's 0.25
}


@dataclass(frozen=True)
class Key:
    """A chart's legend: every series' label, colour and dash, in the order listed.

    Each layer names its series (`layer`), and colour and dash are encoded from that name with
    the same scales everywhere, so the chart has one legend that shows each line as drawn.
    """

    entries: tuple[tuple[str, str, tuple[int, int]], ...]
    orient: str = "top-left"
    columns: int = 1

    def layer(
        self, label: str, mark: dict[str, Any], encoding: dict[str, Any], data: str | None = "frame"
    ) -> dict[str, Any]:
        """A layer drawing the series `label` from the named data source (None: one empty row,
        for a rule at a fixed value); areas and bands take no dash."""
        labels = [e[0] for e in self.entries]
        legend = {**LEGEND, "orient": self.orient, "columns": self.columns}
        encoding = {
            **encoding,
            "color": {
                "field": "series",
                "type": "nominal",
                "scale": {"domain": labels, "range": [e[1] for e in self.entries]},
                "legend": legend,
            },
        }
        if mark["type"] in ("line", "rule"):
            encoding["strokeDash"] = {
                "field": "series",
                "type": "nominal",
                "scale": {"domain": labels, "range": [list(e[2]) for e in self.entries]},
                "legend": legend,
            }
        return {
            "data": {"name": data} if data else {"values": [{}]},
            "transform": [{"calculate": json.dumps(label), "as": "series"}],
            "mark": mark,
            "encoding": encoding,
        }


def _x(start: float, end: float, name: str = "year", axis: bool = True) -> dict[str, Any]:
    """Calendar years over the whole horizon, so a month's new data never moves the axis."""
    return {
        "field": name,
        "type": "quantitative",
        "scale": {"domain": [start, end], "nice": False, "zero": False},
        "axis": {"title": plots.unit("year"), "format": "d", "tickMinStep": 1} if axis else None,
    }


def _y(name: str, title: str, ticks: str | None = None, right: bool = False, **scale: Any) -> dict[str, Any]:
    """A y axis; with `ticks`, a log axis whose tick values are the signal of that name (see
    `log_ticks`: Vega would put a tick at every 1-9 multiple)."""
    axis: dict[str, Any] = {
        "title": title + (" (log)" if ticks else ""),
        "orient": "right" if right else "left",
        "grid": not right,
    }
    if ticks:
        axis.update(labelExpr=LOG_LABEL, values={"expr": ticks})
    return {
        "field": name,
        "type": "quantitative",
        "scale": {"type": "log", **scale} if ticks else scale,
        "axis": axis,
    }


def log_ticks(*drawn: np.ndarray) -> list[float]:
    """Ticks of a log axis over the values drawn: every decade, with 2 and 5 in between when they
    span under three decades (the dashboard's LogLocator); the axis spans whole decades."""
    values = np.concatenate([d[np.isfinite(d) & (d > 0)] for d in drawn])
    if not values.size:
        return [1.0, 10.0]
    lo = math.floor(math.log10(values.min()) + 1e-9)
    hi = max(math.ceil(math.log10(values.max()) - 1e-9), lo + 1)
    subs = (1, 2, 5) if values.max() / values.min() < 1e3 else (1,)
    return [float(s * 10.0**e) for e in range(lo, hi + 1) for s in subs if e < hi or s == 1]


def _line(width: float, **props: Any) -> dict[str, Any]:
    return {"type": "line", "strokeWidth": width, **props}


def _shading(start: float, end: float, key: Key | None = None) -> dict[str, Any]:
    """Glut months as light red bands behind the lines, the full height of the chart."""
    mark = {"type": "rect", "color": SHADE}
    encoding = {"x": _x(start, end, "start"), "x2": {"field": "end"}}
    if key:
        return key.layer("glut months", mark, encoding, "spans")
    return {"data": {"name": "spans"}, "mark": mark, "encoding": encoding}


def _now(start: float, end: float, data: str = "frame") -> dict[str, Any]:
    """A thin line at the month the run has reached."""
    x = {**_x(start, end), "aggregate": "max"}
    return {
        "data": {"name": data},
        "mark": {"type": "rule", "color": "black", "opacity": 0.4, "strokeWidth": 0.8},
        "encoding": {"x": x},
    }


def _two_axes(left: list[dict[str, Any]], right: list[dict[str, Any]]) -> dict[str, Any]:
    return {"layer": [{"layer": left}, {"layer": right}], "resolve": {"scale": {"y": "independent"}}}


def _spec(
    chart: dict[str, Any],
    title: str | dict[str, Any],
    description: str,
    ticks: tuple[str | None, ...] = (),
    axes: int = 0,
) -> Spec:
    """A whole spec: `chart` with its title, a parameter for each log axis' `ticks` (set by the
    month's signals) and `usermeta.shape`, which names the spec so that the browser knows which
    spec an update is for.

    A chart with one or two y `axes` gets a plot area that fills a card, with fixed room around
    it for the title and axes: Vega then never lays it out again as labels change width
    (autosize "fit" lays a chart out twice on every update, and "pad" keeps the room its first
    labels needed, clipping wider ones later). With `axes=0` the parts are sized.
    """
    spec = {
        **chart,
        "title": {"text": title, "fontSize": 12} if isinstance(title, str) else title,
        "description": description,
        "config": {"axis": {"labelFontSize": 9, "titleFontSize": 9}, "view": {"stroke": None}},
    }
    params = [{"name": name, "value": [1, 10]} for name in ticks if name]
    if params:
        spec["params"] = [*spec.get("params", []), *params]
    if axes:
        spec.update(
            width=PLOT_WIDTH if axes == 1 else PLOT_WIDTH_TWO_AXES,
            height=PLOT_HEIGHT,
            autosize={"type": "none"},
            padding={"left": AXIS_ROOM, "right": AXIS_ROOM if axes == 2 else 12, "top": 26, "bottom": 38},
        )
    shape = hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    spec["usermeta"] = {"shape": shape}
    return Spec(spec, vega.text(spec), shape)


# ----------------------------------------------------------------------------- specs, per shape
@functools.lru_cache(maxsize=32)
def capacity_spec(start: float, end: float, threshold: float, log: bool, twin: bool) -> Spec:
    util = plots.label("utilization")
    capacity, demand, used = (
        plots.label(name)
        for name in ("installed_capacity_h100e", "compute_demand_h100e", "compute_used_h100e")
    )
    rule = f"glut threshold: {100 * threshold:.0f}% {util}"
    key = Key(
        (
            (capacity, C["black"], SOLID),
            (demand, C["blue"], SOLID),
            (used, C["green"], SOLID),
            *([(TWIN, C["black"], TWIN_DASH)] if twin else []),
            (f"{util} (right)", C["orange"], SOLID),
            (rule, C["red"], DOTTED),
            ("glut months", SHADE, SOLID),
        ),
        orient="bottom-right",
    )
    x = _x(start, end)
    title = plots.unit("installed_capacity_h100e", MILLION)
    ticks = LEFT_TICKS if log else None
    area = {"x": x, "y": _y("used", title, ticks)}
    if log:  # a log axis has no zero: the area stands on a floor
        area["y2"] = {"field": "floor"}
    left = [
        _shading(start, end, key),
        key.layer(used, {"type": "area", "color": C["green"], "opacity": 0.25}, area),
        key.layer(capacity, _line(2), {"x": x, "y": _y("capacity", title, ticks)}),
        key.layer(demand, _line(1.6), {"x": x, "y": _y("demand", title, ticks)}),
    ]
    if twin:
        left.append(key.layer(TWIN, _line(1.4), {"x": x, "y": _y("capacity", title, ticks)}, "twin"))
    right_title = f"{util}, {plots.unit('utilization', 0.01)}"
    right = [
        key.layer(
            f"{util} (right)", _line(1), {"x": x, "y": _y("util", right_title, right=True, domain=[0, 105])}
        ),
        key.layer(rule, {"type": "rule", "strokeWidth": 1.2}, {"y": {"datum": 100 * threshold}}, None),
        _now(start, end),
    ]
    return _spec(
        _two_axes(left, right),
        "Capacity vs compute demand, utilization",
        "capacity vs compute demand and utilization",
        (ticks,),
        axes=2,
    )


@functools.lru_cache(maxsize=32)
def prices_spec(start: float, end: float, log: bool, twin: bool) -> Spec:
    spot, reserved = "spot", "reserved (average contract)"
    key = Key(
        (
            (spot, C["red"], SOLID),
            (reserved, C["purple"], DASHED),
            *([(TWIN, C["red"], TWIN_DASH)] if twin else []),
        ),
        orient="top-right",
    )
    x = _x(start, end)
    title = plots.unit("spot_price_usd_per_gpu_hour")
    ticks = LEFT_TICKS if log else None
    layers = [
        _shading(start, end),
        key.layer(spot, _line(1.6), {"x": x, "y": _y("spot", title, ticks)}),
        key.layer(reserved, _line(1.6), {"x": x, "y": _y("reserved", title, ticks)}),
    ]
    if twin:
        layers.append(key.layer(TWIN, _line(1.4), {"x": x, "y": _y("spot", title, ticks)}, "twin"))
    layers.append(_now(start, end))
    title = "GPU rental price: spot and reserved"
    return _spec({"layer": layers}, title, "spot and reserved rental price", (ticks,), axes=1)


@functools.lru_cache(maxsize=32)
def capex_spec(start: float, end: float, cancellations: bool, twin: bool) -> Spec:
    capex = plots.label("capex_usd")
    orders = f"{plots.label('gpu_orders_h100e')} (right)"
    backlog, cancelled = "order backlog (right)", "cancellations (right)"
    key = Key(
        (
            (capex, C["grey"], SOLID),
            *([(TWIN, "#404040", TWIN_DASH)] if twin else []),
            (orders, C["blue"], SOLID),
            (backlog, C["cyan"], DASHED),
            *([(cancelled, C["red"], SOLID)] if cancellations else []),
        ),
        orient="top-right",
    )
    x = _x(start, end)
    title = f"{capex}, {plots.unit('capex_usd', BILLION)}"
    left = [
        _shading(start, end),
        key.layer(
            capex, {"type": "area", "color": C["grey"], "opacity": 0.35}, {"x": x, "y": _y("capex", title)}
        ),
    ]
    if twin:
        left.append(key.layer(TWIN, _line(1.4), {"x": x, "y": _y("capex", title)}, "twin"))
    right_title = "orders per month / backlog, million H100e"
    right = [
        key.layer(orders, _line(1.3), {"x": x, "y": _y("orders", right_title, right=True)}),
        key.layer(backlog, _line(1.3), {"x": x, "y": _y("backlog", right_title, right=True)}),
    ]
    if cancellations:
        right.append(
            key.layer(cancelled, _line(1), {"x": x, "y": _y("cancellations", right_title, right=True)})
        )
    right.append(_now(start, end))
    title = "Capex, GPU orders and order backlog"
    return _spec(_two_axes(left, right), title, "capex, GPU orders and backlog", axes=2)


@functools.lru_cache(maxsize=32)
def tokens_spec(start: float, end: float, demanded: bool) -> Spec:
    served, wanted = plots.label("tokens_served"), plots.label("tokens_demanded")
    price = f"{plots.label('token_price_usd_per_mtok')} (right)"
    key = Key(
        (
            (served, C["green"], SOLID),
            *([(wanted, C["green"], DOTTED)] if demanded else []),
            (price, C["brown"], DASHED),
        ),
        orient="top-right",
    )
    x = _x(start, end)
    title = plots.unit("tokens_served")
    left = [
        _shading(start, end),
        key.layer(served, _line(1.8), {"x": x, "y": _y("served", title, LEFT_TICKS)}),
    ]
    if demanded:
        left.append(key.layer(wanted, _line(1), {"x": x, "y": _y("demanded", title, LEFT_TICKS)}))
    price_axis = _y("price", plots.unit("token_price_usd_per_mtok"), RIGHT_TICKS, right=True)
    right = [key.layer(price, _line(1.4), {"x": x, "y": price_axis}), _now(start, end)]
    title = "Tokens served and token price"
    return _spec(
        _two_axes(left, right),
        title,
        "tokens served and token price",
        (LEFT_TICKS, RIGHT_TICKS),
        axes=2,
    )


@functools.lru_cache(maxsize=32)
def efficiency_spec(start: float, end: float, labs: int, top: int) -> Spec:
    """A line per lab (`labs` of them, `top` in colour) and the frontier, from long rows
    (made in Python: folding wide columns in the browser costs ~30 ms a month at 10 years)."""
    x = _x(start, end)
    colours = LAB_COLOURS[:top] + ([C["grey"]] if labs > top else []) + [C["black"]]
    lines = {
        "data": {"name": "labs"},
        "transform": [{"filter": "isValid(datum.value) && datum.value > 0"}],
        "mark": {"type": "line"},
        "encoding": {
            "x": x,
            "y": _y("value", "efficiency, x vs month 0", LEFT_TICKS),
            "detail": {"field": "key", "type": "nominal"},
            "color": {
                "field": "series",
                "type": "nominal",
                # the legend's order, set each month: sorting by a field costs ~0.1 s a month
                "scale": {"domain": {"expr": LAB_SERIES}, "range": colours},
                "legend": {**LEGEND, "orient": "bottom-right", "columns": 2, "labelLimit": 160},
            },
            "strokeWidth": {"field": "width", "type": "quantitative", "scale": None},
            "strokeDash": {"condition": {"test": "datum.key == -1", "value": [2, 2]}, "value": [1, 0]},
            "opacity": {"condition": {"test": f"datum.series == '{OTHER_LABS}'", "value": 0.5}, "value": 1.0},
        },
    }
    kinds = {
        "field": "kind",
        "type": "nominal",
        "scale": {"domain": ["discovery ≥ 2x", "discovery < 2x"], "range": [C["red"], C["grey"]]},
    }
    markers = [
        {
            "data": {"name": "disc"},
            "mark": {"type": "rule"},
            "encoding": {
                "x": x,
                "color": {
                    **kinds,
                    "legend": {
                        **LEGEND,
                        "title": "discoveries (dashed: proprietary)",
                        "titleFontSize": 9,
                        "titleFontWeight": "normal",
                        "orient": "bottom-right",
                    },
                },
                "strokeWidth": {"field": "width", "type": "quantitative", "scale": None},
                "opacity": {"field": "alpha", "type": "quantitative", "scale": None},
                "strokeDash": {"condition": {"test": "datum.proprietary", "value": [5, 3]}, "value": [1, 0]},
            },
        },
        {
            "data": {"name": "disc"},
            "transform": [{"filter": "datum.text != ''"}],
            "mark": {"type": "text", "align": "left", "dx": 2, "fontSize": 9},
            "encoding": {
                "x": x,
                "y": {"field": "dy", "type": "quantitative", "scale": None},
                "text": {"field": "text", "type": "nominal"},
                "color": kinds,  # the rules' legend names them
            },
        },
    ]
    chart = {
        "layer": [{"layer": [_shading(start, end), lines, _now(start, end, "labs")]}, {"layer": markers}],
        "resolve": {
            "scale": {"color": "independent", "strokeDash": "independent", "strokeWidth": "independent"}
        },
    }
    chart["params"] = [{"name": LAB_SERIES, "value": []}]
    title = "Efficiency per lab (largest five in colour)"
    return _spec(chart, title, "efficiency per lab with discoveries", (LEFT_TICKS,), axes=1)


BUBBLE_TRACKS = ("overcapacity", "weak_demand", "glut", "burst")


@functools.lru_cache(maxsize=32)
def bubble_spec(start: float, end: float, utilization: float, drawdown: float, persistence: int) -> Spec:
    """The thesis' two ingredients as tracks, the glut they make, and the capex burst; the title
    says whether the run is in a glut now (signals `state` and `glut`)."""
    tracks = list(bubble_track_labels(utilization, drawdown, persistence))
    top = {
        "layer": [
            {
                "data": {"name": "tracks"},
                "mark": {"type": "rect", "opacity": 0.8},
                "encoding": {
                    "x": _x(start, end, "start", axis=False),
                    "x2": {"field": "end"},
                    "y": {
                        "field": "track",
                        "type": "nominal",
                        "scale": {"domain": tracks, "paddingInner": 0.3},
                        "axis": {
                            "title": None,
                            "labelExpr": "split(datum.label, '|')",
                            "labelFontSize": 8,
                            "ticks": False,
                        },
                    },
                    "color": {
                        "field": "track",
                        "type": "nominal",
                        "scale": {"domain": tracks, "range": [C["orange"], C["blue"], C["red"], C["black"]]},
                        "legend": None,
                    },
                },
            },
            _now(start, end),
        ],
        "width": 380,
        "height": 86,
    }
    util = plots.label("utilization")
    peak = "capex below its peak (12-mo.)"
    key = Key(
        (
            (util, C["orange"], SOLID),
            ("overcapacity below", C["orange"], DOTTED),
            (peak, C["black"], SOLID),
            ("burst from", C["black"], DOTTED),
        ),
        orient="bottom-right",
        columns=2,
    )
    x = _x(start, end)
    rule = {"type": "rule", "strokeWidth": 1}
    bottom = {
        "layer": [
            key.layer(util, _line(1.5), {"x": x, "y": _y("util", "%", domain=[0, 105])}),
            key.layer("overcapacity below", rule, {"y": {"datum": 100 * utilization}}, None),
            key.layer(peak, _line(1.3), {"x": x, "y": _y("drawdown", "%", domain=[0, 105])}),
            key.layer("burst from", rule, {"y": {"datum": 100 * drawdown}}, None),
            _now(start, end),
        ],
        "width": 380,
        "height": 178,
    }
    chart = {
        "vconcat": [top, bottom],
        "spacing": 4,
        "params": [{"name": "state", "value": "no glut now"}, {"name": "glut", "value": False}],
        "resolve": {"scale": {"x": "shared", "color": "independent", "strokeDash": "independent"}},
    }
    title = {
        "text": {"expr": "'Bubble indicator: ' + state"},
        "color": {"expr": f"glut ? '{C['red']}' : 'black'"},
        "fontSize": 12,
        "anchor": "middle",
    }
    return _spec(chart, title, "bubble indicator")


def bubble_track_labels(utilization: float, drawdown: float, persistence: int) -> tuple[str, ...]:
    """The tracks' names, lines split at '|'."""
    return (
        f"overcapacity|(util. < {100 * utilization:.0f}%)",
        "weak demand|(below capacity)",
        f"GLUT|(both; episode {persistence}+ mo.)",
        f"capex burst|(≥{100 * drawdown:.0f}% off peak)",
    )


# ----------------------------------------------------------------------------- the month's data
def _series(model: Any, name: str, scale: float = 1.0, positive: bool = False) -> np.ndarray:
    """A collected model series so far, divided by `scale`; with `positive`, what a log axis can
    show (zeros and negatives become gaps). Read from the collector's lists: building the whole
    model frame costs more than all the charts' data together."""
    values = np.asarray(model.datacollector.model_vars[name], dtype=float) / scale
    return np.where(values > 0, values, np.nan) if positive else values


def _spans(years: np.ndarray, flags: np.ndarray) -> dict[str, list[Any]]:
    """Runs of flagged months as (start, end) years, each month a twelfth wide (as
    plots.bubble_spans finds them, with numpy: five charts ask for them every month)."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    first, after = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return {"start": column(years[first]), "end": column(years[after - 1] + 1 / 12)}


def _wide(*drawn: np.ndarray, ratio: float) -> bool:
    """Log scale when the values span more than `ratio` (plots._log_if_wide's rule)."""
    values = np.concatenate([d[np.isfinite(d) & (d > 0)] for d in drawn])
    return bool(values.size) and float(values.max()) > ratio * float(values.min())


def _horizon(model: VizMarket) -> tuple[float, float]:
    start = float(model.config.run.start_year)
    return start, start + model.config.run.steps / 12 + 1 / 12


def _frame(years: np.ndarray, **values: np.ndarray) -> dict[str, list[Any]]:
    return {"year": column(years), **{k: column(v) for k, v in values.items()}}


def capacity_chart(model: VizMarket) -> Chart:
    years = _series(model, "year")
    capacity = _series(model, "installed_capacity_h100e", MILLION, positive=True)
    log = _wide(capacity, ratio=30.0)
    used = _series(model, "compute_used_h100e", MILLION, positive=log)
    frame = {
        "capacity": capacity,
        "demand": _series(model, "compute_demand_h100e", MILLION, positive=log),
        "used": used,
        "util": _series(model, "utilization", 0.01),
    }
    if log:  # the used area stands on half the smallest use, as a log axis has no zero
        floor = np.nanmin(used) / 2 if np.isfinite(used).any() else np.nan
        frame["floor"] = np.full(years.size, floor)
    datasets = {"frame": _frame(years, **frame), "spans": _spans(years, _series(model, "glut"))}
    drawn = [v for k, v in frame.items() if k != "util"]  # on the left axis
    twin = model.twin
    if twin is not None:
        drawn.append(_series(twin, "installed_capacity_h100e", MILLION, positive=log))
        datasets["twin"] = _frame(_series(twin, "year"), capacity=drawn[-1])
    signals = {LEFT_TICKS: log_ticks(*drawn)} if log else {}
    start, end = _horizon(model)
    spec = capacity_spec(start, end, model.config.bubble.utilization_threshold, log, twin is not None)
    return Chart(spec, datasets, signals)


def prices_chart(model: VizMarket) -> Chart:
    years = _series(model, "year")
    spot = _series(model, "spot_price_usd_per_gpu_hour", positive=True)
    reserved = _series(model, "reserved_price_usd_per_gpu_hour", positive=True)
    datasets = {
        "frame": _frame(years, spot=spot, reserved=reserved),
        "spans": _spans(years, _series(model, "glut")),
    }
    drawn = [spot, reserved]
    twin = model.twin
    if twin is not None:
        drawn.append(_series(twin, "spot_price_usd_per_gpu_hour", positive=True))
        datasets["twin"] = _frame(_series(twin, "year"), spot=drawn[-1])
    log = _wide(*drawn, ratio=10.0)
    signals = {LEFT_TICKS: log_ticks(*drawn)} if log else {}
    start, end = _horizon(model)
    return Chart(prices_spec(start, end, log, twin is not None), datasets, signals)


def capex_chart(model: VizMarket) -> Chart:
    years = _series(model, "year")
    cancellations = _series(model, "gpu_cancellations_h100e", MILLION)
    frame = {
        "capex": _series(model, "capex_usd", BILLION),
        "orders": _series(model, "gpu_orders_h100e", MILLION),
        "backlog": _series(model, "gpu_backlog_h100e", MILLION),
    }
    cancelled = bool((cancellations > 0).any())
    if cancelled:
        frame["cancellations"] = cancellations
    datasets = {"frame": _frame(years, **frame), "spans": _spans(years, _series(model, "glut"))}
    twin = model.twin
    if twin is not None:
        datasets["twin"] = _frame(_series(twin, "year"), capex=_series(twin, "capex_usd", BILLION))
    start, end = _horizon(model)
    return Chart(capex_spec(start, end, cancelled, twin is not None), datasets)


def tokens_chart(model: VizMarket) -> Chart:
    years = _series(model, "year")
    served = _series(model, "tokens_served", positive=True)
    demanded = _series(model, "tokens_demanded", positive=True)
    short = bool(np.nan_to_num(demanded > served * 1.01).any())
    price = _series(model, "token_price_usd_per_mtok", positive=True)
    frame = {"served": served, "price": price}
    if short:
        frame["demanded"] = demanded
    datasets = {"frame": _frame(years, **frame), "spans": _spans(years, _series(model, "glut"))}
    signals = {LEFT_TICKS: log_ticks(served, demanded if short else served), RIGHT_TICKS: log_ticks(price)}
    start, end = _horizon(model)
    return Chart(tokens_spec(start, end, short), datasets, signals)


def efficiency_chart(model: VizMarket) -> Chart:
    """Each lab's efficiency, the five largest in colour; the frontier; every discovery marked."""
    years = _series(model, "year")
    wide = model.lab_efficiency()
    shares = {lab.index: (lab.share if lab.alive else -1.0) for lab in model.labs}
    top = sorted(shares, key=shares.__getitem__, reverse=True)[:TOP_LABS]
    frontier = _series(model, "frontier_efficiency", positive=True)
    series = [f"lab {lab.index}" + ("" if lab.alive else " (bankrupt)") for lab in model.labs]
    names = [series[i] if i in top else OTHER_LABS for i in range(len(series))] + [FRONTIER]
    widths = [1.5 if i in top else 0.7 for i in range(len(series))] + [1.2]
    lines: dict[str, list[Any]] = {"year": [], "key": [], "value": [], "series": [], "width": []}
    for key, values in enumerate([*wide.T, frontier]):  # one row per lab and bend; key -1: frontier
        keep = _bends(values)
        lines["year"] += column(years[keep])
        lines["value"] += column(values[keep])
        for name, value in (
            ("key", key if key < len(series) else -1),
            ("series", names[key]),
            ("width", widths[key]),
        ):
            lines[name] += [value] * int(keep.sum())
    legend = [series[i] for i in top] + ([OTHER_LABS] if len(top) < len(series) else []) + [FRONTIER]
    datasets = {
        "labs": lines,
        "disc": _discoveries(model),
        "spans": _spans(years, _series(model, "glut")),
    }
    start, end = _horizon(model)
    spec = efficiency_spec(start, end, wide.shape[1], min(TOP_LABS, len(model.labs)))
    return Chart(spec, datasets, {LEFT_TICKS: log_ticks(wide.ravel(), frontier), LAB_SERIES: legend})


def _bends(values: np.ndarray) -> np.ndarray:
    """The months a line on a log axis needs: where its slope changes (and beside gaps).

    Background progress multiplies efficiency by the same factor every month, a straight line
    on a log axis, so most months lie on the segment between their neighbours: dropping them
    draws the same line from a tenth of the points (the browser's cost grows with points).
    """
    keep = np.ones(values.size, dtype=bool)
    if values.size > 2:
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log(values)
        curvature = logs[2:] - 2 * logs[1:-1] + logs[:-2]
        keep[1:-1] = ~(np.abs(curvature) <= 1e-9)  # NaN (a gap, a zero) keeps its neighbours
    return keep


def _discoveries(model: VizMarket) -> dict[str, list[Any]]:
    """Every discovery at its calendar year: red from 2x up, dashed if proprietary; labelled with
    its gain when there are few, otherwise only the big ones (plots.discovery_markers' rule).
    Labels less than half a year apart are stacked, so that they stay legible."""
    rows = [row for row in model.events.rows if row[3] == "discovery"]
    start = float(model.config.run.start_year)
    out: dict[str, list[Any]] = {
        k: [] for k in ("year", "kind", "proprietary", "width", "alpha", "text", "dy")
    }
    labels: list[int] = []  # steps of the labels drawn so far
    for step, _agent, _type, _kind, _cause, size, detail in rows:
        big = bool(size >= 2.0)
        out["year"].append(start + step / 12)
        out["kind"].append("discovery ≥ 2x" if big else "discovery < 2x")
        out["proprietary"].append("proprietary" in str(detail).lower())
        out["width"].append(1.4 if big else 0.8)
        out["alpha"].append(0.85 if big else 0.5)
        labelled = (big or len(rows) <= 8) and bool(np.isfinite(size))
        near = sum(1 for other in labels if step - other < 6)
        out["text"].append(f"×{size:.3g}" if labelled else "")
        out["dy"].append(10 + 10 * near)
        if labelled:
            labels.append(step)
    return out


def bubble_chart(model: VizMarket) -> Chart:
    cfg = model.config.bubble
    years = _series(model, "year")
    drawdown = np.nan_to_num(_series(model, "capex_drawdown"))
    flags = {
        "overcapacity": _series(model, "overcapacity"),
        "weak_demand": _series(model, "weak_demand"),
        "glut": _series(model, "glut"),
        "burst": drawdown >= cfg.capex_drawdown_threshold,
    }
    labels = bubble_track_labels(
        cfg.utilization_threshold, cfg.capex_drawdown_threshold, cfg.persistence_months
    )
    tracks: dict[str, list[Any]] = {"track": [], "start": [], "end": []}
    for name, label in zip(BUBBLE_TRACKS, labels, strict=True):
        spans = _spans(years, flags[name])
        tracks["track"] += [label] * len(spans["start"])
        tracks["start"] += spans["start"]
        tracks["end"] += spans["end"]
    glut = flags["glut"].astype(bool)
    now = bool(glut[-1])
    months = len(glut) - int(np.flatnonzero(~glut)[-1]) - 1 if (~glut).any() else len(glut)
    datasets = {
        "frame": _frame(years, util=_series(model, "utilization", 0.01), drawdown=100 * drawdown),
        "tracks": tracks,
    }
    signals = {"state": f"GLUT NOW ({months} months of both)" if now else "no glut now", "glut": now}
    start, end = _horizon(model)
    spec = bubble_spec(
        start, end, cfg.utilization_threshold, cfg.capex_drawdown_threshold, cfg.persistence_months
    )
    return Chart(spec, datasets, signals)


# ----------------------------------------------------------------------------- views
def _chart_component(name: str, draw: Callable[[VizMarket], Chart], alt_text: str) -> Callable:
    """A live chart card, sent its data as soon as a month is done, ahead of the page's render.

    Each update of Mesa's counter (a Step, a Play tick, "Discover now") sends the chart its new
    data directly, before solara re-renders the page: the render of the other cards (the event
    log, the tables, the finance indicators) would hold the charts up by ~0.1 s. The card itself
    renders only when the model is replaced (Reset) or drawing fails. Its data is read between
    months (Play steps in another thread) and stamped with the month and event count it shows,
    which the chart sets once drawn.
    """

    @solara.component
    def View(model: VizMarket):
        problem, set_problem = solara.use_state("")
        # one element for the card's life: solara.get_widget finds the widget of this very element
        chart_element = solara.use_memo(lambda: VegaChart.element(name=name), dependencies=[])

        def attach() -> Callable[[], None]:
            widget = solara.get_widget(chart_element)
            shown = [problem]

            def send(_tick: int | None = None) -> None:
                try:
                    chart, stamp = locked(model, read)
                    text = ""
                except Exception as exc:  # on the card rather than in Mesa's step
                    text = f"could not draw the {alt_text}: {exc}"
                if text != shown[0]:
                    shown[0] = text
                    set_problem(text)
                if text:
                    return
                update = {"shape": chart.spec.shape, "datasets": chart.datasets, "signals": chart.signals}
                with widget.hold_sync():
                    widget.spec = chart.spec.text
                    widget.update = vega.text({**update, "stamp": stamp})

            send()
            return update_counter.subscribe(send)

        solara.use_effect(attach, [model])
        warning = [solara.Error(problem, dense=True)] if problem else []  # rather than an old picture
        return solara.Column(gap="0px", children=[*warning, chart_element])

    def read(m: VizMarket) -> tuple[Chart, dict[str, Any]]:
        stamp = {"month": m.steps, "events": len(m.events.rows), "twin": int(m.twin is not None)}
        return draw(m), stamp

    View.__name__ = name.title() + "View"
    return View


CHARTS: dict[str, tuple[Callable[[VizMarket], Chart], str]] = {
    "capacity": (capacity_chart, "capacity vs compute demand and utilization"),
    "bubble": (bubble_chart, "bubble indicator"),
    "efficiency": (efficiency_chart, "efficiency per lab with discoveries"),
    "prices": (prices_chart, "spot and reserved rental price"),
    "tokens": (tokens_chart, "tokens served and token price"),
    "capex": (capex_chart, "capex, GPU orders and backlog"),
}
CapacityView = _chart_component("capacity", *CHARTS["capacity"])
BubbleView = _chart_component("bubble", *CHARTS["bubble"])
EfficiencyView = _chart_component("efficiency", *CHARTS["efficiency"])
PriceView = _chart_component("prices", *CHARTS["prices"])
TokenView = _chart_component("tokens", *CHARTS["tokens"])
CapexView = _chart_component("capex", *CHARTS["capex"])
