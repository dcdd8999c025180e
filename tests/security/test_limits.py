"""Login and one-time-code limits (issue 9, holes 7 and 10): kept in PostgreSQL (shared by
processes, surviving restarts), per account and per client, slowing an attacker without
locking the real operator out; and a client address that X-Forwarded-For changes only
when the request comes from a configured proxy."""

from collections.abc import Callable
from pathlib import Path

import httpx

from tests.services import RunningService, run_service
from tests.stations.conftest import create_operator

PASSWORD = "limits-admin-password"
PROXY = {"YZ_TRUSTED_PROXIES": "127.0.0.1"}


def _login(service: RunningService, username: str, password: str, client: str) -> int:
    reply = httpx.post(
        f"{service.base_url}/api/v1/auth/token",
        data={"username": username, "password": password},
        headers={"X-Forwarded-For": client},
    )
    return reply.status_code


def test_logins_slow_down_guessers_and_never_lock_out_the_operator(
    new_database: Callable[[str], str], workdir: Path
) -> None:
    database = new_database("sec_limits")
    with run_service("stations", database, workdir, env=PROXY) as stations:
        create_operator(database, "admin", PASSWORD, "admin")
        # Two guessers, five wrong passwords each: then each of them has to wait.
        for guesser in ("10.0.0.1", "10.0.0.2"):
            answers = [_login(stations, "admin", "wrong-guess", guesser) for _ in range(6)]
            assert answers == [401] * 5 + [429], answers
        # Ten failures on the account, yet the admin signs in at once from elsewhere.
        assert _login(stations, "admin", PASSWORD, "10.9.9.9") == 200
        # A new guesser gets one try, then is paced: the account is under attack.
        assert _login(stations, "admin", "wrong-guess", "10.0.0.4") == 401
        paced = httpx.post(
            f"{stations.base_url}/api/v1/auth/token",
            data={"username": "admin", "password": "wrong-guess"},
            headers={"X-Forwarded-For": "10.0.0.4"},
        )
        assert paced.status_code == 429
        # ... never for longer than the account-wide bound (30 s by default).
        assert 1 <= int(paced.headers["Retry-After"]) <= 30
        # Spraying usernames from one client is slowed too.
        sprayed = [_login(stations, f"user{n}", "wrong-guess", "10.0.0.50") for n in range(31)]
        assert sprayed == [401] * 30 + [429], sprayed
    # The counters live in the database: a restart does not clear them. Whether a try after
    # it is still inside the wait depends on how long the restart took and when the wait
    # ends, so one of two tries is paced (a limiter that forgot would answer 401 to both).
    with run_service("stations", database, workdir, env=PROXY) as restarted:
        sprayed = [_login(restarted, f"user{n}", "wrong-guess", "10.0.0.50") for n in (31, 32)]
        assert 429 in sprayed, sprayed
        guessed = [_login(restarted, "admin", "wrong-guess", "10.0.0.1") for _ in range(2)]
        assert 429 in guessed, guessed
        assert _login(restarted, "admin", PASSWORD, "10.9.9.8") == 200


def _request_codes(service: RunningService, forwarded_for: list[str]) -> list[int]:
    answers = []
    for n, client in enumerate(forwarded_for):
        reply = httpx.post(
            f"{service.base_url}/api/v1/otp",
            json={"phone": f"1370000{n:04d}"},
            headers={"X-Forwarded-For": client},
        )
        answers.append(reply.status_code)
    return answers


def test_forwarded_for_counts_only_from_a_configured_proxy(
    new_database: Callable[[str], str], workdir: Path
) -> None:
    limit = {"YZ_BOOKINGS_OTP_SENDS_PER_CLIENT_PER_HOUR": "3"}
    fresh_addresses = [f"192.0.2.{n}" for n in range(1, 6)]
    with run_service("bookings", new_database("sec_xff"), workdir, env=limit) as direct:
        # Not from a proxy: a made-up X-Forwarded-For per request changes nothing.
        assert _request_codes(direct, fresh_addresses) == [202, 202, 202, 429, 429]
    with run_service(
        "bookings", new_database("sec_xff_proxy"), workdir, env={**limit, **PROXY}
    ) as proxied:
        # From the configured proxy, each forwarded address is a client of its own.
        assert _request_codes(proxied, fresh_addresses) == [202] * 5
        assert _request_codes(proxied, ["192.0.2.1"]) == [429]
