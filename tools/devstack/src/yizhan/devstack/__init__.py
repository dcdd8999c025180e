"""Local development stack: what `make run` and the tests start."""
