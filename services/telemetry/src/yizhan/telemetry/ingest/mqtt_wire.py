"""The few MQTT 5 packets ingest needs, encoded and decoded by hand (pure, no I/O).

Why not paho here: paho reads a packet with three or more system calls, wraps each one in
objects and writes every PUBACK separately; at 15,000 messages a second that alone took half
a core. Ingest needs only CONNECT, SUBSCRIBE, PUBLISH, PUBACK, PING and DISCONNECT, so it
reads the socket in large chunks, decodes them here and sends its acknowledgements in bulk.
The devices, the simulator and the tests still use paho.
"""

import struct
from collections.abc import Iterator
from typing import Final, NamedTuple

CONNECT: Final = 1
CONNACK: Final = 2
PUBLISH: Final = 3
PUBACK: Final = 4
PUBREC: Final = 5
SUBSCRIBE: Final = 8
SUBACK: Final = 9
PINGREQ_TYPE: Final = 12
PINGRESP: Final = 13
DISCONNECT_TYPE: Final = 14
AUTH: Final = 15

PROTOCOL_LEVEL: Final = 5
PINGREQ: Final = b"\xc0\x00"
# Reason 0, normal disconnection: the broker keeps the session and drops no Will.
DISCONNECT: Final = b"\xe0\x00"
# The longest remaining length MQTT can express (four varint bytes).
MAX_REMAINING_LENGTH: Final = 268_435_455

# Reason codes we send.
MALFORMED_PACKET: Final = 0x81
PROTOCOL_ERROR: Final = 0x82
IMPLEMENTATION_SPECIFIC_ERROR: Final = 0x83

# Property identifiers (MQTT 5, section 2.2.2.2).
_SESSION_EXPIRY: Final = 0x11
_SERVER_KEEP_ALIVE: Final = 0x13
_RECEIVE_MAXIMUM: Final = 0x21
_MAXIMUM_PACKET_SIZE: Final = 0x27
# How many bytes each property's value takes; None: a string or binary (two-byte length),
# "pair": a user property (two strings), "varint": a variable byte integer.
_PROPERTY_SIZES: Final[dict[int, int | str | None]] = {
    0x01: 1, 0x02: 4, 0x03: None, 0x08: None, 0x09: None, 0x0B: "varint", 0x11: 4,
    0x12: None, 0x13: 2, 0x15: None, 0x16: None, 0x17: 1, 0x18: 4, 0x19: 1, 0x1A: None,
    0x1C: None, 0x1F: None, 0x21: 2, 0x22: 2, 0x23: 2, 0x24: 1, 0x25: 1, 0x26: "pair",
    0x27: 4, 0x28: 1, 0x29: 1, 0x2A: 1,
}  # fmt: skip
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")


class ProtocolError(Exception):
    """The peer sent something that is not MQTT 5 as we speak it: drop the connection."""

    def __init__(self, message: str, reason: int = 0x81) -> None:
        super().__init__(message)
        # The DISCONNECT reason we give: 0x81 malformed packet, 0x82 protocol error.
        self.reason = reason


def varint(value: int) -> bytes:
    """MQTT's variable byte integer."""
    if not 0 <= value <= MAX_REMAINING_LENGTH:
        raise ValueError(f"{value} cannot be encoded as a variable byte integer")
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | 0x80 if value else byte)
        if not value:
            return bytes(out)


def _text(value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _U16.pack(len(data)) + data


def _packet(first_byte: int, body: bytes) -> bytes:
    return bytes((first_byte,)) + varint(len(body)) + body


def connect(
    client_id: str,
    *,
    keepalive: int,
    clean_start: bool,
    session_expiry: int,
    receive_maximum: int | None = None,
    maximum_packet_size: int | None = None,
    username: str | None = None,
    password: str | None = None,
) -> bytes:
    """A CONNECT packet (no Will: a consumer has nothing to announce when it dies)."""
    flags = 0x02 if clean_start else 0
    if username is not None:
        flags |= 0x80
    if password is not None:
        flags |= 0x40
    props = bytes((_SESSION_EXPIRY,)) + _U32.pack(session_expiry)
    if receive_maximum is not None:
        props += bytes((_RECEIVE_MAXIMUM,)) + _U16.pack(receive_maximum)
    if maximum_packet_size is not None:
        props += bytes((_MAXIMUM_PACKET_SIZE,)) + _U32.pack(maximum_packet_size)
    body = _text("MQTT") + bytes((PROTOCOL_LEVEL, flags)) + _U16.pack(keepalive)
    body += varint(len(props)) + props + _text(client_id)
    if username is not None:
        body += _text(username)
    if password is not None:
        body += _text(password)
    return _packet(CONNECT << 4, body)


def subscribe(packet_id: int, topic_filter: str, *, qos: int, retain_handling: int) -> bytes:
    """A SUBSCRIBE of one filter; retain_handling 1 sends retained messages only to a new
    subscription."""
    options = qos | (retain_handling << 4)
    body = _U16.pack(packet_id) + b"\x00" + _text(topic_filter) + bytes((options,))
    return _packet((SUBSCRIBE << 4) | 0x02, body)


def publish(
    topic: str | bytes,
    payload: bytes,
    *,
    qos: int,
    packet_id: int = 0,
    retain: bool = False,
    dup: bool = False,
) -> bytes:
    """A PUBLISH without properties."""
    first = (PUBLISH << 4) | (qos << 1) | (0x08 if dup else 0) | (0x01 if retain else 0)
    head = _text(topic) + (_U16.pack(packet_id) if qos else b"") + b"\x00"
    return _packet(first, head + payload)


def set_dup(packet: bytes) -> bytes:
    """The same PUBLISH marked as a retransmission."""
    return bytes((packet[0] | 0x08,)) + packet[1:]


def puback(packet_id: int) -> bytes:
    """A PUBACK with reason Success (MQTT 5 allows omitting the reason then)."""
    return b"\x40\x02" + _U16.pack(packet_id)


def pubrec(packet_id: int, reason: int) -> bytes:
    """A PUBREC; with a reason of 0x80 or more it refuses a QoS 2 message for good."""
    return b"\x50\x04" + _U16.pack(packet_id) + bytes((reason, 0))


def disconnect(reason: int) -> bytes:
    """A DISCONNECT with a reason code (no properties)."""
    return bytes((DISCONNECT_TYPE << 4, 1, reason))


class Connack(NamedTuple):
    """What a CONNACK tells us; None where the broker left a limit unsaid."""

    session_present: bool
    reason: int
    server_keep_alive: int | None
    receive_maximum: int | None
    maximum_packet_size: int | None


class Publish(NamedTuple):
    """A decoded PUBLISH (a named tuple: built once per message, it must be cheap)."""

    topic: bytes
    payload: bytes
    packet_id: int
    qos: int
    retain: bool
    dup: bool


class Reader:
    """Splits a byte stream into packets: feed() what the socket gave, then take packets()."""

    def __init__(self, max_packet_size: int = MAX_REMAINING_LENGTH) -> None:
        self._buffer = bytearray()
        self._max = max_packet_size

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        self._buffer += data

    def packets(self) -> Iterator[tuple[int, int, bytes]]:
        """Complete packets as (type, flags, body); a partial packet waits for more data."""
        buffer = self._buffer
        size = len(buffer)
        pos = 0
        try:
            while size - pos >= 2:
                first = buffer[pos]
                length = 0
                shift = 0
                index = pos + 1
                while True:
                    if index >= size:
                        return
                    byte = buffer[index]
                    length |= (byte & 0x7F) << shift
                    index += 1
                    if not byte & 0x80:
                        break
                    shift += 7
                    if shift > 21:
                        raise ProtocolError("remaining length longer than four bytes")
                if length > self._max:
                    raise ProtocolError(f"a packet of {length} bytes")
                end = index + length
                if end > size:
                    return
                body = bytes(buffer[index:end])
                pos = end
                yield first >> 4, first & 0x0F, body
        finally:
            del buffer[:pos]


def parse_publish(flags: int, body: bytes) -> Publish:
    """Decode a PUBLISH body (its properties are skipped: we asked for no topic aliases)."""
    qos = (flags >> 1) & 0x03
    if qos == 3 or len(body) < 2:
        raise ProtocolError("malformed PUBLISH")
    topic_end = 2 + ((body[0] << 8) | body[1])
    pos = topic_end
    packet_id = 0
    if qos:
        if pos + 2 > len(body):
            raise ProtocolError("malformed PUBLISH")
        packet_id = (body[pos] << 8) | body[pos + 1]
        if packet_id == 0:
            raise ProtocolError("PUBLISH with packet id 0")
        pos += 2
    props, pos = _read_varint(body, pos)
    pos += props
    if pos > len(body):
        raise ProtocolError("malformed PUBLISH")
    return Publish(
        body[2:topic_end], body[pos:], packet_id, qos, bool(flags & 0x01), bool(flags & 0x08)
    )


def parse_connack(body: bytes) -> Connack:
    """A CONNACK with the properties that bind us (keep alive, window, packet size)."""
    if len(body) < 2:
        raise ProtocolError("malformed CONNACK")
    properties = parse_properties(body, 2)[0] if len(body) > 2 else {}
    return Connack(
        bool(body[0] & 0x01),
        body[1],
        _int_property(properties, _SERVER_KEEP_ALIVE),
        _int_property(properties, _RECEIVE_MAXIMUM),
        _int_property(properties, _MAXIMUM_PACKET_SIZE),
    )


def _int_property(properties: dict[int, int | bytes], key: int) -> int | None:
    value = properties.get(key)
    return value if isinstance(value, int) else None


def parse_properties(data: bytes, pos: int) -> tuple[dict[int, int | bytes], int]:
    """The property block starting at `pos`: ({identifier: value}, position after it).

    Integers are decoded; strings, binaries and user properties are kept as raw bytes.
    """
    length, pos = _read_varint(data, pos)
    end = pos + length
    if end > len(data):
        raise ProtocolError("properties run past the packet")
    found: dict[int, int | bytes] = {}
    while pos < end:
        key, pos = _read_varint(data, pos)
        size = _PROPERTY_SIZES.get(key, -1)
        if size == -1:
            raise ProtocolError(f"unknown property {key:#x}")
        if size == "varint":
            found[key], pos = _read_varint(data, pos)
            continue
        if isinstance(size, int):
            if pos + size > end:
                raise ProtocolError("property runs past its block")
            found[key] = int.from_bytes(data[pos : pos + size], "big")
            pos += size
            continue
        start = pos
        for _ in range(2 if size == "pair" else 1):
            if pos + 2 > end:
                raise ProtocolError("property runs past its block")
            pos += 2 + _U16.unpack_from(data, pos)[0]
        if pos > end:
            raise ProtocolError("property runs past its block")
        found[key] = bytes(data[start:pos])
    return found, end


def parse_suback(body: bytes) -> tuple[int, list[int]]:
    """(packet id, reason codes) of a SUBACK."""
    if len(body) < 3:
        raise ProtocolError("malformed SUBACK")
    _, pos = parse_properties(body, 2)
    reasons = list(body[pos:])
    if not reasons:
        raise ProtocolError("SUBACK without reason codes")
    return _U16.unpack_from(body)[0], reasons


def parse_puback(body: bytes) -> tuple[int, int]:
    """(packet id, reason code) of a PUBACK."""
    if len(body) < 2:
        raise ProtocolError("malformed PUBACK")
    return _U16.unpack_from(body)[0], body[2] if len(body) > 2 else 0


def reason_of(body: bytes) -> int:
    """The reason code of a DISCONNECT (0 when omitted)."""
    return body[0] if body else 0


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    shift = 0
    while True:
        if pos >= len(data) or shift > 21:
            raise ProtocolError("malformed variable byte integer")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return value, pos
        shift += 7
