"""The answer under parameter uncertainty: P(glut), P(bubble), glut length and losses for open
2x, 10x and 100x discoveries in a chosen year and for a steady 10x/yr, over posterior draws x
seeds.

Every shock runs on the same (draw, seed) pairs as the no-shock reference (common random
numbers), so a shock's effect is a paired difference. Two intervals answer two questions: the
Wilson interval of a probability over all runs says how well the runs pin down the posterior-
predictive probability; the 5-95 % band of the per-draw probability (over that draw's seeds)
says how much it depends on where in the posterior the parameters lie.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from tqdm import tqdm

from aibubble.config import build
from aibubble.experiments.stats import fmt_share, paired_difference, wilson
from aibubble.experiments.sweeps.design import run_config_data

KEPT = (
    "glut",
    "bubble",
    "longest_glut_months",
    "write_offs_usd",
    "impairment_usd",
    "default_losses_usd",
    "vintage_npv_usd",
)
GRADUAL_PROGRESS_PER_YEAR = 7.0  # gradual-10x: 7x/yr smooth progress plus ~1.4x/yr of discoveries


def shocks(year: int) -> dict[str, dict[str, Any]]:
    """The question's shocks as config overrides; `none` is the paired reference."""
    month = 12 * (year - 2024)
    jump = {"discovery.jump_month": month, "discovery.open_publication": True}
    return {
        "none": {},
        f"open 2x, {year}": {**jump, "discovery.jump_size": 2.0},
        f"open 10x, {year}": {**jump, "discovery.jump_size": 10.0},
        f"open 100x, {year}": {**jump, "discovery.jump_size": 100.0},
        "gradual 10x/yr": {"efficiency.background_progress_per_year": GRADUAL_PROGRESS_PER_YEAR},
    }


def _run(task: tuple[dict[str, Any], dict[str, Any], int]) -> dict[str, Any]:
    from aibubble.market import AIMarketModel

    data, overrides, seed = task
    model = AIMarketModel(
        config=build(run_config_data(data, {**overrides, "run.seed": seed}), "predict"), rng=seed
    )
    model.run_model()
    summary = model.summary()
    return {k: summary.get(k) for k in KEPT}


def draws(folder: Path, n: int, seed: int) -> pd.DataFrame:
    """`n` parameter vectors resampled by weight from a calibration's posterior (config units)."""
    post = pd.read_parquet(folder / "posterior.parquet")
    w = post["weight"].to_numpy(float)
    idx = np.random.default_rng(np.random.SeedSequence([seed, 3])).choice(len(post), size=n, p=w / w.sum())
    keys = pd.read_csv(folder / "posterior.csv").set_index("param")["key"]
    out = post.iloc[idx][list(keys.index)].rename(columns=dict(keys)).reset_index(drop=True)
    return out


def predict(
    folder: Path,
    map_: Any,
    *,
    n_draws: int,
    n_seeds: int,
    year: int,
    steps: int | None,
    seed: int,
    progress: bool = False,
) -> pd.DataFrame:
    """One row per run: shock, draw, seed and the kept outcomes."""
    base = yaml.safe_load((folder / "base_config.yaml").read_text())
    if steps is not None:
        base["run"]["steps"] = steps
    params = draws(folder, n_draws, seed)
    seeds = np.random.default_rng(np.random.SeedSequence([seed, 4])).integers(0, 2**31 - 1, size=n_seeds)
    rows: list[dict[str, Any]] = []
    tasks: list[tuple[dict[str, Any], dict[str, Any], int]] = []
    for shock, overrides in shocks(year).items():
        for d, values in enumerate(params.to_dict("records")):
            for s in seeds:
                rows.append({"shock": shock, "draw": d, "seed": int(s)})
                tasks.append((base, {**{str(k): v for k, v in values.items()}, **overrides}, int(s)))
    bar = tqdm(
        map_(_run, tasks), total=len(tasks), desc="predict", unit="run", leave=False, disable=not progress
    )
    results = list(bar)
    return pd.concat([pd.DataFrame(rows), pd.DataFrame(results)], axis=1)


def table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per shock: the probabilities with both intervals, the glut length, losses, and the paired
    effect on P(bubble) against no shock."""
    ref = runs[runs["shock"] == "none"].set_index(["draw", "seed"])
    out = []
    for shock, g in runs.groupby("shock", sort=False):
        row: dict[str, Any] = {"shock": shock, "runs": len(g)}
        for flag in ("glut", "bubble"):
            p, lo, hi = wilson(int(g[flag].astype(bool).sum()), len(g))
            per_draw = g.groupby("draw")[flag].mean()
            row[f"p_{flag}"], row[f"p_{flag}_lo95"], row[f"p_{flag}_hi95"] = p, lo, hi
            row[f"p_{flag}_draws_q05"] = float(per_draw.quantile(0.05))
            row[f"p_{flag}_draws_q95"] = float(per_draw.quantile(0.95))
        length = g.loc[g["glut"].astype(bool), "longest_glut_months"].astype(float)
        row["glut_months_median"] = float(length.median()) if len(length) else np.nan
        losses = g[["write_offs_usd", "default_losses_usd"]].astype(float).sum(axis=1)
        row["losses_usd_median"] = float(losses.median())
        row["losses_usd_q05"], row["losses_usd_q95"] = (
            float(losses.quantile(0.05)),
            float(losses.quantile(0.95)),
        )
        paired = g.set_index(["draw", "seed"]).loc[ref.index]
        eff = paired_difference(
            paired["bubble"].astype(float).to_numpy(), ref["bubble"].astype(float).to_numpy()
        )
        row["bubble_effect"], row["bubble_effect_lo95"], row["bubble_effect_hi95"] = eff
        out.append(row)
    return pd.DataFrame(out)


def _abs_corr(x: pd.Series, y: pd.Series) -> float:
    """|Pearson correlation|, 0 where either side is constant (no information, not NaN)."""
    a, b = x.to_numpy(float), y.to_numpy(float)
    return 0.0 if a.std() == 0 or b.std() == 0 else abs(float(np.corrcoef(a, b)[0, 1]))


def conditions(runs: pd.DataFrame, params: pd.DataFrame, groups: int = 3) -> pd.DataFrame:
    """What decides the answer: the parameter whose value moves the per-draw P(bubble) most
    (largest mean |correlation| over the shocks), its draws split into `groups` quantile bins,
    and P(bubble) per shock within each bin."""
    per_draw = runs.groupby(["shock", "draw"], sort=False)["bubble"].mean().unstack("shock")
    corr = {c: float(np.mean([_abs_corr(params[c], per_draw[s]) for s in per_draw])) for c in params}
    key = max(corr, key=lambda c: corr[c])
    groups = min(groups, len(params))
    bins = pd.qcut(params[key].rank(method="first"), groups, labels=False)
    rows = []
    for b in range(groups):
        members = params.index[bins == b]
        row: dict[str, Any] = {
            "param": key,
            "mean_abs_correlation": corr[key],
            "low": float(params[key].loc[members].min()),
            "high": float(params[key].loc[members].max()),
            "draws": len(members),
        }
        for shock in per_draw:
            row[f"p_bubble {shock}"] = float(per_draw[shock].loc[members].mean())
        rows.append(row)
    return pd.DataFrame(rows)


def lines(tab: pd.DataFrame) -> list[str]:
    """The table as text for people."""
    out = [
        f"{'shock':<18} {'P(glut) [95 %]':<20} {'P(bubble) [95 %]':<20} {'P(bubble) by draw':<18} "
        f"{'glut months':<12} {'effect on P(bubble)'}"
    ]
    for r in tab.to_dict("records"):
        glut = fmt_share((r["p_glut"], r["p_glut_lo95"], r["p_glut_hi95"]))
        bubble = fmt_share((r["p_bubble"], r["p_bubble_lo95"], r["p_bubble_hi95"]))
        band = f"{r['p_bubble_draws_q05']:.2f}-{r['p_bubble_draws_q95']:.2f}"
        months = "n/a" if np.isnan(r["glut_months_median"]) else f"{r['glut_months_median']:.0f}"
        effect = (
            "-"
            if r["shock"] == "none"
            else fmt_share((r["bubble_effect"], r["bubble_effect_lo95"], r["bubble_effect_hi95"]))
        )
        out.append(f"{r['shock']:<18} {glut:<20} {bubble:<20} {band:<18} {months:<12} {effect}")
    return out
