"""Outbound gRPC clients: what bookings asks other services (inbound servicers are in rpc/)."""
