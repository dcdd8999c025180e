"""A Mosquitto broker in a folder of ours."""

import logging
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from yizhan.devstack.processes import chown_to, is_root, wait_for_port

log = logging.getLogger(__name__)

OS_USER = "mosquitto"
START_TIMEOUT_SECONDS = 15
# Messages a disconnected persistent session may queue before the broker drops them: enough
# for a telemetry restart under a whole city's load.
MAX_QUEUED_MESSAGES = 1_000_000


def find_mosquitto() -> str:
    """The mosquitto binary (Debian puts it in /usr/sbin)."""
    found = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise RuntimeError("Mosquitto is not installed (make installs it with apt-get)")
    return found


@dataclass
class MosquittoBroker:
    """One broker: its folder, port, and the process while it runs."""

    data_dir: Path
    port: int
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def write_config(self) -> Path:
        """The broker's config: loopback, anonymous (dev), persistent sessions on disk."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "mosquitto.conf"
        config.write_text(
            "\n".join(
                [
                    "# written by yizhan devstack; anonymous access is for local development only",
                    f"listener {self.port} {self.host}",
                    "allow_anonymous true",
                    "persistence true",
                    f"persistence_location {self.data_dir}/",
                    "autosave_interval 30",
                    f"max_queued_messages {MAX_QUEUED_MESSAGES}",
                    "max_inflight_messages 0",
                    "log_dest stdout",
                    "log_type error",
                    "log_type warning",
                    "log_type notice",
                    "",
                ]
            )
        )
        if is_root():
            chown_to(self.data_dir, OS_USER)
        return config

    def start(self, log_path: Path | None = None) -> None:
        """Start the broker and wait until it accepts connections."""
        config = self.write_config()
        out = log_path.open("ab") if log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [find_mosquitto(), "-c", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_port(self.host, self.port, START_TIMEOUT_SECONDS, self.process)
        log.info("Mosquitto ready", extra={"port": self.port})

    def stop(self) -> None:
        """Stop the broker; it saves its persistent sessions on the way out."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
