"""Cross-site request forgery on the console (issue 9, hole 6): another site cannot make a
signed-in operator's browser acknowledge alarms, nor sign anyone in or out."""

import httpx

from tests.security.conftest import PASSWORD, Network

EVIL = {"Origin": "https://evil.example"}


def test_console_forms_refuse_cross_site_posts(network: Network) -> None:
    base = network.console.base_url
    own = {"Origin": base}
    cookie = {"yz_console": network.tokens["admin"]}
    with httpx.Client(base_url=base, cookies=cookie, follow_redirects=False) as browser:
        forms = {
            "/console/alarms/1/ack": {"note": "x", "next": "/console/alarms"},
            "/console/logout": {},
            "/console/login": {"username": "admin", "password": PASSWORD},
        }
        for path, form in forms.items():
            assert browser.post(path, data=form, headers=EVIL).status_code == 403, path
        # The console itself posts them.
        assert (
            browser.post("/console/login", data=forms["/console/login"], headers=own).status_code
            == 303
        )
        assert browser.post("/console/logout", headers=own).status_code == 303
    # The JSON APIs are covered alike (a browser would send the operator's cookie nowhere
    # there, but nothing state-changing is taken from another site).
    with network.client(network.bookings, None) as client:
        reply = client.post("/api/v1/otp", json={"phone": "13700009999"}, headers=EVIL)
    assert reply.status_code == 403
