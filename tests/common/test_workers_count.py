"""How many HTTP workers a service runs by default: one per usable core, within the
container's CPU quota (a pod limited to one CPU runs one)."""

import os
from pathlib import Path

import pytest

from yizhan.common.workers import worker_count

pytestmark = pytest.mark.unit


def test_configured_count_wins_and_the_quota_caps_the_default(tmp_path: Path) -> None:
    cores = len(os.sched_getaffinity(0))
    cpu_max = tmp_path / "cpu.max"
    assert worker_count(3, cpu_max) == 3
    assert worker_count(0, cpu_max) == cores  # no cgroup file: every usable core
    cpu_max.write_text("max 100000\n")
    assert worker_count(0, cpu_max) == cores
    cpu_max.write_text("100000 100000\n")
    assert worker_count(0, cpu_max) == 1
    cpu_max.write_text("150000 100000\n")
    assert worker_count(0, cpu_max) == min(cores, 2)
