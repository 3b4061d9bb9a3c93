"""How every function is observed: its Powertools Logger and Metrics, and what its service
counts behind the Counters port (Powertools metrics on Lambda, to CloudWatch; a Prometheus
counter in a long-running service, scraped at its /metrics)."""

from __future__ import annotations

from dataclasses import dataclass

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from prometheus_client import CollectorRegistry, Counter


class PowertoolsCounters:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def count(self, name: str, value: float = 1) -> None:
        self.metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


class PrometheusCounters:
    def __init__(self, component: str, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.counter = Counter(
            f"hostpulse_{component}_events",
            f"What {component} counted (batches accepted, refusals by status, failures)",
            ["name"],
            registry=self.registry,
        )

    def count(self, name: str, value: float = 1) -> None:
        self.counter.labels(name).inc(value)


@dataclass(frozen=True)
class Observed:
    """A function's Logger and Metrics, and its service's counters written as its metrics."""

    logger: Logger
    metrics: Metrics
    counters: PowertoolsCounters


def observe(function: str) -> Observed:
    """Built once per function module, at import: Powertools' decorators need them there."""
    metrics = Metrics(namespace="hostpulse", service=function)
    return Observed(Logger(service=function), metrics, PowertoolsCounters(metrics))
