"""Generate the Python gRPC package from proto/ (the one way to regenerate it).

Usage: python scripts/gen_proto.py [--out DIR]   (default: libs/proto/src)
"""

import argparse
import shutil
import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
DEFAULT_OUT = ROOT / "libs" / "proto" / "src"


def generate(out: Path) -> None:
    """Write *_pb2.py, *_pb2_grpc.py and their .pyi stubs for every .proto under proto/."""
    generated_root = out / "yizhan" / "api"
    if generated_root.exists():
        shutil.rmtree(generated_root)
    out.mkdir(parents=True, exist_ok=True)
    protos = sorted(str(p.relative_to(PROTO_DIR)) for p in PROTO_DIR.rglob("*.proto"))
    include = Path(protoc.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{PROTO_DIR}",
        f"-I{include}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--mypy_out={out}",
        f"--mypy_grpc_out={out}",
        *protos,
    ]
    if protoc.main(args) != 0:
        sys.exit("protoc failed")
    # Marker so that type checkers read the generated stubs.
    (generated_root / "py.typed").write_text("")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    generate(parser.parse_args().out)


if __name__ == "__main__":
    main()
