"""Operators (CONTRACT §3): admins list, create and change accounts; every operator reads
itself and changes its own password. Changes are audited and reach the account's tokens on
their next request, in every service (yizhan.common.account_versions)."""

from typing import Annotated, cast

from fastapi import APIRouter, Depends, Path, status

from yizhan.common.auth import CurrentOperator, Operator, Role
from yizhan.common.http import Problem
from yizhan.stations import operators, repository
from yizhan.stations.api.deps import SessionDep
from yizhan.stations.models import OperatorAccount
from yizhan.stations.operator_schemas import (
    USERNAME_PATTERN,
    OperatorCreate,
    OperatorList,
    OperatorOut,
    OperatorPatch,
)

router = APIRouter(prefix="/api/v1/operators", tags=["operators"])
UsernamePath = Annotated[str, Path(pattern=USERNAME_PATTERN, description="operator username")]


def operator_out(account: OperatorAccount) -> OperatorOut:
    """The API view of an account."""
    return OperatorOut(
        username=account.username,
        role=cast(Role, account.role),
        districts=list(account.districts),
        disabled=bool(account.disabled),
    )


def _admin_only(operator: Operator) -> None:
    if operator.role != "admin":
        raise Problem(403, "admin_only", "only an admin manages operators")


def admin_operator(operator: CurrentOperator) -> Operator:
    """FastAPI dependency: an admin, or 403 (before the body is judged, as for writers)."""
    _admin_only(operator)
    return operator


AdminOperator = Annotated[Operator, Depends(admin_operator)]


@router.get("", response_model=OperatorList)
async def list_operators(operator: AdminOperator, session: SessionDep) -> OperatorList:
    """Every account, by username (admins only)."""
    _admin_only(operator)  # again: the console's gRPC calls this handler without FastAPI
    return OperatorList(items=[operator_out(a) for a in await repository.list_operators(session)])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=OperatorOut)
async def create_operator(
    body: OperatorCreate, operator: AdminOperator, session: SessionDep
) -> OperatorOut:
    """Create an account (admins only); 422 for a weak password, 409 when the name is taken."""
    _admin_only(operator)  # again: the console's gRPC calls this handler without FastAPI
    return operator_out(await operators.create_account(session, operator.username, body))


@router.get("/{username}", response_model=OperatorOut)
async def get_operator(
    username: UsernamePath, operator: CurrentOperator, session: SessionDep
) -> OperatorOut:
    """One account: any for an admin, one's own for everyone."""
    if username != operator.username:
        _admin_only(operator)
    account = await repository.get_operator(session, username)
    if account is None:
        raise Problem(404, "operator_not_found", "no such operator")
    return operator_out(account)


@router.patch("/{username}", response_model=OperatorOut)
async def patch_operator(
    username: UsernamePath, body: OperatorPatch, operator: CurrentOperator, session: SessionDep
) -> OperatorOut:
    """Change `role`, `districts`, `disabled` (admins) or `password` (admins, or one's own)."""
    return operator_out(await operators.update_account(session, operator, username, body))
