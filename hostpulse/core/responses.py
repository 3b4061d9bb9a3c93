"""The read side's answers, typed: what the query service and the alert store return, and what
the API declares in its OpenAPI description (pydantic reads these TypedDicts as they are).

Answers built from stored data are described, not re-checked against the wire contract's
bounds: a row stored under an older, looser contract must still be readable.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict

from hostpulse.core.tiers import TierName

HostStatus = Literal["live", "stale", "down", "retired"]
# Shapes that carry more than they name (a whole sample, facts a newer agent adds) keep it all.
OPEN = ConfigDict(extra="allow")
Millis = Annotated[int, Field(description="Unix time in milliseconds")]


class Completeness(TypedDict):
    """Received against expected batches over the last day, from gaps in sequence numbers."""

    batches: int
    missing_batches: int
    percent: float | None


class AtAGlance(TypedDict):
    """A host's newest sample as the fleet view shows it."""

    ts_ms: Millis
    cpu_percent: float | None
    mem_percent: float | None
    disk_percent: Annotated[float | None, Field(description="its fullest file system")]
    load1: float | None


@with_config(OPEN)
class HostFactsView(TypedDict, total=False):
    """What the host's agent says about it (the contract's HostFacts, as stored)."""

    hostname: str
    os: str
    platform: str
    cpu_count: int | None
    agent_version: str
    labels: dict[str, str]


class HostEntry(TypedDict):
    host: str
    agent_id: Annotated[str | None, Field(description="None until its first batch is stored")]
    status: HostStatus
    last_seen_ms: Millis
    first_seen_ms: Millis
    last_received_ms: Millis | None
    completeness: Annotated[
        Completeness | None,
        Field(description="None for the seed agent and OTLP senders, which send no seq"),
    ]
    facts: HostFactsView
    now: AtAGlance | None
    retired_ms: NotRequired[Millis]


class RetiredHost(TypedDict):
    host: str
    retired_ms: Millis
    retired_by: str | None


class HostList(TypedDict):
    hosts: list[HostEntry]
    retired: NotRequired[Annotated[int, Field(description="hosts retired, not listed")]]


SeriesPoint = tuple[int, float, float, float, int]


class SeriesLine(TypedDict):
    metric: str
    points: Annotated[
        list[SeriesPoint], Field(description="[ts_ms, avg, min, max, count], oldest first")
    ]


class SeriesAnswer(TypedDict):
    host: str
    tier: TierName
    step_s: int
    from_ms: Millis
    to_ms: Millis
    columns: list[str]
    series: list[SeriesLine]
    missing: Annotated[list[str], Field(description="asked-for names the host has no data of")]


class CompactSample(TypedDict):
    """A hot-tier sample: its time and every metric value, without processes."""

    ts: Millis
    m: dict[str, float]


class RecentAnswer(TypedDict):
    host: str
    from_ms: Millis
    samples: list[CompactSample]


@with_config(OPEN)
class ProcessRow(TypedDict):
    """A process as the newest stored snapshot holds it."""

    pid: int
    name: str
    cmdline: str
    user: str
    cpu_percent: float
    rss_bytes: int
    threads: int
    read_bytes_per_s: float
    write_bytes_per_s: float
    read_bytes_total: int | None
    write_bytes_total: int | None
    open_files: int | None
    status: str


@with_config(OPEN)
class LatestSample(TypedDict):
    """From the hot tier: the whole sample as sent; from the raw tier: its processes."""

    ts_ms: Millis
    processes: list[ProcessRow]


class LatestAnswer(TypedDict):
    host: str
    source: Literal["hot", "raw"]
    sample: LatestSample


class ProcessPoint(TypedDict):
    ts_ms: Millis
    name: str
    cpu_percent: float
    rss_bytes: int
    threads: int
    read_bytes_per_s: float
    write_bytes_per_s: float
    open_files: int | None
    status: str


class ProcessHistory(TypedDict):
    host: str
    pid: int
    points: list[ProcessPoint]


class RuleEntry(TypedDict):
    name: str
    source: Literal["file", "api"]
    rule: Annotated[dict[str, Any], Field(description="the rule, as PUT takes it")]
    updated_at: Annotated[str, Field(description="ISO 8601")]
    promql: NotRequired[
        Annotated[str | None, Field(description="the same rule in Prometheus' rule format")]
    ]


class RuleList(TypedDict):
    rules: list[RuleEntry]


class ActiveAlert(TypedDict):
    rule: str
    host: str
    state: Literal["firing", "pending"]
    active_since_ms: Millis
    value: float | None
    severity: NotRequired[str]
    fired_at_ms: NotRequired[Millis]
    labels: NotRequired[dict[str, str]]
    annotations: NotRequired[dict[str, str]]
    silenced_by: NotRequired[list[int]]  # the silences holding its notifications back
    rule_group: NotRequired[str]  # a Prometheus rule group's alert: the group


class ActiveAlerts(TypedDict):
    alerts: list[ActiveAlert]


class SilenceMatcher(TypedDict):
    name: str
    value: str
    op: Literal["=", "!=", "=~", "!~"]


class SilenceEntry(TypedDict):
    id: int
    matchers: list[SilenceMatcher]
    starts_ms: Millis
    ends_ms: Millis
    comment: str
    created_by: str
    created_ms: Millis
    state: Literal["pending", "active", "expired"]
    expired_ms: Millis | None
    expired_by: str | None


class SilenceList(TypedDict):
    silences: list[SilenceEntry]


class SilenceAnswer(TypedDict):
    silence: SilenceEntry


AlertState = Literal["pending", "firing", "resolved"]


class AlertEvent(TypedDict):
    rule: str
    host: str
    state: AlertState
    ts_ms: Millis
    value: float | None
    severity: str
    summary: str
    fingerprint: NotRequired[str]  # a rule file's alert: which label set of its rule


class AlertHistory(TypedDict):
    events: list[AlertEvent]


class ComponentHealth(TypedDict):
    healthy: bool
    detail: str


StoreState = Literal["connected", "disconnected"]


class HealthAnswer(TypedDict):
    status: Literal["ok", "degraded"]
    components: dict[str, ComponentHealth]
    # The seed platform's health answer names its two stores at the top level, and its
    # dashboard's backend panel reads them there: the same facts as ``components``.
    redis: NotRequired[Annotated[StoreState, Field(description="seed shape: components.redis")]]
    postgres: NotRequired[
        Annotated[StoreState, Field(description="seed shape: components.postgres")]
    ]


class QueueHealth(TypedDict):
    waiting: int
    in_flight: int
    delayed: int
    dead_letters: int
    oldest_dead_letter_age_s: float | None


class PipelineAnswer(TypedDict):
    """The pipeline itself: its queues, and how far the tiers are behind what ingest saw."""

    status: Literal["ok", "degraded"]
    queues: dict[str, QueueHealth]
    newest_ingested_ms: int | None  # the newest sample ingest put in the hot tier
    newest_stored_ms: int | None  # the newest sample aggregation put in PostgreSQL
    aggregate_lag_s: float | None  # how far the tiers are behind ingest
    lag_bound_s: float
    problems: list[str]


class QueueHistory(TypedDict):
    waiting: list[int | None]  # waiting or delayed
    in_flight: list[int | None]
    dead_letters: list[int | None]


class PipelineHistoryAnswer(TypedDict):
    """The pipeline minute by minute, in columns beside ``minutes_ms``; null where no minute
    was recorded."""

    step_s: int
    minutes_ms: list[int]
    ingest_batches: list[float | None]  # answered 2xx
    ingest_samples: list[float | None]
    ingest_refused: list[float | None]  # 4xx
    ingest_failed: list[float | None]  # 5xx
    latency_avg_ms: list[float | None]  # ingest's own time per request
    latency_p95_ms: list[float | None]  # estimated from a histogram, as Prometheus does
    aggregate_stored: list[float | None]  # batches
    aggregate_failed: list[float | None]  # messages handed back for a retry
    lag_s: list[float | None]
    series_over_budget: list[float | None]  # values whose series was past its host's budget
    queues: dict[str, QueueHistory]


class Problem(TypedDict):
    """Every refusal of the API: 4xx with what was wrong."""

    detail: str
