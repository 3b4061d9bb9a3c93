"""The dashboard in Debian's Chromium, driven by Playwright, against the real local cloud and
an API server of its own (so that a test can stop it and bring it back)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from hostpulse.adapters.postgres.agents import PgAgentRepository
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.core.contract import Batch
from hostpulse.localcloud.api_server import ApiServer
from hostpulse.localcloud.settings import PROJECT_ROOT
from hostpulse.services.agents.tokens import register_agent
from hostpulse.simulation.host import SyntheticHost
from tests.support import CloudUnderTest, dashboard_api, post_batch

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"


@dataclass
class Fleet:
    """Simulated hosts sending through API Gateway, like agents do."""

    cloud: CloudUnderTest
    prefix: str
    hosts: list[SyntheticHost] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)

    def add(self, count: int, cores: int = 4) -> None:
        repository = PgAgentRepository(PgConnector(self.cloud.endpoints["database_url"]))
        for i in range(len(self.hosts), len(self.hosts) + count):
            host = SyntheticHost(f"{self.prefix}-{i:02d}", cores=cores, seed=i)
            self.tokens[host.hostname] = register_agent(repository, host.agent_id)
            self.hosts.append(host)

    def send(self, host: SyntheticHost, batch: Batch) -> None:
        response = post_batch(self.cloud, batch, self.tokens[host.hostname])
        assert response.status_code == 202, response.text

    def backfill(self, seconds: int, every_s: int = 5) -> None:
        """Each host's last ``seconds`` of samples, in batches of a minute."""
        now = int(time.time() * 1000)
        stamps = list(range(now - seconds * 1000, now, every_s * 1000))
        for host in self.hosts:
            for start in range(0, len(stamps), 12):
                self.send(host, host.batch(stamps[start : start + 12]))


@pytest.fixture(scope="session")
def api_server(
    local_cloud: CloudUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    with dashboard_api(local_cloud, tmp_path_factory.mktemp("dashboard-api")) as server:
        yield server


@pytest.fixture(scope="session")
def fleet(local_cloud: CloudUnderTest) -> Fleet:
    simulated = Fleet(local_cloud, f"web{time.time_ns() % 10**6}")
    simulated.add(3)
    simulated.backfill(600)
    return simulated


# Per module, not per session: Playwright's sync API keeps an event loop running on the main
# thread while it is open, and tests elsewhere need asyncio.run().
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: `make test` installs it (apt package chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    # Playwright's polling predicates are evaluated strings, which the dashboard's CSP forbids
    # (no 'unsafe-eval'); test_dashboard_csp.py loads the pages with the CSP enforced.
    context = browser.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / name
    page.screenshot(path=str(target.with_suffix(".tmp.png")), full_page=True)
    shutil.move(target.with_suffix(".tmp.png"), target)


@pytest.fixture
def browser_phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        bypass_csp=True,
    )
    yield context.new_page()
    context.close()


def wait_for_sample(page: Page, chart: str, ts_ms: int, timeout_ms: float) -> None:
    """Until ``chart`` has drawn a point at ``ts_ms`` or later."""
    page.wait_for_function(
        f"Number(document.querySelector('[data-chart={chart}]')?.dataset.lastTs) >= {ts_ms}",
        timeout=timeout_ms,
    )
