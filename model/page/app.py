"""The interactive page: watch an efficiency discovery ripple through the AI compute market, live.

Start it with `aibubble viz [--scenario NAME]`, or `solara run model/page/app.py --production
--no-check-version` (the scenario then comes from the environment variable
AIBUBBLE_VIZ_SCENARIO, default `baseline`; without --production the page pings solara.dev).

The page is Mesa's SolaraViz: the sidebar holds Mesa's controls (Reset, Play, Step, play and
render intervals) and the model parameters; the main area holds, as draggable cards:

- "Discover now" and, above it, where the run stands now (controls.py);
- capacity vs demand with utilization, the bubble indicator, efficiency per lab with
  discovery markers, rental prices, tokens and token price, capex with GPU orders and
  backlog (charts.py, drawn in the browser); after "Discover now" the capacity, price and capex
  charts also show the same seed without the discovery, dashed;
- the analyst's card: the month's finance indicators, and the run's tables to download
  (analyst.py);
- the recent event log and tables of hyperscalers and labs (tables.py).

Parameters apply on Reset (Mesa's rule). A slider left where it started keeps the chosen
scenario's own value; a slider that was moved overrides it (see `viz_model.VizMarket`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import solara
from mesa.visualization import SolaraViz

from aibubble.config import ConfigError
from aibubble.page.analyst import FinanceCard
from aibubble.page.charts import BubbleView, CapacityView, CapexView, EfficiencyView, PriceView, TokenView
from aibubble.page.controls import DiscoverNow
from aibubble.page.tables import EventLogView, HyperscalerTable, LabTable
from aibubble.page.viz_model import VizMarket, build_model, launch_scenario, model_params

# Sliders show their value only while dragged; keep the value bubble visible so a reader sees
# what Reset will use.
CSS = """
.v-slider__thumb-label-container { display: block !important; }
.v-slider__thumb-label { font-size: 10px; }
.v-input__slider { margin-top: 20px !important; }
"""

COMPONENTS: list[tuple[Callable, int]] = [
    (DiscoverNow, 0),
    (CapacityView, 0),
    (FinanceCard, 0),
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
