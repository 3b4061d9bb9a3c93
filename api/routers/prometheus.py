"""Prometheus' HTTP API under /prometheus: what Grafana's Prometheus data source and other
Prometheus clients ask (queries, series, labels, metadata, build information), answered in
Prometheus' format. Parameters come from the query string and, for POST, a form body, as
Prometheus reads them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import MultiDict

from api.answers_json import AnswerJSONResponse
from api.dependencies import PromQL, Reader
from hostpulse.core.responses import Problem
from hostpulse.services.promql import wire
from hostpulse.services.promql.calls import LABEL_NAME
from hostpulse.services.promql.params import MAX_MS, MIN_MS, invalid, parse_duration, parse_time
from hostpulse.services.promql.service import StepRange

router = APIRouter(prefix="/prometheus/api/v1", tags=["prometheus"], dependencies=[Reader])
FORM = "application/x-www-form-urlencoded"
Endpoint = TypeVar("Endpoint", bound=Callable[..., AnswerJSONResponse])
# Parameters are read from the query string and a form body alike (``form_values``), so FastAPI
# cannot declare them; they are described here, for clients and for the fuzzer.
PARAMETERS = {
    "query": "a PromQL expression",
    "time": "evaluation time: Unix seconds or RFC 3339; default now",
    "start": "Unix seconds or RFC 3339",
    "end": "Unix seconds or RFC 3339",
    "step": "seconds or a duration such as 15s",
    "timeout": "seconds or a duration; at most the server's",
    "match[]": "a series selector; repeat for several",
    "limit": "at most this many entries",
    "metric": "one metric's name",
    "tier": "hostpulse's own: read this tier (raw, 1m, 5m, 30m, 1h, 6h) instead of choosing",
}


def described(names: tuple[str, ...], post: bool) -> dict[str, Any]:
    schemas: dict[str, Any] = {name: {"type": "string"} for name in names}
    if "match[]" in schemas:
        schemas["match[]"] = {"type": "array", "items": {"type": "string"}}
    extra: dict[str, Any] = {
        "parameters": [
            {"name": name, "in": "query", "required": False, "schema": schemas[name],
             "description": PARAMETERS[name]}
            for name in names
        ]
    }  # fmt: skip
    if post:
        form = {"type": "object", "properties": schemas, "additionalProperties": False}
        extra["requestBody"] = {"content": {FORM: {"schema": form}}, "required": False}
    return extra


PROMETHEUS_ANSWER: dict[int | str, dict[str, Any]] = {
    400: {
        "model": wire.PrometheusError,
        "description": "bad_data: a query or parameter cannot be read",
    },
    401: {"model": Problem, "description": "A credential is required, or the one sent is wrong"},
    422: {"model": wire.PrometheusError, "description": "execution: a limit, a mismatch"},
    503: {"model": wire.PrometheusError, "description": "timeout: longer than the query's timeout"},
}


async def form_values(request: Request) -> MultiDict:
    """The query string's parameters and, for a form POST, its body's: Go's r.Form."""
    pairs = list(request.query_params.multi_items())
    if request.method == "POST" and request.headers.get("content-type", "").startswith(FORM):
        body = (await request.body()).decode("utf-8", errors="replace")
        pairs = parse_qsl(body, keep_blank_values=True) + pairs
    return MultiDict(pairs)


Form = Annotated[MultiDict, Depends(form_values)]


def now_ms() -> int:
    return int(time.time() * 1000)


def time_or(values: MultiDict, name: str, default: int) -> int:
    value = values.get(name)
    return default if value in (None, "") else parse_time(value, name)


def timeout_of(values: MultiDict) -> float | None:
    value = values.get("timeout")
    return None if not value else parse_duration(value, "timeout") / 1000


def ok(data: Any) -> AnswerJSONResponse:
    return AnswerJSONResponse(wire.success(data))


def route(
    path: str,
    summary: str,
    answer: type[wire.Success],
    params: tuple[str, ...],
    methods: tuple[str, ...] = ("GET", "POST"),
) -> Callable[[Endpoint], Endpoint]:
    """The endpoint registered once per method, each with an operation of its own (one route
    of two methods would share an operation id, and list them in a set's order)."""

    def register(endpoint: Endpoint) -> Endpoint:
        for method in methods:
            router.add_api_route(
                path, endpoint, methods=[method], summary=summary,
                operation_id=f"prometheus_{endpoint.__name__}_{method.lower()}",
                response_class=AnswerJSONResponse, response_model=answer,
                responses=PROMETHEUS_ANSWER, openapi_extra=described(params, method == "POST"),
            )  # fmt: skip
        return endpoint

    return register


@route(
    "/query",
    "An instant query (Grafana's Save & test asks 1+1)",
    wire.QueryAnswer,
    ("query", "time", "timeout", "tier"),
)
def query(promql: PromQL, values: Form) -> AnswerJSONResponse:
    text = values.get("query", "")
    at = time_or(values, "time", now_ms())
    answer = promql.instant(text, at, timeout_of(values), values.get("tier") or None)
    return ok(answer.data())


@route(
    "/query_range",
    "A range query: every panel of a dashboard",
    wire.QueryAnswer,
    ("query", "start", "end", "step", "timeout", "tier"),
)
def query_range(promql: PromQL, values: Form) -> AnswerJSONResponse:
    start = parse_time(values.get("start", ""), "start")
    end = parse_time(values.get("end", ""), "end")
    step = parse_duration(values.get("step", ""), "step")
    steps = StepRange(start, end, step)
    tier = values.get("tier") or None
    answer = promql.range(values.get("query", ""), steps, timeout_of(values), tier)
    return ok(answer.data())


def span(values: MultiDict) -> tuple[int, int]:
    return time_or(values, "start", MIN_MS), time_or(values, "end", MAX_MS)


def limit_of(values: MultiDict) -> int:
    text = values.get("limit", "")
    if not text:
        return 10_000
    if not text.isdigit():
        raise invalid("limit", f"cannot parse {text!r} to a valid limit")
    return min(int(text), 10_000) or 10_000


@route(
    "/series",
    "The series that match selectors",
    wire.SeriesAnswer,
    ("match[]", "start", "end", "limit"),
)
def series(promql: PromQL, values: Form) -> AnswerJSONResponse:
    selectors = values.getlist("match[]")
    if not selectors:
        raise invalid("match[]", "no match[] parameter provided")
    return ok(promql.series(selectors, *span(values), limit_of(values)))


@route(
    "/labels",
    "Label names (the query editor)",
    wire.NamesAnswer,
    ("match[]", "start", "end", "limit"),
)
def labels(promql: PromQL, values: Form) -> AnswerJSONResponse:
    return ok(promql.label_names(values.getlist("match[]"), *span(values), limit_of(values)))


@route(
    "/label/{name}/values",
    "A label's values (label_values() template variables)",
    wire.NamesAnswer,
    ("match[]", "start", "end", "limit"),
    ("GET",),
)
def label_values(promql: PromQL, values: Form, name: str) -> AnswerJSONResponse:
    if not LABEL_NAME.match(name):
        raise invalid("label", f"invalid label name: {name!r}")
    found = promql.label_values(name, values.getlist("match[]"), *span(values), limit_of(values))
    return ok(found)


@route(
    "/metadata",
    "Each metric's type, help and unit",
    wire.MetadataAnswer,
    ("metric", "limit"),
    ("GET",),
)
def metadata(promql: PromQL, values: Form) -> AnswerJSONResponse:
    return ok(promql.metadata(values.get("metric") or None, limit_of(values)))


@route(
    "/query_exemplars",
    "Exemplars: hostpulse keeps none",
    wire.ExemplarsAnswer,
    ("query", "start", "end"),
)
def query_exemplars(values: Form) -> AnswerJSONResponse:
    span(values)
    return ok([])


@route("/status/buildinfo", "The Prometheus API version spoken", wire.BuildInfoAnswer, (), ("GET",))
def buildinfo() -> AnswerJSONResponse:
    return ok({"version": "2.42.0", "revision": "hostpulse", "branch": "hostpulse",
               "buildUser": "hostpulse", "buildDate": "", "goVersion": ""})  # fmt: skip
