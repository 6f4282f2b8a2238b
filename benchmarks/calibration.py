"""How fast does a calibration simulate, and what does the sampler cost per simulation?

    python -m benchmarks.calibration            # population 40, one generation, 1 and 2 workers
    python -m benchmarks.calibration --json

Each measurement runs in a fresh Python process. The simulation is the shipped spec's
(config/calibration/record-2025.yaml): the baseline through 2025 plus the DeepSeek twin on the
same seed, at a draw from the prior.

Figures:

- bare.sim_s              seconds per simulation in a plain loop (Simulator.moments), no sampler
- sims_per_s.<w>w         simulations per second of the ABC stage (the prior sample and one
                          generation, pyabc and its SQLite history included; worker start-up,
                          plots and predictive runs left out) on w local workers (1 = this process)
- overhead_per_sim_s      1 / sims_per_s.1w - bare.sim_s: what the sampler and pyabc add
- overhead_share          overhead_per_sim_s / bare.sim_s (target: within 10 %)
- sim_cost_B              bare.sim_s x B: one simulation in agent-steps of Mesa's Boltzmann model
                          measured in the same invocation (comparable across machines)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO_DIR = Path(__file__).resolve().parent.parent


def _spec(folder: Path, population: int) -> Path:
    from aibubble.config import CONFIG_DIR

    data = yaml.safe_load((CONFIG_DIR / "calibration" / "record-2025.yaml").read_text())
    data.pop("screening", None)
    data["abc"] = {"population": population, "generations": 1}
    data["predictive"] = {"draws": 1}
    path = folder / "bench.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def measure_bare(n: int) -> dict[str, float]:
    import numpy as np

    from aibubble.calibration.simulate import Simulator
    from aibubble.calibration.spec import prepare, read_spec
    from aibubble.config import CONFIG_DIR

    path = CONFIG_DIR / "calibration" / "record-2025.yaml"
    prep = prepare(read_spec(path), str(path))
    sim = Simulator(prep, prep.targets.fitted, {})
    rng = np.random.default_rng(0)
    samples = [{k: float(rng.uniform(*prep.bounds(k))) for k in prep.spec.params} for _ in range(n + 1)]
    sim.moments(samples[0], 0)  # warm-up: imports and first-call caches
    t0 = time.perf_counter()
    for i, s in enumerate(samples[1:]):
        sim.moments(s, i)
    return {"bare.sim_s": (time.perf_counter() - t0) / n}


def measure_sampler(workers: int, population: int) -> dict[str, float]:
    """Simulations per second of the ABC stage itself (prior sample and one generation, pyabc and
    its SQLite history included); worker start-up, plots and the predictive runs are left out,
    as they do not grow with the number of simulations."""
    from aibubble.calibration.run import estimate, ordered_map
    from aibubble.calibration.spec import prepare, read_spec

    with tempfile.TemporaryDirectory() as tmp:
        path = _spec(Path(tmp), population)
        prep = prepare(read_spec(path), str(path))
        with ordered_map("local", workers, None) as (map_, _):
            map_(_noop, list(range(2 * workers)))  # start the workers before the clock
            t0 = time.perf_counter()
            history = estimate(prep, list(prep.spec.params), Path(tmp), map_, lambda s: None, False)
            wall = time.perf_counter() - t0
        sims = int(history.get_all_populations()["samples"].sum())  # the prior sample (t = -1) included
    return {f"sims_per_s.{workers}w": sims / wall}


def _noop(x: int) -> int:
    return x


def _fresh(*args: str) -> dict[str, float]:
    command = [sys.executable, "-m", "benchmarks.calibration", "--worker", *args]
    done = subprocess.run(command, cwd=REPO_DIR, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"calibration benchmark {args} failed (exit code {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


UNITS = {
    "bare.sim_s": "s",
    "sims_per_s.1w": "simulations/s",
    "sims_per_s.2w": "simulations/s",
    "overhead_per_sim_s": "s",
    "overhead_share": "fraction",
    "sim_cost_B": "Boltzmann agent-steps",
}


def run(population: int, bare_sims: int, boltzmann: float | None = None) -> dict[str, float]:
    """All figures, each measured in a fresh process."""
    figures = _fresh("bare", str(bare_sims))
    for w in (1, 2):
        figures |= _fresh("sampler", str(w), str(population))
    figures["overhead_per_sim_s"] = 1 / figures["sims_per_s.1w"] - figures["bare.sim_s"]
    figures["overhead_share"] = figures["overhead_per_sim_s"] / figures["bare.sim_s"]
    if boltzmann is None:
        from benchmarks.boltzmann import agent_steps_per_second

        boltzmann = agent_steps_per_second(100_000, 20, 3)
    figures["sim_cost_B"] = figures["bare.sim_s"] * boltzmann
    return figures


def lines(figures: dict[str, float]) -> list[str]:
    return [f"calibration {k:<20} {v:12.4g} {UNITS[k]}" for k, v in figures.items()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.calibration", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--json", action="store_true", help="print only JSON lines, one per figure")
    parser.add_argument("--population", type=int, default=40, help="ABC population (default: 40)")
    parser.add_argument(
        "--bare-sims", type=int, default=80, help="simulations in the bare loop (default: 80)"
    )
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, *rest = args.worker
        figures = (
            measure_bare(int(rest[0])) if kind == "bare" else measure_sampler(int(rest[0]), int(rest[1]))
        )
        print(json.dumps(figures))
        return
    figures = run(args.population, args.bare_sims)
    if not args.json:
        print("\n".join(lines(figures)))
    for k, v in figures.items():
        print(json.dumps({"name": f"calibration.{k}", "value": round(v, 6), "unit": UNITS[k]}))


if __name__ == "__main__":
    main()
