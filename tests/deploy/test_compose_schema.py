"""docker-compose.yml against the Compose Specification's JSON schema.

The schema is the one check-jsonschema (pinned in pyproject.toml) vendors from
compose-spec/compose-spec (Apache-2.0; its licence ships beside it in
check_jsonschema/builtin_schemas/vendor/licenses/). No network at test time."""

import copy
import json
from importlib import resources
from typing import Any

import jsonschema
import pytest

from tests.deploy.compose import (
    ENV_EXAMPLE,
    InterpolationError,
    dependencies,
    load,
    read_env_file,
    start_order,
)

SECRET = "s3cret-value-for-schema-check-0123456789"


def _schema() -> dict[str, Any]:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads(vendor.joinpath("compose-spec.json").read_text())
    return schema


def _filled_env() -> dict[str, str]:
    """.env.example with every empty value filled, as an operator does."""
    return {key: value or SECRET for key, value in read_env_file(ENV_EXAMPLE).items()}


def _errors(document: dict[str, Any]) -> list[str]:
    schema = _schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def test_the_compose_file_follows_the_specification() -> None:
    assert _errors(load(_filled_env())) == []


def test_the_schema_check_catches_a_mistake() -> None:
    broken = copy.deepcopy(load(_filled_env()))
    broken["services"]["stations"]["restart_policy"] = "always"  # not a compose key
    broken["services"]["migrate-stations"]["depends_on"]["db"]["condition"] = "service_happy"
    errors = _errors(broken)
    assert any("restart_policy" in error for error in errors), errors
    assert any("service_happy" in error for error in errors), errors


def test_an_unfilled_env_file_is_refused() -> None:
    # Every secret is empty in .env.example: compose must refuse to start, not run with "".
    with pytest.raises(InterpolationError, match=r"POSTGRES_PASSWORD|YZ_"):
        load(read_env_file(ENV_EXAMPLE))


def test_every_service_has_what_production_needs() -> None:
    services = load(_filled_env())["services"]
    order = start_order(services)
    for name, service in services.items():
        one_shot = service.get("restart") == "no"
        assert one_shot or service.get("restart") == "unless-stopped", name
        assert service.get("deploy", {}).get("resources", {}).get("limits"), name
        assert one_shot or "healthcheck" in service, name
        assert all(order.index(dep) < order.index(name) for dep in dependencies(service))
    # Only HTTPS (the proxy) and MQTT over TLS are published.
    published = {name: service["ports"] for name, service in services.items() if "ports" in service}
    assert published == {"proxy": ["80:80", "443:443"], "mosquitto": ["8883:8883"]}
