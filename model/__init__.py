"""aibubble: an agent-based model of the AI compute market (Mesa).

Installed as one namespace, `aibubble`, so that no generic top-level name is claimed: this
folder (`model/`) is the package `aibubble`, `agents/` is `aibubble.agents` and `config/` is
`aibubble.data` (see setup.cfg). `AIMarketModel` is imported on first use, so that
`aibubble.agents` (which reads `aibubble.measures`) and `aibubble` import in either order.
"""

from __future__ import annotations

from importlib import metadata
from typing import TYPE_CHECKING, Any

try:
    __version__ = metadata.version("aibubble")  # set from the git tag when built (setuptools-scm)
except metadata.PackageNotFoundError:  # imported from a checkout that was never installed
    __version__ = "unknown"

if TYPE_CHECKING:
    from aibubble.market import AIMarketModel

__all__ = ["AIMarketModel", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "AIMarketModel":
        from aibubble.market import AIMarketModel

        return AIMarketModel
    raise AttributeError(f"module 'aibubble' has no attribute {name!r}")
