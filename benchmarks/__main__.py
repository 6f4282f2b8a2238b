"""How fast and how big is a run of AIMarketModel?

    python -m benchmarks                   # table, then one JSON line per figure
    python -m benchmarks --json            # JSON lines only: {"name": ..., "value": ..., "unit": ...}
    python -m benchmarks --users 300000    # add a population size (repeatable)

Every figure is also given as a ratio to B, the agent-steps per second of Mesa's Boltzmann
wealth model (no grid, 10^5 agents, `shuffle_do`) measured in the same invocation (see
benchmarks/boltzmann.py): timings here swing by 20-30%, ratios taken together do not.

Each population size runs in a fresh Python process, so that its peak memory is its own and
not the largest of all sizes measured so far. In that process the default model (scenario
baseline, 120 months) is built and run `--repeat` times; times are the best (smallest) of
the repeats, as with `timeit`, because noise only ever adds time.

Figures, per population size `users_<n>.`:

- construct_and_run   seconds to build `AIMarketModel(n_users=n)` and step it until it stops
- construct           seconds to build it (config, agents, initial contracts, first collect)
- run                 seconds of the step loop alone
- steps_per_s         model steps (months) per second of the step loop
- segment_steps_per_s user segments x steps per second: how well the user arrays scale
- agent_steps_per_s   (user segments + strategic agents) x steps per second, and
- agent_steps_ratio_B the same divided by B (target >= 25, stretch 50)
- strategic_us        microseconds per strategic-agent step: the step loop of a run with 10
                      user segments (so almost all its time is hyperscalers, labs, architects
                      and the markets they clear) divided by their number x steps
- collect_per_call    milliseconds per `datacollector.collect(model)` call, timed by calling
                      it again on the finished model (the same reporters, the same agents)
- collect_share       collect_per_call x steps / run: the share of the step loop spent in
                      data collection
- rss_after_import    resident memory (ru_maxrss) once numpy, pandas and mesa are imported:
                      the floor that any run pays
- peak_rss            peak resident memory of the whole process (ru_maxrss, the kernel's
                      high-water mark; includes the interpreter, libraries and every repeat)
- calibration.*       simulations per second of `aibubble calibrate` on 1 and 2 workers, and the
                      sampler's overhead per simulation (see benchmarks/calibration.py)
- traced_peak         peak of Python and numpy allocations (tracemalloc; numpy reports its
                      array buffers to it) while building the model and stepping one month:
                      the model's own state, without the interpreter and libraries
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import time
import tracemalloc
from importlib import metadata
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
TINY = 10  # user segments in the run that times the strategic agents
COLLECT_CALLS = 30  # extra collect calls timed on the finished model

# name suffix -> (label in the table, unit, format)
FIGURES: dict[str, tuple[str, str, str]] = {
    "construct_and_run": ("construct + run", "s", ".3f"),
    "construct": ("  construct", "s", ".3f"),
    "run": ("  run (step loop)", "s", ".3f"),
    "steps_per_s": ("model steps per second", "steps/s", ",.0f"),
    "segment_steps_per_s": ("user-segment-steps per second", "segment-steps/s", ",.3g"),
    "agent_steps_per_s": ("agent-steps per second (users + strategic)", "agent-steps/s", ",.3g"),
    "agent_steps_ratio_B": ("  ... as a multiple of B", "x B", ".1f"),
    "collect_per_call": ("datacollector.collect per call", "ms", ".3f"),
    "collect_share": ("share of step loop in collect", "%", ".1f"),
    "rss_after_import": ("RSS after imports (ru_maxrss)", "MB", ",.0f"),
    "peak_rss": ("peak RSS (ru_maxrss)", "MB", ",.0f"),
    "traced_peak": ("traced peak, build + 1 step (tracemalloc)", "MB", ",.1f"),
}


def _max_rss_mb() -> float:
    """The process's peak resident set size so far, in MB (ru_maxrss: KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10


def measure(n_users: int, steps: int, repeat: int) -> dict[str, float]:
    """All figures for one population size, measured in this process (the worker)."""
    from aibubble import AIMarketModel

    rss_after_import = _max_rss_mb()
    construct = run = float("inf")
    model = None
    for _ in range(repeat):
        model = None
        gc.collect()
        t0 = time.perf_counter()
        model = AIMarketModel(n_users=n_users, steps=steps)
        t1 = time.perf_counter()
        while model.running:
            model.step()
        t2 = time.perf_counter()
        construct, run = min(construct, t1 - t0), min(run, t2 - t1)
    assert model is not None
    done = model.steps

    t0 = time.perf_counter()
    for _ in range(COLLECT_CALLS):
        model.datacollector.collect(model)
    per_collect = (time.perf_counter() - t0) / COLLECT_CALLS
    peak_rss = _max_rss_mb()

    model = None
    gc.collect()
    tracemalloc.start()
    model = AIMarketModel(n_users=n_users, steps=steps)
    model.step()
    traced_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()

    return {
        "construct_and_run": construct + run,
        "construct": construct,
        "run": run,
        "steps_per_s": done / run,
        "segment_steps_per_s": n_users * done / run,
        "agent_steps_per_s": (n_users + _strategic(model)) * done / run,
        "collect_per_call": 1e3 * per_collect,
        "collect_share": 100 * per_collect * done / run,
        "rss_after_import": rss_after_import,
        "peak_rss": peak_rss,
        "traced_peak": traced_peak,
    }


def _strategic(model) -> int:
    return len(model.hyperscalers) + len(model.labs) + len(model.architects)


def measure_strategic(steps: int, repeat: int) -> dict[str, float]:
    """Microseconds per strategic-agent step, from a run whose user population is tiny."""
    from aibubble import AIMarketModel

    best = float("inf")
    for _ in range(repeat):
        model = AIMarketModel(n_users=TINY, steps=steps)
        t0 = time.perf_counter()
        while model.running:
            model.step()
        best = min(best, time.perf_counter() - t0)
    return {"strategic_us": 1e6 * best / (_strategic(model) * model.steps)}


def measure_boltzmann(repeat: int) -> dict[str, float]:
    from benchmarks.boltzmann import agent_steps_per_second

    return {"B": agent_steps_per_second(100_000, 20, repeat)}


def _in_fresh_process(n_users: int, steps: int, repeat: int) -> dict[str, float]:
    command = [sys.executable, "-m", "benchmarks", "--worker", str(n_users)]
    command += ["--steps", str(steps), "--repeat", str(repeat)]
    done = subprocess.run(command, cwd=REPO_DIR, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"benchmark of {n_users:,} users failed (exit code {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def _table(results: dict[int, dict[str, float]], steps: int, repeat: int) -> str:
    sizes = list(results)
    heads = [f"{n:,} users" for n in sizes]
    rows = [
        (f"{label} [{unit}]", [f"{results[n][key]:{fmt}}" for n in sizes])
        for key, (label, unit, fmt) in FIGURES.items()
    ]
    lw = max(len(label) for label, _ in rows)
    cw = [max(len(h), *(len(cells[i]) for _, cells in rows)) for i, h in enumerate(heads)]
    lines = [
        f"AIMarketModel, scenario baseline, {steps} months; times are the best of {repeat}",
        f"Python {platform.python_version()}, mesa {_version('mesa')}, numpy {_version('numpy')}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}",
        "",
        " " * lw + "  " + "  ".join(f"{h:>{w}}" for h, w in zip(heads, cw, strict=True)),
    ]
    for label, cells in rows:
        lines.append(f"{label:<{lw}}  " + "  ".join(f"{c:>{w}}" for c, w in zip(cells, cw, strict=True)))
    return "\n".join(lines)


def _json_lines(results: dict[int, dict[str, float]]) -> list[str]:
    return [
        json.dumps({"name": f"users_{n}.{key}", "value": round(figures[key], 6), "unit": FIGURES[key][1]})
        for n, figures in results.items()
        for key in FIGURES
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description="Wall-clock and memory figures of AIMarketModel runs."
    )
    parser.add_argument("--json", action="store_true", help="print only JSON lines, one per figure")
    parser.add_argument(
        "--users",
        type=int,
        action="append",
        default=[],
        metavar="N",
        help=f"also measure N user segments (repeatable; always measured: {DEFAULT_SIZES})",
    )
    parser.add_argument("--steps", type=int, default=120, help="months per run (default: 120)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; the best counts (default: 3)")
    parser.add_argument(
        "--no-calibration",
        action="store_true",
        help="skip the calibration figures (benchmarks/calibration.py)",
    )
    parser.add_argument("--worker", type=int, metavar="N", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min([args.steps, args.repeat, *args.users]) < 1:
        parser.error("--users, --steps and --repeat must be positive")

    if args.worker is not None:  # inside the fresh process: measure, print one JSON object
        if args.worker == 0:
            figures = {**measure_boltzmann(args.repeat), **measure_strategic(args.steps, args.repeat)}
        else:
            figures = measure(args.worker, args.steps, args.repeat)
        print(json.dumps(figures))
        return

    sizes = sorted({*DEFAULT_SIZES, *args.users})
    print("measuring B (Mesa Boltzmann, 10^5 agents) and the strategic agents ...", file=sys.stderr)
    common = _in_fresh_process(0, args.steps, args.repeat)
    results: dict[int, dict[str, float]] = {}
    for n in sizes:
        print(f"measuring {n:,} users x {args.steps} months, {args.repeat} runs ...", file=sys.stderr)
        results[n] = _in_fresh_process(n, args.steps, args.repeat)
        results[n]["agent_steps_ratio_B"] = results[n]["agent_steps_per_s"] / common["B"]
    if not args.json:
        print(_table(results, args.steps, args.repeat))
        print(f"\nB (Mesa Boltzmann wealth, no grid, 10^5 agents): {common['B']:,.3g} agent-steps/s")
        us = common["strategic_us"]
        print(f"strategic agents and markets: {us:.1f} us per strategic-agent step (target <= 25)")
        print()
    print("\n".join(_json_lines(results)))
    print(json.dumps({"name": "B", "value": round(common["B"], 1), "unit": "agent-steps/s"}))
    print(json.dumps({"name": "strategic_us", "value": round(common["strategic_us"], 3), "unit": "us"}))
    if not args.no_calibration:
        from benchmarks import calibration

        print("measuring calibration throughput on 1 and 2 workers ...", file=sys.stderr)
        figures = calibration.run(population=40, bare_sims=80, boltzmann=common["B"])
        if not args.json:
            print("\n".join(calibration.lines(figures)))
        for k, v in figures.items():
            print(
                json.dumps({"name": f"calibration.{k}", "value": round(v, 6), "unit": calibration.UNITS[k]})
            )


if __name__ == "__main__":
    main()
