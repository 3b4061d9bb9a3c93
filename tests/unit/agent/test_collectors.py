"""Collectors against this machine's real /proc."""

from __future__ import annotations

import os
import threading
import time

import psutil

from hostpulse.core.contract import Sample
from hostpulse_agent.collectors import PSEUDO_FS, Collector, real_partitions
from hostpulse_agent.config import GROUPS
from hostpulse_agent.host import HostView


def burn(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_a_sample_has_sane_values_in_every_group_and_fits_the_contract() -> None:
    collector = Collector(GROUPS, top_n=5)
    worker = threading.Thread(target=burn, args=(0.6,))
    worker.start()
    time.sleep(0.7)
    worker.join()

    sample = collector.sample(int(time.time() * 1000))

    Sample.model_validate(sample)
    cpu = sample["cpu"]
    assert cpu["percent"] > 0, "the first reading after start must not be a fake zero"
    assert len(cpu["per_core"]) == psutil.cpu_count()
    assert all(0 <= v <= 100 for v in [cpu["percent"], *cpu["per_core"]])
    memory = sample["memory"]
    assert 0 < memory["used_bytes"] <= memory["total_bytes"] == psutil.virtual_memory().total
    assert sample["disks"] and all(d["fstype"] not in PSEUDO_FS for d in sample["disks"])
    mounts = {p.mountpoint for p in real_partitions(HostView())}
    assert {d["mount"] for d in sample["disks"]} == mounts
    assert sample["uptime_s"] > 0
    assert (
        sample["process_count"] == len(psutil.pids())
        or abs(sample["process_count"] - len(psutil.pids())) < 20
    )
    assert 0 < len(sample["processes"]) <= 10
    mine = [p for p in sample["processes"] if p["pid"] == os.getpid()]
    assert mine and mine[0]["cpu_percent"] > 20 and mine[0]["threads"] >= 1


def test_rates_come_from_two_readings() -> None:
    collector = Collector(["disk_io", "net"], top_n=1)
    first = collector.sample(int(time.time() * 1000))
    path = f"/tmp/hostpulse-rate-{os.getpid()}"
    with open(path, "wb") as handle:  # some disk traffic between the readings
        handle.write(os.urandom(4 * 1024 * 1024))
        handle.flush()
        os.fsync(handle.fileno())
    os.unlink(path)
    time.sleep(0.5)

    second = collector.sample(int(time.time() * 1000))

    assert first["disk_io"], "the collector primes at start, so even its first sample has rates"
    assert second["disk_io"]
    assert max(d["write_bytes_per_s"] for d in second["disk_io"]) > 0
    assert all(v >= 0 for nic in second["net"] for k, v in nic.items() if k != "interface")


def test_groups_can_be_switched_off() -> None:
    sample = Collector(["memory"], top_n=5).sample(int(time.time() * 1000))

    assert set(sample) == {"ts_ms", "memory"}


def test_names_are_made_safe_and_stay_one_per_sample() -> None:
    from hostpulse_agent_rules.text import first_of_each, host_name, safe_text

    assert safe_text("gpj.\u202eexe\n", 256) == "gpj.\ufffdexe\ufffd"
    assert safe_text("x" * 300, 256) == "x" * 256
    assert host_name("My Mac's box") == "My-Mac-s-box"
    assert host_name("..") == "unnamed-host"
    merged = [{"mount": safe_text(m, 256)} for m in ("/a\x01", "/a\x02", "/b")]
    assert first_of_each(merged, "mount") == [{"mount": "/a\ufffd"}, {"mount": "/b"}]


def test_the_agents_unsafe_characters_are_exactly_those_the_contract_refuses() -> None:
    import re

    from hostpulse.core.contract import SAFE_TEXT
    from hostpulse_agent_rules.text import is_safe_text

    # fullmatch: Python's `$` also matches before a final newline; pydantic's engine does not.
    contract = re.compile(SAFE_TEXT)
    disagree = [
        hex(code)
        for code in range(0x3000)
        if is_safe_text(chr(code)) != bool(contract.fullmatch(chr(code)))
    ]
    assert disagree == []
