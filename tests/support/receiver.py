"""A real HTTP server standing in for a notification receiver (a webhook, a WeCom or DingTalk
robot, an SMS gateway): records every POST, answers what the test says."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


@dataclass
class Post:
    """One POST as the receiver got it, and when."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        """The body as JSON."""
        return orjson.loads(self.body)


@dataclass
class Receiver:
    """What was posted, by path (query included). A path starting with a key of `answers`
    gets those answers in turn; then every path gets `answer` (status, JSON body)."""

    port: int = 0
    answer: tuple[int, Any] = (200, {"errcode": 0, "errmsg": "ok"})
    answers: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)
    posts: list[Post] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        """Where it listens."""
        return f"http://127.0.0.1:{self.port}"

    def on(self, prefix: str) -> list[Post]:
        """The posts to paths starting with `prefix`, oldest first."""
        with self.lock:
            return [p for p in self.posts if p.path.startswith(prefix)]


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    """A receiver on a free port of 127.0.0.1, stopped afterwards."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with state.lock:
                state.posts.append(
                    Post(self.path, dict(self.headers.items()), body, time.monotonic())
                )
                status, reply = state.answer
                for prefix, queued in state.answers.items():
                    if self.path.startswith(prefix) and queued:
                        status, reply = queued.pop(0)
                        break
            data = orjson.dumps(reply)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
