"""Every protocol example's expected outcome, from the pure validation (no I/O)."""

import pytest

from tests.telemetry import examples
from yizhan.telemetry.ingest.devices import DeviceInfo, check_device
from yizhan.telemetry.ingest.protocol import Rejection, Status, TimeSync, validate

RECEIVED_AT, EXAMPLES = examples.load()
# The examples' registered devices (see the file's first line).
KNOWN = {
    "CQ-NC-0001-heater-1": DeviceInfo(
        id="CQ-NC-0001-heater-1",
        station_id="CQ-NC-0001",
        kind="heater",
        status="active",
        district="Nan'an",
    ),
    "CQ-NC-0001-water-1": DeviceInfo(
        id="CQ-NC-0001-water-1",
        station_id="CQ-NC-0001",
        kind="water",
        status="active",
        district="Nan'an",
    ),
}


def outcomes() -> list[str]:
    """Run the examples in order, as ingest would: validate, check the device, dedupe."""
    seen: set[tuple[str, int]] = set()
    results: list[str] = []
    for example in EXAMPLES:
        result = validate(example.topic, example.payload_bytes(), RECEIVED_AT)
        assert result is not None, "no example is on a downlink topic"
        if isinstance(result, Rejection):
            results.append(result.reason)
            continue
        refused = check_device(result.station_id, KNOWN.get(result.device_id))
        if refused is not None:
            results.append(refused.reason)
        elif isinstance(result, TimeSync):
            results.append("answered")
        elif isinstance(result, Status):
            results.append("stored")
        elif (result.device_id, result.seq) in seen:
            results.append("duplicate")
        else:
            seen.add((result.device_id, result.seq))
            results.append("stored")
    return results


@pytest.mark.parametrize("index", range(len(EXAMPLES)), ids=[f"line{e.line}" for e in EXAMPLES])
def test_example_outcome(index: int) -> None:
    example = EXAMPLES[index]
    assert outcomes()[index] == example.expect, example.note


def test_examples_cover_every_reason() -> None:
    from yizhan.telemetry.ingest.protocol import REASONS

    expected = {e.expect for e in EXAMPLES}
    assert set(REASONS) <= expected
