"""Whatever an OTLP sender puts in a request, /v1/metrics answers it in OTLP's shape, never
with an error of its own, and everything it queues is a batch the tiers can store."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric

from hostpulse.core.contract import Batch
from tests.unit.test_otlp_ingest import Rig

NOW_NS = time.time_ns()
UINT64 = 2**64 - 1
INT64 = 2**63 - 1

texts = st.text(max_size=40)
numbers = st.one_of(
    st.floats(0, 1e6),  # what hosts report, mostly
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-INT64 - 1, INT64),
)
times = st.one_of(
    st.integers(NOW_NS - 60 * 10**9, NOW_NS),  # mostly where the raw tier keeps them
    st.integers(0, UINT64),
)


@st.composite
def attributes(draw: st.DrawFn, keys: st.SearchStrategy[str] = texts) -> list[KeyValue]:
    pairs = []
    for key in draw(st.lists(keys, max_size=4)):
        pair = KeyValue(key=key)
        value = draw(st.one_of(texts, st.integers(-INT64 - 1, INT64), st.floats(), st.booleans()))
        if isinstance(value, bool):
            pair.value.bool_value = value
        elif isinstance(value, int):
            pair.value.int_value = value
        elif isinstance(value, float):
            pair.value.double_value = value
        else:
            pair.value.string_value = value
        pairs.append(pair)
    return pairs


METRIC_NAMES = st.one_of(
    st.sampled_from([
        "system.cpu.time", "system.cpu.utilization", "system.memory.usage", "system.disk.io",
        "system.network.io", "system.filesystem.usage", "system.cpu.load_average.1m",
        "system.uptime", "process.cpu.time", "process.memory.usage", "process.threads",
        "process.disk.io", "process.open_file_descriptors",
    ]),
    texts,
)  # fmt: skip
SEMCONV_KEYS = st.sampled_from(["cpu", "state", "device", "direction", "mountpoint", "x"])


@st.composite
def metric(draw: st.DrawFn) -> Metric:
    built = Metric(name=draw(METRIC_NAMES))
    kind = draw(st.sampled_from(["gauge", "sum", "histogram"]))
    for _ in range(draw(st.integers(1, 4))):
        attrs = draw(attributes(SEMCONV_KEYS))
        if kind == "histogram":
            bucketed = built.histogram.data_points.add(
                time_unix_nano=draw(times),
                count=draw(st.integers(0, UINT64)),
                sum=draw(st.floats()),
            )
            bucketed.attributes.extend(attrs)
            continue
        data = built.gauge if kind == "gauge" else built.sum
        p = data.data_points.add(time_unix_nano=draw(times))
        p.start_time_unix_nano = draw(times)
        value = draw(numbers)
        if isinstance(value, int):
            p.as_int = value
        else:
            p.as_double = value
        p.attributes.extend(attrs)
    if kind == "sum":
        built.sum.is_monotonic = draw(st.booleans())
        built.sum.aggregation_temporality = draw(st.integers(0, 2))  # type: ignore[assignment]
    return built


@st.composite
def requests(draw: st.DrawFn) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    for _ in range(draw(st.integers(0, 3))):
        resource = request.resource_metrics.add()
        host = draw(
            st.one_of(st.sampled_from(["web-1", "WEB-2", "web-é", "web-" + "x" * 300]), texts)
        )
        resource.resource.attributes.add(key="host.name").value.string_value = host
        if draw(st.booleans()):
            resource.resource.attributes.add(key="process.pid").value.int_value = draw(
                st.one_of(st.integers(1, 70_000), st.integers(-INT64 - 1, INT64))
            )
        resource.resource.attributes.extend(draw(attributes()))
        resource.scope_metrics.add().metrics.extend(draw(st.lists(metric(), max_size=5)))
    return request


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=requests(), second=requests())
def test_any_request_is_answered_in_otlps_shape_and_queues_only_storable_batches(
    first: ExportMetricsServiceRequest, second: ExportMetricsServiceRequest
) -> None:
    rig = Rig(hosts=("*",))
    for request in (first, second):  # the second meets the first's counters
        response = rig.send(request)
        assert response.status in (200, 400), response.body
        assert response.raw is not None
    for batch in rig.batches():
        assert Batch.model_validate_json(batch.model_dump_json()) == batch
