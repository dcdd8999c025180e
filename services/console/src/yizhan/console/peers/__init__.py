"""The console's outbound gRPC clients (it has no inbound gRPC: it serves only HTTP)."""
