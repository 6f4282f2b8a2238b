"""The event log: the story of a run as data (discoveries, adoptions, orders, write-downs...)."""

from __future__ import annotations

from collections.abc import Sequence
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

    def frame(self, extra: Sequence[tuple] = ()) -> pd.DataFrame:
        """The log as a table in step order; `extra` rows (found afterwards, such as glut
        episodes) go after the logged rows of their month."""
        rows = sorted(self.rows + list(extra), key=lambda row: row[0]) if extra else self.rows
        df = pd.DataFrame(rows, columns=COLUMNS)
        return df.astype({"step": "int64", "agent_id": "int64", "size": "float64"})
