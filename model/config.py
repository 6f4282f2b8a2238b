"""Typed, validated scenario configuration.

One pydantic model per section; every field carries its unit and source so that
`aibubble show` can print them and a reader never guesses what a number means. A source
names its entry in docs/sources.md (`sources.md#epoch-chip-counts`) or, for a design choice,
in docs/design.md (`design.md#agent-counts`); "hypothesis" marks a value no data pins down.
Scenario YAML files in `config/` either hold a full configuration or `extends` another
scenario and override a few keys.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from aibubble.errors import UserMistake
from aibubble.measures import DAYS_PER_MONTH

# The shipped scenarios and sweep specs: package data of `aibubble.data` (config/ in the checkout),
# a folder on disk in an editable or a wheel install. AIBUBBLE_CONFIG_DIR points elsewhere.
CONFIG_DIR = Path(os.environ.get("AIBUBBLE_CONFIG_DIR") or str(resources.files("aibubble.data")))


# physical guard (hypothesis): AI spending above a tenth of world GDP would be about twice what
# the world spends on all IT today (~5 % of GDP); no scenario should need it
MAX_AI_SPENDING_SHARE_OF_GDP = 0.1
# GW: a tenth of world electricity, ~30,000 TWh in 2024 (~3,400 GW on average; IEA, sources.md#iea-energy-ai)
MAX_FLEET_POWER_GW = 340.0


class ConfigError(UserMistake):
    """A user mistake in a scenario file or override: the message is one line for people."""


def P(default: Any, unit: str, source: str, **bounds: Any) -> Any:
    """A parameter with its unit and source attached (shown by `aibubble show`)."""
    return Field(default, json_schema_extra={"unit": unit, "source": source}, **bounds)


class Section(BaseModel):
    # NaN and infinities are never a parameter value: without this, bounds would report NaN
    # as "should be <= 10000" and unbounded fields would take it silently
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """`steps: true` is a mistake, not 1 month (pydantic would read True as 1)."""
        annotation = cls.model_fields[info.field_name].annotation if info.field_name else None
        if isinstance(value, bool) and annotation in (int, float):
            raise ValueError(f"expected a number, got {str(value).lower()}")
        return value


class RunConfig(Section):
    steps: int = P(
        120, "months", "design choice (design.md#horizon): default horizon 120 months", ge=1, le=1200
    )
    start_year: float = P(2024.0, "calendar year", "hypothesis: month 0 = January 2024", ge=1990, le=2100)
    seed: int = P(42, "-", "any integer; the default seed of a run", ge=0)


class EfficiencyConfig(Section):
    background_progress_per_year: float = P(
        2.0,
        "x per year",
        "Ho et al. 2024 (sources.md#ho-2024): 2.8x/yr in all; 2.0x here is the smooth part, "
        "stochastic discoveries add the rest (~1.4x/yr)",
        ge=1.0,
        le=1000.0,
    )
    hardware_doubling_years: float = P(
        2.5,
        "years",
        "Hobbhahn & Besiroglu 2022 (sources.md#hobbhahn-besiroglu-2022): FLOP/$ doubles every 2.2-2.7 years",
        gt=0.1,
        le=50,
    )
    tokens_per_h100e_month: float = P(
        2.0e8,
        "tokens per H100e-month at month 0",
        "hypothesis: ~76 tokens/s per GPU averaged over a frontier-heavy mix",
        gt=0,
    )


class DiscoveryConfig(Section):
    jump_size: float = P(
        1.0, "x efficiency", "scenario: size of the scripted discovery; 1 = none", ge=1.0, le=1e4
    )
    jump_month: int = P(36, "month", "scenario: month of the scripted discovery", ge=0)
    open_publication: bool = P(True, "-", "scenario: published openly (True) or kept proprietary")
    lab: int = P(0, "lab index", "scenario: the lab whose architect makes the scripted discovery", ge=0)
    implementation_lag_months: int = P(
        3, "months", "hypothesis: from paper/discovery to production serving", ge=0, le=60
    )
    publication_lag_months: int = P(
        1, "months", "hypothesis: from discovery to open publication", ge=0, le=60
    )
    imitation_hazard_per_month: float = P(
        0.05,
        "1/month",
        "hypothesis: a proprietary idea leaks or is re-invented in ~20 months on average",
        ge=0.0,
        le=1.0,
    )


class ArchitectConfig(Section):
    count: int = P(100, "agents", "design choice (design.md#agent-counts): 50-200 architects", ge=0, le=5000)
    productivity_dispersion: float = P(
        1.0,
        "sd of log productivity",
        "hypothesis: research output is heavy-tailed across researchers (lognormal, mean 1)",
        ge=0,
        le=5,
    )
    independent_share: float = P(
        0.3, "fraction", "hypothesis: academic or independent researchers", ge=0, le=1
    )
    discoveries_per_year: float = P(
        0.75,
        "discoveries per year (all architects)",
        "hypothesis: with the gain law below adds ~1.4x/yr on top of background progress",
        ge=0,
        le=100,
    )
    gain_min: float = P(
        1.1, "x efficiency", "design choice (design.md#discovery-gains): gains mostly 1.1-2x", gt=1.0, le=10
    )
    gain_tail_alpha: float = P(
        2.7, "-", "hypothesis: Pareto tail, P(gain>2x)~20%, P(gain>10x)~0.3%", gt=0.2, le=20
    )
    gain_max: float = P(
        100.0, "x efficiency", "design choice (design.md#discovery-gains): rarely 10-100x", ge=1.0, le=1e4
    )
    openness: float = P(
        0.6, "probability", "hypothesis: share of lab discoveries published openly", ge=0, le=1
    )


class HyperscalerConfig(Section):
    count: int = P(6, "agents", "design choice (design.md#agent-counts): 5-10 hyperscalers", ge=1, le=50)
    size_dispersion: float = P(
        0.5, "sd of log size", "hypothesis: the big four hold most of the cloud fleet", ge=0, le=5
    )
    initial_capacity_h100e: float = P(
        1.5e6,
        "H100e",
        "Epoch AI ai-chip-counts (sources.md#epoch-chip-counts): ~1.4M H100e shipped 2022-23, "
        "~2/3 held by clouds",
        gt=0,
    )
    initial_growth_per_year: float = P(
        3.0,
        "x per year",
        "Epoch AI (sources.md#epoch-chip-counts): installed compute grows ~3.3x/yr (2.7-4.1)",
        ge=1.0,
        le=20,
    )
    opex_usd_per_gpu_hour: float = P(
        0.45,
        "USD per physical GPU-hour",
        "hypothesis: ~1.2 kW all-in at ~$0.08/kWh plus staff and network, below the $1.65 breakeven "
        "(sources.md#latent-space-breakeven)",
        gt=0,
    )
    ask_markup: float = P(
        1.0,
        "fraction over opex",
        "hypothesis: few large clouds do not rent below ~2x operating cost; the Oct-2025 H100 low "
        "($1.70, sources.md#semianalysis-rental) sat near the $1.65 breakeven",
        ge=0,
        le=10,
    )
    book_life_months: int = P(
        72,
        "months",
        "10-K filings (sources.md#company-filings): 6-year server lives (MSFT, GOOGL, CoreWeave)",
        ge=6,
        le=240,
    )
    max_age_months: int = P(
        108,
        "months",
        "hypothesis: 9 years; A100s still rented 6 years on (sources.md#gpu-economic-life)",
        ge=12,
        le=360,
    )
    failure_rate_per_year: float = P(
        0.09,
        "fraction per year",
        "[est] from Meta's Llama-3 training report (sources.md#llama-3)",
        ge=0,
        le=1,
    )
    power_kw_per_gpu: float = P(
        1.2,
        "kW per physical GPU",
        "hypothesis: ~0.7 kW of H100 board power plus host, network and cooling, the ~1.2 kW "
        "all-in behind opex_usd_per_gpu_hour; constant per physical GPU as opex is (a later GPU "
        "is more H100e in the same power); the shells a GPU needs and the series fleet_power_gw "
        "read it",
        gt=0,
        le=10,
    )
    shell_cost_usd_per_kw: float = P(
        11_700.0,
        "USD per kW of critical load",
        "Cushman & Wakefield, Data Center Development Cost Guide 2025 (sources.md#cushman-dc-cost): "
        "$11.7M per MW on average over 19 US markets ($9.3-15M), land and soft costs excluded; "
        "the buildings, power and cooling a GPU is installed in, apart from its price",
        ge=0,
    )
    shell_build_months: int = P(
        18,
        "months",
        "hypothesis: a hyperscale data centre takes ~1.5-2 years from start to power-on (range "
        "12-36); paid in equal instalments while built",
        ge=1,
        le=60,
    )
    shell_life_months: int = P(
        240,
        "months",
        "hypothesis: buildings and their power and cooling plant are depreciated over ~15-40 "
        "years (range 180-360), far beyond a GPU's 6",
        ge=12,
        le=600,
    )
    target_utilization: float = P(0.85, "fraction", "hypothesis: planned headroom", gt=0.1, le=1)
    forecast_window_months: int = P(12, "months", "hypothesis: trailing window for growth", ge=2, le=60)
    planning_horizon_months: int = P(
        6, "months", "hypothesis: capacity is planned this far beyond the lead time", ge=0, le=120
    )
    inference_want_at_user_cost: bool = P(
        True,
        "-",
        "Jorgenson (1963): capital is wanted up to where its rent equals its user cost, so the "
        "inference capacity builders plan for is users' need scaled by q^eta, q the spot rent at "
        "the planned headroom over a new GPU's user cost and eta users' usage elasticity at the "
        "planning horizon (token prices pass the rent through, design.md#mechanisms), as the "
        "training part is wanted at the user cost already; false plans for today's need "
        "whatever the rent, the rule before issue 12's follow-up (docs/ODD.md 7.5)",
    )
    max_forecast_horizon_months: int = P(
        18, "months", "hypothesis: nobody extrapolates growth further than this", ge=1, le=240
    )
    forecast_optimism: float = P(
        1.0,
        "x on log growth",
        "scenario: 1 = extrapolate observed growth; >1 = expect faster growth (mania)",
        ge=0,
        le=10,
    )
    herding: float = P(
        0.3, "weight", "hypothesis: weight on competitors' planned capacity growth", ge=0, le=1
    )
    order_adjustment_months: float = P(
        3.0, "months", "hypothesis: share of the capacity gap ordered each month = 1/this", ge=1, le=60
    )
    max_growth_per_year: float = P(
        6.0, "x per year", "hypothesis: cap on forecast growth (data-centre build limits)", ge=1, le=100
    )
    core_cash_flow_usd_per_month: float = P(
        40e9,
        "USD per month (all hyperscalers)",
        "company filings (sources.md#company-filings): Big-4 operating cash flow ~ $480B in 2024",
        ge=0,
    )
    core_cash_flow_growth_per_year: float = P(
        1.10, "x per year", "hypothesis: core business growth", ge=0.5, le=3
    )
    capex_share_of_core_cash_flow: float = P(
        0.6,
        "fraction",
        "company filings (sources.md#company-filings): 2025 capex ~$410B of ~$560B op. cash flow, "
        "~1/2 on servers (sources.md#capex-server-share)",
        ge=0,
        le=2,
    )
    initial_cash_usd: float = P(
        200e9,
        "USD (all hyperscalers)",
        "company filings (sources.md#company-filings): Big-4 net cash, rounded",
        ge=0,
    )
    max_debt_to_book: float = P(0.5, "fraction of book value", "hypothesis: borrowing capacity", ge=0, le=5)
    interest_rate_per_year: float = P(
        0.05, "fraction per year", "hypothesis: investment-grade borrowing", ge=0, le=1
    )
    cancellation_penalty: float = P(
        0.2, "fraction of order value", "hypothesis: deposit forfeited on cancelled GPU orders", ge=0, le=1
    )
    firm_order_share: float = P(
        0.5,
        "fraction of each order",
        "hypothesis: the prepaid or take-or-pay part of a GPU order that cannot be cancelled "
        "(filings report multi-year non-cancellable purchase obligations, "
        "sources.md#company-filings); range 0.2-0.9",
        ge=0,
        le=1,
    )
    discount_rate_per_year: float = P(
        0.12,
        "fraction per year",
        "Latent Space (sources.md#latent-space-breakeven): 12% IRR used for the H100 breakeven",
        ge=0,
        le=1,
    )
    realised_price_smoothing: float = P(
        0.3,
        "weight of the latest month",
        "hypothesis: the rent the impairment test expects is a ~3-month moving average",
        gt=0,
        le=1,
    )
    impairment_test_interval_months: int = P(
        3,
        "months",
        "ASC 360 practice (sources.md#asc-360): assets are tested when a quarter's results indicate it",
        ge=1,
        le=24,
    )
    debt_repayment_share_of_cash: float = P(
        0.1,
        "fraction of cash per month",
        "hypothesis: debt is repaid gradually from surplus cash",
        ge=0,
        le=1,
    )


class NeocloudConfig(Section):
    count: int = P(
        2,
        "agents",
        "design choice (design.md#agent-counts): 0-5 debt-financed builders next to the hyperscalers",
        ge=0,
        le=50,
    )
    initial_capacity_share: float = P(
        0.1,
        "fraction of the builders' initial capacity",
        "[est] company filings (sources.md#company-filings): CoreWeave ran ~250k GPUs at the end of "
        "2024, with Lambda, Crusoe and Nebius roughly a tenth of the clouds' AI fleet",
        ge=0,
        lt=1,
    )
    initial_cash_usd: float = P(
        5e9,
        "USD (all neoclouds)",
        "hypothesis: equity and cash of the neoclouds at the start of 2024, a few $B",
        ge=0,
    )
    interest_rate_per_year: float = P(
        0.11,
        "fraction per year",
        "company filings (sources.md#company-filings): CoreWeave's GPU-backed delayed-draw term "
        "loans at SOFR + ~6% (~11%)",
        ge=0,
        le=1,
    )
    loan_to_value: float = P(
        0.7,
        "fraction of book value",
        "hypothesis: lenders finance most of a GPU purchase against the GPUs; range 0.5-0.85",
        ge=0,
        lt=1,
    )
    amortisation_months: int = P(
        48,
        "months",
        "hypothesis: GPU-backed loans amortise over about 4 years, faster than the 6-year book "
        "life; range 36-60",
        ge=6,
        le=240,
    )
    liquidity_months: float = P(
        6.0,
        "months of debt service",
        "hypothesis: lenders' minimum-liquidity covenants keep this much cash out of new orders; range 0-12",
        ge=0,
        le=60,
    )
    reorganisation_months: int = P(
        12,
        "months",
        "hypothesis: a Chapter 11 case stays debt service for about a year (the telecom "
        "carriers' cases of 2001-02 took one to two, sources.md#fact-telecom); range 6-24",
        ge=0,
        le=60,
    )


class LabConfig(Section):
    count: int = P(20, "agents", "design choice (design.md#agent-counts): 10-30 labs", ge=1, le=200)
    size_dispersion: float = P(
        0.8, "sd of log size", "hypothesis: a few frontier labs hold most of the market", ge=0, le=5
    )
    initial_training_stock: float = P(
        1e6,
        "effective H100e-months (all labs)",
        "hypothesis: a scale only; quality compares labs by the log of their training stock",
        gt=0,
    )
    initial_cash_usd: float = P(
        60e9,
        "USD (all labs)",
        "press reports (sources.md#press-lab-finance): OpenAI, Anthropic, xAI etc. raised tens of $B "
        "by 2024; that is money raised, used as cash on hand in January 2024, so an upper end "
        "(estimated against the record it is $48B [30, 58]: branch experiment/initial-cash-estimated)",
        ge=0,
    )
    min_markup: float = P(
        0.0, "fraction over compute cost", "hypothesis: labs do not sell inference below cost", ge=-0.9, le=5
    )
    max_markup: float = P(
        1.0, "fraction over compute cost", "hypothesis: pricing power of a leader", ge=0, le=20
    )
    pricing_horizon_months: float | None = P(
        12.0,
        "months",
        "hypothesis: the horizon over which a lab expects users to answer its price (a year of "
        "list prices); users close users.adjustment_per_month (lambda) of their gap each month, "
        "so over H months the usage elasticity is eps (1 - (1 - lambda)^H) (docs/ODD.md 7.2); "
        "null prices on the long-run eps; range 1-24; the calibration estimates it when "
        "screening keeps it",
        gt=0,
        le=240,
    )
    price_on_marginal_cost: bool = P(
        True,
        "-",
        "true prices tokens on the market's smoothed spot price of an H100e-hour (what one more "
        "token's compute costs): sunk take-or-pay bills do not set the price "
        "(design.md#mechanisms); false prices on the average paid last month, reservations "
        "included, the rule before issue 13 (docs/ODD.md 7.2)",
    )
    training_runway_months: float = P(
        24.0,
        "months",
        "hypothesis: labs spend on training at most gross profit plus cash/this each month "
        "(~2-year runway); without training_on_returns they spend exactly that",
        ge=1,
        le=240,
    )
    training_on_returns: bool = P(
        True,
        "-",
        "design.md#mechanisms, issue 13 (docs/ODD.md 7.6): true, a lab trains as far as the "
        "return pays, at investors' valuation of the lab, within its money; false, the rule "
        "before it: gross profit plus cash over the runway times efficiency^(capability_share "
        "- 1) whatever the return",
    )
    exit_revenue_multiple: float = P(
        10.0,
        "x annual revenue",
        "hypothesis: what investors expect to sell a lab for, in years of revenue, once its growth "
        "is ordinary: ~10x for a mature software company (design.md#investors); range 5-15",
        gt=0,
        le=100,
    )
    investor_required_return: float = P(
        0.3,
        "per year",
        "hypothesis: a venture hurdle (design.md#investors); range 0.2-0.5",
        ge=0,
        le=5,
    )
    valuation_horizon_years: float = P(
        1.5,
        "years",
        "press reports (sources.md#press-lab-finance): with the exit multiple and required return "
        "above, investors who extrapolate a lab's revenue growth this far value a lab growing 3x "
        "a year at 35x its revenue (44x at 3.5x, OpenAI's 2024-25 growth), where OpenAI's "
        "rounds put it (25-40x); range 1-3",
        ge=0,
        le=10,
    )
    model_obsolescence_per_year: float = P(
        1.0,
        "per year",
        "hypothesis: a frontier model is overtaken within about a year (labs released a new "
        "frontier model every 6-12 months in 2023-25), so a lab keeps training to stand still; "
        "range 0.5-2",
        ge=0,
        le=12,
    )
    revenue_smoothing_months: float = P(
        6.0, "months", "hypothesis: training budgets follow revenue with a lag", ge=1, le=60
    )
    training_planning_months: float = P(
        1.0,
        "months",
        "hypothesis: frontier runs are planned, and their compute contracted, months ahead, so a "
        "lab's training spend closes 1/this of the gap to its budget each month and opens at the "
        "training month 0's fleet carries; 1 spends the budget at once; range 1-12",
        ge=1,
        le=36,
    )
    reserved_share: float = P(
        0.7,
        "fraction of inference need",
        "hypothesis: labs reserve most of their serving base load",
        ge=0,
        le=1,
    )
    contract_months: int = P(24, "months", "hypothesis: 1-3 year GPU reservations", ge=1, le=120)
    term_premium: float = P(0.1, "fraction over spot", "hypothesis", ge=-0.5, le=2)
    contracts_on_expected_rent: bool = P(
        True,
        "-",
        "expectations hypothesis of the term structure (sources.md#expectations-hypothesis): "
        "true prices a reservation on the spot rent expected over its term, which falls with the "
        "price of hardware (efficiency.hardware_doubling_years); false prices it on today's rent",
    )
    conserve_factor: float = P(
        3.0,
        "x runway",
        "hypothesis: labs whose revenue stops growing stretch their cash this much longer",
        ge=1,
        le=100,
    )
    funding_interval_months: int = P(
        12,
        "months",
        "press reports (sources.md#press-lab-finance): frontier labs raise roughly once a year",
        ge=1,
        le=120,
    )
    funding_interval_spread: float = P(
        0.5,
        "fraction of funding_interval_months",
        "hypothesis: each lab keeps its own cadence, drawn uniformly within +-this of the interval; "
        "press reports (sources.md#press-lab-finance): frontier labs' rounds came 4-21 months apart",
        ge=0,
        le=0.9,
    )
    funding_runway_months: float = P(
        12, "months of compute spending", "hypothesis: labs raise when cash falls below this", ge=1, le=120
    )
    funding_growth_window_months: int = P(
        12, "months", "hypothesis: investors judge revenue growth year over year", ge=1, le=60
    )
    funding_min_growth_per_year: float = P(
        1.5,
        "x per year",
        "hypothesis: investors' hurdle: they fund labs whose revenue grows at least this fast "
        "(design.md#investors: a 30%/yr return, buying at ~3x the exit revenue multiple, over "
        "5 years needs ~1.6x/yr)",
        ge=0,
        le=100,
    )
    funding_revenue_years: float = P(
        2.0,
        "years of revenue per round",
        "press reports (sources.md#press-lab-finance): OpenAI raised $40B in 2025 on ~$13B revenue (~3x)",
        ge=0,
        le=50,
    )
    frontier_token_share: float = P(
        0.0,
        "fraction of users' tokens",
        "hypothesis: the tokens whose tasks need the frontier's capability, served by models that "
        "spend the capability share of efficiency on capability (frontier list prices fell 1-4.5x "
        "over 2024-25 while the price at fixed capability fell 9-900x a year, "
        "sources.md#frontier-list-prices); the rest is a commodity tier whose compute per token "
        "falls with efficiency; 0 (one tier) by hand; range 0-0.5 [estimated]",
        ge=0,
        le=1,
    )
    capability_share: float = P(
        1.0,
        "fraction of an efficiency gain (in logs)",
        "Epoch AI (sources.md#epoch-training-compute): frontier training compute grew 4-5x a "
        "year while algorithmic efficiency grew ~3x, so labs spent efficiency on capability (1); "
        "0 spends it on cost (the same effective compute for 1/efficiency the GPUs); applies to "
        "training and to frontier tokens; the essay's open question, range 0-1 [estimated]",
        ge=0,
        le=1,
    )
    training_quality_exponent: float = P(
        0.1, "-", "hypothesis: quality ~ (effective training compute)^x", ge=0, le=2
    )


class InvestorConfig(Section):
    inflow_usd_per_month: float = P(
        1.3e9,
        "USD per month (all labs) at month 0",
        "press reports (sources.md#press-lab-finance): frontier-lab rounds ~$30-40B in 2024 and "
        "~$80-100B in 2025 [2nd]; with the growth and half-life below the inflow is ~$35B (2024) "
        "and ~$90B (2025)",
        ge=0,
    )
    inflow_growth_per_year: float = P(
        4.8,
        "x per year at month 0",
        "press reports (sources.md#press-lab-finance): 2025 rounds ~2.6x those of 2024, with the "
        "half-life below",
        ge=0.1,
        le=20,
    )
    inflow_growth_halflife_years: float = P(
        1.5,
        "years",
        "hypothesis: the growth rate of capital for AI labs halves this often; range 1-3 years "
        "(the inflow levels off at ~$240B-$1.1T a year)",
        gt=0,
        le=1000,
    )
    dry_powder_cap_months: float = P(
        12.0,
        "months of current inflow",
        "hypothesis: capital committed to AI labs but not placed within about a year goes to other "
        "uses; range 0-36",
        ge=0,
        le=120,
    )


class UserConfig(Section):
    n_segments: int = P(
        10_000, "segments", "resolution choice: weights keep the market size fixed", ge=10, le=10_000_000
    )
    potential_users: float = P(
        3.0e9,
        "people and firms",
        "hypothesis: over half of the ~5.5B internet users (sources.md#itu-internet-users)",
        gt=0,
    )
    initial_adoption: float = P(
        0.08, "fraction", "OpenAI (sources.md#openai-users): ~100-300M weekly users in 2024", ge=0, le=1
    )
    bass_p: float = P(
        0.03,
        "per year",
        "Sultan, Farley & Lehmann 1990 (sources.md#sultan-farley-lehmann-1990): p ~ 0.03",
        ge=0,
        le=5,
    )
    bass_q: float = P(
        0.38,
        "per year",
        "Sultan, Farley & Lehmann 1990 (sources.md#sultan-farley-lehmann-1990): q ~ 0.38",
        ge=0,
        le=20,
    )
    adoption_price_elasticity: float = P(
        0.05, "-", "hypothesis: cheaper AI widens the adopting market; 0 = pure Bass", ge=0, le=5
    )
    tokens_per_user_month: float = P(
        4.0e5,
        "tokens per adopted user per month at month 0",
        "hypothesis: sized so month-0 demand fills ~40% of capacity with inference",
        gt=0,
    )
    max_spend_usd_per_user_month: float = P(
        100.0,
        "USD per adopted user per month (average)",
        "hypothesis: a paid seat plus agent use; caps AI spending at ~$3.6T/yr, ~3% of world GDP",
        gt=0,
    )
    saturation_tokens_per_user_day: float | None = P(
        None,
        "tokens per adopted user per day (mean)",
        "hypothesis: a time budget, e.g. 3e6 for an adopted user's agents working ~8 hours a day "
        "at ~100 tokens/s; range 3e5 (reading and chat only) to 1e8 (~1,000 tokens/s around the "
        "clock, the bound) [estimated]; none (by hand) lets usage grow without bound, and with one tier "
        "(frontier_token_share 0) any budget empties the fleet once usage saturates "
        "(docs/ODD.md 7.5)",
        gt=0,
        le=1e8,
    )
    world_gdp_usd_per_year: float = P(
        1.1e14,
        "USD per year",
        "IMF World Economic Outlook (sources.md#imf-weo): world GDP ~$110T in 2024; the "
        "yardstick of the spending guard",
        gt=0,
    )
    usage_dispersion: float = P(1.0, "sd of log usage", "hypothesis: heavy users vs light users", ge=0, le=5)
    demand_elasticity: float = P(
        1.1,
        "-",
        "NBER 'The Emerging Market for Intelligence' (sources.md#nber-intelligence-market): "
        "LLM API elasticity ~ -1.1 [2nd]",
        ge=0,
        le=5,
    )
    adjustment_per_month: float = P(
        0.1,
        "fraction of the log gap closed per month",
        "hypothesis: new uses take a year or two to build (half-life ~7 months); "
        "short-run elasticity = this x long-run",
        gt=0,
        le=1,
    )
    usefulness_growth_per_year: float = P(
        1.8,
        "x per year at month 0",
        "hypothesis: usage growth at constant price as models get more useful (reasoning, agents)",
        ge=0.5,
        le=20,
    )
    usefulness_halflife_years: float = P(
        2.0, "years", "hypothesis: the usefulness growth rate halves this often (saturation)", gt=0, le=1000
    )
    capability_usefulness_elasticity: float = P(
        0.0,
        "-",
        "hypothesis: elasticity of usage per user, at a given price, to the effective compute "
        "the market's models were trained on (GPU-months x efficiency, smoothed over "
        "capability_lag_months): capability, not only price, makes AI worth using more, so an "
        "efficiency gain spent on capability raises demand. METR "
        "(sources.md#metr-time-horizons): the length of tasks frontier models complete doubled "
        "every ~7 months in 2019-2025 (~3.3x a year) while effective training compute grew "
        "~10-15x a year (sources.md#epoch-training-compute, #ho-2024): ~0.45 if usage scaled "
        "with task length; 0 leaves usefulness exogenous; range 0-0.6",
        ge=0,
        le=1,
    )
    capability_lag_months: float = P(
        6.0,
        "months",
        "hypothesis: users feel a training run once its model ships, some months after the "
        "compute is spent; the smoothing of effective training compute; range 3-12",
        ge=1,
        le=36,
    )
    price_sensitivity: float = P(2.0, "logit weight on -log price", "hypothesis", ge=0, le=50)
    price_sensitivity_dispersion: float = P(
        0.5, "sd of log price sensitivity", "hypothesis: users differ in how much price matters", ge=0, le=5
    )
    quality_sensitivity: float = P(1.0, "logit weight on quality", "hypothesis", ge=0, le=50)
    switch_rate_per_month: float = P(
        0.05, "fraction per month", "hypothesis: share reconsidering their lab", ge=0, le=1
    )

    @model_validator(mode="after")
    def _physical(self) -> UserConfig:
        """The physical guards start in the config: users begin below their time budget, and
        the spending cap cannot take AI past a tenth of world GDP."""
        per_day = self.tokens_per_user_month / DAYS_PER_MONTH
        saturation = self.saturation_tokens_per_user_day
        if saturation is not None and per_day >= saturation:
            raise ValueError(
                f"users.saturation_tokens_per_user_day = {saturation:g} is "
                f"not above month-0 usage ({per_day:.4g} tokens a day from tokens_per_user_month)"
            )
        share = 12 * self.max_spend_usd_per_user_month * self.potential_users / self.world_gdp_usd_per_year
        if share > MAX_AI_SPENDING_SHARE_OF_GDP:
            raise ValueError(
                f"users.max_spend_usd_per_user_month = {self.max_spend_usd_per_user_month:g} lets "
                f"{self.potential_users:g} users spend {share:.0%} of world GDP on AI (at most "
                f"{MAX_AI_SPENDING_SHARE_OF_GDP:.0%})"
            )
        return self


class GpuMarketConfig(Section):
    price_usd_per_h100e: float = P(
        40_000.0,
        "USD per installed H100e",
        "[est] $26k per H100e (sources.md#epoch-chip-counts) plus servers and network; the "
        "data-centre shell is hyperscalers.shell_cost_usd_per_kw, apart",
        gt=0,
    )
    production_h100e_per_month: float = P(
        0.19e6,
        "H100e per month (for the modelled builders)",
        "Epoch AI (sources.md#epoch-chip-counts): 3.33M H100e shipped by Nvidia in 2024, ~2/3 "
        "to clouds (the share the initial capacity counts)",
        gt=0,
    )
    production_growth_per_year: float = P(
        2.0,
        "x per year (physical output)",
        "Epoch AI (sources.md#epoch-chip-counts): 3.3M (2024) -> 8.9M (2025) H100e, 2.7x, of which "
        "~1.3x is price-performance; growth of the physical output when orders are backlogged",
        ge=1,
        le=20,
    )
    production_growth_halflife_years: float = P(
        4.0, "years", "hypothesis: fab and packaging expansion slows as the industry matures", gt=0, le=1000
    )
    production_growth_sourced_months: int = P(
        24,
        "months",
        "Epoch AI (sources.md#epoch-chip-counts): production_growth_per_year is measured over "
        "2024-25 output, so the rate holds through these months and halves every "
        "production_growth_halflife_years after",
        ge=0,
        le=1200,
    )
    normal_backlog_months: float = P(3.0, "months of production", "hypothesis", gt=0, le=60)
    initial_order_spread_months: int = P(
        3, "months", "hypothesis: the backlog at month 0 was ordered evenly over the last months", ge=1, le=24
    )
    min_lead_time_months: int = P(2, "months", "hypothesis: build, ship and install", ge=0, le=36)
    price_backlog_sensitivity: float = P(
        0.15, "fraction per month of excess backlog", "hypothesis", ge=0, le=5
    )
    max_price_premium: float = P(1.0, "fraction", "hypothesis: allocation premium cap", ge=0, le=10)
    max_price_discount: float = P(
        0.2,
        "fraction",
        "[est] Nvidia results (sources.md#nvidia-results): gross margin 64.9% (FY22) -> 56.9% "
        "(FY23) in the 2022 inventory correction, ~20% less price for the same cost",
        ge=0,
        lt=1,
    )
    production_cut_per_year: float = P(
        0.5,
        "fraction per year at an empty order book",
        "hypothesis: foundry and packaging capacity is reallocated within about a year when "
        "orders stop; range 0.2-0.8",
        ge=0,
        lt=1,
    )
    expansion_lag_months: int = P(
        0,
        "months",
        "hypothesis: foundry and packaging capacity decided on a backlog comes on line this many "
        "months later (range 0-24); the decisions in the pipe at month 0 are expansions, as "
        "orders were backlogged through 2023 (sources.md#gpu-trade-press: lead times 8-11 months "
        "in mid-2023); cuts act at once; 0 expands on this month's backlog",
        ge=0,
        le=120,
    )


class ComputeMarketConfig(Section):
    initial_price_usd_per_gpu_hour: float = P(
        3.0,
        "USD per H100e-hour",
        "SemiAnalysis (sources.md#semianalysis-rental): $2.99 (Oct 2024) after the $8-12 2023 peak",
        gt=0,
    )
    max_price_usd_per_gpu_hour: float = P(
        12.0,
        "USD per H100e-hour",
        "SemiAnalysis (sources.md#semianalysis-rental): $8-12/hr at the 2023 peak",
        gt=0,
    )
    price_adjustment_per_month: float = P(
        1.0,
        "share of the log gap closed per month",
        "hypothesis: GPU rental marketplaces reprice daily, so the monthly spot price clears "
        "(1); below 1 posted rents close that share of the gap to clearing each month "
        "(partial adjustment); range 0.2-1",
        gt=0,
        le=1,
    )
    price_smoothing_months: float = P(3.0, "months", "hypothesis: reference price for contracts", ge=1, le=60)
    training_max_age_months: int | None = P(
        24,
        "months",
        "hypothesis: frontier training runs on large contiguous clusters of recent GPUs (Llama 3 "
        "405B trained in 2024 on 16k H100s, a 2023 generation: sources.md#llama-3; a cluster two "
        "generations old costs ~2x per FLOP: sources.md#hobbhahn-besiroglu-2022), so training "
        "rents only cohorts delivered within this many months of the newest frontier cluster in "
        "service, and older GPUs serve inference only, at their own spot price; null lets "
        "training use any GPU; range 12-48",
        ge=1,
        le=240,
    )
    frontier_cluster_share: float = P(
        0.01,
        "fraction of installed capacity",
        "a month's deliveries count as a frontier cluster (and start the age limit) when they "
        "are at least this share of the fleet: Llama 3 405B's 16k H100s (sources.md#llama-3) "
        "were ~1% of the ~1.5M H100e installed in early 2024; range 0.002-0.05",
        gt=0,
        le=1,
    )
    training_elasticity_below_reference: float = P(
        1.0,
        "-",
        "hypothesis: extra spot compute labs take for training when the spot price is below the "
        "reference (1: unit elastic, no kink; 0: none until the reference falls, which makes "
        "the clearing price jump between an ask and scarcity)",
        ge=0,
        le=1,
    )


class BubbleConfig(Section):
    utilization_threshold: float = P(
        0.6,
        "fraction",
        "hypothesis; telecom (sources.md#fact-telecom): lit networks ~35% used in 2001",
        gt=0,
        lt=1,
    )
    persistence_months: int = P(
        6, "months", "hypothesis: two quarters below the threshold is a glut, not a blip", ge=1, le=120
    )
    merge_gap_months: int = P(
        2,
        "months",
        "hypothesis: a recovery this short does not end a glut (cf. minimum phase lengths in "
        "business-cycle dating)",
        ge=0,
        le=24,
    )
    impairment_share_threshold: float = P(
        0.1,
        "fraction of book value at onset",
        "hypothesis: a glut that impairs a tenth of the fleet is a financial event for its "
        "owners (telecom carriers wrote off most of their fibre, sources.md#fact-telecom); range 0.05-0.25",
        gt=0,
        le=1,
    )
    capex_drawdown_threshold: float = P(
        0.4,
        "fraction from peak",
        "telecom (sources.md#fact-telecom): carrier capex -42% in two years",
        gt=0,
        le=1,
    )


class FinanceConfig(Section):
    """How the analyst's view reads a run (model/finance.py); nothing here changes the run."""

    datacentre_cost_multiple: float = P(
        2.0,
        "x GPU spending",
        "Sequoia (sources.md#sequoia-600b): GPUs are about half of a data centre's total cost",
        ge=1,
        le=10,
    )
    end_user_gross_margin: float = P(
        0.5,
        "fraction of revenue",
        "Sequoia (sources.md#sequoia-600b): the software margin the GPUs' end users need",
        ge=0,
        lt=1,
    )
    warn_capex_to_ai_revenue: float = P(
        0.25,
        "ratio",
        "Sequoia (sources.md#sequoia-600b): the GPUs need 2 / (1 - 0.5) = 4 dollars of AI "
        "revenue per dollar of capex, so above 0.25 AI revenue is short of what they need",
        gt=0,
    )
    warn_capex_to_operating_cash_flow: float = P(
        1.0,
        "ratio",
        "hypothesis: above 1 the build-out is paid for by outside money; Big-4 2025: ~$410B capex "
        "of ~$560B operating cash flow = 0.73 (sources.md#company-filings)",
        gt=0,
    )
    warn_debt_funded_share_of_capex: float = P(
        0.5,
        "fraction",
        "hypothesis: more than half of capex on new debt (telecom carriers financed their fibre "
        "largely with debt, sources.md#fact-telecom)",
        gt=0,
    )
    warn_lab_commitments_years: float = P(
        2.0,
        "years of AI revenue",
        "hypothesis: compute commitments beyond two years of revenue are paid only if revenue grows",
        gt=0,
    )


class Config(Section):
    """A whole scenario: every number the model uses, nowhere else."""

    name: str = "baseline"
    description: str = ""
    # the estimated behavioural parameters the scenario runs with (config/parameters/<name>.yaml
    # or a path); None = every value as written, the schema's hand-set defaults where none is
    parameters: str | None = None
    run: RunConfig = RunConfig()
    efficiency: EfficiencyConfig = EfficiencyConfig()
    discovery: DiscoveryConfig = DiscoveryConfig()
    architects: ArchitectConfig = ArchitectConfig()
    hyperscalers: HyperscalerConfig = HyperscalerConfig()
    neoclouds: NeocloudConfig = NeocloudConfig()
    labs: LabConfig = LabConfig()
    investors: InvestorConfig = InvestorConfig()
    users: UserConfig = UserConfig()
    gpu_market: GpuMarketConfig = GpuMarketConfig()
    compute_market: ComputeMarketConfig = ComputeMarketConfig()
    bubble: BubbleConfig = BubbleConfig()
    finance: FinanceConfig = FinanceConfig()

    @model_validator(mode="after")
    def _scripted_discovery_can_happen(self) -> Config:
        """A scripted discovery that could never happen would silently give the baseline."""
        d = self.discovery
        if d.jump_size <= 1:
            return self
        if not 1 <= d.jump_month <= self.run.steps:
            raise ValueError(
                f"discovery.jump_month = {d.jump_month} is outside the run: a scripted discovery "
                f"(jump_size {d.jump_size:g}) must fall in months 1..{self.run.steps} (run.steps)"
            )
        if d.lab >= self.labs.count:
            raise ValueError(
                f"discovery.lab = {d.lab} does not exist: labs are numbered 0..{self.labs.count - 1} "
                "(labs.count)"
            )
        return self


# The headline parameters: model keyword arguments and CLI shortcuts for config key paths.
HEADLINE: dict[str, str] = {
    "jump_size": "discovery.jump_size",
    "jump_month": "discovery.jump_month",
    "open_publication": "discovery.open_publication",
    "demand_elasticity": "users.demand_elasticity",
    "forecast_optimism": "hyperscalers.forecast_optimism",
    "n_users": "users.n_segments",
    "steps": "run.steps",
}


# What a shipped scenario may set on top of the baseline: its shock and its horizon, nothing about
# how the agents behave (docs/design.md#scenarios: one parameter set explains every scenario, and
# a model that needs other behaviour for each story has not explained it). The shocks: a scripted
# discovery (every `discovery.*` key), a faster steady progress (gradual-10x) and the builders'
# manic expectations (demand-mania: forecast optimism and herding, issue 12). Any other key a
# shipped scenario sets is a behavioural parameter, which is estimated once for all of them.
SHOCK_KEYS: frozenset[str] = frozenset(
    {
        "name",
        "description",
        "extends",
        "run.steps",
        "run.seed",
        *(f"discovery.{key}" for key in DiscoveryConfig.model_fields),
        "efficiency.background_progress_per_year",
        "hyperscalers.forecast_optimism",
        "hyperscalers.herding",
    }
)
# The builders' expectations are behaviour that the mania scenario also sets as its shock: a
# parameter file may estimate them, and demand-mania's own values still win over the estimate.
EXPECTATIONS: frozenset[str] = frozenset({"hyperscalers.forecast_optimism", "hyperscalers.herding"})


def _leaves(data: dict[str, Any], prefix: str = "") -> list[str]:
    """The key paths (`section.key`) of a raw config mapping's values."""
    out: list[str] = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        out += _leaves(value, f"{path}.") if isinstance(value, dict) else [path]
    return out


def behavioural_overrides(scenario: str | Path) -> list[str]:
    """The keys a scenario file, or a file it extends on its way to the baseline, sets that are
    not in SHOCK_KEYS: the behavioural parameters it overrides (sorted; none for the baseline).

    Read from the raw YAML files of the `extends` chain, so a key counts whatever value it is
    given: a scenario that repeats today's baseline value would silently diverge once the
    baseline's parameters are estimated. Users' own files and `--set` may change anything; the
    shipped scenarios are held to this by tests/test_config.py.
    """
    path = resolve_path(scenario)
    _raw(path)  # the chain is valid (no cycle, every `extends` a name) before it is walked
    baseline = resolve_path("baseline").resolve()
    written: list[str] = []
    while path.resolve() != baseline:
        data = read_yaml(path)
        written += _leaves(data)
        parent = data.get("extends")
        if parent is None:
            break
        path = resolve_path(parent, relative_to=path.parent)
    return sorted(set(written) - SHOCK_KEYS)


def scenario_names() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML's safe loader, but a key given twice in one mapping is an error, not 'last wins'.
    On libyaml's C parser where PyYAML has it: it reads a config ~6x faster, a few % of a run."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}'", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path, error: type[ConfigError] = ConfigError) -> dict[str, Any]:
    """A YAML file that must hold a mapping; mistakes raise `error` naming the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not a UTF-8 text file (byte {exc.start}: {exc.reason})") from None
    if "\x00" in text:
        raise error(f"{path}: not a text file (it holds NUL bytes)")
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: no arbitrary objects
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"{path}:{where}: malformed YAML: {problem}") from None
    if data is None:
        raise error(f"{path}: the file is empty")
    if not isinstance(data, dict):
        raise error(f"{path}: expected a mapping of sections, got {type(data).__name__}")
    return data


def resolve_path(scenario: str | Path, relative_to: Path | None = None) -> Path:
    """A scenario name from `config/` or a path to a YAML file (relative to the folder
    `relative_to`, when given: a file's `extends` is read from that file's folder)."""
    text = str(scenario)
    path = Path(text)
    if _is_path(text):
        if relative_to is not None and not path.is_absolute():
            path = relative_to / path
        if not path.is_file():
            raise ConfigError(f"{path}: no such scenario file")
        return path
    candidate = CONFIG_DIR / f"{text}.yaml"
    if not candidate.is_file():
        raise ConfigError(f"unknown scenario '{text}'; known: {', '.join(scenario_names())}")
    return candidate


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _raw(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    if path.resolve() in seen:
        raise ConfigError(f"{path}: 'extends' forms a cycle")
    data = read_yaml(path)
    named = data.get("parameters")
    if isinstance(named, str) and _is_path(named) and not Path(named).is_absolute():
        data["parameters"] = str(path.parent / named)  # a file's paths are read from its folder
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ConfigError(f"{path}: key 'extends' must be a scenario name, got {parent!r}")
    base = _raw(resolve_path(parent, relative_to=path.parent), (*seen, path.resolve()))
    base.pop("name", None)  # a scenario is named by its own file, not its parent's
    return _merge(base, data)


def _is_path(text: str) -> bool:
    """A file's name or path, not a name to look up in `config/`."""
    return Path(text).suffix in (".yaml", ".yml") or os.sep in text


def parameter_file(name: str) -> tuple[str, dict[str, Any]]:
    """The estimated parameters a config names, `config/parameters/<name>.yaml` or a path: the
    file's `source` (where the values come from) and its values by section.

    Such a file (the `calibrated.yaml` of `aibubble calibrate`, for one) holds only behavioural
    parameters: a shock, a horizon or a seed set there would change every scenario's story,
    which is each scenario's own business (SHOCK_KEYS).
    """
    path = Path(name) if _is_path(name) else CONFIG_DIR / "parameters" / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in (CONFIG_DIR / "parameters").glob("*.yaml")))
        raise ConfigError(f"key 'parameters' = {name!r}: no such parameter file (shipped: {known})")
    data = read_yaml(path)
    source = data.pop("source", f"estimated ({path.name})")
    if not isinstance(source, str):
        raise ConfigError(f"{path}: key 'source' must be text saying where the values come from")
    sections = {
        n: type(f.default) for n, f in Config.model_fields.items() if isinstance(f.default, BaseModel)
    }
    for key in _leaves(data):
        section, _, field = key.partition(".")
        if section not in sections or field not in sections[section].model_fields:
            raise ConfigError(f"{path}: unknown parameter '{key}'")
        if section == "run" or (key in SHOCK_KEYS and key not in EXPECTATIONS):
            raise ConfigError(f"{path}: '{key}' is a scenario's shock or horizon, not a parameter")
    return source, data


def set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set the key path `section.key` of a raw config mapping, making missing sections."""
    keys = dotted.split(".")
    node = data
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"key '{dotted}': '{key}' is not a section")
        node = child
    node[keys[-1]] = value


def format_error(exc: ValidationError, origin: str, tags: Collection[str] = ()) -> str:
    """A pydantic error as one line for people: where, the key path, and what was expected.

    `tags` are the values of a discriminated union's tag (a sweep design's `kind`): pydantic puts
    the tag in the key path, where nobody wrote it, so it is left out.
    """
    err = exc.errors()[0]
    key = ".".join(p for i, p in enumerate(map(str, err["loc"])) if not (i and p in tags))
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    if not key:  # a check across keys: its message names them
        return f"{origin}: {err['msg'].removeprefix('Value error, ')}{more}"
    if err["type"] == "extra_forbidden":
        return f"{origin}: unknown key '{key}'{more}"
    if err["type"] == "missing":
        return f"{origin}: key '{key}' is required{more}"
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "union_tag_invalid":
        msg = f"{err['ctx']['discriminator']} must be one of {err['ctx']['expected_tags']}"
    shown = "" if isinstance(err.get("input"), dict | list) else f" = {err.get('input')!r}"
    return f"{origin}: key '{key}'{shown}: {msg}{more}"


def build(data: dict[str, Any], origin: str) -> Config:
    """Validate a raw mapping into a Config, turning pydantic errors into one line."""
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_error(exc, origin)) from None


def with_headline(cfg: Config, values: dict[str, Any]) -> Config:
    """Apply headline keyword arguments (jump_size=...) to a resolved config."""
    if not values:
        return cfg
    data = cfg.model_dump()
    for key, value in values.items():
        section, name = HEADLINE[key].split(".")
        data[section][name] = value
    return build(data, f"scenario '{cfg.name}'")


def load_config(scenario: str | Path = "baseline", overrides: dict[str, Any] | None = None) -> Config:
    """Load a scenario by name or path and apply `key.path -> value` overrides.

    Headline names (`jump_size`, ...) are accepted as shortcuts for their key paths.
    """
    path = resolve_path(scenario)
    data = _raw(path)
    data.setdefault("name", path.stem)
    given: dict[str, str] = {}
    for key, value in (overrides or {}).items():
        dotted = HEADLINE.get(key, key)
        if dotted in given:
            raise ConfigError(f"--set {given[dotted]} and --set {key} both set '{dotted}': give it once")
        given[dotted] = key
        set_path(data, dotted, value)
    origin = f"{path} with --set {', '.join(map(str, overrides))}" if overrides else str(path)
    named = data.get("parameters")
    if named == "none":  # what `--set parameters=none` gives
        named = data["parameters"] = None
    if named is not None and not isinstance(named, str):
        raise ConfigError(
            f"{origin}: key 'parameters' must be a parameter file's name or path, got {named!r}"
        )
    if named:  # under every value the files and --set state: only what they leave unsaid
        data = _merge(parameter_file(named)[1], data)
        origin += f" (parameters {named})"
    return build(data, origin)


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse a CLI `key.path=value`; the value is read as YAML (numbers, booleans, lists)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set '{text}': expected key.path=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else raw
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def _range(metadata: list[Any]) -> str:
    """Allowed values from pydantic's bounds, e.g. '[0, 1]', '> 0', '>= 1'."""
    low = high = ""
    for bound in metadata:
        for attr, text in (("ge", "[{}"), ("gt", "({}"), ("le", "{}]"), ("lt", "{})")):
            value = getattr(bound, attr, None)
            if value is None:
                continue
            if attr in ("ge", "gt"):
                low = text.format(f"{value:g}")
            else:
                high = text.format(f"{value:g}")
    if low and high:
        return f"{low}, {high}"
    if low:
        return (">= " if low[0] == "[" else "> ") + low[1:]
    if high:
        return ("<= " if high[-1] == "]" else "< ") + high[:-1]
    return ""


def parameter_table(config: Config) -> str:
    """Every parameter as a Markdown table: key, value, unit, allowed range, source."""
    lines = ["| key | value | unit | range | source |", "|---|---|---|---|---|"]
    for row in describe(config):
        if "." not in row["key"]:
            continue
        value = row["value"]
        if isinstance(value, bool):
            text = str(value).lower()
        elif isinstance(value, float):
            text = f"{value:.6g}"
        else:
            text = str(value)
        cells = [f"`{row['key']}`", text, row["unit"], row["range"], row["source"]]
        lines.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def describe(config: Config) -> list[dict[str, Any]]:
    """Every key with its value, unit, allowed range and source, in file order."""
    rows: list[dict[str, Any]] = []

    def walk(section: BaseModel, prefix: str) -> None:
        for name, field in type(section).model_fields.items():
            value = getattr(section, name)
            if isinstance(value, BaseModel):
                walk(value, f"{prefix}{name}.")
                continue
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            rows.append(
                {
                    "key": prefix + name,
                    "value": value,
                    "unit": extra.get("unit", ""),
                    "range": _range(field.metadata),
                    "source": extra.get("source", ""),
                }
            )

    walk(config, "")
    if config.parameters:  # an estimate says so, and keeps the hand-set value's source beside it
        source, data = parameter_file(config.parameters)
        estimated = {key: _get(data, key) for key in _leaves(data)}
        defaults = {row["key"]: row["value"] for row in describe(Config())}
        for row in rows:
            if row["key"] in estimated and row["value"] == estimated[row["key"]]:
                hand = defaults[row["key"]]
                shown = f"{hand:g}" if isinstance(hand, float) else str(hand)
                row["source"] = f"{source}; hand-set {shown}: {row['source']}"
    return rows


def _get(data: dict[str, Any], dotted: str) -> Any:
    for key in dotted.split("."):
        data = data[key]
    return data
