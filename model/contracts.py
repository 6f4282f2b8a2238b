"""Reserved compute: take-or-pay contracts between labs and hyperscalers at a fixed price."""

from __future__ import annotations

import numpy as np

from aibubble.measures import HOURS_PER_MONTH


def forward_rent(rent: float, monthly_decline: float, months: int) -> float:
    """The flat price of a reservation that a lessor would take instead of renting at spot for
    its term, when the spot rent is expected to fall by `monthly_decline` (a log rate) a month:
    the mean of rent x exp(-d m) over m = 0 .. months - 1 (the expectations hypothesis of the
    term structure). A term premium goes on top."""
    if monthly_decline <= 0 or months <= 1:
        return rent
    d = monthly_decline
    return rent * (1.0 - np.exp(-d * months)) / (months * (1.0 - np.exp(-d)))


class ContractBook:
    """Active contracts as parallel arrays (lab index, hyperscaler index, H100e, USD/h, end step)."""

    def __init__(self) -> None:
        self.lab = np.zeros(0, dtype=np.int64)
        self.host = np.zeros(0, dtype=np.int64)
        self.h100e = np.zeros(0)
        self.price = np.zeros(0)  # USD per H100e-hour
        self.end = np.zeros(0, dtype=np.int64)  # last step the contract is in force

    def add(self, lab, host, h100e, price: float, end) -> None:
        """Sign contracts (scalars or arrays of equal length) in one go."""
        n = np.broadcast(lab, host, h100e, end).size
        self.lab = np.concatenate([self.lab, np.full(n, lab, dtype=np.int64)])
        self.host = np.concatenate([self.host, np.full(n, host, dtype=np.int64)])
        self.h100e = np.concatenate([self.h100e, np.full(n, h100e, dtype=float)])
        self.price = np.concatenate([self.price, np.full(n, price)])
        self.end = np.concatenate([self.end, np.full(n, end, dtype=np.int64)])

    def sign(self, amounts: np.ndarray, price: float, end: int) -> None:
        """Sign the non-zero entries of a lab x host matrix of H100e at one price and end."""
        labs, hosts = np.nonzero(amounts > 0)
        self.add(labs, hosts, amounts[labs, hosts], price, end)

    def keep(self, mask: np.ndarray) -> None:
        self.lab, self.host, self.h100e = self.lab[mask], self.host[mask], self.h100e[mask]
        self.price, self.end = self.price[mask], self.end[mask]

    def expire(self, step: int) -> None:
        self.keep(self.end >= step)

    def terminate_lab(self, lab: int) -> float:
        """Drop a bankrupt lab's contracts; returns the H100e released."""
        mine = self.lab == lab
        released = float(self.h100e[mine].sum())
        self.keep(~mine)
        return released

    def by_lab(self, n: int) -> np.ndarray:
        return np.bincount(self.lab, weights=self.h100e, minlength=n)

    def by_host(self, n: int) -> np.ndarray:
        return np.bincount(self.host, weights=self.h100e, minlength=n)

    def bills(self, n_labs: int, n_hosts: int) -> np.ndarray:
        """USD owed this month, lab x host: take-or-pay, whether the capacity is used or not."""
        usd = self.h100e * self.price * HOURS_PER_MONTH
        flat = np.bincount(self.lab * n_hosts + self.host, weights=usd, minlength=n_labs * n_hosts)
        return flat.reshape(n_labs, n_hosts)

    def outstanding(self, step: int) -> float:
        """USD the labs still owe after month `step` on the contracts in force: their
        remaining take-or-pay commitments."""
        months = np.maximum(self.end - step, 0)
        return float((self.h100e * self.price * months).sum() * HOURS_PER_MONTH)

    def mean_price(self, fallback: float) -> float:
        """Capacity-weighted price of active contracts (USD per H100e-hour); `fallback` if none."""
        total = self.h100e.sum()
        return float((self.h100e * self.price).sum() / total) if total > 0 else fallback


def split_reservations(wanted: np.ndarray, free: np.ndarray) -> np.ndarray:
    """H100e each lab reserves with each host (lab x host): labs in turn take what they want
    of the capacity still free, spread over hosts in proportion to their free capacity."""
    free = free.copy()
    signed = np.zeros((wanted.size, free.size))
    for i, want in enumerate(wanted):
        room = free.sum() if want > 0 else 0.0
        if room > 0:
            signed[i] = min(want, room) * free / room
            free -= signed[i]
    return signed
