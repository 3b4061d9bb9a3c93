"""hostpulse's metrics under Prometheus' names: the one table that says which series
``hostpulse_cpu_percent{mode="user"}`` is, and back.

A stored metric is ``group.field`` with an optional ``:instance`` (``contract.metric_values``).
Each row of ``FAMILIES`` names one of them in Prometheus' terms: its name, the label its
instance becomes, the labels it always carries, its type, help and unit. Series a sender
named itself (``custom.<name>`` or, from OTLP, ``custom.<name>:<key>=<value>,...``) keep
their name and labels, and also carry ``host`` and its host's labels, as hostpulse's own do.
A series written by Prometheus (remote write) is stored as it reads,
``custom.<name>{<label>="<value>",...}``, and read back with exactly its labels: nothing added.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from hostpulse.core.contract import CUSTOM_PREFIX

MetricType = Literal["gauge", "counter", "unknown"]
HOST_LABEL = "host"


@dataclass(frozen=True)
class Family:
    name: str  # Prometheus' name
    metric: str  # hostpulse's, without the instance
    help: str
    unit: str = ""
    instance: str | None = None  # the label the ``:instance`` part becomes
    fixed: tuple[tuple[str, str], ...] = ()
    type: MetricType = "gauge"

    @property
    def pattern(self) -> str:
        """A SQL LIKE pattern of its stored metric names."""
        escaped = self.metric.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return f"{escaped}:%" if self.instance else escaped


CPU_HELP = 'CPU busy: all modes (mode="total") or one mode'


def _cpu_modes() -> Iterator[Family]:
    for mode in ("total", "user", "system", "iowait", "steal"):
        metric = "cpu.percent" if mode == "total" else f"cpu.{mode}"
        yield Family("hostpulse_cpu_percent", metric, CPU_HELP, "percent", fixed=(("mode", mode),))


def _network() -> Iterator[Family]:
    for direction, prom in (("rx", "receive"), ("tx", "transmit")):
        for what in ("bytes", "packets", "errors", "drops"):
            yield Family(f"hostpulse_network_{prom}_{what}_per_second",
                         f"net.{direction}_{what}_per_s", f"Network {what} {prom}d per second",
                         f"{what}_per_second", instance="interface")  # fmt: skip


FAMILIES: tuple[Family, ...] = (
    *_cpu_modes(),
    Family("hostpulse_cpu_core_percent", "cpu.core", "CPU busy per core", "percent",
           instance="core"),
    Family("hostpulse_memory_total_bytes", "mem.total_bytes", "Memory installed", "bytes"),
    Family("hostpulse_memory_used_bytes", "mem.used_bytes", "Memory in use", "bytes"),
    Family("hostpulse_memory_available_bytes", "mem.available_bytes", "Memory available",
           "bytes"),
    Family("hostpulse_memory_used_percent", "mem.percent", "Memory in use", "percent"),
    Family("hostpulse_swap_used_bytes", "swap.used_bytes", "Swap in use", "bytes"),
    Family("hostpulse_swap_used_percent", "swap.percent", "Swap in use", "percent"),
    Family("hostpulse_load1", "load.1", "Load average over 1 minute"),
    Family("hostpulse_load5", "load.5", "Load average over 5 minutes"),
    Family("hostpulse_load15", "load.15", "Load average over 15 minutes"),
    Family("hostpulse_filesystem_used_bytes", "disk.used_bytes", "Filesystem space in use",
           "bytes", instance="mount"),
    Family("hostpulse_filesystem_used_percent", "disk.percent", "Filesystem space in use",
           "percent", instance="mount"),
    Family("hostpulse_disk_read_bytes_per_second", "diskio.read_bytes_per_s",
           "Disk bytes read per second", "bytes_per_second", instance="device"),
    Family("hostpulse_disk_written_bytes_per_second", "diskio.write_bytes_per_s",
           "Disk bytes written per second", "bytes_per_second", instance="device"),
    Family("hostpulse_disk_reads_per_second", "diskio.read_ops_per_s",
           "Disk reads completed per second", "ops_per_second", instance="device"),
    Family("hostpulse_disk_writes_per_second", "diskio.write_ops_per_s",
           "Disk writes completed per second", "ops_per_second", instance="device"),
    *_network(),
    Family("hostpulse_uptime_seconds", "uptime_s", "Time since the host booted", "seconds"),
    Family("hostpulse_processes", "process_count", "Processes running"),
    Family("hostpulse_agent_cpu_percent", "agent.cpu_percent", "The agent's own CPU use",
           "percent"),
    Family("hostpulse_agent_resident_bytes", "agent.rss_bytes", "The agent's resident memory",
           "bytes"),
    Family("hostpulse_agent_spool_bytes", "agent.spool_bytes",
           "Batches the agent keeps on disk until they are sent", "bytes"),
    Family("hostpulse_agent_dropped_batches_total", "agent.dropped_batches",
           "Batches the agent dropped since it started", type="counter"),
    Family("hostpulse_agent_retried_batches_total", "agent.retried_batches",
           "Batch sends the agent retried since it started", type="counter"),
    Family("hostpulse_agent_send_latency_milliseconds", "agent.send_latency_ms",
           "The agent's last send's latency", "milliseconds"),
)  # fmt: skip

BY_METRIC: dict[str, Family] = {f.metric: f for f in FAMILIES}
BY_NAME: dict[str, list[Family]] = {}
for _family in FAMILIES:
    BY_NAME.setdefault(_family.name, []).append(_family)


@dataclass(frozen=True)
class PrometheusSeries:
    name: str
    labels: dict[str, str] = field(default_factory=dict)
    exact: bool = False  # its labels as written (remote write): no host, no host labels


_UNESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


def escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def exact_series_key(name: str, labels: list[tuple[str, str]]) -> str:
    """A remote-written series as Prometheus writes it (labels sorted, values escaped), the
    key of a sample's custom series."""
    pairs = ",".join(f'{key}="{escaped(value)}"' for key, value in labels)
    return f"{name}{{{pairs}}}"


def _exact_labels(text: str) -> dict[str, str] | None:
    """``k="v",...`` back into labels; None when it is not that form."""
    labels: dict[str, str] = {}
    i, end = 0, len(text)
    while i < end:
        equals = text.find('="', i)
        if equals <= i:
            return None
        key, i, value = text[i:equals], equals + 2, []
        while i < end and text[i] != '"':
            if text[i] == "\\" and i + 1 < end and text[i + 1] in _UNESCAPES:
                value.append(_UNESCAPES[text[i + 1]])
                i += 2
            else:
                value.append(text[i])
                i += 1
        if i >= end:
            return None
        labels[key] = "".join(value)
        i += 1
        if i < end:
            if text[i] != ",":
                return None
            i += 1
    return labels


def prometheus_series(metric: str) -> PrometheusSeries | None:
    """A stored metric's Prometheus name and labels (without ``host``), or None for a name
    no row of the table covers."""
    if metric.startswith(CUSTOM_PREFIX):
        return custom_series(metric[len(CUSTOM_PREFIX) :])
    base, _, instance = metric.partition(":")
    family = BY_METRIC.get(base)
    if family is None or bool(family.instance) != bool(instance):
        return None
    labels = dict(family.fixed)
    if family.instance:
        labels[family.instance] = instance
    return PrometheusSeries(family.name, labels)


def custom_series(text: str) -> PrometheusSeries:
    """``name``, ``name:key=value,key=value`` (a sender's own series, hostpulse's labels
    added) or ``name{key="value",...}`` (exactly these labels)."""
    brace = text.find("{")
    if brace > 0 and text.endswith("}"):
        exact = _exact_labels(text[brace + 1 : -1])
        if exact is not None:
            return PrometheusSeries(text[:brace], exact, exact=True)
    name, _, pairs = text.partition(":")
    labels: dict[str, str] = {}
    for pair in pairs.split(",") if pairs else ():
        key, sep, value = pair.partition("=")
        if sep and key:
            labels[key] = value
    return PrometheusSeries(name, labels)


# Names Prometheus' conventions give counters (OpenMetrics: a counter's samples end in _total;
# a histogram's and a summary's _count, _sum and _bucket only ever grow too).
COUNTER_SUFFIXES = ("_total", "_count", "_sum", "_bucket")


def is_counter(metric: str) -> bool:
    """Whether a stored metric is a counter: one of hostpulse's typed so, or a sender's series
    named as Prometheus names counters. Its rolled buckets keep what ``rate`` needs."""
    series = prometheus_series(metric)
    if series is None:
        return False
    families = BY_NAME.get(series.name)
    if families and not metric.startswith(CUSTOM_PREFIX):
        return families[0].type == "counter"
    return series.name.endswith(COUNTER_SUFFIXES)


def stored_patterns(name: str) -> list[str]:
    """SQL LIKE patterns of the stored metrics a Prometheus name can be."""
    escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    custom = CUSTOM_PREFIX.replace("_", "\\_")
    patterns = [f.pattern for f in BY_NAME.get(name, [])]
    return [*patterns, f"{custom}{escaped}", f"{custom}{escaped}:%", f"{custom}{escaped}{{%"]


def metadata() -> dict[str, tuple[MetricType, str, str]]:
    """Each of hostpulse's names: its type, help and unit."""
    return {name: (f[0].type, f[0].help, f[0].unit) for name, f in BY_NAME.items()}
