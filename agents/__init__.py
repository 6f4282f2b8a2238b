"""The agents of the AI compute market: one type per module."""

from agents.architect import ModelArchitect
from agents.hyperscaler import Hyperscaler
from agents.lab import AILab
from agents.users import UserPopulation

__all__ = ["AILab", "Hyperscaler", "ModelArchitect", "UserPopulation"]
