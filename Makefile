# The two commands of the README: `make run` and `make test`. Everything else is a step of them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
# uv as installed by scripts/setup.sh, in a project-local environment (never the system Python).
UV = .tools/venv/bin/uv

.PHONY: help setup run test lint typecheck unit proto

help:
	@echo "make run   - bring up the whole station network on this machine (Ctrl-C stops it)"
	@echo "make test  - lint, type-check and run every test against real PostgreSQL and Mosquitto"

setup:
	@scripts/setup.sh

run: setup
	$(UV) run --frozen yz-dev run

lint:
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

typecheck:
	$(UV) run --frozen mypy

test: setup lint typecheck
	$(UV) run --frozen pytest

# The tests that need nothing running (marked `unit`): seconds, no database or broker.
unit:
	$(UV) run --frozen pytest -m unit

proto:
	$(UV) run --frozen python scripts/gen_proto.py
