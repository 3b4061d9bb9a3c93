"""The aggregate function's process killed again and again while a fleet sends: every batch is
redelivered until stored, and the tiers are exactly what the accepted batches add up to, as
after a clean run. Nothing reaches the dead-letter queue."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
import requests

from hostpulse.core.contract import Batch
from hostpulse.simulation.fleet import RequestsTransport, Simulation
from tests.faults.fleet import register_fleet, wait_until_stored
from tests.support import CloudUnderTest
from tests.tier_checks import assert_stored_exactly_once

pytestmark = [pytest.mark.localcloud, pytest.mark.slow]
HOSTS = 5
DURATION_S = 40


def function_processes(function: str) -> list[int]:
    """The runtime processes the local cloud's Lambda executor runs for a function."""
    wanted = f"AWS_LAMBDA_FUNCTION_NAME={function}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if wanted in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue  # gone, or not ours to read
    return found


class Killer(threading.Thread):
    """SIGKILLs the function's processes every ``every_s`` until stopped."""

    def __init__(self, function: str, every_s: float) -> None:
        super().__init__(daemon=True)
        self.function, self.every_s = function, every_s
        self.stopping = threading.Event()
        self.kills = 0

    def run(self) -> None:
        while not self.stopping.wait(self.every_s):
            for pid in function_processes(self.function):
                try:
                    os.kill(pid, signal.SIGKILL)
                    self.kills += 1
                except ProcessLookupError:
                    pass


def test_aggregation_killed_mid_batch_loses_and_doubles_nothing(
    fault_cloud: CloudUnderTest,
) -> None:
    endpoints = fault_cloud.endpoints
    agents = register_fleet(endpoints, "killed", HOSTS)
    accepted: list[Batch] = []

    # Kills for the first 30 s of 40; each message gets 5 receives, 5 s apart, before it would
    # be dead-lettered: the test also shows none was.
    killer = Killer("hostpulse-aggregate", every_s=4)
    killer.start()
    threading.Timer(30, killer.stopping.set).start()
    try:
        stats = Simulation(
            agents,
            endpoints["ingest_url"],
            RequestsTransport(),
            interval_s=1,
            send_every_s=2,
            duration_s=DURATION_S,
            on_accepted=accepted.append,
        ).run()
    finally:
        killer.stopping.set()
        killer.join()
    recovery_started = time.monotonic()

    assert stats.rejected == 0
    assert killer.kills >= 3, "the aggregate function was running and was killed"

    wait_until_stored(endpoints["database_url"], agents, accepted, timeout=240)
    recovered_s = time.monotonic() - recovery_started

    assert_stored_exactly_once(endpoints["database_url"], accepted)
    pipeline = requests.get(f"{endpoints['local_api_url']}/api/v1/pipeline", timeout=30).json()
    assert pipeline["queues"]["aggregate"]["dead_letters"] == 0
    print(
        f"aggregate killed {killer.kills} times: {len(accepted)} batches, "
        f"{stats.samples} samples, 0 lost; all stored {recovered_s:.0f} s after the last send"
    )
