"""Powertools metrics behind the Counters port."""

from __future__ import annotations

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit


class PowertoolsCounters:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def count(self, name: str, value: float = 1) -> None:
        self.metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
