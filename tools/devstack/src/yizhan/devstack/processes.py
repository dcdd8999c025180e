"""Running helper programs, as another user when we are root (PostgreSQL refuses root)."""

import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path


def is_root() -> bool:
    """Whether this process runs as root."""
    return os.geteuid() == 0


def as_user(user: str, argv: list[str]) -> list[str]:
    """`argv` run as `user` when we are root, unchanged otherwise."""
    if not is_root():
        return argv
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    return [runuser, "-u", user, "--", *argv]


def chown_to(path: Path, user: str) -> None:
    """Give `path` (recursively) to `user` when we are root."""
    if not is_root():
        return
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def ensure_parents_traversable(path: Path) -> None:
    """Let another user reach `path` through its parents (x bit), as initdb needs."""
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


def free_port() -> int:
    """A TCP port nobody listens on right now (for tests)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(host: str, port: int, timeout: float, process: subprocess.Popen[bytes]) -> None:
    """Wait until something accepts TCP connections on host:port, or fail loudly."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


class RestartPolicy:
    """When to start a process again after it exits unexpectedly: at once the first time,
    then after a delay that doubles on each quick failure (a crash loop does not spin), and
    at once again after it has run steadily for a while."""

    def __init__(
        self, first_delay: float = 1.0, max_delay: float = 30.0, steady_seconds: float = 60.0
    ) -> None:
        self._first = first_delay
        self._max = max_delay
        self._steady = steady_seconds
        self._delays: dict[str, float] = {}

    def delay_after_exit(self, name: str, ran_seconds: float) -> float:
        """Seconds to wait before starting `name` again, given how long it ran."""
        if ran_seconds >= self._steady:
            self._delays.pop(name, None)
        delay = self._delays.get(name, 0.0)
        self._delays[name] = min(max(delay * 2, self._first), self._max)
        return delay
