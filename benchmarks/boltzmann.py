"""B: the yardstick of Mesa speed on this machine, measured in the same benchmark run.

Mesa's Boltzmann wealth model without a grid: every agent holding money gives one unit to
an agent drawn at random from all agents, and the model steps its agents with
`shuffle_do("step")`. Its agent-steps per second (B) is what one Python call per agent costs
here; aibubble's figures are reported as multiples of it, since only ratios taken in the
same run survive the machine's ±20-30% swings.
"""

from __future__ import annotations

import time

import mesa


class MoneyAgent(mesa.Agent):
    def __init__(self, model: mesa.Model) -> None:
        super().__init__(model)
        self.wealth = 1

    def step(self) -> None:
        if self.wealth > 0:
            other = self.random.choice(self.model.agent_list)
            other.wealth += 1
            self.wealth -= 1


class BoltzmannWealth(mesa.Model):
    def __init__(self, n: int, rng: int = 0) -> None:
        super().__init__(rng=rng)
        MoneyAgent.create_agents(self, n)
        self.agent_list = list(self.agents)

    def step(self) -> None:
        self.agents.shuffle_do("step")


def agent_steps_per_second(n: int = 100_000, steps: int = 20, repeat: int = 3) -> float:
    """Best of `repeat` runs of `steps` steps with `n` agents (construction excluded)."""
    best = float("inf")
    for seed in range(repeat):
        model = BoltzmannWealth(n, rng=seed)
        t0 = time.perf_counter()
        for _ in range(steps):
            model.step()
        best = min(best, time.perf_counter() - t0)
        assert sum(a.wealth for a in model.agent_list) == n  # money is conserved
    return n * steps / best
