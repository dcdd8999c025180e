"""deploy/k8s/ rendered by the real kustomize, each object validated offline against the
Kubernetes API schemas (kubernetes-validate, strict: unknown fields fail), the
CloudNativePG objects checked structurally (their CRD schema is not vendored), and the
rules of issue 13: probes, limits, NetworkPolicies, no committed Secrets, the database's
read-write service, the broker's hook pointing at stations' real routes."""

import copy
import re
from functools import cache
from pathlib import Path

import kubernetes_validate
import pytest

from tests.deploy.manifests import (
    K8S,
    OVERLAYS,
    Manifest,
    env_values,
    missing_limits,
    missing_probes,
    name,
    pod_spec,
    render,
    unguarded_workloads,
    workloads,
)
from yizhan.stations.api import broker_hook_routes

pytestmark = pytest.mark.unit

KUBERNETES_VERSION = "1.31.0"
CNPG_GROUP = "postgresql.cnpg.io/v1"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "kubernetes.md"


@cache
def rendered(overlay: str) -> list[Manifest]:
    """One rendering per overlay and test session."""
    return render(overlay)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_valid_for_kubernetes(overlay: str) -> None:
    checked = 0
    for manifest in rendered(overlay):
        if manifest["apiVersion"] == CNPG_GROUP:
            continue  # checked by test_the_database_is_a_cloudnativepg_cluster
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        checked += 1
    assert checked > 20


def test_the_validator_refuses_a_broken_object() -> None:
    deployment = next(m for m in rendered("prod") if name(m) == "Deployment/stations")
    broken = copy.deepcopy(deployment)
    pod_spec(broken)["containers"][0]["ports"][0]["containerPort"] = "http"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    unknown = copy.deepcopy(deployment)
    pod_spec(unknown)["containers"][0]["livenessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(unknown, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_workload_has_probes_limits_and_a_network_policy(overlay: str) -> None:
    manifests = rendered(overlay)
    kinds = {m["kind"] for m in workloads(manifests)}
    assert kinds == {"Deployment", "StatefulSet", "Job"}
    assert missing_probes(manifests) == []
    assert missing_limits(manifests) == []
    assert unguarded_workloads(manifests) == []


def test_the_rules_catch_what_they_are_about() -> None:
    manifests = copy.deepcopy(rendered("prod"))
    stations = next(m for m in manifests if name(m) == "Deployment/stations")
    container = pod_spec(stations)["containers"][0]
    del container["livenessProbe"]
    del container["resources"]["limits"]["memory"]
    manifests = [m for m in manifests if name(m) != "NetworkPolicy/grpc-between-services"]
    assert missing_probes(manifests) == [
        "Deployment/stations: no livenessProbe",
        "Deployment/stations: serves gRPC without a gRPC probe",
    ]
    assert missing_limits(manifests) == ["Deployment/stations: no limits.memory"]
    assert "Deployment/stations: port grpc is opened by no NetworkPolicy" in (
        unguarded_workloads(manifests)
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_are_referenced_never_committed(overlay: str) -> None:
    manifests = rendered(overlay)
    assert [name(m) for m in manifests if m["kind"] == "Secret"] == []
    documented = DOCS.read_text()
    referenced = {
        (entry["valueFrom"]["secretKeyRef"]["name"], entry["valueFrom"]["secretKeyRef"]["key"])
        for _, entry in env_values(manifests)
        if "secretKeyRef" in entry.get("valueFrom", {})
    }
    assert referenced
    for secret, key in referenced:
        assert f"`{secret}`" in documented, secret
        assert f"`{key}`" in documented, (secret, key)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_use_the_database_read_write_service(overlay: str) -> None:
    urls = [
        (workload, entry["value"])
        for workload, entry in env_values(rendered(overlay))
        if entry["name"].endswith("_DATABASE_URL")
    ]
    assert len(urls) == 7  # three APIs, the ingest, three migrations
    for workload, url in urls:
        assert re.fullmatch(
            r"postgresql\+psycopg://yz_\w+:\$\(DB_PASSWORD\)@yz-pg-rw:5432/yz_\w+", url
        ), workload


def test_the_ingest_scales_on_cpu_and_shares_one_subscription() -> None:
    manifests = rendered("prod")
    hpa = next(m for m in manifests if m["kind"] == "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "telemetry-ingest"
    # Stable pod names: a replaced process resumes its broker session (client id).
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "StatefulSet"
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    env = {e["name"]: e.get("value") for w, e in env_values(manifests) if w.endswith("-ingest")}
    assert env["YZ_TELEMETRY_MQTT_SHARE_GROUP"]
    assert env["YZ_TELEMETRY_MQTT_CLIENT_ID"] == "yz.telemetry.$(POD_NAME)"


def test_the_database_is_a_cloudnativepg_cluster() -> None:
    prod = {name(m): m for m in rendered("prod") if m["apiVersion"] == CNPG_GROUP}
    cluster = prod["Cluster/yz-pg"]["spec"]
    assert cluster["instances"] >= 2  # a primary and a replica
    assert "timescaledb" in cluster["imageName"]
    assert cluster["postgresql"]["shared_preload_libraries"] == ["timescaledb"]
    assert cluster["backup"]["barmanObjectStore"]["destinationPath"].startswith("s3://")
    backup = prod["ScheduledBackup/yz-pg-nightly"]["spec"]
    assert backup["cluster"]["name"] == "yz-pg"
    assert len(backup["schedule"].split()) == 6  # CloudNativePG's cron has seconds
    owners = {cluster["bootstrap"]["initdb"]["owner"]} | {
        role["name"] for role in cluster["managed"]["roles"]
    }
    databases = {cluster["bootstrap"]["initdb"]["database"]}
    for key, manifest in prod.items():
        if key.startswith("Database/"):
            assert manifest["spec"]["cluster"]["name"] == "yz-pg"
            assert manifest["spec"]["owner"] in owners
            databases.add(manifest["spec"]["name"])
    assert databases == {"yz_stations", "yz_telemetry", "yz_bookings"}
    dev = {name(m) for m in rendered("dev") if m["apiVersion"] == CNPG_GROUP}
    assert "ScheduledBackup/yz-pg-nightly" not in dev


def test_the_broker_asks_stations_real_hook_routes() -> None:
    config = (K8S / "broker" / "emqx.conf").read_text()
    prefix = broker_hook_routes.router.prefix
    paths = {route.path for route in broker_hook_routes.router.routes}  # type: ignore[attr-defined]
    assert paths == {f"{prefix}/authenticate", f"{prefix}/authorize"}
    for path in paths:
        assert f'url = "http://stations:8101{path}"' in config
    assert config.count(f'"{broker_hook_routes.HOOK_HEADER}" = ${{YZ_BROKER_HOOK_SECRET}}') == 2
    assert "no_match = deny" in config
    assert "cache { enable = false }" in config  # a revocation holds from the next message


def test_the_ingress_is_tls_and_never_routes_the_hook() -> None:
    ingress = next(m for m in rendered("prod") if m["kind"] == "Ingress")
    tls_hosts = {host for entry in ingress["spec"]["tls"] for host in entry["hosts"]}
    for rule in ingress["spec"]["rules"]:
        assert rule["host"] in tls_hosts
        for path in rule["http"]["paths"]:
            if path["backend"]["service"]["name"] == "stations":
                assert path["path"] == "/api/"
