"""What the page's cards share: their height, the update they redraw on, numbers and months as text."""

from __future__ import annotations

import numpy as np
import solara
from mesa.visualization.utils import update_counter

from aibubble.market import AIMarketModel

# Cards of Mesa's grid are 390 px high and about 540 px wide on a laptop screen.
CARD_HEIGHT_PX = 380


def counter() -> int:
    """Subscribe a card to Mesa's update counter: it re-renders on every Step, Play tick and Discover."""
    return update_counter.get()


def scroll(inner_html: str, cls: str) -> solara.Element:
    """A card of HTML that scrolls when longer than the card."""
    return solara.HTML(
        tag="div",
        unsafe_innerHTML=inner_html,
        style=f"max-height:{CARD_HEIGHT_PX}px;overflow:auto;font-size:12px",
        classes=[cls],
    )


def qty(x: float, unit: str = "") -> str:
    """1.23M, 456k, 12.3 (with a unit after)."""
    if x is None or not np.isfinite(x):
        return "n/a"
    a = abs(x)
    for div, suffix in ((1e12, "T"), (1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"{x / div:.3g}{suffix}{(' ' + unit) if unit else ''}"
    return f"{x:.3g}{(' ' + unit) if unit else ''}"


def usd(x: float) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    return ("-" if x < 0 else "") + "$" + qty(abs(x))


def pct(x: float) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{100 * x:.0f}%"


def calendar_month(model: AIMarketModel, step: int) -> str:
    """Calendar month of a step: 'Mar 2025'."""
    start = model.config.run.start_year
    months = int(round((start - int(start)) * 12)) + step
    year = int(start) + months // 12
    return f"{('Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec').split()[months % 12]} {year}"
