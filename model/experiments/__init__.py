"""Experiment tooling on top of the simulation core: run folders, plots, counterfactual pairs,
sweeps, their analysis and the findings report. The core (`model`, `agents`) never imports it."""
