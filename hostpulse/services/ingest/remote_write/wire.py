"""Remote-write 1.0's body: a ``prometheus.WriteRequest`` in protobuf, compressed with snappy's
block format.

The messages are described here, field for field as Prometheus' ``prompb`` numbers them, and
built into classes by the protobuf runtime (its C parser): no generated code to keep. Native
histograms are declared without their fields: they are counted and dropped, never read.
"""

from __future__ import annotations

from typing import Any

import cramjam
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

Field = descriptor_pb2.FieldDescriptorProto

# Prometheus' stale marker: a series ended (a target or a series went away), not a value.
STALE_NAN_BITS = 0x7FF0000000000002
PROTOBUF = "application/x-protobuf"
VERSION_HEADER = "x-prometheus-remote-write-version"


class Undecodable(ValueError):
    pass


class TooLarge(Undecodable):
    pass


def _message(name: str, *fields: tuple[str, int, int, int, str]) -> descriptor_pb2.DescriptorProto:
    described = descriptor_pb2.DescriptorProto(name=name)
    for field_name, number, kind, label, type_name in fields:
        added = described.field.add(name=field_name, number=number, type=kind, label=label)
        if type_name:
            added.type_name = type_name
    return described


def _classes() -> dict[str, Any]:
    one, many = Field.LABEL_OPTIONAL, Field.LABEL_REPEATED
    text, double, int64, enum = (
        Field.TYPE_STRING,
        Field.TYPE_DOUBLE,
        Field.TYPE_INT64,
        Field.TYPE_ENUM,
    )
    nested = Field.TYPE_MESSAGE
    file = descriptor_pb2.FileDescriptorProto(
        name="hostpulse/prometheus_remote_write.proto", package="prometheus", syntax="proto3"
    )
    file.message_type.extend(
        [
            _message("Label", ("name", 1, text, one, ""), ("value", 2, text, one, "")),
            _message("Sample", ("value", 1, double, one, ""), ("timestamp", 2, int64, one, "")),
            _message(
                "Exemplar",
                ("labels", 1, nested, many, ".prometheus.Label"),
                ("value", 2, double, one, ""),
                ("timestamp", 3, int64, one, ""),
            ),
            _message("Histogram"),
            _message(
                "TimeSeries",
                ("labels", 1, nested, many, ".prometheus.Label"),
                ("samples", 2, nested, many, ".prometheus.Sample"),
                ("exemplars", 3, nested, many, ".prometheus.Exemplar"),
                ("histograms", 4, nested, many, ".prometheus.Histogram"),
            ),
            _message(
                "MetricMetadata",
                ("type", 1, enum, one, ".prometheus.MetricMetadata.MetricType"),
                ("metric_family_name", 2, text, one, ""),
                ("help", 4, text, one, ""),
                ("unit", 5, text, one, ""),
            ),
            _message(
                "WriteRequest",
                ("timeseries", 1, nested, many, ".prometheus.TimeSeries"),
                ("metadata", 3, nested, many, ".prometheus.MetricMetadata"),
            ),
        ]
    )
    kinds = file.message_type[5].enum_type.add(name="MetricType")
    for number, kind in enumerate(
        (
            "UNKNOWN",
            "COUNTER",
            "GAUGE",
            "HISTOGRAM",
            "GAUGEHISTOGRAM",
            "SUMMARY",
            "INFO",
            "STATESET",
        )
    ):
        kinds.value.add(name=kind, number=number)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {
        m.name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"prometheus.{m.name}"))
        for m in file.message_type
    }


MESSAGES = _classes()
WriteRequest = MESSAGES["WriteRequest"]
METRIC_TYPES = ("unknown", "counter", "gauge", "histogram", "gaugehistogram", "summary", "info",
                "stateset")  # fmt: skip


def uncompressed_length(body: bytes) -> int:
    """The length snappy's block format states up front (a varint), read before inflating."""
    length = shift = 0
    for byte in body[:10]:
        length |= (byte & 0x7F) << shift
        if byte < 0x80:
            return length
        shift += 7
    raise Undecodable("not snappy's block format: no length at its start")


def decode(body: bytes, limit: int) -> Any:
    """The WriteRequest of a snappy-compressed body; ``limit``: bytes it may inflate to."""
    length = uncompressed_length(body)
    if length > limit:
        raise TooLarge(f"the body inflates to {length} bytes; at most {limit}")
    try:
        raw = bytes(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError as error:
        raise Undecodable(f"not snappy's block format: {error}") from None
    request = WriteRequest()
    try:
        request.ParseFromString(raw)
    except (DecodeError, RecursionError) as error:
        raise Undecodable(f"not a remote-write WriteRequest in protobuf: {error}") from None
    return request


def encode(request: Any) -> bytes:
    """A WriteRequest as a sender puts it on the wire (the tests' and benchmarks' sender)."""
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))
