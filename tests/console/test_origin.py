"""The console's one cross-site check: a management POST must come from its own pages."""

import pytest
from starlette.requests import Request

from yizhan.console.origin import same_origin


def _request(headers: dict[str, str]) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in {"host": "ops.example", **headers}.items()]
    return Request({"type": "http", "scheme": "https", "headers": raw, "path": "/"})


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({"origin": "https://ops.example"}, True),
        ({"origin": "https://OPS.example"}, True),
        ({"origin": "https://evil.example"}, False),
        ({"origin": "http://ops.example"}, False),
        ({"origin": "null"}, False),
        ({"referer": "https://ops.example/console/manage/stations/new"}, True),
        ({"referer": "https://evil.example/ops.example"}, False),
        ({}, False),
        # Behind the proxy: what the browser saw is in the forwarded headers.
        (
            {
                "host": "console:8104",
                "x-forwarded-host": "ops.example",
                "x-forwarded-proto": "https",
                "origin": "https://ops.example",
            },
            True,
        ),
    ],
)
def test_only_this_consoles_pages_may_post(headers: dict[str, str], allowed: bool) -> None:
    assert same_origin(_request(headers)) is allowed
