"""The short bench/faults run: under a steady load, kill -9 of the ingest (twice), PostgreSQL
hung and stopped, a broker restart and stations hung lose nothing and double nothing."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "faults.py"


@pytest.mark.integration
def test_every_fault_under_load_loses_and_doubles_nothing() -> None:
    run = subprocess.run(
        [sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["published"] > 1000
    assert (result["lost"], result["doubled"]) == (0, 0)
    # Each fault was recovered from: everything published before its end got stored.
    assert [f["fault"] for f in result["faults"] if f["recovery_s"] is None] == []
    # Two kills, two restarts by the supervisor (plus the first start).
    assert result["ingest_starts"] == 3
    assert result["ingest_reconnects"] >= 1  # the broker restart
