"""Operator accounts: login, creation and changes (used by the operators API, the console's
gRPC calls and the CLI)."""

from typing import Any, cast

from fastapi import HTTPException, status
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.common.auth import ROLES, Operator, Role
from yizhan.common.http import Problem
from yizhan.stations import audit, repository
from yizhan.stations.models import OperatorAccount
from yizhan.stations.operator_schemas import OperatorCreate, OperatorPatch
from yizhan.stations.passwords import (
    MIN_PASSWORD_LENGTH,
    hash_secret,
    verify_secret,
    weak_password,
)
from yizhan.stations.schemas import check_text

MAX_USERNAME_LENGTH = 64


class InvalidFields(HTTPException):
    """422 with field errors in the shape of request validation ({"field": "body.x", ...})."""

    def __init__(self, **errors: str) -> None:
        super().__init__(
            status.HTTP_422_UNPROCESSABLE_ENTITY,
            detail=[{"field": f"body.{name}", "message": text} for name, text in errors.items()],
        )


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
    # Checked after the password, so that a wrong guess costs the same either way.
    return None if account.disabled else as_operator(account)


def as_operator(account: OperatorAccount) -> Operator:
    """The operator an account is now."""
    return Operator(
        account.username, cast(Role, account.role), tuple(account.districts), account.version
    )


async def current_account(session: AsyncSession, username: str) -> Operator | None:
    """The account as it is now (role, districts, version), None when there is none or it
    is disabled (its tokens act nowhere)."""
    if not _storable(username) or len(username) > MAX_USERNAME_LENGTH:
        return None
    account = await repository.get_operator(session, username)
    return None if account is None or account.disabled else as_operator(account)


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


async def create_account(
    session: AsyncSession, actor: str, body: OperatorCreate
) -> OperatorAccount:
    """A new account (POST /api/v1/operators; the body judged its password); 409 when the
    username is taken."""
    account = OperatorAccount(
        username=body.username,
        password_hash=hash_secret(body.password),
        role=body.role,
        districts=body.districts,
        version=1,
        disabled=False,
    )
    session.add(account)
    audit.record(
        session,
        actor=actor,
        action="operator.create",
        entity="operator",
        entity_id=body.username,
        districts=body.districts,
        before=None,
        after=audit.operator_snapshot(account),
    )
    try:
        await session.commit()
    except IntegrityError as exc:
        raise Problem(409, "operator_exists", "an operator with this username exists") from exc
    return account


def _check_allowed(actor: Operator, username: str, changes: dict[str, Any]) -> None:
    """Admins change anyone; everyone else only their own password."""
    if actor.role == "admin":
        return
    if username != actor.username:
        raise Problem(403, "admin_only", "only an admin manages other operators")
    if set(changes) - {"password", "current_password"}:
        raise Problem(403, "admin_only", "only an admin changes roles, districts or disables")


async def _keep_an_admin(
    session: AsyncSession, username: str, before: dict[str, Any], after: dict[str, Any]
) -> None:
    """409 when a change would leave nobody able to manage operators."""

    def enabled_admin(snapshot: dict[str, Any]) -> bool:
        return bool(snapshot["role"] == "admin" and not snapshot["disabled"])

    if not enabled_admin(before) or enabled_admin(after):
        return
    if not [u for u in await repository.enabled_admins(session) if u != username]:
        raise Problem(409, "last_admin", "the last enabled admin cannot be demoted or disabled")


async def update_account(
    session: AsyncSession, actor: Operator, username: str, body: OperatorPatch
) -> OperatorAccount:
    """PATCH /api/v1/operators/{username}: role, districts, disabled, password; commits with
    its audit entry. A new password or disabling ends the account's older tokens (its
    version rises); a new role or districts reach them from their next request."""
    changes = body.model_dump(exclude_unset=True)
    _check_allowed(actor, username, changes)
    if "role" in changes or "disabled" in changes:
        await repository.lock_admins(session)  # for _keep_an_admin's count
    account = await repository.get_operator(session, username)
    if account is None:
        raise Problem(404, "operator_not_found", "no such operator")
    if body.current_password is not None and not verify_secret(
        account.password_hash, body.current_password
    ):
        raise InvalidFields(current_password="not the current password")  # noqa: S106
    if body.password is not None:
        weakness = weak_password(body.password, username)
        if weakness is not None:
            raise InvalidFields(password=weakness)
    before = audit.operator_snapshot(account)
    if body.role is not None:
        account.role = body.role
        if body.role == "admin":
            account.districts = []
    if body.districts is not None:
        account.districts = body.districts
    if account.role == "admin" and account.districts:
        raise InvalidFields(districts="an admin sees every district: leave districts empty")
    if account.role == "district" and not account.districts:
        raise InvalidFields(districts="a district operator needs at least one district")
    if body.disabled is not None:
        if body.disabled and not account.disabled:
            account.version += 1  # its tokens end now, and stay ended if it is enabled again
        account.disabled = body.disabled
    after = audit.operator_snapshot(account)
    if body.password is not None:
        account.password_hash = hash_secret(body.password)
        account.version += 1
        after["password_changed"] = True
    await _keep_an_admin(session, username, before, after)
    if after != before:
        audit.record(
            session,
            actor=actor.username,
            action="operator.update",
            entity="operator",
            entity_id=username,
            districts=[*before["districts"], *account.districts],
            before=before,
            after=after,
        )
        await session.commit()
    return account
