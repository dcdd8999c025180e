"""Device passwords and broker account rules, without anything running."""

import pytest
from pydantic import ValidationError

from yizhan.common.settings import CommonSettings
from yizhan.stations.broker import accounts
from yizhan.stations.passwords import (
    device_password,
    hash_device_secret,
    hash_secret,
    verify_secret,
)
from yizhan.stations.settings import Settings

KEY = "a-test-device-key-a-test-device-key-0"


def test_device_passwords_are_derived_per_device_and_generation() -> None:
    first = device_password(KEY, "dev-1", 1)
    assert first == device_password(KEY, "dev-1", 1)
    assert len(first) == 32
    others = {device_password(KEY, "dev-1", 2), device_password(KEY, "dev-2", 1)}
    others.add(device_password("another-key-another-key-another-0", "dev-1", 1))
    assert first not in others
    assert len(others) == 3
    assert verify_secret(hash_secret(first), first)
    assert not verify_secret(hash_secret(first), device_password(KEY, "dev-1", 2))


def test_device_hashes_are_cheap_and_verify_like_any_other() -> None:
    """A bulk import hashes hundreds of device passwords: the small argon2id cost is what
    keeps it to seconds (high-entropy secrets need no more), and old hashes still verify."""
    password = device_password(KEY, "dev-1", 1)
    cheap = hash_device_secret(password)
    assert cheap.startswith("$argon2id$v=19$m=8192,t=1,p=1$")
    assert verify_secret(cheap, password)
    assert not verify_secret(cheap, device_password(KEY, "dev-1", 2))
    assert verify_secret(hash_secret(password), password)  # made before the change


def test_a_device_may_publish_only_its_own_uplink_and_read_its_down() -> None:
    acls = accounts.device_acls("ST-1", "dev-1")
    allowed = {(a["acltype"], a["topic"]) for a in acls if a["allow"]}
    assert allowed == {
        ("publishClientSend", "yz/v1/st/ST-1/dev/dev-1/telemetry"),
        ("publishClientSend", "yz/v1/st/ST-1/dev/dev-1/event"),
        ("publishClientSend", "yz/v1/st/ST-1/dev/dev-1/status"),
        ("subscribeLiteral", "yz/v1/st/ST-1/dev/dev-1/down"),
    }


def test_service_accounts_cannot_be_device_ids() -> None:
    with pytest.raises(ValidationError, match="could be a device id"):
        Settings(telemetry_mqtt_username="telemetry")
    with pytest.raises(ValidationError, match="ADMIN_PASSWORD"):
        Settings(broker_security="dynsec")


def test_production_refuses_the_development_device_key() -> None:
    prod = CommonSettings(env="prod", jwt_secret="j" * 40, service_token="s" * 40)
    with pytest.raises(ValidationError, match="DEVICE_KEY"):
        Settings(common=prod)
    assert Settings(common=prod, device_key=KEY).device_key.get_secret_value() == KEY
