"""`make run` starts a process again when it exits unexpectedly, with a growing delay."""

import sys
import threading
import time
from pathlib import Path

import pytest

from yizhan.devstack.processes import RestartPolicy
from yizhan.devstack.stack import Stack, StackConfig


def test_delays_double_on_quick_failures_and_reset_after_a_steady_run() -> None:
    policy = RestartPolicy(first_delay=1, max_delay=8, steady_seconds=60)
    quick = [policy.delay_after_exit("ingest", ran_seconds=2) for _ in range(6)]
    assert quick == [0, 1, 2, 4, 8, 8]
    assert policy.delay_after_exit("ingest", ran_seconds=600) == 0
    assert policy.delay_after_exit("serve", ran_seconds=1) == 0


def test_a_crashing_process_is_started_again_and_said_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = StackConfig(
        data_dir=tmp_path,
        pg_port=0,
        mqtt_port=0,
        http_ports={},
        grpc_ports={},
        ingest_http_port=0,
        mqtt_tls_port=0,
        demo=False,
        simulator=False,
        backfill_days=0,
        history_weeks=0,
    )
    stack = Stack(config)
    stack.restart_policy = RestartPolicy(first_delay=0.1, max_delay=0.2)
    stack.logs.mkdir(parents=True)
    runs = tmp_path / "runs"
    crash = f"open({str(runs)!r}, 'a').write('run\\n'); raise SystemExit(70)"
    stack._spawn("ingest", [sys.executable, "-c", crash], {})
    waiting = threading.Thread(target=stack.wait, kwargs={"poll_seconds": 0.05})
    waiting.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (not runs.exists() or runs.read_text().count("run") < 3):
        time.sleep(0.05)
    stack.request_stop()
    waiting.join(5)
    assert runs.read_text().count("run") >= 3
    assert stack.restarts >= 2
    said = capsys.readouterr().out
    assert "ingest exited with 70" in said
    assert "starting ingest again" in said
