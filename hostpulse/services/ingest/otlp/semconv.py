"""OpenTelemetry's host-metrics semantic conventions onto wire contract v1's sample.

The names and attributes are those of the Collector's host-metrics receiver and of the
conventions' newer spellings (``cpu`` and ``cpu.logical_number``, ``state`` and ``cpu.mode``,
``direction`` and ``network.io.direction``...). Totals (CPU seconds, bytes) arrive as
cumulative counters and become the rates a host page shows; every metric without a place in the
sample is kept as a custom series, ``custom.<name>:<attribute>=<value>,...``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hostpulse.core.contract import MAX_CUSTOM_PER_SAMPLE, MAX_DEVICES, MAX_PROCESSES_PER_SAMPLE
from hostpulse.services.ingest.otlp.points import Attributes, Point

UNSAFE = re.compile(r"[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
CPU_IDLE = "idle"
CPU_METRICS = ("system.cpu.time", "system.cpu.utilization")
CPU_NUMBER = ("cpu", "cpu.logical_number")  # the Collector's name, then the conventions'

DIRECTION = ("direction", "disk.io.direction", "network.io.direction")

# The metrics given a place in the sample; the rest of a host's are custom series. A process'
# other metrics are not kept: one series per process id would grow without end.
HOST_METRICS = frozenset({
    "system.cpu.time", "system.cpu.utilization", "system.cpu.load_average.1m",
    "system.cpu.load_average.5m", "system.cpu.load_average.15m", "system.memory.usage",
    "system.memory.limit", "system.paging.usage", "system.filesystem.usage", "system.disk.io",
    "system.disk.operations", "system.network.io", "system.network.packets",
    "system.network.errors", "system.network.dropped", "system.uptime",
    "system.processes.count", "system.process.count",
})  # fmt: skip


def attribute(attributes: Attributes, *names: str) -> str:
    for name in names:
        if name in attributes:
            return str(attributes[name])
    return ""


def text(value: object, limit: int = 256) -> str:
    return UNSAFE.sub("", str(value))[:limit]


@dataclass
class Reading:
    """One collection's points of a host: each with its rate where it is a total."""

    points: list[tuple[Point, float | None]] = field(default_factory=list)

    def of(self, metric: str) -> list[tuple[Point, float | None]]:
        return [(p, r) for p, r in self.points if p.metric == metric and p.pid is None]

    def total(self, metric: str) -> float | None:
        values = [p.value for p, _ in self.of(metric)]
        return sum(values) if values else None


def cpu(reading: Reading) -> tuple[dict[str, Any] | None, int]:
    """CPU busy shares per core, from utilization gauges or from the rates of CPU seconds."""
    by_core: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    utilization = reading.of("system.cpu.utilization")
    for point, rate in utilization or reading.of("system.cpu.time"):
        value = point.value if utilization else rate
        if value is None:
            continue
        core = attribute(point.attributes, *CPU_NUMBER) or "0"
        mode = attribute(point.attributes, "state", "cpu.mode")
        by_core[core][mode] += value
    if not by_core:
        return None, 0
    totals: dict[str, float] = defaultdict(float)
    per_core = []
    for core in sorted(by_core, key=core_number):
        modes = by_core[core]
        # Utilization shares add up to 1; seconds per second, to the time that passed.
        whole = 1.0 if utilization else sum(modes.values())
        busy = whole - modes.get(CPU_IDLE, 0.0) if CPU_IDLE in modes else sum(modes.values())
        per_core.append(percent(busy, whole))
        for mode, value in modes.items():
            totals[mode] += value
        totals[""] += whole
    whole = totals.pop("")
    busy = whole - totals[CPU_IDLE] if CPU_IDLE in totals else sum(totals.values())
    answer: dict[str, Any] = {"percent": percent(busy, whole), "per_core": per_core}
    for field_name, mode in (("user", "user"), ("system", "system"), ("iowait", "wait"),
                             ("steal", "steal")):  # fmt: skip
        if mode in totals:
            answer[field_name] = percent(totals[mode], whole)
    return answer, len(per_core)


def core_number(core: str) -> tuple[int, str]:
    digits = core.removeprefix("cpu")
    return (int(digits), "") if digits.isdigit() else (1 << 30, core)


def percent(part: float, whole: float) -> float:
    return round(min(100.0, max(0.0, 100.0 * part / whole)), 2) if whole > 0 else 0.0


def memory(reading: Reading) -> dict[str, Any] | None:
    states: dict[str, float] = defaultdict(float)
    for point, _ in reading.of("system.memory.usage"):
        states[attribute(point.attributes, "state", "system.memory.state")] += point.value
    if "used" not in states:
        return None
    parts = ("used", "free", "buffered", "buffers", "cached", "slab_reclaimable",
             "slab_unreclaimable")  # fmt: skip
    total = reading.total("system.memory.limit") or sum(states.get(s, 0.0) for s in parts)
    if total <= 0:
        return None
    used = min(states["used"], total)
    available = states.get("available")
    if available is None:
        available = sum(
            states.get(s, 0.0)
            for s in ("free", "buffered", "buffers", "cached", "slab_reclaimable")
        )
    swap: dict[str, float] = defaultdict(float)
    for point, _ in reading.of("system.paging.usage"):
        swap[attribute(point.attributes, "state", "system.paging.state")] += point.value
    swap_total = swap.get("used", 0.0) + swap.get("free", 0.0)
    return {
        "total_bytes": int(total),
        "used_bytes": int(used),
        "available_bytes": int(min(available, total)),
        "percent": percent(used, total),
        "swap_total_bytes": int(swap_total),
        "swap_used_bytes": int(swap.get("used", 0.0)),
        "swap_percent": percent(swap.get("used", 0.0), swap_total),
    }


def load(reading: Reading) -> dict[str, float] | None:
    values = [reading.total(f"system.cpu.load_average.{m}") for m in ("1m", "5m", "15m")]
    if any(v is None or v < 0 for v in values):
        return None
    load1, load5, load15 = (float(v or 0.0) for v in values)
    return {"load1": load1, "load5": load5, "load15": load15}


def disks(reading: Reading) -> list[dict[str, Any]]:
    mounts: dict[str, dict[str, Any]] = {}
    for point, _ in reading.of("system.filesystem.usage"):
        mount = text(attribute(point.attributes, "mountpoint", "system.filesystem.mountpoint"))
        if not mount:
            continue
        entry = mounts.setdefault(mount, {"states": defaultdict(float)})
        entry["device"] = text(attribute(point.attributes, "device", "system.device"))
        entry["fstype"] = text(attribute(point.attributes, "type", "system.filesystem.type"))
        state = attribute(point.attributes, "state", "system.filesystem.state")
        entry["states"][state] += point.value
    answer = []
    for mount, entry in list(mounts.items())[:MAX_DEVICES]:
        states = entry["states"]
        used, free = states.get("used", 0.0), states.get("free", 0.0)
        total = used + free + states.get("reserved", 0.0)
        if total <= 0:
            continue
        answer.append({
            "mount": mount,
            "device": entry["device"],
            "fstype": entry["fstype"],
            "total_bytes": int(total),
            "used_bytes": int(used),
            "percent": percent(used, used + free),
        })  # fmt: skip
    return answer


def by_device(
    reading: Reading, fields: Mapping[str, tuple[str, str]], directions: Mapping[str, str]
) -> dict[str, dict[str, float]]:
    """Per device, rates named ``<prefix>_<field>``: from each metric's totals and direction."""
    devices: dict[str, dict[str, float]] = defaultdict(dict)
    for metric, (prefix, suffix) in fields.items():
        for point, rate in reading.of(metric):
            device = text(
                attribute(point.attributes, "device", "system.device", "network.interface.name")
            )
            way = directions.get(
                attribute(
                    point.attributes, "direction", "disk.io.direction", "network.io.direction"
                )
            )
            if device and way and rate is not None:
                name = f"{way}{prefix}{suffix}"
                devices[device][name] = devices[device].get(name, 0.0) + rate
    return dict(list(devices.items())[:MAX_DEVICES])


def disk_io(reading: Reading) -> list[dict[str, Any]]:
    devices = by_device(
        reading,
        {"system.disk.io": ("_bytes", "_per_s"), "system.disk.operations": ("_ops", "_per_s")},
        {"read": "read", "write": "write"},
    )
    return [
        {"device": d, "read_bytes_per_s": 0.0, "write_bytes_per_s": 0.0, **rates}
        for d, rates in devices.items()
    ]


def net(reading: Reading) -> list[dict[str, Any]]:
    devices = by_device(
        reading,
        {
            "system.network.io": ("_bytes", "_per_s"),
            "system.network.packets": ("_packets", "_per_s"),
            "system.network.errors": ("_errors", "_per_s"),
            "system.network.dropped": ("_drops", "_per_s"),
        },
        {"receive": "rx", "transmit": "tx"},
    )
    return [
        {"interface": d, "rx_bytes_per_s": 0.0, "tx_bytes_per_s": 0.0, **rates}
        for d, rates in devices.items()
    ]


def processes(
    reading: Reading, resources: Mapping[int, Attributes], cores: int
) -> list[dict[str, Any]]:
    """The processes the host-metrics receiver reports as resources of their own, busiest
    first, as many as a sample carries."""
    found: dict[int, dict[str, Any]] = {}
    for point, rate in reading.points:
        if point.pid is None:
            continue
        entry = found.setdefault(point.pid, {"cpu_time": None, "cpu_share": None})
        way = attribute(point.attributes, "direction", "disk.io.direction")
        if point.metric == "process.cpu.time" and rate is not None:
            entry["cpu_time"] = (entry["cpu_time"] or 0.0) + rate
        elif point.metric == "process.cpu.utilization":
            entry["cpu_share"] = (entry["cpu_share"] or 0.0) + point.value
        elif point.metric == "process.memory.usage":
            entry["rss_bytes"] = int(point.value)
        elif point.metric == "process.threads":
            entry["threads"] = int(point.value)
        elif point.metric == "process.open_file_descriptors":
            entry["open_files"] = int(point.value)
        elif point.metric == "process.disk.io" and way in ("read", "write"):
            entry[f"{way}_bytes_total"] = int(point.value)
            if rate is not None:
                entry[f"{way}_bytes_per_s"] = rate
    answer = []
    for pid, entry in found.items():
        resource = resources.get(pid, {})
        # psutil's percent, as hostpulse's agent sends it: 100 is one core busy.
        share = entry.pop("cpu_share")
        seconds = entry.pop("cpu_time")
        busy = seconds if seconds is not None else (share or 0.0) * max(1, cores)
        if "rss_bytes" not in entry and seconds is None and share is None:
            continue
        answer.append({
            "pid": pid,
            "name": text(attribute(resource, "process.executable.name", "process.command")),
            "cmdline": text(attribute(resource, "process.command_line"), 1024),
            "user": text(attribute(resource, "process.owner")),
            "cpu_percent": round(100.0 * busy, 2),
            "rss_bytes": 0,
            **entry,
        })  # fmt: skip
    answer.sort(key=lambda p: p["cpu_percent"], reverse=True)
    return answer[:MAX_PROCESSES_PER_SAMPLE]


def custom_name(point: Point) -> str:
    if not point.attributes:
        return point.metric
    pairs = ",".join(f"{k}={v}" for k, v in sorted(point.attributes.items()))
    return f"{point.metric}:{pairs}"


def custom(points: Iterable[Point]) -> tuple[dict[str, float], int]:
    """The host's other metrics, by name; and how many could not be kept (a name no series
    can have, or past what one sample carries)."""
    kept: dict[str, float] = {}
    refused = 0
    for point in points:
        name = custom_name(point)
        if len(name) > 256 or UNSAFE.search(name) or len(kept) >= MAX_CUSTOM_PER_SAMPLE:
            refused += 1
            continue
        kept[name] = point.value
    return kept, refused


def sample_fields(
    reading: Reading, resources: Mapping[int, Attributes]
) -> tuple[dict[str, Any], int, int]:
    """A sample's fields (without its time), the cores seen, and the points refused."""
    fields: dict[str, Any] = {}
    cpu_fields, cores = cpu(reading)
    if cpu_fields is not None:
        fields["cpu"] = cpu_fields
    for name, value in (("memory", memory(reading)), ("load", load(reading))):
        if value is not None:
            fields[name] = value
    for name, entries in (
        ("disks", disks(reading)),
        ("disk_io", disk_io(reading)),
        ("net", net(reading)),
        ("processes", processes(reading, resources, cores)),
    ):
        if entries:
            fields[name] = entries
    uptime = reading.total("system.uptime")
    if uptime is not None and uptime >= 0:
        fields["uptime_s"] = uptime
    count = reading.total("system.processes.count") or reading.total("system.process.count")
    if count is not None and count >= 0:
        fields["process_count"] = int(count)
    mapped = HOST_METRICS if "load" in fields else HOST_METRICS - {
        "system.cpu.load_average.1m", "system.cpu.load_average.5m", "system.cpu.load_average.15m"
    }  # fmt: skip
    others = [p for p, _ in reading.points if p.pid is None and p.metric not in mapped]
    kept, refused = custom(others)
    if kept:
        fields["custom"] = kept
    return fields, cores, refused
