"""OTLP requests shaped as the OpenTelemetry Collector's host-metrics receiver sends them
(with the resourcedetection processor's host.name): its metric names, attributes, cumulative
counters started at boot, one resource per process, and each scraper's own timestamp.

A :class:`CollectorHost` keeps its counters and moves them on at chosen rates, so a test knows
what every rate should come out as.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AggregationTemporality,
    Metric,
    NumberDataPoint,
)

CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
GIB = 1024**3
CPU_MODES = ("user", "system", "idle", "interrupt", "nice", "softirq", "steal", "wait")


def attributes(values: dict[str, Any]) -> list[KeyValue]:
    pairs = []
    for key, value in values.items():
        if isinstance(value, bool):
            any_value = AnyValue(bool_value=value)
        elif isinstance(value, int):
            any_value = AnyValue(int_value=value)
        elif isinstance(value, float):
            any_value = AnyValue(double_value=value)
        else:
            any_value = AnyValue(string_value=str(value))
        pairs.append(KeyValue(key=key, value=any_value))
    return pairs


def point(value: float, time_ns: int, start_ns: int = 0, /, **attrs: object) -> NumberDataPoint:
    p = NumberDataPoint(attributes=attributes(attrs), time_unix_nano=time_ns)
    if start_ns:
        p.start_time_unix_nano = start_ns
    if isinstance(value, int):
        p.as_int = value
    else:
        p.as_double = value
    return p


def gauge(name: str, unit: str, points: list[NumberDataPoint]) -> Metric:
    metric = Metric(name=name, unit=unit)
    metric.gauge.data_points.extend(points)
    return metric


def total(name: str, unit: str, points: list[NumberDataPoint], monotonic: bool = True) -> Metric:
    metric = Metric(name=name, unit=unit)
    metric.sum.aggregation_temporality = CUMULATIVE
    metric.sum.is_monotonic = monotonic
    metric.sum.data_points.extend(points)
    return metric


@dataclass
class CollectorHost:
    """One host as the Collector sees it: counters since boot, moved on by :meth:`scrape`."""

    hostname: str
    boot_ns: int
    cores: int = 2
    # per core, CPU seconds per second by mode (they add up to 1)
    cpu_rates: dict[str, float] = field(
        default_factory=lambda: {"user": 0.25, "system": 0.05, "idle": 0.65, "wait": 0.05}
    )
    disk_read_per_s: float = 1_000_000.0
    disk_write_per_s: float = 250_000.0
    net_rx_per_s: float = 50_000.0
    net_tx_per_s: float = 20_000.0
    memory_used: int = 3 * GIB
    memory_free: int = 1 * GIB
    memory_cached: int = 2 * GIB
    memory_buffered: int = 2 * GIB
    process_cpu_per_s: float = 0.5  # CPU seconds per second of the one busy process
    extra: list[Metric] = field(default_factory=list)  # more metrics to send, as given

    def request(self, time_ns: int) -> ExportMetricsServiceRequest:
        """The counters as they stand at ``time_ns``, as one export."""
        up = (time_ns - self.boot_ns) / 1e9
        # Each scraper stamps its own time: a few milliseconds apart.
        cpu_t, mem_t, disk_t, fs_t, net_t, load_t, proc_t = (
            time_ns + i * 3_000_000 for i in range(7)
        )
        request = ExportMetricsServiceRequest()
        host = request.resource_metrics.add()
        host.resource.attributes.extend(
            attributes({
                "host.name": self.hostname,
                "os.type": "linux",
                "deployment.environment": "prod",
            })
        )  # fmt: skip
        host.scope_metrics.add().metrics.extend([
            self.cpu(cpu_t, up),
            *self.load(load_t),
            self.memory(mem_t),
            self.totals("system.disk.io", disk_t, up, "sda", {
                "read": self.disk_read_per_s, "write": self.disk_write_per_s
            }),
            self.filesystem(fs_t),
            self.totals("system.network.io", net_t, up, "eth0", {
                "receive": self.net_rx_per_s, "transmit": self.net_tx_per_s
            }),
            total("system.processes.count", "{processes}", [
                point(3, proc_t, status="running"), point(120, proc_t, status="sleeping")
            ], monotonic=False),
            *self.extra,
        ])  # fmt: skip
        process = request.resource_metrics.add()
        process.resource.attributes.extend(
            attributes({
                "host.name": self.hostname,
                "process.pid": 4242,
                "process.executable.name": "postgres",
                "process.command_line": "postgres -D /var/lib/postgresql",
                "process.owner": "postgres",
            })
        )  # fmt: skip
        seconds = self.process_cpu_per_s * up
        process.scope_metrics.add().metrics.extend([
            total("process.cpu.time", "s", [
                point(round(seconds * 0.8, 3), proc_t, self.boot_ns, state="user"),
                point(round(seconds * 0.2, 3), proc_t, self.boot_ns, state="system"),
            ]),
            total("process.memory.usage", "By", [point(512 * 1024**2, proc_t)], monotonic=False),
            total("process.threads", "{threads}", [point(9, proc_t)], monotonic=False),
        ])  # fmt: skip
        return request

    def cpu(self, time_ns: int, up: float) -> Metric:
        return total("system.cpu.time", "s", [
            point(round(rate * up, 3), time_ns, self.boot_ns, cpu=f"cpu{core}", state=mode)
            for core in range(self.cores)
            for mode, rate in self.cpu_rates.items()
        ])  # fmt: skip

    @staticmethod
    def load(time_ns: int) -> list[Metric]:
        return [
            gauge(f"system.cpu.load_average.{span}", "{thread}", [point(value, time_ns)])
            for span, value in (("1m", 0.75), ("5m", 0.5), ("15m", 0.25))
        ]

    def memory(self, time_ns: int) -> Metric:
        states = {
            "used": self.memory_used, "free": self.memory_free, "cached": self.memory_cached,
            "buffered": self.memory_buffered, "slab_reclaimable": 0, "slab_unreclaimable": 0,
        }  # fmt: skip
        return total(
            "system.memory.usage",
            "By",
            [point(value, time_ns, state=state) for state, value in states.items()],
            monotonic=False,
        )

    def totals(
        self, name: str, time_ns: int, up: float, device: str, rates: dict[str, float]
    ) -> Metric:
        return total(name, "By", [
            point(int(rate * up), time_ns, self.boot_ns, device=device, direction=direction)
            for direction, rate in rates.items()
        ])  # fmt: skip

    @staticmethod
    def filesystem(time_ns: int) -> Metric:
        where: dict[str, object] = {
            "device": "/dev/sda1", "mode": "rw", "mountpoint": "/", "type": "ext4"
        }  # fmt: skip
        states = {"used": 40 * GIB, "free": 60 * GIB, "reserved": 0}
        return total(
            "system.filesystem.usage",
            "By",
            [point(value, time_ns, **where, state=state) for state, value in states.items()],
            monotonic=False,
        )


def as_json(request: ExportMetricsServiceRequest) -> bytes:
    """OTLP/JSON as the Collector writes it: lowerCamelCase, enums as numbers, 64-bit integers
    as strings."""
    return json_format.MessageToJson(request, use_integers_for_enums=True, indent=None).encode()


@dataclass
class SampleEncoder:
    """Wire-contract samples as the Collector would export the same figures: utilization
    gauges for CPU, usage by state, and cumulative counters for every rate (kept here between
    requests, as the host's kernel keeps them)."""

    boot_ns: int
    totals: dict[tuple[str, ...], float] = field(default_factory=dict)
    last_ns: int | None = None

    def count(self, key: tuple[str, ...], rate: float, time_ns: int) -> float:
        elapsed = 0.0 if self.last_ns is None else (time_ns - self.last_ns) / 1e9
        self.totals[key] = self.totals.get(key, 1000.0) + rate * elapsed
        return round(self.totals[key], 3)

    def request(self, batch: Any) -> ExportMetricsServiceRequest:
        request = ExportMetricsServiceRequest()
        host = request.resource_metrics.add()
        host.resource.attributes.extend(
            attributes({"host.name": batch.host.hostname, "os.type": "linux"})
        )
        metrics = host.scope_metrics.add().metrics
        processes: dict[int, list[Metric]] = {}
        names: dict[int, Any] = {}
        for sample in batch.samples:
            t = sample.ts_ms * 10**6
            metrics.extend(self.host_metrics(sample, t))
            for p in sample.processes:
                names[p.pid] = p
                processes.setdefault(p.pid, []).extend(self.process_metrics(p, t))
            self.last_ns = t
        for pid, process_metrics in processes.items():
            resource = request.resource_metrics.add()
            resource.resource.attributes.extend(
                attributes({
                    "host.name": batch.host.hostname,
                    "process.pid": pid,
                    "process.executable.name": names[pid].name,
                    "process.command_line": names[pid].cmdline,
                    "process.owner": names[pid].user,
                })
            )  # fmt: skip
            resource.scope_metrics.add().metrics.extend(process_metrics)
        return request

    def host_metrics(self, sample: Any, t: int) -> list[Metric]:
        boot = self.boot_ns
        cpu = [
            point(share, t, cpu=f"cpu{core}", state=state)
            for core, busy in enumerate(sample.cpu.per_core)
            for state, share in (("user", busy / 100), ("idle", 1 - busy / 100))
        ]
        mem = sample.memory
        memory = {"used": mem.used_bytes, "free": mem.total_bytes - mem.used_bytes}
        metrics = [
            gauge("system.cpu.utilization", "1", cpu),
            total("system.memory.usage", "By", [
                point(v, t, state=s) for s, v in memory.items()
            ], monotonic=False),
            *[
                gauge(f"system.cpu.load_average.{span}", "{thread}", [point(v, t)])
                for span, v in (("1m", sample.load.load1), ("5m", sample.load.load5),
                                ("15m", sample.load.load15))
            ],
            total("system.filesystem.usage", "By", [
                point(v, t, device=d.device, mountpoint=d.mount, type=d.fstype, state=s)
                for d in sample.disks
                for s, v in (("used", d.used_bytes), ("free", d.total_bytes - d.used_bytes))
            ], monotonic=False),
            gauge("system.uptime", "s", [point(sample.uptime_s, t)]),
            total("system.processes.count", "{processes}", [point(sample.process_count, t)],
                  monotonic=False),
        ]  # fmt: skip
        read_write = (("read", "read_{}_per_s"), ("write", "write_{}_per_s"))
        rx_tx = (("receive", "rx_{}_per_s"), ("transmit", "tx_{}_per_s"))
        for name, entries, fields, unit in (
            ("system.disk.io", sample.disk_io, read_write, "bytes"),
            ("system.disk.operations", sample.disk_io, read_write, "ops"),
            ("system.network.io", sample.net, rx_tx, "bytes"),
        ):
            metrics.append(total(name, "1", [
                point(self.count((name, device, way), getattr(e, field_name.format(unit)), t),
                      t, boot, device=device, direction=way)
                for e in entries
                for device in [getattr(e, "device", None) or e.interface]
                for way, field_name in fields
            ]))  # fmt: skip
        return metrics

    def process_metrics(self, p: Any, t: int) -> list[Metric]:
        seconds = self.count(("cpu", str(p.pid)), p.cpu_percent / 100, t)
        return [
            total("process.cpu.time", "s", [point(seconds, t, self.boot_ns, state="user")]),
            total("process.memory.usage", "By", [point(p.rss_bytes, t)], monotonic=False),
            total("process.threads", "{threads}", [point(p.threads, t)], monotonic=False),
        ]
