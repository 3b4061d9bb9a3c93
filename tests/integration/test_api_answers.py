"""Every answer of the query and alerts API, with real data behind it, is what the OpenAPI
description declares: fuzzing mostly meets refusals, this meets the answers users read."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from hostpulse.simulation.host import SyntheticHost
from tests.integration.test_alerts_api import admin_token
from tests.openapi import SCHEMA
from tests.support import CloudUnderTest, eventually, post_batch

pytestmark = pytest.mark.localcloud


class Checked:
    """Calls the API and checks each answer against the declared schema of its route."""

    def __init__(self, base: str, admin: str) -> None:
        self.base = base
        self.admin = admin
        self.seen: set[tuple[str, str, int]] = set()

    def call(
        self, method: str, route: str, *, admin: bool = False, **kwargs: Any
    ) -> requests.Response:
        path = route.format(**kwargs.pop("path", {}))
        headers = {"Authorization": f"Bearer {self.admin}"} if admin else {}
        response = requests.request(
            method, f"{self.base}{path}", headers=headers, timeout=30, **kwargs
        )
        SCHEMA[route][method].validate_response(response)
        self.seen.add((method, route, response.status_code))
        return response


@pytest.mark.slow
def test_every_answer_matches_its_declared_schema(
    local_cloud: CloudUnderTest, new_agent: Any
) -> None:
    host, token = new_agent("answers")
    simulated = SyntheticHost(host)
    now = int(time.time() * 1000)
    batch = simulated.batch([now - 20_000, now - 10_000, now - 1_000])
    assert post_batch(local_cloud, batch, token).status_code == 202
    api = Checked(local_cloud.endpoints["local_api_url"], admin_token(local_cloud))
    firing = f"Answers{time.time_ns() % 10**8}"
    pending = f"{firing}Slow"
    selector = {"names": [host]}
    for name, hold in ((firing, "5s"), (pending, "1h")):
        rule = {"name": name, "metric": "cpu.percent", "op": ">=", "threshold": 0, "for": hold}
        created = api.call(
            "PUT",
            "/api/v1/alert-rules/{name}",
            admin=True,
            path={"name": name},
            json={**rule, "hosts": selector},
        )
        assert created.status_code == 201
    replaced = api.call(
        "PUT",
        "/api/v1/alert-rules/{name}",
        admin=True,
        path={"name": pending},
        json={
            "name": pending,
            "metric": "cpu.percent",
            "threshold": -1,
            "for": "1h",
            "hosts": selector,
        },
    )
    assert replaced.status_code == 200 and replaced.json()["rule"]["for"] == 3600

    sent = [batch]

    def alerted_on_the_next_batch() -> list[dict[str, Any]] | None:
        # As an agent does: a batch every few seconds. A warm alerts function sees new rules
        # once its rule cache (15 s) expires, so the first batches may meet the old rules.
        sent.append(simulated.batch([int(time.time() * 1000)]))
        assert post_batch(local_cloud, sent[-1], token).status_code == 202
        time.sleep(2)
        return active_of(api, host, {firing, pending})

    alerts = eventually(alerted_on_the_next_batch, 120, interval=0)
    mine = eventually(lambda: stored_entry(api, host, batches=len(sent)), 60)
    latest = api.call("GET", "/api/v1/hosts/{host}/latest", path={"host": host}).json()
    pid = latest["sample"]["processes"][0]["pid"]
    process = api.call(
        "GET",
        "/api/v1/hosts/{host}/processes/{pid}",
        path={"host": host, "pid": pid},
        params={"from": "-1h"},
    ).json()
    recent = api.call(
        "GET", "/api/v1/hosts/{host}/recent", path={"host": host}, params={"seconds": 3600}
    ).json()
    series = {
        tier: api.call(
            "GET",
            "/api/v1/series",
            params={
                "host": host,
                "metric": ["cpu.percent", "cpu.core:*", "never.sent"],
                "from": "-1h",
                "tier": tier,
            },
        ).json()
        for tier in ("raw", "1m", "1h")
    }
    history = api.call(
        "GET", "/api/v1/alerts/history", params={"host": host, "from": "-1h"}
    ).json()["events"]
    rules = api.call("GET", "/api/v1/alert-rules").json()["rules"]
    seed_alerts = api.call("GET", "/api/alerts/recent").json()
    seed_recent = api.call("GET", "/api/metrics/recent", params={"host": host}).json()
    api.call("GET", "/api/v1/health")
    seed_health = api.call("GET", "/health").json()
    api.call("GET", "/api/v1/live")
    # Prometheus' API: each answer against its declared envelope, errors included.
    prom = "/prometheus/api/v1"
    cpu = f'hostpulse_cpu_percent{{host="{host}"}}'
    span = {"start": str(now / 1000 - 60), "end": str(now / 1000)}
    vector = api.call("POST", f"{prom}/query", data={"query": f"sum({cpu})"}).json()
    matrix = api.call("POST", f"{prom}/query_range", data={"query": cpu, **span, "step": "5"})
    api.call("GET", f"{prom}/series", params={"match[]": cpu, **span})
    api.call("POST", f"{prom}/labels", data={"match[]": cpu, **span})
    api.call("GET", prom + "/label/{name}/values", path={"name": "host"}, params=span)
    api.call("GET", f"{prom}/metadata")
    api.call("GET", f"{prom}/status/buildinfo")
    api.call("POST", f"{prom}/query_exemplars", data={"query": cpu, **span})
    prom_refusals = [
        api.call("GET", f"{prom}/query", params={"query": "sum("}),
        api.call("GET", f"{prom}/query", params={"query": f"{cpu} + on(host) hostpulse_load1"}),
    ]
    never_ran = api.call(
        "GET",
        "/api/v1/hosts/{host}/processes/{pid}",
        path={"host": host, "pid": 2**31 - 1},
        params={"from": "-1h"},
    ).json()
    refusals = [
        api.call("GET", "/api/v1/hosts/{host}/latest", path={"host": "no-such-host"}),
        api.call(
            "GET",
            "/api/v1/hosts/{host}/processes/{pid}",
            path={"host": "no-such-host", "pid": pid},
            params={"from": "-1h"},
        ),
        api.call("GET", "/api/v1/series", params={"host": "no-such-host", "metric": "cpu.*"}),
        api.call("GET", "/api/v1/series", params={"host": host, "metric": "x", "from": "soon"}),
        api.call("GET", "/api/v1/hosts/{host}/recent", path={"host": host}, params={"seconds": 0}),
        api.call("DELETE", "/api/v1/alert-rules/{name}", path={"name": firing}),
    ]
    for name in (firing, pending):
        deleted = api.call("DELETE", "/api/v1/alert-rules/{name}", admin=True, path={"name": name})
        assert deleted.status_code == 204

    # Not vacuous: every answer above carried the data it describes.
    assert mine["status"] == "live" and mine["now"] is not None
    assert mine["completeness"]["batches"] == len(sent)
    assert latest["source"] == "hot" and process["points"]
    assert len(recent["samples"]) == 3 + len(sent) - 1
    for answer in series.values():
        assert answer["missing"] == ["never.sent"]
        assert all(line["points"] for line in answer["series"])
    assert {a["state"] for a in alerts} == {"firing", "pending"}
    assert {"pending", "firing"} <= {e["state"] for e in history}
    assert {firing, pending} <= {r["name"] for r in rules}
    assert any(a["host"] == host for a in seed_alerts)
    # Every snapshot stored carries its top processes, as the seed keeps them with each one.
    assert seed_recent and all(s["top_processes"] for s in seed_recent)
    assert (seed_health["redis"], seed_health["postgres"]) == ("connected", "connected")
    # A known host's process that never ran has no points; a host never seen is not found.
    assert never_ran["points"] == []
    assert vector["data"]["resultType"] == "vector" and len(vector["data"]["result"]) == 1
    assert len(matrix.json()["data"]["result"]) == 5  # the five modes
    assert [r.status_code for r in prom_refusals] == [400, 422]
    assert [r.status_code for r in refusals] == [404, 404, 404, 400, 422, 401]


def stored_entry(api: Checked, host: str, batches: int) -> dict[str, Any] | None:
    """The host's fleet entry once its batches are in PostgreSQL."""
    hosts = api.call("GET", "/api/v1/hosts").json()["hosts"]
    entry = next((entry for entry in hosts if entry["host"] == host), None)
    done = entry is not None and (entry["completeness"] or {}).get("batches") == batches
    return entry if done else None


def active_of(api: Checked, host: str, rules: set[str]) -> list[dict[str, Any]] | None:
    alerts = api.call("GET", "/api/v1/alerts").json()["alerts"]
    mine = [a for a in alerts if a["host"] == host and a["rule"] in rules]
    return mine if {a["state"] for a in mine} == {"firing", "pending"} else None
