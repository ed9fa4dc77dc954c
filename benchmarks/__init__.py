"""Benchmarks: ``python -m benchmarks.NAME --json`` prints one JSON object on its last line."""
