"""The same files as a static site on another origin, reading the API on Lambda behind API
Gateway: configured by config.json, and polling on its own because REST API Gateway serves
no WebSockets."""

from __future__ import annotations

import functools
import json
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from hostpulse.localcloud.settings import PROJECT_ROOT
from tests.browser.conftest import Fleet, wait_for_sample
from tests.support import CloudUnderTest

pytestmark = [pytest.mark.localcloud, pytest.mark.browser]
PASSWORD = "correct horse battery staple"


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def static_site(local_cloud: CloudUnderTest, tmp_path: Path) -> Iterator[str]:
    site = tmp_path / "site"
    shutil.copytree(PROJECT_ROOT / "frontend", site)
    (site / "config.json").write_text(json.dumps({"apiBase": local_cloud.endpoints["api_url"]}))
    # The origin the session's local cloud allows (HOSTPULSE_CORS_ORIGINS), and no other.
    server = ThreadingHTTPServer(
        ("127.0.0.1", local_cloud.static_site_port),
        functools.partial(QuietHandler, directory=str(site)),
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield local_cloud.static_site_origin
    server.shutdown()
    server.server_close()  # the next test serves on the same port


def test_a_static_copy_reads_the_lambda_api_and_polls_for_live_data(
    page: Page, static_site: str, fleet: Fleet
) -> None:
    host = fleet.hosts[0]
    page.goto(f"{static_site}/?q={fleet.prefix}")
    expect(page.locator("tbody tr")).to_have_count(len(fleet.hosts), timeout=30000)

    page.click(f"tr[data-row='{host.hostname}']")
    expect(page.locator("#connection")).to_have_attribute("data-state", "polling", timeout=30000)
    page.wait_for_function("Number(document.querySelector('[data-chart=cpu]')?.dataset.points) > 0")
    ts_ms = int(time.time() * 1000)
    fleet.send(host, host.batch([ts_ms]))

    wait_for_sample(page, "cpu", ts_ms, timeout_ms=15000)
    assert page.locator("#banner").is_hidden()


def test_a_link_to_another_api_never_gets_the_configured_token_or_a_password(
    page: Page, local_cloud: CloudUnderTest, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    shutil.copytree(PROJECT_ROOT / "frontend", site)
    (site / "config.json").write_text(
        json.dumps({"apiBase": local_cloud.endpoints["api_url"], "token": "read-token-secret"})
    )
    asked: list[dict[str, str]] = []

    class Recording(QuietHandler):
        def do_GET(self) -> None:
            asked.append({k.lower(): v.lower() for k, v in self.headers.items()})
            # A refusal the page can read, as an API set up to collect passwords would send.
            self.send_response(401)
            self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin", "*"))
            self.send_header("Access-Control-Allow-Credentials", "true")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_OPTIONS = do_GET  # noqa: N815

    attacker = ThreadingHTTPServer(("127.0.0.1", 0), Recording)
    served = ThreadingHTTPServer(
        ("127.0.0.1", local_cloud.static_site_port),
        functools.partial(QuietHandler, directory=str(site)),
    )
    for server in (attacker, served):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page.goto(
            f"http://127.0.0.1:{served.server_port}/?api=http://127.0.0.1:{attacker.server_port}"
        )
        deadline = time.monotonic() + 15
        while not asked and time.monotonic() < deadline:
            time.sleep(0.2)
        # Refused: the banner says so, and no sign-in form offers to send a password there.
        expect(page.locator("#banner")).to_contain_text("read token")
        expect(page.locator("form.sign-in")).to_have_count(0)
        expect(page.locator("#sign-in-link")).to_have_count(0)
    finally:
        for server in (attacker, served):
            server.shutdown()
            server.server_close()

    assert asked, "the page asked the API it was pointed at"
    leaked = [
        h
        for h in asked
        if "authorization" in h or "authorization" in h.get("access-control-request-headers", "")
    ]
    assert leaked == []


def test_a_static_copy_signs_in_across_sites_and_keeps_the_users_settings(
    page: Page, static_site: str, fleet: Fleet, local_cloud: CloudUnderTest
) -> None:
    """Through API Gateway and the api function, from another site than the API's: the
    partitioned cookie is the kind that survives a browser blocking third-party cookies."""
    name = f"sam-{time.time_ns() % 10**8}"
    added = local_cloud.cli(
        "users", "add", name, "--role", "viewer", "--password-stdin", stdin=PASSWORD
    )
    assert added.returncode == 0, added.stderr
    page.goto(f"{static_site}/?q={fleet.prefix}")
    expect(page.locator("tbody tr")).to_have_count(len(fleet.hosts), timeout=30000)

    page.click("#sign-in-link")
    page.fill("#sign-in-user", name)
    page.fill("#sign-in-password", PASSWORD)
    page.click("form.sign-in button[type=submit]")
    expect(page.locator("#who")).to_have_text(name, timeout=30000)
    cookie = next(c for c in page.context.cookies() if c["name"] == "hostpulse_session")
    assert cookie["sameSite"] == "None" and cookie["secure"] and cookie["httpOnly"]

    page.click("#settings-link")
    page.select_option("#setting-range", "24h")
    page.click("form.settings button[type=submit]")
    expect(page.locator("#settings-status")).to_have_text("Saved.", timeout=30000)
    page.goto(f"{static_site}/?host={fleet.hosts[0].hostname}")
    expect(page.locator("#who")).to_have_text(name, timeout=30000)
    opened = page.locator("button[data-range='24h']")
    expect(opened).to_have_attribute("aria-pressed", "true")

    page.click("#sign-out")
    expect(page.locator("#sign-in-notice")).to_have_text("Signed out.", timeout=30000)
    page.goto(f"{static_site}/?q={fleet.prefix}")
    expect(page.locator("#sign-in-link")).to_be_visible(timeout=30000)
    assert all(c["name"] != "hostpulse_session" for c in page.context.cookies())
