"""What `docker compose` does with docker-compose.yml before it starts anything, done here
without a Docker engine: read an env file, interpolate `${VAR}` forms as the Compose
Specification defines them, and order services by `depends_on`."""

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"

# $$ | ${NAME} | ${NAME:-default} ${NAME-default} ${NAME:?error} ${NAME?error} | $NAME
_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)


class InterpolationError(ValueError):
    """A `${VAR:?message}` whose variable is missing, as compose refuses to start."""


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a compose env file (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def _substitute(text: str, env: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["plain"]
        value = env.get(name)
        op, arg = match["op"], match["arg"] or ""
        missing = value is None or (op is not None and op.startswith(":") and value == "")
        if op in (":-", "-") and missing:
            return arg
        if op in (":?", "?") and missing:
            raise InterpolationError(f"{name}: {arg}")
        return value or ""

    return _VARIABLE.sub(replace, text)


def interpolate(node: Any, env: dict[str, str]) -> Any:
    """The document with every string interpolated from `env`."""
    if isinstance(node, str):
        return _substitute(node, env)
    if isinstance(node, list):
        return [interpolate(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    return node


def load(env: dict[str, str]) -> dict[str, Any]:
    """docker-compose.yml with YAML anchors merged and variables interpolated."""
    document: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    resolved: dict[str, Any] = interpolate(document, env)
    return resolved


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's `environment`, as a mapping of strings (compose accepts a list too)."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        return dict(item.split("=", 1) for item in raw)
    return {key: str(value) for key, value in raw.items()}


def dependencies(service: dict[str, Any]) -> dict[str, str]:
    """Service name → condition (`service_started` when given as a list)."""
    raw = service.get("depends_on") or {}
    if isinstance(raw, list):
        return dict.fromkeys(raw, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in raw.items()}


def start_order(services: dict[str, Any]) -> list[str]:
    """Every service after the ones it depends on (compose's order), ties by name."""
    ordered: list[str] = []
    pending = dict(sorted(services.items()))
    while pending:
        ready = [
            name
            for name, service in pending.items()
            if all(dep in ordered for dep in dependencies(service))
        ]
        if not ready:
            raise ValueError(f"dependency cycle among {sorted(pending)}")
        for name in ready:
            ordered.append(name)
            del pending[name]
    return ordered
