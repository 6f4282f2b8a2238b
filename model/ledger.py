"""Double-entry money: every dollar moves from one account to another.

Agents hold their own `cash` attribute; the world outside the model (end users' wallets,
investors, the GPU vendor, power and staff, lenders, the hyperscalers' core businesses, the
contractors who build data centres) is a set of named external accounts. Because every payment
goes through `transfer`, the sum of all balances stays zero and each step's flows by kind are on
record.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Protocol


class HasCash(Protocol):
    cash: float


Account = HasCash | str

EXTERNAL = ("end_users", "investors", "gpu_vendor", "operations", "lenders", "core_business", "construction")


class Ledger:
    def __init__(self) -> None:
        self.external: dict[str, float] = dict.fromkeys(EXTERNAL, 0.0)
        self.step_flows: dict[str, float] = defaultdict(float)
        self.total_flows: dict[str, float] = defaultdict(float)

    def transfer(self, payer: Account, payee: Account, amount: float, kind: str) -> float:
        """Move `amount` USD; returns it so callers can chain. Negative or NaN is a bug."""
        if not 0.0 <= amount < math.inf:  # False for NaN too
            raise ValueError(f"invalid transfer of {amount!r} USD ({kind})")
        if amount == 0:
            return 0.0
        # inline, not a helper per side: the ledger moves a few hundred payments a month
        if isinstance(payer, str):
            self.external[payer] -= amount
        else:
            payer.cash -= amount
        if isinstance(payee, str):
            self.external[payee] += amount
        else:
            payee.cash += amount
        self.step_flows[kind] += amount
        self.total_flows[kind] += amount
        return amount

    def new_step(self) -> None:
        self.step_flows.clear()

    def flow(self, kind: str) -> float:
        """USD moved under `kind` in the current step."""
        return self.step_flows.get(kind, 0.0)
