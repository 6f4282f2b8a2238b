"""The page's text cards: the recent event log and the tables of hyperscalers and labs.

They are cheap, so they render in the page's own thread with every month, ahead of the charts.
"""

from __future__ import annotations

import html

import solara

from aibubble.market import AIMarketModel
from aibubble.page.cards import calendar_month, counter, pct, qty, scroll, usd
from aibubble.page.viz_model import VizMarket, locked

EVENT_LINES = 14  # lines in the event log card


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
                f"#{j}" + (" (neocloud)" if hs.kind == "neocloud" else ""),
                qty(hs.installed),
                pct(hs.utilization),
                qty(hs.orders),
                qty(pending),
                usd(hs.cash),
                usd(hs.debt),
                usd(hs.write_downs),
            ]
        )
    title = (
        "<b>GPU builders</b>: hyperscalers and debt-financed neoclouds "
        "(H100e = H100-equivalent GPUs; money in USD)"
    )
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
                pct(lab.share),
                usd(lab.revenue),
                usd(lab.cash),
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
    "default": "USD",
}


def _names(model: AIMarketModel) -> dict[int, str]:
    names = {hs.unique_id: f"{hs.kind} #{j}" for j, hs in enumerate(model.hyperscalers)}
    names.update({lab.unique_id: f"lab {lab.index}" for lab in model.labs})
    for arch in model.agents:
        if arch.unique_id not in names:
            where = "independent" if getattr(arch, "lab", None) is None else f"lab {arch.lab}"
            names[arch.unique_id] = f"architect {arch.unique_id} ({where})"
    return names


def event_lines(model: VizMarket, n: int = EVENT_LINES) -> list[tuple[int, str, str]]:
    """The story of the last months, newest first, as (step, kind, text).

    Routine events (orders, write-downs, funding...) are summed per month and kind, adoptions
    per month and discovery, so a 100x discovery and its spread stand out from the book-keeping.
    """
    found = model.episode_events(model.frame())
    rows = sorted(model.events.rows[-400:] + found, key=lambda row: row[0])
    names = _names(model)
    groups: dict[tuple, list[tuple]] = {}
    order: list[tuple] = []
    for row in rows:
        step, agent, _type, kind, cause, size, detail = row
        key: tuple
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
            text = f"BANKRUPTCY of {who}: {usd(size)} unpaid ({detail})"
        elif kind == "glut_onset":
            text = f"GLUT begins: {cause} ({detail})"
        elif kind == "bubble":
            text = f"BUBBLE: {cause}; {usd(size)} impaired in the episode"
        elif kind == "burst":
            text = f"BURST: {cause} ({size:.0%} at most)"
        elif kind == "glut_end":
            text = f"glut ends after {detail}: {cause}"
        else:
            unit = UNITS.get(kind, "")
            amount = usd(total) if unit == "USD" else qty(total, unit)
            agents = f"{len(items)} agents" if len(items) > 1 else who
            text = f"{kind.replace('_', ' ')}: {amount} — {agents} ({cause})"
        lines.append((int(step), kind, text))
        if len(lines) >= n:
            break
    return lines


def event_log_html(model: VizMarket) -> str:
    """The event log card, newest first.

    Its list carries data-month and data-events (the month, and how many events were logged,
    that it shows): a month's cards reach the browser one after the other, so the status line can
    already show a month whose log is still on its way. Tests wait on them.
    """
    colours = {
        "discovery": "#c62828",
        "adoption": "#6a1b9a",
        "bankruptcy": "#c62828",
        "glut_onset": "#e65100",
    }
    colours.update(bubble="#e65100", burst="#e65100", glut_end="#2e7d32")
    items = []
    for step, kind, text in event_lines(model):
        colour = colours.get(kind, "#333")
        weight = "bold" if kind in ("discovery", "bankruptcy", "glut_onset", "bubble", "burst") else "normal"
        items.append(
            f'<li style="color:{colour};font-weight:{weight}">'
            f"<span style='color:#777'>month {step} ({calendar_month(model, step)})</span> "
            f"{html.escape(text)}</li>"
        )
    body = "".join(items) or "<li>nothing yet: press Step or Play</li>"
    return (
        "<div><b>Recent events</b> (newest first; routine events summed per month)</div>"
        f'<ul class="aibubble-event-log" data-month="{model.steps}" data-events="{len(model.events.rows)}" '
        f'style="padding-left:14px;margin:4px 0">{body}</ul>'
    )


@solara.component
def EventLogView(model: AIMarketModel):
    counter()
    return scroll(locked(model, event_log_html), "aibubble-events")


@solara.component
def HyperscalerTable(model: AIMarketModel):
    counter()
    return scroll(locked(model, hyperscaler_table), "aibubble-hyperscalers")


@solara.component
def LabTable(model: AIMarketModel):
    counter()
    return scroll(locked(model, lab_table), "aibubble-labs")
