"""Cross-site request forgery: a page on another site must not make its visitors' browsers
post to our forms (send an SMS, acknowledge an alarm, sign in or out).

Browsers say where a request comes from: `Origin` on every POST (modern browsers), else
`Sec-Fetch-Site`, else `Referer`. A request that changes something (POST, PUT, PATCH,
DELETE) and names another site, or an opaque origin (`null`: sandboxed frames, data: URLs),
is refused with 403, on every form and API of every service. Requests that name no origin
at all come from programs, not from a browser someone was lured with, and pass (the operator
API needs a bearer token anyway, which another site cannot make a browser send).

This is the "verified Origin" defence: no token in forms, so pages keep working without JS."""

from urllib.parse import urlsplit

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _netloc(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return parts.netloc.lower()


def cross_site(headers: dict[bytes, bytes]) -> bool:
    """Whether a browser says this request comes from another site (or will not say)."""
    host = headers.get(b"host", b"").decode("latin-1").lower()
    origin = headers.get(b"origin")
    if origin is not None:
        return _netloc(origin.decode("latin-1")) != host
    fetch_site = headers.get(b"sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in (b"same-origin", b"none")
    referer = headers.get(b"referer")
    if referer is not None:
        return _netloc(referer.decode("latin-1")) != host
    return False


class CrossSiteRequestMiddleware:
    """403 for a state-changing request a browser sent on behalf of another site."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") in UNSAFE_METHODS:
            headers = {bytes(k).lower(): bytes(v) for k, v in scope.get("headers", [])}
            if cross_site(headers):
                body = {
                    "type": "about:blank",
                    "title": "Forbidden",
                    "status": 403,
                    "detail": "cross-site request refused",
                    "code": "cross_site_request",
                }
                response = JSONResponse(
                    body, status_code=403, media_type="application/problem+json"
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
