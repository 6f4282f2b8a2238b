"""The analyst's view of a run: does the build-out pay, and what would a glut cost?

Everything here is read off a finished (or running) simulation; nothing feeds back into it.

- **Revenue gap** (Sequoia's "$600B question", sources.md#sequoia-600b): the AI revenue the
  GPU spending needs, capex run-rate x the data-centre cost multiple / (1 - the end users'
  gross margin), against what users actually spend on AI.
- **Gauges**: capex against AI revenue and against operating cash flow, the share of capex
  paid for by new debt, and labs' remaining compute commitments in years of their revenue; each
  with a warning threshold in `finance.*` of the config.
- **A GPU bought this month**: its IRR, NPV at the cost of capital, payback and economic life
  at today's rent and utilization, with the rent expected to fall as hardware price-performance
  improves (a newer GPU delivers the same H100e for less, sources.md#hobbhahn-besiroglu-2022),
  and the break-even rent that repays it over its book life at the planned utilization.
- **GPU vintages** (`vintage_table`): per delivery year, realised and expected IRR, NPV,
  payback and economic life against book life, from the run's cash record
  (`aibubble.vintages`), with the profit a book life longer than the economic life overstates.

NPV and annuities come from numpy-financial. IRRs are found on the monthly flows (a bracketed
root of numpy-financial's NPV, SciPy's brentq) and compounded to a year, so that an IRR beats the cost of
capital exactly when the NPV at it is positive (yearly sums, the earlier convention, delayed
each month's flow by up to a year and put a vintage at 11 % IRR with a positive NPV at 12 %).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy_financial as npf
import pandas as pd
from scipy.optimize import brentq

from aibubble.gpu_market import hardware_performance
from aibubble.measures import HOURS_PER_MONTH, Measure

if TYPE_CHECKING:
    from aibubble.config import Config
    from aibubble.vintages import VintageBook

TRAILING = 12  # months in a run-rate: flows are annualised over the trailing year

INDICATORS: dict[str, Measure] = {
    m.name: m
    for m in (
        Measure(
            "ai_revenue_usd_per_year", "USD per year", "AI revenue (users' spending, trailing 12 months)"
        ),
        Measure("required_revenue_usd_per_year", "USD per year", "AI revenue the capex needs (Sequoia)"),
        Measure("revenue_gap_usd_per_year", "USD per year", "revenue gap (required - AI revenue)"),
        Measure("capex_to_ai_revenue", "ratio", "capex / AI revenue"),
        Measure("capex_to_operating_cash_flow", "ratio", "capex / builders' operating cash flow"),
        Measure("debt_funded_share_of_capex", "fraction", "share of capex paid for by new debt"),
        Measure("lab_commitments_to_revenue", "years of revenue", "labs' compute commitments / AI revenue"),
        Measure("new_gpu_irr_per_year", "fraction per year", "IRR of a GPU bought this month"),
        Measure("new_gpu_npv_usd_per_h100e", "USD per H100e", "NPV of a GPU bought this month"),
        Measure("new_gpu_payback_months", "months", "payback of a GPU bought this month"),
        Measure("new_gpu_economic_life_months", "months", "economic life of a GPU bought this month"),
        Measure("breakeven_rent_usd_per_gpu_hour", "USD per H100e-hour", "break-even rent of a new GPU"),
        Measure("realised_rent_usd_per_gpu_hour", "USD per H100e-hour", "rent the fleet earns"),
    )
}

# gauge -> the config field of finance.* that holds its warning threshold
GAUGES = {
    "capex_to_ai_revenue": "warn_capex_to_ai_revenue",
    "capex_to_operating_cash_flow": "warn_capex_to_operating_cash_flow",
    "debt_funded_share_of_capex": "warn_debt_funded_share_of_capex",
    "lab_commitments_to_revenue": "warn_lab_commitments_years",
}

VINTAGE_COLUMNS: dict[str, Measure] = {
    m.name: m
    for m in (
        Measure("vintage", "calendar year", "delivery year"),
        Measure("h100e", "H100e", "delivered"),
        Measure("cost_usd", "USD", "paid"),
        Measure("in_service_h100e", "H100e", "still in service"),
        Measure("margin_to_date_usd", "USD", "cash margin earned so far"),
        Measure("realised_irr_per_year", "fraction per year", "IRR on the cash flows so far"),
        Measure("expected_irr_per_year", "fraction per year", "IRR with the expected rest of its life"),
        Measure("npv_usd", "USD", "NPV at the cost of capital (expected)"),
        Measure("payback_months", "months", "payback (expected, from mean delivery)"),
        Measure("breakeven_rent_usd_per_gpu_hour", "USD per H100e-hour", "break-even rent"),
        Measure("economic_life_months", "months", "economic life"),
        Measure("economic_life_realised", "true/false", "economic life observed (all retired)"),
        Measure("book_life_months", "months", "book life"),
        Measure("profit_overstated_usd_per_year", "USD per year", "profit overstated by the book life"),
    )
}


# ------------------------------------------------------------------------------ closed forms
def monthly_rate(per_year: float) -> float:
    return (1 + per_year) ** (1 / 12) - 1


def rent_decline_per_month(config: Config) -> float:
    """Factor by which the rent a given GPU fetches falls each month: newer GPUs deliver an
    H100e for less as FLOP per dollar doubles (efficiency.hardware_doubling_years)."""
    return 2.0 ** (-1.0 / (12.0 * config.efficiency.hardware_doubling_years))


def survival_per_month(config: Config) -> float:
    return (1.0 - config.hyperscalers.failure_rate_per_year) ** (1 / 12)


def breakeven_rent(cost: Any, opex: Any, config: Config) -> Any:
    """USD per H100e-hour that repays `cost` (USD per H100e) with the cost of capital over the
    book life at the planned utilization, as GPUs fail: operating cost plus the annuity of the
    price at the discount rate grossed up for attrition ((1 + r) / survival - 1)."""
    hs = config.hyperscalers
    rate = (1 + monthly_rate(hs.discount_rate_per_year)) / survival_per_month(config) - 1
    payment = npf.pmt(rate, hs.book_life_months, -np.asarray(cost, dtype=float))
    return opex + payment / (hs.target_utilization * HOURS_PER_MONTH)


def economic_life(rent: Any, opex: Any, config: Config) -> Any:
    """Months until a GPU's rent, falling with price-performance, no longer covers its
    operating cost; at most its physical life (hyperscalers.max_age_months)."""
    rent, opex = np.asarray(rent, dtype=float), np.asarray(opex, dtype=float)
    decline = -math.log(rent_decline_per_month(config))
    ratio = np.where((rent > 0) & (opex > 0), rent / np.where(opex > 0, opex, 1.0), 1.0)
    months = np.log(np.maximum(ratio, 1.0)) / decline
    return np.minimum(months, config.hyperscalers.max_age_months)


def expected_margins(
    h100e: float, rent: float, opex: float, utilization: float, months: int, config: Config
) -> np.ndarray:
    """USD per month over the next `months`: surviving GPUs times the rent (falling with
    price-performance) less operating cost, at `utilization`, never below zero (a GPU
    that does not cover its operating cost is retired)."""
    k = np.arange(1, max(months, 0) + 1)
    alive = h100e * survival_per_month(config) ** k
    spread = np.maximum(rent * rent_decline_per_month(config) ** k - opex, 0.0)
    return alive * spread * utilization * HOURS_PER_MONTH


def irr_per_year(monthly_flows: np.ndarray) -> float:
    """IRR of monthly cash flows (month 0 first), as the monthly rate that zeroes their NPV
    compounded to a year, so that it beats the cost of capital exactly when the NPV at
    `monthly_rate` is positive; NaN where it is not defined (the flows never change sign, or
    no rate between -99 % and +1000 % a month zeroes the NPV)."""
    flows = np.asarray(monthly_flows, dtype=float)
    if not (flows < 0).any() or not (flows > 0).any():
        return math.nan

    def npv(rate: float) -> float:
        return float(npf.npv(rate, flows))

    low, high = -0.99, 10.0
    if npv(low) * npv(high) > 0:
        return math.nan
    return (1.0 + brentq(npv, low, high, xtol=1e-14, rtol=4 * np.finfo(float).eps)) ** 12 - 1.0


def payback_month(monthly_flows: np.ndarray) -> float:
    """Months from month 0 until the cumulative cash flow, past its low point (all of the
    purchase paid), is no longer negative; NaN if it never recovers."""
    cum = np.cumsum(monthly_flows)
    low = int(np.argmin(cum))
    hit = np.flatnonzero(cum[low:] >= -1e-9 * np.abs(monthly_flows).sum())
    return float(low + hit[0]) if hit.size and cum[low] < 0 else math.nan


# ------------------------------------------------------------------------------ monthly view
def _trailing(frame: pd.DataFrame, column: str) -> pd.Series:
    """USD per year at the trailing 12-month run-rate (the first row is the state before the
    first month and carries no flows)."""
    s = frame[column].astype(float).copy()
    s.iloc[:1] = np.nan
    return s.rolling(TRAILING, min_periods=1).mean() * 12


def _steps(frame: pd.DataFrame, config: Config) -> np.ndarray:
    """Month of each row, from its calendar year (so a slice of a frame keeps its months)."""
    return np.rint((frame["year"].to_numpy(float) - config.run.start_year) * 12)


def _rent(frame: pd.DataFrame) -> np.ndarray:
    """USD per used H100e-hour the fleet earned (reserved and spot), the spot price in a month
    without rent."""
    used = frame["compute_used_h100e"].to_numpy(float)
    paid = frame["compute_rent_usd"].to_numpy(float)
    spot = frame["spot_price_usd_per_gpu_hour"].to_numpy(float)
    earned = (used > 0) & (paid > 0)
    return np.where(earned, paid / np.where(earned, used, 1.0) / HOURS_PER_MONTH, spot)


def _ratio(a: pd.Series, b: pd.Series) -> pd.Series:
    return (a / b.where(b > 0)).astype(float)


def finance_frame(frame: pd.DataFrame, config: Config) -> pd.DataFrame:
    """One row per month of a model frame, the columns of INDICATORS."""
    out = pd.concat([_revenue_and_gauges(frame, config), _new_gpu(frame, config)], axis=1)
    return out[list(INDICATORS)]


def _revenue_and_gauges(frame: pd.DataFrame, config: Config) -> pd.DataFrame:
    """The revenue gap and the gauges: trailing flows only, no per-month IRR (the run summary
    needs just these)."""
    f, hs = config.finance, config.hyperscalers
    steps = _steps(frame, config)
    capex = _trailing(frame, "capex_usd")
    ai = _trailing(frame, "ai_spending_usd")
    core = pd.Series(
        hs.core_cash_flow_usd_per_month * hs.core_cash_flow_growth_per_year ** (steps / 12), index=frame.index
    )
    core.iloc[:1] = np.nan
    core = core.rolling(TRAILING, min_periods=1).mean() * 12
    cash_flow = core + _trailing(frame, "compute_rent_usd") - _trailing(frame, "fleet_opex_usd")
    # Cahn's method starts from GPU spending and doubles it for the data centre around it
    gpus = capex - _trailing(frame, "shell_capex_usd")
    required = gpus * f.datacentre_cost_multiple / (1 - f.end_user_gross_margin)
    out = pd.DataFrame(index=frame.index)
    out["ai_revenue_usd_per_year"] = ai
    out["required_revenue_usd_per_year"] = required
    out["revenue_gap_usd_per_year"] = required - ai
    out["capex_to_ai_revenue"] = _ratio(capex, ai)
    out["capex_to_operating_cash_flow"] = _ratio(capex, cash_flow)
    out["debt_funded_share_of_capex"] = _ratio(_trailing(frame, "builder_borrowing_usd"), capex)
    out["lab_commitments_to_revenue"] = _ratio(frame["lab_commitments_usd"].astype(float), ai)
    return out


def _new_gpu(frame: pd.DataFrame, config: Config) -> pd.DataFrame:
    """A GPU (one H100e) bought at this month's price, earning this month's rent at this month's
    utilization, the rent then falling with price-performance."""
    hs = config.hyperscalers
    steps = _steps(frame, config)
    rent = _rent(frame)
    price = frame["gpu_price_usd_per_h100e"].to_numpy(float)
    opex = hs.opex_usd_per_gpu_hour / hardware_performance(steps, config.efficiency.hardware_doubling_years)
    utilization = frame["utilization"].to_numpy(float)
    rate = monthly_rate(hs.discount_rate_per_year)
    irr, npv, payback = (np.full(len(frame), math.nan) for _ in range(3))
    for i in range(len(frame)):
        flows = np.concatenate(
            [[-price[i]], expected_margins(1.0, rent[i], opex[i], utilization[i], hs.max_age_months, config)]
        )
        irr[i] = irr_per_year(flows)
        npv[i] = npf.npv(rate, flows)
        payback[i] = payback_month(flows)
    return pd.DataFrame(
        {
            "new_gpu_irr_per_year": irr,
            "new_gpu_npv_usd_per_h100e": npv,
            "new_gpu_payback_months": payback,
            "new_gpu_economic_life_months": economic_life(rent, opex, config),
            "breakeven_rent_usd_per_gpu_hour": breakeven_rent(price, opex, config),
            "realised_rent_usd_per_gpu_hour": rent,
        },
        index=frame.index,
    )


def warnings(row: pd.Series, config: Config) -> dict[str, bool]:
    """Which gauges of one row of `finance_frame` are past their warning threshold."""
    f = config.finance
    return {g: bool(np.isfinite(row[g]) and row[g] > getattr(f, field)) for g, field in GAUGES.items()}


# ------------------------------------------------------------------------------ vintages
def vintage_table(
    book: VintageBook, in_service: np.ndarray, frame: pd.DataFrame, config: Config
) -> pd.DataFrame:
    """Per delivery year of the run, the vintage's cash record so far and what it is expected
    to earn until it is retired, at the last month's rent and utilization (as for a new GPU).

    Flows are on the GPUs' age clock (month 0 = delivery, summed over the year's deliveries),
    as an analyst follows a cohort, so the IRR, NPV and payback are those of the vintage's
    average GPU. Vintages bought before month 0 are left out: their earlier cash flows were
    not simulated."""
    hs = config.hyperscalers
    if frame.empty:
        return pd.DataFrame(columns=list(VINTAGE_COLUMNS))
    last = int(_steps(frame, config)[-1])
    rent = float(_rent(frame.iloc[-1:])[0])
    utilization = float(frame["utilization"].iloc[-1])
    rate = monthly_rate(hs.discount_rate_per_year)
    life = hs.max_age_months
    vintages = book.vintages
    rows = []
    for year in range(0, last // 12 + 1):
        members = np.flatnonzero((vintages >= 12 * year) & (vintages < 12 * (year + 1)) & (book.h100e > 0))
        if members.size == 0:
            continue
        realised = np.zeros(last - int(vintages[members].min()) + 1)
        expected = np.zeros(max(life, realised.size - 1) + 1)
        econ = np.zeros(members.size)
        for j, r in enumerate(members):
            v = int(vintages[r])
            age = last - v  # months it has earned
            earned = book.margin[r, v + 1 : last + 1]
            realised[0] -= book.cost[r]
            realised[1 : age + 1] += earned
            future = expected_margins(in_service[r], rent, book.opex[r], utilization, life - age, config)
            expected[age + 1 : age + 1 + future.size] += future
            if in_service[r] > 0:
                econ[j] = min(age + float(economic_life(rent, book.opex[r], config)), life)
            else:
                paying = np.flatnonzero(earned > 0)
                econ[j] = float(paying[-1] + 1) if paying.size else 0.0
        expected[: realised.size] += realised
        weights = book.h100e[members]
        cost = book.cost[members]
        short = np.maximum(12 / np.maximum(econ, 1.0) - 12 / hs.book_life_months, 0.0)
        rows.append(
            {
                "vintage": int(math.floor(config.run.start_year + year)),
                "h100e": float(weights.sum()),
                "cost_usd": float(cost.sum()),
                "in_service_h100e": float(in_service[members].sum()),
                "margin_to_date_usd": float(realised.sum() + cost.sum()),
                "realised_irr_per_year": irr_per_year(realised),
                "expected_irr_per_year": irr_per_year(expected),
                "npv_usd": float(npf.npv(rate, expected)),
                "payback_months": payback_month(expected),
                "breakeven_rent_usd_per_gpu_hour": float(
                    np.average(breakeven_rent(cost / weights, book.opex[members], config), weights=weights)
                ),
                "economic_life_months": float(np.average(econ, weights=weights)),
                "economic_life_realised": bool((in_service[members] <= 0).all()),
                "book_life_months": float(hs.book_life_months),
                "profit_overstated_usd_per_year": float((cost * short * (in_service[members] > 0)).sum()),
            }
        )
    return pd.DataFrame(rows, columns=list(VINTAGE_COLUMNS))


def summary(book: VintageBook, in_service: np.ndarray, frame: pd.DataFrame, config: Config) -> dict[str, Any]:
    """The run's finance outcomes (see measures.OUTCOMES)."""
    fin = _revenue_and_gauges(frame, config)
    table = vintage_table(book, in_service, frame, config)
    gap = fin["revenue_gap_usd_per_year"].dropna()
    irr = table["expected_irr_per_year"].dropna()
    return {
        "revenue_gap_peak_usd_per_year": float(gap.max()) if gap.size else math.nan,
        "vintage_npv_usd": float(table["npv_usd"].sum()),
        "worst_vintage_irr_per_year": float(irr.min()) if irr.size else math.nan,
        "economic_life_months": float(np.average(table["economic_life_months"], weights=table["h100e"]))
        if len(table)
        else math.nan,
        "profit_overstated_usd_per_year": float(table["profit_overstated_usd_per_year"].sum()),
    }
