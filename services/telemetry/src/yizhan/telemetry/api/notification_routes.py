"""/api/v1/notification-channels (CONTRACT §3): admins and district operators set up where
alarm notifications go, within their scope; everyone in scope sees the deliveries, per
channel or all together (/api/v1/notification-deliveries)."""

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.exceptions import RequestValidationError

from yizhan.common import scope
from yizhan.common.auth import CurrentOperator
from yizhan.common.http import Problem
from yizhan.telemetry.api.deps import DepsDep, SessionDep, WriterDep
from yizhan.telemetry.notifications import channels
from yizhan.telemetry.schemas import (
    ChannelCreated,
    ChannelIn,
    ChannelOut,
    ChannelsOut,
    DeliveriesOut,
    DeliveryOut,
)

router = APIRouter(prefix="/api/v1/notification-channels", tags=["notifications"])
deliveries_router = APIRouter(prefix="/api/v1/notification-deliveries", tags=["notifications"])
MAX_DELIVERIES = 200


class ChannelNotFound(Problem):
    """No such channel among those the operator may see."""

    def __init__(self) -> None:
        super().__init__(404, "channel_not_found", "no such notification channel")


@router.post("", status_code=201, response_model=ChannelCreated)
async def create_channel(
    body: ChannelIn, operator: WriterDep, deps: DepsDep, session: SessionDep
) -> ChannelCreated:
    """A new channel; its districts must be within the operator's scope. (A viewer is refused
    by the dependency, before the body is judged.)"""
    for district in body.districts:
        scope.check_district(operator, district)
    errors = channels.kind_errors(body, deps.settings.notify_allow_private_targets)
    if errors:
        raise _invalid(errors)
    channel_id = await channels.create(session, body, operator, datetime.now(UTC))
    if channel_id is None:
        raise _invalid([("escalate_to", "no such notification channel")])
    return ChannelCreated(id=channel_id)


def _invalid(errors: list[tuple[str, str]]) -> RequestValidationError:
    return RequestValidationError(
        [{"loc": ("body", name), "msg": message, "type": "value_error"} for name, message in errors]
    )


@router.get("", response_model=ChannelsOut)
async def list_channels(operator: CurrentOperator, session: SessionDep) -> ChannelsOut:
    """The channels within the operator's scope."""
    found = await channels.visible(session, operator)
    return ChannelsOut(items=[ChannelOut(**asdict(channel)) for channel in found])


@router.delete("/{channel_id}", status_code=204)
async def delete_channel(channel_id: int, operator: WriterDep, session: SessionDep) -> Response:
    """Remove a channel (and its deliveries)."""
    if not await channels.delete(session, channel_id, operator):
        raise ChannelNotFound()
    return Response(status_code=204)


@router.get("/{channel_id}/deliveries", response_model=DeliveriesOut)
async def list_deliveries(
    channel_id: int,
    operator: CurrentOperator,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_DELIVERIES)] = 50,
) -> DeliveriesOut:
    """The channel's latest deliveries: sent, pending, or failed and waiting to retry."""
    found = await channels.deliveries(session, channel_id, operator, limit)
    if found is None:
        raise ChannelNotFound()
    return DeliveriesOut(items=[DeliveryOut(**asdict(delivery)) for delivery in found])


@deliveries_router.get("", response_model=DeliveriesOut)
async def list_all_deliveries(
    operator: CurrentOperator,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_DELIVERIES)] = 50,
) -> DeliveriesOut:
    """The latest deliveries of every channel in the operator's scope, newest first."""
    found = await channels.all_deliveries(session, operator, limit)
    return DeliveriesOut(items=[DeliveryOut(**asdict(delivery)) for delivery in found])
