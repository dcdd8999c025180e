"""Operators as an admin makes them (the stations CLI) and their bearer tokens."""

import subprocess

import httpx

from tests.support.services import RunningService, service_env


def create_operator(
    stations_db: str, username: str, password: str, role: str, districts: str = ""
) -> None:
    """An operator account, made with `yz-stations create-operator` on that database."""
    env = service_env("stations", stations_db, {"YZ_TEST_OPERATOR_PASSWORD": password})
    subprocess.run(
        [
            "yz-stations",
            "create-operator",
            "--username",
            username,
            "--role",
            role,
            "--districts",
            districts,
            "--password-env",
            "YZ_TEST_OPERATOR_PASSWORD",
        ],
        env=env,
        check=True,
        capture_output=True,
    )


def login(stations: RunningService, username: str, password: str) -> str:
    """A bearer token from stations (accepted by every service)."""
    reply = httpx.post(
        f"{stations.base_url}/api/v1/auth/token",
        data={"username": username, "password": password},
    )
    reply.raise_for_status()
    token: str = reply.json()["access_token"]
    return token
