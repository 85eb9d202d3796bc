"""Benchmarks: scripts that print figures (run as `python -m bench.pipeline`, `python -m bench.queue`)."""
