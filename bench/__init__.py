"""Benchmarks (not part of the test suite); results and commands in RESULTS.md."""
