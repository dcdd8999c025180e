"""Devices of a station: provisioning with one-time MQTT credentials, listing."""

from fastapi import APIRouter, HTTPException, status
from sqlalchemy.exc import IntegrityError

from yizhan.common.auth import CurrentOperator, WritingOperator
from yizhan.stations import repository
from yizhan.stations.api.deps import SessionDep, visible_station
from yizhan.stations.models import Device
from yizhan.stations.passwords import hash_secret, new_device_password
from yizhan.stations.schemas import (
    DeviceCreate,
    DeviceOut,
    DeviceProvisioned,
    MqttCredentials,
    Page,
)

router = APIRouter(prefix="/api/v1/stations/{station_id}/devices", tags=["devices"])


def device_out(device: Device) -> DeviceOut:
    """The API view of a device."""
    return DeviceOut(
        id=device.id,
        station_id=device.station_id,
        kind=device.kind,
        model=device.model,
        firmware=device.firmware,
        status=device.status,
        mqtt_username=device.mqtt_username,
        created_at=device.created_at,
    )


@router.get("", response_model=Page)
async def list_devices(station_id: str, operator: CurrentOperator, session: SessionDep) -> Page:
    """A station's devices."""
    visible_station(await repository.get_station(session, station_id), operator)
    devices = await repository.list_devices(session, station_id)
    return Page(items=[device_out(d) for d in devices], next=None)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=DeviceProvisioned)
async def provision_device(
    station_id: str, body: DeviceCreate, operator: WritingOperator, session: SessionDep
) -> DeviceProvisioned:
    """Register a device and return its MQTT credentials (the password only this once)."""
    visible_station(await repository.get_station(session, station_id), operator)
    password = new_device_password()
    # The MQTT username is the device id: the broker's ACL ties it to the device's topics.
    device = Device(
        id=body.id,
        station_id=station_id,
        kind=body.kind,
        model=body.model,
        firmware=body.firmware,
        mqtt_username=body.id,
        mqtt_password_hash=hash_secret(password),
    )
    session.add(device)
    try:
        await session.commit()
    except IntegrityError as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail="a device with this id exists"
        ) from exc
    await session.refresh(device)
    return DeviceProvisioned(
        **device_out(device).model_dump(),
        mqtt=MqttCredentials(username=device.mqtt_username, password=password),
    )
