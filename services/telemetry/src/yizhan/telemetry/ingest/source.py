"""What ingest needs from its MQTT subscription, whichever client implements it.

Two implementations: `paho_source.PahoSource` (paho-mqtt 2, the field's standard client) and
`consumer.Consumer` (our own MQTT 5 wire client). The writer, the check-in answers and the
pipeline see only `Source`; `settings.mqtt_source` picks one (docs/development.md says
which is the default and why).
"""

import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Generic, Protocol, TypeVar

from yizhan.common.mqtt import TOPIC_PREFIX
from yizhan.telemetry.ingest.channel import Channel

log = logging.getLogger(__name__)

T = TypeVar("T")

# Every channel of every device (the broker's ACL for telemetry allows exactly this filter);
# our own `down` answers come back too and are skipped.
SUBSCRIPTION: Final = f"{TOPIC_PREFIX}/+/dev/+/+"
# Larger packets are never sent to us by the broker (MQTT 5 Maximum Packet Size); anything
# between 16 KiB and this still arrives and is kept as a `too_large` dead letter.
MAX_PACKET_BYTES: Final = 1024 * 1024
# Retain handling 1: retained statuses only for a new subscription, not on every reconnect.
RETAIN_SEND_IF_NEW_SUB: Final = 1
# What a process whose ingest loop died exits with (EX_SOFTWARE): its supervisor restarts it.
FATAL_EXIT_CODE: Final = 70


def topic_filter(share_group: str) -> str:
    """Our subscription, shared between replicas when a group is set."""
    return f"$share/{share_group}/{SUBSCRIPTION}" if share_group else SUBSCRIPTION


# Not frozen: a frozen dataclass sets every field through object.__setattr__, which costs
# more than the rest of the network thread's work on a message.
@dataclass(slots=True)
class Received:
    """One message as it came off the wire, with what is needed to acknowledge it."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    # A retained message replayed on subscribe is old news, not a sign of life.
    retained: bool
    received_at: datetime
    # Which connection delivered it: a packet id means nothing on a later connection.
    connection: int


class Source(Protocol):
    """An MQTT subscription that queues what arrives and acknowledges what was committed.

    Acknowledgements are sent in the order they are asked for; the writer asks in order of
    receipt (MQTT 5, 4.6). A full queue must never stop the client from answering the
    broker's control packets: backpressure is the Receive Maximum, not a silent socket.
    """

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up and our subscription was granted."""
        ...

    @property
    def reconnects(self) -> int:
        """How many times the connection was lost and made again since start."""
        ...

    def start(self) -> None:
        """Connect in the background (retrying until the broker answers) and consume."""
        ...

    def stop_accepting(self) -> None:
        """Take no more messages; what arrives from now on stays unacknowledged."""
        ...

    def ack(self, items: list[Received]) -> None:
        """Acknowledge committed messages (those of an earlier connection are skipped)."""
        ...

    def publish(self, topic: str, payload: bytes) -> bool:
        """Publish at QoS 1 (kept until the broker has it); False when refused."""
        ...

    def close(self) -> None:
        """Disconnect cleanly (the broker keeps our session) and stop."""
        ...


class Waiting(Generic[T]):
    """Messages read from the broker but not yet in the queue.

    A source keeps reading while the queue is full (up to our Receive Maximum arrives), so
    what waits is kept as read, which is small, and prepared (validated) only as the queue
    makes room: a window of 30,000 prepared messages would cost hundreds of MiB.
    """

    def __init__(self, out: Channel[T], prepare: Callable[[Received], T]) -> None:
        self._out = out
        self._prepare = prepare
        self._raw: deque[Received] = deque()
        self._ready: deque[T] = deque()

    def __bool__(self) -> bool:
        return bool(self._raw or self._ready)

    def add(self, item: Received) -> None:
        """Keep a message just read."""
        self._raw.append(item)

    def move(self) -> None:
        """Prepare what fits into the queue and hand it over."""
        raw, ready, prepare = self._raw, self._ready, self._prepare
        room = self._out.room() - len(ready)
        while room > 0 and raw:
            ready.append(prepare(raw.popleft()))
            room -= 1
        if ready:
            self._out.offer(ready)

    def clear(self) -> None:
        """Forget everything waiting (it was never acknowledged: it comes again)."""
        self._raw.clear()
        self._ready.clear()


def exit_process(thread: str) -> None:
    """The default reaction to a dead ingest thread: end the whole process, non-zero.

    Half a process (HTTP up, nothing stored) is worse than none: a supervisor restarts a
    process that exits, and whatever was not acknowledged comes again from the broker.
    """
    try:
        log.critical(
            "ingest thread died; exiting so that the supervisor restarts us",
            extra={"dead_thread": thread},
        )
        logging.shutdown()
    finally:
        os._exit(FATAL_EXIT_CODE)


def guarded_thread(
    target: Callable[[], None], name: str, on_fatal: Callable[[str], None]
) -> threading.Thread:
    """A daemon thread that calls `on_fatal(name)` if `target` ends by an exception."""

    def run() -> None:
        try:
            target()
        except BaseException:
            log.exception("thread %s died", name)
            on_fatal(name)

    return threading.Thread(target=run, name=name, daemon=True)
