"""Wall-clock and memory benchmarks of AIMarketModel; run with `python -m benchmarks`."""
