"""Trace context rules and the trace id on log lines."""

import json
import logging

import pytest

from yizhan.common import tracing
from yizhan.common.logs import JsonFormatter

pytestmark = pytest.mark.unit


def test_a_valid_traceparent_is_continued_and_anything_else_starts_a_trace() -> None:
    caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    ours = tracing.continue_trace(caller)
    assert ours.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert ours.span_id != "00f067aa0ba902b7"
    zeros = f"00-{'0' * 32}-{'1' * 16}-01"
    for bad in (None, "", "01-abc", caller.replace("4bf9", "zzzz"), zeros):
        fresh = tracing.continue_trace(bad)
        assert len(fresh.trace_id) == 32
        assert fresh.trace_id not in ("0" * 32, ours.trace_id)


def test_a_device_message_has_one_trace_id_wherever_it_is_handled() -> None:
    first = tracing.message_trace("kiosk-1", 42)
    again = tracing.message_trace("kiosk-1", 42)
    assert first.trace_id == again.trace_id
    assert first.trace_id != tracing.message_trace("kiosk-1", 43).trace_id


def test_log_lines_carry_the_current_trace_id_and_only_inside_it() -> None:
    formatter = JsonFormatter("test")
    record = logging.makeLogRecord({"msg": "hello", "levelname": "INFO"})
    trace = tracing.new_trace()
    with tracing.traced(trace):
        inside = json.loads(formatter.format(record))
        assert tracing.outgoing_metadata() == (("traceparent", trace.traceparent),)
    assert inside["trace_id"] == trace.trace_id
    assert "trace_id" not in json.loads(formatter.format(record))
    assert tracing.outgoing_metadata() == ()
