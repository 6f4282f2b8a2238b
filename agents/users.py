"""The user population: many segments of real users, held as numpy arrays.

One Mesa agent stands for all segments so that 10^5-10^6 of them cost a few array operations
per month, not a Python call each. A segment has a weight (how many real people and firms it
represents), so the number of segments is a resolution choice, not a different market.

Behaviour per month:
- adoption follows Bass diffusion (p + q F per year), its clock sped up by how cheap AI
  has become relative to month 0 (`adoption_price_elasticity`, 0 = pure Bass);
- usage per adopter moves a fraction `adjustment_per_month` of the way (in logs) toward the
  long-run level  a_i * G(t) * (price / price_0)^(-elasticity), where G(t) is usefulness
  growing at a rate that halves every `usefulness_halflife_years`: constant-elasticity demand
  with partial adjustment, so the impact elasticity is adjustment x elasticity and the
  long-run one is the elasticity itself;
- that level saturates against a time budget (`saturation_tokens_per_user_day`): usage is the
  harmonic combination 1/u = 1/u_unsaturated + 1/u_saturation, so the price elasticity falls
  to elasticity x (1 - u/u_saturation) as usage nears the asymptote, and no person's agents
  process more tokens than the budget allows however cheap AI gets;
- spending is capped by a budget per user (`max_spend_usd_per_user_month`);
- a share of segments reconsiders its lab each month, choosing by a logit on log price and
  quality.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from aibubble.measures import DAYS_PER_MONTH

if TYPE_CHECKING:
    from aibubble.config import UserConfig


SENSITIVITY_CLASSES = 64


def _normal_ppf(p: np.ndarray) -> np.ndarray:
    """Standard normal quantiles (from the standard library; 64 values, once per run)."""
    from statistics import NormalDist

    return np.array([NormalDist().inv_cdf(float(x)) for x in p])


class UserPopulation(mesa.Agent):
    def __init__(
        self,
        model: mesa.Model,
        cfg: UserConfig,
        reference_price: float,
        lab_shares: np.ndarray,
        expected_price_decline: float = 0.0,
    ) -> None:
        super().__init__(model)
        self.cfg = cfg
        n = cfg.n_segments
        rng = model.streams["users"]
        self.weight = cfg.potential_users / n  # real users (people and firms) per segment
        self.adopted = rng.random(n) < cfg.initial_adoption
        self.adopted_count = int(self.adopted.sum())
        sd = cfg.usage_dispersion
        # lognormal base usage with mean tokens_per_user_month (mean-preserving spread)
        self.log_base = np.log(cfg.tokens_per_user_month) - sd**2 / 2 + sd * rng.standard_normal(n)
        # price sensitivity: lognormal with mean 1 x price_sensitivity, held as
        # SENSITIVITY_CLASSES quantile classes so a choice costs a lookup, not a row of exps
        quantiles = (np.arange(SENSITIVITY_CLASSES) + 0.5) / SENSITIVITY_CLASSES
        spread = cfg.price_sensitivity_dispersion
        self.beta_levels = cfg.price_sensitivity * np.exp(-(spread**2) / 2 + spread * _normal_ppf(quantiles))
        self.beta_class = rng.integers(0, SENSITIVITY_CLASSES, n)
        self.choice = rng.choice(len(lab_shares), size=n, p=lab_shares)
        self.reference_price = reference_price  # USD per token at month 0
        # Users start on a balanced-growth path: prices have been falling at
        # `expected_price_decline` (log per month), so the price response lags its target by
        # elasticity x decline / adjustment and keeps growing at elasticity x decline.
        lag = cfg.demand_elasticity * expected_price_decline / cfg.adjustment_per_month
        self.anchor_price = (
            reference_price * np.exp(lag / cfg.demand_elasticity) if lag > 0 else reference_price
        )
        # spending cap per segment, proportional to its base usage (heavy users spend more),
        # in log tokens at the anchor price; scaled by the drawn segments' mean base usage, not
        # its expectation, so that the caps average max_spend_usd_per_user_month exactly and AI
        # spending stays within the share of GDP the config was checked for
        mean_base = float(np.exp(self.log_base).mean())
        budget = cfg.max_spend_usd_per_user_month / mean_base / self.anchor_price
        self.log_budget = np.log(budget) + self.log_base
        # minus the saturation level per segment in log tokens per month, proportional to base
        # usage (heavy users' time budgets hold more agent work): its mean over segments is
        # saturation_tokens_per_user_day; None without a time budget
        self.neg_log_saturation = (
            None
            if cfg.saturation_tokens_per_user_day is None
            else -(
                np.log(cfg.saturation_tokens_per_user_day * DAYS_PER_MONTH / cfg.tokens_per_user_month)
                + self.log_base
            )
        )
        self._saturation_scratch = np.empty(n if self.neg_log_saturation is not None else 0)
        self.price_response = np.zeros(n)  # log usage change due to price, adjusting slowly
        self.log_usage = self.log_base.copy()  # log tokens per user per month
        self._saturate(self.log_usage)
        # Scratch arrays reused every month: a fresh 10^5-10^6 element temporary is fresh memory
        # from the OS, and touching its pages cost as much as the arithmetic on it.
        self._floats = np.empty(n)
        self._floats2 = np.empty(n)
        self._flags = np.empty(n, dtype=bool)

    # --- measures -------------------------------------------------------------
    @property
    def adoption_share(self) -> float:
        return self.adopted_count / self.adopted.size

    def desired_tokens_by_lab(self, n_labs: int) -> np.ndarray:
        """Tokens per month that adopted users want from each lab."""
        tokens = np.exp(self.log_usage, out=self._floats)
        tokens *= self.adopted
        return self.weight * np.bincount(self.choice, weights=tokens, minlength=n_labs)

    def segments_by_lab(self, n_labs: int) -> np.ndarray:
        """Real users (adopted or not) whose chosen lab is each lab."""
        return self.weight * np.bincount(self.choice, minlength=n_labs)

    # --- behaviour --------------------------------------------------------------
    def adopt(self, market_price: float) -> int:
        """Bass adoption this month; returns the number of segments that adopted.

        The monthly adoption probability of a non-adopter is the exact one-month solution
        of the Bass equation F' = (p + qF)(1 - F) from today's F (its complement 1 - F
        solves a Bernoulli equation), so the expected path is the closed-form curve, not an
        Euler approximation of it. Cheaper AI speeds the clock (`adoption_price_elasticity`).
        """
        cfg = self.cfg
        p, q = cfg.bass_p, cfg.bass_q
        if p + q <= 0:
            return 0
        attractiveness = (market_price / self.reference_price) ** (-cfg.adoption_price_elasticity)
        dt = attractiveness / 12.0  # years
        left = 1.0 - self.adoption_share
        if left <= 0:
            return 0
        k = q / (p + q)
        inverse_left = k + (1.0 / left - k) * np.exp((p + q) * dt)
        probability = 1.0 - 1.0 / (left * inverse_left)
        draws = self.model.streams["users"].random(self.adopted.size, out=self._floats)
        self.adopted |= np.less(draws, probability, out=self._flags)
        count = int(np.count_nonzero(self.adopted)) - self.adopted_count
        self.adopted_count += count
        return count

    def log_usefulness(self, month: int) -> float:
        """log G(t): usage growth at constant price, its rate halving every half-life."""
        cfg = self.cfg
        rate = np.log(cfg.usefulness_growth_per_year)  # per year at month 0
        k = np.log(2.0) / cfg.usefulness_halflife_years
        return float(rate * (1.0 - np.exp(-k * month / 12.0)) / k)

    def adjust_usage(self, lab_prices: np.ndarray, month: int, log_capability: float = 0.0) -> None:
        """Move the price response part of the way to its long-run level, saturate against the
        time budget, then cap by the spending budget.

        Usefulness shifts demand at once: its exogenous trend, plus the capability elasticity
        times `log_capability`, the log of the effective compute the market's models were
        trained on relative to month 0. The response to price builds up slowly (habits,
        integrations), so the impact elasticity is adjustment x elasticity. Saturation is
        1/u = 1/u_unsaturated + 1/u_saturation, in logs -logaddexp(-ln u, -ln s). Logs are
        taken per lab, then gathered per segment.
        """
        cfg = self.cfg
        # log price of each segment's lab; "clip" only lets take() write into `out` directly
        # (the indices are valid labs)
        log_price = np.log(lab_prices / self.anchor_price).take(self.choice, out=self._floats, mode="clip")
        pull = np.multiply(log_price, -cfg.adjustment_per_month * cfg.demand_elasticity, out=self._floats2)
        self.price_response *= 1.0 - cfg.adjustment_per_month
        self.price_response += pull
        usage = np.add(self.log_base, self.price_response, out=self.log_usage)
        usage += self.log_usefulness(month) + cfg.capability_usefulness_elasticity * log_capability
        self._saturate(usage)
        np.minimum(usage, np.subtract(self.log_budget, log_price, out=self._floats2), out=usage)

    def _saturate(self, log_usage: np.ndarray) -> None:
        """In place: ln u <- -logaddexp(-ln u, -ln s), i.e. 1/u = 1/u + 1/s (no-op without a
        time budget). Written as min(ln u, ln s) - log1p(exp(-|ln u - ln s|)): the same to the
        last bit or two, and ~3x faster than np.logaddexp, whose per-element libm calls were a
        third of a 10^6-segment run."""
        neg_log_s = self.neg_log_saturation
        if neg_log_s is None:
            return
        gap = np.add(log_usage, neg_log_s, out=self._saturation_scratch)  # ln u - ln s
        np.abs(gap, out=gap)
        np.negative(gap, out=gap)
        np.exp(gap, out=gap)
        np.log1p(gap, out=gap)
        np.negative(log_usage, out=log_usage)  # min(ln u, ln s) = -max(-ln u, -ln s)
        np.maximum(log_usage, neg_log_s, out=log_usage)
        np.negative(log_usage, out=log_usage)
        log_usage -= gap

    def choose_labs(self, lab_prices: np.ndarray, lab_quality: np.ndarray, alive: np.ndarray) -> None:
        """Some segments (and all of a dead lab's) re-choose by a logit on price and quality.

        Each segment reconsiders with probability `switch_rate_per_month`: a binomial count
        of distinct movers picked at random, so the cost grows with movers, not segments.
        Choices are sampled from the mover's class's logit probabilities by inverse CDF.
        """
        rng = self.model.streams["users"]
        n = self.choice.size
        movers = rng.choice(n, rng.binomial(n, self.cfg.switch_rate_per_month), replace=False)
        draws = rng.random(movers.size)
        if not alive.all():  # a dead lab's customers must move: their draws come from the
            # exits stream, so the users stream draws the same numbers with or without deaths
            forced = np.setdiff1d(np.flatnonzero(~alive[self.choice]), movers, assume_unique=True)
            movers = np.concatenate([movers, forced])
            draws = np.concatenate([draws, self.model.streams["exits"].random(forced.size)])
        if movers.size == 0:
            return
        labs = np.flatnonzero(alive)
        utility = np.multiply.outer(self.beta_levels, -np.log(lab_prices[labs]))  # class x lab
        utility += self.cfg.quality_sensitivity * lab_quality[labs]
        utility -= utility.max(axis=1, keepdims=True)
        cdf = np.cumsum(np.exp(utility), axis=1)
        cdf /= cdf[:, -1:]
        cdf[:, -1] = 1.0
        # one sorted array of all classes' CDFs, class k shifted by k: one searchsorted
        offset = np.arange(SENSITIVITY_CLASSES)[:, None]
        classes = self.beta_class[movers]
        flat = np.searchsorted((cdf + offset).ravel(), classes + draws, side="right")
        self.choice[movers] = labs[np.minimum(flat - classes * labs.size, labs.size - 1)]
