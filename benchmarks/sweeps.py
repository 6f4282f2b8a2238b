"""How fast are sweeps, how well do they use the workers, and does the driver's memory stay flat?

    python -m benchmarks.sweeps                     # 200 default runs on 1 and 2 workers; memory
    python -m benchmarks.sweeps --runs 40 --bare-runs 20 --memory 50 200   # quicker
    python -m benchmarks.sweeps --json              # JSON lines only

Each measurement runs in fresh Python processes, so that its peak memory is its own and every
measurement pays the same warm-up (the first runs in a fresh process are slower).

Figures:

- bare.run_s            seconds per default run (baseline, 120 months) in a plain loop in one
                        process, over the first --bare-runs seeds of the sweep: the work itself
- bare.runs_per_s.<w>w  the same loop split over w processes started together: what this machine
                        can give w workers at best (on a VM, 2 vCPUs may not be 2 cores)
- sweep.runs_per_s.<w>w sweep throughput with w local worker processes: runs / wall time of
                        `run_sweep` (starting the workers, every part file, ledger line and the
                        final results.parquet included)
- speedup.<w>w          sweep.runs_per_s.<w>w / sweep.runs_per_s.1w
- efficiency.<w>w       parallel efficiency: speedup / w
- efficiency_vs_machine.<w>w  sweep.runs_per_s.<w>w / bare.runs_per_s.<w>w: the sweep
                        machinery's share of what the machine allows
- overhead_per_run_s    1 / sweep.runs_per_s.1w - bare.run_s: the cost of the sweep per run
- overhead_share        overhead_per_run_s / bare.run_s (target: under 0.1); a ratio within one
                        invocation, so less at the mercy of a busy machine than the seconds
- sweep.task_s.<w>w      mean seconds a worker spent in `run_task` per run (from the ledger)
- sweep.driver_cpu_per_run_s.<w>w  the driver's CPU seconds per run (submitting, collecting,
                        writing parts and ledger, building the tables)
- paired_overhead_per_run_s  sweep.wall_s.1w / runs - sweep.task_s.1w: what the sweep adds
                        around the worker's run (pool start, IPC, idle time, the final tables),
                        measured in the same minutes as the runs, so that a machine whose load
                        changes between the bare loop and the sweep does not swamp it
- paired_overhead_share paired_overhead_per_run_s / sweep.task_s.1w
- config_build_s        what a worker spends per run on its config: the resolved base with the
                        run's values, validated (`run_config_data` + `build`), in this process
- driver_peak_rss.<n>   peak resident memory (ru_maxrss) of the driver process for a sweep of n
                        tiny runs (20 user segments, 6 months) on 2 workers: it should not grow
                        with n, since results go to disk as they arrive
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent


def _max_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10


def _spec(n: int, fixed: dict[str, object], name: str) -> dict[str, object]:
    """n replicates of one point: the same work per run, only the seed differs."""
    return {
        "name": name,
        "base": "baseline",
        "fixed": fixed,
        "design": {"kind": "list", "points": [{"jump_size": 1.0}]},
        "replicates": n,
        "seed": 1,
    }


def measure_sweep(n: int, workers: int, fixed: dict[str, object]) -> dict[str, float]:
    """In the fresh driver process: one sweep, timed, with its peak memory."""
    from aibubble.experiments.sweeps import create_sweep, parse_spec, prepare, run_sweep

    spec = parse_spec(_spec(n, fixed, f"bench-{n}-{workers}w"), "benchmark")
    prepared = prepare(spec, "benchmark")
    with tempfile.TemporaryDirectory() as tmp:
        store = create_sweep(prepared, Path(tmp), "python -m benchmarks.sweeps")
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        outcome = run_sweep(store, prepared, workers=workers, progress=False)
        seconds = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        in_task = [r["duration_s"] for r in store.read_ledger() if r.get("status") == "ok"]
    if outcome.ok != n:
        raise SystemExit(f"benchmark sweep: {outcome.failed} of {n} runs failed")
    driver_cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {
        "seconds": seconds,
        "runs_per_s": n / seconds,
        "task_s": sum(in_task) / len(in_task),
        "driver_cpu_per_run_s": driver_cpu / n,
        "driver_peak_rss_mb": _max_rss_mb(),
    }


def sweep_seeds(n: int) -> list[int]:
    """The seeds the benchmark sweep gives its runs, so that the bare loop does the same work."""
    from aibubble.experiments.sweeps import parse_spec, prepare

    return prepare(parse_spec(_spec(n, {}, "seeds"), "benchmark"), "benchmark").design["seed"].tolist()


def measure_loop(seeds: list[int]) -> dict[str, float]:
    """In a fresh process: default runs with these seeds, one after another, no sweep machinery."""
    from aibubble import AIMarketModel

    t0 = time.perf_counter()
    for seed in seeds:
        m = AIMarketModel(rng=seed)
        for _ in range(m.config.run.steps):
            m.step()
        m.summary()
    return {"seconds": time.perf_counter() - t0}


def config_build_seconds(repeats: int = 200) -> float:
    """Seconds per run that a worker spends making and validating its config."""
    from aibubble.config import build
    from aibubble.experiments.sweeps import parse_spec, prepare
    from aibubble.experiments.sweeps.design import RowReader, run_config_data

    prepared = prepare(parse_spec(_spec(1, {}, "build"), "benchmark"), "benchmark")
    task = prepared.task(RowReader(prepared.design)[0])
    t0 = time.perf_counter()
    for _ in range(repeats):
        build(run_config_data(task["base"], {**task["overrides"], "run.seed": task["seed"]}), "run")
    return (time.perf_counter() - t0) / repeats


def bare_loops(seeds: list[int], processes: int) -> float:
    """Wall seconds for `processes` fresh processes started together, each looping over its share."""
    shares = [seeds[i::processes] for i in range(processes)]
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.sweeps",
                "--worker",
                json.dumps({"kind": "loop", "seeds": share}),
            ],
            cwd=REPO_DIR,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for share in shares
    ]
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            sys.stderr.write(err.decode())
            raise SystemExit(f"bare loop failed (exit code {proc.returncode})")
    return time.perf_counter() - t0


def _fresh(kind: str, **kwargs: object) -> dict[str, float]:
    command = [sys.executable, "-m", "benchmarks.sweeps", "--worker", json.dumps({"kind": kind, **kwargs})]
    done = subprocess.run(command, cwd=REPO_DIR, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"benchmark {kind} {kwargs} failed (exit code {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sweeps", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=200, help="default runs per throughput sweep (default 200)"
    )
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="worker counts to time (default: 1 2)"
    )
    parser.add_argument(
        "--memory",
        type=int,
        nargs="+",
        default=[100, 1000],
        help="tiny-run counts for memory (default 100 1000)",
    )
    parser.add_argument(
        "--bare-runs", type=int, default=60, help="runs in the plain loops without a sweep (default 60)"
    )
    parser.add_argument("--json", action="store_true", help="print only JSON lines")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:  # inside the fresh process
        job = json.loads(args.worker)
        if job["kind"] == "loop":
            print(json.dumps(measure_loop(job["seeds"])))
        else:
            print(json.dumps(measure_sweep(job["n"], job["workers"], job["fixed"])))
        return

    figures: list[tuple[str, float, str]] = []
    log = sys.stderr
    seeds = sweep_seeds(args.runs)[: args.bare_runs]
    bare: dict[int, float] = {}
    for w in args.workers:
        print(f"plain loop of {len(seeds)} default runs in {w} process(es) ...", file=log)
        bare[w] = len(seeds) / bare_loops(seeds, w)
    if 1 in bare:
        figures.append(("bare.run_s", 1 / bare[1], "s"))
    figures += [(f"bare.runs_per_s.{w}w", rate, "runs/s") for w, rate in bare.items()]
    rates: dict[int, float] = {}
    for w in args.workers:
        print(f"sweep of {args.runs} default runs on {w} worker(s) ...", file=log)
        r = _fresh("sweep", n=args.runs, workers=w, fixed={})
        rates[w] = r["runs_per_s"]
        figures.append((f"sweep.runs_per_s.{w}w", r["runs_per_s"], "runs/s"))
        figures.append((f"sweep.wall_s.{w}w", r["seconds"], "s"))
        figures.append((f"sweep.task_s.{w}w", r["task_s"], "s"))
        figures.append((f"sweep.driver_cpu_per_run_s.{w}w", r["driver_cpu_per_run_s"], "s"))
        if w == 1:  # measured in the same minutes as the runs: what the sweep adds around run_task
            paired = r["seconds"] / args.runs - r["task_s"]
            figures.append(("paired_overhead_per_run_s", paired, "s"))
            figures.append(("paired_overhead_share", paired / r["task_s"], "fraction"))
    for w, rate in rates.items():
        if 1 in rates and w > 1:
            figures.append((f"speedup.{w}w", rate / rates[1], "x"))
            figures.append((f"efficiency.{w}w", rate / (w * rates[1]), "fraction"))
        figures.append((f"efficiency_vs_machine.{w}w", rate / bare[w], "fraction"))
    if 1 in rates:
        overhead = 1 / rates[1] - 1 / bare[1]
        figures.append(("overhead_per_run_s", overhead, "s"))
        figures.append(("overhead_share", overhead * bare[1], "fraction"))
    figures.append(("config_build_s", config_build_seconds(), "s"))
    for n in args.memory:
        print(f"sweep of {n} tiny runs on 2 workers (memory) ...", file=log)
        r = _fresh("sweep", n=n, workers=2, fixed={"n_users": 20, "steps": 6})
        figures.append((f"driver_peak_rss.{n}", r["driver_peak_rss_mb"], "MB"))
        figures.append((f"tiny.runs_per_s.{n}", r["runs_per_s"], "runs/s"))

    if not args.json:
        print(
            f"sweeps: baseline scenario; Python {platform.python_version()}, {os.cpu_count()} CPUs, "
            f"{platform.machine()}"
        )
        width = max(len(name) for name, _, _ in figures)
        for name, value, unit in figures:
            print(f"  {name:<{width}}  {value:>10.3f}  {unit}")
        print()
    for name, value, unit in figures:
        print(json.dumps({"name": f"sweeps.{name}", "value": round(value, 6), "unit": unit}))


if __name__ == "__main__":
    main()
