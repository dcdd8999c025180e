"""POST /api/v1/auth/token: operator login (OAuth2 password form)."""

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from yizhan.common.auth import issue_token
from yizhan.common.clients import client_address
from yizhan.stations.api.deps import DepsDep, SessionDep
from yizhan.stations.operators import authenticate
from yizhan.stations.schemas import TokenOut

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/token", response_model=TokenOut)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    deps: DepsDep,
    session: SessionDep,
) -> TokenOut:
    """Exchange an operator's username and password for a bearer token."""
    client = client_address(request)
    wait = await deps.login_limits.attempt(form.username, client)
    if wait is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"too many login attempts; try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    operator = await authenticate(session, form.username, form.password)
    if operator is None:
        log.info("login refused", extra={"username": form.username})
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="wrong username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    await deps.login_limits.succeeded(form.username, client)
    secret = deps.settings.common.jwt_secret.get_secret_value()
    return TokenOut(access_token=issue_token(secret, operator, deps.token_ttl))
