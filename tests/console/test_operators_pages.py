"""Operator accounts in the console, in a real browser (Chromium, zh; issue 14): an admin
creates an operator (field errors first), the operator changes their own password on "my
account", the admin changes their role (the operator's very next page has the new scope),
disables them (their session is back at the login page), enables them and resets their
password. Each new page has no axe-core violations; non-admins and other sites are refused.

These pages need only stations (the console's other peers are not started: a lighter stack
than `make run`'s, for pages that show no figures)."""

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.axe import assert_accessible
from tests.support.browser import chromium
from tests.support.operators import create_operator, login
from tests.support.services import RunningService, run_service
from yizhan.devstack.processes import free_port

pytestmark = pytest.mark.e2e

ADMIN_PASSWORD = "console-admin-password"
DISTRICT_PASSWORD = "console-district-password"
DISTRICT = "南川区"
FIRST = "lantern-river-copper-7"
SECOND = "quiet-harbour-basalt-42"
RESET = "amber-kettle-orchard-5"


@dataclass
class Stack:
    """Stations and the console, with an admin and a district operator."""

    stations: RunningService
    console: RunningService

    def url(self, service: str) -> str:
        """Base URL of `stations` or `console`."""
        running: RunningService = getattr(self, service)
        return running.base_url


@pytest.fixture(scope="module")
def stack(new_database: Callable[[str], str], workdir: Path) -> Iterator[Stack]:
    """Stations (own database) and the console talking to it over gRPC."""
    database = new_database("console_operators")
    with run_service("stations", database, workdir) as stations:
        create_operator(database, "admin", ADMIN_PASSWORD, "admin")
        create_operator(database, "nanchuan", DISTRICT_PASSWORD, "district", DISTRICT)
        peers = {
            "YZ_STATIONS_GRPC": stations.grpc_address,
            # Not started: these pages never ask them.
            "YZ_TELEMETRY_GRPC": f"127.0.0.1:{free_port()}",
            "YZ_BOOKINGS_GRPC": f"127.0.0.1:{free_port()}",
        }
        with run_service("console", "", workdir, peers) as console:
            yield Stack(stations, console)


def _bearer(stack: Stack, username: str, password: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {login(stack.stations, username, password)}"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for this module's pages."""
    with chromium() as launched:
        yield launched


def _sign_in(browser: Browser, stack: Stack, username: str, password: str) -> Page:
    page = browser.new_context().new_page()  # a context each: separate cookies
    page.goto(f"{stack.url('console')}/console/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("form.login button[type=submit]")
    page.wait_for_url("**/console/")
    return page


def test_admin_manages_an_operator_who_changes_their_password(
    browser: Browser, stack: Stack
) -> None:
    username = f"ops-{uuid.uuid4().hex[:6]}"
    admin = _sign_in(browser, stack, "admin", ADMIN_PASSWORD)
    admin.goto(f"{stack.url('console')}/console/operators")
    expect(admin.locator("nav a[href='/console/operators']")).to_have_attribute(
        "aria-current", "page"
    )
    expect(admin.locator("#operators tr[data-operator=admin]")).to_contain_text("管理员")
    assert_accessible(admin)

    admin.click("text=新建操作员")
    admin.wait_for_url("**/console/operators/new")
    assert_accessible(admin)
    # Bad input: each field says what is wrong; the name and role are kept.
    admin.fill("#username", username)
    admin.fill("#password", "password1")
    admin.select_option("#role", "district")
    admin.click("form.manage button[type=submit]")
    expect(admin.locator("#password-error")).to_contain_text("太容易被猜到")
    expect(admin.locator("#districts-error")).to_have_text("区级操作员至少需要一个辖区")
    expect(admin.locator("#username")).to_have_value(username)
    assert_accessible(admin)
    admin.fill("#password", FIRST)
    admin.fill("#districts", DISTRICT)
    admin.click("form.manage button[type=submit]")
    admin.wait_for_url("**done=created")
    row = admin.locator(f"#operators tr[data-operator={username}]")
    expect(row).to_contain_text("区级操作员")
    expect(row).to_contain_text(DISTRICT)

    # The operator changes their own password; the session goes on.
    operator = _sign_in(browser, stack, username, FIRST)
    operator.goto(f"{stack.url('console')}/console/account")
    expect(operator.locator("nav")).to_contain_text("新建驿站")
    expect(operator.locator("nav")).not_to_contain_text("操作员")
    operator.click("nav >> text=我的账户")
    operator.wait_for_url("**/console/account")
    expect(operator.locator("#my-role")).to_have_text("区级操作员")
    assert_accessible(operator)
    operator.fill("#current_password", "not-my-password")
    operator.fill("#password", SECOND)
    operator.fill("#password_again", SECOND)
    operator.click("form.manage button[type=submit]")
    expect(operator.locator("#current_password-error")).to_have_text("当前密码不正确")
    operator.fill("#current_password", FIRST)
    operator.fill("#password", SECOND)
    operator.fill("#password_again", SECOND)
    operator.click("form.manage button[type=submit]")
    operator.wait_for_url("**/console/account*done=password")
    expect(operator.locator(".notice")).to_have_text("密码已修改")

    # The admin makes them a viewer: their very next page can no longer create stations.
    admin.click(f"#operators >> text={username}")
    admin.wait_for_url(f"**/console/operators/{username}")
    assert_accessible(admin)
    admin.select_option("#role", "viewer")
    admin.click("#role-form button[type=submit]")
    admin.wait_for_url("**done=role")
    operator.goto(f"{stack.url('console')}/console/account")
    expect(operator.locator("#my-role")).to_have_text("只读查看")
    expect(operator.locator("nav")).not_to_contain_text("新建驿站")

    # Disabled: the operator's next page is the login page.
    admin.click("#disable-form button[type=submit]")
    admin.wait_for_url("**done=disabled")
    expect(admin.locator("#state")).to_contain_text("已停用")
    operator.goto(f"{stack.url('console')}/console/account")
    operator.wait_for_url("**/console/login")

    # Enabled again with a password the admin set: signs in with it (not the old one).
    admin.click("#disable-form button[type=submit]")
    admin.wait_for_url("**done=enabled")
    admin.fill("#password", RESET)
    admin.click("#password-form button[type=submit]")
    admin.wait_for_url("**done=password")
    login = httpx.post(
        f"{stack.url('stations')}/api/v1/auth/token",
        data={"username": username, "password": SECOND},
    )
    assert login.status_code == 401
    _sign_in(browser, stack, username, RESET).context.close()
    operator.context.close()
    admin.context.close()


def test_operators_pages_are_for_admins_and_this_site(stack: Stack) -> None:
    admin = _bearer(stack, "admin", ADMIN_PASSWORD)
    district_operator = _bearer(stack, "nanchuan", DISTRICT_PASSWORD)
    console = stack.url("console")
    with httpx.Client(base_url=console) as anonymous:
        assert anonymous.get("/console/operators").headers["location"] == "/console/login"
        assert anonymous.get("/console/account").headers["location"] == "/console/login"
    district_token = district_operator["Authorization"].removeprefix("Bearer ")
    with httpx.Client(base_url=console, cookies={"yz_console": district_token}) as district:
        assert district.get("/console/operators").status_code == 403
        assert district.get("/console/operators/admin").status_code == 403
        assert district.get("/console/account").status_code == 200
    admin_token = admin["Authorization"].removeprefix("Bearer ")
    with httpx.Client(base_url=console, cookies={"yz_console": admin_token}) as browser_of_admin:
        # Another site's form cannot make an admin's browser create an operator.
        forged = browser_of_admin.post(
            "/console/operators",
            data={"username": "forged", "password": FIRST, "role": "admin"},
            headers={"Origin": "https://evil.example"},
        )
        assert forged.status_code == 403
    missing = httpx.get(f"{stack.url('stations')}/api/v1/operators/forged", headers=admin)
    assert missing.status_code == 404
