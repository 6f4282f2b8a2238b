"""The number of user segments is a resolution choice, not a different market.

Each segment stands for potential_users / n real users, so 10^4 and 10^5 segments must tell
the same story. Stochastic discoveries are switched off here: they dominate seed-to-seed
variation and would hide what is being tested (the vectorised user population).
"""

from __future__ import annotations

import numpy as np

from aibubble import AIMarketModel
from aibubble.config import load_config

SERIES = ["adoption_share", "utilization", "compute_demand_h100e", "tokens_served", "ai_spending_usd"]


def time_averages(n_users: int, seeds: range) -> np.ndarray:
    """Per seed, the 120-month mean of each series (logs for the growing ones)."""
    rows = []
    for seed in seeds:
        cfg = load_config("sudden-100x", {"architects.discoveries_per_year": 0, "n_users": n_users})
        model = AIMarketModel(config=cfg, rng=seed)
        for _ in range(cfg.run.steps):
            model.step()
        df = model.model_frame()[SERIES]
        df[SERIES[2:]] = np.log(df[SERIES[2:]].clip(lower=1.0))
        rows.append(df.mean().to_numpy())
    return np.array(rows)


def test_ten_thousand_and_a_hundred_thousand_segments_tell_the_same_story():
    coarse, fine = time_averages(10_000, range(3)), time_averages(100_000, range(3, 6))
    # shares and utilization within 3 points; log-levels within 0.05 (5%)
    assert np.allclose(coarse.mean(axis=0), fine.mean(axis=0), atol=[0.03, 0.03, 0.05, 0.05, 0.05])
    # and the coarse population is not noisier than that between its own seeds
    assert np.all(coarse.std(axis=0) < [0.03, 0.03, 0.05, 0.1, 0.1])
