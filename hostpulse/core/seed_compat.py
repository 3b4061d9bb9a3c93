"""The seed platform's shapes, in one place: its snapshot (``POST /ingest/metrics``) mapped onto
wire contract v1, and hostpulse's answers in the shapes its dashboard reads (recent snapshots,
the live feed, recent alerts).

The seed agent sends no host name and no sequence number: the agent's name stands for the host
and the snapshot's millisecond timestamp for the sequence number (it only grows per agent).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from typing_extensions import TypedDict

from hostpulse.core.contract import (
    INT32_MAX,
    INT64_MAX,
    SAFE_TEXT,
    Batch,
    Cpu,
    HostFacts,
    Memory,
    Process,
    Sample,
    fitted_text,
)
from hostpulse.core.responses import AlertEvent, CompactSample

MB = 1024 * 1024
# Megabytes that still fit the byte columns (bigint) once multiplied out.
Megabytes = Annotated[float, Field(ge=0, le=INT64_MAX // MB)]
SmallCount = Annotated[int, Field(ge=0, le=INT32_MAX)]
# Later than any clock can be, earlier than Unix time: in ms, the largest a timestamp can be.
MAX_TIMESTAMP_MS = 10**14
SEED_TOP_PROCESSES = 12  # as many as the seed keeps with each snapshot


class SeedProcess(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="ignore")

    pid: SmallCount
    name: Annotated[str, Field(max_length=256, pattern=SAFE_TEXT)]
    cpu_percent: Annotated[float, Field(ge=0, le=1e6)] = 0.0
    memory_mb: Megabytes = 0.0
    thread_count: SmallCount = 0
    io_read_mb: Megabytes = 0.0
    io_write_mb: Megabytes = 0.0
    handle_count: SmallCount | None = None

    @field_validator("name", mode="before")
    @classmethod
    def _fitted(cls, value: object) -> object:
        # One user's oddly named process must not make the host go dark: the seed agent
        # sends names as the system gives them.
        return fitted_text(value, 256) if isinstance(value, str) else value


class SeedSnapshot(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="ignore")

    timestamp: float | str
    total_cpu_percent: Annotated[float, Field(ge=0, le=100)]
    per_core_cpu_percent: list[Annotated[float, Field(ge=0, le=100)]] = Field(
        default_factory=list, max_length=1024
    )
    system_memory_total_mb: Megabytes | None = None
    system_memory_used_mb: Megabytes | None = None
    top_processes: list[SeedProcess] = Field(default_factory=list, max_length=200)

    @field_validator("timestamp")
    @classmethod
    def _known_timestamp(cls, value: float | str) -> float | str:
        timestamp_ms(value)
        return value


def timestamp_ms(value: float | str) -> int:
    """Epoch seconds, epoch milliseconds or ISO 8601, as the seed agent's versions sent them."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            try:
                value = float(value)
            except ValueError:
                raise ValueError(f"timestamp {value!r} is neither a number nor ISO 8601") from None
        else:
            if parsed.tzinfo is None:  # no zone given: UTC, whatever the server's zone
                parsed = parsed.replace(tzinfo=UTC)
            return int(parsed.timestamp() * 1000)
    if not 0 < value < MAX_TIMESTAMP_MS:  # also refuses NaN and infinity ("inf", "1e400")
        raise ValueError(f"timestamp {value!r} is not a time in seconds or milliseconds")
    return int(value if value > 1e11 else value * 1000)


def seed_batch(snapshot: SeedSnapshot, agent_id: str) -> Batch:
    ts = timestamp_ms(snapshot.timestamp)
    memory = None
    if snapshot.system_memory_total_mb and snapshot.system_memory_used_mb is not None:
        total = int(snapshot.system_memory_total_mb * MB)
        used = min(total, int(snapshot.system_memory_used_mb * MB))
        memory = Memory(
            total_bytes=total,
            used_bytes=used,
            available_bytes=total - used,
            percent=round(100 * used / total, 2),
        )
    return Batch(
        agent_id=agent_id,
        seq=ts,
        host=HostFacts(hostname=agent_id, agent_version="seed"),
        samples=[
            Sample(
                ts_ms=ts,
                cpu=Cpu(percent=snapshot.total_cpu_percent, per_core=snapshot.per_core_cpu_percent),
                memory=memory,
                processes=[
                    Process(
                        pid=p.pid,
                        name=p.name,
                        cpu_percent=p.cpu_percent,
                        rss_bytes=int(p.memory_mb * MB),
                        threads=p.thread_count,
                        read_bytes_total=int(p.io_read_mb * MB),
                        write_bytes_total=int(p.io_write_mb * MB),
                        open_files=p.handle_count,
                    )
                    for p in snapshot.top_processes
                ],
            )
        ],
    )


class SeedProcessAnswer(TypedDict):
    pid: int
    name: str
    cpu_percent: float
    memory_mb: float
    thread_count: int
    io_read_mb: float
    io_write_mb: float
    handle_count: int | None


class SeedSnapshotAnswer(TypedDict):
    """The seed's snapshot as its dashboard reads it (``host`` added: hostpulse has many)."""

    host: str
    timestamp: Annotated[float, Field(description="Unix time in seconds")]
    total_cpu_percent: float | None
    per_core_cpu_percent: list[float]
    system_memory_total_mb: float | None
    system_memory_used_mb: float | None
    top_processes: list[SeedProcessAnswer]


class SeedAlert(TypedDict):
    """One alert transition as the seed's ``GET /api/alerts/recent`` lists it."""

    host: str
    rule: str
    state: str
    severity: str
    value: float | None
    message: str
    timestamp: Annotated[float, Field(description="Unix time in seconds")]


def seed_snapshot(
    host: str, compact: CompactSample, processes: Sequence[Mapping[str, Any]] | None = None
) -> SeedSnapshotAnswer:
    """A hot-tier sample (``{"ts", "m"}``) in the seed platform's snapshot shape, the way
    ``GET /api/metrics/recent`` and ``/ws/metrics`` answer the seed dashboard."""
    metrics: dict[str, float] = compact["m"]
    cores = sorted(
        (int(name.split(":", 1)[1]), value)
        for name, value in metrics.items()
        if name.startswith("cpu.core:")
    )
    total = metrics.get("mem.total_bytes")
    used = metrics.get("mem.used_bytes")
    return {
        "host": host,
        "timestamp": compact["ts"] / 1000,
        "total_cpu_percent": metrics.get("cpu.percent"),
        "per_core_cpu_percent": [value for _, value in cores],
        "system_memory_total_mb": None if total is None else round(total / MB, 1),
        "system_memory_used_mb": None if used is None else round(used / MB, 1),
        "top_processes": [seed_process(p) for p in busiest(processes or [])],
    }


def busiest(processes: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The seed keeps its snapshots' top processes: the busiest ``SEED_TOP_PROCESSES``."""
    ranked = sorted(processes, key=lambda p: p["cpu_percent"], reverse=True)
    return ranked[:SEED_TOP_PROCESSES]


def seed_process(process: Mapping[str, Any]) -> SeedProcessAnswer:
    return {
        "pid": process["pid"],
        "name": process["name"],
        "cpu_percent": process["cpu_percent"],
        "memory_mb": round(process["rss_bytes"] / MB, 1),
        "thread_count": process.get("threads", 0),
        "io_read_mb": round((process.get("read_bytes_total") or 0) / MB, 1),
        "io_write_mb": round((process.get("write_bytes_total") or 0) / MB, 1),
        "handle_count": process.get("open_files"),
    }


def seed_alert(event: AlertEvent) -> SeedAlert:
    return {
        "host": event["host"],
        "rule": event["rule"],
        "state": event["state"],
        "severity": event["severity"],
        "value": event["value"],
        "message": event["summary"],
        "timestamp": event["ts_ms"] / 1000,
    }
