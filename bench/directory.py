"""Stand-ins for the peers ingest asks: stations (which station a device belongs to) and
bookings (only its health, for /readyz). The benchmark's devices are seeded by name:
`bd-<kiosk>-<n>` belongs to station `BS-<kiosk>`."""

from concurrent.futures import ThreadPoolExecutor

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from yizhan.api.stations.v1 import stations_pb2, stations_pb2_grpc


class SeededDirectory(stations_pb2_grpc.StationDirectoryServicer):
    """Resolves the benchmark's device ids; counts how often it was asked."""

    def __init__(self) -> None:
        self.resolved = 0

    def ResolveDevice(
        self, request: stations_pb2.ResolveDeviceRequest, context: grpc.ServicerContext
    ) -> stations_pb2.Device:
        self.resolved += 1
        parts = request.device_id.split("-")
        if len(parts) != 3 or parts[0] != "bd":
            context.abort(grpc.StatusCode.NOT_FOUND, "no such device")
        return stations_pb2.Device(
            id=request.device_id,
            station_id=f"BS-{parts[1]}",
            kind="kiosk",
            status="active",
            district="bench",
        )


def start(port: int) -> tuple[grpc.Server, SeededDirectory]:
    """Serve the seeded directory and a SERVING health service on 127.0.0.1:port."""
    server = grpc.server(ThreadPoolExecutor(max_workers=4))
    # Only ResolveDevice is asked for; the other methods answer UNIMPLEMENTED.
    directory = SeededDirectory()  # type: ignore[abstract]
    stations_pb2_grpc.add_StationDirectoryServicer_to_server(directory, server)
    health_servicer = health.HealthServicer()
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    return server, directory


def main() -> None:
    """`python bench/directory.py PORT`: serve until killed (bench/faults hangs it)."""
    import sys
    import threading

    server, _ = start(int(sys.argv[1]))
    print("ready", flush=True)
    threading.Event().wait()
    server.stop(None)


if __name__ == "__main__":
    main()
