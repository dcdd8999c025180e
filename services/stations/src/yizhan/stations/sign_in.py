"""Operator sign-in, one rule for the HTTP token endpoint and the console's gRPC login: the
per-username rate limit first, then the password."""

import logging
from enum import Enum

from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.common.auth import issue_token
from yizhan.stations.context import Deps
from yizhan.stations.operators import authenticate

log = logging.getLogger(__name__)


class Refusal(Enum):
    """Why a sign-in gave no token."""

    TOO_MANY_ATTEMPTS = "too_many_attempts"
    WRONG_PASSWORD = "wrong_password"  # noqa: S105 (a reason, not a password)


async def sign_in(deps: Deps, session: AsyncSession, username: str, password: str) -> str | Refusal:
    """A bearer token for these credentials, or why not."""
    if not deps.login_limiter.allow(username):
        return Refusal.TOO_MANY_ATTEMPTS
    operator = await authenticate(session, username, password)
    if operator is None:
        log.info("login refused", extra={"username": username})
        return Refusal.WRONG_PASSWORD
    secret = deps.settings.common.jwt_secret.get_secret_value()
    return issue_token(secret, operator, deps.token_ttl)
