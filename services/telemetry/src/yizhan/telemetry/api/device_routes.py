"""GET /api/v1/stations/{id}/devices/state: which devices are online, their open alarms."""

from fastapi import APIRouter

from yizhan.common.auth import CurrentOperator
from yizhan.telemetry import device_state
from yizhan.telemetry.api.deps import DepsDep, SessionDep, visible_station
from yizhan.telemetry.schemas import AlarmOut, ChargingOut, DeviceStateOut, DeviceStatesOut

router = APIRouter(prefix="/api/v1/stations", tags=["devices"])


@router.get("/{station_id}/devices/state", response_model=DeviceStatesOut)
async def station_device_states(
    station_id: str, operator: CurrentOperator, deps: DepsDep, session: SessionDep
) -> DeviceStatesOut:
    """Online or not, last seen, open alarms of each device of the station."""
    await visible_station(deps.stations, station_id, operator)
    states = await device_state.device_states(
        session, station_id, deps.settings.offline_after_seconds
    )
    return DeviceStatesOut(
        items=[
            DeviceStateOut(
                device_id=state.device_id,
                online=state.online,
                last_seen=state.last_seen,
                alarms=[
                    AlarmOut(code=a.code, severity=a.severity, since=a.since) for a in state.alarms
                ],
                charging=[
                    ChargingOut(session=c.session, connector=c.connector, since=c.since)
                    for c in state.charging
                ],
            )
            for state in states
        ],
        dark=bool(states) and not any(state.online for state in states),
    )
