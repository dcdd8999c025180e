"""Bulk import of stations and devices (docs/registry-import.md): rows of text cells, as read
from a CSV or XLSX file, checked all at once (every bad row, with its column and a reason
code) and then written in one transaction, or not at all.

The checks are the API's own (StationCreate, DeviceCreate, the operator's districts) plus
what only a batch can get wrong: an id twice in the file, an id that exists already, a device
of a station that is neither in the file nor in the registry."""

import asyncio
import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.common.auth import Operator
from yizhan.common.hours_text import HoursTextError, parse_weekly
from yizhan.common.registry_columns import (
    DEVICE_COLUMNS,
    DEVICE_REQUIRED,
    STATION_COLUMNS,
    STATION_REQUIRED,
)
from yizhan.stations import audit, devices
from yizhan.stations.models import Device, Station
from yizhan.stations.passwords import device_password, hash_device_secret
from yizhan.stations.schemas import DeviceCreate, StationCreate

Sheet = Literal["stations", "devices"]
# Each device's password is hashed with argon2 (tens of milliseconds): bounded batches.
MAX_STATIONS = 1000
MAX_DEVICES = 500
_LIST_SEPARATORS = re.compile(r"[,，、;；]")
# pydantic's error types, as the reason codes an operator reads (translated by the console).
_REASONS = {
    "missing": "missing",
    "string_too_short": "missing",
    "string_too_long": "too_long",
    "too_long": "too_long",
    "string_pattern_mismatch": "bad_id",
    "literal_error": "unknown_value",
    "greater_than_equal": "out_of_range",
    "less_than_equal": "out_of_range",
    "float_parsing": "not_a_number",
    "finite_number": "not_a_number",
}


class ImportRow(BaseModel):
    """One row of a sheet: its number in the file (the header is row 1) and its cells."""

    model_config = ConfigDict(extra="forbid")

    row: int = Field(ge=1)
    cells: dict[str, str]


class ImportBody(BaseModel):
    """Both sheets as read, with their headers; `dry_run` checks without writing."""

    model_config = ConfigDict(extra="forbid")

    dry_run: bool = True
    station_columns: list[str] = Field(default_factory=list)
    device_columns: list[str] = Field(default_factory=list)
    stations: list[ImportRow] = Field(default_factory=list, max_length=MAX_STATIONS)
    devices: list[ImportRow] = Field(default_factory=list, max_length=MAX_DEVICES)


class RowIssue(BaseModel):
    """Why one cell (or a whole header) cannot be imported."""

    sheet: Sheet
    row: int
    column: str
    code: str
    message: str


class IssuedCredentials(BaseModel):
    """A device's MQTT credentials, shown this once."""

    station_id: str
    device_id: str
    username: str
    password: str


class ImportResult(BaseModel):
    """Every issue found; when applied, how many were written and the devices' passwords."""

    dry_run: bool
    applied: bool
    stations: int
    devices: int
    issues: list[RowIssue]
    credentials: list[IssuedCredentials] = Field(default_factory=list)


def _issue(sheet: Sheet, row: int, column: str, code: str, message: str) -> RowIssue:
    return RowIssue(sheet=sheet, row=row, column=column, code=code, message=message)


def _headers(
    sheet: Sheet, present: Sequence[str], known: Sequence[str], required: Sequence[str]
) -> list[RowIssue]:
    issues = [
        _issue(sheet, 1, column, "unknown_column", f"unknown column {column!r}")
        for column in present
        if column not in known
    ]
    issues += [
        _issue(sheet, 1, column, "missing_column", f"column {column!r} is required")
        for column in required
        if column not in present
    ]
    return issues


def _validation_issues(
    sheet: Sheet, row: int, exc: ValidationError, columns: dict[str, str]
) -> list[RowIssue]:
    issues = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        column = columns.get(".".join(loc[:2]), columns.get(loc[0], loc[0])) if loc else ""
        code = _REASONS.get(error["type"], "invalid")
        issues.append(_issue(sheet, row, column, code, error["msg"]))
    return issues


def _station_row(row: ImportRow) -> tuple[StationCreate | None, list[RowIssue]]:
    cells = {k: v.strip() for k, v in row.cells.items()}
    issues = [
        _issue("stations", row.row, column, "missing", "required")
        for column in STATION_REQUIRED
        if not cells.get(column)
    ]
    body: dict[str, Any] = {
        "id": cells.get("id", ""),
        "name": {"zh": cells.get("name_zh", ""), "en": cells.get("name_en", "")},
        "district": cells.get("district", ""),
        "address": cells.get("address", ""),
        "host_type": cells.get("host_type") or "other",
        "contact": cells.get("contact", ""),
        "amenities": [a.strip() for a in _LIST_SEPARATORS.split(cells.get("amenities", ""))],
    }
    body["amenities"] = [a for a in body["amenities"] if a]
    for column in ("latitude", "longitude"):
        if cells.get(column):
            try:
                body[column] = float(cells[column])
            except ValueError:
                issues.append(_issue("stations", row.row, column, "not_a_number", "a number"))
    try:
        body["opening_hours"] = parse_weekly(cells.get("opening_hours", ""))
    except HoursTextError as exc:
        issues.append(_issue("stations", row.row, "opening_hours", exc.code, str(exc)))
    try:
        station = StationCreate.model_validate(body)
    except ValidationError as exc:
        columns = {"name.zh": "name_zh", "name.en": "name_en", "name": "name_zh"}
        found = _validation_issues("stations", row.row, exc, columns)
        # A cell already reported empty or unreadable is not reported twice.
        seen = {i.column for i in issues}
        return None, issues + [i for i in found if i.column not in seen]
    return (None if issues else station), issues


def _device_row(row: ImportRow) -> tuple[DeviceCreate | None, list[RowIssue]]:
    cells = {k: v.strip() for k, v in row.cells.items()}
    issues = [
        _issue("devices", row.row, column, "missing", "required")
        for column in DEVICE_REQUIRED
        if not cells.get(column)
    ]
    body = {name: cells.get(name, "") for name in ("id", "kind", "model", "firmware")}
    try:
        device = DeviceCreate.model_validate(body)
    except ValidationError as exc:
        seen = {i.column for i in issues}
        found = _validation_issues("devices", row.row, exc, {})
        return None, issues + [i for i in found if i.column not in seen]
    return (None if issues else device), issues


async def _existing(
    session: AsyncSession, model: type[Station] | type[Device], ids: set[str]
) -> set[str]:
    if not ids:
        return set()
    found = await session.scalars(select(model.id).where(model.id.in_(sorted(ids))))
    return set(found.all())


async def check(
    session: AsyncSession, body: ImportBody, operator: Operator
) -> tuple[list[tuple[int, StationCreate]], list[tuple[int, str, DeviceCreate]], list[RowIssue]]:
    """Every issue of both sheets, and the rows that would be written."""
    issues = _headers("stations", body.station_columns, STATION_COLUMNS, STATION_REQUIRED)
    issues += _headers("devices", body.device_columns, DEVICE_COLUMNS, DEVICE_REQUIRED)
    stations: list[tuple[int, StationCreate]] = []
    first_row: dict[str, int] = {}
    for row in body.stations:
        station, found = _station_row(row)
        issues += found
        station_id = row.cells.get("id", "").strip()
        if station_id in first_row:
            issues.append(
                _issue(
                    "stations",
                    row.row,
                    "id",
                    "duplicate",
                    f"also in row {first_row[station_id]}",
                )
            )
            continue
        if station_id:
            first_row[station_id] = row.row
        if station is not None and not operator.can_see_district(station.district):
            issues.append(_issue("stations", row.row, "district", "out_of_scope", "not yours"))
            continue
        if station is not None and not found:
            stations.append((row.row, station))
    taken = await _existing(session, Station, {s.id for _, s in stations})
    for row_number, station in stations:
        if station.id in taken:
            issues.append(_issue("stations", row_number, "id", "exists", "already registered"))
    stations = [(n, s) for n, s in stations if s.id not in taken]

    in_file = {s.id for _, s in stations} | set(first_row)
    registered = await _existing(
        session, Station, {r.cells.get("station_id", "").strip() for r in body.devices} - in_file
    )
    visible = {
        s.id
        for s in (await session.scalars(select(Station).where(Station.id.in_(registered)))).all()
        if operator.can_see_district(s.district)
    }
    device_rows: list[tuple[int, str, DeviceCreate]] = []
    first_device: dict[str, int] = {}
    for row in body.devices:
        device, found = _device_row(row)
        issues += found
        device_id = row.cells.get("id", "").strip()
        station_id = row.cells.get("station_id", "").strip()
        if device_id in first_device:
            message = f"also in row {first_device[device_id]}"
            issues.append(_issue("devices", row.row, "id", "duplicate", message))
            continue
        if device_id:
            first_device[device_id] = row.row
        if station_id and station_id not in in_file and station_id not in visible:
            issues.append(_issue("devices", row.row, "station_id", "unknown_station", "no such"))
            continue
        if device is not None and not found:
            device_rows.append((row.row, station_id, device))
    taken_devices = await _existing(session, Device, {d.id for _, _, d in device_rows})
    for row_number, _, device in device_rows:
        if device.id in taken_devices:
            issues.append(_issue("devices", row_number, "id", "exists", "already registered"))
    device_rows = [r for r in device_rows if r[2].id not in taken_devices]
    issues.sort(key=lambda i: (i.sheet != "stations", i.row, i.column))
    return stations, device_rows, issues


async def apply(
    session: AsyncSession, body: ImportBody, operator: Operator, key: str
) -> tuple[ImportResult, list[str]]:
    """Check, and when nothing is wrong and it is no dry run, add every station and device
    to the session with its audit entry (the caller commits). Returns the result and the
    ids of the devices to push to the broker after the commit."""
    stations, device_rows, issues = await check(session, body, operator)
    result = ImportResult(
        dry_run=body.dry_run,
        applied=False,
        stations=len(stations),
        devices=len(device_rows),
        issues=issues,
    )
    if body.dry_run or issues:
        return result, []
    made: dict[str, Station] = {}
    for _, new in stations:
        station = Station(
            id=new.id,
            name_zh=new.name.zh,
            name_en=new.name.en,
            district=new.district,
            address=new.address,
            latitude=new.latitude,
            longitude=new.longitude,
            host_type=new.host_type,
            timezone=new.timezone,
            status=new.status,
            opening_hours=new.opening_hours,
            opening_exceptions=[],
            amenities=new.amenities,
            contact=new.contact,
        )
        session.add(station)
        audit.record(
            session,
            actor=operator.username,
            action="station.import",
            entity="station",
            entity_id=station.id,
            station_id=station.id,
            districts=[station.district],
            before=None,
            after=audit.station_snapshot(station),
        )
        made[station.id] = station
    # Stations first: devices refer to them, and no ORM relationship orders the inserts.
    await session.flush()
    registered = {d[1] for d in device_rows} - set(made)
    if registered:
        query = select(Station).where(Station.id.in_(sorted(registered)))
        made.update({s.id: s for s in (await session.scalars(query)).all()})
    passwords = [device_password(key, device.id, 1) for _, _, device in device_rows]
    # argon2 off the event loop.
    hashes = await asyncio.to_thread(lambda: [hash_device_secret(p) for p in passwords])
    credentials = []
    for (_, station_id, create), password, password_hash in zip(
        device_rows, passwords, hashes, strict=True
    ):
        device, _ = devices.provision(
            session, made[station_id], create, key, operator.username, password_hash
        )
        credentials.append(
            IssuedCredentials(
                station_id=station_id,
                device_id=device.id,
                username=device.mqtt_username,
                password=password,
            )
        )
    result.applied = True
    result.credentials = credentials
    return result, [c.device_id for c in credentials]
