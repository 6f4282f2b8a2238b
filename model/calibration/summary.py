"""A calibration folder's README.md: the posterior, convergence, the checks against the record
(2026 out of sample) and, once `aibubble predict` has run, the answer. Built from the folder's
own tables, so it is rewritten whenever one of them is."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from aibubble.experiments.files import atomic_write_text
from aibubble.experiments.stats import fmt_share


def _g(v: float) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3g}"


def readme(folder: Path) -> str:
    manifest = json.loads((folder / "manifest.json").read_text())
    post = pd.read_csv(folder / "posterior.csv")
    gens = pd.read_csv(folder / "generations.csv")
    checks = pd.read_csv(folder / "predictive.csv")
    lines = [
        f"# Calibration '{manifest['name']}'",
        "",
        f"Made by `{manifest['command']}` on {manifest['backend']} (seed {manifest['seed']}, commit "
        f"{(manifest['git'] or {}).get('commit')}, pyabc {manifest['versions'].get('pyabc')}); "
        f"{int(gens['simulations'].sum())} simulations in {len(gens)} generations, final epsilon "
        f"{gens['epsilon'].iloc[-1]:.3g} (RMS standardised miss).",
        "",
        "## Posterior (last generation)",
        "",
        "| parameter | median | 90 % interval | prior | base value |",
        "|---|---|---|---|---|",
    ]
    for r in post.to_dict("records"):
        prior = f"{_g(r['prior_min'])}-{_g(r['prior_max'])}{' (log)' if r['log_prior'] else ''}"
        lines.append(
            f"| `{r['key']}` [{r['unit']}] | {_g(r['median'])} | [{_g(r['q05'])}, {_g(r['q95'])}] | {prior} "
            f"| {_g(r['base_value'])} |"
        )
    lines += [
        "",
        "## Generations",
        "",
        "'effective sample size' is Kish's 1/sum(w^2) of the generation's normalised weights: how",
        "many equally weighted particles the weighted quantiles above rest on.",
        "",
        "| generation | epsilon | simulations | acceptance | effective sample size |",
        "|---|---|---|---|---|",
        *(
            f"| {int(r['generation'])} | {r['epsilon']:.3g} | {int(r['simulations'])} "
            f"| {100 * r['acceptance_rate']:.1f} % | {_g(r.get('effective_sample_size', math.nan))} |"
            for r in gens.to_dict("records")
        ),
        "",
        "## Posterior-predictive checks",
        "",
        "Fresh runs at posterior draws, one seed each. 'within' is the share of draws within one",
        "measurement uncertainty of the record. Rows marked 2026 are out of sample: never fitted.",
        "",
        "| target | sample | record | simulated median [5 %, 95 %] | within |",
        "|---|---|---|---|---|",
    ]
    for r in checks.to_dict("records"):
        lines.append(
            f"| {r['target']} | {r['sample']} | {r['record']} | {_g(r['median'])} [{_g(r['q05'])}, "
            f"{_g(r['q95'])}] | {100 * r['share_within_1sd']:.0f} % |"
        )
    lines += [
        "",
        "![predictive](predictive.png)",
        "",
        "![marginals](marginals.png)",
        "",
        "![diagnostics](diagnostics.png)",
    ]
    if (folder / "predict.csv").exists():
        lines += ["", "## The answer over the posterior (`aibubble predict`)", "", *answer(folder)]
        if (folder / "predict.png").exists():
            lines += ["", "![P(bubble) per posterior draw](predict.png)"]
    return "\n".join(lines) + "\n"


def _usd(v: float) -> str:
    return "n/a" if math.isnan(v) else f"${v / 1e9:,.0f}B"


def answer(folder: Path) -> list[str]:
    """The answer to the essay's question over a calibration's posterior, as Markdown: P(glut)
    and P(bubble) per shock (`aibubble predict`), what decides it, and the out-of-sample checks.
    Shared by the calibration's README and the findings page, which leads with it."""
    tab = pd.read_csv(folder / "predict.csv")
    out = [
        f"{int(tab['runs'].iloc[0])} runs per shock: posterior draws x seeds, the same for every "
        "shock. P(...) [95 % Wilson]; 'by draw' is the 5-95 % band of the per-draw P(bubble) (the "
        "parameter uncertainty); the effect is the paired difference in P(bubble) against no shock "
        "[95 %]; losses are the write-offs and lenders' default losses over the run, median [5 %, 95 %].",
        "",
        "| shock | P(bubble) | P(glut) | P(bubble) by draw | glut months | losses | effect on P(bubble) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in tab.to_dict("records"):
        effect = (
            "-"
            if r["shock"] == "none"
            else fmt_share((r["bubble_effect"], r["bubble_effect_lo95"], r["bubble_effect_hi95"]))
        )
        months = "n/a" if math.isnan(r["glut_months_median"]) else f"{r['glut_months_median']:.0f}"
        out.append(
            f"| {r['shock']} | {fmt_share((r['p_bubble'], r['p_bubble_lo95'], r['p_bubble_hi95']))} "
            f"| {fmt_share((r['p_glut'], r['p_glut_lo95'], r['p_glut_hi95']))} "
            f"| {r['p_bubble_draws_q05']:.2f}-{r['p_bubble_draws_q95']:.2f} | {months} "
            f"| {_usd(r['losses_usd_median'])} [{_usd(r['losses_usd_q05'])}, {_usd(r['losses_usd_q95'])}] "
            f"| {effect} |"
        )
    if (folder / "predict-conditions.csv").exists():
        cond = pd.read_csv(folder / "predict-conditions.csv")
        shocks = [c.removeprefix("p_bubble ") for c in cond.columns if c.startswith("p_bubble ")]
        out += [
            "",
            f"What decides it: `{cond['param'].iloc[0]}` moves the per-draw P(bubble) most (mean "
            f"|correlation| {cond['mean_abs_correlation'].iloc[0]:.2f} over the shocks). P(bubble) by "
            "its third of the draws:",
            "",
            "| range | draws | " + " | ".join(shocks) + " |",
            "|---|---|" + "---|" * len(shocks),
        ]
        for r in cond.to_dict("records"):
            cells = " | ".join(f"{r['p_bubble ' + s]:.2f}" for s in shocks)
            out.append(f"| {r['low']:.3g}-{r['high']:.3g} | {r['draws']} | {cells} |")
    checks = pd.read_csv(folder / "predictive.csv")
    held = checks[checks["sample"] != "fitted"]
    if len(held):
        out += [
            "",
            "Out of sample: figures dated 2026 were never fitted; the posterior predicts them "
            "(fresh runs at posterior draws, one seed each). 'within' is the share of draws within "
            "one measurement uncertainty of the record.",
            "",
            "| figure | record | simulated median [5 %, 95 %] | within |",
            "|---|---|---|---|",
            *(
                f"| {r['target']} | {r['record']} | {_g(r['median'])} [{_g(r['q05'])}, {_g(r['q95'])}] "
                f"| {100 * r['share_within_1sd']:.0f} % |"
                for r in held.to_dict("records")
            ),
        ]
    return out


def write_readme(folder: Path) -> None:
    atomic_write_text(folder / "README.md", readme(folder))
