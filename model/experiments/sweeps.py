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
- `list`: explicit `points`, each a mapping of key -> value (keys a point leaves out keep the
  base value).
- `lhs`: `samples` points of a Latin hypercube over `min`..`max` ranges (SALib).
- `sobol`: Saltelli's extension of the Sobol sequence for Sobol indices (SALib): `samples` = N
  base samples (a power of 2) give N(D+2) points, or N(2D+2) with `second_order: true`.
- `morris`: `trajectories` Morris trajectories on a `levels`-level grid (SALib): r(D+1) points.

Ranges with `log: true` are sampled uniformly in log10 (e.g. jump_size 1-1000). Integer config
keys are rounded; boolean keys can be swept only by `grid` or `list`.

Seeds: `numpy.random.SeedSequence(seed).spawn(2)` gives one child for the design sampler and one
root for the runs, whose `spawn(n_runs)` children give each run its seed (stored in
design.parquet and passed as `rng=` and `run.seed`). With `common_seeds: true` replicate r uses
the same seed at every design point (common random numbers: differences between points are
then not masked by seed noise).

Execution: the driver builds one small task per run and submits at most two per worker ahead
of the results; each worker builds the config from the resolved base config plus the run's
values, runs the model, and returns the summary and sampled series, which the driver writes
(see `model.experiments.sweep_store`). A run that raises comes back as a failure with its traceback; the
others go on. Backends: local processes (`concurrent.futures.ProcessPoolExecutor` with the
forkserver start method, or spawn where there is no forkserver) or Dask distributed (an
existing scheduler, or a LocalCluster of processes with one thread each).

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
"""

from __future__ import annotations

import math
import os
import signal
import socket
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from model.config import HEADLINE, Config, ConfigError, build, load_config, read_yaml, resolve_path
from model.experiments.sweep_store import DESIGN_COLUMNS, SweepStore, now_utc, plain

DEFAULT_SERIES = [
    "installed_capacity_h100e",
    "compute_demand_h100e",
    "utilization",
    "spot_price_usd_per_gpu_hour",
    "capex_usd",
]
IN_FLIGHT_PER_WORKER = 2
MAX_WARNINGS = 10  # distinct warnings kept per run in the ledger
DESIGN_KINDS = ("grid", "list", "lhs", "sobol", "morris")


class SpecError(ConfigError):
    """A mistake in a sweep spec: one line naming the file, the key path and what was expected."""


# ---------------------------------------------------------------------------------------- spec
class SpecModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GridParam(SpecModel):
    """Levels of one grid parameter: explicit `values`, or `num` levels from `min` to `max`."""

    values: list[Any] | None = Field(None, min_length=1)
    min: float | None = None
    max: float | None = None
    num: int | None = Field(None, ge=1, le=10_000)
    log: bool = False

    @model_validator(mode="after")
    def _one_way(self) -> GridParam:
        ranged = (self.min, self.max, self.num)
        if self.values is not None:
            if any(v is not None for v in ranged) or self.log:
                raise ValueError("give either 'values' or 'min', 'max', 'num' (and 'log'), not both")
        elif any(v is None for v in ranged):
            raise ValueError("needs 'values', or 'min', 'max' and 'num'")
        else:
            _check_range(self.min, self.max, self.log)
        return self


class RangeParam(SpecModel):
    """A continuous range for lhs, sobol and morris designs; `log` samples uniformly in log10."""

    min: float
    max: float
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> RangeParam:
        _check_range(self.min, self.max, self.log)
        return self


def _check_range(lo: float | None, hi: float | None, log: bool) -> None:
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError("'min' and 'max' must be finite numbers")
    if not lo < hi:
        raise ValueError(f"'min' ({lo}) must be below 'max' ({hi})")
    if log and lo <= 0:
        raise ValueError(f"a log range needs 'min' > 0, got {lo}")


class GridDesign(SpecModel):
    kind: Literal["grid"]
    params: dict[str, GridParam] = Field(min_length=1)


class ListDesign(SpecModel):
    kind: Literal["list"]
    points: list[dict[str, Any]] = Field(min_length=1)


class LhsDesign(SpecModel):
    kind: Literal["lhs"]
    params: dict[str, RangeParam] = Field(min_length=1)
    samples: int = Field(ge=1, le=1_000_000)


class SobolDesign(SpecModel):
    kind: Literal["sobol"]
    params: dict[str, RangeParam] = Field(min_length=2)
    samples: int = Field(ge=2, le=1_048_576)
    second_order: bool = False

    @field_validator("samples")
    @classmethod
    def _power_of_two(cls, n: int) -> int:
        if n & (n - 1):
            raise ValueError(f"must be a power of 2 for Saltelli's scheme (e.g. {1 << n.bit_length()})")
        return n


class MorrisDesign(SpecModel):
    kind: Literal["morris"]
    params: dict[str, RangeParam] = Field(min_length=2)
    trajectories: int = Field(ge=2, le=100_000)
    levels: int = Field(4, ge=2, le=100)

    @field_validator("levels")
    @classmethod
    def _even(cls, n: int) -> int:
        if n % 2:
            raise ValueError("must be even (Morris' step is levels / (2 (levels - 1)))")
        return n


Design = Annotated[
    GridDesign | ListDesign | LhsDesign | SobolDesign | MorrisDesign, Field(discriminator="kind")
]


class SeriesSpec(SpecModel):
    """Model-level columns kept per run, every `every_months` months (and the last month)."""

    columns: list[str] = Field(default_factory=lambda: list(DEFAULT_SERIES))
    every_months: int = Field(3, ge=1, le=1200)


class SweepSpec(SpecModel):
    name: str = Field(min_length=1)
    description: str = ""
    base: str = "baseline"
    fixed: dict[str, Any] = Field(default_factory=dict)
    design: Design
    replicates: int = Field(1, ge=1, le=100_000)
    seed: int = Field(0, ge=0, lt=2**63)
    common_seeds: bool = False
    series: SeriesSpec = Field(default_factory=SeriesSpec)

    @property
    def param_names(self) -> list[str]:
        if isinstance(self.design, ListDesign):
            names: dict[str, None] = {}
            for point in self.design.points:
                names.update(dict.fromkeys(point))
            return list(names)
        return list(self.design.params)


def _format_spec_error(exc: ValidationError, origin: str) -> str:
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"]]
    if len(loc) > 1 and loc[0] == "design" and loc[1] in DESIGN_KINDS:
        del loc[1]  # pydantic puts the discriminator's tag in the path
    key = ".".join(loc)
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    if err["type"] == "extra_forbidden":
        return f"{origin}: unknown key '{key}'{more}"
    if err["type"] == "missing":
        return f"{origin}: key '{key}' is required{more}"
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "union_tag_invalid":
        msg = f"'kind' must be one of {', '.join(DESIGN_KINDS)}"
    shown = f" = {err['input']!r}" if not isinstance(err.get("input"), dict | list) else ""
    return f"{origin}: key '{key}'{shown}: {msg}{more}"


def parse_spec(data: Any, origin: str) -> SweepSpec:
    """Validate a raw mapping into a SweepSpec (structure only; see `prepare` for the config)."""
    if not isinstance(data, dict):
        raise SpecError(f"{origin}: expected a mapping, got {type(data).__name__}")
    try:
        return SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_format_spec_error(exc, origin)) from None


def read_spec(path: str | Path) -> SweepSpec:
    path = Path(path)
    return parse_spec(read_yaml(path, SpecError), str(path))


def spec_yaml(spec: SweepSpec) -> str:
    """The normalised spec as YAML: every default written out, so the folder says what ran."""
    header = "# sweep spec as validated (defaults filled in); resume with: aibubble sweep --resume <folder>\n"
    return header + yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


# ---------------------------------------------------------------------------------------- keys
@dataclass(frozen=True)
class Key:
    """A swept or fixed key: the name as written, its config key path, its type and unit."""

    name: str
    path: str
    kind: type
    unit: str


def config_key(name: str, origin: str, where: str) -> Key:
    """Resolve a headline name or config key path against the Config model, or fail naming it."""
    path = HEADLINE.get(name, name)
    node: type[BaseModel] = Config
    parts = path.split(".")
    for i, part in enumerate(parts):
        fields = node.model_fields
        if part not in fields:
            raise SpecError(
                f"{origin}: key '{where}': '{name}' is not a config key path or headline name "
                f"(see `aibubble show baseline`; headline names: {', '.join(HEADLINE)})"
            )
        annotation = fields[part].annotation
        if i < len(parts) - 1:
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                raise SpecError(f"{origin}: key '{where}': '{'.'.join(parts[: i + 1])}' is not a section")
            node = annotation
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            raise SpecError(f"{origin}: key '{where}': '{path}' is a section; name one of its keys")
    extra = fields[parts[-1]].json_schema_extra
    unit = str(extra.get("unit", "")) if isinstance(extra, dict) else ""
    kind = annotation if annotation in (int, float, bool, str) else object
    return Key(name, path, kind, unit)


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def copy_config(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of a config mapping deep enough for `set_path` (sections are one level deep)."""
    return {k: copy_config(v) if isinstance(v, dict) else v for k, v in data.items()}


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    node = data
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value


# ---------------------------------------------------------------------------------------- design
def _cast(key: Key, value: float) -> Any:
    """A sampled number as the key's type: ints rounded, floats to 12 significant digits
    (so that 10**log10(0.02) reads 0.02, not 0.020000000000000004)."""
    if key.kind is int:
        return int(round(value))
    return float(f"{value:.12g}")


def _from_unit(keys: list[Key], ranges: list[RangeParam], sample: np.ndarray) -> dict[str, list[Any]]:
    """Sample-space matrix (log10 for log ranges) to config values, one column per key."""
    cols: dict[str, list[Any]] = {}
    for j, (key, rng) in enumerate(zip(keys, ranges, strict=True)):
        raw = 10.0 ** sample[:, j] if rng.log else sample[:, j]
        if rng.log:  # float noise of 10**log10(x) must not step outside the range
            raw = np.clip(raw, rng.min, rng.max)
        cols[key.name] = [_cast(key, v) for v in raw]
    return cols


def salib_problem(spec: SweepSpec) -> dict[str, Any]:
    """The SALib problem of an lhs/sobol/morris design: bounds in sample space (log10 if `log`)."""
    params = spec.design.params  # type: ignore[union-attr]
    bounds = [[math.log10(p.min), math.log10(p.max)] if p.log else [p.min, p.max] for p in params.values()]
    return {"num_vars": len(params), "names": list(params), "bounds": bounds}


def _seed_int(ss: np.random.SeedSequence) -> int:
    return int(ss.generate_state(1, dtype=np.uint64)[0]) & (2**63 - 1)


def design_points(spec: SweepSpec, keys: dict[str, Key], origin: str) -> pd.DataFrame:
    """One row per design point (index = point_id), one column per swept key."""
    d = spec.design
    sampler_seed = int(np.random.SeedSequence(spec.seed).spawn(2)[0].generate_state(1)[0])
    if isinstance(d, GridDesign):
        levels: list[list[Any]] = []
        for name, p in d.params.items():
            key = keys[name]
            if p.values is not None:
                levels.append(list(p.values))
                continue
            if key.kind not in (int, float):
                raise SpecError(
                    f"{origin}: key 'design.params.{name}': a range needs a numeric key, use 'values'"
                )
            space = np.geomspace if p.log else np.linspace
            levels.append([_cast(key, v) for v in space(p.min, p.max, p.num)])
        index = pd.MultiIndex.from_product(levels, names=list(d.params))
        return index.to_frame(index=False)
    if isinstance(d, ListDesign):
        return pd.DataFrame([{name: point.get(name) for name in spec.param_names} for point in d.points])

    names = list(d.params)
    for name in names:
        if keys[name].kind not in (int, float):
            raise SpecError(
                f"{origin}: key 'design.params.{name}': {d.kind} samples numbers; "
                f"sweep '{name}' with a grid or list design"
            )
    problem = salib_problem(spec)
    if isinstance(d, LhsDesign):
        from SALib.sample import latin

        sample = latin.sample(problem, d.samples, seed=sampler_seed)
    elif isinstance(d, SobolDesign):
        from SALib.sample import sobol

        sample = sobol.sample(problem, d.samples, calc_second_order=d.second_order, seed=sampler_seed)
    else:
        from SALib.sample import morris

        sample = morris.sample(problem, d.trajectories, num_levels=d.levels, seed=sampler_seed)
    ranges = list(d.params.values())
    return pd.DataFrame(_from_unit([keys[n] for n in names], ranges, sample))


def run_table(spec: SweepSpec, points: pd.DataFrame) -> pd.DataFrame:
    """One row per run: run_id, point_id, replicate, seed and the point's values."""
    n_points, reps = len(points), spec.replicates
    runs_root = np.random.SeedSequence(spec.seed).spawn(2)[1]
    children = runs_root.spawn(reps if spec.common_seeds else n_points * reps)
    point_id = np.repeat(np.arange(n_points), reps)
    replicate = np.tile(np.arange(reps), n_points)
    run_id = np.arange(n_points * reps)
    seeds = [
        _seed_int(children[r if spec.common_seeds else i]) for i, r in zip(run_id, replicate, strict=True)
    ]
    table = pd.DataFrame({"run_id": run_id, "point_id": point_id, "replicate": replicate, "seed": seeds})
    table = table.astype({c: "int64" for c in DESIGN_COLUMNS})
    values = points.iloc[point_id].reset_index(drop=True)
    return pd.concat([table, values], axis=1)


# ---------------------------------------------------------------------------------------- prepare
class RowReader:
    """Rows of a frame as dicts of plain Python values, each column keeping its own type.

    (`DataFrame.iterrows` would turn a row of int64 seeds and float values into floats, and a
    63-bit seed does not survive a float.) Holds the columns as numpy arrays: ~8 bytes a cell.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.columns = {c: frame[c].to_numpy() for c in frame.columns}
        self.n = len(frame)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {
            c: (v.item() if isinstance(v, np.generic) else v)
            for c, a in self.columns.items()
            for v in (a[i],)
        }

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self[i] for i in range(self.n))


@dataclass
class Prepared:
    """A validated sweep: spec, resolved base config, every run, and the keys it sweeps."""

    spec: SweepSpec
    origin: str
    base_config: dict[str, Any]
    design: pd.DataFrame
    keys: dict[str, Key]

    @property
    def n_points(self) -> int:
        return int(self.design["point_id"].max()) + 1 if len(self.design) else 0

    def overrides(self, row: dict[str, Any]) -> dict[str, Any]:
        """Config key path -> value for one run (values a list point leaves out are skipped)."""
        out: dict[str, Any] = {}
        for name, key in self.keys.items():
            value = row[name]
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            out[key.path] = value.item() if isinstance(value, np.generic) else value
        return out

    def task(self, row: dict[str, Any]) -> dict[str, Any]:
        """What a worker needs to make one run; small, picklable, no file paths."""
        return {
            "run_id": int(row["run_id"]),
            "seed": int(row["seed"]),
            "base": self.base_config,
            "overrides": self.overrides(row),
            "series_columns": list(self.spec.series.columns),
            "series_every": int(self.spec.series.every_months),
        }


def prepare(
    spec: SweepSpec,
    origin: str,
    design: pd.DataFrame | None = None,
    base_config: dict[str, Any] | None = None,
) -> Prepared:
    """Resolve the base config and validate every design point by building its config.

    `design` and `base_config` are given when resuming: the folder's own, frozen at creation,
    so that later edits to config/ do not leak into a half-finished sweep. Raises SpecError
    naming the key (or the design point) that is wrong; nothing is written.
    """
    fixed = _flatten(spec.fixed)
    for name in fixed:
        config_key(name, origin, f"fixed.{name}")
    if base_config is None:
        try:
            base = load_config(spec.base, fixed)
        except ConfigError as exc:
            raise SpecError(f"{origin}: base '{spec.base}' with the fixed overrides: {exc}") from None
        base_config = base.model_dump(mode="json")
    prefix = "design.points" if isinstance(spec.design, ListDesign) else "design.params"
    keys = {name: config_key(name, origin, f"{prefix}.{name}") for name in spec.param_names}
    paths: dict[str, str] = {}
    for key in keys.values():
        if key.path in paths:
            raise SpecError(f"{origin}: '{paths[key.path]}' and '{key.name}' are the same key ({key.path})")
        paths[key.path] = key.name
    if design is None:
        design = run_table(spec, design_points(spec, keys, origin))
    if not (design["run_id"].to_numpy() == np.arange(len(design))).all():
        raise SpecError(f"{origin}: the design's run ids are not 0..{len(design) - 1} in order")
    prepared = Prepared(spec, origin, base_config, design, keys)

    first = design.drop_duplicates("point_id")
    for row in RowReader(first):
        data = copy_config(base_config)
        overrides = prepared.overrides(row)
        for path, value in overrides.items():
            set_path(data, path, value)
        label = ", ".join(f"{k}={v!r}" for k, v in overrides.items())
        try:
            build(data, f"design point {int(row['point_id'])} ({label})")
        except ConfigError as exc:
            raise SpecError(f"{origin}: {exc}") from None
    _check_series(spec, base_config, origin)
    return prepared


def _check_series(spec: SweepSpec, base_config: dict[str, Any], origin: str) -> None:
    """Series columns must be model-level measures: ask a one-month model of the base scenario."""
    if not spec.series.columns:
        return
    from model.market import AIMarketModel

    data = copy_config(base_config)
    data["users"]["n_segments"] = 10
    data["run"]["steps"] = 1
    known = list(AIMarketModel(config=build(data, origin), rng=0).metrics)
    for i, column in enumerate(spec.series.columns):
        if column not in known:
            raise SpecError(
                f"{origin}: key 'series.columns.{i}' = {column!r}: not a model-level measure; "
                f"known: {', '.join(known)}"
            )


# ---------------------------------------------------------------------------------------- one run
def execute(task: dict[str, Any]) -> dict[str, Any]:
    """Run one design point with one seed (in a worker process); never raises for model errors.

    Returns {"run_id", "seed", "status": "ok", "summary", "series", "meta"} or, if the model
    raised, {"run_id", "seed", "status": "failed", "traceback", "meta"}.
    """
    t0 = time.perf_counter()
    run_id, seed = task["run_id"], task["seed"]
    out: dict[str, Any] = {"run_id": run_id, "seed": seed}
    # Warnings (numpy overflow in extreme corners of a design, ...) go to the ledger with the
    # run, not to the terminal where thousands of them would bury the progress bar.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        try:
            from model.market import AIMarketModel

            data = copy_config(task["base"])
            for path, value in task["overrides"].items():
                set_path(data, path, value)
            data["run"]["seed"] = seed  # the resolved config then repeats this exact run
            cfg = build(data, f"run {run_id}")
            model = AIMarketModel(config=cfg, rng=seed)
            for _ in range(cfg.run.steps):
                model.step()
            out["summary"] = plain(model.summary())
            out["series"] = sample_series(model.model_frame(), task["series_columns"], task["series_every"])
            out["status"] = "ok"
        except Exception:
            out["status"] = "failed"
            out["traceback"] = traceback.format_exc()
    out["meta"] = {
        "duration_s": round(time.perf_counter() - t0, 4),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "finished_utc": now_utc(),
    }
    if caught:
        seen = {f"{w.category.__name__}: {w.message} ({Path(w.filename).name}:{w.lineno})" for w in caught}
        out["meta"]["warnings"] = sorted(seen)[:MAX_WARNINGS]
    return out


def _ignore_sigint() -> None:
    """Worker processes leave Ctrl-C to the driver, which stops them in order."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def sample_series(frame: pd.DataFrame, columns: list[str], every: int) -> dict[str, list[Any]]:
    """Every `every`-th month of `columns` (and always the last month) as plain lists."""
    if not columns:
        return {}
    steps = frame.index.to_numpy()
    keep = (steps % every == 0) | (steps == steps[-1])
    out: dict[str, list[Any]] = {"step": [int(s) for s in steps[keep]]}
    for c in columns:
        out[c] = plain(frame[c].to_numpy(dtype=float)[keep])
    return out


# ---------------------------------------------------------------------------------------- backends
class LocalBackend:
    """Worker processes on this machine (forkserver with the model preloaded, or spawn).

    Called from a script, the script needs the usual `if __name__ == "__main__":` guard, as
    with any multiprocessing code: the workers import the main module.
    """

    def __init__(self, workers: int) -> None:
        import multiprocessing

        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        self.ctx = multiprocessing.get_context(method)
        if method == "forkserver":
            self.ctx.set_forkserver_preload(["model.experiments.sweeps", "model.market"])
        self.slots = workers
        self.pool = self._new_pool()
        self.description = f"local ({workers} processes, {method})"

    def _new_pool(self) -> Any:
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(max_workers=self.slots, mp_context=self.ctx, initializer=_ignore_sigint)

    def submit(self, task: dict[str, Any]) -> Any:
        from concurrent.futures.process import BrokenProcessPool

        try:
            return self.pool.submit(execute, task)
        except BrokenProcessPool:
            # A worker died (e.g. the kernel's OOM killer): the runs it had come back as failed
            # (BrokenProcessPool in their traceback); start a fresh pool for the rest.
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = self._new_pool()
            return self.pool.submit(execute, task)

    def wait_any(self, futures: Any) -> set[Any]:
        from concurrent.futures import wait

        return wait(futures, return_when=FIRST_COMPLETED).done

    def close(self, cancel: bool = False) -> None:
        self.pool.shutdown(wait=True, cancel_futures=cancel)


class DaskBackend:
    """Dask distributed: an existing scheduler, or a LocalCluster of single-threaded processes."""

    def __init__(self, workers: int, scheduler: str | None = None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ConfigError("--backend dask needs `pip install 'dask[distributed]'`") from None
        self.cluster = None
        if scheduler:
            try:
                self.client = Client(scheduler, timeout="20s")
            except OSError as exc:
                raise ConfigError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
            threads = sum(self.client.nthreads().values())
            self.slots = max(workers, threads, 1)
            self.description = f"dask scheduler {scheduler} ({threads} worker threads)"
        else:
            self.cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            )
            self.client = Client(self.cluster)
            self.slots = workers
            self.description = f"dask LocalCluster ({workers} processes)"

    def submit(self, task: dict[str, Any]) -> Any:
        return self.client.submit(
            execute, task, pure=False, key=f"aibubble-run-{task['run_id']}-{os.urandom(4).hex()}"
        )

    def wait_any(self, futures: Any) -> set[Any]:
        from distributed import wait

        return set(wait(list(futures), return_when="FIRST_COMPLETED").done)

    def close(self, cancel: bool = False) -> None:
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()


def check_scheduler(address: str, timeout_s: float = 5.0) -> None:
    """Fail early, before a sweep folder is made, if nothing listens at a tcp:// scheduler address."""
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme != "tcp" or not parts.hostname or not parts.port:
        return  # tls://, ucx://, ...: let distributed judge
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=timeout_s).close()
    except OSError as exc:
        raise ConfigError(f"--scheduler {address}: nothing answers there ({exc.strerror or exc})") from None


def make_backend(kind: str, workers: int, scheduler: str | None) -> LocalBackend | DaskBackend:
    if kind == "local":
        if scheduler:
            raise ConfigError("--scheduler needs --backend dask")
        return LocalBackend(workers)
    if kind == "dask":
        return DaskBackend(workers, scheduler)
    raise ConfigError(f"unknown backend '{kind}'; use local or dask")


# ---------------------------------------------------------------------------------------- driver
@dataclass
class Outcome:
    """What a sweep session did: the folder, counts over the whole sweep, and this session's."""

    root: Path
    total: int
    ok: int
    failed: int
    pending: int
    ran: int = 0
    interrupted: bool = False
    seconds: float = 0.0


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def create_sweep(prepared: Prepared, out_root: Path, command: str) -> SweepStore:
    from model.experiments.output import VERSIONED, _version, git_state

    spec = prepared.spec
    manifest = {
        "name": spec.name,
        "description": spec.description,
        "spec_file": prepared.origin,
        "base": spec.base,
        "base_file": str(resolve_path(spec.base)),
        "design": spec.design.kind,
        "params": {k.name: {"path": k.path, "unit": k.unit} for k in prepared.keys.values()},
        "n_points": prepared.n_points,
        "replicates": spec.replicates,
        "n_runs": len(prepared.design),
        "master_seed": spec.seed,
        "created_utc": now_utc(),
        "command": command,
        "python": sys.version.split()[0],
        "versions": {dist: _version(dist) for dist in (*VERSIONED, "SALib", "distributed")},
        "git": git_state(),
        "sessions": [],
    }
    return SweepStore.create(
        out_root, spec.name, spec_yaml(spec), prepared.base_config, prepared.design, manifest
    )


def open_sweep(root: Path) -> tuple[SweepStore, Prepared]:
    """An existing sweep folder and its spec, re-validated against its own frozen design."""
    store = SweepStore.open(root)
    origin = str(store.path("spec.yaml"))
    spec = parse_spec(yaml.safe_load(store.read_spec_text()), origin)
    prepared = prepare(spec, origin, design=store.read_design(), base_config=store.read_base_config())
    return store, prepared


def _progress(total: int, initial: int, desc: str, enabled: bool | None) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit="run",
        file=sys.stderr,
        disable={True: False, False: True}.get(enabled),  # None: only on a terminal
        dynamic_ncols=True,
        smoothing=0.1,
    )


@dataclass
class _Counters:
    ok: int = 0
    failed: int = 0
    ran: int = 0


def run_sweep(
    store: SweepStore,
    prepared: Prepared,
    *,
    workers: int,
    backend: str = "local",
    scheduler: str | None = None,
    retry_failed: bool = False,
    command: str = "",
    progress: bool | None = None,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> Outcome:
    """Run every run of the sweep that is not done yet, writing each as it finishes.

    Memory stays flat: the driver holds the design table, at most 2 x workers tasks in flight,
    and counters; each result is written and dropped. On Ctrl-C or SIGTERM the runs in flight
    are abandoned, the folder stays resumable and `interrupted` is set.
    """
    t0 = time.perf_counter()
    with store.locked():
        store.remove_temp_files()
        status = store.scan(prepared.design["run_id"].tolist(), reconcile=True)
        todo_status = ("pending", "failed") if retry_failed else ("pending",)
        todo = [rid for rid, s in status.items() if s in todo_status]
        counts = _Counters(
            ok=sum(s == "ok" for s in status.values()),
            failed=sum(s == "failed" for s in status.values() if not retry_failed),
        )
        manifest = store.read_manifest()
        session = {
            "started_utc": now_utc(),
            "command": command,
            "backend": backend,
            "workers": workers,
            "scheduler": scheduler,
            "to_run": len(todo),
        }
        manifest.setdefault("sessions", []).append(session)
        store.write_manifest(manifest)

        interrupted = False
        if todo:
            interrupted = _drive(
                store, prepared, todo, counts, workers, backend, scheduler, progress, on_record
            )
        totals = store.aggregate(list(prepared.spec.series.columns))

        session.update(
            finished_utc=now_utc(),
            ran=counts.ran,
            interrupted=interrupted,
            seconds=round(time.perf_counter() - t0, 2),
        )
        session.update(totals)
        manifest["sessions"][-1] = session
        manifest["status"] = totals
        store.write_manifest(manifest)
    return Outcome(
        root=store.root,
        total=len(status),
        ok=totals["ok"],
        failed=totals["failed"],
        pending=totals["pending"],
        ran=counts.ran,
        interrupted=interrupted,
        seconds=time.perf_counter() - t0,
    )


def _drive(
    store: SweepStore,
    prepared: Prepared,
    todo: list[int],
    counts: _Counters,
    workers: int,
    backend_kind: str,
    scheduler: str | None,
    progress: bool | None,
    on_record: Callable[[dict[str, Any]], None] | None,
) -> bool:
    """The submit/collect loop; returns True if interrupted."""
    rows = RowReader(prepared.design)  # run_id == row position (checked in prepare)
    total = len(prepared.design)
    bar = _progress(total, total - len(todo), prepared.spec.name, progress)
    bar.set_postfix(ok=counts.ok, failed=counts.failed)
    backend = make_backend(backend_kind, workers, scheduler)
    bar.write(f"{len(todo)} of {total} runs to do on {backend.description}; writing to {store.root}")
    pending_ids: Iterator[int] = iter(todo)
    in_flight: dict[Any, int] = {}
    limit = IN_FLIGHT_PER_WORKER * backend.slots
    previous = signal.getsignal(signal.SIGTERM)
    interrupted = False

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    if _main_thread():
        signal.signal(signal.SIGTERM, on_term)
    try:

        def fill() -> None:
            while len(in_flight) < limit:
                rid = next(pending_ids, None)
                if rid is None:
                    return
                in_flight[backend.submit(prepared.task(rows[rid]))] = rid

        fill()
        while in_flight:
            for fut in backend.wait_any(in_flight):
                rid = in_flight.pop(fut)
                try:
                    payload = fut.result()
                except Exception:  # the worker itself died (killed, out of memory, lost)
                    payload = {
                        "run_id": rid,
                        "seed": rows[rid]["seed"],
                        "status": "failed",
                        "traceback": traceback.format_exc(),
                        "meta": {"finished_utc": now_utc()},
                    }
                _record(store, payload, counts)
                if on_record is not None:
                    on_record(payload)
                bar.update(1)
                bar.set_postfix(ok=counts.ok, failed=counts.failed, refresh=False)
            fill()
    except KeyboardInterrupt:
        interrupted = True
        bar.write(
            f"interrupted: {len(in_flight)} runs in flight are dropped; resume with --resume {store.root}"
        )
    finally:
        if _main_thread():
            signal.signal(signal.SIGTERM, previous)
        bar.close()
        backend.close(cancel=True)
    return interrupted


def _record(store: SweepStore, payload: dict[str, Any], counts: _Counters) -> None:
    """Result file first, then the ledger line: a run never counts before its file is complete."""
    record = {
        "run_id": payload["run_id"],
        "status": payload["status"],
        "seed": payload["seed"],
        **payload["meta"],
    }
    if payload["status"] == "ok":
        store.write_result(
            {k: payload[k] for k in ("run_id", "seed", "summary", "series", "meta") if k in payload}
        )
        counts.ok += 1
    else:
        record["traceback"] = payload.get("traceback", "")
        counts.failed += 1
    counts.ran += 1
    store.append_ledger(record)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
