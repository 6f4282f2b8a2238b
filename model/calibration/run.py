"""`aibubble calibrate`: screen, estimate, check, in one resumable folder.

    runs/calibrations/<YYYYmmdd-HHMMSS>_<name>/
        spec.yaml          the validated spec, every default written out (frozen for --resume)
        targets.yaml       the target file as it was read (frozen too)
        base_config.yaml   the base scenario with the fixed overrides, resolved once
        manifest.json      command, versions, git commit, backend, status, timings
        screening.csv      Morris mu* and sigma per free parameter, on the distance and per target
        abc.db             pyabc's history (SQLite): every generation as it completes
        generations.csv    epsilon, acceptance rate, simulations and effective sample size by generation
        posterior.parquet  the last generation: one row per particle, values in config units, weight
        posterior.csv      per parameter: weighted median, 5 % and 95 % quantiles, prior range
        predictive.parquet posterior-predictive runs: one row per draw, every target's moment
        predictive.csv     per target (2026 ones marked out of sample): record, median [5 %, 95 %]
        calibrated.yaml    the posterior medians as a parameter file (`extends`-able overrides)
        diagnostics.png, marginals.png, pairs.png, predictive.png
        README.md          all of it for people (and the answer, once `aibubble predict` has run)

Stages run in order and each leaves its file; `--resume` skips a stage whose file is there and
continues ABC from the last generation in abc.db (the seeded sampler makes the continued run
identical to an uninterrupted one). Files are written under temporary names and renamed into
place, and manifest.json says "complete" only at the end.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from aibubble.calibration.sampler import SeededSampler, seed_globals
from aibubble.calibration.simulate import Simulator
from aibubble.calibration.spec import CalibrationSpec, Prepared, dump_spec, prepare, read_spec
from aibubble.experiments.files import atomic_write_text, safe_name, write_json, write_parquet
from aibubble.experiments.provenance import git_state, now_utc, version
from aibubble.experiments.sweeps.spec import SpecError

SPEC, TARGETS, MANIFEST, SCREENING, DB = (
    "spec.yaml",
    "targets.yaml",
    "manifest.json",
    "screening.csv",
    "abc.db",
)
DEFAULT_ROOT = Path("runs") / "calibrations"
Say = Callable[[str], None]


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The q-quantile of a weighted sample (inverse of the weighted empirical CDF, midpoints)."""
    order = np.argsort(values)
    v, w = values[order], weights[order] / weights.sum()
    cdf = np.cumsum(w) - 0.5 * w
    return float(np.interp(q, cdf, v))


# -------------------------------------------------------------------------------------- backends
@contextlib.contextmanager
def ordered_map(backend: str, workers: int, scheduler: str | None) -> Iterator[Any]:
    """An ordered map over the chosen backend: this process (local, 1 worker), local worker
    processes, or Dask (a LocalCluster, or the scheduler at `scheduler`)."""
    if backend == "local" and workers == 1 and not scheduler:
        yield lambda fn, items: map(fn, items), "this process"
        return
    from aibubble.experiments.sweeps.backends import check_scheduler, make_backend

    if scheduler:
        check_scheduler(scheduler)
    runner = make_backend(backend, workers, scheduler)
    try:
        yield runner.imap, runner.description
    finally:
        runner.close(cancel=True)


# -------------------------------------------------------------------------------------- screening
def _moments(task: tuple[Simulator, dict[str, float], int]) -> dict[str, float]:
    """One run's moments at a sample and seed (in a worker: screening and predictive runs)."""
    simulator, sample, seed = task
    return simulator.moments(sample, seed)


def screen(prep: Prepared, map_: Any) -> pd.DataFrame:
    """Morris elementary effects of each free parameter on the distance and on each target's
    standardised miss, on common random numbers (one seed for every point)."""
    from SALib.analyze import morris as morris_analyze
    from SALib.sample import morris as morris_sample

    assert prep.spec.screening is not None
    names = list(prep.spec.params)
    problem = {"num_vars": len(names), "names": names, "bounds": [list(prep.bounds(n)) for n in names]}
    s = prep.spec.screening
    seed = int(np.random.SeedSequence([prep.spec.seed, 1]).generate_state(1)[0])
    x = morris_sample.sample(problem, N=s.trajectories, num_levels=s.levels, seed=seed)
    simulator = Simulator(prep, prep.targets.fitted, {})
    tasks = [(simulator, dict(zip(names, row, strict=True)), seed) for row in x]
    moments = list(map_(_moments, tasks))
    outputs = {"distance": np.array([prep.targets.distance(m) for m in moments])}
    for t in prep.targets.fitted:
        outputs[t.name] = np.array([t.miss(m[t.name]) for m in moments])
    rows = []
    for output, y in outputs.items():
        y = np.where(np.isfinite(y), y, np.nanmax(np.where(np.isfinite(y), y, np.nan)) * 2)
        res = morris_analyze.analyze(problem, x, y, num_levels=s.levels, seed=seed)
        for i, name in enumerate(names):
            rows.append(
                {"output": output, "param": name, "mu_star": res["mu_star"][i], "sigma": res["sigma"][i]}
            )
    return pd.DataFrame(rows)


def kept_params(spec: CalibrationSpec, screening: pd.DataFrame | None) -> list[str]:
    """The free parameters ABC estimates: all, or the `keep` with the largest mu* on the
    distance plus those screening must always keep, in the spec's order."""
    if screening is None or spec.screening is None:
        return list(spec.params)
    on_distance = screening[screening["output"] == "distance"].sort_values("mu_star", ascending=False)
    chosen = set(on_distance["param"].iloc[: spec.screening.keep]) | set(spec.screening.always)
    return [n for n in spec.params if n in chosen]


# -------------------------------------------------------------------------------------- ABC
def estimate(prep: Prepared, kept: list[str], folder: Path, map_: Any, say: Say, progress: bool) -> Any:
    """ABC-SMC over the kept parameters; continues abc.db if it holds generations."""
    import pyabc

    logging.getLogger("ABC").setLevel(logging.WARNING)  # our progress lines instead of pyabc's log
    spec = prep.spec
    fixed = prep.fixed_sample(kept)
    simulator = Simulator(prep, prep.targets.fitted, fixed)
    prior = pyabc.Distribution(
        **{n: pyabc.RV("uniform", prep.bounds(n)[0], prep.bounds(n)[1] - prep.bounds(n)[0]) for n in kept}
    )
    sampler = SeededSampler(map_, spec.seed, spec.abc.max_tries_per_particle, progress)
    abc = pyabc.ABCSMC(
        simulator,
        prior,
        simulator.distance,
        population_size=spec.abc.population,
        sampler=sampler,
        eps=pyabc.QuantileEpsilon(alpha=spec.abc.quantile),
    )
    db = f"sqlite:///{(folder / DB).resolve()}"
    seed_globals(spec.seed, 0, 0)
    observed = {t.name: float(np.mean(t.bounds)) for t in prep.targets.fitted}
    history = (
        abc.load(db, 1) if (folder / DB).exists() and _generations(folder) > 0 else abc.new(db, observed)
    )
    done = history.max_t + 1
    if done < spec.abc.generations:
        say(
            f"ABC-SMC: {len(kept)} parameters, population {spec.abc.population}, generations {done + 1}-"
            f"{spec.abc.generations} (stops early at epsilon <= {spec.abc.min_epsilon} or acceptance < "
            f"{spec.abc.min_acceptance})"
        )
        history = abc.run(
            minimum_epsilon=spec.abc.min_epsilon,
            max_nr_populations=spec.abc.generations - done,
            min_acceptance_rate=spec.abc.min_acceptance,
        )
    if sampler.exhausted:
        say(f"warning: a particle needed more than {spec.abc.max_tries_per_particle} proposals; ABC stopped")
    return history


def _generations(folder: Path) -> int:
    import sqlite3

    with contextlib.closing(sqlite3.connect(folder / DB)) as con:
        try:
            (n,) = con.execute("select count(*) from populations where t >= 0").fetchone()
        except sqlite3.Error:
            return 0
    return int(n)


def _base_value(prep: Prepared, name: str) -> float | None:
    """A parameter's base value in its own units (None: an optional number left unset)."""
    value = prep.base_value(name)
    return None if value is None else prep.values({name: value})[prep.keys[name].path]


def posterior_frames(prep: Prepared, history: Any) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The last generation in config units, its per-parameter summary, and the generation table."""
    df, w = history.get_distribution(m=0, t=history.max_t)
    dist = history.get_weighted_distances(t=history.max_t)
    post = pd.DataFrame({n: [prep.values({n: v})[prep.keys[n].path] for v in df[n]] for n in df.columns})
    post["weight"] = w
    post["distance"] = dist["distance"].to_numpy()
    rows = []
    for n in df.columns:
        p = prep.spec.params[n]
        vals = post[n].to_numpy(float)
        rows.append(
            {
                "param": n,
                "key": prep.keys[n].path,
                "unit": prep.keys[n].unit,
                "median": weighted_quantile(vals, w, 0.5),
                "q05": weighted_quantile(vals, w, 0.05),
                "q95": weighted_quantile(vals, w, 0.95),
                "prior_min": p.min,
                "prior_max": p.max,
                "log_prior": p.log,
                "base_value": _base_value(prep, n),
            }
        )
    pops = history.get_all_populations()
    pops = pops[pops["t"] >= 0]
    gens = pd.DataFrame(
        {
            "generation": pops["t"].to_numpy(int),
            "epsilon": pops["epsilon"].to_numpy(float),
            "simulations": pops["samples"].to_numpy(int),
            "acceptance_rate": prep.spec.abc.population / pops["samples"].to_numpy(float),
            "effective_sample_size": [
                effective_sample_size(history.get_distribution(m=0, t=t)[1]) for t in pops["t"]
            ],
        }
    )
    return post, pd.DataFrame(rows), gens


def effective_sample_size(weights: Any) -> float:
    """Kish's effective sample size of importance weights, 1 / sum(w^2) for normalised w: how
    many equally weighted particles the generation is worth (a few heavy particles mean its
    weighted quantiles rest on those few)."""
    w = np.asarray(weights, float)
    w = w / w.sum()
    return float(1.0 / np.sum(w**2))


# -------------------------------------------------------------------------------------- predictive
def predictive(prep: Prepared, history: Any, kept: list[str], map_: Any) -> pd.DataFrame:
    """Fresh runs at posterior draws (by weight), each with its own seed, long enough for the
    out-of-sample targets too: every target's moment, one row per draw."""
    df, w = history.get_distribution(m=0, t=history.max_t)
    rng = np.random.default_rng(np.random.SeedSequence([prep.spec.seed, 2]))
    idx = rng.choice(len(df), size=prep.spec.predictive.draws, p=w / w.sum())
    seeds = rng.integers(0, 2**31 - 1, size=len(idx))
    fixed = prep.fixed_sample(kept)
    simulator = Simulator(prep, prep.targets.targets, fixed)
    samples = [{n: float(df[n].iloc[i]) for n in kept} for i in idx]
    rows = list(map_(_moments, [(simulator, s, int(k)) for s, k in zip(samples, seeds, strict=True)]))
    out = pd.DataFrame(rows)
    out.insert(0, "seed", seeds)
    out.insert(0, "particle", idx)
    return out


def predictive_table(prep: Prepared, pred: pd.DataFrame) -> pd.DataFrame:
    """Per target: the record, the draws' median and 90 % interval, and the share of draws within
    one measurement uncertainty of the record (a miss of at most 1)."""
    rows = []
    for t in prep.targets.targets:
        x = pred[t.name].to_numpy(float)
        misses = np.array([t.miss(v) for v in x])
        rows.append(
            {
                "target": t.name,
                "sample": "out of sample (2026)" if t.out_of_sample else "fitted",
                "record": t.describe(),
                "median": float(np.nanmedian(x)),
                "q05": float(np.nanquantile(x, 0.05)),
                "q95": float(np.nanquantile(x, 0.95)),
                "share_within_1sd": float(np.mean(misses <= 1.0)),
                "unit": t.unit,
                "source": t.source,
            }
        )
    return pd.DataFrame(rows)


def calibrated_yaml(prep: Prepared, summary: pd.DataFrame, folder: Path) -> str:
    """The posterior medians as a parameter file: the same sections as a scenario file."""
    data: dict[str, Any] = {}
    for row in summary.to_dict("records"):
        section, key = str(row["key"]).split(".", 1)
        median = float(row["median"])
        value = int(round(median)) if prep.keys[str(row["param"])].kind is int else float(f"{median:.4g}")
        data.setdefault(section, {})[key] = value
    lines = [
        f"# Posterior medians of calibration '{prep.spec.name}' against '{prep.targets.name}'",
        f"# ({folder.name}; 90 % intervals in posterior.csv). The other parameters are the base's.",
    ]
    return "\n".join(lines) + "\n" + yaml.safe_dump(data, sort_keys=True)


# -------------------------------------------------------------------------------------- driver
def _manifest(folder: Path, spec: CalibrationSpec, backend: str, status: str, extra: dict[str, Any]) -> None:
    """The folder's manifest: what the first session recorded stays, status and backend follow
    the latest."""
    path = folder / MANIFEST
    first = {
        "kind": "calibration",
        "name": spec.name,
        "command": shlex.join(["aibubble", *sys.argv[1:]]),
        "created_utc": now_utc(),
        "seed": spec.seed,
        "versions": {d: version(d) for d in ("aibubble", "mesa", "numpy", "pandas", "pyabc", "SALib")},
        "git": git_state(),
    }
    old = json.loads(path.read_text()) if path.exists() else {}
    data = {**first, **old, **extra, "status": status, "backend": backend, "updated_utc": now_utc()}
    write_json(path, data)


def new_folder(root: Path, name: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    base = f"{datetime.now().strftime('%Y%m%d-%H%M%S')}_{safe_name(name, 'calibration')}"
    for n in range(1, 1000):
        folder = root / (base if n == 1 else f"{base}-{n}")
        with contextlib.suppress(FileExistsError):
            folder.mkdir()
            return folder
    raise SpecError(f"{root}: no free folder name for {base}")


def open_resume(folder: Path) -> tuple[CalibrationSpec, Prepared]:
    if not (folder / SPEC).is_file() or not (folder / TARGETS).is_file():
        raise SpecError(f"{folder}: not a calibration folder (no {SPEC} and {TARGETS})")
    spec = read_spec(folder / SPEC)
    spec = spec.model_copy(update={"targets": str((folder / TARGETS).resolve())})
    return spec, prepare(spec, str(folder / SPEC))


def calibrate(
    spec_file: Path | None,
    *,
    out_root: Path = DEFAULT_ROOT,
    backend: str = "local",
    workers: int = 1,
    scheduler: str | None = None,
    resume: Path | None = None,
    progress: bool = True,
    say: Say = print,
) -> Path:
    """Run (or continue) a calibration; returns its folder. Mistakes raise SpecError before any
    folder is made."""
    if resume is not None:
        spec, prep = open_resume(resume)
        folder = resume
    else:
        assert spec_file is not None
        spec = read_spec(spec_file)
        prep = prepare(spec, str(spec_file))
    if scheduler:
        from aibubble.experiments.sweeps.backends import check_scheduler

        check_scheduler(scheduler)
    if resume is None:
        folder = new_folder(out_root, spec.name)
        atomic_write_text(folder / TARGETS, prep.targets_file.read_text(encoding="utf-8"))
        atomic_write_text(folder / "base_config.yaml", yaml.safe_dump(prep.base, sort_keys=False))
        atomic_write_text(folder / SPEC, dump_spec(spec))
    t0 = time.perf_counter()
    with ordered_map(backend, workers, scheduler) as (map_, description):
        _manifest(folder, spec, description, "running", {})
        say(f"calibration '{spec.name}' in {folder} on {description}")
        screening = None
        if spec.screening is not None:
            if not (folder / SCREENING).exists():
                n = spec.screening.trajectories * (len(spec.params) + 1)
                say(f"Morris screening: {len(spec.params)} parameters, {n} runs")
                atomic_write_text(folder / SCREENING, screen(prep, map_).to_csv(index=False))
            screening = pd.read_csv(folder / SCREENING)
        kept = kept_params(prep.spec, screening)
        say(f"estimating: {', '.join(kept)}")
        history = estimate(prep, kept, folder, map_, say, progress)
        post, summary, gens = posterior_frames(prep, history)
        atomic_write_text(folder / "generations.csv", gens.to_csv(index=False))
        write_parquet(post, folder / "posterior.parquet")
        atomic_write_text(folder / "posterior.csv", summary.to_csv(index=False))
        say(f"posterior predictive: {spec.predictive.draws} runs")
        pred = predictive(prep, history, kept, map_)
    write_parquet(pred, folder / "predictive.parquet")
    table = predictive_table(prep, pred)
    atomic_write_text(folder / "predictive.csv", table.to_csv(index=False))
    atomic_write_text(folder / "calibrated.yaml", calibrated_yaml(prep, summary, folder))
    from aibubble.calibration.plots import write_plots

    write_plots(folder, prep, screening, post, summary, gens, pred)
    _manifest(
        folder,
        spec,
        description,
        "complete",
        {
            "estimated": kept,
            "generations": int(len(gens)),
            "simulations": int(gens["simulations"].sum()),
            "final_epsilon": float(gens["epsilon"].iloc[-1]),
            "wall_seconds_last_session": round(time.perf_counter() - t0, 1),
        },
    )
    from aibubble.calibration.summary import write_readme

    write_readme(folder)
    return folder
