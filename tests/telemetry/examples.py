"""The protocol examples (fixtures/mqtt-v1-examples.jsonl, a copy of the shared file)."""

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

EXAMPLES_PATH = Path(__file__).parent / "fixtures" / "mqtt-v1-examples.jsonl"


@dataclass(frozen=True)
class Example:
    """One line: publish `payload` on `topic`; `expect`: stored, duplicate, answered, a reason."""

    line: int
    topic: str
    payload: Any
    expect: str
    note: str

    def payload_bytes(self, shift: timedelta = timedelta(0)) -> bytes:
        """What goes on the wire: a raw string as-is, any other JSON value serialised;
        `shift` moves well-formed timestamps (to replay the examples at another time)."""
        if isinstance(self.payload, str):
            return self.payload.encode()
        return json.dumps(_shifted(self.payload, shift), ensure_ascii=False).encode()


def load() -> tuple[datetime, list[Example]]:
    """The receive time the examples assume, and the examples in order."""
    lines = EXAMPLES_PATH.read_text(encoding="utf-8").splitlines()
    about = json.loads(lines[0])["about"]
    match = re.search(r"receive time is (\S+?)\.?$", about)
    assert match, about
    received_at = datetime.fromisoformat(match.group(1))
    examples = []
    for number, line in enumerate(lines[1:], start=2):
        entry = json.loads(line)
        examples.append(
            Example(
                number, entry["topic"], entry["payload"], entry["expect"], entry.get("note", "")
            )
        )
    return received_at, examples


def _shifted(payload: Any, shift: timedelta) -> Any:
    if not shift or not isinstance(payload, dict) or "ts" not in payload:
        return payload
    ts = payload["ts"]
    moved: Any = ts
    if isinstance(ts, int) and not isinstance(ts, bool):
        moved = ts + int(shift.total_seconds() * 1000)
    elif isinstance(ts, str) and re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", ts):
        moment = datetime.fromisoformat(ts.replace("Z", "+00:00"))
        moved = (moment + shift).isoformat()
    return {**payload, "ts": moved}
