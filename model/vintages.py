"""Cash flows by GPU vintage: what each month's deliveries cost and the cash margin they earned.

An investor judges a GPU by its cash flows, not by its book value: the price paid when it was
delivered, then each month its rent less its operating cost. The fleet's cohorts carry book
values for the accounts; this book keeps the cash record per vintage (delivery month, summed
over builders), from which `aibubble.finance` computes IRR, NPV and payback. Impairments and
defaults change book values, not cash, so they do not enter here. A vintage is its GPUs: the
shells they sit in outlive several vintages, so their cost is in the fleet's capex and return
on invested capital, not in a vintage's IRR.
"""

from __future__ import annotations

import numpy as np


class VintageBook:
    """Per vintage: H100e delivered, USD paid, operating cost per H100e-hour, and a vintage x
    month matrix of cash margins (USD). Rows start at `first` (the oldest cohort of the initial
    fleet); both axes grow as the run goes on."""

    def __init__(self, first: int, months: int) -> None:
        self.first = first
        rows = months - first + 1
        self.h100e = np.zeros(rows)
        self.cost = np.zeros(rows)  # USD paid
        self.opex = np.zeros(rows)  # USD per H100e-hour (the same for every cohort of a month)
        self.margin = np.zeros((rows, months + 1))  # USD earned over operating cost, by month

    @property
    def vintages(self) -> np.ndarray:
        """Delivery month of each row."""
        return np.arange(self.first, self.first + self.h100e.size)

    def _fit(self, month: int) -> None:
        """Grow both axes so that `month` (as a vintage and as a month of earnings) fits."""
        rows = month - self.first + 1 - self.h100e.size
        cols = month + 1 - self.margin.shape[1]
        if rows > 0 or cols > 0:
            rows, cols = max(rows, 0), max(cols, 0)
            self.h100e, self.cost, self.opex = (
                np.pad(a, (0, rows)) for a in (self.h100e, self.cost, self.opex)
            )
            self.margin = np.pad(self.margin, ((0, rows), (0, cols)))

    def buy(self, vintage: int, h100e: float, cost: float, opex: float) -> None:
        """Record a delivery: `cost` USD for `h100e` running at `opex` USD per H100e-hour."""
        if vintage < self.first:
            raise ValueError(f"vintage {vintage} is older than the book's first month {self.first}")
        self._fit(max(vintage, 0))
        row = vintage - self.first
        self.h100e[row] += h100e
        self.cost[row] += cost
        self.opex[row] = opex

    def earn(self, month: int, born: np.ndarray, margin: np.ndarray) -> None:
        """Add one builder's cash margins (USD, per cohort) earned in `month`."""
        self._fit(month)
        self.margin[:, month] += np.bincount(born - self.first, weights=margin, minlength=self.h100e.size)

    def in_service(self, fleets: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """H100e still in service per vintage, from the builders' (born, h100e) cohorts."""
        out = np.zeros(self.h100e.size)
        for born, h100e in fleets:
            out += np.bincount(born - self.first, weights=h100e, minlength=out.size)
        return out
