"""A Mosquitto broker in a folder of ours: anonymous, or enforcing device credentials with the
dynamic security plugin (as production does), with an optional TLS listener for devices
(8883-style) beside the plain one."""

import glob
import logging
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from yizhan.devstack.processes import (
    chown_to,
    ensure_parents_traversable,
    is_root,
    wait_for_port,
)

log = logging.getLogger(__name__)

OS_USER = "mosquitto"
START_TIMEOUT_SECONDS = 15
# Messages a disconnected persistent session may queue before the broker drops them: enough
# for a telemetry restart under a whole city's load.
MAX_QUEUED_MESSAGES = 1_000_000
DYNSEC_FILE = "dynamic-security.json"
# Where Debian (multiarch), other distributions and the eclipse-mosquitto image put the
# plugin; `dpkg -L mosquitto` lists it on Debian.
DYNSEC_PLUGIN_GLOBS = (
    "/usr/lib/*/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto_dynamic_security.so",
    "/usr/local/lib/mosquitto_dynamic_security.so",
    "/usr/lib64/mosquitto_dynamic_security.so",
)


def find_mosquitto() -> str:
    """The mosquitto binary (Debian puts it in /usr/sbin)."""
    found = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise RuntimeError("Mosquitto is not installed (make installs it with apt-get)")
    return found


def find_mosquitto_ctrl() -> str:
    """mosquitto_ctrl, which writes the dynamic security plugin's first configuration."""
    found = shutil.which("mosquitto_ctrl")
    if not found:
        raise RuntimeError(
            "mosquitto_ctrl is not installed (Debian package mosquitto-clients; make installs it)"
        )
    return found


def find_dynsec_plugin() -> str:
    """The dynamic security plugin shipped with Mosquitto 2."""
    for pattern in DYNSEC_PLUGIN_GLOBS:
        matches = sorted(glob.glob(pattern))
        if matches:
            return matches[0]
    raise RuntimeError("mosquitto_dynamic_security.so not found (is Mosquitto 2 installed?)")


@dataclass(frozen=True)
class DynsecAdmin:
    """The account that may drive the dynamic security plugin over `$CONTROL/...`."""

    username: str
    password: str


@dataclass(frozen=True)
class BrokerTls:
    """A TLS listener: its port, the server certificate and the CA that signed the clients'
    certificates (when `require_client_cert`) and that clients trust."""

    port: int
    ca_cert: Path
    server_cert: Path
    server_key: Path
    host: str | None = None  # None: the plain listener's address
    require_client_cert: bool = False


@dataclass
class MosquittoBroker:
    """One broker: its folder, port, and the process while it runs. With `dynsec`, nobody
    gets in without an account, and accounts are managed over MQTT by `dynsec.username`."""

    data_dir: Path
    port: int
    host: str = "127.0.0.1"
    dynsec: DynsecAdmin | None = None
    tls: BrokerTls | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def dynsec_file(self) -> Path:
        """The plugin's own state: accounts, roles, ACLs (it rewrites it on every change)."""
        return self.data_dir / DYNSEC_FILE

    def write_config(self) -> Path:
        """The broker's config: loopback, persistent sessions on disk, and either anonymous
        access (development) or the dynamic security plugin."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.dynsec is None:
            access = [
                "# anonymous access is for local development only",
                "allow_anonymous true",
            ]
        else:
            self._init_dynsec(self.dynsec)
            access = [
                "allow_anonymous false",
                f"plugin {find_dynsec_plugin()}",
                f"plugin_opt_config_file {self.dynsec_file}",
            ]
        config = self.data_dir / "mosquitto.conf"
        config.write_text(
            "\n".join(
                [
                    "# written by yizhan devstack",
                    f"listener {self.port} {self.host}",
                    *self._tls_listener(),
                    *access,
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
            # Mosquitto drops root for its own user, which must reach (and the plugin
            # rewrite) files in here.
            chown_to(self.data_dir, OS_USER)
            ensure_parents_traversable(self.data_dir)
        return config

    def _tls_listener(self) -> list[str]:
        """The TLS listener's lines; its files are copied into the broker's folder so that
        Mosquitto, once it has dropped root, can read them."""
        if self.tls is None:
            return []
        folder = self.data_dir / "tls"
        folder.mkdir(parents=True, exist_ok=True)
        copies = {}
        for name, source in (
            ("ca.crt", self.tls.ca_cert),
            ("server.crt", self.tls.server_cert),
            ("server.key", self.tls.server_key),
        ):
            target = folder / name
            shutil.copyfile(source, target)
            target.chmod(0o600)
            copies[name] = target
        require = "true" if self.tls.require_client_cert else "false"
        return [
            f"listener {self.tls.port} {self.tls.host or self.host}",
            f"cafile {copies['ca.crt']}",
            f"certfile {copies['server.crt']}",
            f"keyfile {copies['server.key']}",
            "tls_version tlsv1.2",
            f"require_certificate {require}",
        ]

    def _init_dynsec(self, admin: DynsecAdmin) -> None:
        # Only once: afterwards the file is the broker's, holding every account made since.
        if self.dynsec_file.exists():
            return
        result = subprocess.run(
            [
                find_mosquitto_ctrl(),
                "dynsec",
                "init",
                str(self.dynsec_file),
                admin.username,
                admin.password,
            ],
            capture_output=True,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0 or not self.dynsec_file.exists():
            output = (result.stdout + result.stderr).decode(errors="replace")
            raise RuntimeError(f"mosquitto_ctrl dynsec init failed: {output[-2000:]}")

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
        if self.tls is not None:
            tls_host = self.tls.host or self.host
            wait_for_port(
                "127.0.0.1" if tls_host in ("0.0.0.0", "::") else tls_host,
                self.tls.port,
                START_TIMEOUT_SECONDS,
                self.process,
            )
        log.info(
            "Mosquitto ready",
            extra={
                "port": self.port,
                "tls_port": self.tls.port if self.tls else None,
                "dynsec": self.dynsec is not None,
            },
        )

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
