"""Operator sign-in, one rule for the HTTP token endpoint and the console's gRPC login: the
login limits per account and per client first (login_limits.py), then the password."""

import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.common.auth import issue_token
from yizhan.stations.context import Deps
from yizhan.stations.operators import authenticate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TooManyAttempts:
    """Refused before the password was looked at; the client may try again after this wait."""

    retry_after_seconds: int


@dataclass(frozen=True)
class WrongPassword:
    """Unknown user or wrong password (never told apart)."""


async def sign_in(
    deps: Deps, session: AsyncSession, username: str, password: str, client: str
) -> str | TooManyAttempts | WrongPassword:
    """A bearer token for these credentials from this client address, or why not."""
    wait = await deps.login_limits.attempt(username, client)
    if wait is not None:
        return TooManyAttempts(wait)
    operator = await authenticate(session, username, password)
    if operator is None:
        log.info("login refused", extra={"username": username})
        return WrongPassword()
    await deps.login_limits.succeeded(username, client)
    secret = deps.settings.common.jwt_secret.get_secret_value()
    return issue_token(secret, operator, deps.token_ttl)
