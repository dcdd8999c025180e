"""Operator accounts: login and creation (used by the API, the console and the CLI)."""

from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.common.auth import ROLES, Operator, Role
from yizhan.stations import repository
from yizhan.stations.models import OperatorAccount
from yizhan.stations.passwords import hash_secret, verify_secret

MIN_PASSWORD_LENGTH = 8


async def authenticate(session: AsyncSession, username: str, password: str) -> Operator | None:
    """The operator when the password matches, None otherwise."""
    account = await repository.get_operator(session, username)
    if account is None or not verify_secret(account.password_hash, password):
        return None
    return Operator(account.username, cast(Role, account.role), tuple(account.districts))


async def save_operator(
    session: AsyncSession, username: str, password: str, role: str, districts: list[str]
) -> OperatorAccount:
    """Create the operator, or reset its password, role and districts; commits."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if role == "district" and not districts:
        raise ValueError("a district operator needs at least one district")
    account = await repository.get_operator(session, username)
    if account is None:
        account = OperatorAccount(username=username)
        session.add(account)
    account.password_hash = hash_secret(password)
    account.role = role
    account.districts = districts
    await session.commit()
    return account
