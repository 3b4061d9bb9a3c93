"""Remote-write 1.0's body: a ``prometheus.WriteRequest`` in protobuf, compressed with snappy's
block format.

The messages are described here, field for field as Prometheus' ``prompb`` numbers them, and
built into classes by the protobuf runtime (its C parser): no generated code to keep. Native
histograms are declared without their fields: they are counted and dropped, never read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
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
            # The same bytes, each series left as it came (see ``plain_series``).
            _message(
                "RawWriteRequest",
                ("timeseries", 1, Field.TYPE_BYTES, many, ""),
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
RawWriteRequest = MESSAGES["RawWriteRequest"]
TimeSeries = MESSAGES["TimeSeries"]
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
    """The WriteRequest of a snappy-compressed body, its series as bytes (``RawWriteRequest``);
    ``limit``: bytes it may inflate to."""
    length = uncompressed_length(body)
    if length > limit:
        raise TooLarge(f"the body inflates to {length} bytes; at most {limit}")
    try:
        raw = bytes(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError as error:
        raise Undecodable(f"not snappy's block format: {error}") from None
    request = RawWriteRequest()
    try:
        request.ParseFromString(raw)
    except (DecodeError, RecursionError) as error:
        raise Undecodable(f"not a remote-write WriteRequest in protobuf: {error}") from None
    return request


def encode(request: Any) -> bytes:
    """A WriteRequest as a sender puts it on the wire (the tests' and benchmarks' sender)."""
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


# A series as Prometheus writes it: its labels (field 1) first, then its samples (field 2), each
# a value (field 1, a double) and a time (field 2, a varint); exemplars (3) and native
# histograms (4) only counted. Read here without the protobuf runtime's objects, so that the
# labels' bytes, the same request after request, say which series it is in one look-up.
LABEL, SAMPLE, EXEMPLAR, HISTOGRAM = 0x0A, 0x12, 0x1A, 0x22
VALUE, TIMESTAMP = 0x09, 0x10
_DOUBLE = struct.Struct("<d")


@dataclass
class PlainSeries:
    labels: bytes  # the series' label fields as sent
    samples: list[tuple[float, int]]  # (value, time in ms)
    exemplars: int = 0
    histograms: int = 0


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    byte = data[pos]
    if byte < 0x80:
        return byte, pos + 1
    value = shift = 0
    while True:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise IndexError("varint too long")


def plain_series(raw: bytes) -> PlainSeries | None:
    """The series in the plain shape above; None for anything else (then the protobuf runtime
    decodes it)."""
    try:
        return _plain(raw)
    except (IndexError, struct.error):
        return None


def _field(raw: bytes, pos: int) -> tuple[int, int]:
    """The length of the field whose tag is at ``pos``, and where its bytes start."""
    length = raw[pos + 1]
    if length < 0x80:  # shorter than 128 bytes: its length in one byte, the usual case
        return length, pos + 2
    return _varint(raw, pos + 1)


def _plain(raw: bytes) -> PlainSeries | None:
    end = len(raw)
    pos = 0
    while pos < end and raw[pos] == LABEL:
        length, start = _field(raw, pos)
        pos = start + length
    if pos > end:
        return None
    found = PlainSeries(raw[:pos], [])
    while pos < end:
        tag = raw[pos]
        length, start = _field(raw, pos)
        pos = start + length
        if pos > end:
            return None
        if tag == SAMPLE:
            sample = _sample(raw, start, pos)
            if sample is None:
                return None
            found.samples.append(sample)
        elif tag == EXEMPLAR:
            found.exemplars += 1
        elif tag == HISTOGRAM:
            found.histograms += 1
        else:
            return None
    return found


# The times of a request's samples: a scrape gives every series of a target the same one.
_TIMES: dict[bytes, int | None] = {}


def _time(encoded: bytes) -> int | None:
    """The time a varint of exactly these bytes says; None when they are not one varint."""
    if encoded in _TIMES:
        return _TIMES[encoded]
    if len(_TIMES) > 100_000:
        _TIMES.clear()
    try:
        ts, used = _varint(encoded, 0)
    except IndexError:
        ts, used = 0, -1
    if ts >= 1 << 63:
        ts -= 1 << 64  # int64: a negative time is written in two's complement
    _TIMES[encoded] = ts if used == len(encoded) else None
    return _TIMES[encoded]


def _sample(raw: bytes, pos: int, end: int) -> tuple[float, int] | None:
    if pos + 10 < end and raw[pos] == VALUE and raw[pos + 9] == TIMESTAMP:  # the usual shape
        ts = _time(raw[pos + 10 : end])
        if ts is not None:
            return _DOUBLE.unpack_from(raw, pos + 1)[0], ts
    value, ts = 0.0, 0  # proto3 leaves out a zero
    while pos < end:
        tag = raw[pos]
        if tag == VALUE:
            (value,) = _DOUBLE.unpack_from(raw, pos + 1)
            pos += 9
        elif tag == TIMESTAMP:
            ts, pos = _varint(raw, pos + 1)
            if ts >= 1 << 63:
                ts -= 1 << 64  # int64: a negative time is written in two's complement
        else:
            return None
    return (value, ts) if pos == end else None
