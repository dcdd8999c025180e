"""Operator accounts: login and creation (used by the API, the console's gRPC login and the CLI)."""

from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.common.auth import ROLES, Operator, Role
from yizhan.stations import audit, repository
from yizhan.stations.models import OperatorAccount
from yizhan.stations.passwords import hash_secret, verify_secret
from yizhan.stations.schemas import check_text

MIN_PASSWORD_LENGTH = 8
MAX_USERNAME_LENGTH = 64


def _storable(text: str) -> bool:
    try:
        check_text(text)
    except ValueError:
        return False
    return True


async def authenticate(session: AsyncSession, username: str, password: str) -> Operator | None:
    """The operator when the password matches, None otherwise."""
    if not _storable(username) or len(username) > MAX_USERNAME_LENGTH:
        return None  # no such account can exist, and PostgreSQL would refuse the query
    account = await repository.get_operator(session, username)
    if account is None or not verify_secret(account.password_hash, password):
        return None
    return as_operator(account)


def as_operator(account: OperatorAccount) -> Operator:
    """The operator an account is now."""
    return Operator(
        account.username, cast(Role, account.role), tuple(account.districts), account.version
    )


async def current_account(session: AsyncSession, username: str) -> Operator | None:
    """The account as it is now (role, districts, version), None when there is none."""
    if not _storable(username) or len(username) > MAX_USERNAME_LENGTH:
        return None
    account = await repository.get_operator(session, username)
    return None if account is None else as_operator(account)


async def save_operator(
    session: AsyncSession,
    username: str,
    password: str,
    role: str,
    districts: list[str],
    actor: str = "cli",
) -> OperatorAccount:
    """Create the operator, or reset its password, role and districts; commits (audited)."""
    if not _storable(username) or not 1 <= len(username) <= MAX_USERNAME_LENGTH:
        raise ValueError(f"a username has 1 to {MAX_USERNAME_LENGTH} printable characters")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if role == "district" and not districts:
        raise ValueError("a district operator needs at least one district")
    account = await repository.get_operator(session, username)
    before = None
    if account is None:
        account = OperatorAccount(username=username, version=1)
        session.add(account)
    else:
        before = audit.operator_snapshot(account)
        # A new password ends every token issued before (common/auth.py); a new role or
        # new districts reach older tokens without ending them.
        if not verify_secret(account.password_hash, password):
            account.version += 1
    account.password_hash = hash_secret(password)
    account.role = role
    account.districts = districts
    audit.record(
        session,
        actor=actor,
        action="operator.save",
        entity="operator",
        entity_id=username,
        districts=[*(before or {}).get("districts", []), *districts],
        before=before,
        after=audit.operator_snapshot(account),
    )
    await session.commit()
    return account
