"""The generated gRPC package must match proto/: regenerate and compare."""

import filecmp
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def _files(root: Path) -> dict[str, Path]:
    return {
        str(p.relative_to(root)): p
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_proto.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    fresh = _files(tmp_path / "yizhan" / "api")
    committed = _files(ROOT / "libs" / "proto" / "src" / "yizhan" / "api")
    assert sorted(fresh) == sorted(committed), "run: uv run python scripts/gen_proto.py"
    stale = [name for name in fresh if not filecmp.cmp(fresh[name], committed[name], shallow=False)]
    assert not stale, f"stale generated files {stale}; run: uv run python scripts/gen_proto.py"
