"""The fleet page and the alert history with 1,000 hosts.

1,000 simulated hosts each send a batch through API Gateway on the local cloud (the real path:
hot tier, raw tier, hosts, batches, the alert queue), and an alert rule that every host breaks
fires for each of them, so 1,000 alerts are active and the alert history holds their events.
Measured at the API under uvicorn, 40 requests each, against the health round trip in the same
run: what the fleet page asks on every refresh (the host list and the active alerts, sent at
once as `frontend/js/fleet.js` sends them), the host list alone, the alert history of the whole
fleet for the last hour (the API's default limit, 500 events), and one host's alert markers as
the host page asks them.

Then the fleet page itself in Chromium, with every host listed and 1,000 alerts firing, while
batches from random hosts arrive at the fleet's rate (a batch every 10 s per host) and reach
the page over its live socket: the main thread's time per table update (the page's own
measure of its script's wall time, and from Chrome's trace the script's CPU time, without the
waits for a core the sending fleet holds), against the same page filtered to a tenth of the
fleet in the same run; then sorting by each column and filtering as one types.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from playwright.sync_api import Page, sync_playwright

from bench.common import RESULTS, local_cloud, sized, summary, timed_ms, write_result
from bench.dashboard import CHROMIUM, TRACE_CATEGORIES, cpu_per_update
from hostpulse.services.agents.tokens import register_agent
from hostpulse.simulation.host import SyntheticHost
from hostpulse.wiring import by_url
from tests.support import CloudUnderTest, eventually, post_batch

HOSTS = sized(1000, 3)
REPEATS = sized(40, 2)
SENDERS = 8  # requests in flight, as a reserved concurrency would hold the ingest function
RULE = {"name": "FleetWide", "metric": "cpu.percent", "op": ">=", "threshold": 0, "for": "5s"}


LIVE_SECONDS = sized(30, 3)
FLEET_RATE_PER_S = HOSTS / 10  # batches a second from the whole fleet
SORTED_BY = ("cpu", "mem", "disk", "seen", "status", "host")


class Fleet:
    """The simulated hosts, each with its token, sending through the real ingest path."""

    def __init__(self, cloud: CloudUnderTest) -> None:
        self.cloud = cloud
        repository = by_url.agent_repository(cloud.endpoints["database_url"])
        self.hosts = [SyntheticHost(f"fleet-{i:04d}", cores=2, seed=i) for i in range(HOSTS)]
        self.tokens = {h.hostname: register_agent(repository, h.agent_id) for h in self.hosts}

    def send(self, host: SyntheticHost, stamps: list[int]) -> None:
        batch = host.batch(stamps)
        for _ in range(10):  # 429 and 503 are answered again, as the agent does
            response = post_batch(self.cloud, batch, self.tokens[host.hostname])
            if response.status_code == 202:
                return
            time.sleep(1)
        raise RuntimeError(f"{host.hostname}: {response.status_code} {response.text}")

    def send_all(self) -> list[str]:
        """One batch of three samples over 19 s from every host; the names of the hosts."""
        now = int(time.time() * 1000)
        with ThreadPoolExecutor(max_workers=SENDERS) as pool:
            list(pool.map(lambda h: self.send(h, [now - 20_000, now - 10_000, now - 1_000]),
                          self.hosts))  # fmt: skip
        return [h.hostname for h in self.hosts]

    def keep_sending(self, stop: threading.Event) -> None:
        """Batches from random hosts at the fleet's rate until ``stop``."""
        chooser = random.Random(7)
        with ThreadPoolExecutor(max_workers=SENDERS) as pool:
            due = time.monotonic()
            while not stop.is_set():
                host = chooser.choice(self.hosts)
                pool.submit(self.send, host, [int(time.time() * 1000)])
                due += 1 / FLEET_RATE_PER_S
                stop.wait(max(0.0, due - time.monotonic()))


def live_updates(page: Page, fleet: Fleet, seconds: float) -> dict[str, dict[str, float]]:
    stop = threading.Event()
    sender = threading.Thread(target=fleet.keep_sending, args=(stop,))
    page.evaluate("performance.clearMeasures()")
    context = page.context
    assert context.browser is not None
    context.browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
    sender.start()
    try:
        time.sleep(seconds)
    finally:
        stop.set()
        sender.join()
    trace = context.browser.stop_tracing()
    script = page.evaluate(
        "performance.getEntriesByName('hostpulse:fleet-update').map(e => e.duration)"
    )
    cpu = cpu_per_update(trace, "hostpulse:fleet-update")
    return {  # a smoke run's few hosts may bring no update at all
        "script_ms": summary(script) if script else {},
        # The update's own CPU time: wall time also counts waits for a core the pipeline holds.
        "script_cpu_ms": summary(cpu) if cpu else {},
    }


def browser_fleet_page(api: str, fleet: Fleet) -> dict[str, Any]:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=flags)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        try:
            page.goto(f"{api}/")
            page.wait_for_selector("#connection[data-state=live]")
            page.wait_for_selector(f"tr[data-row='{fleet.hosts[0].hostname}']")
            shown = page.locator("tbody tr:not(.spacer)").count()
            whole = live_updates(page, fleet, LIVE_SECONDS)
            page.fill("#filter", "fleet-00")  # a tenth of the fleet: fleet-0000 to fleet-0099
            tenth = live_updates(page, fleet, LIVE_SECONDS)
            page.fill("#filter", "")
            page.evaluate("performance.clearMeasures()")
            for key in SORTED_BY:
                for _ in range(2):  # each column, both ways
                    page.click(f"th[data-key={key}]")
            sorting = page.evaluate(
                "performance.getEntriesByName('hostpulse:table-sort').map(e => e.duration)"
            )
            page.evaluate("performance.clearMeasures()")
            page.type("#filter", "fleet-09", delay=50)
            filtering = page.evaluate(
                "performance.getEntriesByName('hostpulse:fleet-update').map(e => e.duration)"
            )
            page.screenshot(path=str(RESULTS / "fleet_page_1000.png"))
        finally:
            browser.close()
    return {
        "rows_in_document": shown,
        "live_update_whole_fleet": whole,
        "live_update_tenth_of_the_fleet": tenth,
        "sort_ms": summary(sorting) if sorting else {},
        "filter_keystroke_ms": summary(filtering) if filtering else {},
    }


def main() -> None:
    # Ingest as processes: the fleet's rate is past what the Lambda runtime here takes.
    with local_cloud("fleet-pages", {"HOSTPULSE_RUNTIME": "processes"}) as cloud:
        api = cloud.endpoints["local_api_url"]
        admin = {"Authorization": f"Bearer {cloud.cli('admin-token').stdout.strip()}"}
        session = requests.Session()
        session.put(
            f"{api}/api/v1/alert-rules/{RULE['name']}", json=RULE, headers=admin, timeout=30
        ).raise_for_status()
        started = time.monotonic()
        fleet = Fleet(cloud)
        names = fleet.send_all()
        sent_s = time.monotonic() - started

        def fetch(path: str, **params: Any) -> Any:
            answer = session.get(f"{api}{path}", params=params, timeout=60)
            answer.raise_for_status()
            return answer.json()

        def firing() -> int:
            return sum(a["state"] == "firing" for a in fetch("/api/v1/alerts")["alerts"])

        started = time.monotonic()
        eventually(lambda: len(fetch("/api/v1/hosts")["hosts"]) >= HOSTS, 600, interval=2)
        stored_s = time.monotonic() - started
        started = time.monotonic()
        eventually(lambda: firing() >= HOSTS, 600, interval=2)
        firing_s = time.monotonic() - started
        history = fetch("/api/v1/alerts/history", **{"from": "-1h"})["events"]

        sessions = [requests.Session(), requests.Session()]
        with ThreadPoolExecutor(max_workers=2) as pool:

            def refresh(_: int) -> None:
                asked = [f"{api}/api/v1/hosts", f"{api}/api/v1/alerts"]
                for future in [
                    pool.submit(s.get, url, timeout=60)
                    for s, url in zip(sessions, asked, strict=True)
                ]:
                    future.result().raise_for_status()

            fleet_refresh = timed_ms(REPEATS, refresh)

        def markers(i: int) -> None:
            now_ms = int(time.time() * 1000)
            host = random.Random(i).choice(names)
            fetch("/api/v1/alerts/history", host=host, limit=500,
                  **{"from": str(now_ms - 86_400_000), "to": str(now_ms + 1)})  # fmt: skip

        figures = {
            "hosts": HOSTS,
            "sent_s": round(sent_s, 1),
            "all_listed_after_s": round(stored_s, 1),
            "all_firing_after_s": round(firing_s, 1),
            "history_events_in_answer": len(history),
            "health_round_trip_ms": timed_ms(REPEATS, lambda _: fetch("/api/v1/health")),
            "fleet_refresh_ms": fleet_refresh,
            "host_list_ms": timed_ms(REPEATS, lambda _: fetch("/api/v1/hosts")),
            "active_alerts_ms": timed_ms(REPEATS, lambda _: fetch("/api/v1/alerts")),
            "fleet_alert_history_1h_ms": timed_ms(
                REPEATS, lambda _: fetch("/api/v1/alerts/history", **{"from": "-1h"})
            ),
            "host_alert_markers_24h_ms": timed_ms(REPEATS, markers),
            "fleet_page_in_the_browser": browser_fleet_page(api, fleet),
        }
        write_result("fleet_pages", figures)


if __name__ == "__main__":
    main()
