"""The analyst's card: does the build-out pay (aibubble.finance), and this run's tables to take away.

The indicators are the last month's row of `finance.finance_frame`, computed on the last
13 months of the model frame only: its flows are trailing 12-month run-rates, so that row is
the same as on the whole frame (tests/test_app.py checks it) at a fraction of the cost. They
are computed in the page's thread: a background thread would cost the page two more passes of
solara's renderer over every widget, each dearer than the computation.

The downloads are built when clicked, from the run as it is then: the model frame, the agent
frame and the event log (and the finance frame), as in a run folder (`aibubble run`), and
after "Discover now" the same run without it under counterfactual/, as `--counterfactual`
writes it. One zip of Parquet files, one of CSV files.
"""

from __future__ import annotations

import functools
import html
import io
import math
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import solara

from aibubble import finance
from aibubble.experiments.files import safe_name, write_parquet
from aibubble.page.cards import CARD_HEIGHT_PX, counter, pct, usd
from aibubble.page.viz_model import VizMarket, locked

FORMATS = ("parquet", "csv")


# ----------------------------------------------------------------------------- indicators
def value_text(value: float, unit: str) -> str:
    """A number with its unit, as a reader takes it in: '$1.2T per year', '31% per year', '2.1x'."""
    if value is None or not math.isfinite(value):
        return "n/a"
    if unit.startswith("USD"):
        return usd(value) + unit.removeprefix("USD")
    if unit.startswith("fraction"):
        return pct(value) + unit.removeprefix("fraction")
    if unit == "ratio":
        return f"{value:.2f}×"
    return f"{value:.3g} {unit}"


def finance_row(model: VizMarket) -> pd.Series:
    """This month's indicators (INDICATORS' keys, in order), from the last 13 months' series."""
    months = finance.TRAILING + 1
    recent = pd.DataFrame({k: v[-months:] for k, v in model.datacollector.model_vars.items()})
    return finance.finance_frame(recent, model.config).iloc[-1]


def finance_html(model: VizMarket) -> str:
    """The indicators as a compact table, gauges past their threshold marked.

    The table carries data-month (and data-warnings, how many gauges warn): a month's cards
    reach the browser one after the other, and tests wait on them.
    """
    row = finance_row(model)
    warned = finance.warnings(row, model.config)
    rows = []
    for name, measure in finance.INDICATORS.items():
        flag = ""
        if warned.get(name):
            threshold = getattr(model.config.finance, finance.GAUGES[name])
            flag = f"⚠ above {value_text(threshold, measure.unit)}"
        style = "color:#c62828;font-weight:bold" if flag else ""
        rows.append(
            f'<tr style="{style}"><td style="padding:1px 6px">{html.escape(measure.label)}</td>'
            f'<td style="text-align:right;padding:1px 6px;white-space:nowrap">'
            f"{html.escape(value_text(float(row[name]), measure.unit))}</td>"
            f'<td style="padding:1px 6px;white-space:nowrap">{html.escape(flag)}</td></tr>'
        )
    title = (
        "<b>Does the build-out pay?</b> The analyst's view this month "
        "(flows at their trailing 12-month run-rate)"
    )
    return (
        f"<div style='margin-bottom:4px'>{title}</div>"
        f'<table class="aibubble-finance-table" data-month="{model.steps}" '
        f'data-warnings="{sum(warned.values())}" style="border-collapse:collapse;width:100%">'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


# ----------------------------------------------------------------------------- downloads
def tables(model: VizMarket) -> dict[str, pd.DataFrame]:
    """The run's tables by file name (without suffix), as a run folder names them."""
    frame = model.model_frame()
    out = {
        "model": frame,
        "agents": model.agent_frame(),
        "events": model.events_frame(),
        "finance": finance.finance_frame(frame, model.config),
    }
    if model.twin is not None:
        out["counterfactual/model"] = model.twin.model_frame()
        out["counterfactual/events"] = model.twin.events_frame()
    return out


def zipped_tables(model: VizMarket, fmt: str) -> bytes:
    """The run's tables now, one file each in a zip, as Parquet or CSV.

    Parquet goes through the run folders' writer, which keeps event details of mixed types as
    text; CSV keeps an index only where it means something (the model frame's `step`).
    """
    found = locked(model, tables)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive, tempfile.TemporaryDirectory() as tmp:
        for name, df in found.items():
            if fmt == "parquet":
                path = Path(tmp) / "table.parquet"
                write_parquet(df, path)
                archive.writestr(f"{name}.parquet", path.read_bytes())
            else:
                archive.writestr(f"{name}.csv", df.to_csv(index=df.index.name is not None))
    return buffer.getvalue()


def download_name(model: VizMarket, fmt: str) -> str:
    return f"aibubble_{safe_name(model.scenario_name, 'scenario')}_seed{model.seed}_{fmt}.zip"


@solara.component
def FinanceCard(model: VizMarket):
    """The month's finance indicators, and the run's tables to download."""
    counter()
    # one callable per model and format: FileDownload builds the file when clicked, and a new
    # callable at every month would restart its download
    builders = solara.use_memo(
        lambda: {fmt: functools.partial(zipped_tables, model, fmt) for fmt in FORMATS}, dependencies=[model]
    )
    with solara.Column(gap="4px") as card:
        solara.HTML(
            tag="div",
            unsafe_innerHTML=locked(model, finance_html),
            style=f"max-height:{CARD_HEIGHT_PX - 50}px;overflow:auto;font-size:12px",  # the buttons below
            classes=["aibubble-finance"],
        )
        with solara.Row(gap="8px", classes=["aibubble-downloads"]):
            for fmt in FORMATS:
                solara.FileDownload(
                    builders[fmt],
                    filename=download_name(model, fmt),
                    label=f"tables ({'Parquet' if fmt == 'parquet' else 'CSV'}, zip)",
                    mime_type="application/zip",
                )
    return card
