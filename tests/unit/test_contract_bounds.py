"""What the contract accepts is what storage can hold: every value PostgreSQL could not store
(or could store but not sum) is refused with a 4xx at ingest, and nothing is queued."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from hostpulse.core.contract import Sample
from tests.unit.test_ingest_service import NOW_MS, Rig, request, valid_json

Mutation = Callable[[dict[str, Any]], None]


def first_sample(batch: dict[str, Any]) -> dict[str, Any]:
    sample: dict[str, Any] = batch["samples"][0]
    return sample


def set_process(field: str, value: Any) -> Mutation:
    return lambda b: first_sample(b)["processes"][0].__setitem__(field, value)


def set_host(field: str, value: Any) -> Mutation:
    return lambda b: b["host"].__setitem__(field, value)


OUT_OF_STORAGE: dict[str, Mutation] = {
    "seq at 2^63 (bigint)": lambda b: b.__setitem__("seq", 2**63),
    "pid at 2^31 (integer)": set_process("pid", 2**31),
    "threads at 2^31 (integer)": set_process("threads", 2**31),
    "open files at 2^31 (integer)": set_process("open_files", 2**31),
    "rss at 2^63 (bigint)": set_process("rss_bytes", 2**63),
    "byte total at 2^63 (bigint)": set_process("read_bytes_total", 2**63),
    "memory at 2^63 (bigint)": lambda b: first_sample(b)["memory"].__setitem__(
        "total_bytes", 2**63
    ),
    "a 400-digit integer": lambda b: b.__setitem__("seq", 10**400),
    "load near float overflow": lambda b: first_sample(b)["load"].__setitem__("load1", 1e200),
    "a rate whose square overflows": lambda b: first_sample(b)["net"][0].__setitem__(
        "rx_bytes_per_s", 1e160
    ),
    "NUL in the host name": set_host("hostname", "web\x001"),
    "a slash in the host name": set_host("hostname", "web/1"),
    "NUL in a mount": lambda b: first_sample(b)["disks"][0].__setitem__("mount", "/da\x00ta"),
    "NUL in a label": set_host("labels", {"rack": "r\x001"}),
    "an empty label name": set_host("labels", {"": "x"}),
    "a newline in a process name": set_process("name", "evil\nname"),
    "a bidi override in a process name": set_process("name", "gpj.\u202eexe"),
    "a bidi isolate in the command line": set_process("cmdline", "run \u2066x\u2069"),
    "a control character in the platform": set_host("platform", "Linux\x1b[31m"),
    "one device twice in a sample": lambda b: first_sample(b)["disk_io"].append(
        first_sample(b)["disk_io"][0]
    ),
    "one pid twice in a sample": lambda b: first_sample(b)["processes"].append(
        first_sample(b)["processes"][0]
    ),
    "two samples at the same millisecond": lambda b: b["samples"][1].__setitem__(
        "ts_ms", b["samples"][0]["ts_ms"]
    ),
}


@pytest.mark.parametrize("mutate", OUT_OF_STORAGE.values(), ids=OUT_OF_STORAGE.keys())
def test_a_value_storage_cannot_hold_is_refused_at_ingest(mutate: Mutation) -> None:
    rig = Rig()
    data = valid_json()
    mutate(data)

    response = rig.service.ingest(request(json.dumps(data).encode()))

    assert response.status == 422, response.body
    assert response.body["error"] == "invalid_batch"
    assert rig.stored_nothing()


def test_the_largest_values_storage_holds_are_accepted() -> None:
    rig = Rig()
    data = valid_json(seq=2**63 - 1)
    process = first_sample(data)["processes"][0]
    process.update(pid=2**31 - 1, rss_bytes=2**63 - 1, read_bytes_total=2**63 - 1)
    first_sample(data)["load"]["load1"] = 1e18
    data["host"]["labels"] = {"zone": "eu-west-1a — ünïcode ✓"}

    response = rig.service.ingest(request(json.dumps(data).encode()))

    assert response.status == 202, response.body


PROCESS_FIELDS = {"pid", "name", "memory_mb", "io_read_mb"}


def seed_snapshot() -> dict[str, Any]:
    snapshot: dict[str, Any] = json.loads(json.dumps(SEED_SNAPSHOT))
    snapshot["timestamp"] = NOW_MS / 1000
    return snapshot


SEED_SNAPSHOT = {
    "timestamp": 0,
    "total_cpu_percent": 12.5,
    "per_core_cpu_percent": [10.0, 15.0],
    "system_memory_total_mb": 16000,
    "system_memory_used_mb": 8000,
    "top_processes": [
        {"pid": 1, "name": "init", "cpu_percent": 0.1, "memory_mb": 10, "thread_count": 1}
    ],
}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timestamp", "inf"),
        ("timestamp", "nan"),
        ("timestamp", "1e400"),
        ("timestamp", 1e300),
        ("timestamp", -5),
        ("system_memory_total_mb", 1e308),
        ("pid", 2**31),
        ("memory_mb", 1e300),
        ("io_read_mb", 9e12),
    ],
)
def test_the_seed_endpoint_refuses_what_storage_cannot_hold(field: str, value: Any) -> None:
    rig = Rig()
    snapshot = seed_snapshot()
    process = snapshot["top_processes"][0]
    (process if field in PROCESS_FIELDS else snapshot)[field] = value

    response = rig.service.ingest_seed(request(json.dumps(snapshot).encode()))

    assert response.status == 422, response.body
    assert rig.stored_nothing()


def test_a_sound_seed_snapshot_is_accepted() -> None:
    rig = Rig()
    response = rig.service.ingest_seed(request(json.dumps(seed_snapshot()).encode()))
    assert response.status == 202, response.body


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("gpj.\u202eexe", "gpj.\ufffdexe"),  # before: 422, the whole snapshot refused
        ("a\x00b", "a\ufffdb"),
        ("tab\there", "tab\ufffdhere"),
        ("x" * 300, "x" * 256),
    ],
)
def test_the_seed_endpoint_fits_a_process_name_as_hostpulses_agent_does(
    sent: str, kept: str
) -> None:
    rig = Rig()
    snapshot = seed_snapshot()
    snapshot["top_processes"][0]["name"] = sent

    response = rig.service.ingest_seed(request(json.dumps(snapshot).encode()))

    assert response.status == 202, response.body
    assert [p.name for p in rig.hot.batches[0].samples[0].processes] == [kept]


def test_a_custom_series_name_is_bounded_in_bytes_as_its_index_holds_it() -> None:
    assert Sample.model_validate({"ts_ms": 1, "custom": {"é" * 512: 1.0}})  # 1,024 bytes
    with pytest.raises(ValidationError, match="over 1024 bytes"):
        Sample.model_validate({"ts_ms": 1, "custom": {"é" * 513: 1.0}})
    assert Sample.model_validate({"ts_ms": 1, "custom": {"x" * 1024: 1e100}})
    with pytest.raises(ValidationError):
        Sample.model_validate({"ts_ms": 1, "custom": {"x": 1.1e100}})
