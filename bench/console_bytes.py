"""Bytes of a first console load: what a browser with an empty cache downloads to show the
overview after signing in (HTML, style, script, the ECharts library), and what a second
visit downloads again.

    uv run python bench/console_bytes.py           # starts `yz-dev run` (demo, no kiosks)
    uv run python bench/console_bytes.py --console http://127.0.0.1:8104 --password ...

Figures come from Chromium (Playwright's per-request sizes: the body as it crossed the
network, so compressed when it was compressed). Baseline in the same run: the same responses'
decoded bodies, which is what the console sent when it served everything uncompressed (the
1.23 MB of issue 14). The last line printed is one JSON object.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import Page, Response

from tests.support.browser import chromium
from yizhan.devstack.processes import free_port

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-console-password"
READY_SECONDS = 240


def _start_stack(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    ports = {name: free_port() for name in ("stations", "telemetry", "bookings", "console")}
    env = dict(os.environ)
    env.update(
        {
            "YZ_DATA_DIR": str(data_dir),
            "YZ_ADMIN_PASSWORD": PASSWORD,
            "YZ_PG_PORT": str(free_port()),
            "YZ_MQTT_PORT": str(free_port()),
            "YZ_MQTT_TLS_PORT": str(free_port()),
            "YZ_TELEMETRY_INGEST_HTTP_PORT": str(free_port()),
            "YZ_SIMULATOR": "off",
            "YZ_DEMO_HISTORY_WEEKS": "1",
        }
    )
    for name, port in ports.items():
        env[f"YZ_{name.upper()}_HTTP_PORT"] = str(port)
        if name != "console":
            env[f"YZ_{name.upper()}_GRPC_PORT"] = str(free_port())
    output = data_dir / "run.txt"
    with output.open("wb") as out:
        process = subprocess.Popen(
            ["yz-dev", "run"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + READY_SECONDS
    while b"Yizhan is running" not in output.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            process.send_signal(signal.SIGINT)
            raise SystemExit(f"make run did not come up:\n{output.read_text()}")
        time.sleep(0.5)
    return process, f"http://127.0.0.1:{ports['console']}"


def _load(page: Page, url: str) -> list[dict[str, Any]]:
    """Open a page; every response with its bytes on the wire and decoded."""
    seen: list[Response] = []

    def keep(response: Response) -> None:
        seen.append(response)

    page.on("response", keep)
    page.goto(url, wait_until="load")
    page.wait_for_timeout(1000)
    page.remove_listener("response", keep)
    loaded = []
    for response in seen:
        if response.url.endswith("/console/live") or "/console/live?" in response.url:
            continue  # the live stream never ends; it is not part of the load
        sizes = response.request.sizes()
        body = response.body() if response.status == 200 else b""
        loaded.append(
            {
                "url": response.url.split("/console/", 1)[-1],
                "wire": sizes["responseBodySize"] + sizes["responseHeadersSize"],
                "decoded": len(body) + sizes["responseHeadersSize"],
                "encoding": response.headers.get("content-encoding", ""),
                "cache": response.headers.get("cache-control", ""),
            }
        )
    return loaded


def measure(console: str, password: str) -> dict[str, Any]:
    """First and second load of the overview, signed in as admin."""
    with chromium() as browser:
        page = browser.new_page()
        page.goto(f"{console}/console/login")
        page.fill("#username", "admin")
        page.fill("#password", password)
        page.click("form.login button[type=submit]")
        page.wait_for_url("**/console/")
        # A fresh context has an empty cache: the first load is measured there.
        context = browser.new_context(storage_state=page.context.storage_state())
        fresh = context.new_page()
        first = _load(fresh, f"{console}/console/")
        again = _load(fresh, f"{console}/console/")
        context.close()
    return {
        "first_load_bytes": sum(r["wire"] for r in first),
        "baseline_uncompressed_bytes": sum(r["decoded"] for r in first),
        "echarts_bytes": sum(r["wire"] for r in first if "echarts" in r["url"]),
        "echarts_uncompressed_bytes": sum(r["decoded"] for r in first if "echarts" in r["url"]),
        "second_load_bytes": sum(r["wire"] for r in again),
        "second_load_requests": len(again),
        "responses": first,
    }


def main() -> None:
    """Measure against a running console, or start one."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--console", help="a running console's base URL")
    parser.add_argument("--password", default=PASSWORD, help="the admin's password there")
    args = parser.parse_args()
    if args.console:
        figures = measure(args.console, args.password)
    else:
        with tempfile.TemporaryDirectory(prefix="yz-bench-console-") as data_dir:
            process, console = _start_stack(Path(data_dir))
            try:
                figures = measure(console, PASSWORD)
            finally:
                process.send_signal(signal.SIGINT)
                process.wait(120)
    for row in figures.pop("responses"):
        print(f"{row['url'][:60]:60} {row['wire']:>9} {row['decoded']:>9} {row['encoding']}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
