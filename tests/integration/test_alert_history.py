"""The alert history on real PostgreSQL through the local cloud's API: filtered by state before
its limit counts, so that a burst of pending alerts (a fleet going quiet at once) crowds out
neither the seed's recent alerts nor a history asked for firings only."""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from hostpulse.adapters.postgres.alerts import PgAlertStore
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.core.responses import AlertState
from hostpulse.services.alerts.ports import EventRecord
from tests.support import CloudUnderTest

pytestmark = [pytest.mark.localcloud]

CROWD = 120  # newer pending transitions than the seed route's hundred


def test_pending_alerts_crowd_out_no_firing_or_resolved_one(local_cloud: CloudUnderTest) -> None:
    connector = PgConnector(local_cloud.endpoints["database_url"])
    store = PgAlertStore(connector)
    rule = f"Crowded{uuid.uuid4().hex[:6]}"
    ours = f"ours-{rule[-6:].lower()}"
    now = int(time.time() * 1000)
    states: list[AlertState] = ["pending", "firing", "resolved"]
    with store.host(ours) as alerts:
        for i, state in enumerate(states):
            alerts.add_event(rule, EventRecord(state, now - 30_000 + i * 1000, 95.0, "warning", ""))
    for i in range(CROWD):  # newer than ours, one host each
        with store.host(f"quiet-{i}-{rule[-6:].lower()}") as alerts:
            alerts.add_event(rule, EventRecord("pending", now - 20_000 + i, None, "warning", ""))
    connector.close()
    api = local_cloud.endpoints["local_api_url"]

    recent = requests.get(f"{api}/api/alerts/recent", timeout=30).json()
    assert {(a["host"], a["state"]) for a in recent if a["rule"] == rule} == {
        (ours, "firing"),
        (ours, "resolved"),
    }
    assert "pending" not in {a["state"] for a in recent}

    def history(**params: str | int | list[str]) -> requests.Response:
        return requests.get(
            f"{api}/api/v1/alerts/history", params={"rule": rule, **params}, timeout=30
        )

    every = history(limit=CROWD + 3).json()["events"]
    assert len(every) == CROWD + 3
    newest_firings = history(state=["firing", "resolved"], limit=2).json()["events"]
    assert [(e["host"], e["state"]) for e in newest_firings] == [
        (ours, "resolved"),
        (ours, "firing"),
    ]
    pending = history(state="pending", limit=500).json()["events"]
    assert len(pending) == CROWD + 1 and {e["state"] for e in pending} == {"pending"}
    refused = history(state="silenced")
    assert refused.status_code == 422 and "state" in str(refused.json())
