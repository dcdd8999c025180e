"""The console's own script and style, and the charting library installed by npm (served by
us, never from a CDN: stations often sit on intranets).

Pages name each file by its content (`echarts.3f9a1c2b7d4e.min.js`): such a URL never
changes meaning, so browsers may keep it for a year without asking again, and a deploy
changes the URL. Files are sent gzip-compressed to browsers that accept it (ECharts is
1.1 MB as a file, about a third of that compressed), compressed once and kept in memory.
"""

import functools
import gzip
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from yizhan.console.wiring import ConsoleDep

router = APIRouter(prefix="/console/assets", include_in_schema=False)

STATIC = Path(__file__).parent / "static"
OWN = {
    "console.js": "text/javascript",
    "console.css": "text/css",
    "manage.css": "text/css",  # management pages and the printable credentials sheet
}
ECHARTS_NAME = "echarts.min.js"
# The only file taken from node_modules (console-assets/package.json pins its version).
ECHARTS = Path("echarts") / "dist" / ECHARTS_NAME
PREFIX = "/console/assets/"
# A content-named URL is the same file for ever.
IMMUTABLE = "public, max-age=31536000, immutable"
# A plain name (an old page, a bookmark) may change with a deploy: a day, then ask again.
SHORT = "public, max-age=86400"
DIGEST_LENGTH = 12
_HASHED = re.compile(r"^(?P<stem>[a-z]+)\.(?P<digest>[0-9a-f]{12})(?P<suffix>(\.min)?\.(js|css))$")


@dataclass(frozen=True)
class Asset:
    """A file as served: its bytes, the same gzip-compressed, its type and content digest."""

    body: bytes
    gzipped: bytes
    media_type: str
    digest: str

    def hashed_name(self, name: str) -> str:
        """`console.css` → `console.<digest>.css`."""
        stem, _, suffix = name.partition(".")
        return f"{stem}.{self.digest}.{suffix}"


@functools.lru_cache(maxsize=8)
def _load(path: Path, media_type: str, modified_ns: int) -> Asset:
    body = path.read_bytes()
    digest = hashlib.sha256(body).hexdigest()[:DIGEST_LENGTH]
    return Asset(body, gzip.compress(body, compresslevel=9, mtime=0), media_type, digest)


def _file(name: str, assets_dir: Path) -> tuple[Path, str] | None:
    if name in OWN:
        return STATIC / name, OWN[name]
    if name == ECHARTS_NAME:
        return assets_dir / ECHARTS, "text/javascript"
    return None


def load_asset(name: str, assets_dir: Path) -> Asset | None:
    """One of the fixed set of files, read (again only when it changed on disk)."""
    found = _file(name, assets_dir)
    if found is None or not found[0].is_file():
        return None
    path, media_type = found
    return _load(path, media_type, path.stat().st_mtime_ns)


def echarts_path(assets_dir: Path) -> Path:
    """Where the installed ECharts build is."""
    return assets_dir / ECHARTS


def asset_url(name: str, assets_dir: Path | None = None) -> str:
    """The content-named URL of an asset (the plain one when the file is missing)."""
    found = load_asset(name, assets_dir or STATIC)
    return PREFIX + (found.hashed_name(name) if found else name)


@router.get("/{name}")
async def asset(name: str, request: Request, console: ConsoleDep) -> Response:
    """One of a fixed set of files (no path from the URL reaches the disk), by its plain or
    content name; gzip when the browser accepts it."""
    plain, cache = name, SHORT
    hashed = _HASHED.match(name)
    if hashed:
        plain = hashed["stem"] + hashed["suffix"]
    found = load_asset(plain, console.settings.assets_dir)
    if found is None:
        raise HTTPException(404, detail="no such asset")
    if hashed and hashed["digest"] == found.digest:
        cache = IMMUTABLE
    headers = {"Cache-Control": cache, "ETag": f'"{found.digest}"', "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(found.gzipped, media_type=found.media_type, headers=headers)
    return Response(found.body, media_type=found.media_type, headers=headers)
