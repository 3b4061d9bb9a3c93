"""Wire contract v1: what an agent sends to ``POST /v1/ingest``.

This module is the single definition of the batch format. The JSON Schema in
``docs/wire-contract-v1.schema.json`` is generated from it (``hostpulse schema``), the agent
builds batches that satisfy it and every server component reads batches through it.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION: Literal[1] = 1
MAX_SAMPLES_PER_BATCH = 1000
MAX_PROCESSES_PER_SAMPLE = 200
MAX_CORES = 1024
MAX_DEVICES = 256
MAX_CUSTOM_PER_SAMPLE = 10_000  # a node_exporter host's series at one scrape, with room
MAX_SERIES_KEY_BYTES = 1024  # a series' name in the unique index beside its host

# The contract's bounds are the bounds of the columns each value lands in, so that every
# batch answered 202 can be stored (bigint and integer columns, double precision values).
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
# Far from float overflow: sums and averages over any bucket (and PostgreSQL's sums of
# squares inside avg) stay finite. 1e18 is a billion gigabytes per second.
VALUE_MAX = 1e18
# A series of the sender's own holds what Prometheus' series hold (node_exporter writes 2^64 - 1
# for "no limit"), up to where PostgreSQL's sums of squares inside avg over a bucket stay finite.
CUSTOM_VALUE_MAX = 1e100
# Text is data: no NUL (PostgreSQL text cannot hold it), no control characters, and no
# bidirectional overrides or isolates that would make one name display as another.
UNSAFE_CHARACTERS = r"\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
SAFE_TEXT = rf"^[^{UNSAFE_CHARACTERS}]*$"
_UNSAFE = re.compile(f"[{UNSAFE_CHARACTERS}]")


def fitted_text(value: str, limit: int) -> str:
    """Text from a sender that does not make it fit itself (the seed agent): what the contract
    refuses becomes U+FFFD and it is cut to ``limit``, as hostpulse's own agent does before
    sending (hostpulse_agent_rules.text)."""
    return _UNSAFE.sub("\ufffd", value)[:limit]


CUSTOM_PREFIX = "custom."  # a custom series' metric name: never one of hostpulse's own
HOSTNAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$"

Name = Annotated[str, Field(min_length=1, max_length=256, pattern=SAFE_TEXT)]


# At most MAX_SERIES_KEY_BYTES in UTF-8 too: checked by the sample (see Sample), once for all.
SeriesName = Annotated[str, Field(min_length=1, max_length=MAX_SERIES_KEY_BYTES, pattern=SAFE_TEXT)]
Label = Annotated[str, Field(max_length=256, pattern=SAFE_TEXT)]
Percent = Annotated[float, Field(ge=0, le=100)]
NonNegative = Annotated[float, Field(ge=0, le=VALUE_MAX)]
Finite = Annotated[float, Field(ge=-VALUE_MAX, le=VALUE_MAX)]
CustomValue = Annotated[float, Field(ge=-CUSTOM_VALUE_MAX, le=CUSTOM_VALUE_MAX)]
Count = Annotated[int, Field(ge=0, le=INT64_MAX)]
SmallCount = Annotated[int, Field(ge=0, le=INT32_MAX)]
AgentId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]


def canonical_host(name: str) -> str:
    """A host's one spelling: host names are case-insensitive (DNS), so every door, every
    store and every query keeps and looks up the lower-case one."""
    return name.lower()


HostName = Annotated[
    str, Field(min_length=1, max_length=253, pattern=HOSTNAME), AfterValidator(canonical_host)
]


class WireModel(BaseModel):
    # strict: "1.5" is not a number; no NaN or infinity; unknown fields are mistakes.
    model_config = ConfigDict(strict=True, allow_inf_nan=False, extra="forbid", frozen=True)


class Cpu(WireModel):
    percent: Percent
    user: Percent | None = None
    system: Percent | None = None
    iowait: Percent | None = None
    steal: Percent | None = None
    per_core: list[Percent] = Field(default_factory=list, max_length=MAX_CORES)


class Memory(WireModel):
    total_bytes: Count
    used_bytes: Count
    available_bytes: Count
    percent: Percent
    swap_total_bytes: Count = 0
    swap_used_bytes: Count = 0
    swap_percent: Percent = 0.0


class Load(WireModel):
    load1: NonNegative
    load5: NonNegative
    load15: NonNegative


class DiskUsage(WireModel):
    mount: Name
    device: Label = ""
    fstype: Label = ""
    total_bytes: Count
    used_bytes: Count
    percent: Percent


class DiskIo(WireModel):
    device: Name
    read_bytes_per_s: NonNegative
    write_bytes_per_s: NonNegative
    read_ops_per_s: NonNegative = 0.0
    write_ops_per_s: NonNegative = 0.0


class NetIo(WireModel):
    interface: Name
    rx_bytes_per_s: NonNegative
    tx_bytes_per_s: NonNegative
    rx_packets_per_s: NonNegative = 0.0
    tx_packets_per_s: NonNegative = 0.0
    rx_errors_per_s: NonNegative = 0.0
    tx_errors_per_s: NonNegative = 0.0
    rx_drops_per_s: NonNegative = 0.0
    tx_drops_per_s: NonNegative = 0.0


class Process(WireModel):
    pid: SmallCount
    name: Label
    cmdline: Annotated[str, Field(max_length=1024, pattern=SAFE_TEXT)] = ""
    user: Label = ""
    cpu_percent: NonNegative
    rss_bytes: Count
    threads: SmallCount = 0
    read_bytes_per_s: NonNegative = 0.0
    write_bytes_per_s: NonNegative = 0.0
    # Cumulative counters, for senders (such as the seed agent) that report totals, not rates.
    read_bytes_total: Count | None = None
    write_bytes_total: Count | None = None
    open_files: SmallCount | None = None
    status: Label = ""


class AgentSelf(WireModel):
    """The agent's own health, sent in every batch."""

    cpu_percent: NonNegative = 0.0
    rss_bytes: Count = 0
    spool_bytes: Count = 0
    dropped_batches: Count = 0
    retried_batches: Count = 0
    send_latency_ms: NonNegative = 0.0


class Sample(WireModel):
    ts_ms: Annotated[int, Field(gt=0, le=INT64_MAX, description="Unix time in milliseconds")]
    cpu: Cpu | None = None
    memory: Memory | None = None
    load: Load | None = None
    disks: list[DiskUsage] = Field(default_factory=list, max_length=MAX_DEVICES)
    disk_io: list[DiskIo] = Field(default_factory=list, max_length=MAX_DEVICES)
    net: list[NetIo] = Field(default_factory=list, max_length=MAX_DEVICES)
    uptime_s: NonNegative | None = None
    process_count: SmallCount | None = None
    processes: list[Process] = Field(default_factory=list, max_length=MAX_PROCESSES_PER_SAMPLE)
    agent: AgentSelf | None = None
    custom: dict[SeriesName, CustomValue] = Field(
        default_factory=dict,
        max_length=MAX_CUSTOM_PER_SAMPLE,
        description="series of the sender's own, read back as custom.<name> (a name of at"
        f" most {MAX_SERIES_KEY_BYTES} bytes in UTF-8)",
    )

    @model_validator(mode="after")
    def _one_entry_per_instance(self) -> Sample:
        # A metric's instance (mount, device, interface) or a pid names one row per time:
        # a second entry with the same name could not be stored beside the first.
        for what, names in (
            ("disks.mount", [d.mount for d in self.disks]),
            ("disk_io.device", [d.device for d in self.disk_io]),
            ("net.interface", [n.interface for n in self.net]),
            ("processes.pid", [p.pid for p in self.processes]),
        ):
            if len(set(names)) != len(names):
                raise ValueError(f"{what} repeats a value within one sample")
        # Only a name of more than a quarter of the bound in characters can pass it in bytes.
        for name in self.custom:
            if len(name) > MAX_SERIES_KEY_BYTES // 4 and len(name.encode()) > MAX_SERIES_KEY_BYTES:
                raise ValueError(f"custom: {name[:40]!r}... is over {MAX_SERIES_KEY_BYTES} bytes")
        return self


Labels = Annotated[
    dict[Annotated[str, Field(min_length=1, max_length=64, pattern=SAFE_TEXT)], Label],
    Field(max_length=32),
]


class HostFacts(WireModel):
    hostname: HostName
    os: Label = ""
    platform: Label = ""
    cpu_count: SmallCount | None = None
    agent_version: Label = ""
    labels: Labels = Field(default_factory=dict)
    config_version: Count | None = Field(
        None, description="the version of the central agent configuration the agent runs"
    )


class CommandAck(WireModel):
    """A command the agent ran, and what it did (diagnostics: its own state)."""

    id: Count
    result: dict[
        Annotated[str, Field(min_length=1, max_length=64, pattern=SAFE_TEXT)],
        Label | bool | int | float | None,
    ] = Field(default_factory=dict, max_length=32)


class AgentSync(WireModel):
    """POST /v1/agent/sync: an agent asks which settings its host should run and which
    commands wait for it, and acknowledges the commands it ran."""

    hostname: HostName
    labels: Labels = Field(default_factory=dict)
    config_version: Count | None = None
    acks: list[CommandAck] = Field(default_factory=list, max_length=100)


class Batch(WireModel):
    schema_version: Literal[1] = SCHEMA_VERSION
    agent_id: AgentId
    seq: Annotated[
        int, Field(ge=0, le=INT64_MAX, description="Per-agent sequence number; only grows")
    ]
    host: HostFacts
    samples: list[Sample] = Field(min_length=1, max_length=MAX_SAMPLES_PER_BATCH)

    @model_validator(mode="after")
    def _one_sample_per_time(self) -> Batch:
        # The raw tier keeps one value per series and time: a second sample at the same
        # millisecond could not be stored beside the first.
        if len({s.ts_ms for s in self.samples}) != len(self.samples):
            raise ValueError("two samples have the same ts_ms")
        return self


def has_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


def metric_matches(pattern: str, name: str) -> bool:
    """A metric name against what a query or a rule asks for: a glob such as ``cpu.core:*``
    when it has ``*``, ``?`` or ``[``, otherwise that very name."""
    return fnmatch.fnmatchcase(name, pattern) if has_glob(pattern) else name == pattern


def metric_values(sample: Sample) -> Iterator[tuple[str, float]]:  # noqa: PLR0912 -- one branch per metric group of the contract
    """A sample as (metric, value) pairs; the metric names every tier and query uses.

    Names are ``group.field`` with an optional ``:instance`` (core, mount, device, interface).
    """
    if sample.cpu is not None:
        cpu = sample.cpu
        yield "cpu.percent", cpu.percent
        for field in ("user", "system", "iowait", "steal"):
            value = getattr(cpu, field)
            if value is not None:
                yield f"cpu.{field}", value
        for core, value in enumerate(cpu.per_core):
            yield f"cpu.core:{core}", value
    if sample.memory is not None:
        mem = sample.memory
        yield "mem.total_bytes", float(mem.total_bytes)
        yield "mem.used_bytes", float(mem.used_bytes)
        yield "mem.available_bytes", float(mem.available_bytes)
        yield "mem.percent", mem.percent
        yield "swap.used_bytes", float(mem.swap_used_bytes)
        yield "swap.percent", mem.swap_percent
    if sample.load is not None:
        yield "load.1", sample.load.load1
        yield "load.5", sample.load.load5
        yield "load.15", sample.load.load15
    for disk in sample.disks:
        yield f"disk.used_bytes:{disk.mount}", float(disk.used_bytes)
        yield f"disk.percent:{disk.mount}", disk.percent
    for io in sample.disk_io:
        yield f"diskio.read_bytes_per_s:{io.device}", io.read_bytes_per_s
        yield f"diskio.write_bytes_per_s:{io.device}", io.write_bytes_per_s
        yield f"diskio.read_ops_per_s:{io.device}", io.read_ops_per_s
        yield f"diskio.write_ops_per_s:{io.device}", io.write_ops_per_s
    for nic in sample.net:
        for field in (
            "rx_bytes_per_s",
            "tx_bytes_per_s",
            "rx_packets_per_s",
            "tx_packets_per_s",
            "rx_errors_per_s",
            "tx_errors_per_s",
            "rx_drops_per_s",
            "tx_drops_per_s",
        ):
            yield f"net.{field}:{nic.interface}", getattr(nic, field)
    if sample.uptime_s is not None:
        yield "uptime_s", sample.uptime_s
    if sample.process_count is not None:
        yield "process_count", float(sample.process_count)
    if sample.agent is not None:
        for field, value in sample.agent.model_dump().items():
            yield f"agent.{field}", float(value)
    for name, value in sample.custom.items():
        yield f"{CUSTOM_PREFIX}{name}", value


def json_schema() -> dict[str, object]:
    schema = Batch.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://hostpulse.dev/schemas/wire-contract-v1.json"
    schema["title"] = "hostpulse ingest batch, wire contract v1"
    return schema
