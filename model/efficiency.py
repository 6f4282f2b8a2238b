"""How a discovery spreads: its own lab after an implementation lag, other labs by
publication (open) or imitation (proprietary, a monthly hazard per lab), each again after
the implementation lag. Background algorithmic progress applies to every lab and is kept
by the model; this module holds the discrete discoveries.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from aibubble.agents import AILab
    from aibubble.config import Config
    from aibubble.events import EventLog


class Market(Protocol):
    """What diffusion reads of the model: the month, the labs, the event log, the seed."""

    steps: int
    labs: list[AILab]
    events: EventLog
    config: Config
    seed_entropy: int


@dataclass
class Discovery:
    id: int
    step: int
    gain: float  # efficiency multiple
    open: bool
    lab: int | None  # index of the discovering lab, None if independent
    architect: int | None  # unique_id of the architect, if any
    cause: str  # "research", "scripted", "manual"


class Diffusion:
    def __init__(self, model: Market) -> None:
        self.model = model
        self.cfg = model.config.discovery
        self.discoveries: list[Discovery] = []
        self.due: dict[int, list[tuple[int, int, str]]] = defaultdict(list)  # step -> (lab, id, route)
        self.unreached: dict[int, np.ndarray] = {}  # proprietary id -> mask of labs not yet reached
        self.imitation_rng: dict[int, np.random.Generator] = {}

    @property
    def frontier_gain(self) -> float:
        """Product of every discovery's gain: what the best lab could reach."""
        return float(np.prod([d.gain for d in self.discoveries])) if self.discoveries else 1.0

    def discover(
        self, lab: int | None, architect: int | None, gain: float, is_open: bool, cause: str
    ) -> Discovery:
        m = self.model
        now = m.steps
        d = Discovery(len(self.discoveries), now, gain, is_open, lab, architect, cause)
        self.discoveries.append(d)
        who = architect if architect is not None else m.labs[lab].unique_id if lab is not None else -1
        kind = "architect" if architect is not None else "lab"
        access = "open" if is_open else "proprietary"
        m.events.add(now, who, kind, "discovery", cause, gain, f"{access}; lab={lab}; id={d.id}")
        lag = self.cfg.implementation_lag_months
        if lab is not None:
            self.due[now + lag].append((lab, d.id, "own lab"))
        others = [i for i in range(len(m.labs)) if i != lab]
        if is_open:
            for i in others:
                self.due[now + self.cfg.publication_lag_months + lag].append((i, d.id, "publication"))
        else:
            mask = np.zeros(len(m.labs), dtype=bool)
            mask[others] = True
            self.unreached[d.id] = mask
            # the discovery's own stream: its imitation draws disturb no other draw
            key = (now, 0 if lab is None else lab + 1, 0 if architect is None else architect + 1)
            self.imitation_rng[d.id] = np.random.default_rng(
                np.random.SeedSequence(m.seed_entropy, spawn_key=key)
            )
        return d

    def step(self) -> None:
        """Imitation draws for proprietary ideas, then this month's adoptions."""
        m = self.model
        now = m.steps
        lag = self.cfg.implementation_lag_months
        for did, mask in list(self.unreached.items()):
            if self.discoveries[did].step == now:
                continue  # rivals can only start copying from the month after
            hits = mask & (self.imitation_rng[did].random(mask.size) < self.cfg.imitation_hazard_per_month)
            for i in np.flatnonzero(hits):
                self.due[now + lag].append((int(i), did, "imitation"))
            mask &= ~hits
            if not mask.any():
                del self.unreached[did]
        for lab_index, did, route in self.due.pop(now, []):
            lab = m.labs[lab_index]
            d = self.discoveries[did]
            if lab.adopt(did, d.gain):
                if d.id in self.unreached:
                    self.unreached[d.id][lab_index] = False
                m.events.add(now, lab.unique_id, "lab", "adoption", route, d.gain, f"id={did}")

    def adoption_steps(self, discovery_id: int) -> dict[int, int]:
        """Lab index -> step it adopted the discovery (from the event log)."""
        out: dict[int, int] = {}
        ids = {lab.unique_id: lab.index for lab in self.model.labs}
        for step, agent, _t, kind, _c, _s, detail in self.model.events.rows:
            if kind == "adoption" and detail == f"id={discovery_id}":
                out[ids[agent]] = step
        return out
