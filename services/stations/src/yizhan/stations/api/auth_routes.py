"""POST /api/v1/auth/token: operator login (OAuth2 password form)."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm

from yizhan.stations.api.deps import DepsDep, SessionDep
from yizhan.stations.schemas import TokenOut
from yizhan.stations.sign_in import Refusal, sign_in

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/token", response_model=TokenOut)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    deps: DepsDep,
    session: SessionDep,
) -> TokenOut:
    """Exchange an operator's username and password for a bearer token."""
    outcome = await sign_in(deps, session, form.username, form.password)
    if outcome is Refusal.TOO_MANY_ATTEMPTS:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail="too many login attempts; wait a minute",
            headers={"Retry-After": "60"},
        )
    if outcome is Refusal.WRONG_PASSWORD:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="wrong username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return TokenOut(access_token=outcome)
