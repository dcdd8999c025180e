"""Operator tokens: issued by stations, accepted by every service with the shared key, and
judged on the account as it is now (account_versions.py): a token acts with the account's
current role and districts, and only while the account exists and has the version the token
was issued at (a new password raises it, ending every older token)."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal, Protocol

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer

Role = Literal["admin", "district", "viewer"]
ROLES: tuple[Role, ...] = ("admin", "district", "viewer")
_ALGORITHM = "HS256"
_ISSUER = "yizhan-stations"


class InvalidToken(Exception):
    """The token is missing, expired, forged or malformed."""


@dataclass(frozen=True)
class Operator:
    """Who is calling an operator API, and what they may see."""

    username: str
    role: Role
    districts: tuple[str, ...] = field(default=())
    # The account's version (raised by a password change) when the token was issued.
    version: int = 0

    @property
    def sees_everything(self) -> bool:
        """Admins and city-wide viewers (no district list) see the whole network."""
        return self.role == "admin" or (self.role == "viewer" and not self.districts)

    @property
    def can_write(self) -> bool:
        """Viewers only read."""
        return self.role in ("admin", "district")

    @property
    def visible_districts(self) -> list[str] | None:
        """The districts in scope as a query filter: None for all of them."""
        return None if self.sees_everything else list(self.districts)

    def can_see_district(self, district: str) -> bool:
        """Whether a station of this district is in the operator's scope."""
        return self.sees_everything or district in self.districts


def issue_token(secret: str, operator: Operator, ttl: timedelta) -> str:
    """A signed JWT carrying the operator's role and districts."""
    now = datetime.now(UTC)
    claims = {
        "iss": _ISSUER,
        "sub": operator.username,
        "role": operator.role,
        "districts": list(operator.districts),
        "ver": operator.version,
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def decode_token(secret: str, token: str) -> Operator:
    """The operator a token names; raises InvalidToken unless it is valid now."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            issuer=_ISSUER,
            options={"require": ["exp", "sub", "iss"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    role = claims.get("role")
    if role not in ROLES:
        raise InvalidToken("unknown role")
    districts = claims.get("districts") or []
    if not isinstance(districts, list) or not all(isinstance(d, str) for d in districts):
        raise InvalidToken("bad districts claim")
    version = claims.get("ver", 0)
    if not isinstance(version, int):
        raise InvalidToken("bad version claim")
    return Operator(
        username=str(claims["sub"]), role=role, districts=tuple(districts), version=version
    )


class AccountVersions(Protocol):
    """Where a service learns an operator account as it is now (None: no such account)."""

    async def account_of(self, username: str) -> Operator | None:
        """The account now (role, districts, version), or None when it does not exist."""
        ...


async def verify_token(request: Request, token: str) -> Operator:
    """The operator of a token that is valid now, as the account is now (its current role
    and districts); raises InvalidToken when the account is gone or its password changed
    since. Needs `app.state.jwt_secret` and `app.state.accounts`."""
    return await verify_token_with(request.app.state.jwt_secret, request.app.state.accounts, token)


async def verify_token_with(secret: str, accounts: AccountVersions, token: str) -> Operator:
    """verify_token for a caller without an HTTP request (a gRPC call made on an operator's
    behalf, carrying the operator's token)."""
    claimed = decode_token(secret, token)
    current = await accounts.account_of(claimed.username)
    if current is None:
        raise InvalidToken("the account no longer exists")
    if current.version != claimed.version:
        raise InvalidToken("the password changed since the token was issued")
    return current


_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def current_operator(
    request: Request, token: Annotated[str | None, Depends(_bearer)]
) -> Operator:
    """FastAPI dependency: the operator behind the bearer token, or 401."""
    unauthorized = HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail="a valid operator token is required",
        headers={"WWW-Authenticate": "Bearer"},
    )
    if token is None:
        raise unauthorized
    try:
        return await verify_token(request, token)
    except InvalidToken as exc:
        raise unauthorized from exc


def writing_operator(operator: Annotated[Operator, Depends(current_operator)]) -> Operator:
    """FastAPI dependency: an operator allowed to change things, or 403."""
    if not operator.can_write:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="read-only operator")
    return operator


CurrentOperator = Annotated[Operator, Depends(current_operator)]
WritingOperator = Annotated[Operator, Depends(writing_operator)]
