"""The status code of a failed gRPC call."""

import grpc


def status_code(exc: grpc.RpcError) -> grpc.StatusCode | None:
    """The call's status code; None for an error raised before the call had one."""
    code = getattr(exc, "code", None)
    result = code() if callable(code) else None
    return result if isinstance(result, grpc.StatusCode) else None
