"""Who is calling: the client address per-client limits count by.

uvicorn takes `X-Forwarded-For` / `X-Forwarded-Proto` only from the proxies listed in
YZ_TRUSTED_PROXIES (runtime.py); from anyone else the address is the TCP peer's, so a
client cannot pick a fresh address per request to get past its limits."""

from fastapi import Request


def client_address(request: Request) -> str:
    """The caller's address (after the trusted-proxy rule)."""
    return request.client.host if request.client else "unknown"
