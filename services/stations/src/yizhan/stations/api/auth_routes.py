"""POST /api/v1/auth/token: operator login (OAuth2 password form)."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from yizhan.common.clients import client_address
from yizhan.stations.api.deps import DepsDep, SessionDep
from yizhan.stations.schemas import TokenOut
from yizhan.stations.sign_in import TooManyAttempts, WrongPassword, sign_in

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/token", response_model=TokenOut)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    deps: DepsDep,
    session: SessionDep,
) -> TokenOut:
    """Exchange an operator's username and password for a bearer token."""
    outcome = await sign_in(deps, session, form.username, form.password, client_address(request))
    if isinstance(outcome, TooManyAttempts):
        wait = outcome.retry_after_seconds
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"too many login attempts; try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    if isinstance(outcome, WrongPassword):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="wrong username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return TokenOut(access_token=outcome)
