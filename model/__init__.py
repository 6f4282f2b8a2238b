"""aibubble: an agent-based model of the AI compute market (Mesa)."""

from model.market import AIMarketModel

__all__ = ["AIMarketModel"]
