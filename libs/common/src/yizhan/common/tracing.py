"""Request ids as W3C Trace Context (`traceparent`): one trace id enters at an HTTP request
(taken from the caller's `traceparent` when it sends a valid one) or at an MQTT message,
travels on every gRPC call as `traceparent` metadata, and is on every JSON log line written
while handling it (`trace_id`). The standard header, so a proxy or a tracing backend that
speaks it joins in without any mapping."""

import contextlib
import hashlib
import random
import re
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

HEADER = "traceparent"
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_INVALID_TRACE = "0" * 32
_INVALID_SPAN = "0" * 16


@dataclass(frozen=True)
class Trace:
    """Where we are in a trace: its id, and the span that is ours."""

    trace_id: str
    span_id: str

    @property
    def traceparent(self) -> str:
        """The header to send with a call made from this span."""
        return f"00-{self.trace_id}-{self.span_id}-01"


_current: ContextVar[Trace | None] = ContextVar("yz_trace", default=None)


def current() -> Trace | None:
    """The trace of the work in progress, if any."""
    return _current.get()


def _span_id() -> str:
    return f"{random.getrandbits(64):016x}"


def new_trace() -> Trace:
    """A trace that starts here."""
    # Ids need to be unique, not secret: the process's own generator (reseeded in a forked
    # child) costs no system call, unlike the secrets module's, and every request makes one.
    return Trace(f"{random.getrandbits(128):032x}", _span_id())


def continue_trace(traceparent: str | None) -> Trace:
    """Our span of the caller's trace, or a new trace when the header is absent or invalid."""
    match = _TRACEPARENT.match((traceparent or "").strip().lower())
    if match is None or match[1] == _INVALID_TRACE or match[2] == _INVALID_SPAN:
        return new_trace()
    return Trace(match[1], _span_id())


def message_trace(device_id: str, seq: int | None) -> Trace:
    """The trace of one device message: derived from (device, seq), so that every process
    that handles the same message logs the same trace id."""
    if seq is None:
        return new_trace()
    digest = hashlib.sha256(f"{device_id}/{seq}".encode()).hexdigest()
    return Trace(digest[:32], _span_id())


@contextlib.contextmanager
def traced(trace: Trace) -> Iterator[Trace]:
    """Make `trace` current for the block (logs and outgoing gRPC calls carry it)."""
    token = _current.set(trace)
    try:
        yield trace
    finally:
        _current.reset(token)


def outgoing_metadata() -> tuple[tuple[str, str], ...]:
    """gRPC metadata that passes the current trace on (nothing outside a trace)."""
    trace = _current.get()
    return ((HEADER, trace.traceparent),) if trace is not None else ()
