"""The baseline of the HTTP benchmarks: the bare framework (FastAPI on uvicorn, served as the
bookings service serves: worker processes, each with a listening socket of its own on the
port, made by yizhan.common.workers) answering a static JSON, so that a benchmark shows how
far a service is from what this machine and its load generator can do.

    python -m bench.bare_app --workers 2 --port 8999
"""

import argparse
import multiprocessing
from typing import Any

import uvicorn
from fastapi import FastAPI, Response, status

from yizhan.common.workers import claim_port, listening_socket

app = FastAPI()

BOOKING = {"code": "LS7F3K9Q", "status": "confirmed", "manage_token": "x" * 43}
# Twenty items shaped like the public station API's, so the answers weigh the same.
STATIONS: dict[str, Any] = {
    "generated_at": "2026-11-30T00:00:00+00:00",
    "items": [
        {
            "id": f"P-{n:05d}",
            "name": {"zh": f"驿站{n}", "en": f"Station {n}"},
            "district": "区1",
            "address": f"路{n}号",
            "latitude": 29.56,
            "longitude": 106.55,
            "distance_m": 1234,
            "open_now": True,
            "amenities": ["charging", "water"],
            "availability": {
                "status": "live",
                "last_report": "2026-11-30T00:00:00+00:00",
                "chargers": {"total": 1, "free": 1, "in_use": 0, "out_of_order": 0},
                "water": {"total": 1, "working": 1},
            },
        }
        for n in range(20)
    ],
}


@app.post("/api/v1/bookings", status_code=status.HTTP_201_CREATED)
async def book(response: Response) -> dict[str, str]:
    """A booking's answer, without the booking."""
    return BOOKING


@app.get("/api/v1/public/stations")
async def stations() -> dict[str, Any]:
    """A fixed station list."""
    return STATIONS


def _serve(port: int) -> None:
    config = uvicorn.Config(app, log_level="warning", access_log=False, http="httptools")
    uvicorn.Server(config).run(sockets=[listening_socket("127.0.0.1", port)])


def main() -> None:
    """Serve `app` from `--workers` processes on one socket until stopped."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    claim_port("127.0.0.1", args.port)
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_serve, args=(args.port,)) for _ in range(args.workers)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


if __name__ == "__main__":
    main()
