"""The console's own script and style, and the charting library installed by npm (served by
us, never from a CDN: stations often sit on intranets)."""

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, Response

from yizhan.console.wiring import ConsoleDep

router = APIRouter(prefix="/console/assets", include_in_schema=False)

STATIC = Path(__file__).parent / "static"
OWN = {
    "console.js": "text/javascript",
    "console.css": "text/css",
    "manage.css": "text/css",  # management pages and the printable credentials sheet
}
# The only file taken from node_modules (console-assets/package.json pins its version).
ECHARTS = Path("echarts") / "dist" / "echarts.min.js"
# Files change only with a deploy; a day of caching spares phones on weak networks.
CACHE = "public, max-age=86400"


def echarts_path(assets_dir: Path) -> Path:
    """Where the installed ECharts build is."""
    return assets_dir / ECHARTS


@router.get("/{name}")
async def asset(name: str, console: ConsoleDep) -> Response:
    """One of a fixed set of files (no path from the URL reaches the disk)."""
    if name in OWN:
        return FileResponse(STATIC / name, media_type=OWN[name], headers={"Cache-Control": CACHE})
    if name == "echarts.min.js":
        path = echarts_path(console.settings.assets_dir)
        if path.is_file():
            return FileResponse(
                path, media_type="text/javascript", headers={"Cache-Control": CACHE}
            )
    raise HTTPException(404, detail="no such asset")
