"""Each agent's monthly rules alone, against closed forms.

The agents live in a stub model (a real `mesa.Model` holding only what they read: the
ledger, the event log, the contract book, random streams, the labs and architects); the
collaborators are the real ones (Ledger, EventLog, ContractBook, GpuVendor, Diffusion).
"""

from __future__ import annotations

import importlib
import math
import sys

import mesa
import numpy as np
import pytest

from aibubble.agents import AILab, Hyperscaler, ModelArchitect
from aibubble.agents.hyperscaler import rivals_growth
from aibubble.config import (
    ArchitectConfig,
    Config,
    EfficiencyConfig,
    GpuMarketConfig,
    HyperscalerConfig,
    LabConfig,
)
from aibubble.contracts import ContractBook
from aibubble.efficiency import Diffusion
from aibubble.events import EventLog
from aibubble.gpu_market import GpuVendor, Order
from aibubble.ledger import Ledger
from aibubble.market import FLEET_HISTORY_MONTHS
from aibubble.measures import HOURS_PER_MONTH as H
from aibubble.vintages import VintageBook


class World(mesa.Model):
    """The parts of the market an agent reads, and nothing else."""

    def __init__(self, seed: int = 0, tokens_per_h100e_month: float = 1e6) -> None:
        super().__init__(rng=seed)
        self.config = Config(efficiency=EfficiencyConfig(tokens_per_h100e_month=tokens_per_h100e_month))
        self.ledger = Ledger()
        self.events = EventLog()
        self.contracts = ContractBook()
        self.vintages = VintageBook(-FLEET_HISTORY_MONTHS, 12)
        self.streams = {"exits": np.random.default_rng(seed), "architects": np.random.default_rng(seed + 1)}
        self.seed_entropy = seed
        self.background_efficiency = 2.0
        self.labs: list[AILab] = []
        self.architects: list[ModelArchitect] = []
        self.diffusion = Diffusion(self)


def money_in_the_world(world: World) -> float:
    """All balances, inside and outside the model: double entry keeps this at zero."""
    return sum(world.ledger.external.values()) + sum(getattr(a, "cash", 0.0) for a in world.agents)


def events(world: World, kind: str) -> list[tuple]:
    return [row for row in world.events.rows if row[3] == kind]


# --- hyperscalers ------------------------------------------------------------------


def hyperscaler(world: World, cash: float = 0.0, capital_share: float = 1.0, **cfg) -> Hyperscaler:
    hs = Hyperscaler(world, HyperscalerConfig(**cfg), 0.0, capital_share)
    world.ledger.transfer("core_business", hs, cash, "initial_funding")
    return hs


def vendor() -> GpuVendor:
    """A vendor so large that no backlog here adds a price premium, and that gives no discount
    for its short backlog: $40k per H100e at month 0."""
    cfg = GpuMarketConfig(production_h100e_per_month=1e6, max_price_discount=0.0)
    return GpuVendor(cfg, EfficiencyConfig(), cfg.production_h100e_per_month)


# herding, failures and optimism off: the target is the capacity wanted (headroom included)
# extrapolated to the horizon
PLANNING = {
    "herding": 0.0,
    "failure_rate_per_year": 0.0,
    "forecast_optimism": 1.0,
    "target_utilization": 0.8,
    "planning_horizon_months": 6,
    "max_forecast_horizon_months": 18,
    "order_adjustment_months": 3.0,
    "forecast_window_months": 12,
    "max_debt_to_book": 0.5,
}
GROWING = [1000 * 1.02**k for k in range(13)]  # capacity wanted: 2% a month from the installed 1000
TARGET = 1000 * 1.02**22  # 1.02^12 to date, then 1.02^10 over lead time (4) + planning (6)
OPEX = 0.45  # USD per H100e-hour of a new GPU, for the user cost


def test_initial_fleet_is_bought_at_its_vintage_price_and_depreciated_to_date():
    world = World()
    hs = hyperscaler(world, book_life_months=72, opex_usd_per_gpu_hour=0.45, forecast_window_months=12)
    hs.install_initial_fleet(
        born=np.array([-24, -12]),
        h100e=np.array([100.0, 200.0]),
        performance=np.array([1.0, 1.5]),
        gpu_price_usd_per_h100e=40_000.0,
        growth_per_month=1.1,
        price=3.0,
    )
    cost = np.array([100 * 40_000.0, 200 * 40_000.0 / 1.5])
    assert hs.cost == pytest.approx(cost)
    # depreciated from the month after delivery, as deliveries in the run are
    assert hs.book == pytest.approx(cost * np.array([1 - 23 / 72, 1 - 11 / 72]))
    assert hs.opex == pytest.approx([0.45, 0.45 / 1.5])
    start = 300.0  # the capacity wanted at month 0 is the installed fleet (headroom included)
    assert hs.demand_history == pytest.approx([start * 1.1 ** (k - 12) for k in range(13)])
    assert hs.utilization == 0.85 and hs.realised_price == 3.0


def test_a_forecast_above_capacity_orders_a_share_of_the_gap_and_logs_the_order():
    world = World()
    hs = hyperscaler(world, cash=1e12, **PLANNING)
    hs.add_cohort(0, 1000.0, 0.5, 4e7, 4e7)
    hs.demand_history = list(GROWING)
    v = vendor()
    hs.plan_orders(0, v, lead_time=4.0, rivals_growth=1.0, opex_usd_per_gpu_hour=OPEX)
    gap = (TARGET - 1000) / 3
    assert hs.orders == pytest.approx(gap)
    assert hs.planned_growth == pytest.approx(TARGET / 1000)
    assert v.pending(hs.unique_id) == pytest.approx((gap, gap * 40_000.0))
    assert v.firm(hs.unique_id) == pytest.approx(0.5 * gap)  # firm_order_share 0.5 by default
    (event,) = events(world, "order")
    assert event[:5] == (0, hs.unique_id, "hyperscaler", "order", "forecast above capacity")
    assert event[5] == pytest.approx(gap)
    assert hs.cash == 1e12  # an order is paid on delivery, not when placed


def test_orders_are_bounded_by_the_capex_room_net_of_the_pipeline():
    world = World()
    hs = hyperscaler(world, cash=1e6, **PLANNING)
    hs.add_cohort(0, 1000.0, 0.5, 4e7, 4e7)
    hs.debt = 1.5e7  # of the 0.5 x 4e7 = 2e7 it may borrow against its book
    hs.demand_history = list(GROWING)
    v = vendor()
    v.place(hs.unique_id, 100.0, 0)  # $4e6 already committed
    hs.plan_orders(0, v, lead_time=4.0, rivals_growth=1.0, opex_usd_per_gpu_hour=OPEX)
    room = 1e6 + (2e7 - 1.5e7) - 4e6  # cash + debt headroom - pipeline value
    assert room / 40_000 < (TARGET - 1100) / 3  # the budget binds, not the gap
    assert hs.capex_room(4e6) == pytest.approx(room)
    assert hs.orders == pytest.approx(room / 40_000)
    assert v.pending(hs.unique_id)[0] == pytest.approx(100.0 + room / 40_000)


def test_with_no_capex_room_it_orders_nothing_and_logs_nothing():
    world = World()
    hs = hyperscaler(world, cash=0.0, **PLANNING | {"max_debt_to_book": 0.0})
    hs.add_cohort(0, 1000.0, 0.5, 4e7, 4e7)
    hs.demand_history = list(GROWING)
    v = vendor()
    hs.plan_orders(0, v, lead_time=4.0, rivals_growth=1.0, opex_usd_per_gpu_hour=OPEX)
    assert hs.orders == 0.0 and v.backlog == [] and events(world, "order") == []


def test_a_forecast_below_capacity_cancels_the_newest_orders_and_pays_the_penalty():
    world = World()
    hs = hyperscaler(world, cash=1e7, cancellation_penalty=0.2, **PLANNING)
    hs.add_cohort(0, 1000.0, 0.5, 4e7, 4e7)
    hs.demand_history = [1000.0] * 13  # flat: the target is exactly the installed 1000
    v = vendor()
    oldest = v.place(hs.unique_id, 90.0, 0)
    middle = v.place(hs.unique_id, 20.0, 1)
    rival = v.place(hs.unique_id + 100, 50.0, 1)
    newest = v.place(hs.unique_id, 10.0, 2)
    assert len({oldest.price_usd_per_h100e, middle.price_usd_per_h100e, newest.price_usd_per_h100e}) == 3
    hs.plan_orders(3, v, lead_time=4.0, rivals_growth=1.0, opex_usd_per_gpu_hour=OPEX)
    # gap = (1000 - (1000 + 120)) / 3 = -40: the newest 10, the middle 20, then 10 of the oldest
    assert hs.cancellations == pytest.approx(40.0)
    penalty = 0.2 * (
        10 * newest.price_usd_per_h100e + 20 * middle.price_usd_per_h100e + 10 * oldest.price_usd_per_h100e
    )
    assert world.ledger.flow("cancellation_penalty") == pytest.approx(penalty)
    assert hs.cash == pytest.approx(1e7 - penalty)
    assert world.ledger.external["gpu_vendor"] == pytest.approx(penalty)
    assert [(o.buyer, o.placed) for o in v.backlog] == [(hs.unique_id, 0), (rival.buyer, 1)]
    assert [o.h100e for o in v.backlog] == pytest.approx([80.0, 50.0])
    (event,) = events(world, "cancellation")
    assert event[:5] == (3, hs.unique_id, "hyperscaler", "cancellation", "forecast below capacity")
    assert event[5] == pytest.approx(40.0)
    assert hs.orders == 0.0
    assert money_in_the_world(world) == pytest.approx(0.0, abs=1e-6)


def test_it_never_cancels_more_than_it_has_on_order():
    world = World()
    hs = hyperscaler(world, cash=1e7, cancellation_penalty=0.2, **PLANNING)
    hs.add_cohort(0, 1000.0, 0.5, 4e7, 4e7)
    hs.demand_history = [500.0] * 13  # target 500: gap (500 - 1120) / 3 < -120
    v = vendor()
    v.place(hs.unique_id, 90.0, 0)
    v.place(hs.unique_id, 30.0, 1)
    _, value = v.pending(hs.unique_id)
    hs.plan_orders(2, v, lead_time=4.0, rivals_growth=1.0, opex_usd_per_gpu_hour=OPEX)
    assert hs.cancellations == pytest.approx(120.0)
    assert v.backlog == []
    assert world.ledger.flow("cancellation_penalty") == pytest.approx(0.2 * value)


def test_too_much_capacity_and_nothing_on_order_does_nothing():
    world = World()
    hs = hyperscaler(world, cash=1e7, **PLANNING)
    hs.add_cohort(0, 1000.0, 0.5, 4e7, 4e7)
    hs.demand_history = [400.0] * 13
    hs.plan_orders(0, vendor(), lead_time=4.0, rivals_growth=1.0, opex_usd_per_gpu_hour=OPEX)
    assert hs.orders == hs.cancellations == 0.0
    assert world.events.rows == [] and world.ledger.flow("cancellation_penalty") == 0.0


def test_a_cancellation_never_cuts_the_firm_part_of_an_order_and_conserves_money():
    world = World()
    hs = hyperscaler(world, cash=1e7, cancellation_penalty=0.2, **PLANNING)
    hs.add_cohort(0, 1000.0, 0.5, 4e7, 4e7)
    hs.demand_history = [1000.0] * 13  # the target is the installed 1000
    v = vendor()
    oldest = v.place(hs.unique_id, 90.0, 0, firm_share=0.5)  # 45 firm, 45 cancellable
    newest = v.place(hs.unique_id, 30.0, 1, firm_share=0.5)  # 15 firm, 15 cancellable
    hs.plan_orders(2, v, lead_time=4.0, rivals_growth=1.0, opex_usd_per_gpu_hour=OPEX)
    # gap (1000 - 1120) / 3 = -40: the cancellable 15 of the newest, then 25 of the oldest
    assert hs.cancellations == pytest.approx(40.0)
    assert [o.h100e for o in v.backlog] == pytest.approx([65.0, 15.0])
    assert [o.firm for o in v.backlog] == pytest.approx([45.0, 15.0])
    first = 0.2 * (15 * newest.price_usd_per_h100e + 25 * oldest.price_usd_per_h100e)
    assert hs.penalty == pytest.approx(first)
    hs.demand_history = [500.0] * 13  # target 500: gap (500 - 1080) / 3 beyond the 80 on order
    hs.plan_orders(3, v, lead_time=4.0, rivals_growth=1.0, opex_usd_per_gpu_hour=OPEX)
    assert hs.cancellations == pytest.approx(20.0)  # what was left of the oldest's cancellable part
    assert v.pending(hs.unique_id)[0] == pytest.approx(60.0) == v.firm(hs.unique_id)
    second = 0.2 * 20 * oldest.price_usd_per_h100e
    assert world.ledger.flow("cancellation_penalty") == pytest.approx(first + second)
    assert hs.cash == pytest.approx(1e7 - first - second)
    assert world.ledger.external["gpu_vendor"] == pytest.approx(first + second)
    assert money_in_the_world(world) == pytest.approx(0.0, abs=1e-6)


def test_a_fully_firm_backlog_cancels_nothing_pays_no_penalty_and_logs_nothing():
    world = World()
    hs = hyperscaler(world, cash=1e7, cancellation_penalty=0.2, **PLANNING)
    hs.add_cohort(0, 1000.0, 0.5, 4e7, 4e7)
    hs.demand_history = [500.0] * 13  # target 500: it would cancel all 120 on order
    v = vendor()
    v.place(hs.unique_id, 90.0, 0, firm_share=1.0)
    v.place(hs.unique_id, 30.0, 1, firm_share=1.0)
    hs.profit = 123.0  # booked by run_month earlier in the month
    hs.plan_orders(2, v, lead_time=4.0, rivals_growth=1.0, opex_usd_per_gpu_hour=OPEX)
    assert hs.cancellations == 0.0 and hs.orders == 0.0 and hs.penalty == 0.0
    assert v.pending(hs.unique_id)[0] == pytest.approx(120.0) == v.firm(hs.unique_id)
    assert world.ledger.flow("cancellation_penalty") == 0.0 and hs.cash == 1e7
    assert hs.profit == 123.0
    assert events(world, "cancellation") == []
    assert money_in_the_world(world) == pytest.approx(0.0, abs=1e-6)


def test_user_cost_is_the_price_times_rate_plus_depreciation_plus_attrition_per_hour_plus_opex():
    world = World()
    hs = hyperscaler(world, discount_rate_per_year=0.12, book_life_months=72, failure_rate_per_year=0.09)
    # 40,000 x (0.12 + 12 / 72 + 0.09) / (12 x 730) + 0.45 = 1.71994 + 0.45 $/h
    assert hs.user_cost(40_000.0, 0.45, 0.0) == pytest.approx(40_000 * (0.12 + 1 / 6 + 0.09) / 8760 + 0.45)
    assert hs.user_cost(40_000.0, 0.45, 0.0) == pytest.approx(2.16994, abs=1e-5)
    assert hs.user_cost(0.0, 0.45, 0.0) == 0.45
    # a shell of $14,040 a new H100e (1.2 kW at $11,700) costs its return and 1/20 a year
    shell = hs.user_cost(40_000.0, 0.45, 14_040.0) - hs.user_cost(40_000.0, 0.45, 0.0)
    assert shell == pytest.approx(14_040 * (0.12 + 12 / 240) / 8760)
    assert hs.shell_usd_per_h100e(0) == pytest.approx(14_040.0)
    assert hs.shell_usd_per_h100e(30) == pytest.approx(7_020.0)  # 2.5 years: twice the H100e per kW


def test_q_is_the_realised_rent_at_the_planned_headroom_over_the_user_cost_at_the_quoted_price():
    world = World()
    cfg = {"discount_rate_per_year": 0.12, "book_life_months": 72, "target_utilization": 0.85}
    hs = hyperscaler(world, cash=1e7, **PLANNING | cfg | {"failure_rate_per_year": 0.09})
    hs.add_cohort(0, 1000.0, 0.5, 4e7, 4e7)
    hs.demand_history = [1000.0] * 13
    hs.realised_price = 3.0
    rate = (0.12 + 12 / 72 + 0.09) / (12 * H)
    shell = 11_700 * 1.2 * (0.12 + 12 / 240) / (12 * H)  # its shell's user cost, per H100e-hour
    hs.plan_orders(0, vendor(), lead_time=4.0, rivals_growth=1.0, opex_usd_per_gpu_hour=0.45)
    assert hs.q == pytest.approx(3.0 * 0.85 / (40_000 * rate + shell + 0.45))  # $40k: no discount
    glut = GpuMarketConfig(production_h100e_per_month=1e6)  # empty book: the 20 % discount
    hs.plan_orders(0, GpuVendor(glut, EfficiencyConfig(), 1e6), 4.0, 1.0, 0.45)
    assert hs.q == pytest.approx(3.0 * 0.85 / (0.8 * 40_000 * rate + shell + 0.45))


def test_builders_start_shells_for_the_fleet_they_expect_when_the_shells_are_built():
    """At month 0 a GPU is one H100e and 1.2 kW. Demand grows 3 % a month: over the 18 months
    a shell takes, the builder expects 1000 x 1.03^18 H100e, at month 18's price-performance
    (2^(18/30) H100e per GPU), beyond the 1000 it has and the 300 it has ordered (delivered at
    month 4's)."""
    world = World()
    hs = hyperscaler(world, cash=1e12, **PLANNING)
    hs.add_cohort(0, 1000.0, 0.5, 4e7, 4e7)
    hs.demand_history = [1000.0 * 1.03 ** (k - 12) for k in range(13)]
    gpus = vendor()
    gpus.place(hs.unique_id, 300.0, -1)
    hs.plan_orders(0, gpus, lead_time=4.0, rivals_growth=1.0, opex_usd_per_gpu_hour=0.45)
    later = 1000.0 * 1.03**18

    def wanted(pipeline: float) -> float:
        return 1.2 * (1000.0 + pipeline / 2 ** (4 / 30) + (later - 1000.0 - pipeline) / 2 ** (18 / 30))

    pipeline = 300.0 + hs.orders
    assert hs.shells.building_kw == pytest.approx(wanted(pipeline))
    # a month on, the shells it is building count: it adds only what its next order needs
    # sooner (the GPUs of an order come at month 4's price-performance, not month 18's)
    hs.plan_orders(0, gpus, lead_time=4.0, rivals_growth=1.0, opex_usd_per_gpu_hour=0.45)
    assert hs.shells.building_kw == pytest.approx(wanted(pipeline + hs.orders))


def test_builders_that_expect_a_shrinking_market_start_no_shells():
    world = World()
    hs = hyperscaler(world, cash=1e12, **PLANNING)
    hs.add_cohort(0, 1000.0, 0.5, 4e7, 4e7)
    hs.shells.open(np.array([1200.0]), np.array([0.0]), np.zeros(hs.cfg.shell_build_months))
    hs.demand_history = [1000.0 * 0.97 ** (k - 12) for k in range(13)]
    hs.plan_orders(0, vendor(), lead_time=4.0, rivals_growth=1.0, opex_usd_per_gpu_hour=0.45)
    assert hs.shells.building_kw == 0.0


def test_forecast_extrapolates_log_growth_scaled_by_optimism_and_capped():
    world = World()
    hs = hyperscaler(world, forecast_window_months=12, forecast_optimism=1.5, max_growth_per_year=6.0)
    hs.demand_history = [100 * 1.03**k for k in range(20)]  # longer than the window
    assert hs.forecast_growth() == pytest.approx(1.5 * math.log(1.03))
    hs.demand_history = [100 * 0.97**k for k in range(13)]  # pessimism is damped, not amplified
    assert hs.forecast_growth() == pytest.approx(math.log(0.97) / 1.5)
    hs.demand_history = [100 * 2.0**k for k in range(13)]
    assert hs.forecast_growth() == pytest.approx(math.log(6.0) / 12)
    hs.demand_history = [100.0]
    assert hs.forecast_growth() == 0.0


def test_herding_pulls_the_target_toward_rivals_growth_in_logs_net_of_expected_failures():
    world = World()
    hs = hyperscaler(
        world,
        herding=0.3,
        forecast_optimism=1.0,
        failure_rate_per_year=0.09,
        planning_horizon_months=6,
        max_forecast_horizon_months=18,
        target_utilization=0.85,
    )
    hs.add_cohort(0, 200.0, 0.5, 8e6, 8e6)
    hs.demand_history = [100 * 1.03**k for k in range(13)]
    gap = hs.capacity_gap(lead_time=3.0, pipeline=20.0, rivals_growth=1.4)
    own = 100 * 1.03**12 * 1.03**9  # horizon 3 + 6 months; the history has the headroom in it
    target = math.exp(0.7 * math.log(own) + 0.3 * math.log(200 * 1.4))
    assert gap == pytest.approx(target - 220 * 0.91 ** (9 / 12))
    assert hs.planned_growth == pytest.approx(target / 200)
    hs.capacity_gap(lead_time=30.0, pipeline=0.0, rivals_growth=1.4)  # horizon capped at 18
    own = 100 * 1.03**12 * 1.03**18
    assert hs.planned_growth == pytest.approx(math.exp(0.7 * math.log(own) + 0.3 * math.log(280)) / 200)


def test_rivals_growth_is_the_capacity_weighted_mean_of_the_others():
    out = rivals_growth(np.array([1.1, 1.2, 1.5]), np.array([100.0, 300.0, 0.0]))
    assert out == pytest.approx([1.2, 1.1, (1.1 * 100 + 1.2 * 300) / 400])
    assert rivals_growth(np.array([1.7]), np.array([50.0])) == pytest.approx([1.0])  # no rivals
    assert rivals_growth(np.array([1.3, 2.0]), np.array([10.0, 0.0])) == pytest.approx([1.0, 1.3])


def test_a_host_offers_every_cohort_at_its_ask_and_marks_the_recent_ones():
    world = World()
    hs = hyperscaler(world, ask_markup=1.0)
    for born, opex, h in [(-30, 0.3, 100.0), (-5, 0.1, 50.0), (-20, 0.2, 80.0)]:
        hs.add_cohort(born, h, opex, 1.0, 1.0)
    offer = hs.offer()
    assert offer.capacity == pytest.approx([100.0, 50.0, 80.0]) and offer.recent is None
    assert offer.ask == pytest.approx([0.6, 0.2, 0.4])
    assert hs.offer(trainable_since=-24).recent.tolist() == [False, True, True]


def test_depreciation_is_straight_line_over_the_book_life_and_stops_at_zero():
    """A cohort is depreciated from the month after its delivery: one delivered at 0 is charged
    in months 1-72; one delivered at -60 was charged in months -59..0 (60 of 72) and has
    months 1-12 left. On the straight line book / remaining life is cost / 72 every month."""
    world = World()
    hs = hyperscaler(world, book_life_months=72)
    hs.add_cohort(0, 100.0, 0.5, 7.2e6, 7.2e6)
    hs.add_cohort(-60, 100.0, 0.5, 3.6e6, 3.6e6 * (1 - 60 / 72))
    assert hs.remaining_life(1) == pytest.approx([72, 12])
    months = [hs.depreciate(step) for step in range(1, 31)]
    assert months[0] == pytest.approx(1e5 + 5e4)  # 7.2e6 / 72 + 6e5 / 12
    assert hs.book == pytest.approx([7.2e6 * (1 - 30 / 72), 0.0])
    assert months[12:] == pytest.approx([1e5] * 18)  # the old cohort is fully depreciated at 12
    for step in range(31, 81):  # past the end of the book life of both
        hs.depreciate(step)
    assert hs.book == pytest.approx([0.0, 0.0], abs=1e-6) and np.all(hs.book >= 0)
    assert hs.depreciate(81) == pytest.approx(0.0, abs=1e-6)


def test_failures_remove_the_monthly_fraction_of_the_annual_rate_and_their_book_value():
    world = World()
    hs = hyperscaler(world, failure_rate_per_year=0.09)
    hs.add_cohort(0, 1000.0, 0.5, 4e7, 3e7)
    frac = 1 - 0.91 ** (1 / 12)
    lost, written = hs.fail()
    assert lost == pytest.approx(1000 * frac) and written == pytest.approx(3e7 * frac)
    for _ in range(11):
        hs.fail()
    assert hs.installed == pytest.approx(1000 * 0.91)  # a year of failures is the annual rate
    assert hs.book_value == pytest.approx(3e7 * 0.91)
    assert hs.cost == pytest.approx([4e7 * 0.91])


def test_depreciation_and_failures_keep_the_book_on_the_straight_line_of_the_survivors():
    world = World()
    hs = hyperscaler(world, failure_rate_per_year=0.2, book_life_months=72)
    hs.add_cohort(0, 100.0, 0.5, 7.2e6, 7.2e6)
    for step in range(1, 25):
        hs.depreciate(step)
        hs.fail()
    # book x (1 - 1 / (73 - step)) x survival each month: prod (72 - s) / (73 - s) = 48 / 72
    survivors = 0.8**2
    assert hs.installed == pytest.approx(100 * survivors)
    assert hs.book_value == pytest.approx(7.2e6 * survivors * (1 - 24 / 72))


def test_cohorts_retire_at_their_maximum_age_or_when_opex_exceeds_the_rent():
    world = World()
    hs = hyperscaler(world, max_age_months=108)
    hs.add_cohort(-8, 10.0, 0.2, 1.0, 100.0)  # age 108 at step 100: retires
    hs.add_cohort(-7, 20.0, 0.2, 1.0, 200.0)  # age 107: stays
    hs.add_cohort(50, 30.0, 2.0, 1.0, 300.0)  # opex above the rent of 1.5: stranded
    hs.add_cohort(60, 40.0, 1.5, 1.0, 400.0)  # opex equal to the rent: stays
    retired, book = hs.retire(100, price=1.5)
    assert (retired, book) == pytest.approx((40.0, 400.0))
    assert list(hs.born) == [-7, 60] and hs.h100e == pytest.approx([20.0, 40.0])
    assert hs.book == pytest.approx([200.0, 400.0])
    assert hs.retire(100, price=1.5) == (0.0, 0.0)


def test_impairment_writes_book_down_to_the_discounted_margin_and_spares_covered_cohorts():
    world = World()
    hs = hyperscaler(world, book_life_months=72)
    hs.add_cohort(-36, 100.0, 0.5, 7.2e6, 3e6)  # 72 - 36 + 1 = 37 months left, month 0 included
    hs.add_cohort(-36, 100.0, 0.5, 7.2e6, 1e6)  # same cohort, booked below what it will earn
    hs.add_cohort(-80, 100.0, 0.5, 7.2e6, 5e5)  # past its book life: nothing left to earn
    r = 0.01
    margin = (2.0 - 0.5) * H * 0.5 * 100
    recoverable = margin * (1 - (1 + r) ** -37) / r
    assert margin * 37 < 3e6  # undiscounted: the first cohort fails the recoverability test
    assert 1e6 < recoverable < 3e6
    loss = hs.impair(0, price=2.0, utilization=0.5, monthly_rate=r)
    assert loss == pytest.approx(3e6 - recoverable + 5e5)
    assert hs.book == pytest.approx([recoverable, 1e6, 0.0])


def test_impairment_without_discounting_counts_the_remaining_months_and_no_margin_means_no_value():
    world = World()
    hs = hyperscaler(world, book_life_months=72)
    hs.add_cohort(-36, 100.0, 0.5, 7.2e6, 3e6)
    hs.add_cohort(-36, 100.0, 2.5, 7.2e6, 3e6)  # opex above the price: worth nothing
    loss = hs.impair(0, price=2.0, utilization=0.5, monthly_rate=0.0)
    recoverable = 1.5 * H * 0.5 * 100 * 37  # 37 months left, month 0 included
    assert hs.book == pytest.approx([recoverable, 0.0])
    assert loss == pytest.approx(6e6 - recoverable)


def test_asc_360_impairs_only_when_undiscounted_cash_flows_fall_short_of_the_book():
    """Recoverability first: margin 1.5 x 730 x 0.5 x 100 = $54,750 a month for the 37 months
    left is $2.03M undiscounted, $1.69M discounted at 1 % a month. A $1.9M book is recoverable
    (no loss, though above the discounted value); a $2.1M book is not and is written down to the
    discounted value, a loss larger than its undiscounted shortfall."""
    world = World()
    hs = hyperscaler(world, book_life_months=72)
    hs.add_cohort(-36, 100.0, 0.5, 7.2e6, 1.9e6)
    hs.add_cohort(-36, 100.0, 0.5, 7.2e6, 2.1e6)
    r = 0.01
    margin = 1.5 * H * 0.5 * 100
    undiscounted = margin * 37
    discounted = margin * (1 - (1 + r) ** -37) / r
    assert discounted < 1.9e6 <= undiscounted < 2.1e6
    loss = hs.impair(0, price=2.0, utilization=0.5, monthly_rate=r)
    assert hs.book == pytest.approx([1.9e6, discounted])
    assert loss == pytest.approx(2.1e6 - discounted)
    assert loss > 2.1e6 - undiscounted


def test_expected_utilization_is_the_headroom_scaled_down_when_the_forecast_falls_short():
    world = World()
    hs = hyperscaler(
        world,
        target_utilization=0.8,
        planning_horizon_months=6,
        forecast_window_months=3,
        forecast_optimism=1.0,
    )
    hs.add_cohort(0, 100.0, 0.5, 1.0, 1.0)
    hs.demand_history = [60.0 * 1.05**k for k in range(4)]
    forecast = 60 * 1.05**3 * 1.05**6  # 93.1 H100e wanted in 6 months: fewer than 100
    assert hs.expected_utilization() == pytest.approx(0.8 * forecast / 100)
    hs.demand_history = [100.0, 110.0, 120.0, 130.0]  # more than installed: the headroom
    assert hs.expected_utilization() == pytest.approx(0.8)


def test_an_impaired_cohort_depreciates_its_written_down_book_over_its_remaining_life():
    """ASC 360-10-35-20: the written-down carrying amount is the new basis, depreciated over
    the 37 months left (0-36); at cost / 72 = 1e5 a month it would be gone in 18.5 months."""
    world = World()
    hs = hyperscaler(world, book_life_months=72)
    hs.add_cohort(-36, 100.0, 0.5, 7.2e6, 3.7e6)  # on the straight line: charged in months -35..-1
    margin = 1.85e6 / 37  # undiscounted (= discounted at 0) cash flows: half the book
    hs.impair(0, price=0.5 + margin / (H * 100), utilization=1.0, monthly_rate=0.0)
    assert hs.book_value == pytest.approx(1.85e6)
    months = [hs.depreciate(step) for step in range(18)]
    assert months == pytest.approx([1.85e6 / 37] * 18)
    assert hs.book_value == pytest.approx(1.85e6 * (1 - 18 / 37))
    for step in range(18, 36):
        hs.depreciate(step)
    assert hs.book_value == pytest.approx(1.85e6 / 37)  # one month left: month 36
    hs.depreciate(36)  # the last month of its book life (born -36 + 72)
    assert hs.book_value == pytest.approx(0.0, abs=1e-6)


def run_month_world():
    """A host with one healthy, one stranded cohort, debt, and a month of use at $2/h."""
    world = World()
    hs = hyperscaler(
        world,
        cash=1e6,
        capital_share=0.25,
        book_life_months=72,
        failure_rate_per_year=0.12,
        interest_rate_per_year=0.06,
        capex_share_of_core_cash_flow=0.5,
        discount_rate_per_year=0.0,
        impairment_test_interval_months=3,
        forecast_window_months=3,
    )
    world.ledger.transfer("lenders", hs, 2e6, "borrowing")
    hs.debt = 2e6
    # delivered at 0 and depreciated in months 1-5: 67 months of book life left at month 6
    hs.add_cohort(0, 100.0, 0.5, 7.2e6, 6.7e6)  # healthy: opex $0.5/h
    hs.add_cohort(0, 50.0, 3.0, 3.6e6, 3.35e6)  # stranded: opex $3/h above the $2.5 rent
    hs.demand_history = [60.0, 70.0, 75.0, 78.0]
    return world, hs


def test_run_month_books_profit_as_revenue_less_opex_depreciation_write_downs_and_interest():
    world, hs = run_month_world()
    used = np.array([80.0, 0.0])
    revenue = 80 * 2.0 * H
    failed, retired = hs.run_month(6, used, revenue, 1e8, wanted=75.0, rent_reference=2.5)
    f = 1 - 0.88 ** (1 / 12)
    opex = 80 * 0.5 * H
    dep = 6.7e6 / 67 + 3.35e6 / 67  # book over the 67 months left: cost / 72 on the straight line
    interest = 2e6 * 0.06 / 12
    failed_book = (6.7e6 - 1e5 + 3.35e6 - 5e4) * f
    retired_book = (3.35e6 - 5e4) * (1 - f)
    # it expects its share of the market to want 75 x (75 / 70)^(6 / 3) H100e in 6 months
    # (3-month log trend over the planning horizon), fewer than its 100 (1 - f): utilization
    # 0.85 x that / (100 (1 - f)). The healthy cohort, the only one left, is expected to earn
    # (2 - 0.5) $/h on 0.85 x that for the 66 months after this one (month 6 is depreciated
    # and earned already); undiscounted, short of its book, and at a zero discount rate also
    # what it is written down to
    forecast = 75 * (75 / 70) ** 2
    assert forecast < 100 * (1 - f)
    recoverable = 1.5 * H * 0.85 * forecast * 66
    assert recoverable < 6.6e6 * (1 - f)
    impaired = (6.7e6 - 1e5) * (1 - f) - recoverable
    assert (failed, retired) == pytest.approx((150 * f, 50 * (1 - f)))
    assert hs.opex_paid == pytest.approx(opex) and hs.depreciation == pytest.approx(dep)
    assert hs.expected_utilization() == pytest.approx(0.85 * forecast / (100 * (1 - f)))
    assert hs.written_off == pytest.approx(
        {"failure": failed_book, "retirement": retired_book, "impairment": impaired, "default": 0.0}
    )
    assert hs.write_downs == pytest.approx(failed_book + retired_book + impaired)
    assert hs.profit == pytest.approx(revenue - opex - dep - hs.write_downs - interest)
    assert hs.penalty == 0.0
    assert hs.book == pytest.approx([recoverable])
    assert hs.utilization == pytest.approx(80 / 150) and hs.realised_price == pytest.approx(2.0)
    assert hs.demand_history == pytest.approx([70.0, 75.0, 78.0, 75.0])  # wanted, one window
    (retirement,) = events(world, "retirement")
    (write_down,) = events(world, "write_down")
    assert retirement[5] == pytest.approx(50 * (1 - f)) and write_down[5] == pytest.approx(impaired)


def test_a_cancellation_penalty_is_an_expense_of_the_month_it_is_paid():
    world, hs = run_month_world()
    v = vendor()
    order = v.place(hs.unique_id, 500.0, 0)  # nothing firm
    revenue = 80 * 2.0 * H
    hs.run_month(6, np.array([80.0, 0.0]), revenue, 1e8, 75.0, 2.5)
    booked = hs.profit
    cash = hs.cash
    hs.plan_orders(6, v, lead_time=4.0, rivals_growth=1.0, opex_usd_per_gpu_hour=OPEX)
    # herding 0.3 toward rivals' growth 1 over a 4 + 6 month horizon, 12 %/yr failures:
    # target = (75 x (75 / 70)^(10 / 3))^0.7 x installed^0.3, the pipeline survives 0.88^(10/12)
    f = 1 - 0.88 ** (1 / 12)
    installed = 100 * (1 - f)
    target = (75 * (75 / 70) ** (10 / 3)) ** 0.7 * installed**0.3
    cancelled = ((installed + 500) * 0.88 ** (10 / 12) - target) / 3
    assert 0 < cancelled < 500
    assert hs.cancellations == pytest.approx(cancelled)
    penalty = 0.2 * cancelled * order.price_usd_per_h100e
    assert hs.penalty == pytest.approx(penalty)
    interest = 2e6 * 0.06 / 12
    expected = revenue - hs.opex_paid - hs.depreciation - hs.write_downs - interest - penalty
    assert hs.profit == pytest.approx(expected)
    assert hs.profit == pytest.approx(booked - penalty)
    assert hs.cash == pytest.approx(cash - penalty)
    assert money_in_the_world(world) == pytest.approx(0.0, abs=1e-6)


def test_run_month_pays_opex_and_interest_and_receives_its_capital_allocation_through_the_ledger():
    world, hs = run_month_world()
    hs.deliveries, hs.capex = 10.0, 4e5  # last month's: reset for this month's deliveries
    hs.run_month(6, np.array([80.0, 0.0]), 80 * 2.0 * H, 1e8, 0.0, 2.5)
    flows = world.ledger.step_flows
    assert flows["opex"] == pytest.approx(80 * 0.5 * H)
    assert flows["capital_allocation"] == pytest.approx(1e8 * 0.5 * 0.25)
    assert flows["interest"] == pytest.approx(1e4)
    # revenue arrives from the labs' payments, not here
    assert hs.cash == pytest.approx(1e6 + 2e6 - 80 * 0.5 * H + 1.25e7 - 1e4)
    assert world.ledger.external["operations"] == pytest.approx(80 * 0.5 * H)
    assert money_in_the_world(world) == pytest.approx(0.0, abs=1e-6)
    assert hs.deliveries == hs.capex == 0.0


def test_between_impairment_tests_nothing_is_written_down_for_rental_value():
    world, hs = run_month_world()
    hs.run_month(7, np.array([80.0, 0.0]), 80 * 2.0 * H, 1e8, 0.0, 2.5)
    f = 1 - 0.88 ** (1 / 12)
    assert hs.book == pytest.approx([(6.7e6 - 6.7e6 / 66) * (1 - f)])  # 66 months left at 7
    assert events(world, "write_down") == []


def test_a_delivery_is_paid_through_the_ledger_and_enters_service_as_a_new_cohort():
    world = World()
    hs = hyperscaler(world, cash=5e6)
    hs.shells.open(np.array([1000.0]), np.array([0.0]), np.zeros(hs.cfg.shell_build_months))  # empty
    order = Order(hs.unique_id, 50.0, 30_000.0, 0)
    hs.take_delivery(4, order, opex_usd_per_gpu_hour=0.3)
    hs.take_delivery(4, order, opex_usd_per_gpu_hour=0.3)
    assert hs.cash == pytest.approx(5e6 - 3e6) and world.ledger.flow("capex") == pytest.approx(3e6)
    assert (hs.deliveries, hs.capex) == pytest.approx((100.0, 3e6))
    assert list(hs.born) == [4, 4] and hs.book == pytest.approx([1.5e6, 1.5e6])
    assert hs.cost == pytest.approx([1.5e6, 1.5e6]) and hs.opex == pytest.approx([0.3, 0.3])


def test_gpus_delivered_without_an_empty_shell_get_one_bought_built():
    """Month 0's GPU is one H100e; 50 of them need 60 kW at 1.2 kW each, at $11,700 a kW."""
    world = World()
    hs = hyperscaler(world, cash=5e6)
    hs.shells.open(np.array([20.0]), np.array([0.0]), np.zeros(hs.cfg.shell_build_months))
    hs.take_delivery(0, Order(hs.unique_id, 50.0, 30_000.0, 0), opex_usd_per_gpu_hour=0.3)
    shell = (60.0 - 20.0) * 11_700.0
    assert world.ledger.flow("shell_capex") == pytest.approx(shell) and hs.shell_capex == pytest.approx(shell)
    assert hs.capex == pytest.approx(1.5e6 + shell) and hs.cash == pytest.approx(5e6 - 1.5e6 - shell)
    assert hs.shells.kw == pytest.approx(60.0) and hs.shells.book == pytest.approx(60.0 * 11_700.0)


def test_a_host_short_of_cash_borrows_exactly_the_shortfall():
    world = World()
    hs = hyperscaler(world)
    world.ledger.transfer(hs, "gpu_vendor", 3e6, "capex")
    hs.debt = 1e6
    hs.finance()
    assert hs.cash == 0.0 and hs.debt == pytest.approx(4e6)
    assert world.ledger.flow("borrowing") == pytest.approx(3e6)


@pytest.mark.parametrize(("debt", "repaid"), [(1e9, 0.1 * 5e7), (1e6, 1e6), (0.0, 0.0)])
def test_a_host_in_debt_repays_the_configured_share_of_its_cash(debt, repaid):
    world = World()
    hs = hyperscaler(world, cash=5e7, debt_repayment_share_of_cash=0.1)
    hs.debt = debt
    hs.finance()
    assert world.ledger.flow("repayment") == pytest.approx(repaid)
    assert hs.debt == pytest.approx(debt - repaid) and hs.cash == pytest.approx(5e7 - repaid)


# --- labs -----------------------------------------------------------------------------


def lab(world: World, cash: float = 0.0, gain: float = 1.0, **cfg) -> AILab:
    """A lab at $2/h compute; with the world's efficiency 2 it serves 2e6 x gain tokens per H100e-month."""
    new = AILab(world, LabConfig(**cfg), len(world.labs), 0.0, 100.0, compute_price=2.0, revenue=0.0)
    new.gain = gain
    world.labs.append(new)
    world.ledger.transfer("investors", new, cash, "initial_funding")
    return new


def hosts(world: World, n: int) -> list[Hyperscaler]:
    return [hyperscaler(world) for _ in range(n)]


def test_a_lab_serves_what_its_inference_compute_allows_and_users_pay_through_the_ledger():
    world = World()
    ai = lab(world, cash=1e4, gain=1.5)  # 3e6 tokens per H100e-month
    to = hosts(world, 2)
    ai.price = 1e-6
    ai.observe_demand(1e9)  # more than 200 H100e-months can serve
    ai.serve(200.0, 100.0)
    paid = ai.settle(0, 0.0, 0.0, np.array([1000.0, 460.0]), to, reference_price=3.0)
    assert ai.tokens_served == pytest.approx(6e8)
    assert world.ledger.flow("ai_spending") == pytest.approx(600.0)
    assert world.ledger.external["end_users"] == pytest.approx(-600.0)
    assert paid == pytest.approx([1000.0, 460.0]) and [h.cash for h in to] == pytest.approx([1000, 460])
    assert ai.cash == pytest.approx(1e4 + 600 - 1460)
    assert ai.compute_price == pytest.approx(1460 / (300 * H))  # spend over hours used
    assert ai.training_stock == pytest.approx(100 + 100 * 3.0)  # effective compute
    assert ai.revenue == pytest.approx(600.0) and ai.revenue_ema == pytest.approx(600 / 6)
    assert ai.cost_ema == pytest.approx(1460 / 6)
    assert ai.gross_ema == pytest.approx((600 - 1460 * 200 / 300) / 6)
    assert money_in_the_world(world) == pytest.approx(0.0, abs=1e-9)


def test_a_lab_with_spare_capacity_serves_exactly_what_its_users_demand():
    world = World()
    ai = lab(world, cash=1e4, gain=1.5)
    ai.price = 1e-6
    ai.observe_demand(1e8)
    ai.serve(200.0, 0.0)
    ai.settle(0, 0.0, 0.0, np.array([500.0]), hosts(world, 1), reference_price=3.0)
    assert ai.tokens_served == 1e8 and world.ledger.flow("ai_spending") == pytest.approx(100.0)


def test_a_lab_that_used_no_compute_keeps_the_reference_price():
    world = World()
    ai = lab(world, cash=1e4)
    ai.observe_demand(1e8)
    ai.serve(0.0, 0.0)
    paid = ai.settle(0, 0.0, 0.0, np.zeros(2), hosts(world, 2), reference_price=3.0)
    assert ai.compute_price == 3.0 and ai.tokens_served == 0.0 and paid == pytest.approx([0.0, 0.0])


@pytest.mark.parametrize(
    ("beta", "share", "eps", "min_markup", "max_markup", "markup"),
    [
        (2.0, 0.25, 1.1, 0.0, 1.0, 1 / (2.6 - 1)),  # interior: Lerner index 1 / 2.6
        (2.0, 0.9, 1.1, 0.0, 1.0, 1.0),  # a dominant lab: 1 / (1.3 - 1) clipped to the maximum
        (2.0, 0.25, 1.1, 0.8, 5.0, 0.8),  # clipped to the minimum
        (0.5, 0.5, 0.5, 0.0, 2.0, 2.0),  # elasticity below one: no interior optimum, the maximum
    ],
)
def test_a_lab_prices_at_its_cost_per_token_times_the_bertrand_nash_markup(
    beta, share, eps, min_markup, max_markup, markup
):
    world = World()
    ai = lab(world, gain=1.5, min_markup=min_markup, max_markup=max_markup)
    ai.observe_share(share)
    ai.set_price(beta, eps, spot_price=2.0)  # priced on marginal cost: the spot price
    cost = 2.0 * H / 3e6  # USD per token: compute price over tokens per H100e-hour
    assert ai.price == pytest.approx(cost * (1 + markup))
    assert ai.price_per_mtok == pytest.approx(1e6 * cost * (1 + markup))


def test_a_lab_prices_on_the_spot_price_not_its_average_paid_unless_told_to():
    world = World()
    ai = lab(world, gain=1.5)  # pays $2/h on average
    ai.set_price(0.0, 0.5, spot_price=0.8)  # elasticity below one: the maximum markup, 1
    assert ai.price == pytest.approx(0.8 * H / 3e6 * 2)
    on_average = lab(world, gain=1.5, price_on_marginal_cost=False)
    on_average.set_price(0.0, 0.5, spot_price=0.8)
    assert on_average.price == pytest.approx(2.0 * H / 3e6 * 2)


def test_the_interior_markup_has_the_logit_lerner_index():
    world = World()
    ai = lab(world, max_markup=20.0)
    for share in (0.0, 0.3, 0.6):
        ai.observe_share(share)
        ai.set_price(3.0, 1.1, spot_price=2.0)
        cost = 2.0 * H / 2e6
        assert (ai.price - cost) / ai.price == pytest.approx(1 / (3.0 * (1 - share) + 1.1))


def test_a_lab_reserves_a_share_of_its_inference_need():
    world = World()
    assert lab(world, reserved_share=0.7).reservation_target(200.0) == pytest.approx(140.0)


def returns_lab(world: World, capability_share: float = 1.0, cash: float = 1e12, **cfg) -> AILab:
    """A lab with $1e5 a month of revenue that grew 2x a year, 10 % of the market, and the cash
    never binding."""
    ai = lab(world, cash=cash, capability_share=capability_share, training_on_returns=True, **cfg)
    ai.observe_share(0.1)
    ai.open_books(1e5, growth_per_year=2.0, tokens_demanded=0.0, compute_price=2.0)
    return ai


def test_investors_value_a_lab_by_the_venture_capital_method():
    """V = m_x 12 R (g / (1 + r))^H: the exit multiple of the revenue expected in H years,
    discounted at the required return; at the shipped values a lab growing 3x a year is worth
    ~35x its revenue (OpenAI's rounds: 25-40x), one whose revenue stopped growing ~6.7x."""
    world = World()
    for growth, multiple in ((3.0, 35.05), (1.0, 6.75)):
        ai = lab(world, training_on_returns=True)
        ai.open_books(1e5, growth_per_year=growth, tokens_demanded=0.0, compute_price=2.0)
        assert ai.valuation() == pytest.approx(10.0 * 12 * 1e5 * (growth / 1.3) ** 1.5)
        assert ai.valuation() / (12 * 1e5) == pytest.approx(multiple, abs=0.01)


def test_a_lab_trains_as_far_as_its_return_at_investors_valuation_pays():
    """X = eps_K V (g + delta) / 12, eps_K = a beta_q (1 - s) + xi s."""
    world = World()
    ai = returns_lab(world, model_obsolescence_per_year=1.0)
    users = world.config.users
    eps_k = ai.cfg.training_quality_exponent * users.quality_sensitivity * 0.9
    eps_k += users.capability_usefulness_elasticity * 0.1
    assert ai.revenue_training_elasticity() == pytest.approx(eps_k)
    expected = eps_k * ai.valuation() * (math.log(2.0) + 1.0) / 12
    assert ai.return_spending() == pytest.approx(expected)
    # at a capability share of 1 the dollars do not depend on the rent or the efficiency
    for rent in (0.25, 1.0, 4.0):
        assert ai.training_budget(rent) == ai.training_want(rent) == pytest.approx(expected)


def test_a_lab_whose_revenue_stopped_growing_trains_only_against_obsolescence():
    world = World()
    growing = returns_lab(world)
    flat = lab(world, cash=1e12, training_on_returns=True)
    flat.observe_share(0.1)
    flat.open_books(1e5, growth_per_year=1.0, tokens_demanded=0.0, compute_price=2.0)
    shrinking = lab(world, cash=1e12, training_on_returns=True)
    shrinking.observe_share(0.1)
    shrinking.open_books(1e5, growth_per_year=0.5, tokens_demanded=0.0, compute_price=2.0)
    for stalled in (flat, shrinking):  # no growth term, and no negative training
        delta = stalled.cfg.model_obsolescence_per_year
        expected = stalled.revenue_training_elasticity() * stalled.valuation() * delta / 12
        assert stalled.return_spending() == pytest.approx(expected)
    # investors value a shrinking lab lower, so it trains less
    assert growing.return_spending() > flat.return_spending() > shrinking.return_spending() > 0


@pytest.mark.parametrize("sigma", [0.0, 0.5, 1.0])
def test_the_capability_share_is_the_elasticity_of_effective_training_to_its_price(sigma):
    """W = X^sigma (X0 rent / E)^(1 - sigma): the effective compute bought, W E / rent, moves
    with the price of effective compute (rent / E) with elasticity -sigma."""
    world = World()
    ai = returns_lab(world, capability_share=sigma)
    x0 = ai.return_spending()
    assert ai.training_want(1.0) == pytest.approx(x0)  # month 0: at the return
    effective0 = x0 * ai.efficiency / 1.0
    for rent, gain in ((0.25, 1.0), (1.0, 10.0), (0.5, 100.0)):
        ai.gain = gain
        bought = ai.training_want(rent) * ai.efficiency / rent
        assert bought / effective0 == pytest.approx((rent / gain) ** -sigma)


def test_money_caps_what_the_return_would_buy_and_a_gross_loss_comes_out_of_it():
    world = World()
    rich = returns_lab(world, training_runway_months=24)
    poor = returns_lab(world, cash=2.4e6, training_runway_months=24)
    assert rich.training_budget() == pytest.approx(rich.training_want())
    assert poor.training_budget() == pytest.approx(1e5 + 2.4e6 / 24)  # gross profit (no inference) + cash
    assert poor.training_budget() < poor.training_want()
    poor.revenue = 0.0
    poor.record_costs(spend=6e4, inference_cost=6e4)  # last month's gross: a loss of 6e4
    assert poor.training_money() == pytest.approx(2.4e6 / 24 - 6e4)  # the loss before the smoothed profit
    poor.record_costs(spend=2e5, inference_cost=2e5)
    assert poor.training_money() == 0.0  # a loss beyond cash / runway leaves nothing to train


def test_a_lab_training_on_returns_cuts_at_once_a_plan_it_can_no_longer_pay_for():
    world = World()
    ai = returns_lab(world, cash=2.4e7, training_runway_months=24, training_planning_months=6)
    ai.open_training(1e6)
    assert ai.plan_training() == pytest.approx(min(1e6 + (ai.training_want() - 1e6) / 6, ai.training_money()))
    world.ledger.transfer(ai, "investors", ai.cash - 2.4e6, "liquidation")  # most of its cash gone
    assert ai.plan_training() == pytest.approx(ai.training_money()) and ai.training_plan < 1e6


def test_without_returns_the_training_budget_is_gross_profit_plus_cash_over_the_runway():
    world = World()
    ai = lab(world, cash=2.4e6, training_runway_months=24, conserve_factor=3.0, training_on_returns=False)
    ai.open_books(1e5, growth_per_year=2.0, tokens_demanded=0.0, compute_price=2.0)  # fundable
    ai.gross_ema = 5e4
    assert ai.training_budget() == pytest.approx(5e4 + 2.4e6 / 24)
    ai.open_books(1e5, growth_per_year=1.0, tokens_demanded=0.0, compute_price=2.0)  # revenue flat
    ai.gross_ema = 5e4
    assert ai.training_budget() == pytest.approx(5e4 + 2.4e6 / 72)
    ai.gross_ema = -1e9  # a gross loss does not make the budget negative
    assert ai.training_budget() == pytest.approx(2.4e6 / 72)


def test_a_lab_opens_its_books_at_month_0_costs_not_at_zero():
    """Smoothed gross profit and costs start where month 0 puts them (inference at the month-0
    price plus the training budget), so no lab sees a cost surge just from smoothing."""
    world = World()
    ai = lab(world, cash=2.4e6, training_runway_months=24)
    tokens = 1e7  # 5 H100e-months at 2e6 tokens each: $7,300 of inference
    ai.open_books(1e5, growth_per_year=2.0, tokens_demanded=tokens, compute_price=2.0)
    inference_cost = tokens / ai.tokens_per_h100e_month * 2.0 * H
    assert ai.gross_ema == pytest.approx(1e5 - inference_cost)
    assert ai.cost_ema == pytest.approx(inference_cost + ai.training_budget())
    assert ai.training_budget() == pytest.approx(max(1e5 - inference_cost, 0.0) + 2.4e6 / 24)


def test_revenue_growth_is_annualised_over_the_funding_window():
    world = World()
    ai = lab(world, funding_growth_window_months=12, revenue_smoothing_months=6)
    assert ai.revenue_growth() == 1.0  # no history yet
    ai.open_books(1000.0, growth_per_year=2.0, tokens_demanded=0.0, compute_price=2.0)
    assert len(ai.revenue_history) == 13 and ai.revenue_growth() == pytest.approx(2.0)
    ai.record_revenue(1000.0 * 2 ** (1 / 12))  # one more month on the same trend
    assert len(ai.revenue_history) == 13 and ai.revenue_growth() == pytest.approx(2.0)
    assert ai.revenue_ema == pytest.approx(1000 + (1000 * 2 ** (1 / 12) - 1000) / 6)


FUNDING = {
    "funding_interval_months": 12,
    "funding_runway_months": 12,
    "funding_growth_window_months": 12,
    "funding_min_growth_per_year": 1.5,
    "funding_revenue_years": 2.0,
}


def fundable(world: World, cash: float = 1000.0, growth: float = 2.0) -> AILab:
    """Revenue grown `growth` x over the year to $1000/month, and one more month on the trend;
    spending $500/month, so 12 months of runway is $6000."""
    ai = lab(world, cash=cash, revenue_smoothing_months=6, **FUNDING)
    ai.open_books(1000.0, growth_per_year=growth, tokens_demanded=0.0, compute_price=2.0)
    ai.record_revenue(1000.0 * growth ** (1 / 12))
    ai.cost_ema = 500.0
    return ai


ROUND = 2.0 * 12 * (1000 + (1000 * 2 ** (1 / 12) - 1000) / 6)  # two years of smoothed revenue


def test_a_lab_short_of_cash_with_fast_growing_revenue_asks_for_years_of_revenue():
    world = World()
    ai = fundable(world)
    assert ai.revenue_ema != ai.revenue
    assert ai.funding_request(5) == pytest.approx(ROUND)
    assert ai.funding_request(5) == pytest.approx(ROUND)  # asking changes nothing
    ai.raise_funding(5, ROUND, ROUND)
    assert ai.last_round == 5


def test_no_round_within_the_funding_interval_but_one_again_when_it_has_passed():
    world = World()
    ai = fundable(world)
    ai.raise_funding(5, ROUND, 1.0)  # a round, however small, restarts the clock
    assert ai.funding_request(16) == 0.0
    assert ai.funding_request(17) == pytest.approx(ROUND)


def test_a_lab_keeps_its_own_cadence_of_rounds():
    world = World()
    ai = AILab(world, LabConfig(**FUNDING), 0, 0.0, 1.0, 2.0, 0.0, funding_interval=7, last_round=-3)
    ai.open_books(1000.0, growth_per_year=2.0, tokens_demanded=0.0, compute_price=2.0)
    ai.cost_ema = 500.0
    assert ai.funding_request(3) == 0.0 and ai.funding_request(4) > 0  # due 7 months after -3
    ai.raise_funding(4, 1.0, 1.0)
    assert ai.funding_request(10) == 0.0 and ai.funding_request(11) > 0


def test_an_empty_pool_closes_no_round_and_the_lab_asks_again_next_month():
    world = World()
    ai = fundable(world)
    ai.raise_funding(5, ROUND, 0.0)
    assert world.ledger.flow("funding") == 0.0 and not events(world, "funding")
    assert ai.funding_request(6) == pytest.approx(ROUND)


def test_a_rationed_round_is_logged_with_what_was_asked():
    world = World()
    ai = fundable(world)
    ai.raise_funding(5, ROUND, ROUND / 4)
    assert world.ledger.flow("funding") == pytest.approx(ROUND / 4) and ai.last_round == 5
    (event,) = events(world, "funding")
    assert event[5] == pytest.approx(ROUND / 4) and event[6] == f"rationed: requested {ROUND:.4g} USD"


def test_no_round_when_revenue_grows_too_slowly_or_cash_covers_the_runway():
    world = World()
    assert fundable(world, growth=1.4).funding_request(0) == 0.0
    assert fundable(world, cash=6000.0).funding_request(0) == 0.0
    assert fundable(world, cash=5999.0).funding_request(0) > 0


def test_a_round_granted_in_time_is_logged_and_pays_the_bills():
    world = World()
    ai = fundable(world, cash=100.0)
    to = hosts(world, 1)
    paid = ai.settle(0, ROUND, ROUND, np.array([3000.0]), to, reference_price=3.0)
    assert world.ledger.flow("funding") == pytest.approx(ROUND)
    assert world.ledger.external["investors"] == pytest.approx(-100 - ROUND)
    assert paid == pytest.approx([3000.0]) and ai.alive
    assert ai.cash == pytest.approx(100 + ROUND - 3000)
    (event,) = events(world, "funding")
    assert event == (0, ai.unique_id, "lab", "funding", "revenue growth", pytest.approx(ROUND), "")


def test_a_lab_that_cannot_pay_pays_out_its_cash_and_goes_bankrupt():
    world = World()
    broke = lab(world, cash=0.3)  # no revenue history: investors will not fund it
    other = lab(world)
    dead = lab(world)
    dead.alive = False
    to = hosts(world, 4)
    world.contracts.add(broke.index, np.array([0, 1]), np.array([10.0, 5.0]), 2.0, 30)
    world.contracts.add(other.index, 1, 7.0, 2.0, 30)
    staff = [ModelArchitect(world, ArchitectConfig(), at, 1.0) for at in (0, 0, 1, None, 2)]
    world.architects.extend(staff)
    bills = np.array([0.1, 0.7, 0.0, 0.2])
    paid = broke.pay_compute(9, bills, to, inference_share=1.0)
    share = 0.3 / bills.sum()
    assert paid == pytest.approx(bills * share)  # pro rata
    assert paid.sum() == pytest.approx(0.3) and broke.cash == 0.0  # exactly its cash, nothing left
    assert [h.cash for h in to] == pytest.approx(list(bills * share))
    assert not broke.alive and broke.unpaid == pytest.approx(bills.sum() - 0.3)
    assert broke.compute_spend == pytest.approx(0.3)
    assert world.contracts.by_lab(3) == pytest.approx([0.0, 7.0, 0.0])  # its contracts end
    assert [a.lab for a in staff] == [1, 1, 1, None, 2]  # to the only living lab
    (event,) = events(world, "bankruptcy")
    assert event[:5] == (9, broke.unique_id, "lab", "bankruptcy", "unpaid compute bill")
    assert event[5] == pytest.approx(broke.unpaid) and event[6] == "released=15 H100e"
    assert world.ledger.flow("liquidation") == 0.0  # the cash went to the hosts
    assert money_in_the_world(world) == pytest.approx(0.0, abs=1e-12)


def test_the_architects_of_the_last_lab_to_fail_become_independent():
    world = World()
    last = lab(world, cash=0.0)
    staff = ModelArchitect(world, ArchitectConfig(), 0, 1.0)
    world.architects.append(staff)
    last.pay_compute(0, np.array([5.0, 5.0]), hosts(world, 2), inference_share=1.0)
    assert not last.alive and last.unpaid == pytest.approx(10.0)
    assert staff.lab is None and staff.lab_index == -1


def test_a_lab_whose_cash_exactly_covers_its_bills_can_still_fail_cleanly_next_month():
    world = World()
    bills = np.array([0.39705347134819613, 0.7960277439881188, 0.26396752046317795])
    ai = lab(world, cash=float(bills.sum()))
    to = hosts(world, 3)
    ai.pay_compute(0, bills, to, inference_share=1.0)
    assert ai.alive  # paid in full
    ai.pay_compute(1, bills, to, inference_share=1.0)  # no cash, no round: bankrupt
    assert not ai.alive


def test_a_bankrupt_lab_is_idle_and_adopts_nothing():
    world = World()
    ai = lab(world)
    ai.revenue = ai.tokens_served = ai.inference_h100e = ai.training_h100e = ai.compute_spend = 9.0
    ai.alive = False
    ai.idle()
    assert (ai.revenue, ai.tokens_served, ai.inference_h100e, ai.training_h100e, ai.compute_spend) == (0,) * 5
    assert not ai.adopt(0, 2.0) and ai.gain == 1.0


def test_a_lab_adopts_each_discovery_once_and_gains_multiply():
    world = World()
    ai = lab(world)
    assert ai.adopt(0, 2.0) and ai.adopt(1, 1.5) and not ai.adopt(0, 2.0)
    assert ai.gain == pytest.approx(3.0) and ai.efficiency == pytest.approx(6.0)
    assert ai.tokens_per_h100e_month == pytest.approx(6e6)


# --- architects -------------------------------------------------------------------------


def test_when_its_lab_closes_an_architect_moves_to_a_living_lab_drawn_from_the_exits_stream():
    world = World(seed=3)
    moving = ModelArchitect(world, ArchitectConfig(), 2, 1.0)
    staying = ModelArchitect(world, ArchitectConfig(), 4, 1.0)
    independent = ModelArchitect(world, ArchitectConfig(), None, 1.0)
    expected = int(np.random.default_rng(3).choice([1, 4, 7]))
    for a in (moving, staying, independent):
        a.lab_closed(2, [1, 4, 7])
    assert moving.lab == expected and staying.lab == 4 and independent.lab is None
    moving.lab_closed(expected, [])
    assert moving.lab is None


def test_a_discovery_draws_a_capped_pareto_gain_and_lab_secrets_stay_proprietary():
    world = World(seed=7)
    lab(world)
    lab(world)
    cfg = ArchitectConfig(count=1, discoveries_per_year=12.0, openness=0.0, gain_min=1.1, gain_tail_alpha=2.7)
    insider = ModelArchitect(world, cfg, 0, 1.0)  # rate 12 / 12 / 1 x 1: discovers every month
    outsider = ModelArchitect(world, cfg, None, 1.0)
    draws = np.random.default_rng(8)  # a copy of the architects' stream
    insider.step()
    outsider.step()
    gains = []
    for _ in range(2):
        draws.random()  # did it discover
        gains.append(min(100.0, 1.1 * (1 - draws.random()) ** (-1 / 2.7)))
        draws.random()  # was it published
    rows = events(world, "discovery")
    assert [r[1] for r in rows] == [insider.unique_id, outsider.unique_id]
    assert [r[5] for r in rows] == pytest.approx(gains)
    assert [r[6].split(";")[0] for r in rows] == ["proprietary", "open"]  # independents publish
    assert insider.discoveries == outsider.discoveries == 1


def test_an_architect_discovers_at_its_share_of_the_yearly_rate_times_its_productivity():
    world = World(seed=11)
    cfg = ArchitectConfig(count=10, discoveries_per_year=12.0, openness=1.0)
    architect = ModelArchitect(world, cfg, None, productivity=2.0)  # 12 / 12 / 10 x 2 = 0.2 a month
    idle = ModelArchitect(world, cfg, None, productivity=0.0)
    for _ in range(2000):
        architect.step()
        idle.step()
    assert abs(architect.discoveries - 400) < 3.5 * math.sqrt(2000 * 0.2 * 0.8)
    assert idle.discoveries == 0


# --- the package ------------------------------------------------------------------------


def test_the_agents_package_imports_on_its_own():
    ours = [name for name in sys.modules if name.split(".")[0] in ("agents", "model")]
    saved = {name: sys.modules.pop(name) for name in ours}
    try:
        importlib.import_module("agents")  # as `python -c "import agents"` does
    finally:
        for name in [name for name in sys.modules if name.split(".")[0] in ("agents", "model")]:
            del sys.modules[name]
        sys.modules.update(saved)


def test_a_lab_that_plans_ahead_closes_part_of_the_gap_to_its_budget_each_month():
    world = World()
    rule = {"training_on_returns": False}  # the budget rule: the plan chases gross profit + cash/runway
    ai = lab(world, cash=2.4e6, training_runway_months=24, training_planning_months=4, **rule)
    ai.open_books(1e5, growth_per_year=2.0, tokens_demanded=0.0, compute_price=2.0)
    budget = ai.training_budget()
    ai.open_training(2e4)
    assert ai.training_plan == 2e4 and ai.cost_ema == pytest.approx(2e4)  # no inference here
    assert ai.plan_training() == pytest.approx(2e4 + (budget - 2e4) / 4)
    at_once = lab(world, cash=2.4e6, training_runway_months=24, **rule)  # planning months 1: at once
    at_once.open_books(1e5, growth_per_year=2.0, tokens_demanded=0.0, compute_price=2.0)
    at_once.open_training(2e4)  # ignored: it spends its budget from month 0
    assert at_once.plan_training() == at_once.training_budget() == at_once.training_plan
