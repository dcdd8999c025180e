"""`yz-dev run | simulate`: the local development stack and the kiosk simulator."""

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from yizhan.common.logs import configure_logging
from yizhan.common.settings import CommonSettings


def _simulate(args: argparse.Namespace) -> int:
    from yizhan.devstack.locked_broker import load_kiosk_credentials
    from yizhan.devstack.simulator import Simulator

    configure_logging("simulator")
    credentials = load_kiosk_credentials(args.credentials) if args.credentials else None
    tls = (args.tls_port, args.ca) if args.tls_port else None
    simulator = Simulator(CommonSettings(), args.outbox_dir, credentials=credentials, tls=tls)
    backfill_days: int = args.backfill_days
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    simulator.connect()
    if backfill_days:
        sent = simulator.backfill(backfill_days)
        logging.getLogger(__name__).info("history published", extra={"messages": sent})
    worker = threading.Thread(target=simulator.run, daemon=True)
    worker.start()
    stop.wait()
    simulator.stop()
    return 0


def _certs(args: argparse.Namespace) -> int:
    from yizhan.devstack.tls import ensure_dev_tls

    names = [name.strip() for name in args.names.split(",") if name.strip()]
    made = ensure_dev_tls(args.folder, names)
    print(f"CA {made.ca_cert}\ncertificate {made.server.cert} (for {', '.join(names)})")
    print(f"key {made.server.key}")
    return 0


def main() -> None:
    """Entry point of the `yz-dev` console script."""
    parser = argparse.ArgumentParser(prog="yz-dev")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="bring up the whole network here (what `make run` does)")
    simulate = sub.add_parser("simulate", help="simulated kiosks of the demo network")
    simulate.add_argument("--backfill-days", type=int, default=0)
    simulate.add_argument("--credentials", type=Path, help="device credentials (JSON) to use")
    simulate.add_argument("--tls-port", type=int, help="connect over TLS on this port")
    simulate.add_argument("--ca", type=Path, help="the CA the broker's certificate is from")
    simulate.add_argument(
        "--outbox-dir",
        type=Path,
        default=Path(".data/kiosks"),
        help="where the simulated kiosks keep their outboxes and seq (kept across restarts)",
    )
    certs = sub.add_parser(
        "certs", help="a CA and a certificate for these names in a folder (kept when present)"
    )
    certs.add_argument("folder", type=Path)
    certs.add_argument("--names", required=True, help="comma-separated host names or addresses")
    args = parser.parse_args()
    if args.command == "certs":
        sys.exit(_certs(args))
    if args.command == "run":
        from yizhan.devstack.stack import run

        logging.basicConfig(level=logging.WARNING)
        sys.exit(run(Path.cwd()))
    sys.exit(_simulate(args))


if __name__ == "__main__":
    main()
