"""Tables of the stations database: stations, their devices, operators, the audit log."""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    func,
)

# The PostgreSQL ARRAY: its comparator has contains (@>) and overlap (&&).
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from yizhan.common import ratelimit
from yizhan.common.audit import AuditLogColumns


class Base(DeclarativeBase):
    """Declarative base of the stations tables."""


class Station(Base):
    """A worker service station."""

    __tablename__ = "stations"
    # The amenity filter asks `amenities @> ARRAY[...]`.
    __table_args__ = (Index("ix_stations_amenities", "amenities", postgresql_using="gin"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    district: Mapped[str] = mapped_column(String(100), index=True)
    address: Mapped[str] = mapped_column(Text, default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    host_type: Mapped[str] = mapped_column(String(32), default="other")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    status: Mapped[str] = mapped_column(String(16), default="active")
    # {"mon": [["08:00", "20:00"]], ...}; NULL means always open (the contract's default).
    opening_hours: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # Dated overrides of the weekly hours (holidays, closures):
    # [{"start": "2026-10-01", "end": "2026-10-07", "hours": [], "note": "国庆"}, ...].
    opening_exceptions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    amenities: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    contact: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Device(Base):
    """One piece of equipment (or the kiosk) at a station; ids are unique network-wide."""

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(100), default="")
    firmware: Mapped[str] = mapped_column(String(50), default="")
    installed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # active | revoked (revoked is final: the id cannot be provisioned again).
    status: Mapped[str] = mapped_column(String(16), default="active")
    mqtt_username: Mapped[str] = mapped_column(String(100), unique=True)
    # argon2 hash: the password itself is shown once, when the device is provisioned.
    mqtt_password_hash: Mapped[str] = mapped_column(Text)
    # Which credentials are current (bumped by each rotation; see passwords.device_password).
    credential_generation: Mapped[int] = mapped_column(Integer, default=1)
    # Which generation the broker is known to hold: 0 = none (not pushed yet, or removed).
    broker_generation: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OperatorAccount(Base):
    """Someone who runs stations: admin, district operator or viewer."""

    __tablename__ = "operators"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    districts: Mapped[list[str]] = mapped_column(ARRAY(String(100)), default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Raised by every change of the account; tokens carry the version they were issued at.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # A disabled account signs in nowhere and none of its tokens is accepted.
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class AuditEntry(AuditLogColumns, Base):
    """One change: who made it, when, to what, and the record before and after."""

    __tablename__ = "audit_log"
    # District-scoped reads ask `districts && ARRAY[...]`.
    __table_args__ = (Index("ix_audit_log_districts", "districts", postgresql_using="gin"),)


# The shared rate limiter's counters (libs/common ratelimit.py) live in this database too.
RATE_LIMITS = ratelimit.add_table(Base.metadata)
