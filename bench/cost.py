"""What hostpulse costs on AWS per host and month (docs/cost.md), beside CloudWatch custom
metrics for the same metrics at the same resolution.

A model, not a bill: the prices are AWS's list prices for us-east-1 (PRICES_AS_OF), the
per-host traffic follows from the agent's defaults and a real sample's size, and the functions'
durations come from this repository's own benchmarks (bench/results/). Where a figure is a
choice (the database and cache sizes per fleet), it says so.

    python -m bench.cost     # writes bench/results/cost.json
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.common import RESULTS, trigger, write_result
from hostpulse.core.contract import metric_values
from hostpulse.core.envelope import gzipped
from hostpulse.services.aggregate.service import LINE_END
from hostpulse.simulation.host import SyntheticHost

PRICES_AS_OF = "2026-11 (AWS list prices, us-east-1, on-demand, no free tier)"
SECONDS_PER_MONTH = 730 * 3600  # AWS's billing month
SQS_MESSAGES_PER_REQUEST = 10  # a receive or a batch delete, whatever the function's batch
FLEETS = (100, 1_000, 10_000)

Tiers = Sequence[tuple[float, float]]  # (units in this tier, price per unit)


def tiered(units: float, tiers: Tiers) -> float:
    """The price of ``units`` under volume tiers, each (size, price per unit)."""
    total, left = 0.0, units
    for size, price in tiers:
        used = min(left, size)
        total += used * price
        left -= used
        if left <= 0:
            break
    return total


@dataclass(frozen=True)
class Prices:
    # Per request: REST API (what hostpulse deploys), and HTTP API as the cheaper option.
    rest_api: Tiers = ((333e6, 3.50e-6), (667e6, 2.80e-6), (19e9, 2.38e-6), (math.inf, 1.51e-6))
    http_api: Tiers = ((300e6, 1.00e-6), (math.inf, 0.90e-6))
    lambda_request: float = 0.20e-6
    lambda_gb_s_arm64: float = 0.0000133334
    sqs_request: float = 0.40e-6  # standard queue, per 64 KiB chunk
    s3_put: float = 0.005e-3
    s3_gb_month: float = 0.023
    rds_gb_month: float = 0.115  # gp2/gp3 storage
    rds_hourly: dict[str, float] = field(
        default_factory=lambda: {
            "db.t4g.medium": 0.065,
            "db.r6g.large": 0.225,
            "db.r6g.2xlarge": 0.899,
        }
    )
    cache_hourly: dict[str, float] = field(
        default_factory=lambda: {
            "cache.t4g.small": 0.032,
            "cache.t4g.medium": 0.065,
            "cache.r6g.large": 0.206,
        }
    )
    # CloudWatch custom metrics, per metric and month, and PutMetricData per request.
    cloudwatch_metric: Tiers = ((10e3, 0.30), (240e3, 0.10), (750e3, 0.05), (math.inf, 0.02))
    cloudwatch_put: float = 0.01e-3


# The database and cache chosen for each fleet size: choices, to be confirmed by a fleet-scale
# run, not measurements.
SIZING = {
    100: ("db.t4g.medium", "cache.t4g.small"),
    1_000: ("db.r6g.large", "cache.t4g.medium"),
    10_000: ("db.r6g.2xlarge", "cache.r6g.large"),
}


@dataclass(frozen=True)
class Workload:
    interval_s: float = 5.0  # the agent's defaults
    send_every_s: float = 10.0
    # Each queue's trigger (stack/stack.yaml): at most so many messages per invocation, and how
    # long Lambda's poller gathers them. Without a window a poll returns what is there, up to 10.
    aggregate_batch: int = field(default_factory=lambda: trigger("aggregate").batch_size)
    aggregate_window_s: float = field(
        default_factory=lambda: trigger("aggregate").batching_window_seconds
    )
    alerts_batch: int = field(default_factory=lambda: trigger("alerts").batch_size)
    # Memory of each function in stack/stack.yaml, in GB.
    ingest_gb: float = 0.25
    aggregate_gb: float = 0.5
    alerts_gb: float = 0.25
    raw_days: float = 2.0  # 24 h kept, dropped by whole day partitions: up to two days held
    minute_days: float = 7.0
    hour_days: float = 90.0
    bytes_per_row: float = 80.0  # a tier row with its share of the primary key index
    archive_months: float = 1.0  # archive objects kept (an S3 lifecycle rule)
    http_api: bool = False  # API Gateway's HTTP API instead of the REST API deployed today


@dataclass(frozen=True)
class Measured:
    """Figures this repository measured (bench/results), with where they come from."""

    series_per_host: int
    processes_per_sample: int
    batch_gzip_bytes: int
    ingest_s_per_batch: float
    aggregate_s_per_message: float
    alerts_s_per_message: float


def measured() -> Measured:
    sample = SyntheticHost("cost", cores=8).batch([1_800_000_000_000, 1_800_000_005_000])
    ingest = json.loads((RESULTS / "ingest_vs_bare.json").read_text())
    aggregate = json.loads((RESULTS / "aggregate_vs_copy.json").read_text())
    alerts = json.loads((RESULTS / "alerts.json").read_text())
    rows_per_message = aggregate["rows"] / aggregate["batches"]
    return Measured(
        series_per_host=len(list(metric_values(sample.samples[0]))),
        processes_per_sample=len(sample.samples[0].processes),
        # As the archive holds it: the gzip member it travelled in, and a line end.
        batch_gzip_bytes=len(gzipped(sample.model_dump_json().encode())) + len(LINE_END),
        ingest_s_per_batch=1 / ingest["ingest_batches_per_s"],
        aggregate_s_per_message=rows_per_message / aggregate["aggregate_rows_per_s"],
        # Every rule evaluated for every batch (alerts.json: 100 rules), with the store.
        alerts_s_per_message=alerts["rule_evaluations"]
        / alerts["batches"]
        / alerts["per_second_with_store"],
    )


def messages_per_invocation(hosts: int, work: Workload) -> dict[str, float]:
    """What an invocation takes from each queue, on average. The aggregate trigger's window
    gathers the batches of one window (a fleet sends ``hosts / send_every_s`` a second) up to
    its batch size; the alerts trigger, without a window, takes up to its batch size from what
    waits, counted here as full (its invocations an upper bound)."""
    per_window = hosts / work.send_every_s * work.aggregate_window_s
    return {
        "aggregate": min(work.aggregate_batch, max(1.0, per_window)),
        "alerts": work.alerts_batch,
    }


def per_month(hosts: int, work: Workload, m: Measured, prices: Prices) -> dict[str, float]:
    """Dollars per month for ``hosts``, by part."""
    batches = hosts * SECONDS_PER_MONTH / work.send_every_s
    taken = messages_per_invocation(hosts, work)
    aggregate_invocations = batches / taken["aggregate"]
    invocations = aggregate_invocations + batches / taken["alerts"]  # both queues
    gb_s = batches * (
        work.ingest_gb * m.ingest_s_per_batch
        + work.aggregate_gb * m.aggregate_s_per_message
        + work.alerts_gb * m.alerts_s_per_message
    )
    # Ingest sends one message to each of the two queues; each consumer receives and deletes
    # them in requests of SQS_MESSAGES_PER_REQUEST. Empty polls are left out.
    sqs_requests = batches * 2 + 2 * 2 * batches / SQS_MESSAGES_PER_REQUEST
    rows_per_second = hosts * m.series_per_host / work.interval_s
    process_rows_per_second = hosts * m.processes_per_sample / work.interval_s
    held_rows = (
        rows_per_second + process_rows_per_second
    ) * work.raw_days * 86400 + hosts * m.series_per_host * (
        work.minute_days * 1440 + work.hour_days * 24
    )
    database, cache = SIZING[hosts]
    archive_gb = batches * m.batch_gzip_bytes / 1e9 * work.archive_months
    return {
        "api_gateway": tiered(batches, prices.http_api if work.http_api else prices.rest_api),
        "lambda_requests": (batches + invocations) * prices.lambda_request,
        "lambda_duration": gb_s * prices.lambda_gb_s_arm64,
        "sqs": sqs_requests * prices.sqs_request,
        "s3_archive": aggregate_invocations * prices.s3_put + archive_gb * prices.s3_gb_month,
        "rds_instance": prices.rds_hourly[database] * 730,
        "rds_storage": held_rows * work.bytes_per_row / 1e9 * prices.rds_gb_month,
        "elasticache": prices.cache_hourly[cache] * 730,
    }


def cloudwatch(hosts: int, work: Workload, m: Measured, prices: Prices) -> dict[str, float]:
    """The same series as CloudWatch custom metrics at the same (high) resolution, sent in one
    PutMetricData per batch (up to 1,000 values each)."""
    metrics = hosts * m.series_per_host
    puts = hosts * SECONDS_PER_MONTH / work.send_every_s
    return {
        "custom_metrics": tiered(metrics, prices.cloudwatch_metric),
        "put_metric_data": puts * prices.cloudwatch_put,
    }


# What moves the figure, each against the defaults at 1,000 hosts.
KNOBS = {
    "batches every 30 s instead of 10 s": Workload(send_every_s=30),
    "batches every 60 s": Workload(send_every_s=60),
    "HTTP API instead of REST API": Workload(http_api=True),
    "HTTP API, batches every 60 s": Workload(http_api=True, send_every_s=60),
    "functions with twice the memory (same duration)": Workload(
        ingest_gb=0.5, aggregate_gb=1.0, alerts_gb=0.5
    ),
    "archive kept 12 months": Workload(archive_months=12),
}


def main() -> None:
    prices, work, m = Prices(), Workload(), measured()
    fleets: dict[str, Any] = {}
    for hosts in FLEETS:
        ours, theirs = per_month(hosts, work, m, prices), cloudwatch(hosts, work, m, prices)
        fleets[str(hosts)] = {
            "sizing": SIZING[hosts],
            "messages_per_invocation": messages_per_invocation(hosts, work),
            "hostpulse": {k: round(v, 2) for k, v in ours.items()},
            "hostpulse_per_host": round(sum(ours.values()) / hosts, 3),
            "cloudwatch": {k: round(v, 2) for k, v in theirs.items()},
            "cloudwatch_per_host": round(sum(theirs.values()) / hosts, 3),
        }
    knobs = {
        name: round(sum(per_month(1_000, changed, m, prices).values()) / 1_000, 3)
        for name, changed in KNOBS.items()
    }
    write_result(
        "cost",
        {
            "prices_as_of": PRICES_AS_OF,
            "workload": asdict(work),
            "measured": asdict(m),
            "fleets": fleets,
            "knobs_per_host_at_1000": knobs,
        },
    )


if __name__ == "__main__":
    main()
