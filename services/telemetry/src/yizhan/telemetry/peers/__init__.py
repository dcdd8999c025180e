"""Outbound gRPC clients: what telemetry asks other services (inbound servicers are in rpc/)."""
