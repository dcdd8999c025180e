"""Benchmarks: scripts run by hand (`uv run python bench/<name>.py`), not tests."""
