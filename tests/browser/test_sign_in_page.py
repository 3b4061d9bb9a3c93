"""Signing in to a dashboard whose API wants a read token: the sign-in page, sign-out, an
ended session, and a user's dashboard settings following them to another browser. All under
the dashboard's Content-Security-Policy, enforced."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.services.accounts.service import Role
from hostpulse.wiring import by_url
from tests.browser.conftest import Fleet, screenshot
from tests.support import CloudUnderTest, dashboard_api

pytestmark = [pytest.mark.localcloud, pytest.mark.browser]
PASSWORD = "correct horse battery staple"


@dataclass
class SignedApi:
    url: str
    database_url: str

    def add_user(self, role: Role = Role.VIEWER) -> str:
        name = f"{role}-{time.time_ns() % 10**9}"
        by_url.account_admin(self.database_url).add_user(name, PASSWORD, role)
        return name

    def expire_sessions_of(self, name: str) -> None:
        with PgConnector(self.database_url).transaction() as cur:
            cur.execute(
                "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE user_name = %s",
                (name,),
            )


@pytest.fixture(scope="module")
def signed_api(
    local_cloud: CloudUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SignedApi]:
    """An API that reads nothing without its read token or a sign-in."""
    read_token = {"HOSTPULSE_READ_TOKEN": secrets.token_urlsafe(24)}
    state = tmp_path_factory.mktemp("signed-api")
    with dashboard_api(local_cloud, state, read_token) as server:
        yield SignedApi(server.url, local_cloud.endpoints["database_url"])


@dataclass
class StrictPages:
    """Browser contexts (each its own cookie jar) that enforce the CSP and collect what it
    refused and every JavaScript error."""

    browser: Browser
    refused: list[str]

    def open(self) -> Page:
        # An address of its own (the API trusts a proxy on this machine): failed sign-ins
        # elsewhere in the test run do not count against it.
        address = f"198.51.100.{secrets.randbelow(254) + 1}"
        context = self.browser.new_context(
            viewport={"width": 1400, "height": 900},
            extra_http_headers={"X-Forwarded-For": address},
        )
        page = context.new_page()

        def on_console(message: ConsoleMessage) -> None:
            if "Content Security Policy" in message.text:
                self.refused.append(message.text)

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.refused.append(str(error)))
        return page


@pytest.fixture
def pages(browser: Browser) -> Iterator[StrictPages]:
    opened = StrictPages(browser, [])
    yield opened
    for context in browser.contexts:
        context.close()
    assert opened.refused == [], f"refused by the CSP, or errors: {opened.refused}"


def sign_in(page: Page, name: str, password: str = PASSWORD) -> None:
    page.fill("#sign-in-user", name)
    page.fill("#sign-in-password", password)
    page.click("form.sign-in button[type=submit]")


def signed_in_on_the_fleet_page(
    pages: StrictPages, signed_api: SignedApi, fleet: Fleet
) -> tuple[Page, str]:
    name = signed_api.add_user()
    page = pages.open()
    page.goto(f"{signed_api.url}/?q={fleet.prefix}")
    sign_in(page, name)
    expect(page.locator("tbody tr")).to_have_count(len(fleet.hosts))
    return page, name


def test_the_page_asked_for_opens_after_signing_in(
    pages: StrictPages, signed_api: SignedApi, fleet: Fleet
) -> None:
    name = signed_api.add_user()
    host = fleet.hosts[0].hostname
    page = pages.open()
    page.goto(f"{signed_api.url}/?host={host}")

    expect(page.locator("form.sign-in")).to_be_visible()
    expect(page.locator("#banner")).to_be_hidden()
    screenshot(page, "sign-in.png")
    sign_in(page, name, "not the password")
    expect(page.locator("#sign-in-error")).to_have_text("Wrong user name or password.")
    expect(page.locator("#sign-in-password")).to_have_value("")

    sign_in(page, name)

    expect(page.locator("[data-chart=cpu]")).to_be_visible()
    expect(page.locator("#processes tbody tr").first).to_be_visible()
    expect(page.locator("#who")).to_have_text(name)
    assert f"host={host}" in page.url, "the address was kept through the sign-in"
    cookie = next(c for c in page.context.cookies() if c["name"] == "hostpulse_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == "", "no script can read the session"


def test_signing_out_ends_the_session_for_every_page(
    pages: StrictPages, signed_api: SignedApi, fleet: Fleet
) -> None:
    page, _ = signed_in_on_the_fleet_page(pages, signed_api, fleet)
    kept = next(c for c in page.context.cookies() if c["name"] == "hostpulse_session")

    page.click("#sign-out")

    expect(page.locator("#sign-in-notice")).to_have_text("Signed out.")
    expect(page.locator("#sign-in-link")).to_be_visible()
    # The old cookie, as a copy someone kept would be.
    page.context.add_cookies(
        [{"name": kept["name"], "value": kept["value"], "url": signed_api.url}]
    )
    page.goto(f"{signed_api.url}/?q={fleet.prefix}")
    expect(page.locator("form.sign-in")).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(0)


def test_a_page_left_open_asks_for_a_sign_in_when_the_session_expires(
    pages: StrictPages, signed_api: SignedApi, fleet: Fleet
) -> None:
    page, name = signed_in_on_the_fleet_page(pages, signed_api, fleet)

    signed_api.expire_sessions_of(name)

    # The fleet page refreshes every 5 s: its next read is refused.
    notice = page.locator("#sign-in-notice")
    expect(notice).to_have_text("Your sign-in has ended: sign in again.", timeout=15000)
    expect(page.locator("#who")).to_have_count(0)
    sign_in(page, name)
    expect(page.locator("tbody tr")).to_have_count(len(fleet.hosts))


def test_settings_follow_the_user_to_another_browser(
    pages: StrictPages, signed_api: SignedApi, fleet: Fleet
) -> None:
    name = signed_api.add_user()
    hidden = fleet.hosts[0].hostname
    page = pages.open()
    page.goto(f"{signed_api.url}/?page=settings")
    sign_in(page, name)
    expect(page.locator("#setting-range")).to_have_value("live")

    page.select_option("#setting-range", "1h")
    page.uncheck("#setting-charts li[data-chart=cores] input")
    page.click("#setting-charts li[data-chart=memory] button[aria-label='Move Memory and swap up']")
    page.click("#setting-charts li[data-chart=memory] button[aria-label='Move Memory and swap up']")
    page.check(f"#setting-hidden input[value='{hidden}']")
    screenshot(page, "settings.png")
    page.click("form.settings button[type=submit]")
    expect(page.locator("#settings-status")).to_have_text("Saved.")

    elsewhere = pages.open()
    elsewhere.goto(f"{signed_api.url}/?q={fleet.prefix}")
    sign_in(elsewhere, name)
    rows = elsewhere.locator("tbody tr")
    expect(rows).to_have_count(len(fleet.hosts) - 1)
    expect(elsewhere.locator(f"tr[data-row='{hidden}']")).to_have_count(0)
    elsewhere.click("#show-hidden")
    expect(rows).to_have_count(len(fleet.hosts))

    elsewhere.goto(f"{signed_api.url}/?host={fleet.hosts[1].hostname}")
    expect(elsewhere.locator("button[data-range='1h']")).to_have_attribute("aria-pressed", "true")
    charts = elsewhere.locator("[data-chart]")
    expect(charts).to_have_count(5)
    order = [charts.nth(i).get_attribute("data-chart") for i in range(5)]
    assert order == ["memory", "cpu", "load", "diskio", "net"]


def test_a_page_that_could_not_ask_who_is_signed_in_asks_again_once_the_api_answers(
    pages: StrictPages, signed_api: SignedApi, fleet: Fleet
) -> None:
    page, name = signed_in_on_the_fleet_page(pages, signed_api, fleet)
    page.route("**/api/v1/session", lambda route: route.abort())

    page.reload()
    expect(page.locator("tbody tr")).to_have_count(len(fleet.hosts))  # the cookie still reads
    expect(page.locator("#who")).to_have_count(0)
    page.unroute("**/api/v1/session")

    expect(page.locator("#who")).to_have_text(name, timeout=20000)
