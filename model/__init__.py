"""aibubble: an agent-based model of the AI compute market (Mesa).

`AIMarketModel` is imported on first use, so that `agents` (which reads `model.measures`)
and `model` can be imported in either order without a cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from model.market import AIMarketModel

__all__ = ["AIMarketModel"]


def __getattr__(name: str) -> Any:
    if name == "AIMarketModel":
        from model.market import AIMarketModel

        return AIMarketModel
    raise AttributeError(f"module 'model' has no attribute {name!r}")
