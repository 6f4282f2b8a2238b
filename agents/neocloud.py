"""Neoclouds: GPU builders without a core business, financed by GPU-backed debt.

A neocloud (CoreWeave, Lambda, Crusoe, Nebius) rents GPUs as the hyperscalers do and plans
its fleet by the same rules, but no core business funds it: lenders finance a share of what
it buys against the GPUs themselves (loan to value), the loans amortise faster than the
GPUs depreciate, and equity pays the rest. When rents fall, the cash to service the debt
runs out while impairments shrink the collateral it could borrow against; then it defaults.
Default is a reorganisation, as the telecom carriers' Chapter 11 cases were: the fleet is
written down to its fair value, lenders lose the debt the fleet cannot cover, equity is
wiped out, debt service waits while the case lasts (the automatic stay), and the GPUs stay
in service under their new owners.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aibubble.agents.hyperscaler import Hyperscaler

if TYPE_CHECKING:
    import mesa

    from aibubble.config import HyperscalerConfig, NeocloudConfig


class Neocloud(Hyperscaler):
    kind = "neocloud"

    def __init__(self, model: mesa.Model, cfg: HyperscalerConfig, neo: NeocloudConfig, cash: float) -> None:
        # the same planning and fleet rules; its own cost of debt, and no core business
        own = cfg.model_copy(update={"interest_rate_per_year": neo.interest_rate_per_year})
        super().__init__(model, own, cash, capital_share=0.0)
        self.neo = neo
        self.stay_until = -1  # last month of the stay of its reorganisation

    def owe_for_initial_fleet(self) -> None:
        """The fleet it holds at month 0 was bought with GPU-backed loans: it owes
        `loan_to_value` of its book (a stock from before the run, so no payment moves)."""
        self.debt = self.neo.loan_to_value * self.book_value

    def borrowing_base(self, pipeline_value: float = 0.0) -> float:
        """USD lenders lend against its GPUs and the orders they will become."""
        return self.neo.loan_to_value * (self.book_value + pipeline_value)

    def debt_service(self) -> float:
        """USD of interest and amortisation due a month on its current debt."""
        return self.debt * (self.neo.interest_rate_per_year / 12 + 1 / self.neo.amortisation_months)

    def capex_room(self, pipeline_value: float) -> float:
        """USD it can still commit: cash beyond the liquidity its lenders require, plus what
        they would lend against the fleet and its orders, less its debt and commitments (GPUs
        ordered, shells being built: lenders lend against GPUs, not shells)."""
        reserve = self.neo.liquidity_months * self.debt_service()
        room = self.cash - reserve + self.borrowing_base(pipeline_value) - self.debt - pipeline_value
        room -= self.shells.commitments()
        return max(room, 0.0)

    def finance(self) -> None:
        """Pay the month's amortisation, borrow against the fleet to keep cash non-negative,
        and default when even that cannot. While a reorganisation's stay lasts, debt service
        waits and its lenders fund any shortfall (debtor-in-possession lending)."""
        ledger = self.model.ledger
        self.default_losses = 0.0
        if self.model.steps <= self.stay_until:
            self.debt += ledger.transfer("lenders", self, max(-self.cash, 0.0), "borrowing")
            return
        due = self.debt / self.neo.amortisation_months
        self.debt -= ledger.transfer(self, "lenders", due, "repayment")
        if self.cash < 0:
            room = max(self.borrowing_base() - self.debt, 0.0)
            self.debt += ledger.transfer("lenders", self, min(-self.cash, room), "borrowing")
        if self.cash < -1e-9 * max(self.debt, 1.0):
            self.default()

    def default(self) -> None:
        """Reorganise: write the fleet down to its fair value, cut the debt to what that fair
        value covers (lenders book the rest as a loss), and fund the month's shortfall with
        new (debtor-in-possession) lending, so the GPUs stay in service."""
        step = self.model.steps
        ledger, events = self.model.ledger, self.model.events
        _, fair = self.recoverable(
            step + 1, self.realised_price, self.expected_utilization(), self.monthly_discount_rate
        )
        written = float((self.book - fair).clip(min=0.0).sum())
        self.book = self.book.clip(max=fair)
        self.written_off["default"] += written
        self.write_downs += written
        self.profit -= written
        covered = min(self.debt, self.neo.loan_to_value * self.book_value)
        self.default_losses = self.debt - covered
        self.debt = covered
        self.debt += ledger.transfer("lenders", self, max(-self.cash, 0.0), "borrowing")
        self.defaults += 1
        self.stay_until = step + self.neo.reorganisation_months
        events.add(
            step,
            self.unique_id,
            self.kind,
            "default",
            "cash and GPU-backed credit exhausted",
            self.default_losses,
            f"fleet written down by {written:.0f} USD",
        )
