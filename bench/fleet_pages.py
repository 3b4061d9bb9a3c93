"""The fleet page and the alert history with 1,000 hosts.

1,000 simulated hosts each send a batch through API Gateway on the local cloud (the real path:
hot tier, raw tier, hosts, batches, the alert queue), and an alert rule that every host breaks
fires for each of them, so 1,000 alerts are active and the alert history holds their events.
Measured at the API under uvicorn, 40 requests each, against the health round trip in the same
run: what the fleet page asks on every refresh (the host list and the active alerts, sent at
once as `frontend/js/fleet.js` sends them), the host list alone, the alert history of the whole
fleet for the last hour (the API's default limit, 500 events), and one host's alert markers as
the host page asks them.
"""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from bench.common import local_cloud, sized, timed_ms, write_result
from hostpulse.services.agents.tokens import register_agent
from hostpulse.simulation.host import SyntheticHost
from hostpulse.wiring import by_url
from tests.support import CloudUnderTest, eventually, post_batch

HOSTS = sized(1000, 3)
REPEATS = sized(40, 2)
SENDERS = 8  # requests in flight, as a reserved concurrency would hold the ingest function
RULE = {"name": "FleetWide", "metric": "cpu.percent", "op": ">=", "threshold": 0, "for": "5s"}


def send_fleet(cloud: CloudUnderTest) -> list[str]:
    """One batch of three samples over 19 s from every host; the names of the hosts."""
    repository = by_url.agent_repository(cloud.endpoints["database_url"])
    hosts = [SyntheticHost(f"fleet-{i:04d}", cores=2, seed=i) for i in range(HOSTS)]
    tokens = {h.hostname: register_agent(repository, h.agent_id) for h in hosts}
    now = int(time.time() * 1000)

    def send(host: SyntheticHost) -> None:
        batch = host.batch([now - 20_000, now - 10_000, now - 1_000])
        for _ in range(10):  # 429 and 503 are answered again, as the agent does
            response = post_batch(cloud, batch, tokens[host.hostname])
            if response.status_code == 202:
                return
            time.sleep(1)
        raise RuntimeError(f"{host.hostname}: {response.status_code} {response.text}")

    with ThreadPoolExecutor(max_workers=SENDERS) as pool:
        list(pool.map(send, hosts))
    return [h.hostname for h in hosts]


def main() -> None:
    with local_cloud("fleet-pages") as cloud:
        api = cloud.endpoints["local_api_url"]
        admin = {"Authorization": f"Bearer {cloud.cli('admin-token').stdout.strip()}"}
        session = requests.Session()
        session.put(
            f"{api}/api/v1/alert-rules/{RULE['name']}", json=RULE, headers=admin, timeout=30
        ).raise_for_status()
        started = time.monotonic()
        names = send_fleet(cloud)
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
        }
        write_result("fleet_pages", figures)


if __name__ == "__main__":
    main()
