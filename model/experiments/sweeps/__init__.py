"""Sweeps: many runs of AIMarketModel over a design of parameter values, streamed to disk.

A sweep spec is YAML, validated like the model config (unknown keys are errors naming their
key path)::

    name: phase-jump-elasticity
    base: sudden-100x               # a scenario name from config/ or a YAML file
    fixed: {n_users: 2000}          # overrides for every run: headline names or key paths
    design:
      kind: grid                    # grid | list | lhs | sobol | morris
      params:
        jump_size: {min: 1, max: 1000, num: 7, log: true}
        users.demand_elasticity: {values: [0.5, 1.0, 1.5]}
    replicates: 5                   # runs per design point, each with its own seed
    seed: 2024                      # master seed: every run's seed derives from it
    series: {columns: [utilization], every_months: 3}

Designs:

- `grid`: the full factorial of each parameter's `values`, or `num` levels from `min` to `max`
  (evenly spaced, or geometrically with `log: true`).
- `list`: explicit `points`, each a mapping of key -> value. A key a point leaves out runs at
  the base value (the base scenario with the fixed overrides), and that value is what the
  point's row in design.parquet and results.parquet holds: every row says what ran, never NaN.
- `lhs`: `samples` points of a Latin hypercube over `min`..`max` ranges (SALib).
- `sobol`: Saltelli's extension of the Sobol sequence for Sobol indices (SALib): `samples` = N
  base samples (a power of 2) give N(D+2) points, or N(2D+2) with `second_order: true`.
- `morris`: `trajectories` Morris trajectories on a `levels`-level grid (SALib): r(D+1) points.

Ranges with `log: true` are sampled uniformly in log10 (e.g. jump_size 1-1000). Integer config
keys are rounded; boolean keys can be swept only by `grid` or `list`. Design values and bounds
must be finite: NaN or an infinity anywhere in a design (`.nan`, `.inf` in YAML) is refused by
its key path when the spec is read, as are booleans where numbers belong.

Size: the number of runs follows from the spec alone (`SweepSpec.n_runs`), so a design is
measured before it is enumerated; one above MAX_RUNS (10^6) runs is refused unless asked for
(`prepare(..., max_runs=None)`, `aibubble sweep --allow-large`).

Seeds: `numpy.random.SeedSequence(seed).spawn(2)` gives one child for the design sampler and one
root for the runs, whose `spawn(n_runs)` children give each run its seed (stored in
design.parquet and passed as `rng=` and `run.seed`). With `common_seeds: true` replicate r uses
the same seed at every design point (common random numbers: differences between points are
then not masked by seed noise).

Execution: the driver builds one small task per run and submits at most two per worker ahead
of the results; each worker builds the config from the resolved base config plus the run's
values, runs the model, and returns the summary and sampled series, which the driver buffers
and writes many runs at a time as part files, `parts/part-NNNNNN.parquet` (every 500 runs or
30 s, and at the end or on Ctrl-C; see `store`), so that a sweep of 10^6 runs does not write
10^6 small files; after `kill -9` a resumed sweep runs again only what was not yet written.
A run that raises comes back as a failure with its traceback; the others go
on. A run whose worker was lost (the process was killed, a Dask worker died) is resubmitted
automatically, up to `driver.MAX_RETRIES` (3) times, each attempt a ledger line. Backends: local
processes (`concurrent.futures.ProcessPoolExecutor` with the forkserver start method, or spawn
where there is no forkserver) or Dask distributed (an existing scheduler, or a LocalCluster of
processes with one thread each). Workers the driver starts exit with it, even after `kill -9`
(see `backends`).

Dask on a cluster
-----------------
Every worker needs the same Python environment with aibubble installed (`pip install -e .`);
workers receive the resolved config with each task and read no files, and only the driver
writes, so no shared file system is needed.

- By hand: on one machine `dask scheduler --port 8786`, on each machine
  `dask worker tcp://HOST:8786 --nworkers N --nthreads 1`, then
  `aibubble sweep SPEC.yaml --backend dask --scheduler tcp://HOST:8786 --workers TOTAL`.
- SLURM with dask-jobqueue (`pip install dask-jobqueue`): start a scheduler with workers as
  batch jobs in a small script, keep it running, and point the sweep at it::

      from dask_jobqueue import SLURMCluster
      cluster = SLURMCluster(cores=32, processes=32, memory="64GB", walltime="04:00:00",
                             job_extra_directives=["--partition=compute"],
                             python="/path/to/.venv/bin/python")
      cluster.scale(jobs=4)                     # 4 nodes x 32 single-threaded workers
      print(cluster.scheduler_address)          # tcp://10.0.0.5:41234
      input("press Enter to stop the cluster")

  then `aibubble sweep SPEC.yaml --backend dask --scheduler tcp://10.0.0.5:41234 --workers 128`.
  `--workers` sets how many runs are kept in flight (twice that number). If the allocation
  ends mid-sweep, `aibubble sweep --resume DIR ...` continues where it stopped.

Modules
-------
- `spec`: the spec's pydantic model; reading, validating and writing it back normalised.
- `design`: config keys, design points, the SALib problem, seeds, and `prepare`.
- `execute`: what a worker does for one run (`run_task`).
- `backends`: local worker processes and Dask.
- `driver`: create or reopen a sweep folder and run it (`create_sweep`, `open_sweep`, `run_sweep`).
- `store`: the sweep folder on disk (`SweepStore`) and the tables built from it.
"""

from aibubble.experiments.sweeps.backends import DaskBackend, LocalBackend, check_scheduler, make_backend
from aibubble.experiments.sweeps.design import (
    MAX_RUNS,
    Key,
    Prepared,
    check_size,
    prepare,
    resolve_base,
    salib_problem,
)
from aibubble.experiments.sweeps.driver import Outcome, create_sweep, default_workers, open_sweep, run_sweep
from aibubble.experiments.sweeps.execute import run_task
from aibubble.experiments.sweeps.spec import (
    DEFAULT_SERIES,
    SpecError,
    SweepSpec,
    parse_spec,
    read_spec,
    spec_yaml,
)
from aibubble.experiments.sweeps.store import StoreError, SweepStore

__all__ = [
    "DEFAULT_SERIES",
    "MAX_RUNS",
    "DaskBackend",
    "Key",
    "LocalBackend",
    "Outcome",
    "Prepared",
    "SpecError",
    "StoreError",
    "SweepSpec",
    "SweepStore",
    "check_scheduler",
    "check_size",
    "create_sweep",
    "default_workers",
    "make_backend",
    "open_sweep",
    "parse_spec",
    "prepare",
    "read_spec",
    "resolve_base",
    "run_sweep",
    "run_task",
    "salib_problem",
    "spec_yaml",
]
