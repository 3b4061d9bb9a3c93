"""An OTLP metrics request as plain points, grouped by the host each resource names.

OpenTelemetry nests points in resources, scopes and metrics, and carries each value in one of
several shapes. Here each becomes a :class:`Point`: which host, which process (the host-metrics
receiver reports each process as a resource of its own), the metric's name, its attributes, and
a number. Histograms and summaries become their count and sum, which are what a time series of
them can hold.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, Metric

from hostpulse.core.contract import VALUE_MAX, canonical_host

NO_RECORDED_VALUE = 1  # DataPointFlags.FLAG_NO_RECORDED_VALUE: a series ended, not a value
DELTA = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA

Attributes = Mapping[str, str | int | float | bool]


@dataclass(frozen=True)
class Point:
    metric: str
    attributes: Attributes
    start_ns: int
    time_ns: int
    value: float
    cumulative: bool = False  # a monotonic total: its rate is what a host page shows
    delta: bool = False  # a monotonic sum over [start, time]: its rate needs no history
    pid: int | None = None  # the process resource it came from


@dataclass
class HostPoints:
    """Everything one request says about one host."""

    hostname: str
    resource: dict[str, str | int | float | bool] = field(default_factory=dict)
    processes: dict[int, Attributes] = field(default_factory=dict)
    points: list[Point] = field(default_factory=list)
    refused: int = 0  # points that carried no number a series can hold
    serialized: list[bytes] = field(default_factory=list)  # its resources, for the batch id


@dataclass
class Flattened:
    hosts: dict[str, HostPoints] = field(default_factory=dict)
    without_host: int = 0  # points of resources that name no host


def plain(value: AnyValue) -> str | int | float | bool:
    kind = value.WhichOneof("value")
    if kind in ("string_value", "int_value", "double_value", "bool_value"):
        plain_value: str | int | float | bool = getattr(value, kind)
        return plain_value
    if kind == "bytes_value":
        return value.bytes_value.hex()
    if kind == "array_value":
        return ",".join(str(plain(v)) for v in value.array_value.values)
    if kind == "kvlist_value":
        return ",".join(f"{kv.key}={plain(kv.value)}" for kv in value.kvlist_value.values)
    return ""


def attributes_of(pairs: Any) -> dict[str, str | int | float | bool]:
    return {kv.key: plain(kv.value) for kv in pairs if isinstance(kv, KeyValue)}


def flatten(request: ExportMetricsServiceRequest) -> Flattened:
    answer = Flattened()
    for resource_metrics in request.resource_metrics:
        resource = attributes_of(resource_metrics.resource.attributes)
        hostname = resource.get("host.name")
        points = [
            point
            for scope in resource_metrics.scope_metrics
            for metric in scope.metrics
            for point in metric_points(metric)
        ]
        if not isinstance(hostname, str) or not hostname:
            answer.without_host += len(points)
            continue
        name = canonical_host(hostname)
        host = answer.hosts.setdefault(name, HostPoints(name))
        host.serialized.append(resource_metrics.SerializeToString(deterministic=True))
        pid = resource.get("process.pid")
        if isinstance(pid, int) and not isinstance(pid, bool):
            host.processes[pid] = resource
            points = [with_pid(p, pid) for p in points]
        else:
            host.resource.update(resource)
        for point in points:
            if math.isfinite(point.value) and abs(point.value) <= VALUE_MAX:
                host.points.append(point)
            else:
                host.refused += 1
    return answer


def with_pid(point: Point, pid: int) -> Point:
    return Point(
        point.metric,
        point.attributes,
        point.start_ns,
        point.time_ns,
        point.value,
        point.cumulative,
        point.delta,
        pid,
    )


def metric_points(metric: Metric) -> Iterator[Point]:
    kind = metric.WhichOneof("data")
    if kind == "gauge":
        for p in metric.gauge.data_points:
            if not p.flags & NO_RECORDED_VALUE:
                yield Point(
                    metric.name, attributes_of(p.attributes), 0, p.time_unix_nano, number(p)
                )
    elif kind == "sum":
        monotonic = metric.sum.is_monotonic
        delta = metric.sum.aggregation_temporality == DELTA
        for p in metric.sum.data_points:
            if not p.flags & NO_RECORDED_VALUE:
                yield Point(
                    metric.name,
                    attributes_of(p.attributes),
                    p.start_time_unix_nano,
                    p.time_unix_nano,
                    number(p),
                    cumulative=monotonic and not delta,
                    delta=monotonic and delta,
                )
    elif kind in ("histogram", "exponential_histogram", "summary"):
        for p in getattr(metric, kind).data_points:
            if p.flags & NO_RECORDED_VALUE:
                continue
            attributes = attributes_of(p.attributes)
            for suffix, value in ((".count", float(p.count)), (".sum", p.sum)):
                yield Point(
                    metric.name + suffix,
                    attributes,
                    p.start_time_unix_nano,
                    p.time_unix_nano,
                    value,
                )


def number(point: Any) -> float:
    return float(point.as_int) if point.WhichOneof("value") == "as_int" else float(point.as_double)
