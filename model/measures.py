"""What a run measures, declared once: name, unit and label of every model-level series and
every summary outcome.

The data collector collects exactly `SERIES`; sweeps check requested columns against it;
analysis, plots, the command line and the page take their labels and units from here, so a
measure added to the model shows up everywhere with the same name and unit.
"""

from __future__ import annotations

from dataclasses import dataclass

HOURS_PER_MONTH = 730.0  # hours in an average month: prices are per hour, flows per month
DAYS_PER_MONTH = 365.25 / 12
BILLION = 1e9


@dataclass(frozen=True)
class Measure:
    name: str
    unit: str
    label: str

    def axis(self) -> str:
        """An axis label with its unit, e.g. 'utilization [fraction]'."""
        return f"{self.label} [{self.unit}]"


def _table(*rows: tuple[str, str, str]) -> dict[str, Measure]:
    return {name: Measure(name, unit, label) for name, unit, label in rows}


# Model-level series, one value per month, in the order the data collector stores them.
SERIES: dict[str, Measure] = _table(
    ("year", "calendar year", "year"),
    ("installed_capacity_h100e", "H100e", "installed capacity (in service this month)"),
    ("compute_demand_h100e", "H100e", "compute demand"),
    ("compute_used_h100e", "H100e", "compute used"),
    ("inference_used_h100e", "H100e", "compute used to serve users"),
    ("training_used_h100e", "H100e", "compute used for training"),
    ("unmet_compute_h100e", "H100e", "unmet compute demand"),
    ("utilization", "fraction", "utilization"),
    ("spot_price_usd_per_gpu_hour", "USD per H100e-hour", "spot rental price (recent GPUs)"),
    (
        "legacy_spot_price_usd_per_gpu_hour",
        "USD per H100e-hour",
        "spot rental price of GPUs too old to train on",
    ),
    ("trainable_capacity_h100e", "H100e", "capacity recent enough for frontier training"),
    ("reserved_price_usd_per_gpu_hour", "USD per H100e-hour", "reserved rental price"),
    ("capex_usd", "USD per month", "capex (GPUs and data-centre shells)"),
    ("gpu_orders_h100e", "H100e per month", "GPU orders"),
    ("gpu_cancellations_h100e", "H100e per month", "GPU order cancellations"),
    ("gpu_deliveries_h100e", "H100e per month", "GPU deliveries"),
    ("gpu_failed_h100e", "H100e per month", "GPUs failed"),
    ("gpu_retired_h100e", "H100e per month", "GPUs retired"),
    ("gpu_backlog_h100e", "H100e", "GPU order backlog"),
    ("gpu_firm_backlog_h100e", "H100e", "non-cancellable GPU order backlog"),
    ("gpu_production_h100e_per_month", "H100e per month", "GPU production capacity"),
    ("gpu_price_usd_per_h100e", "USD per H100e", "GPU price"),
    ("gpu_lead_time_months", "months", "GPU lead time"),
    ("token_price_usd_per_mtok", "USD per million tokens", "token price"),
    ("commodity_token_price_usd_per_mtok", "USD per million tokens", "token price at fixed capability"),
    ("frontier_token_price_usd_per_mtok", "USD per million tokens", "frontier token price"),
    ("tokens_served", "tokens per month", "tokens served"),
    ("tokens_demanded", "tokens per month", "tokens demanded"),
    ("tokens_per_user_day", "tokens per adopted user per day", "tokens demanded per adopted user"),
    ("ai_spending_usd", "USD per month", "users' AI spending"),
    ("ai_spending_share_of_gdp", "fraction of 2024 world GDP", "users' AI spending, annualised"),
    ("fleet_power_gw", "GW", "power the installed fleet draws at full use"),
    ("shells_gw", "GW of critical load", "data-centre shells built"),
    ("shells_building_gw", "GW of critical load", "data-centre shells being built"),
    ("shell_capex_usd", "USD per month", "capex on data-centre shells"),
    ("shell_book_value_usd", "USD", "book value of the shells (built and being built)"),
    ("lab_funding_requested_usd", "USD per month", "lab funding requested"),
    ("lab_funding_usd", "USD per month", "lab funding raised"),
    ("investor_inflow_usd", "USD per month", "new investor capital for labs"),
    ("investor_capital_available_usd", "USD", "investors' dry powder (after this month's rounds)"),
    ("compute_rent_usd", "USD per month", "compute rent paid"),
    ("fleet_opex_usd", "USD per month", "builders' operating cost of the fleet"),
    ("builder_borrowing_usd", "USD per month", "builders' new borrowing"),
    ("lab_commitments_usd", "USD", "labs' remaining reserved-compute commitments"),
    ("frontier_efficiency", "x month 0", "frontier efficiency"),
    ("mean_adopted_efficiency", "x month 0", "mean adopted efficiency"),
    ("training_capability", "x month 0", "effective training compute, smoothed (what users get from AI)"),
    ("write_downs_usd", "USD per month", "write-downs (all causes)"),
    ("write_offs_failure_usd", "USD per month", "book value of failed GPUs"),
    ("write_offs_retirement_usd", "USD per month", "book value of retired GPUs"),
    ("impairment_usd", "USD per month", "impairment"),
    ("write_offs_default_usd", "USD per month", "fleet written down at a builder's default"),
    ("default_losses_usd", "USD per month", "debt lenders wrote off at defaults"),
    ("neocloud_defaults", "defaults", "neocloud defaults (cumulative)"),
    ("book_value_usd", "USD", "book value of the GPU fleet"),
    ("stranded_book_value_usd", "USD", "stranded book value"),
    ("hyperscaler_profit_usd", "USD per month", "hyperscalers' profit"),
    ("cancellation_penalties_usd", "USD per month", "GPU order cancellation penalties"),
    ("hyperscaler_roic_per_year", "fraction per year", "hyperscalers' return on the fleet's book"),
    ("tobin_q", "ratio", "rent at planned headroom over a new GPU's user cost"),
    ("lab_profit_usd", "USD per month", "labs' profit"),
    ("hyperscaler_cash_usd", "USD", "hyperscalers' cash"),
    ("hyperscaler_debt_usd", "USD", "hyperscalers' debt"),
    ("lab_cash_usd", "USD", "labs' cash"),
    ("bankruptcies", "labs", "lab bankruptcies (cumulative)"),
    ("labs_alive", "labs", "labs alive"),
    ("adoption_share", "fraction", "users' adoption share"),
    ("overcapacity", "true/false", "overcapacity"),
    ("weak_demand", "true/false", "weak compute demand"),
    ("glut", "true/false", "glut (overcapacity and weak demand)"),
    ("capex_trailing_12m_usd", "USD per 12 months", "trailing 12-month capex"),
    ("capex_drawdown", "fraction below peak", "capex drawdown"),
)

# Summary outcomes of one run (`run_summary`), as sweeps, analysis and the CLI report them.
OUTCOMES: dict[str, Measure] = _table(
    ("glut", "probability", "P(glut)"),
    ("glut_episodes", "episodes", "glut episodes"),
    ("glut_months", "months", "months in glut (from onset)"),
    ("first_glut_month", "month", "first glut month"),
    ("longest_glut_months", "months", "longest glut"),
    ("glut_min_utilization", "fraction", "lowest utilization in a glut"),
    ("bubble", "probability", "P(bubble)"),
    ("months_in_bubble", "months", "months in bubble episodes (from onset)"),
    ("first_bubble_month", "month", "first bubble month"),
    ("peak_overcapacity", "fraction of capacity idle", "peak overcapacity"),
    ("capex_peak_usd_per_month", "USD per month", "peak capex"),
    ("capex_drawdown", "fraction below peak", "capex drawdown"),
    ("glut_capex_drawdown", "fraction below peak", "capex drawdown during a glut"),
    ("burst", "probability", "P(capex burst in a glut)"),
    ("write_offs_usd", "USD", "write-offs (all causes)"),
    ("write_offs_failure_usd", "USD", "write-offs: failed GPUs"),
    ("write_offs_retirement_usd", "USD", "write-offs: retired GPUs"),
    ("impairment_usd", "USD", "impairment"),
    ("write_offs_default_usd", "USD", "write-offs: builders' defaults"),
    ("default_losses_usd", "USD", "lenders' losses at defaults"),
    ("neocloud_defaults", "defaults", "neocloud defaults"),
    ("glut_impairment_usd", "USD", "impairment during gluts"),
    ("reabsorption_months", "months", "reabsorption (from onset)"),
    ("glut_refill_users_share", "fraction of idle capacity closed", "first glut closed by users"),
    ("glut_refill_training_share", "fraction of idle capacity closed", "first glut closed by training"),
    ("glut_refill_fleet_share", "fraction of idle capacity closed", "first glut closed by a smaller fleet"),
    ("bankruptcies", "labs", "lab bankruptcies"),
    ("labs_alive", "labs", "labs alive"),
    ("final_utilization", "fraction", "final utilization"),
    ("final_installed_capacity_h100e", "H100e", "final installed capacity"),
    ("peak_empty_shell_share", "fraction of shells", "data-centre shells empty (peak)"),
    ("final_shells_gw", "GW of critical load", "data-centre shells at the end"),
    ("revenue_gap_peak_usd_per_year", "USD per year", "peak revenue gap (Sequoia)"),
    ("vintage_npv_usd", "USD", "GPU vintages' NPV at the cost of capital"),
    ("worst_vintage_irr_per_year", "fraction per year", "worst GPU vintage's expected IRR"),
    ("economic_life_months", "months", "GPUs' economic life (capacity-weighted)"),
    (
        "profit_overstated_usd_per_year",
        "USD per year",
        "profit overstated by book lives above economic lives",
    ),
)

# Outcomes that grade how bad a run was (colour scales of phase diagrams, fan charts).
SEVERITIES = ("peak_overcapacity", "months_in_bubble", "capex_drawdown", "write_offs_usd")


def unit(name: str) -> str:
    """Unit of a series or outcome by name ('' when it is not declared)."""
    found = SERIES.get(name) or OUTCOMES.get(name)
    return found.unit if found else ""


def label(name: str) -> str:
    """Label of a series or outcome by name (the name itself when it is not declared)."""
    found = SERIES.get(name) or OUTCOMES.get(name)
    return found.label if found else name
