"""The calibration spec: which parameters are free, their priors, the targets, and the budget.

    name: record-2025
    base: baseline                  # the scenario whose behavioural parameters are estimated
    targets: record-2023-2025       # config/targets/NAME.yaml, or a path
    fixed: {n_users: 2000}          # overrides for every run (headline names or key paths)
    params:                         # the free parameters: uniform priors (log10-uniform: log)
      users.demand_elasticity: {min: 0.3, max: 1.5}
      users.adjustment_per_month: {min: 0.03, max: 0.5, log: true}
    screening: {trajectories: 10, levels: 4, keep: 5}   # Morris; omit to estimate them all
                                    # (always: [names] go on to ABC whatever their effect)
    abc: {population: 200, generations: 8, min_epsilon: 0.5, quantile: 0.5}
    predictive: {draws: 50}         # posterior-predictive runs, with the 2026 checks
    seed: 2025

Validation here is structure; `prepare` checks every key against the config, every prior against
the config's own range, and the targets file, so that a mistake shows before anything runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, model_validator

from aibubble.calibration.targets import DEEPSEEK_SCENARIO, TargetSet, load_targets
from aibubble.config import CONFIG_DIR, ConfigError, build, format_error, load_config, read_yaml
from aibubble.experiments.sweeps.design import Key, config_key, resolve_base, run_config_data
from aibubble.experiments.sweeps.spec import Float, Int, RangeParam, SpecError, SpecModel


class Screening(SpecModel):
    """Morris elementary effects on the distance to the record (SALib): r(D+1) runs."""

    trajectories: Int = Field(10, ge=2, le=1000)
    levels: Int = Field(4, ge=2, le=20)
    keep: Int = Field(5, ge=1)  # the parameters with the largest mu* go on to ABC
    # parameters that go on to ABC whatever their mu*: the ones the answer turns on, which the
    # record may barely move, so that the posterior (and predict) carries their uncertainty
    # instead of holding them at a hand-set value
    always: list[str] = []


class Abc(SpecModel):
    """ABC-SMC (pyabc): population size, generations, and when to stop earlier."""

    population: Int = Field(200, ge=10, le=100_000)
    generations: Int = Field(8, ge=1, le=100)
    min_epsilon: Float = Field(0.0, ge=0)  # stop once the RMS standardised miss is this small
    min_acceptance: Float = Field(0.01, ge=0, lt=1)  # stop when a generation accepts fewer
    quantile: Float = Field(0.5, gt=0, lt=1)  # epsilon of the next generation: this quantile
    max_tries_per_particle: Int = Field(2000, ge=1)  # a particle that needs more stops the run


class Predictive(SpecModel):
    draws: Int = Field(50, ge=1, le=100_000)


class CalibrationSpec(SpecModel):
    name: str = Field(min_length=1)
    description: str = ""
    base: str = "baseline"
    targets: str
    fixed: dict[str, Any] = {}
    params: dict[str, RangeParam] = Field(min_length=1)
    screening: Screening | None = None
    abc: Abc = Field(default_factory=lambda: Abc.model_validate({}))
    predictive: Predictive = Field(default_factory=lambda: Predictive.model_validate({}))
    seed: Int = Field(0, ge=0)

    @model_validator(mode="after")
    def _keep_fits(self) -> CalibrationSpec:
        if self.screening is not None and self.screening.keep > len(self.params):
            raise ValueError(f"screening.keep ({self.screening.keep}) exceeds the {len(self.params)} params")
        if self.screening is not None:
            unknown = [n for n in self.screening.always if n not in self.params]
            if unknown:
                raise ValueError(f"screening.always names {unknown[0]}, which is not among params")
        return self


def read_spec(path: Path) -> CalibrationSpec:
    data = read_yaml(path, SpecError)
    try:
        return CalibrationSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(format_error(exc, str(path))) from None


def spec_path(name: str | Path) -> Path:
    """A spec by path, or by name among the shipped ones (config/calibration/NAME.yaml)."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise SpecError(f"{path}: no such calibration spec")
        return path
    shipped = CONFIG_DIR / "calibration" / f"{name}.yaml"
    if not shipped.is_file():
        raise SpecError(f"unknown calibration spec '{name}' (give a path to a YAML file)")
    return shipped


def dump_spec(spec: CalibrationSpec) -> str:
    return yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False)


@dataclass(frozen=True)
class Prepared:
    """A checked spec with everything a run needs resolved once (never per run)."""

    spec: CalibrationSpec
    origin: str
    base: dict[str, Any]  # the resolved base config with the fixed overrides, as plain data
    twin_discovery: dict[str, Any]  # the DeepSeek scenario's shock, for event-study moments
    keys: dict[str, Key]
    targets: TargetSet
    targets_file: Path

    def values(self, sample: dict[str, float]) -> dict[str, Any]:
        """Sample-space values (log10 for log priors) to config values by key path."""
        out: dict[str, Any] = {}
        for name, x in sample.items():
            prior, key = self.spec.params[name], self.keys[name]
            v = 10.0 ** float(x) if prior.log else float(x)
            v = min(max(v, prior.min), prior.max)
            out[key.path] = int(round(v)) if key.kind is int else v
        return out

    def bounds(self, name: str) -> tuple[float, float]:
        """A prior's bounds in sample space."""
        p = self.spec.params[name]
        return (math.log10(p.min), math.log10(p.max)) if p.log else (p.min, p.max)

    def base_value(self, name: str) -> float | None:
        """The base config's value of a free parameter, in sample space (None for an optional
        number the base leaves unset)."""
        from aibubble.experiments.sweeps.design import get_path

        raw = get_path(self.base, self.keys[name].path)
        if raw is None:
            return None
        v = float(raw)
        return math.log10(v) if self.spec.params[name].log else v

    def fixed_sample(self, kept: list[str]) -> dict[str, float]:
        """The free parameters screening did not keep, at their base values; an optional number
        the base leaves unset stays unset."""
        out = {}
        for name in self.spec.params:
            value = self.base_value(name)
            if name not in kept and value is not None:
                out[name] = value
        return out


def prepare(spec: CalibrationSpec, origin: str) -> Prepared:
    """Check keys, priors and targets against the config; raises SpecError, writes nothing."""
    base = resolve_base(spec, origin)  # type: ignore[arg-type]  # same base/fixed fields as a sweep
    keys = {name: config_key(name, origin, f"params.{name}") for name in spec.params}
    paths: dict[str, str] = {}
    for key in keys.values():
        if key.path in paths:
            raise SpecError(f"{origin}: '{paths[key.path]}' and '{key.name}' are the same key ({key.path})")
        if key.kind not in (int, float):
            raise SpecError(f"{origin}: key 'params.{key.name}': only numeric parameters can be estimated")
        paths[key.path] = key.name
    for name, prior in spec.params.items():
        for end in ("min", "max"):
            value: Any = getattr(prior, end)
            value = int(round(value)) if keys[name].kind is int else value
            try:
                build(run_config_data(base, {keys[name].path: value}), "the prior")
            except ConfigError as exc:
                detail = str(exc).split(": ", 2)[-1]
                raise SpecError(
                    f"{origin}: key 'params.{name}.{end}' = {getattr(prior, end)!r} is outside the "
                    f"config's range ({detail})"
                ) from None
    try:
        targets_file = _targets_file(spec.targets, origin)
        targets = load_targets(targets_file)
    except ConfigError as exc:
        raise SpecError(f"{origin}: key 'targets': {exc}") from None
    twin = load_config(DEEPSEEK_SCENARIO).discovery.model_dump(mode="json")
    return Prepared(spec, origin, base, twin, keys, targets, targets_file)


def _targets_file(name: str, origin: str) -> Path:
    from aibubble.calibration.targets import targets_path

    path = Path(name)
    if path.suffix in (".yaml", ".yml") and not path.is_absolute():
        here = Path(origin).parent / path  # relative to the spec's folder first
        if here.is_file():
            return here
    return targets_path(name)
