"""The sweep spec: its pydantic model, reading it from YAML and writing it back normalised.

Validation here is structure only (types, finite numbers, ranges, one way to give a grid
parameter) plus the design's size, which follows from the spec without enumerating it; whether
the keys are config keys and every design point builds a valid config is `design.prepare`'s job.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from aibubble.config import ConfigError, format_error, read_yaml

DEFAULT_SERIES = [
    "installed_capacity_h100e",
    "compute_demand_h100e",
    "utilization",
    "spot_price_usd_per_gpu_hour",
    "capex_usd",
]
DESIGN_KINDS = ("grid", "list", "lhs", "sobol", "morris")


class SpecError(ConfigError):
    """A mistake in a sweep spec: one line naming the file, the key path and what was expected."""


class SpecModel(BaseModel):
    # NaN or an infinity as a bound is a typo, never a design: refuse it by its key
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def _not_bool(value: Any) -> Any:
    """`replicates: true` is a mistake, not 1 (pydantic would read True as 1)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {str(value).lower()}")
    return value


Int = Annotated[int, BeforeValidator(_not_bool)]
Float = Annotated[float, BeforeValidator(_not_bool)]


def _design_value(value: Any) -> Any:
    """A value a design point sets: a finite number, a boolean or a string (what config keys hold).

    Without this a NaN would reach the design table, where it cannot be told from "not set".
    """
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("Input should be a finite number")
    if not isinstance(value, bool | int | float | str):
        raise ValueError("a design value is a number, a boolean or a string")
    return value


DesignValue = Annotated[Any, AfterValidator(_design_value)]


class GridParam(SpecModel):
    """Levels of one grid parameter: explicit `values`, or `num` levels from `min` to `max`."""

    values: list[DesignValue] | None = Field(None, min_length=1)
    min: Float | None = None
    max: Float | None = None
    num: Int | None = Field(None, ge=1, le=10_000)
    log: bool = False

    @model_validator(mode="after")
    def _one_way(self) -> GridParam:
        ranged = (self.min, self.max, self.num)
        if self.values is not None:
            if any(v is not None for v in ranged) or self.log:
                raise ValueError("give either 'values' or 'min', 'max', 'num' (and 'log'), not both")
        elif self.min is None or self.max is None or self.num is None:
            raise ValueError("needs 'values', or 'min', 'max' and 'num'")
        else:
            _check_range(self.min, self.max, self.log)
        return self

    @property
    def n_levels(self) -> int:
        return len(self.values) if self.values is not None else int(self.num or 0)


class RangeParam(SpecModel):
    """A continuous range for lhs, sobol and morris designs; `log` samples uniformly in log10."""

    min: Float
    max: Float
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> RangeParam:
        _check_range(self.min, self.max, self.log)
        return self


def _check_range(lo: float, hi: float, log: bool) -> None:
    if not lo < hi:
        raise ValueError(f"'min' ({lo}) must be below 'max' ({hi})")
    if log and lo <= 0:
        raise ValueError(f"a log range needs 'min' > 0, got {lo}")


class GridDesign(SpecModel):
    kind: Literal["grid"]
    params: dict[str, GridParam] = Field(min_length=1)

    @property
    def n_points(self) -> int:
        return math.prod(p.n_levels for p in self.params.values())


class ListDesign(SpecModel):
    kind: Literal["list"]
    points: list[dict[str, DesignValue]] = Field(min_length=1)

    @property
    def n_points(self) -> int:
        return len(self.points)


class LhsDesign(SpecModel):
    kind: Literal["lhs"]
    params: dict[str, RangeParam] = Field(min_length=1)
    samples: Int = Field(ge=1, le=1_000_000)

    @property
    def n_points(self) -> int:
        return self.samples


class SobolDesign(SpecModel):
    kind: Literal["sobol"]
    params: dict[str, RangeParam] = Field(min_length=2)
    samples: Int = Field(ge=2, le=1_048_576)
    second_order: bool = False

    @field_validator("samples")
    @classmethod
    def _power_of_two(cls, n: int) -> int:
        if n & (n - 1):
            raise ValueError(f"must be a power of 2 for Saltelli's scheme (e.g. {1 << n.bit_length()})")
        return n

    @property
    def n_points(self) -> int:
        d = len(self.params)
        return self.samples * (2 * d + 2 if self.second_order else d + 2)


class MorrisDesign(SpecModel):
    kind: Literal["morris"]
    params: dict[str, RangeParam] = Field(min_length=2)
    trajectories: Int = Field(ge=2, le=100_000)
    levels: Int = Field(4, ge=2, le=100)

    @field_validator("levels")
    @classmethod
    def _even(cls, n: int) -> int:
        if n % 2:
            raise ValueError("must be even (Morris' step is levels / (2 (levels - 1)))")
        return n

    @property
    def n_points(self) -> int:
        return self.trajectories * (len(self.params) + 1)


Design = Annotated[
    GridDesign | ListDesign | LhsDesign | SobolDesign | MorrisDesign, Field(discriminator="kind")
]
SampledDesign = LhsDesign | SobolDesign | MorrisDesign  # designs that SALib samples


class SeriesSpec(SpecModel):
    """Model-level columns kept per run, every `every_months` months (and the last month)."""

    columns: list[str] = Field(default_factory=lambda: list(DEFAULT_SERIES))
    every_months: Int = Field(default=3, ge=1, le=1200)  # a keyword default: type checkers see it


class SweepSpec(SpecModel):
    name: str = Field(min_length=1)
    description: str = ""
    base: str = "baseline"
    fixed: dict[str, Any] = Field(default_factory=dict)
    design: Design
    replicates: Int = Field(1, ge=1, le=100_000)
    seed: Int = Field(0, ge=0, lt=2**63)
    common_seeds: bool = False
    series: SeriesSpec = Field(default_factory=SeriesSpec)

    @property
    def param_names(self) -> list[str]:
        """The swept keys as written: a list design's keys in order of first appearance."""
        if isinstance(self.design, ListDesign):
            names: dict[str, None] = {}
            for point in self.design.points:
                names.update(dict.fromkeys(point))
            return list(names)
        return list(self.design.params)

    @property
    def n_runs(self) -> int:
        """Design points x replicates, from the spec alone (no point is enumerated)."""
        return self.design.n_points * self.replicates


def parse_spec(data: Any, origin: str) -> SweepSpec:
    """Validate a raw mapping into a SweepSpec (structure only; see `prepare` for the config)."""
    if not isinstance(data, dict):
        raise SpecError(f"{origin}: expected a mapping, got {type(data).__name__}")
    try:
        return SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(format_error(exc, origin, DESIGN_KINDS)) from None


def read_spec(path: str | Path) -> SweepSpec:
    path = Path(path)
    return parse_spec(read_yaml(path, SpecError), str(path))


def spec_yaml(spec: SweepSpec) -> str:
    """The normalised spec as YAML: every default written out, so the folder says what ran."""
    header = "# sweep spec as validated (defaults filled in); resume with: aibubble sweep --resume <folder>\n"
    return header + yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
