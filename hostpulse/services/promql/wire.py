"""Prometheus' HTTP API answer shapes: values as strings, times as seconds."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from hostpulse.services.promql.gomath import format_value
from hostpulse.services.promql.model import Labels


def seconds(ms: int) -> int | float:
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def point(ms: int, value: float) -> list[Any]:
    return [seconds(ms), format_value(value)]


def metric(labels: Labels) -> dict[str, str]:
    return dict(labels)


def success(data: Any, warnings: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"status": "success", "data": data}
    if warnings:
        body["warnings"] = warnings
    return body


def error(error_type: str, message: str) -> dict[str, Any]:
    return {"status": "error", "errorType": error_type, "error": message}


# The status each errorType answers with, as Prometheus' API does.
STATUS = {"bad_data": 400, "execution": 422, "timeout": 503, "canceled": 503, "internal": 500,
          "not_found": 404, "unavailable": 503}  # fmt: skip


# The answers' shapes, for the OpenAPI description (the answers themselves are built above).
class PrometheusError(BaseModel):
    status: Literal["error"]
    errorType: str  # noqa: N815 -- Prometheus' name
    error: str


class QueryData(BaseModel):
    resultType: Literal["matrix", "vector", "scalar", "string"]  # noqa: N815
    result: list[Any]


class MetricMetadata(BaseModel):
    type: str
    help: str
    unit: str


class Success(BaseModel):
    status: Literal["success"]
    warnings: list[str] | None = None


class QueryAnswer(Success):
    data: QueryData


class NamesAnswer(Success):
    data: list[str]


class SeriesAnswer(Success):
    data: list[dict[str, str]]


class MetadataAnswer(Success):
    data: dict[str, list[MetricMetadata]]


class BuildInfoAnswer(Success):
    data: dict[str, str]


class ExemplarsAnswer(Success):
    data: list[Any]


class RuleGroupData(BaseModel):
    name: str
    file: str
    rules: list[dict[str, Any]]
    interval: float
    limit: int
    evaluationTime: float  # noqa: N815
    lastEvaluation: str  # noqa: N815


class RulesData(BaseModel):
    groups: list[RuleGroupData]


class RulesAnswer(Success):
    data: RulesData
