"""`yz-dev run | simulate`: the local development stack and the kiosk simulator."""

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from yizhan.common.logs import configure_logging
from yizhan.common.settings import CommonSettings


def _simulate(backfill_days: int) -> int:
    from yizhan.devstack.simulator import Simulator

    configure_logging("simulator")
    simulator = Simulator(CommonSettings())
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


def main() -> None:
    """Entry point of the `yz-dev` console script."""
    parser = argparse.ArgumentParser(prog="yz-dev")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="bring up the whole network here (what `make run` does)")
    simulate = sub.add_parser("simulate", help="simulated kiosks of the demo network")
    simulate.add_argument("--backfill-days", type=int, default=0)
    args = parser.parse_args()
    if args.command == "run":
        from yizhan.devstack.stack import run

        logging.basicConfig(level=logging.WARNING)
        sys.exit(run(Path.cwd()))
    sys.exit(_simulate(args.backfill_days))


if __name__ == "__main__":
    main()
