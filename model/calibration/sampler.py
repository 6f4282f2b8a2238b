"""A pyabc sampler whose populations depend only on the master seed, on any backend.

pyabc's own parallel samplers accept particles in the order workers finish, and reseed workers
from the clock, so the same calibration gives a different posterior on every run. Here a
generation is n independent tasks; task i of generation t seeds numpy's global generator (which
pyabc's proposals and our simulator draw from) with SeedSequence([seed, t + 1, i]) and samples from
the proposal until one particle is accepted, as pyabc's MappingSampler does. Results come back in
task order, so local processes, a Dask cluster and this process give identical populations.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import cloudpickle
import numpy as np
from pyabc.sampler import Sampler
from tqdm import tqdm

Map = Callable[[Callable[[Any], Any], list[Any]], Iterable[Any]]


def seed_globals(seed: int, *path: int) -> None:
    """Seed numpy's and Python's global generators from a seed and a path (generation, index)."""
    state = np.random.SeedSequence([seed, *path]).generate_state(4)
    np.random.seed(state)
    random.seed(int(state[0]))


def one_particle(task: tuple[bytes, Any, int, int, int, int]) -> tuple[Any, int]:
    """Sample until one particle is accepted (or `max_tries` are spent); in a worker."""
    payload, factory, seed, t, i, max_tries = task
    simulate_one = cloudpickle.loads(payload)
    seed_globals(seed, t + 1, i)  # t = -1 is the prior sample that calibrates epsilon
    sample = factory()
    for tries in range(1, max_tries + 1):
        particle = simulate_one()
        sample.append(particle)
        if particle.accepted:
            return sample, tries
    return sample, max_tries


class SeededSampler(Sampler):
    """Generations as ordered batches of seeded tasks over `map_` (a backend's ordered map)."""

    def __init__(self, map_: Map, seed: int, max_tries: int, progress: bool = True) -> None:
        super().__init__()
        self.map_, self.seed, self.max_tries, self.progress = map_, seed, max_tries, progress
        self.exhausted = False  # a generation's particle needed more than max_tries proposals

    def sample_until_n_accepted(
        self,
        n: int,
        simulate_one: Callable[[], Any],
        t: int,
        *,
        max_eval: float = np.inf,
        all_accepted: bool = False,
        ana_vars: Any = None,
    ) -> Any:
        payload = cloudpickle.dumps(simulate_one)
        tasks = [(payload, self.sample_factory, self.seed, t, i, self.max_tries) for i in range(n)]
        results: Iterator[tuple[Any, int]] = iter(self.map_(one_particle, tasks))
        label = "prior sample" if t < 0 else f"generation {t}"
        bar = tqdm(results, total=n, desc=label, unit="particle", leave=False, disable=not self.progress)
        sample = self._create_empty_sample()
        evaluations = 0
        for part, tries in bar:
            sample += part
            evaluations += tries
        self.nr_evaluations_ = evaluations
        if sample.n_accepted < n:
            self.exhausted = True
            sample.ok = False
        return sample
