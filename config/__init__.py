"""Scenarios (`*.yaml`) and sweep specs (`sweeps/*.yaml`), installed as `aibubble.data` and read
with `importlib.resources`, so a wheel install finds them from any directory."""
