"""Prometheus' HTTP API answer shapes: values as strings, times as seconds."""

from __future__ import annotations

from typing import Any

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
