"""From a spec to the table of runs: config keys, design points, seeds, and validation.

`prepare` checks the design's size (from the spec, before enumerating anything), resolves the
base config once, turns the design into one row per run (design point x replicate, each with its
seed) and builds every design point's config, so that a mistake shows before anything runs or is
written.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from aibubble.config import HEADLINE, Config, ConfigError, build, load_config, set_path
from aibubble.experiments.sweeps.spec import (
    GridDesign,
    LhsDesign,
    ListDesign,
    RangeParam,
    SampledDesign,
    SobolDesign,
    SpecError,
    SweepSpec,
)
from aibubble.experiments.sweeps.store import DESIGN_COLUMNS
from aibubble.measures import SERIES

MAX_RUNS = 1_000_000  # larger designs need `allow_large` (`--allow-large`): their table alone takes minutes


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
    return Key(name, path, _kind(annotation), unit)


def _kind(annotation: Any) -> type:
    """The scalar type of a key; an optional scalar (`float | None`, off when None) is that
    scalar, so a number can be swept or estimated in place of None."""
    options = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    kind = options[0] if len(options) == 1 else object
    return kind if isinstance(kind, type) and kind in (int, float, bool, str) else object


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def _copy(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _copy(v) if isinstance(v, dict) else v for k, v in data.items()}


def get_path(data: dict[str, Any], dotted: str) -> Any:
    """The value at key path `section.key` of a resolved config mapping."""
    node: Any = data
    for part in dotted.split("."):
        node = node[part]
    return node


def run_config_data(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A copy of the resolved base config with one run's key path -> value overrides set
    (a copy: every run of the sweep shares the base)."""
    data = _copy(base)
    for path, value in overrides.items():
        set_path(data, path, value)
    return data


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


def salib_problem(design: SampledDesign) -> dict[str, Any]:
    """The SALib problem of an lhs/sobol/morris design: bounds in sample space (log10 if `log`);
    the sampler and the sensitivity analysis of the same sweep must see the same one."""
    params = design.params
    bounds = [[math.log10(p.min), math.log10(p.max)] if p.log else [p.min, p.max] for p in params.values()]
    return {"num_vars": len(params), "names": list(params), "bounds": bounds}


def _seed_int(ss: np.random.SeedSequence) -> int:
    return int(ss.generate_state(1, dtype=np.uint64)[0]) & (2**63 - 1)


def design_points(
    spec: SweepSpec, keys: dict[str, Key], origin: str, base_config: dict[str, Any]
) -> pd.DataFrame:
    """One row per design point (index = point_id), one column per swept key.

    A list point that leaves a key out gets the base config's value in its cell: the table says
    what ran, and a missing value can only mean a broken table.
    """
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
            assert p.min is not None and p.max is not None and p.num is not None  # GridParam._one_way
            space = np.geomspace if p.log else np.linspace
            levels.append([_cast(key, v) for v in space(p.min, p.max, p.num)])
        index = pd.MultiIndex.from_product(levels, names=list(d.params))
        return index.to_frame(index=False)
    if isinstance(d, ListDesign):
        base = {name: get_path(base_config, key.path) for name, key in keys.items()}
        return pd.DataFrame([{**base, **point} for point in d.points], columns=list(keys))

    names = list(d.params)
    for name in names:
        if keys[name].kind not in (int, float):
            raise SpecError(
                f"{origin}: key 'design.params.{name}': {d.kind} samples numbers; "
                f"sweep '{name}' with a grid or list design"
            )
    problem = salib_problem(d)
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
        """Config key path -> value for one run: every swept key (`prepare` checked none is missing)."""
        return {key.path: row[name] for name, key in self.keys.items()}

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


def check_size(spec: SweepSpec, origin: str, max_runs: int | None = MAX_RUNS) -> None:
    """Refuse a design above `max_runs` runs before a single point is enumerated."""
    if max_runs is not None and spec.n_runs > max_runs:
        raise SpecError(
            f"{origin}: {spec.design.n_points:,} design points x {spec.replicates} replicates = "
            f"{spec.n_runs:,} runs, above the limit of {max_runs:,} (--allow-large runs it anyway)"
        )


def resolve_base(spec: SweepSpec, origin: str) -> dict[str, Any]:
    """The base scenario with the spec's fixed overrides, resolved and validated, as plain data."""
    fixed = _flatten(spec.fixed)
    for name in fixed:
        config_key(name, origin, f"fixed.{name}")
    try:
        base = load_config(spec.base, fixed)
    except ConfigError as exc:
        raise SpecError(f"{origin}: base '{spec.base}' with the fixed overrides: {exc}") from None
    return base.model_dump(mode="json")


def prepare(
    spec: SweepSpec,
    origin: str,
    design: pd.DataFrame | None = None,
    base_config: dict[str, Any] | None = None,
    max_runs: int | None = MAX_RUNS,
) -> Prepared:
    """Resolve the base config and validate every design point by building its config.

    `design` and `base_config` are given when resuming: the folder's own, frozen at creation,
    so that later edits to config/ do not leak into a half-finished sweep (`base_config` also
    when the caller has resolved it already). A design above `max_runs` runs is refused before it
    is enumerated (None: no limit). Raises SpecError naming the key (or the design point) that is
    wrong; nothing is written.
    """
    if design is None:
        check_size(spec, origin, max_runs)
    if base_config is None:
        base_config = resolve_base(spec, origin)
    prefix = "design.points" if isinstance(spec.design, ListDesign) else "design.params"
    keys = {name: config_key(name, origin, f"{prefix}.{name}") for name in spec.param_names}
    paths: dict[str, str] = {}
    for key in keys.values():
        if key.path in paths:
            raise SpecError(f"{origin}: '{paths[key.path]}' and '{key.name}' are the same key ({key.path})")
        paths[key.path] = key.name
    if design is None:
        design = run_table(spec, design_points(spec, keys, origin, base_config))
    else:
        _check_frozen(design, keys, origin)
    if not (design["run_id"].to_numpy() == np.arange(len(design))).all():
        raise SpecError(f"{origin}: the design's run ids are not 0..{len(design) - 1} in order")
    prepared = Prepared(spec, origin, base_config, design, keys)

    first = design.drop_duplicates("point_id")
    for row in RowReader(first):
        overrides = prepared.overrides(row)
        label = ", ".join(f"{k}={v!r}" for k, v in overrides.items())
        try:
            build(run_config_data(base_config, overrides), f"design point {int(row['point_id'])} ({label})")
        except ConfigError as exc:
            raise SpecError(f"{origin}: {exc}") from None
    _check_series(spec, origin)
    return prepared


def _check_frozen(design: pd.DataFrame, keys: dict[str, Key], origin: str) -> None:
    """A sweep folder's design table must give every run a value of every key its spec sweeps."""
    missing = [c for c in (*DESIGN_COLUMNS, *keys) if c not in design.columns]
    if missing:
        raise SpecError(f"{origin}: the folder's design.parquet lacks {', '.join(map(repr, missing))}")
    for name in keys:
        empty = design[name].isna().to_numpy()
        if empty.any():
            run = int(design["run_id"].to_numpy()[empty.argmax()])
            raise SpecError(
                f"{origin}: run {run} has no value of '{name}' in the folder's design.parquet "
                "(older sweep folders left keys a list point did not give empty); start the sweep again"
            )


def _check_series(spec: SweepSpec, origin: str) -> None:
    """Series columns must be model-level measures, the ones the data collector collects."""
    for i, column in enumerate(spec.series.columns):
        if column not in SERIES:
            raise SpecError(
                f"{origin}: key 'series.columns.{i}' = {column!r}: not a model-level measure; "
                f"known: {', '.join(SERIES)}"
            )
