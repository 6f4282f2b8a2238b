"""The agents of the AI compute market: one type per module."""

from aibubble.agents.architect import ModelArchitect
from aibubble.agents.hyperscaler import Hyperscaler
from aibubble.agents.lab import AILab
from aibubble.agents.neocloud import Neocloud
from aibubble.agents.users import UserPopulation

__all__ = ["AILab", "Hyperscaler", "ModelArchitect", "Neocloud", "UserPopulation"]
