"""The event log: the story of a run as data (discoveries, adoptions, orders, write-downs...)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

COLUMNS = ["step", "agent_id", "agent_type", "kind", "cause", "size", "detail"]


@dataclass
class EventLog:
    rows: list[tuple] = field(default_factory=list)

    def add(
        self, step: int, agent_id: int, agent_type: str, kind: str, cause: str, size: float, detail: str = ""
    ) -> None:
        self.rows.append((step, agent_id, agent_type, kind, cause, float(size), detail))

    def frame(self) -> pd.DataFrame:
        df = pd.DataFrame(self.rows, columns=COLUMNS)
        return df.astype({"step": "int64", "agent_id": "int64", "size": "float64"})
