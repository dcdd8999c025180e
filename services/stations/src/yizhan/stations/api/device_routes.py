"""Devices of a station: provisioning with one-time MQTT credentials, changes, credential
rotation and revocation (each pushed to the broker at once when stations manages it)."""

from fastapi import APIRouter, HTTPException, status
from sqlalchemy.exc import IntegrityError

from yizhan.common.auth import CurrentOperator, WritingOperator
from yizhan.stations import devices, repository
from yizhan.stations.api.deps import (
    DepsDep,
    DeviceIdPath,
    SessionDep,
    StationIdPath,
    device_of,
    station_in_scope,
)
from yizhan.stations.context import Deps
from yizhan.stations.models import Device
from yizhan.stations.schemas import (
    DeviceCreate,
    DeviceOut,
    DevicePatch,
    DeviceProvisioned,
    MqttCredentials,
    Page,
)

router = APIRouter(prefix="/api/v1/stations/{station_id}/devices", tags=["devices"])


def device_out(device: Device, deps: Deps) -> DeviceOut:
    """The API view of a device."""
    return DeviceOut(
        id=device.id,
        station_id=device.station_id,
        kind=device.kind,
        model=device.model,
        firmware=device.firmware,
        installed_at=device.installed_at,
        status=device.status,
        mqtt_username=device.mqtt_username,
        broker=devices.broker_state(device, deps.broker is not None),
        created_at=device.created_at,
        revoked_at=device.revoked_at,
    )


async def _push(deps: Deps, session: SessionDep, device: Device) -> None:
    """Tell the broker now; on failure the device stays pending for the resync."""
    if deps.broker is not None:
        await deps.broker.push_device(device.id)
        await session.refresh(device)


@router.get("", response_model=Page)
async def list_devices(
    station_id: StationIdPath, operator: CurrentOperator, deps: DepsDep, session: SessionDep
) -> Page:
    """A station's devices."""
    await station_in_scope(session, station_id, operator)
    found = await repository.list_devices(session, station_id)
    return Page(items=[device_out(d, deps) for d in found], next=None)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=DeviceProvisioned)
async def provision_device(
    station_id: StationIdPath,
    body: DeviceCreate,
    operator: WritingOperator,
    deps: DepsDep,
    session: SessionDep,
) -> DeviceProvisioned:
    """Register a device and return its MQTT credentials (the password only this once)."""
    station = await station_in_scope(session, station_id, operator)
    key = deps.settings.device_key.get_secret_value()
    device, password = devices.provision(session, station, body, key, operator.username)
    try:
        await session.commit()
    except IntegrityError as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail="a device with this id exists"
        ) from exc
    await session.refresh(device)
    await _push(deps, session, device)
    return DeviceProvisioned(
        **device_out(device, deps).model_dump(),
        mqtt=MqttCredentials(username=device.mqtt_username, password=password),
    )


@router.get("/{device_id}", response_model=DeviceOut)
async def get_device(
    station_id: StationIdPath,
    device_id: DeviceIdPath,
    operator: CurrentOperator,
    deps: DepsDep,
    session: SessionDep,
) -> DeviceOut:
    """One device of a station."""
    station = await station_in_scope(session, station_id, operator)
    return device_out(await device_of(session, station, device_id), deps)


@router.patch("/{device_id}", response_model=DeviceOut)
async def patch_device(
    station_id: StationIdPath,
    device_id: DeviceIdPath,
    body: DevicePatch,
    operator: WritingOperator,
    deps: DepsDep,
    session: SessionDep,
) -> DeviceOut:
    """Change a device's kind, model, firmware or installation date."""
    station = await station_in_scope(session, station_id, operator)
    device = await device_of(session, station, device_id)
    changes = body.model_dump(exclude_unset=True)
    if changes:
        devices.change(session, station, device, changes, operator.username)
        await session.commit()
        await session.refresh(device)
    return device_out(device, deps)


@router.post("/{device_id}/rotate", response_model=DeviceProvisioned)
async def rotate_credentials(
    station_id: StationIdPath,
    device_id: DeviceIdPath,
    operator: WritingOperator,
    deps: DepsDep,
    session: SessionDep,
) -> DeviceProvisioned:
    """New MQTT password (shown only now); the broker drops the device's connection and
    refuses the old password from then on."""
    station = await station_in_scope(session, station_id, operator)
    device = await device_of(session, station, device_id)
    key = deps.settings.device_key.get_secret_value()
    try:
        password = devices.rotate(session, station, device, key, operator.username)
    except devices.DeviceRevoked as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="the device is revoked") from exc
    await session.commit()
    await _push(deps, session, device)
    return DeviceProvisioned(
        **device_out(device, deps).model_dump(),
        mqtt=MqttCredentials(username=device.mqtt_username, password=password),
    )


@router.post("/{device_id}/revoke", response_model=DeviceOut)
async def revoke_device(
    station_id: StationIdPath,
    device_id: DeviceIdPath,
    operator: WritingOperator,
    deps: DepsDep,
    session: SessionDep,
) -> DeviceOut:
    """Revoke a device for good: the broker deletes its account and disconnects it, and
    telemetry refuses its messages. Revoking twice changes nothing."""
    station = await station_in_scope(session, station_id, operator)
    device = await device_of(session, station, device_id)
    if devices.revoke(session, station, device, operator.username):
        await session.commit()
    await _push(deps, session, device)
    return device_out(device, deps)
