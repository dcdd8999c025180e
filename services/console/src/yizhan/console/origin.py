"""The one cross-site check of the console's management forms: a state-changing POST must
come from a page of this console. Browsers send `Origin` on every POST (and `Referer` when
they do not); a form posted from another site carries that site's origin and is refused.
The session cookie is also SameSite=Strict; this check does not rely on it alone."""

from urllib.parse import urlsplit

from fastapi import Request


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def same_origin(request: Request) -> bool:
    """Whether the POST came from a page served by this host (Origin, else Referer)."""
    sent = request.headers.get("origin")
    if sent is None or sent == "null":
        referer = request.headers.get("referer")
        sent = _origin_of(referer) if referer else None
    if not sent:
        return False
    host = request.headers.get("x-forwarded-host") or request.headers.get("host", "")
    scheme = request.headers.get("x-forwarded-proto") or request.url.scheme
    return sent.lower() == f"{scheme}://{host}".lower()
