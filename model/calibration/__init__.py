"""Calibration against the record: targets as data, Morris screening, ABC-SMC (pyabc), and
posterior-predictive checks with the 2026 figures held out. See `run` for the folder it writes."""
