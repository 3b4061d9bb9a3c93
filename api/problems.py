"""The refusals each route declares, so that the OpenAPI description names every answer."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException

from hostpulse.core.responses import Problem

WHY = {
    400: "A parameter that cannot be read (a time, a step, a range)",
    401: "A credential is required, or the one sent is wrong",
    403: "The credential may not do this",
    404: "No such host, metric, process, rule or silence",
    409: "It is no longer in a state that allows this (a silence that has ended)",
    413: "The body is larger than this route takes",
    429: "Too many failed attempts: wait as long as Retry-After says",
}


def refusals(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": Problem, "description": WHY[code]} for code in codes}


def invalid(field: str, message: str, where: str = "body") -> HTTPException:
    """A 422 in the shape of FastAPI's own validation errors, naming the field."""
    return HTTPException(422, [{"loc": [where, field], "msg": message, "type": "value_error"}])
