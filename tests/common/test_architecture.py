"""The seams between services, read from their source: no service imports another, and the
gRPC calls between their processes (who builds a stub of whose service) form a graph without
cycles."""

import ast
from collections.abc import Mapping
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").exists())
# What a service may import of the workspace besides itself.
SHARED = {"api", "common"}
# The processes and the module each one runs from.
PROCESSES = {
    "stations": ("stations", "yizhan.stations.app"),
    "bookings": ("bookings", "yizhan.bookings.app"),
    "telemetry serve": ("telemetry", "yizhan.telemetry.app"),
    "telemetry ingest": ("telemetry", "yizhan.telemetry.ingest_app"),
    "console": ("console", "yizhan.console.app"),
}
# The process that answers a service's gRPC.
SERVER_OF = {
    "stations": "stations",
    "bookings": "bookings",
    "telemetry": "telemetry serve",
    "console": "console",
}
# Who calls whom at run time, as docs/development.md draws it. Bookings asks telemetry's API
# process for live availability; telemetry's ingest asks bookings for check-ins: no cycle,
# because the API process never calls bookings.
EXPECTED_CALLS = {
    "stations": set(),
    "bookings": {"stations", "telemetry serve"},
    "telemetry serve": {"stations"},
    "telemetry ingest": {"stations", "bookings"},
    "console": {"stations", "telemetry serve", "bookings"},
}


def _sources(service: str) -> list[Path]:
    return sorted((ROOT / "services" / service / "src").rglob("*.py"))


def _imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def _grpc_owner() -> dict[str, str]:
    """Generated gRPC module name -> the service that serves it (from libs/proto)."""
    api = ROOT / "libs" / "proto" / "src" / "yizhan" / "api"
    return {path.stem: path.parents[1].name for path in api.glob("*/v1/*_pb2_grpc.py")}


def _module_file(module: str) -> Path | None:
    parts = module.split(".")
    if len(parts) < 2 or parts[1] not in SERVICES:
        return None
    base = ROOT / "services" / parts[1] / "src" / Path(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def process_sources(entry_module: str) -> set[Path]:
    """The service's source files a process loads: the import closure of its entry module."""
    start = _module_file(entry_module)
    assert start is not None, entry_module
    seen: set[Path] = set()
    todo = [start]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo.extend(f for m in _imported_modules(path) if (f := _module_file(m)) is not None)
    return seen


def process_peers(process: str) -> set[str]:
    """The processes this process calls over gRPC."""
    service, entry = PROCESSES[process]
    uses = stub_uses(service)
    sources = process_sources(entry)
    return {SERVER_OF[peer] for path in sources for peer in uses.get(path, set())}


def outbound_peers(service: str) -> set[str]:
    """The services whose gRPC stubs this service builds or types (its outbound calls)."""
    return {peer for peers in stub_uses(service).values() for peer in peers}


def stub_uses(service: str) -> dict[Path, set[str]]:
    """Per source file, the other services whose gRPC stubs it builds or types."""
    owner = _grpc_owner()
    uses: dict[Path, set[str]] = {}
    for path in _sources(service):
        peers: set[str] = set()
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            # stations_pb2_grpc.StationDirectoryStub(...) or a "...AsyncStub" annotation.
            text = ""
            if isinstance(node, ast.Attribute) and node.attr.endswith("Stub"):
                text = ast.unparse(node.value)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value.rpartition(".")[0] if node.value.endswith("Stub") else ""
            elif isinstance(node, ast.ImportFrom) and node.module:
                stubs = any(alias.name.endswith("Stub") for alias in node.names)
                text = node.module if stubs else ""
            module = text.rpartition(".")[2]
            if module in owner:
                peers.add(owner[module])
        peers.discard(service)
        if peers:
            uses[path] = peers
    return uses


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """A cycle of the graph as a path (first node repeated at the end), or None."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for peer in sorted(graph.get(node, ())):
            if state.get(peer) == "open":
                return [*path[path.index(peer) :], peer]
            if peer not in state and (found := visit(peer)):
                return found
        path.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_service_imports_another() -> None:
    offences = []
    for service in SERVICES:
        others = {f"yizhan.{name}" for name in SERVICES if name != service}
        for path in _sources(service):
            for module in _imported_modules(path):
                top = ".".join(module.split(".")[:2])
                if top in others:
                    offences.append(f"{path.relative_to(ROOT)} imports {module}")
                elif module.startswith("yizhan.") and module.split(".")[1] not in {
                    *SHARED,
                    service,
                    *SERVICES,
                }:
                    offences.append(f"{path.relative_to(ROOT)} imports {module} (not shared)")
    assert offences == []


def test_the_runtime_call_graph_has_no_cycle() -> None:
    graph = {process: process_peers(process) for process in PROCESSES}
    assert find_cycle(graph) is None, f"cycle: {find_cycle(graph)}"
    # Read, not declared: the graph found in the code is the one the docs draw.
    assert graph == EXPECTED_CALLS


def test_every_service_call_is_made_by_some_process() -> None:
    # A stub used in a module no process loads would escape the graph above.
    for service in SERVICES:
        loaded = set().union(*(process_sources(e) for s, e in PROCESSES.values() if s == service))
        per_file = {SERVER_OF[p] for path, peers in stub_uses(service).items() for p in peers}
        in_processes = {
            SERVER_OF[p]
            for path, peers in stub_uses(service).items()
            if path in loaded
            for p in peers
        }
        assert per_file == in_processes, service


def test_inbound_servicers_and_outbound_clients_live_apart() -> None:
    # rpc/ holds what a service answers; what it asks others lives elsewhere (peers/, ...).
    mixed = [
        str(path.relative_to(ROOT))
        for service in SERVICES
        for path in stub_uses(service)
        if "rpc" in path.relative_to(ROOT / "services" / service).parts
    ]
    assert mixed == []


def test_the_cycle_finder_finds_cycles() -> None:
    # The old graph: stations called telemetry and bookings for its console.
    old = {**EXPECTED_CALLS, "stations": {"telemetry serve", "bookings"}}
    assert find_cycle(old) in (
        ["bookings", "stations", "bookings"],
        ["stations", "bookings", "stations"],
    )
    # Telemetry's API process calling bookings would close a loop with bookings' own calls.
    looped = {**EXPECTED_CALLS, "telemetry serve": {"stations", "bookings"}}
    assert find_cycle(looped) == ["bookings", "telemetry serve", "bookings"]
    assert find_cycle({"a": {"a"}}) == ["a", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
